//! The official face's search, ledger, trace and to-do badges in a real headless Chromium
//! (the `Browser` harness of `browser.rs`), at 1366 px and on a 390 px phone, in Chinese
//! and English. Screenshots go to `target/test-artifacts/search-*.png`.

use serde_json::json;
use talentcard::auth::Role;

use crate::browser::Browser;
use crate::helpers::{ADMIN_PASSWORD, TestApp, merchant_application, offer_body};
use crate::redemptions::{counter, mint, now, redeem};
use crate::search::settle_and_pay;
use crate::talents::phone;

fn backend(app: &TestApp) -> &'static str {
    match app.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    }
}

/// A sale paid out, reversed, and its reversal paid back in a second settlement; a
/// merchant application waiting. Returns the sale's id.
async fn a_traced_sale(app: &TestApp) -> i64 {
    let c = counter(app, "trace", 21, offer_body("九折")).await;
    let admin2 = app.official_token(Role::Admin, "admin2").await;
    let code = mint(app, c.card_id, now(), 0);
    let (status, r) = redeem(
        app,
        &c.merchant.cashier_token,
        "browser-trace-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert!(status.is_success(), "{status} {r}");
    let id = r["id"].as_i64().unwrap();
    settle_and_pay(app, &c.merchant.owner_token, &c.admin, &admin2, "SZB-0001").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/redemptions/{id}/reverse"),
            &c.admin,
            json!({"reason": "顾客退货"}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    settle_and_pay(app, &c.merchant.owner_token, &c.admin, &admin2, "SZB-0002").await;
    app.apply_merchant(merchant_application("waiting")).await;
    let (status, offer) = app
        .post(
            &format!("/api/v1/merchants/{}/offers", c.merchant.id),
            &c.merchant.owner_token,
            offer_body("八折"),
        )
        .await;
    assert!(status.is_success(), "{status} {offer}");
    app.seal_audit().await;
    id
}

/// The face has settled: no list still loading.
async fn settled(b: &Browser) {
    b.wait_until(
        "the lists to load",
        "return !document.querySelector('.loading')",
        vec![],
    )
    .await;
}

/// Scrolls the first step of `kind` (`settlement`, `payout`, `audit`) below the top bar.
async fn scroll_to_step(b: &Browser, kind: &str) {
    b.js(
        "document.querySelector(`#trace-chain .trace-step-${arguments[0]}`).scrollIntoView({block: 'start'}); window.scrollBy(0, -76);",
        vec![json!(kind)],
    )
    .await;
}

async fn an_official_searches_and_traces_a_sale_to_its_payout(app: TestApp) {
    let id = a_traced_sale(&app).await;
    let backend = backend(&app);
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    // What waits: the application on the approvals tab.
    b.wait_text("[data-tab='approvals'] #approvals-badge", "2")
        .await;
    settled(&b).await;
    b.screenshot(&format!("search-todo-zh-1366-{backend}"))
        .await;

    // A talent by phone: found exactly, and the page says the search is audited.
    b.type_into("#search-q", &phone(21)).await;
    b.click("#search-submit").await;
    b.wait_text("#search-talent", "测试21").await;
    b.wait_text("#search-talent", "审计日志").await;
    b.wait_text("#search-summary", "共找到").await;
    settled(&b).await;
    b.screenshot(&format!("search-phone-zh-1366-{backend}"))
        .await;
    let lookups = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use talentcard::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::action.eq("talent.lookup"))
                .select(a::actor)
                .load::<String>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(lookups, vec!["admin"], "the phone search is audited");

    // A merchant by part of its name, either case; its ledger; a sale's trace.
    b.type_into("#search-q", "TRACE").await;
    b.click("#search-submit").await;
    b.wait_text("#search-merchant", "trace 商行").await;
    settled(&b).await;
    b.screenshot(&format!("search-merchant-zh-1366-{backend}"))
        .await;
    b.click("#search-merchant [data-action='ledger']").await;
    b.wait_text("#ledger-merchant", "trace 商行").await;
    b.wait_text("#ledger-list table", "trace-cashier").await;
    b.wait_text("#ledger-list table", "测***").await;
    settled(&b).await;
    b.screenshot(&format!("search-ledger-zh-1366-{backend}"))
        .await;
    b.click(&format!("#ledger-list [data-trace='{id}']")).await;
    let chain = b.wait_text("#trace-chain", "SZB-0001").await;
    for shown in [
        "trace 商行",
        "九折",
        "trace-cashier",
        "顾客退货",
        "SZB-0002",
        "admin2",
        "张三",
        "核验结算单",
        "批准结算单",
        "撤销核销",
    ] {
        assert!(chain.contains(shown), "the trace shows {shown:?}:\n{chain}");
    }
    assert!(
        !chain.contains("system:") && !chain.contains("user "),
        "{chain}"
    );
    assert!(
        b.count("#trace-chain .trace-step").await >= 8,
        "counter, two lines with settlement and payout each, audit"
    );
    b.screenshot(&format!("search-trace-zh-1366-{backend}"))
        .await;
    for part in ["settlement", "audit"] {
        scroll_to_step(&b, part).await;
        b.screenshot(&format!("search-trace-{part}-zh-1366-{backend}"))
            .await;
    }

    // Names, not ids, in the lists: the offers queue, the cards, the audit record.
    b.tab("approvals").await;
    b.wait_text(".face-body", "八折").await;
    let queue = b.wait_text(".face-body", "trace 商行").await;
    assert!(!queue.contains('#'), "{queue}");
    b.tab("talents").await;
    b.wait_text(".face-body", "测试21").await;
    settled(&b).await;
    b.tab("audit").await;
    b.wait_text("#audit-events table", "批准结算单").await;
    let audit = b.wait_text("#audit-events table", "admin2").await;
    assert!(audit.contains("trace 商行 · "), "{audit}");
    assert!(!audit.contains("settlement.approve"), "{audit}");
    settled(&b).await;
    b.js(
        "document.getElementById('audit-events').scrollIntoView({block: 'start'}); window.scrollBy(0, -130);",
        vec![],
    )
    .await;
    b.screenshot(&format!("search-audit-names-zh-1366-{backend}"))
        .await;
    // A settlement's lines lead to the same trace; the dialog closes on the way.
    b.tab("settlements").await;
    b.click("[data-action='details']").await;
    b.click(&format!("#settlement-lines [data-trace='{id}']"))
        .await;
    b.wait_text("#trace-chain", "SZB-0001").await;
    assert_eq!(b.count("dialog[open]").await, 0, "the lines dialog closed");

    // In English, the same chain.
    b.click("#lang-toggle").await;
    b.wait_text("#trace-chain", "Bank reference").await;
    b.wait_text("#trace-chain", "Settlement verified").await;
    b.wait_text(".sidenav", "Sales ledger").await;
    settled(&b).await;
    b.screenshot(&format!("search-trace-en-1366-{backend}"))
        .await;
    b.type_into("#search-q", "trace").await;
    b.click("#search-submit").await;
    b.wait_text("#search-merchant", "trace 商行").await;
    settled(&b).await;
    b.screenshot(&format!("search-merchant-en-1366-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(".sidenav", "核销台账").await;
    b.close().await;

    // On a 390 px phone: the badge, the trace and the results fit the screen.
    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.wait_for("#approvals-badge").await;
    b.open(&format!("/#/trace/{id}")).await;
    b.wait_text("#trace-chain", "SZB-0002").await;
    settled(&b).await;
    b.assert_fits_width().await;
    b.screenshot(&format!("search-trace-zh-390-{backend}"))
        .await;
    scroll_to_step(&b, "payout").await;
    b.screenshot(&format!("search-trace-payout-zh-390-{backend}"))
        .await;
    scroll_to_step(&b, "audit").await;
    b.screenshot(&format!("search-trace-audit-zh-390-{backend}"))
        .await;
    // The accessibility check of every face (axe, nothing wider than the phone), here on
    // the trace, the search results and the ledger, in both languages.
    let mut failures = Vec::new();
    crate::browser_a11y::check(&b, "official trace", &mut failures).await;
    b.click("#lang-toggle").await;
    b.wait_text("#trace-chain", "Payout").await;
    settled(&b).await;
    b.assert_fits_width().await;
    b.screenshot(&format!("search-trace-en-390-{backend}"))
        .await;
    b.type_into("#search-q", &phone(21)).await;
    b.click("#search-submit").await;
    b.wait_text("#search-talent", "测试21").await;
    settled(&b).await;
    b.assert_fits_width().await;
    b.screenshot(&format!("search-phone-en-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text("#search-talent", "审计日志").await;
    settled(&b).await;
    b.assert_fits_width().await;
    b.screenshot(&format!("search-phone-zh-390-{backend}"))
        .await;
    crate::browser_a11y::check(&b, "official search", &mut failures).await;
    // The talent's card's sales, as cards on the phone, each with its trace.
    b.click("#search-talent [data-action='ledger']").await;
    b.wait_text("#ledger-list", "trace-cashier").await;
    settled(&b).await;
    b.assert_fits_width().await;
    b.js(
        "document.getElementById('ledger-list').scrollIntoView({block: 'start'}); window.scrollBy(0, -76);",
        vec![],
    )
    .await;
    b.screenshot(&format!("search-ledger-zh-390-{backend}"))
        .await;
    crate::browser_a11y::check(&b, "official ledger", &mut failures).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    b.close().await;
    app.stop().await;
}

crate::both_backends!(an_official_searches_and_traces_a_sale_to_its_payout);
