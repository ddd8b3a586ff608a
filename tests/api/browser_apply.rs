//! The public merchant application page `/apply` (DESIGN §5, "Merchants apply through a
//! public page linked from the login"), in a real headless Chromium (see `browser.rs`):
//! a shopkeeper on a 390 px phone follows the login page's link, is told about a
//! mistyped 统一社会信用代码 while typing, applies without a password, and — once an
//! official approves on the approvals tab and hands over the owner's activation code —
//! sets a password with it and signs in at the counter with the owner account; the
//! server's refusals (a taken username or USCC, too many applications from one address)
//! are shown next to the field, in Chinese or English, without losing what was typed;
//! and the page's checks agree with the server's parsers on awkward input.
//! Screenshots of the form at 390 px and 1366 px in both languages go to
//! `target/test-artifacts/apply-*.png`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::merchants::Uscc;
use talentcard::merchants::domain::{parse_bank_account, parse_phone, required_text};
use talentcard::text::{DisplayName, SingleLine};
use talentcard::users::Username;

use crate::browser::{Browser, backend_name};
use crate::helpers::{
    ADMIN_PASSWORD, MERCHANT_PASSWORD, TestApp, merchant_application, unique_uscc,
};

/// The phone the issue was tried on, and a common office screen.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1366, 900);

async fn phone(app: &TestApp) -> Option<Browser> {
    Browser::start(app, PHONE.0, PHONE.1, true).await
}

async fn desktop(app: &TestApp) -> Option<Browser> {
    Browser::start(app, DESKTOP.0, DESKTOP.1, false).await
}

/// The form is ready once the districts it offers have arrived.
async fn form_ready(b: &Browser) {
    b.wait_for("#apply-form").await;
    b.wait_until(
        "the district list",
        "const s = document.getElementById('apply-district'); return s && !s.disabled && s.options.length > 1;",
        vec![],
    )
    .await;
}

async fn select(b: &Browser, css: &str, value: &str) {
    b.wait_for(css).await;
    b.client
        .find(fantoccini::Locator::Css(css))
        .await
        .expect("select")
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
}

/// Leaves the field the way a person does, so blur-time checks run.
async fn leave(b: &Browser, css: &str) {
    b.js(
        "document.querySelector(arguments[0]).blur();",
        vec![json!(css)],
    )
    .await;
}

/// The message under `field` (empty when none) and whether the input says it is invalid
/// and points at that message.
async fn field_state(b: &Browser, field: &str) -> (String, bool) {
    let v = b
        .js(
            "const i = document.getElementById('apply-' + arguments[0]); const e = document.getElementById('apply-' + arguments[0] + '-error');
             return [e.textContent, i.getAttribute('aria-invalid') === 'true' && (i.getAttribute('aria-describedby') || '').split(' ').includes(e.id)];",
            vec![json!(field)],
        )
        .await;
    (
        v[0].as_str().unwrap_or_default().to_owned(),
        v[1].as_bool().unwrap_or(false),
    )
}

/// Waits for the message under `field` to contain `text`, and checks that the input is
/// marked invalid and described by it.
async fn wait_field_error(b: &Browser, field: &str, text: &str) -> String {
    let shown = b.wait_text(&format!("#apply-{field}-error"), text).await;
    let (_, marked) = field_state(b, field).await;
    assert!(marked, "{field}: aria-invalid/aria-describedby not set");
    shown
}

async fn wait_field_ok(b: &Browser, field: &str) {
    b.wait_until(
        &format!("{field} to be accepted"),
        "const i = document.getElementById('apply-' + arguments[0]); const e = document.getElementById('apply-' + arguments[0] + '-error');
         return e.textContent === '' && !i.hasAttribute('aria-invalid');",
        vec![json!(field)],
    )
    .await;
}

/// Fills every field but the USCC and the owner username from `form` (there is no
/// password to fill: the owner is activated with a code on approval).
async fn fill_rest(b: &Browser, form: &Value) {
    for field in [
        "name",
        "address",
        "contact_name",
        "contact_phone",
        "bank_name",
        "bank_account",
    ] {
        b.type_into(&format!("#apply-{field}"), form[field].as_str().unwrap())
            .await;
    }
    select(b, "#apply-category", form["category"].as_str().unwrap()).await;
    select(b, "#apply-district", form["district"].as_str().unwrap()).await;
}

