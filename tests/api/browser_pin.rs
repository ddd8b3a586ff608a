//! The printed card in a real browser (DESIGN §11): the talent sets the card's PIN on
//! their page (the trivial-PIN rules ticked off as they type) and sees the card to print;
//! at the counter the cashier types or scans the card number, hands the device over, the
//! talent types the PIN on the on-screen pad, and quote → confirm → receipt runs as with
//! a code. A wrong PIN is said in Chinese on the pad; the pad passes the accessibility
//! check and fits a 390 px phone. Screenshots: `target/test-artifacts/pin-*.png`.

use serde_json::json;

use crate::browser::{Browser, backend_name, set_budget, this_year};
use crate::helpers::{MERCHANT_PASSWORD, TestApp, offer_body};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

const PIN: &str = "583920";

/// Types `pin` on the counter's pad, key by key, as the talent does.
async fn type_on_pad(b: &Browser, pin: &str) {
    for digit in pin.chars() {
        b.click(&format!("#pin-pad [data-digit='{digit}']")).await;
    }
}

/// Clicks `css` once scrolled to the middle of the screen: on the talent's phone the tab
/// bar is fixed at the bottom and would take a click meant for what lies under it.
async fn tap(b: &Browser, css: &str) {
    b.wait_for(css).await;
    b.js(
        "document.querySelector(arguments[0]).scrollIntoView({ block: 'center' })",
        vec![json!(css)],
    )
    .await;
    b.click(css).await;
}

