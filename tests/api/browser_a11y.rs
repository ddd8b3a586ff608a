//! The automated accessibility check (DESIGN §5): axe-core, vendored under
//! `tests/fixtures/axe-core/` and injected by the test (nothing is fetched), runs on every
//! face at phone width and fails on any serious or critical violation of WCAG 2.1 A/AA —
//! contrast, labels, names of buttons and links, landmarks the rules require.

use serde_json::Value;

use crate::browser::{Browser, backend_name, set_budget, this_year};
use crate::helpers::{ADMIN_PASSWORD, MERCHANT_PASSWORD, TestApp, offer_body};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// Runs axe on the page as it is now; returns the serious and critical violations.
async fn violations(b: &Browser) -> Vec<Value> {
    b.js(&format!("{AXE}\n;return typeof axe;"), vec![]).await;
    let found = b
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
               .then((r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                                nodes: v.nodes.slice(0, 5).map((n) => [n.target.join(' '), n.failureSummary]) }))))
               .catch((e) => done([{ id: 'axe-failed', help: String(e) }]));",
            vec![],
        )
        .await
        .expect("axe runs");
    found.as_array().cloned().unwrap_or_default()
}

/// Checks the page in Chinese and then in English: axe, and nothing wider than the phone
/// (English words are longer: badges, legends and tab strips are where it shows).
pub(crate) async fn check(b: &Browser, face: &str, failures: &mut Vec<String>) {
    // A modal dialog keeps the language switch out of reach: it is checked in Chinese.
    let modal = b
        .js("return !!document.querySelector('dialog[open]')", vec![])
        .await
        .as_bool()
        .unwrap_or(false);
    let langs: &[&str] = if modal { &["zh"] } else { &["zh", "en"] };
    for &lang in langs {
        if lang == "en" {
            b.click("#lang-toggle").await;
            b.wait_until(
                "the English page",
                "return document.documentElement.lang === 'en'",
                vec![],
            )
            .await;
            // Let a face that loads data draw it in the new language.
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        }
        let found = violations(b).await;
        if !found.is_empty() {
            failures.push(format!(
                "{face} ({lang}): {}",
                serde_json::to_string_pretty(&found).unwrap()
            ));
        }
        let wide = b
            .js(
                "return [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.tabs, .sidenav, .table-wrap, dialog:not([open])')).slice(0, 5).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                vec![],
            )
            .await;
        if wide.as_array().is_some_and(|w| !w.is_empty()) {
            failures.push(format!("{face} ({lang}) is wider than the phone: {wide}"));
        }
    }
    if modal {
        return;
    }
    b.click("#lang-toggle").await;
    b.wait_until(
        "the Chinese page",
        "return document.documentElement.lang === 'zh-CN'",
        vec![],
    )
    .await;
    // The face draws itself again and reloads its lists: the caller goes on with the
    // page as drawn, not with elements about to be replaced.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    b.wait_until(
        "the lists to load",
        "return !document.querySelector('.loading')",
        vec![],
    )
    .await;
}

async fn every_face_passes_the_accessibility_check_on_a_phone(app: TestApp) {
    set_budget(&app, this_year()).await;
    let merchant = app.active_merchant("a11y").await;
    app.active_offer(&merchant, offer_body("九折优惠")).await;
    talent_with_card(&app, 91, "A").await;
    let mut failures = Vec::new();
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.open("/").await;
    b.wait_for("#login-form").await;
    check(&b, "login", &mut failures).await;
    b.open("/#/activate").await;
    b.wait_for("#activate-form").await;
    check(&b, "activation", &mut failures).await;
    b.open("/apply").await;
    b.wait_for("form").await;
    check(&b, "merchant application", &mut failures).await;

    b.login(&phone(91), TALENT_PASSWORD).await;
    b.wait_for("#code-numeric").await;
    check(&b, "talent card", &mut failures).await;
    b.tab("partners").await;
    b.wait_text(".face", "a11y").await;
    check(&b, "partner directory", &mut failures).await;
    b.logout().await;

    b.login("a11y-cashier", MERCHANT_PASSWORD).await;
    b.wait_for("#scan-code").await;
    check(&b, "counter", &mut failures).await;
    b.click("#account-open").await;
    b.wait_for("#password-form").await;
    check(&b, "account dialog", &mut failures).await;
    b.click("#account-close").await;
    b.logout().await;

    b.login("a11y-owner", MERCHANT_PASSWORD).await;
    b.wait_for(".face").await;
    check(&b, "merchant owner", &mut failures).await;
    b.logout().await;

    b.login("admin", ADMIN_PASSWORD).await;
    b.wait_for(".face").await;
    check(&b, "official", &mut failures).await;
    b.logout().await;

    app.create_official("auditor", "a11y-auditor", "auditor-pass-1")
        .await;
    b.login("a11y-auditor", "auditor-pass-1").await;
    b.wait_for(".face").await;
    check(&b, "auditor", &mut failures).await;
    b.screenshot(&format!("a11y-auditor-390-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
    assert!(
        failures.is_empty(),
        "serious accessibility violations:\n{}",
        failures.join("\n")
    );
}

crate::both_backends!(every_face_passes_the_accessibility_check_on_a_phone);

#[test]
fn the_vendored_axe_is_the_named_release() {
    assert!(AXE.starts_with("/*! axe v4.14.1"), "{}", &AXE[..40]);
    let readme = include_str!("../fixtures/axe-core/README.md");
    assert!(readme.contains("4.14.1"));
}
