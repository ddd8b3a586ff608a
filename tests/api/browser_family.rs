//! Family cards in a real browser (DESIGN §11): at the talent office an official opens a
//! talent's family and issues a parent's card without a phone (the printed card with a
//! PIN serves) and a spouse's with one (the activation code is shown once); the talent
//! sees their family below their card; a family member signed in sees whose card theirs
//! belongs to. Screenshots: `target/test-artifacts/family-*.png`.

use crate::browser::{Browser, backend_name};
use crate::browser_pin::switch_language;
use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

/// A parent's ID number: born 1955.
fn parent_id() -> String {
    let body = "51090219550312041";
    let check = talentcard::talents::domain::id_check_char(body.as_bytes());
    format!("{body}{}", char::from(check))
}

fn spouse_id() -> String {
    let body = "51090219920715042";
    let check = talentcard::talents::domain::id_check_char(body.as_bytes());
    format!("{body}{}", char::from(check))
}

async fn an_official_issues_family_cards_and_the_talent_sees_them(app: TestApp) {
    let (_, card_no, _) = talent_with_card(&app, 71, "B").await;
    let backend = backend_name(&app);
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    let mut failures = Vec::new();
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("talents").await;
    let family = "[data-action='family']";
    b.wait_for(family).await;
    b.click(family).await;
    b.wait_text("#family-dialog", "还没有附属卡").await;
    b.click("#family-dialog details.family-add summary").await;
    // A parent without a phone.
    b.type_into("#family-name", "王秀兰").await;
    b.type_into("#family-id-number", &parent_id()).await;
    b.js(
        "const s = document.getElementById('family-relation'); s.value = 'parent'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    b.click("#family-add").await;
    b.wait_text("#family-list", "王秀兰").await;
    b.wait_text("#family-list", "无手机").await;
    // A wrong ID number is said next to the form, in Chinese.
    b.type_into("#family-name", "李明").await;
    b.type_into("#family-id-number", "510902199207150420").await;
    b.click("#family-add").await;
    b.wait_text("#family-dialog .form-msg", "校验").await;
    // The spouse, with a phone: the activation code, once.
    b.type_into("#family-id-number", &spouse_id()).await;
    b.js(
        "const s = document.getElementById('family-relation'); s.value = 'spouse'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    b.type_into("#family-phone", "13900007172").await;
    b.click("#family-add").await;
    b.wait_for("#activation-code").await;
    b.screenshot(&format!("family-official-code-zh-1366-{backend}"))
        .await;
    let admin = app.admin_token().await;
    let (_, members) = app
        .get(&format!("/api/v1/cards/{card_no}/dependents"), &admin)
        .await;
    assert_eq!(members.as_array().unwrap().len(), 2, "{members}");
    b.close().await;

    // The list at 1366 px, then on a phone, in both languages.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("talents").await;
    b.wait_for(family).await;
    b.click(family).await;
    b.wait_text("#family-list", "李明").await;
    b.screenshot(&format!("family-official-zh-1366-{backend}"))
        .await;
    crate::browser_a11y::check(&b, "family dialog", &mut failures).await;
    b.close().await;

    // The talent on a phone sees their family below the card.
    let Some(t) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    t.login(&phone(71), TALENT_PASSWORD).await;
    t.wait_text("#family", "王秀兰").await;
    t.wait_text("#family", "父母").await;
    t.assert_fits_width().await;
    t.js(
        "document.getElementById('family').scrollIntoView({ block: 'center' })",
        vec![],
    )
    .await;
    t.screenshot(&format!("family-talent-zh-390-{backend}"))
        .await;
    // The check's own language round trip starts from Chinese.
    crate::browser_a11y::check(&t, "talent family", &mut failures).await;
    t.wait_text("#family", "王秀兰").await;
    switch_language(&t, "en").await;
    t.wait_text("#family", "Parent").await;
    t.assert_fits_width().await;
    t.js(
        "document.getElementById('family').scrollIntoView({ block: 'center' })",
        vec![],
    )
    .await;
    t.screenshot(&format!("family-talent-en-390-{backend}"))
        .await;
    t.close().await;
    app.stop().await;
    assert!(
        failures.is_empty(),
        "serious accessibility violations:\n{}",
        failures.join("\n")
    );
}

crate::both_backends!(an_official_issues_family_cards_and_the_talent_sees_them,);