/// Switches the page's language and waits for the face to be drawn again.
pub(crate) async fn switch_language(b: &Browser, lang: &str) {
    b.click("#lang-toggle").await;
    b.wait_until(
        "the page's language",
        "return document.documentElement.lang === arguments[0]",
        vec![json!(lang)],
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
}

async fn a_talent_sets_a_pin_and_pays_with_the_printed_card_at_the_counter(app: TestApp) {
    set_budget(&app, this_year()).await;
    let merchant = app.active_merchant("pinshop").await;
    app.active_offer(&merchant, offer_body("九折优惠")).await;
    // Born 1990-01-01 (the test ID numbers' birth date).
    let (_, card_no, _) = talent_with_card(&app, 81, "B").await;
    let backend = backend_name(&app);

    // The talent, on a phone: the PIN twice and the password, the rules as they type.
    let Some(t) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    t.login(&phone(81), TALENT_PASSWORD).await;
    t.wait_text("#printed-card", "实体卡").await;
    // The code drawn (and its picture loaded): the page stops moving under the finger.
    t.wait_until(
        "the code's picture",
        "const i = document.getElementById('qr'); return i && i.complete && document.getElementById('code-numeric');",
        vec![],
    )
    .await;
    t.assert_fits_width().await;
    tap(&t, "#pin-open").await;
    t.type_into("#mypin-new", "123456").await;
    t.wait_for("#mypin-rules [data-rule='run'].is-bad").await;
    t.wait_for("#mypin-rules [data-rule='six'].is-ok").await;
    t.screenshot(&format!("pin-talent-rules-zh-390-{backend}"))
        .await;
    // The birth date passes the page's own rules; the server refuses it, in plain words.
    t.type_into("#mypin-new", "900101").await;
    t.type_into("#mypin-again", "900101").await;
    t.type_into("#mypin-password", TALENT_PASSWORD).await;
    t.click("#mypin-submit").await;
    t.wait_text("#mypin-msg", "出生日期").await;
    t.type_into("#mypin-new", PIN).await;
    t.type_into("#mypin-again", "583921").await;
    t.wait_for("#mypin-rules [data-rule='match'].is-bad").await;
    t.click("#mypin-submit").await;
    t.wait_text("#mypin-msg", "不一致").await;
    t.type_into("#mypin-again", PIN).await;
    t.type_into("#mypin-password", "not-my-password").await;
    t.click("#mypin-submit").await;
    t.wait_text("#mypin-msg", "当前密码").await;
    t.type_into("#mypin-password", TALENT_PASSWORD).await;
    t.screenshot(&format!("pin-talent-set-zh-390-{backend}"))
        .await;
    t.click("#mypin-submit").await;
    t.wait_text("#toast", "实体卡密码已设置").await;
    assert_eq!(t.count("dialog#mypin").await, 0, "the dialog closes");

    // The card to print, fetched with the session and shown.
    tap(&t, "#print-open").await;
    t.wait_until(
        "the card's picture",
        "const i = document.getElementById('print-preview'); return i && i.complete && i.naturalWidth > 0;",
        vec![],
    )
    .await;
    let href = t
        .js("return document.getElementById('print-tab').href", vec![])
        .await;
    assert!(href.as_str().unwrap_or("").starts_with("blob:"), "{href}");
    t.assert_fits_width().await;
    t.screenshot(&format!("pin-talent-print-zh-390-{backend}"))
        .await;
    t.click("#print-close").await;

    // The same in English.
    switch_language(&t, "en").await;
    t.wait_text("#printed-card", "Printed card").await;
    tap(&t, "#pin-open").await;
    t.type_into("#mypin-new", "121212").await;
    t.wait_for("#mypin-rules [data-rule='repeat'].is-bad").await;
    t.assert_fits_width().await;
    t.screenshot(&format!("pin-talent-rules-en-390-{backend}"))
        .await;
    t.click("#mypin-close").await;
    t.close().await;

    // A counter tablet: the printed card's QR (only its number) scanned into the code
    // field moves the sale to the printed-card path; the bill, then the pad.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("pinshop-cashier", MERCHANT_PASSWORD).await;
    b.wait_until(
        "focus in the scan field",
        "return document.activeElement && document.activeElement.id === 'scan-code'",
        vec![],
    )
    .await;
    let scan = b.client.active_element().await.expect("focused field");
    scan.send_keys(&format!("{card_no}\u{E007}"))
        .await
        .expect("typing");
    b.wait_until(
        "focus on the bill",
        "return document.activeElement && document.activeElement.id === 'scan-bill'",
        vec![],
    )
    .await;
    assert_eq!(
        b.js(
            "return [document.getElementById('scan-form').dataset.mode, document.getElementById('scan-card').value.replace(/ /g, '')]",
            vec![]
        )
        .await,
        json!(["card", card_no]),
        "the card number went to the printed-card path (grouped for reading)"
    );
    let bill = b.client.active_element().await.expect("focused field");
    bill.send_keys("128.00\u{E007}").await.expect("typing");
    b.wait_text("#pin-stage", "请输入实体卡密码").await;
    b.wait_text("#pin-bill", "¥128.00").await;
    b.screenshot(&format!("pin-pad-zh-1366-{backend}")).await;

    // A wrong PIN: said on the pad, in Chinese, with what five of them do.
    type_on_pad(&b, "583921").await;
    b.click("#pin-ok").await;
    let wrong = b.wait_text("#pin-msg", "密码不正确").await;
    assert!(
        wrong.contains("5 次") && wrong.contains("15 分钟"),
        "{wrong}"
    );
    assert_eq!(
        b.js(
            "return document.querySelectorAll('#pin-dots .is-filled').length",
            vec![]
        )
        .await,
        json!(0),
        "the wrong PIN is cleared"
    );
    b.screenshot(&format!("pin-wrong-zh-1366-{backend}")).await;

    // The right one: the quote (marked as by PIN), the cashier confirms, the receipt.
    type_on_pad(&b, PIN).await;
    b.click("#pin-ok").await;
    b.wait_text("#quote-by-pin", "实体卡密码").await;
    b.wait_text("#quote-pay", "¥115.20").await;
    b.screenshot(&format!("pin-quote-zh-1366-{backend}")).await;
    b.click("#quote-confirm").await;
    b.wait_text("#receipt-pay", "¥115.20").await;
    b.wait_text("#receipt", "实体卡密码").await;
    b.screenshot(&format!("pin-receipt-zh-1366-{backend}"))
        .await;
    let (_, list) = app.get("/api/v1/redemptions", &merchant.owner_token).await;
    assert_eq!(list["total"], json!(1), "{list}");
    assert_eq!(list["items"][0]["by_pin"], json!(true), "{list}");
    assert_eq!(list["items"][0]["paid_fen"], json!(11520));

    // In English, the pad for the next sale.
    b.click("#receipt-next").await;
    switch_language(&b, "en").await;
    b.click("#scan-mode-card").await;
    b.type_into("#scan-card", &card_no).await;
    b.type_into("#scan-bill", "50").await;
    b.click("#scan-quote").await;
    b.wait_text("#pin-stage", "Please enter your card PIN")
        .await;
    type_on_pad(&b, "58").await;
    b.screenshot(&format!("pin-pad-en-1366-{backend}")).await;
    b.click("#pin-cancel").await;
    b.wait_for("#scan-form").await;
    b.close().await;

    // A phone at the counter: the pad fits, passes the accessibility check, and survives
    // a language switch (without the digits typed so far).
    let Some(p) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    p.login("pinshop-cashier", MERCHANT_PASSWORD).await;
    p.click("#scan-mode-card").await;
    p.type_into("#scan-card", "1234 5678 9012").await;
    p.type_into("#scan-bill", "50").await;
    p.click("#scan-quote").await;
    p.wait_for("#scan-card-error").await;
    p.screenshot(&format!("pin-card-typo-zh-390-{backend}"))
        .await;
    p.type_into("#scan-card", &card_no).await;
    p.click("#scan-quote").await;
    p.wait_for("#pin-stage").await;
    type_on_pad(&p, "583").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("pin-pad-zh-390-{backend}")).await;
    let mut failures = Vec::new();
    crate::browser_a11y::check(&p, "counter PIN pad", &mut failures).await;
    p.wait_for("#pin-stage").await;
    switch_language(&p, "en").await;
    p.wait_text("#pin-stage", "Please enter your card PIN")
        .await;
    type_on_pad(&p, "583").await;
    p.assert_fits_width().await;
    p.screenshot(&format!("pin-pad-en-390-{backend}")).await;
    p.close().await;
    app.stop().await;
    assert!(
        failures.is_empty(),
        "serious accessibility violations:\n{}",
        failures.join("\n")
    );
}