/// The values the form holds now, by field.
async fn typed_values(b: &Browser) -> Value {
    b.js(
        "const out = {}; for (const el of document.querySelectorAll('#apply-form input, #apply-form select')) out[el.name] = el.value; return out;",
        vec![],
    )
    .await
}

/// The whole page, a screen at a time (`{name}-1.png`, `-2`, …), as a person scrolls it.
pub(crate) async fn screenshot_all(b: &Browser, name: &str) {
    b.js("window.scrollTo(0, 0);", vec![]).await;
    for i in 1..=8 {
        b.screenshot(&format!("{name}-{i}")).await;
        // Less than a screen, so what was at the bottom is seen again under the top bar.
        let moved = b
            .js(
                "const y = window.scrollY; window.scrollBy(0, window.innerHeight - 120); return window.scrollY > y;",
                vec![],
            )
            .await;
        if moved != json!(true) {
            break;
        }
    }
    b.js("window.scrollTo(0, 0);", vec![]).await;
}

/// `uscc` with its check character replaced by another symbol: one typo.
fn mistyped(uscc: &str) -> String {
    let last = uscc.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    format!("{}{other}", &uscc[..17])
}

async fn the_application_page_answers_200_and_unknown_pages_still_404(app: TestApp) {
    let res = app
        .client
        .get(format!("{}/apply", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert!(header("content-security-policy").contains("script-src 'self'"));
    assert!(res.text().await.unwrap().contains("/js/app.js"));
    // Only that address: near misses are still no page.
    for page in ["/apply/", "/apply/more", "/applying", "/no-such-page"] {
        let res = app
            .client
            .get(format!("{}{page}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{page}");
        assert!(
            res.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
    }
    // The districts the form offers: this deployment's, without a login.
    let (status, body) = app
        .request(Method::GET, "/api/v1/districts", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["items"], json!(app.config.districts), "{body}");
    assert_eq!(body["total"], json!(app.config.districts.len()), "{body}");
    app.stop().await;
}

/// The page puts a taken value's refusal under its field: the 409 says which field.
async fn a_taken_uscc_or_owner_username_is_a_conflict_naming_its_field(app: TestApp) {
    let first = merchant_application("first");
    app.apply_merchant(first.clone()).await;
    let mut same_uscc = merchant_application("second");
    same_uscc["uscc"] = first["uscc"].clone();
    let mut same_owner = merchant_application("third");
    same_owner["owner_username"] = json!("FIRST-owner");
    for (body, field) in [(same_uscc, "uscc"), (same_owner, "owner_username")] {
        let (status, problem) = app
            .request(Method::POST, "/api/v1/merchants", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{problem}");
        assert_eq!(problem["code"], json!("conflict"), "{problem}");
        assert_eq!(problem["field"], json!(field), "{problem}");
    }
    app.stop().await;
}

async fn a_shop_applies_on_a_phone_and_its_owner_reaches_the_counter_once_approved(app: TestApp) {
    let Some(b) = phone(&app).await else {
        return;
    };
    let backend = backend_name(&app);
    b.open("/").await;
    b.wait_for("#login-form").await;
    b.wait_text("#apply-link", "商户入驻申请").await;
    b.assert_fits_width().await;
    screenshot_all(&b, &format!("apply-phone-zh-login-{backend}")).await;
    b.click("#apply-link").await;
    form_ready(&b).await;
    assert_eq!(
        b.js("return location.pathname", vec![]).await,
        json!("/apply")
    );
    b.wait_text("h1", "商户入驻申请").await;
    b.assert_fits_width().await;
    // No password is asked; the page says how the owner gets one.
    assert_eq!(
        b.count("#apply-form input[type='password']").await,
        0,
        "the application asks for no password"
    );
    b.wait_text("#apply-sec-owner", "激活码").await;
    screenshot_all(&b, &format!("apply-phone-zh-{backend}")).await;

    // A typo in the credit code is caught while typing, before anything is sent.
    let uscc = unique_uscc();
    b.type_into("#apply-uscc", &mistyped(&uscc)).await;
    let shown = wait_field_error(&b, "uscc", "校验码").await;
    assert!(
        !shown.contains("check"),
        "English in the Chinese page: {shown}"
    );
    // Fields the person has not reached yet say nothing.
    assert_eq!(field_state(&b, "name").await.0, "");
    b.screenshot(&format!("apply-phone-zh-uscc-typo-{backend}"))
        .await;
    // A phone-shaped owner name is refused as it is typed, as the server would.
    b.type_into("#apply-owner_username", "138 0013 8000").await;
    wait_field_error(&b, "owner_username", "手机号").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("apply-phone-zh-typo-{backend}"))
        .await;

    // Fixed (in lower case, as people copy it): the message goes.
    b.type_into("#apply-uscc", &uscc.to_lowercase()).await;
    leave(&b, "#apply-uscc").await;
    wait_field_ok(&b, "uscc").await;
    b.type_into("#apply-owner_username", "xiaomian-owner").await;
    wait_field_ok(&b, "owner_username").await;
    let mut form = merchant_application("xiaomian");
    form["name"] = json!("小面馆");
    form["bank_account"] = json!("6222 0202 0011 2233 445");
    form["contact_phone"] = json!("0825-2222333");
    form["district"] = json!("射洪市");
    form["category"] = json!("food");
    fill_rest(&b, &form).await;
    b.click("#apply-submit").await;
    b.wait_for("#apply-done").await;
    let number = b.wait_for("#apply-number").await;
    let id: i64 = number.trim().parse().expect("an application number");
    b.wait_text("#apply-done", "xiaomian-owner").await;
    b.wait_text("#apply-done", "审核").await;
    b.wait_text("#apply-done", "激活码").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("apply-phone-zh-done-{backend}"))
        .await;

    // What arrived is what was typed, normalised by the server, and waits for review.
    let admin = app.admin_token().await;
    let (status, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{merchant}");
    assert_eq!(merchant["status"], json!("pending"), "{merchant}");
    assert_eq!(merchant["uscc"], json!(uscc), "{merchant}");
    assert_eq!(merchant["name"], json!("小面馆"), "{merchant}");
    assert_eq!(merchant["district"], json!("射洪市"), "{merchant}");
    assert_eq!(
        merchant["bank_account"],
        json!("6222020200112233445"),
        "{merchant}"
    );

    // An official approves it on the approvals tab, at the office, and is shown the
    // owner's activation code (the approve answer's `owner_activation`) to hand over.
    let code = {
        let Some(office) = desktop(&app).await else {
            return;
        };
        office.login("admin", ADMIN_PASSWORD).await;
        office.tab("approvals").await;
        office.wait_text("#pending-merchants table", "小面馆").await;
        office.click("[data-action='approve']").await;
        office
            .wait_text("#activation-dialog", "xiaomian-owner")
            .await;
        let code = office.wait_for("#activation-code").await.trim().to_owned();
        office.click("#activation-done").await;
        office
            .wait_until(
                "the merchant to leave the queue",
                "const t = document.getElementById('pending-merchants'); return t && !t.innerText.includes('小面馆') && !t.querySelector('.loading');",
                vec![],
            )
            .await;
        office.close().await;
        code
    };
    let (_, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert_eq!(merchant["status"], json!("active"), "{merchant}");
    // The owner sets their password with the code handed over.
    let (status, body) = app
        .activate("xiaomian-owner", &code, MERCHANT_PASSWORD)
        .await;
    assert!(status.is_success(), "{status} {body}");

    // Back on the phone: from the confirmation to the login, and in at the counter.
    b.click("#apply-login").await;
    b.wait_for("#login-form").await;
    b.type_into("#login-username", "xiaomian-owner").await;
    b.type_into("#login-password", MERCHANT_PASSWORD).await;
    b.click("#login-submit").await;
    b.wait_for("#scan-code").await;
    b.assert_fits_width().await;
    b.close().await;
    app.stop().await;
}

async fn a_refusal_is_shown_next_to_its_field_in_either_language_and_keeps_what_was_typed(
    app: TestApp,
) {
    let taken = merchant_application("taken");
    app.apply_merchant(taken.clone()).await;
    let Some(b) = desktop(&app).await else {
        return;
    };
    let backend = backend_name(&app);
    b.open("/apply").await;
    form_ready(&b).await;
    b.assert_fits_width().await;
    screenshot_all(&b, &format!("apply-desktop-zh-{backend}")).await;

    // The owner username is taken (names compare case-insensitively): only the server
    // knows, and its answer lands under that field in Chinese.
    let mut form = merchant_application("fresh");
    form["name"] = json!("遂州新店");
    let fresh_uscc = form["uscc"].as_str().unwrap().to_owned();
    b.type_into("#apply-uscc", &fresh_uscc).await;
    b.type_into("#apply-owner_username", "Taken-Owner").await;
    fill_rest(&b, &form).await;
    b.click("#apply-submit").await;
    let shown = wait_field_error(&b, "owner_username", "已被使用").await;
    assert!(!shown.contains("taken"), "server English shown: {shown}");
    b.wait_text("#apply-form-msg", "红色提示").await;
    assert_eq!(
        b.js("return document.activeElement.id", vec![]).await,
        json!("apply-owner_username"),
        "the field at fault has the focus"
    );
    assert_eq!(b.count("#apply-done").await, 0);
    b.screenshot(&format!("apply-desktop-zh-refused-{backend}"))
        .await;

    // English: the same message in English, and nothing typed is lost.
    let before = typed_values(&b).await;
    b.click("#lang-toggle").await;
    b.wait_text("h1", "Apply as a partner merchant").await;
    let shown = wait_field_error(&b, "owner_username", "taken").await;
    assert!(shown.contains("choose another"), "{shown}");
    assert_eq!(
        typed_values(&b).await,
        before,
        "the language switch kept the form"
    );
    assert_eq!(before["owner_username"], json!("Taken-Owner"));
    assert_eq!(before["district"], form["district"]);
    b.assert_fits_width().await;
    screenshot_all(&b, &format!("apply-desktop-en-refused-{backend}")).await;

    // Changing the name clears its message; a credit code already registered is refused
    // next to that field.
    b.type_into("#apply-owner_username", "fresh-owner").await;
    wait_field_ok(&b, "owner_username").await;
    b.type_into("#apply-uscc", taken["uscc"].as_str().unwrap())
        .await;
    b.click("#apply-submit").await;
    wait_field_error(&b, "uscc", "already").await;
    // Typing back the refused code brings the refusal back without asking the server.
    b.type_into("#apply-uscc", &fresh_uscc).await;
    wait_field_ok(&b, "uscc").await;
    b.type_into("#apply-uscc", taken["uscc"].as_str().unwrap())
        .await;
    wait_field_error(&b, "uscc", "already").await;
    b.type_into("#apply-uscc", &fresh_uscc).await;

    // Too many applications from one address: said plainly, the form still filled in.
    loop {
        let (status, body) = app
            .request(
                Method::POST,
                "/api/v1/merchants",
                None,
                Some(merchant_application("flood")),
            )
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{status} {body}"
        );
    }
    b.click("#apply-submit").await;
    let shown = b
        .wait_text("#apply-form-msg", "Too many applications")
        .await;
    assert!(shown.contains("minutes"), "{shown}");
    assert_eq!(
        typed_values(&b).await["owner_username"],
        json!("fresh-owner")
    );
    b.close().await;

    // The form on a phone in English, with messages under their fields: nothing wider
    // than the screen.
    let Some(p) = phone(&app).await else {
        return;
    };
    p.open("/apply").await;
    form_ready(&p).await;
    p.click("#lang-toggle").await;
    p.wait_text("h1", "Apply as a partner merchant").await;
    form_ready(&p).await;
    p.type_into("#apply-contact_phone", "0825-22").await;
    leave(&p, "#apply-contact_phone").await;
    wait_field_error(&p, "contact_phone", "7 to 15 digits").await;
    p.type_into("#apply-bank_account", "6222 0202 ab").await;
    wait_field_error(&p, "bank_account", "digits only").await;
    p.type_into("#apply-owner_username", "ab").await;
    leave(&p, "#apply-owner_username").await;
    wait_field_error(&p, "owner_username", "3 to 64").await;
    p.assert_fits_width().await;
    screenshot_all(&p, &format!("apply-phone-en-{backend}")).await;
    p.click("#lang-toggle").await;
    p.wait_text("h1", "商户入驻申请").await;
    wait_field_error(&p, "contact_phone", "7–15 位数字").await;
    p.close().await;
    app.stop().await;
}

/// Awkward input for every text field: white space Rust trims and JavaScript does not
/// (and the reverse), controls, zero-width and bidi characters, full-width forms, the
/// length limits counted in characters (not UTF-16 units), phone shapes.
fn awkward_inputs() -> Vec<String> {
    let mut v: Vec<String> = [
        "",
        " ",
        "\u{3000}",
        "\u{feff}",
        "a",
        "ab",
        "abc",
        " abc ",
        "\u{3000}abc\u{3000}",
        "\u{feff}abc",
        "abc\u{85}",
        "\u{85}abc",
        "a\u{85}b",
        "a\u{9f}b",
        "a\u{200b}b",
        "a\u{202e}b",
        "a\u{2066}b",
        "a\tb",
        "a\u{7f}b",
        "遂州面馆",
        "\u{212a}ab",
        "ＡＢＣ",
        "user name",
        "shop-owner",
        "Shop.Owner@x",
        "91350100M000100Y43",
        " 91350100m000100y43 ",
        "\u{3000}91350100M000100Y43",
        "91350100M000100Y44",
        "91350100M000100Y4",
        "91350100M000100Y430",
        "91350100M0001O0Y43",
        "91350100M000100S43",
        "９1350100M000100Y43",
        "915109000000000220",
        "13800000000",
        "13800138000",
        "+8613800138000",
        "8613800138000",
        "+86 138-0013-8000",
        " 138 0013 8000 ",
        "12800138000",
        "1380013800",
        "0825-2222333",
        "+86 138 1234 5678",
        "123456",
        "1234567",
        "123456789012345",
        "1234567890123456",
        "12345678901234567890",
        "1-2-3-4-5-6-7-8-9-0-1",
        "- 1234567 -",
        "１３８００００００００",
        "6222020200112233445",
        "6222 0202 0011 2233 445",
        "6222\u{85}0202\u{3000}0011",
        "6222-0202-0011",
        "12345678",
        "pass\u{7f}word",
        "密码密码密码密码",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (c, n) in [
        ("x", 3),
        ("x", 50),
        ("x", 51),
        ("x", 64),
        ("x", 65),
        ("x", 100),
        ("x", 101),
        ("x", 128),
        ("x", 129),
        ("x", 200),
        ("x", 201),
        ("1", 30),
        ("1", 31),
        ("😀", 7),
        ("😀", 8),
        ("😀", 50),
        ("😀", 51),
        ("😀", 100),
        ("😀", 101),
    ] {
        v.push(c.repeat(n));
    }
    v
}

/// What the server accepts for `field` of an application: the text type it is
/// deserialised into, then the parser the handler runs.
fn server_accepts(field: &str, s: &str) -> bool {
    let line = SingleLine::parse(s).is_ok();
    match field {
        "name" => DisplayName::parse(s).is_ok() && required_text(field, s, 100).is_ok(),
        "address" => line && required_text(field, s, 200).is_ok(),
        "contact_name" => line && required_text(field, s, 50).is_ok(),
        "bank_name" => line && required_text(field, s, 100).is_ok(),
        "uscc" => line && Uscc::parse(s).is_ok(),
        "contact_phone" => line && parse_phone(s).is_ok(),
        "bank_account" => line && parse_bank_account(s).is_ok(),
        "owner_username" => line && Username::parse(s).is_ok(),
        other => panic!("no server rule for {other}"),
    }
}

async fn the_pages_checks_agree_with_the_servers_parsers(app: TestApp) {
    let Some(b) = desktop(&app).await else {
        return;
    };
    b.open("/apply").await;
    b.wait_for("#apply-form").await;
    let fields = [
        "name",
        "uscc",
        "address",
        "contact_name",
        "contact_phone",
        "bank_name",
        "bank_account",
        "owner_username",
    ];
    let inputs = awkward_inputs();
    let page = b
        .js(
            "const [inputs, fields] = arguments;
             return import('/js/apply.js').then((m) => Object.fromEntries(
               fields.map((f) => [f, inputs.map((v) => m.RULES[f](v) === null)])));",
            vec![json!(inputs), json!(fields)],
        )
        .await;
    let mut disagreements = Vec::new();
    for field in fields {
        for (i, input) in inputs.iter().enumerate() {
            let page_ok = page[field][i]
                .as_bool()
                .unwrap_or_else(|| panic!("no answer for {field}: {page}"));
            let server_ok = server_accepts(field, input);
            if page_ok != server_ok {
                disagreements.push(format!(
                    "{field} {input:?}: page {page_ok}, server {server_ok}"
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "the page and the server disagree:\n{}",
        disagreements.join("\n")
    );
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    the_application_page_answers_200_and_unknown_pages_still_404,
    a_taken_uscc_or_owner_username_is_a_conflict_naming_its_field,
    a_shop_applies_on_a_phone_and_its_owner_reaches_the_counter_once_approved,
    a_refusal_is_shown_next_to_its_field_in_either_language_and_keeps_what_was_typed,
    the_pages_checks_agree_with_the_servers_parsers,
);
