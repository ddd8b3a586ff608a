//! A day at the counter in a real browser (DESIGN §5): the session renews itself when the
//! access token runs out, a sign-in over the page keeps what was typed and carries the
//! request on, and every role changes its own password from the account dialog.

use reqwest::Method;
use serde_json::json;

use crate::browser::{Browser, backend_name, set_budget, this_year};
use crate::helpers::{ADMIN_PASSWORD, MERCHANT_PASSWORD, TestApp, offer_body};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

/// A shop with a 10 % offer and a card, ready for a sale; returns the card's id.
async fn counter_ready(app: &TestApp, shop: &str, talent: u32) -> i64 {
    set_budget(app, this_year()).await;
    let merchant = app.active_merchant(shop).await;
    app.active_offer(&merchant, offer_body("九折优惠")).await;
    let (_, card_no, _) = talent_with_card(app, talent, "B").await;
    let admin = app.admin_token().await;
    crate::redemptions::card_id(app, &admin, &card_no).await
}

fn fresh_code(app: &TestApp, card_id: i64) -> String {
    crate::redemptions::mint(app, card_id, talentcard::time::now(), 0)
}

/// Scans a fresh code of the card and rings up ¥128.00; the quote says ¥115.20 to pay.
async fn quote_a_sale(b: &Browser, app: &TestApp, card_id: i64) {
    b.type_into(
        "#scan-code",
        &format!("{}\u{E007}", fresh_code(app, card_id)),
    )
    .await;
    b.type_into("#scan-bill", "128.00\u{E007}").await;
    b.wait_text("#quote-pay", "¥115.20").await;
}

async fn a_cashier_works_on_when_the_access_token_runs_out(app: TestApp) {
    let card_id = counter_ready(&app, "shift1", 81).await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("shift1-cashier", MERCHANT_PASSWORD).await;
    b.wait_for("#scan-code").await;
    // The access cookie lasts 15 minutes; past them the browser has dropped it.
    b.client
        .delete_cookie("tc_session")
        .await
        .expect("cookie removed");
    quote_a_sale(&b, &app, card_id).await;
    assert_eq!(b.count("#reauth").await, 0, "no password asked");
    assert_eq!(
        b.count("#login-form").await,
        0,
        "not sent to the login page"
    );
    b.click("#quote-confirm").await;
    b.wait_text("#receipt-pay", "¥115.20").await;
    b.close().await;
    app.stop().await;
}

async fn signing_in_again_keeps_the_scanned_code_and_bill(app: TestApp) {
    let card_id = counter_ready(&app, "shift2", 82).await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("shift2-cashier", MERCHANT_PASSWORD).await;
    let code = fresh_code(&app, card_id);
    b.type_into("#scan-code", &format!("{code}\u{E007}")).await;
    // Meanwhile the session ends (signed out everywhere from another device).
    let elsewhere = app.login("shift2-cashier", MERCHANT_PASSWORD).await;
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&elsewhere),
            None,
        )
        .await;
    assert!(status.is_success());
    b.type_into("#scan-bill", "128.00\u{E007}").await;
    b.wait_for("#reauth").await;
    let kept = b
        .js(
            "return [document.getElementById('scan-code').value, document.getElementById('scan-bill').value]",
            vec![],
        )
        .await;
    assert_eq!(
        kept,
        json!([code, "128.00"]),
        "what was typed is still there"
    );
    b.assert_fits_width().await;
    b.screenshot(&format!("counter-reauth-zh-390-{}", backend_name(&app)))
        .await;
    b.type_into("#reauth-password", "wrong-password").await;
    b.click("#reauth-submit").await;
    b.wait_text("#reauth .dialog-msg", "用户名或密码错误").await;
    b.type_into("#reauth-password", MERCHANT_PASSWORD).await;
    b.click("#reauth-submit").await;
    // The quote that was asked for goes on.
    b.wait_text("#quote-pay", "¥115.20").await;
    assert_eq!(b.count("#reauth").await, 0);
    b.click("#quote-confirm").await;
    b.wait_text("#receipt-pay", "¥115.20").await;
    let admin = app.admin_token().await;
    let (_, list) = app.get("/api/v1/redemptions", &admin).await;
    assert_eq!(list["total"], json!(1), "one sale: {list}");
    b.close().await;
    app.stop().await;
}