/// A talent without the app at the talent office: the official opens 设置卡密码 on the
/// card, the talent types the PIN twice, and the card is printed; a trivial PIN is
/// refused on the screen before it is sent.
async fn an_official_sets_a_pin_with_the_talent_present_and_prints_the_card(app: TestApp) {
    let (_, card_no, _) = talent_with_card(&app, 62, "C").await;
    let backend = backend_name(&app);
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("admin", crate::helpers::ADMIN_PASSWORD).await;
    b.tab("talents").await;
    let pin_button = "[data-action='pin']";
    b.wait_for(pin_button).await;
    b.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
        vec![json!(pin_button)],
    )
    .await;
    b.click(pin_button).await;
    b.wait_text("#offpin", "本人在场").await;
    b.type_into("#offpin-pin", "123456").await;
    b.type_into("#offpin-again", "123456").await;
    b.wait_text("#offpin .pin-rules", "✕").await;
    b.click("#offpin-submit").await;
    b.wait_text("#offpin", "太容易").await;
    b.type_into("#offpin-pin", "583920").await;
    b.type_into("#offpin-again", "583920").await;
    b.screenshot(&format!("pin-official-zh-1366-{backend}"))
        .await;
    b.click("#offpin-submit").await;
    b.wait_until(
        "the PIN dialog to close",
        "return !document.getElementById('offpin')",
        vec![],
    )
    .await;
    // The PIN works at a counter: the server took it.
    let admin = app.admin_token().await;
    let (_, card) = app.get(&format!("/api/v1/cards/{card_no}"), &admin).await;
    let card_id = card["id"].as_i64().unwrap();
    let actions = app.audit_actions("card", card_id).await;
    assert!(actions.contains(&"card.pin_set".to_owned()), "{actions:?}");
    // And the card prints.
    b.click("[data-action='print']").await;
    b.wait_for("#offprint img.print-preview").await;
    b.screenshot(&format!("pin-official-print-zh-1366-{backend}"))
        .await;
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    a_talent_sets_a_pin_and_pays_with_the_printed_card_at_the_counter,
    an_official_sets_a_pin_with_the_talent_present_and_prints_the_card,
);
