//! Onboarding in a real browser (DESIGN §10): an official registers a talent without
//! knowing any password, hands over the activation code the page shows once, and the
//! talent sets their own password with it and sees their card.

use crate::browser::{Browser, backend_name};
use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::talents::{id_number, phone};

async fn an_official_registers_a_talent_who_activates_with_the_code(app: TestApp) {
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("talents").await;
    b.click("details.collapsible > summary").await;
    b.type_into("form [name='name']", "王新人").await;
    b.type_into("form [name='id_number']", &id_number(401))
        .await;
    b.type_into("form [name='phone']", &phone(401)).await;
    b.type_into("form [name='employer']", "遂州大学").await;
    assert_eq!(
        b.count("details.collapsible form [name='password']").await,
        0,
        "the official never sets a talent's password"
    );
    b.click("details.collapsible form button[type='submit']")
        .await;
    let code = b.wait_for("#activation-code").await.trim().to_owned();
    b.wait_text("#activation-dialog", "王新人").await;
    b.screenshot(&format!(
        "talent-activation-code-zh-1366-{}",
        backend_name(&app)
    ))
    .await;
    b.click("#activation-done").await;
    // A new code from the list replaces it (a forgotten password).
    b.wait_text(".face-body table", "王新人").await;
    b.click("[data-action='activation']").await;
    let second = b.wait_for("#activation-code").await.trim().to_owned();
    assert_ne!(code, second, "a fresh code");
    b.click("#activation-done").await;
    b.logout().await;
    // Their card, issued as usual.
    let admin = app.admin_token().await;
    let (_, talents) = app.get("/api/v1/talents", &admin).await;
    let id = talents["items"][0]["id"].as_i64().unwrap();
    let (status, _) = app
        .post(
            &format!("/api/v1/talents/{id}/cards"),
            &admin,
            serde_json::json!({}),
        )
        .await;
    assert!(status.is_success());

    // The talent, on a phone: the first code is dead, the second sets the password.
    let Some(p) = Browser::phone(&app).await else {
        return;
    };
    p.open("/").await;
    p.click("#activate-link").await;
    p.type_into("#activate-username", &phone(401)).await;
    p.type_into("#activate-code", &code).await;
    p.type_into("#activate-password", "wang-own-password").await;
    p.type_into("#activate-password2", "wang-own-password")
        .await;
    p.click("#activate-submit").await;
    p.wait_text("#activate-form .alert-error", "激活码不正确")
        .await;
    p.type_into("#activate-code", &second).await;
    p.click("#activate-submit").await;
    p.wait_for(".face").await;
    p.wait_text("#talent-card", "王新人").await;
    p.wait_for("#code-numeric").await;
    p.screenshot(&format!("talent-activated-zh-390-{}", backend_name(&app)))
        .await;
    p.close().await;
    b.close().await;
    app.stop().await;
}

/// A card running out: the talent is told from 60 days before, and an official renews it
/// from the renewal list.
async fn a_card_running_out_is_announced_and_renewed(app: TestApp) {
    let (_, card_no, _) = crate::talents::talent_with_card(&app, 402, "B").await;
    let last_day = talentcard::time::to_local(talentcard::time::now()).date_naive()
        + chrono::Duration::days(20);
    let at = talentcard::cards::expiry_of(last_day);
    let number = card_no.clone();
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::cards;
        diesel::update(cards::table.filter(cards::card_no.eq(number)))
            .set(cards::expires_at.eq(at))
            .execute(conn)
            .unwrap();
    })
    .await;
    let Some(p) = Browser::phone(&app).await else {
        return;
    };
    p.login(&phone(402), crate::talents::TALENT_PASSWORD).await;
    p.wait_text("#expiry-notice", "还有 21 天到期").await;
    p.assert_fits_width().await;
    p.screenshot(&format!(
        "talent-expiry-notice-zh-390-{}",
        backend_name(&app)
    ))
    .await;
    p.close().await;

    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("talents").await;
    b.click(&format!("tr[data-card='{card_no}'] [data-action='renew']"))
        .await;
    b.wait_for("#renew-dialog").await;
    b.screenshot(&format!("official-renew-zh-1366-{}", backend_name(&app)))
        .await;
    b.click("#renew-submit").await;
    b.wait_until(
        "the card to leave the renewal list",
        "return !document.querySelector(`tr[data-card='${arguments[0]}']`)",
        vec![serde_json::json!(card_no)],
    )
    .await;
    let admin = app.admin_token().await;
    let (_, card) = app.get(&format!("/api/v1/cards/{card_no}"), &admin).await;
    assert_eq!(
        card["valid_until"],
        (last_day + chrono::Months::new(36)).to_string(),
        "three years on by default: {card}"
    );
    b.close().await;
    app.stop().await;
}

/// Forgotten passwords at the shop: the owner gives a cashier a code, an official gives
/// the owner one; each is shown once in the dialog, and works.
async fn owners_and_officials_hand_out_codes_for_forgotten_passwords(app: TestApp) {
    let shop = app.active_merchant("codeshop").await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("codeshop-owner", crate::helpers::MERCHANT_PASSWORD)
        .await;
    b.tab("cashiers").await;
    b.click("tr[data-username='codeshop-cashier'] [data-action='cashier-code']")
        .await;
    let cashier_code = b.wait_for("#activation-code").await.trim().to_owned();
    b.assert_fits_width().await;
    b.screenshot(&format!("owner-cashier-code-zh-390-{}", backend_name(&app)))
        .await;
    b.click("#activation-done").await;
    b.close().await;
    let (status, _) = app
        .activate("codeshop-cashier", &cashier_code, "cashier-own-pass")
        .await;
    assert!(status.is_success(), "{status}");

    let Some(o) = Browser::desktop(&app).await else {
        return;
    };
    o.login("admin", ADMIN_PASSWORD).await;
    o.tab("approvals").await;
    o.click(&format!(
        "tr[data-merchant='{}'] [data-action='activation']",
        shop.id
    ))
    .await;
    o.wait_text("#activation-dialog", "codeshop-owner").await;
    o.click("#activation-done").await;
    o.close().await;
    app.stop().await;
}

crate::both_backends!(
    owners_and_officials_hand_out_codes_for_forgotten_passwords,
    an_official_registers_a_talent_who_activates_with_the_code,
    a_card_running_out_is_announced_and_renewed,
);