/// The database goes away as the cashier confirms (a failover): the page says it is
/// sending again, sends the same request with the same key until the service is back,
/// and the sale is made once.
async fn a_redeem_whose_answer_was_lost_is_sent_again_once(app: TestApp) {
    let card_id = counter_ready(&app, "shift4", 84).await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("shift4-cashier", MERCHANT_PASSWORD).await;
    quote_a_sale(&b, &app, card_id).await;
    let outage = app.database_outage();
    b.click("#quote-confirm").await;
    // SQLite answers 503 once its busy time-out (5 s) ran out; PostgreSQL at once.
    b.wait_text("#scan-msg", "正在重新提交").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("counter-resending-zh-390-{}", backend_name(&app)))
        .await;
    actix_web::rt::task::spawn_blocking(move || outage.end())
        .await
        .unwrap();
    b.wait_text("#receipt-pay", "¥115.20").await;
    assert_eq!(
        b.count("#scan-msg .alert").await,
        0,
        "the notice went with the sale"
    );
    let admin = app.admin_token().await;
    let (_, list) = app.get("/api/v1/redemptions", &admin).await;
    assert_eq!(
        list["total"],
        json!(1),
        "one sale however often it was sent: {list}"
    );
    b.close().await;
    app.stop().await;
}

/// Changes the password from the account dialog, then logs in with the new one.
async fn change_password(b: &Browser, username: &str, old: &str, new: &str, shot: &str) {
    b.login(username, old).await;
    b.click("#account-open").await;
    b.wait_for("#password-form").await;
    // A wrong current password is said next to the form, in the page's language.
    b.type_into("#pw-current", "not-the-password").await;
    b.type_into("#pw-new", new).await;
    b.type_into("#pw-again", new).await;
    b.click("#pw-submit").await;
    b.wait_text("#password-form .dialog-msg", "当前密码不正确")
        .await;
    b.assert_fits_width().await;
    b.screenshot(shot).await;
    b.type_into("#pw-current", old).await;
    b.click("#pw-submit").await;
    b.wait_text("#toast", "密码已修改").await;
    assert_eq!(b.count("#password-form").await, 0, "the dialog closed");
    b.logout().await;
    b.login(username, new).await;
}

async fn every_role_changes_its_own_password(app: TestApp) {
    let backend = backend_name(&app);
    app.active_merchant("pwshop").await;
    talent_with_card(&app, 83, "A").await;
    let talent = phone(83);
    let accounts = [
        ("admin", ADMIN_PASSWORD, false),
        ("pwshop-owner", MERCHANT_PASSWORD, true),
        ("pwshop-cashier", MERCHANT_PASSWORD, true),
        (talent.as_str(), TALENT_PASSWORD, true),
    ];
    for (username, old, on_phone) in accounts {
        let browser = if on_phone {
            Browser::phone(&app).await
        } else {
            Browser::desktop(&app).await
        };
        let Some(b) = browser else {
            return;
        };
        let role = if username.starts_with('1') {
            "talent"
        } else {
            username
        };
        change_password(
            &b,
            username,
            old,
            "a-new-password-9",
            &format!("account-password-{role}-zh-{backend}"),
        )
        .await;
        b.close().await;
    }
    app.stop().await;
}

