//! The merchant owner's face in a real browser (issue 17, part 7 and the invoice number
//! of part 8): an official's rejection reason on an offer, a pause reason; revising an
//! offer (and seeing the revision wait for approval while the old one runs); ending an
//! offer with a reason; removing a cashier, who then cannot log in; confirming a
//! settlement with its 发票 number, which the official then sees. Screenshots at 390 px and 1366 px, in Chinese and English, go to
//! `target/test-artifacts/owner-*.png`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::browser::{Browser, backend_name};
use crate::helpers::{ADMIN_PASSWORD, MERCHANT_PASSWORD, MerchantFixture, TestApp, offer_body};

/// The phone width the issue asks for, and a common laptop's.
const PHONE: (u32, u32) = (390, 844);
const LAPTOP: (u32, u32) = (1366, 900);

async fn phone(app: &TestApp) -> Option<Browser> {
    Browser::start(app, PHONE.0, PHONE.1, true).await
}

async fn laptop(app: &TestApp) -> Option<Browser> {
    Browser::start(app, LAPTOP.0, LAPTOP.1, false).await
}

/// Publishes an offer as the owner; returns its id (pending when subsidised).
async fn submit_offer(app: &TestApp, shop: &MerchantFixture, body: Value) -> i64 {
    let (status, offer) = app
        .post(
            &format!("/api/v1/merchants/{}/offers", shop.id),
            &shop.owner_token,
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    offer["id"].as_i64().unwrap()
}

async fn offer(app: &TestApp, token: &str, id: i64) -> Value {
    let (status, offer) = app.get(&format!("/api/v1/offers/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{offer}");
    offer
}

/// Switches the page's language and waits until `marker` shows in the face.
async fn switch_language(b: &Browser, marker: &str) {
    b.click("#lang-toggle").await;
    b.wait_text(".face", marker).await;
}

/// Presses a dialog's confirm button.
async fn confirm_dialog(b: &Browser, id: &str) {
    b.click(&format!("#{id} [data-action='dialog-confirm']"))
        .await;
}

async fn dialog_closed(b: &Browser, id: &str) {
    b.wait_until(
        "the dialog to close",
        "return !document.getElementById(arguments[0]);",
        vec![json!(id)],
    )
    .await;
}

async fn input_value(b: &Browser, css: &str) -> String {
    b.js(
        "const e = document.querySelector(arguments[0]); return e ? e.value : null;",
        vec![json!(css)],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Every control in the open dialog, or on the page, has a name a screen reader reads:
/// a wrapping label, `aria-label`, or (buttons) its text.
async fn assert_controls_labelled(b: &Browser, scope: &str) {
    let unlabelled = b
        .js(
            "const root = document.querySelector(arguments[0]) || document;
             return [...root.querySelectorAll('input, select, textarea, button')]
               .filter((e) => e.type !== 'hidden' && e.offsetParent !== null)
               .filter((e) => !(e.closest('label') || e.getAttribute('aria-label') || (e.tagName === 'BUTTON' && e.textContent.trim())))
               .map((e) => e.outerHTML.slice(0, 80));",
            vec![json!(scope)],
        )
        .await;
    assert_eq!(unlabelled, json!([]), "controls without a label in {scope}");
}

async fn an_owner_reads_reasons_revises_and_ends_offers(app: TestApp) {
    let shop = app.active_merchant("own1").await;
    let admin = app.admin_token().await;
    // To revise: live, subsidised, so its revision waits for an official.
    let weekend = app.active_offer(&shop, offer_body("周末九折")).await;
    let weekend_id = weekend["id"].as_i64().unwrap();
    // To end.
    let lunch_id = app.active_offer(&shop, offer_body("午市特惠")).await["id"]
        .as_i64()
        .unwrap();
    // Refused by an official, with a reason.
    let mut member = offer_body("会员立减");
    member["subsidy_bp"] = json!(9000);
    let member_id = submit_offer(&app, &shop, member).await;
    let rejection = "补贴比例过高，请改为 50% 以下后重新提交。";
    let (status, body) = app
        .post(
            &format!("/api/v1/offers/{member_id}/reject"),
            &admin,
            json!({ "reason": rejection }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Paused by the owner, with a reason.
    let night_id = app.active_offer(&shop, offer_body("夜宵八折")).await["id"]
        .as_i64()
        .unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/offers/{night_id}/pause"),
            &shop.owner_token,
            json!({ "reason": "店内装修，暂停夜宵" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let Some(b) = laptop(&app).await else {
        return;
    };
    let backend = backend_name(&app);
    b.login("own1-owner", MERCHANT_PASSWORD).await;
    b.tab("offers").await;
    let row = |id: i64| format!("tr[data-offer-id='{id}']");
    // The official's reason, as written, under the refused offer; the pause reason too.
    let shown = b
        .wait_text(&format!("{} .offer-reason", row(member_id)), rejection)
        .await;
    assert!(shown.contains("驳回原因"), "{shown}");
    b.wait_text(
        &format!("{} .offer-reason", row(night_id)),
        "店内装修，暂停夜宵",
    )
    .await;
    b.wait_text(&format!("{} .offer-reason", row(night_id)), "暂停原因")
        .await;
    // A refused offer offers a way back, not the steps of a live one.
    assert_eq!(
        b.count(&format!("{} [data-action='resubmit']", row(member_id)))
            .await,
        1
    );
    assert_eq!(
        b.count(&format!("{} [data-action='revise']", row(member_id)))
            .await,
        0
    );
    b.assert_fits_width().await;
    assert_controls_labelled(&b, ".face-body").await;
    b.screenshot(&format!("owner-offers-zh-1366-{backend}"))
        .await;

    // Revise: the form holds the offer's terms; the revision waits, the old one runs.
    b.click(&format!("{} [data-action='revise']", row(weekend_id)))
        .await;
    b.wait_for("#offer-revise").await;
    assert_eq!(
        input_value(&b, "#offer-revise input[name='title']").await,
        "周末九折"
    );
    assert_eq!(
        input_value(&b, "#offer-revise input[name='percent']").await,
        "10"
    );
    assert_eq!(
        input_value(&b, "#offer-revise input[name='max_discount']").await,
        "50.00"
    );
    assert_eq!(
        input_value(&b, "#offer-revise input[name='subsidy']").await,
        "50"
    );
    assert_controls_labelled(&b, "#offer-revise").await;
    b.type_into("#offer-revise input[name='title']", "周末八折")
        .await;
    b.type_into("#offer-revise input[name='percent']", "20")
        .await;
    b.screenshot(&format!("owner-offer-revise-zh-1366-{backend}"))
        .await;
    confirm_dialog(&b, "offer-revise").await;
    dialog_closed(&b, "offer-revise").await;
    b.wait_text("#offer-notice", "等待工作人员审核").await;
    let (_, list) = app.get("/api/v1/offers", &shop.owner_token).await;
    let revision = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["replaces_id"] == weekend_id)
        .unwrap_or_else(|| panic!("a revision of {weekend_id}: {list}"))
        .clone();
    let revision_id = revision["id"].as_i64().unwrap();
    assert_eq!(revision["status"], "pending");
    assert_eq!(revision["title"], "周末八折");
    assert_eq!(revision["percent_bp"], 2000);
    assert_eq!(revision["max_discount_fen"], 5000, "unchanged terms kept");
    assert_eq!(
        offer(&app, &shop.owner_token, weekend_id).await["status"],
        "active"
    );
    // The list says so on both versions, and the old one cannot be revised twice.
    b.wait_text(
        &format!("{} [data-note='revision-pending']", row(revision_id)),
        "周末九折",
    )
    .await;
    b.wait_text(&format!("{} .chip", row(revision_id)), "待审核")
        .await;
    b.wait_text(
        &format!("{} [data-note='has-revision']", row(weekend_id)),
        "周末八折",
    )
    .await;
    assert_eq!(
        b.count(&format!("{} [data-action='revise']", row(weekend_id)))
            .await,
        0
    );

    // End: asked first, with a reason kept on record.
    b.click(&format!("{} [data-action='end']", row(lunch_id)))
        .await;
    b.wait_text("#offer-end", "不能恢复").await;
    assert_controls_labelled(&b, "#offer-end").await;
    b.type_into("#offer-end textarea", "午市菜单下架").await;
    b.screenshot(&format!("owner-offer-end-zh-1366-{backend}"))
        .await;
    confirm_dialog(&b, "offer-end").await;
    dialog_closed(&b, "offer-end").await;
    b.wait_text(&format!("{} .chip", row(lunch_id)), "已结束")
        .await;
    b.wait_text(&format!("{} .offer-reason", row(lunch_id)), "午市菜单下架")
        .await;
    let ended = offer(&app, &shop.owner_token, lunch_id).await;
    assert_eq!(
        (ended["status"].as_str(), ended["status_reason"].as_str()),
        (Some("ended"), Some("午市菜单下架"))
    );
    b.screenshot(&format!("owner-offers-after-zh-1366-{backend}"))
        .await;

    // The same in English; the reasons stay as their authors wrote them.
    switch_language(&b, "Reason for rejection").await;
    b.wait_text(&format!("{} .offer-reason", row(member_id)), rejection)
        .await;
    b.wait_text(
        &format!("{} [data-note='revision-pending']", row(revision_id)),
        "awaiting approval",
    )
    .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("owner-offers-en-1366-{backend}"))
        .await;
    b.close().await;

    // On a phone: nothing wider than the screen, the dialog too.
    let Some(p) = phone(&app).await else {
        return;
    };
    p.login("own1-owner", MERCHANT_PASSWORD).await;
    p.tab("offers").await;
    p.wait_text(&format!("{} .offer-reason", row(member_id)), rejection)
        .await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-offers-zh-390-{backend}"))
        .await;
    p.click(&format!("{} [data-action='revise']", row(revision_id)))
        .await;
    p.wait_text("#offer-revise", "撤回原申请").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-offer-revise-zh-390-{backend}"))
        .await;
    p.click("#offer-revise button.btn-ghost").await;
    dialog_closed(&p, "offer-revise").await;
    switch_language(&p, "Reason for rejection").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-offers-en-390-{backend}"))
        .await;
    p.click(&format!("{} [data-action='end']", row(weekend_id)))
        .await;
    p.wait_text("#offer-end", "cannot be restarted").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-offer-end-en-390-{backend}"))
        .await;
    p.close().await;
    app.stop().await;
}

async fn an_owner_removes_a_cashier_who_then_cannot_log_in(app: TestApp) {
    let shop = app.active_merchant("own2").await;
    let (status, body) = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", shop.id),
            &shop.owner_token,
            json!({"username": "own2-late", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let Some(b) = laptop(&app).await else {
        return;
    };
    let backend = backend_name(&app);
    b.login("own2-owner", MERCHANT_PASSWORD).await;
    b.tab("cashiers").await;
    let row = "#cashier-list tr[data-username='own2-cashier']";
    b.wait_for(row).await;
    b.wait_for("#cashier-list tr[data-username='own2-late']")
        .await;
    b.screenshot(&format!("owner-cashiers-zh-1366-{backend}"))
        .await;
    b.click(&format!("{row} [data-action='remove-cashier']"))
        .await;
    b.wait_text("#cashier-remove", "own2-cashier").await;
    b.screenshot(&format!("owner-cashier-remove-zh-1366-{backend}"))
        .await;
    confirm_dialog(&b, "cashier-remove").await;
    dialog_closed(&b, "cashier-remove").await;
    b.wait_text("#cashier-msg", "own2-cashier").await;
    b.wait_until(
        "the removed cashier to leave the list",
        "return document.querySelector('#cashier-list table') && !document.querySelector(arguments[0]);",
        vec![json!(row)],
    )
    .await;
    assert_eq!(
        b.count("#cashier-list tr[data-username='own2-late']").await,
        1,
        "the other cashier stays"
    );
    // The removed cashier's session is over and a new login is refused.
    let (status, _) = app.get("/api/v1/me", &shop.cashier_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "own2-cashier", "password": MERCHANT_PASSWORD})),
        )
        .await;
    assert!(
        status.is_client_error() && body["access_token"].is_null(),
        "{status} {body}"
    );
    switch_language(&b, "Remove").await;
    b.screenshot(&format!("owner-cashiers-en-1366-{backend}"))
        .await;

    b.close().await;

    let Some(p) = phone(&app).await else {
        return;
    };
    p.login("own2-owner", MERCHANT_PASSWORD).await;
    p.tab("cashiers").await;
    p.wait_for("#cashier-list tr[data-username='own2-late']")
        .await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-cashiers-zh-390-{backend}"))
        .await;
    p.click("#cashier-list tr[data-username='own2-late'] [data-action='remove-cashier']")
        .await;
    p.wait_for("#cashier-remove").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-cashier-remove-zh-390-{backend}"))
        .await;
    p.click("#cashier-remove button.btn-ghost").await;
    dialog_closed(&p, "cashier-remove").await;
    switch_language(&p, "Remove").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-cashiers-en-390-{backend}"))
        .await;
    p.close().await;
    app.stop().await;
}

async fn an_owner_confirms_a_settlement_with_its_invoice_number(app: TestApp) {
    use crate::redemptions::{counter, mint, now, redeem};
    let c = counter(&app, "own3", 75, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, body) = redeem(
        &app,
        &c.merchant.cashier_token,
        "own3-key-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let period = talentcard::time::to_local(now())
        .format("%Y-%m")
        .to_string();
    let (status, generated) = app
        .post(
            "/api/v1/settlements/generate",
            &c.admin,
            json!({ "period": period }),
        )
        .await;
    assert!(status.is_success(), "{status} {generated}");
    let id = generated["created"][0]["id"]
        .as_i64()
        .expect("a settlement");
    let backend = backend_name(&app);

    // On a phone first: the dialog refuses a malformed number next to the field.
    let Some(p) = phone(&app).await else {
        return;
    };
    p.login("own3-owner", MERCHANT_PASSWORD).await;
    p.tab("settlements").await;
    p.wait_text(".face-body table", &period).await;
    p.click("[data-action='confirm']").await;
    p.wait_text("#settle-confirm", "¥10.00").await;
    assert_controls_labelled(&p, "#settle-confirm").await;
    p.type_into("#settle-invoice", "0440 0123").await;
    confirm_dialog(&p, "settle-confirm").await;
    p.wait_text("#settle-confirm .dialog-msg", "发票号码只能包含")
        .await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-settle-confirm-zh-390-{backend}"))
        .await;
    p.click("#settle-confirm button.btn-ghost").await;
    dialog_closed(&p, "settle-confirm").await;
    switch_language(&p, "Settlements").await;
    p.click("[data-action='confirm']").await;
    p.wait_text("#settle-confirm", "Invoice").await;
    p.type_into("#settle-invoice", "0440/0123").await;
    confirm_dialog(&p, "settle-confirm").await;
    p.wait_text("#settle-confirm .dialog-msg", "only letters, digits")
        .await;
    p.assert_fits_width().await;
    p.screenshot(&format!("owner-settle-confirm-en-390-{backend}"))
        .await;
    p.click("#settle-confirm button.btn-ghost").await;
    dialog_closed(&p, "settle-confirm").await;
    p.close().await;
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{id}"), &c.admin)
        .await;
    assert_eq!(s["status"], "draft", "nothing sent while malformed: {s}");

    // At the laptop: confirmed with the number, which the list then shows.
    let Some(b) = laptop(&app).await else {
        return;
    };
    b.login("own3-owner", MERCHANT_PASSWORD).await;
    b.tab("settlements").await;
    b.wait_text(".face-body table", &period).await;
    b.click("[data-action='confirm']").await;
    b.wait_for("#settle-invoice").await;
    b.type_into("#settle-invoice", " 04400123-0001 ").await;
    b.screenshot(&format!("owner-settle-confirm-zh-1366-{backend}"))
        .await;
    confirm_dialog(&b, "settle-confirm").await;
    dialog_closed(&b, "settle-confirm").await;
    let row = format!("tr[data-settlement-id='{id}']");
    b.wait_text(&format!("{row} .chip"), "商家已确认").await;
    b.wait_text(&format!("{row} .settle-invoice"), "04400123-0001")
        .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("owner-settlements-zh-1366-{backend}"))
        .await;
    switch_language(&b, "Invoice").await;
    b.screenshot(&format!("owner-settlements-en-1366-{backend}"))
        .await;
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{id}"), &c.admin)
        .await;
    assert_eq!(
        (s["status"].as_str(), s["invoice_no"].as_str()),
        (Some("confirmed"), Some("04400123-0001")),
        "{s}"
    );
    b.logout().await;

    // The official sees it in the settlement's details.
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("settlements").await;
    b.wait_text(".face-body table", &period).await;
    b.click("[data-action='details']").await;
    b.wait_text("#settlement-invoice", "04400123-0001").await;
    b.screenshot(&format!("owner-official-details-en-1366-{backend}"))
        .await;
    b.close().await;
    app.stop().await;
}

/// A rejected applicant who signs in learns it was rejected and the official's reason,
/// in place of a bare "account not active".
async fn a_rejected_applicant_is_told_why_at_login(app: TestApp) {
    let id = app
        .apply_merchant(crate::helpers::merchant_application("rejshop"))
        .await;
    let admin = app.admin_token().await;
    let (status, _) = app
        .post(
            &format!("/api/v1/merchants/{id}/reject"),
            &admin,
            json!({"reason": "营业执照已过期，请更新后重新申请"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.open("/").await;
    b.type_into("#login-username", "rejshop-owner").await;
    b.type_into("#login-password", MERCHANT_PASSWORD).await;
    b.click("#login-submit").await;
    b.wait_text("#login-form .alert-error", "商户入驻申请未通过")
        .await;
    b.wait_text("#login-form .alert-error", "营业执照已过期")
        .await;
    b.screenshot(&format!(
        "owner-rejected-login-zh-390-{}",
        backend_name(&app)
    ))
    .await;
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    a_rejected_applicant_is_told_why_at_login,
    an_owner_reads_reasons_revises_and_ends_offers,
    an_owner_removes_a_cashier_who_then_cannot_log_in,
    an_owner_confirms_a_settlement_with_its_invoice_number,
);

#[test]
fn the_owner_face_has_every_string_in_both_languages() {
    // Keys built at run time (`owner.reason.${status}`) are listed with what they take.
    let (zh, en) = crate::i18n::keys_under("owner.");
    assert!(!zh.is_empty());
    assert_eq!(zh, en, "owner strings differ between zh and en");
    let counter =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/js/counter.js"))
            .expect("counter.js");
    let mut used: Vec<String> = counter
        .split("'owner.")
        .skip(1)
        .filter_map(|rest| rest.split_once('\'').map(|(k, _)| k.to_owned()))
        .collect();
    for status in ["rejected", "paused", "ended"] {
        used.push(format!("reason.{status}"));
    }
    for key in used {
        assert!(zh.contains(&key), "owner.{key} has no text");
    }
}