/// The talent's offline snapshot as the page stored it: whose it is, whether its owner
/// signed out, and its codes.
async fn offline_snapshot(b: &Browser) -> serde_json::Value {
    b.js(
        "return new Promise((resolve) => { \
           const open = indexedDB.open('talentcard', 1); \
           open.onerror = () => resolve(null); \
           open.onsuccess = () => { \
             const db = open.result; \
             if (!db.objectStoreNames.contains('offline')) { db.close(); resolve(null); return; } \
             const get = db.transaction('offline').objectStore('offline').get('snapshot'); \
             get.onsuccess = () => { \
               const s = get.result; db.close(); \
               resolve(s ? { id: s.me.id, signed_out: !!s.signed_out, codes: (s.codes || []).map((c) => c.code) } : null); \
             }; \
           }; \
         });",
        vec![],
    )
    .await
}

/// Waits until the snapshot belongs to `user_id`, is signed in or out as `signed_out`
/// says, and holds codes; returns those codes.
async fn snapshot_of(b: &Browser, user_id: i64, signed_out: bool) -> Vec<String> {
    for _ in 0..300 {
        let snap = offline_snapshot(b).await;
        if snap["id"] == json!(user_id)
            && snap["signed_out"] == json!(signed_out)
            && snap["codes"].as_array().is_some_and(|c| !c.is_empty())
        {
            return serde_json::from_value(snap["codes"].clone()).expect("codes");
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no snapshot of user {user_id} (signed out: {signed_out}): {}",
        offline_snapshot(b).await
    );
}

/// Signing out keeps the talent's codes on the phone (marked signed out, so the offline
/// start no longer shows them); the same talent signing in again has them back, and
/// another talent's login on that phone drops them.
async fn a_talents_offline_codes_survive_signing_in_again_but_not_another_login(app: TestApp) {
    talent_with_card(&app, 85, "A").await;
    talent_with_card(&app, 86, "B").await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    let first = phone(85);
    b.login(&first, TALENT_PASSWORD).await;
    let me = b
        .js("return fetch('/api/v1/me').then((r) => r.json())", vec![])
        .await;
    let first_id = me["id"].as_i64().expect("the talent's user id");
    let codes = snapshot_of(&b, first_id, false).await;
    b.logout().await;
    let kept = snapshot_of(&b, first_id, true).await;
    assert!(
        kept.contains(&codes[codes.len() - 1]),
        "signing out kept the codes: {kept:?} against {codes:?}"
    );
    // Signing in again where fresh codes cannot be fetched (a basement shop): the codes
    // kept on the phone are all the page has, so a login that dropped them would leave
    // no snapshot at all. Typed into the login form the logout left, without a reload
    // that would undo the page's blocked fetch.
    b.js(
        "const online = window.fetch; \
         window.fetch = (url, init) => String(url).includes('/me/codes') \
           ? Promise.reject(new TypeError('no network here')) : online(url, init);",
        vec![],
    )
    .await;
    b.type_into("#login-username", &first).await;
    b.type_into("#login-password", TALENT_PASSWORD).await;
    b.click("#login-submit").await;
    b.wait_for(".face").await;
    let again = snapshot_of(&b, first_id, false).await;
    assert_eq!(again, kept, "the same talent has the kept codes back");
    let shown = crate::browser::shown_numeric_code(&b).await;
    assert!(
        kept.contains(&format!("TC1:{shown}")),
        "the page shows a kept code without fetching: {shown} among {kept:?}"
    );
    b.logout().await;
    b.login(&phone(86), TALENT_PASSWORD).await;
    let other = b
        .js("return fetch('/api/v1/me').then((r) => r.json())", vec![])
        .await;
    let other_id = other["id"].as_i64().expect("the other talent's user id");
    let theirs = snapshot_of(&b, other_id, false).await;
    assert!(
        codes.iter().all(|c| !theirs.contains(c)),
        "another talent's login dropped the first one's codes: {theirs:?}"
    );
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    a_cashier_works_on_when_the_access_token_runs_out,
    signing_in_again_keeps_the_scanned_code_and_bill,
    a_redeem_whose_answer_was_lost_is_sent_again_once,
    every_role_changes_its_own_password,
    a_talents_offline_codes_survive_signing_in_again_but_not_another_login,
);
