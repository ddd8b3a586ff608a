//! Importing the talent list in a real browser (DESIGN §10), as the talent office does
//! it: an official at a 1366 px screen chooses the bureau's CSV, reads the check's
//! report (the bad row's message in Chinese, or English after the switch), imports the
//! valid rows while skipping the bad one, follows the progress to the end and takes the
//! activation letters once; on a 390 px phone, with the bureau's list as the truth, the
//! talent it left out is suspended in one confirmed step; and a 10 000-row file runs
//! through the progress bar to the end. The accessibility check runs on the page.
//! Screenshots go to `target/test-artifacts/import-*.png`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::browser::{Browser, backend_name};
use crate::browser_apply::screenshot_all;
use crate::helpers::{ADMIN_PASSWORD, TestApp};
use crate::talents::{id_number, phone, talent_with_card};

/// The phone the page was laid out for, and a common office screen.
const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1366, 900);

const HEADER: &str = "姓名,身份证号,手机号,工作单位,人才层次,有效期至";

/// `rows` as a CSV the way Excel saves it as "CSV UTF-8": with a BOM, CRLF line ends.
fn write_csv(dir: &Path, name: &str, rows: &[String]) -> PathBuf {
    let mut text = String::from("\u{feff}");
    text.push_str(HEADER);
    text.push_str("\r\n");
    for row in rows {
        text.push_str(row);
        text.push_str("\r\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("CSV written");
    path
}

/// A row for talent `seq` of the test helpers (`测试{seq}`, as `create_talent` names them).
fn row(seq: u32, tier: &str) -> String {
    format!(
        "测试{seq},{},{},遂州大学,{tier},",
        id_number(seq),
        phone(seq)
    )
}

/// `seq`'s ID number with a wrong check character: one typo.
fn mistyped_id(seq: u32) -> String {
    let good = id_number(seq);
    let last = good.chars().last().unwrap();
    let other = if last == '0' { '1' } else { '0' };
    format!("{}{other}", &good[..17])
}

/// Waits for `script` to be truthy, up to `secs` (longer than the harness's 15 s).
async fn wait_long(b: &Browser, what: &str, script: &str, secs: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = b.js(script, vec![]).await;
        if !matches!(v, Value::Null | Value::Bool(false)) {
            return v;
        }
        if Instant::now() > deadline {
            let body = b.js("return document.body.innerText", vec![]).await;
            panic!("timed out waiting for {what}; the page shows:\n{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The count shown in the report's (or the job's) box `key`.
async fn count_of(b: &Browser, key: &str) -> String {
    b.js(
        "const e = document.querySelector(`[data-count='${arguments[0]}'] .stat-value`); return e ? e.textContent : null;",
        vec![json!(key)],
    )
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// Switches the page's language and waits for the face to be drawn again in it (the
/// old drawing gone, nothing left loading), so the next click finds the new page.
async fn switch_language(b: &Browser, to: &str) {
    b.js(
        "document.querySelector('.face').dataset.stale = '1';",
        vec![],
    )
    .await;
    b.click("#lang-toggle").await;
    b.wait_until(
        "the page drawn again in the other language",
        "return document.documentElement.lang === arguments[0]
           && !document.querySelector('.face[data-stale]')
           && !document.querySelector('.face-body .loading');",
        vec![json!(if to == "en" { "en" } else { "zh-CN" })],
    )
    .await;
}

async fn an_official_checks_the_list_skips_the_bad_row_imports_and_takes_the_letters(app: TestApp) {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_csv(
        dir.path(),
        "bureau-list.csv",
        &[
            row(501, "A"),
            format!("测试502,{},{},遂州医院,B,", mistyped_id(502), phone(502)),
            row(503, "领军"),
            format!("测试504,{},{},,骨干,", id_number(504), phone(504)),
        ],
    );
    let Some(b) = Browser::start(&app, DESKTOP.0, DESKTOP.1, false).await else {
        return;
    };
    let backend = backend_name(&app);
    b.login("admin", ADMIN_PASSWORD).await;
    // The talents tab points to the import, which has a tab of its own.
    b.tab("talents").await;
    b.click("#talents-import-link").await;
    b.wait_for("#import-form").await;
    b.wait_text("h1", "批量导入人才名单").await;
    let template = b
        .js(
            "return document.getElementById('import-template').getAttribute('href')",
            vec![],
        )
        .await;
    assert_eq!(template, json!("/api/v1/talents/import/template"));
    b.assert_fits_width().await;
    b.screenshot(&format!("import-form-zh-1366-{backend}"))
        .await;

    // A header the import does not understand is named, and nothing can start.
    let odd = dir.path().join("odd-header.csv");
    std::fs::write(
        &odd,
        format!(
            "姓名,身份证,电话,籍贯\n测试509,{},{},四川\n",
            id_number(509),
            phone(509)
        ),
    )
    .unwrap();
    b.choose_file("#import-file", &odd).await;
    b.click("#import-check").await;
    let problems = b.wait_text("#import-header-problems", "籍贯").await;
    assert!(problems.contains("D 列"), "{problems}");
    assert!(problems.contains("缺少“人才层次”"), "{problems}");
    assert_eq!(b.count("#import-start").await, 0);
    b.wait_text("#import-report", "表头有问题，不能导入").await;
    b.screenshot(&format!("import-header-zh-1366-{backend}"))
        .await;

    // The bureau's file is checked: one row is wrong, said in Chinese in its line.
    b.choose_file("#import-file", &file).await;
    b.wait_until(
        "the old report to go with the old file",
        "return !document.getElementById('import-header-problems')",
        vec![],
    )
    .await;
    b.wait_text("#import-chosen", "bureau-list.csv").await;
    b.click("#import-check").await;
    let bad = b
        .wait_text("#import-errors tr[data-row='3']", "身份证号校验位不对")
        .await;
    assert!(bad.contains("B 列"), "the column is named: {bad}");
    assert_eq!(count_of(&b, "rows").await, "4");
    assert_eq!(count_of(&b, "ok").await, "3");
    assert_eq!(count_of(&b, "new").await, "3");
    assert_eq!(count_of(&b, "errors").await, "1");
    // With an invalid row and no permission to skip it, nothing can start.
    assert_eq!(b.count("#import-start").await, 0);
    b.wait_text("#import-report", "只导入没有错误的行").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("import-report-zh-1366-{backend}"))
        .await;

    // In English the same report, with the English message; the chosen file is kept.
    switch_language(&b, "en").await;
    b.wait_text("#import-errors", "Errors (1)").await;
    let shown = b.wait_for("#import-errors tr[data-row='3']").await;
    assert!(
        !shown.contains("校验位"),
        "Chinese on the English page: {shown}"
    );
    b.wait_text("#import-chosen", "bureau-list.csv").await;
    b.screenshot(&format!("import-report-en-1366-{backend}"))
        .await;
    switch_language(&b, "zh").await;
    b.wait_text("#import-errors", "身份证号校验位不对").await;

    // Skipping invalid rows: checked again at once, and the import can start.
    b.click("#import-skip-invalid").await;
    b.wait_text("#import-report", "1 行有错误，导入时会跳过")
        .await;
    b.click("#import-start").await;
    wait_long(
        &b,
        "the job to finish",
        "const j = document.getElementById('import-job'); return j && j.dataset.status === 'done' && document.getElementById('import-done');",
        60,
    )
    .await;
    b.wait_text("#import-progress-text", "3 / 3").await;
    assert_eq!(count_of(&b, "created").await, "3");
    assert_eq!(count_of(&b, "updated").await, "0");
    assert_eq!(count_of(&b, "skipped").await, "1");
    let job_id = b
        .js(
            "return document.getElementById('import-job').dataset.job",
            vec![],
        )
        .await
        .as_str()
        .unwrap()
        .to_owned();
    let letters = b
        .js(
            "const e = document.getElementById('import-letters-download'); return e && e.dataset.href;",
            vec![],
        )
        .await;
    assert_eq!(
        letters,
        json!(format!("/api/v1/talents/import/{job_id}/letters"))
    );
    b.wait_text("#import-letters", "只能下载一次").await;
    b.assert_fits_width().await;
    screenshot_all(&b, &format!("import-done-zh-1366-{backend}")).await;
    switch_language(&b, "en").await;
    b.wait_text("#import-letters", "once only").await;
    screenshot_all(&b, &format!("import-done-en-1366-{backend}")).await;
    switch_language(&b, "zh").await;

    // Taken once: the button goes, and the server has nothing left to give.
    b.click("#import-letters-download").await;
    b.wait_text("#import-letters", "激活信已下载").await;
    assert_eq!(b.count("#import-letters-download").await, 0);
    b.screenshot(&format!("import-letters-taken-zh-1366-{backend}"))
        .await;
    let admin = app.admin_token().await;
    let (status, job) = app
        .get(&format!("/api/v1/talents/import/{job_id}"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{job}");
    assert!(job.get("letters_url").is_none(), "{job}");
    let (status, gone) = app
        .get(&format!("/api/v1/talents/import/{job_id}/letters"), &admin)
        .await;
    assert_eq!(status, StatusCode::GONE, "{gone}");
    assert_eq!(gone["code"], json!("letters_gone"));
    let (_, talents) = app.get("/api/v1/talents", &admin).await;
    assert_eq!(talents["total"], json!(3), "{talents}");

    // Another tab and back: the finished import with its letters taken gives way to the
    // form for the next file.
    b.tab("talents").await;
    b.tab("import").await;
    b.wait_for("#import-form").await;
    b.close().await;
    app.stop().await;
}

async fn on_a_phone_the_talent_the_bureau_left_out_is_suspended_in_one_confirmed_step(
    app: TestApp,
) {
    // Registered before: 511 is on the new list with a new employer, 512 is not on it.
    talent_with_card(&app, 511, "B").await;
    let (_, left_out_card, _) = talent_with_card(&app, 512, "B").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_csv(
        dir.path(),
        "list-2026.csv",
        &[
            format!("测试511,{},{},遂州医院,B,", id_number(511), phone(511)),
            row(513, "B"),
            row(514, "B"),
        ],
    );
    let Some(p) = Browser::start(&app, PHONE.0, PHONE.1, true).await else {
        return;
    };
    let backend = backend_name(&app);
    p.login("admin", ADMIN_PASSWORD).await;
    p.tab("import").await;
    p.wait_for("#import-form").await;
    p.assert_fits_width().await;
    screenshot_all(&p, &format!("import-form-zh-390-{backend}")).await;
    p.click("#import-sync").await;
    p.choose_file("#import-file", &file).await;
    p.click("#import-check").await;
    p.wait_text("#import-missing-preview", "测试512").await;
    assert_eq!(count_of(&p, "new").await, "2");
    assert_eq!(count_of(&p, "changed").await, "1");
    // Without "update", the change is only listed.
    let changed = p.wait_text("#import-changed", "遂州医院").await;
    assert!(changed.contains("遂州大学"), "from → to: {changed}");
    assert!(changed.contains("不修改"), "{changed}");
    p.wait_for("#import-start").await;
    p.assert_fits_width().await;
    screenshot_all(&p, &format!("import-report-zh-390-{backend}")).await;
    let mut failures = Vec::new();
    crate::browser_a11y::check(&p, "import report", &mut failures).await;
    switch_language(&p, "en").await;
    p.wait_text("#import-missing-preview", "missing from the list")
        .await;
    p.assert_fits_width().await;
    screenshot_all(&p, &format!("import-report-en-390-{backend}")).await;
    switch_language(&p, "zh").await;

    p.click("#import-start").await;
    wait_long(
        &p,
        "the job to finish",
        "const j = document.getElementById('import-job'); return j && j.dataset.status === 'done' && document.getElementById('import-missing');",
        60,
    )
    .await;
    assert_eq!(count_of(&p, "created").await, "2");
    p.wait_for("#import-letters-download").await;
    p.wait_text("#import-missing", "测试512").await;
    // Nothing is suspended without a choice.
    assert_eq!(
        p.js(
            "return document.getElementById('import-suspend').disabled",
            vec![]
        )
        .await,
        json!(true)
    );
    p.assert_fits_width().await;
    crate::browser_a11y::check(&p, "import done", &mut failures).await;
    screenshot_all(&p, &format!("import-done-zh-390-{backend}")).await;
    switch_language(&p, "en").await;
    p.wait_text("#import-missing", "Select all").await;
    p.assert_fits_width().await;
    screenshot_all(&p, &format!("import-done-en-390-{backend}")).await;
    switch_language(&p, "zh").await;

    p.click("#import-missing tr[data-talent] input[type='checkbox']")
        .await;
    p.wait_text("#import-suspend", "暂停这 1 位人才的卡").await;
    p.click("#import-suspend").await;
    p.wait_text("#import-confirm-dialog", "确定暂停 1 位人才的卡吗")
        .await;
    p.assert_fits_width().await;
    p.screenshot(&format!("import-confirm-zh-390-{backend}"))
        .await;
    // Cancelled, nothing happens; confirmed, the card is suspended.
    p.click("#import-confirm-dialog [data-action='cancel']")
        .await;
    p.wait_until(
        "the dialog to close",
        "return !document.getElementById('import-confirm-dialog')",
        vec![],
    )
    .await;
    let admin = app.admin_token().await;
    let (_, card) = app
        .get(&format!("/api/v1/cards/{left_out_card}"), &admin)
        .await;
    assert_eq!(card["status"], json!("active"), "{card}");
    p.click("#import-suspend").await;
    p.click("#import-confirm-dialog [data-action='confirm']")
        .await;
    p.wait_text("#import-missing", "所列人才的卡都已暂停").await;
    p.wait_text("#import-missing tr[data-talent]", "已暂停")
        .await;
    let (_, card) = app
        .get(&format!("/api/v1/cards/{left_out_card}"), &admin)
        .await;
    assert_eq!(card["status"], json!("suspended"), "{card}");
    p.screenshot(&format!("import-suspended-zh-390-{backend}"))
        .await;
    p.close().await;
    app.stop().await;
    assert!(
        failures.is_empty(),
        "serious accessibility violations:\n{}",
        failures.join("\n")
    );
}

/// 10 000 talents (DESIGN §10's size): the check, then a progress bar that moves and
/// ends with every one registered.
async fn ten_thousand_rows_run_through_the_progress_bar_to_the_end(app: TestApp) {
    const N: u32 = 10_000;
    let start = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
    let tiers = ["A", "B", "C", "D", "E"];
    let rows: Vec<String> = (0..N)
        .map(|i| {
            let birth = start + chrono::Duration::days(i64::from(i / 900));
            let body = format!("510902{}{:03}", birth.format("%Y%m%d"), i % 900);
            let check = talentcard::talents::domain::id_check_char(body.as_bytes());
            format!(
                "人才{i},{body}{},137{i:08},遂州大学,{},",
                char::from(check),
                tiers[i as usize % 5]
            )
        })
        .collect();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_csv(dir.path(), "ten-thousand.csv", &rows);
    let Some(b) = Browser::start(&app, DESKTOP.0, DESKTOP.1, false).await else {
        return;
    };
    let backend = backend_name(&app);
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("import").await;
    b.choose_file("#import-file", &file).await;
    let began = Instant::now();
    b.click("#import-check").await;
    wait_long(
        &b,
        "the report",
        "return document.getElementById('import-start')",
        120,
    )
    .await;
    eprintln!("{backend}: checked {N} rows in {:?}", began.elapsed());
    assert_eq!(count_of(&b, "new").await, "10,000");
    let began = Instant::now();
    b.click("#import-start").await;
    // The bar is sampled as a person would watch it.
    let mut seen: Vec<(f64, f64)> = Vec::new();
    let mut shot = false;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let v = b
            .js(
                "const j = document.getElementById('import-job'); const p = document.getElementById('import-progress');
                 return j && p ? [j.dataset.status || '', p.value, p.max] : null;",
                vec![],
            )
            .await;
        if let Some([status, value, max]) = v.as_array().map(|a| [&a[0], &a[1], &a[2]]) {
            let (value, max) = (value.as_f64().unwrap_or(0.0), max.as_f64().unwrap_or(1.0));
            seen.push((value, max));
            if status == "running" && value > 0.0 && !shot {
                shot = true;
                b.screenshot(&format!("import-progress-zh-1366-{backend}"))
                    .await;
            }
            if status == "done" || status == "failed" {
                assert_eq!(status, "done", "{v}");
                break;
            }
        }
        if Instant::now() > deadline {
            let page = b.js("return document.body.innerText", vec![]).await;
            panic!("the import did not finish: {seen:?}; the page shows:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    eprintln!(
        "{backend}: imported {N} rows in {:?}; the bar showed {} distinct values",
        began.elapsed(),
        {
            let mut values: Vec<u64> = seen.iter().map(|(v, _)| *v as u64).collect();
            values.dedup();
            values.len()
        }
    );
    assert!(
        seen.windows(2).all(|w| w[1].0 >= w[0].0),
        "the bar never goes back: {seen:?}"
    );
    assert_eq!(seen.last().copied(), Some((f64::from(N), f64::from(N))));
    b.wait_text("#import-progress-text", "10,000 / 10,000")
        .await;
    assert_eq!(count_of(&b, "created").await, "10,000");
    b.wait_text("#import-letters-download", "10,000").await;
    b.screenshot(&format!("import-10000-done-zh-1366-{backend}"))
        .await;
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    an_official_checks_the_list_skips_the_bad_row_imports_and_takes_the_letters,
    on_a_phone_the_talent_the_bureau_left_out_is_suspended_in_one_confirmed_step,
    ten_thousand_rows_run_through_the_progress_bar_to_the_end,
);

/// Every `import.` string has both languages, and every one the page asks for exists
/// (keys built at run time are listed with what they take).
#[test]
fn the_import_page_has_every_string_in_both_languages() {
    let (zh, en) = crate::i18n::keys_under("import.");
    assert!(!zh.is_empty());
    assert_eq!(zh, en, "import strings differ between zh and en");
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/web/js/import.js"))
        .expect("import.js");
    let mut used: Vec<String> = page
        .split("t('import.")
        .skip(1)
        .filter_map(|rest| rest.split_once('\'').map(|(k, _)| k.to_owned()))
        .collect();
    let built: [(&str, &[&str]); 6] = [
        (
            "col",
            &[
                "name",
                "id_number",
                "phone",
                "employer",
                "tier",
                "valid_until",
            ],
        ),
        (
            "count",
            &[
                "rows",
                "ok",
                "new",
                "unchanged",
                "changed",
                "errors",
                "created",
                "updated",
                "skipped",
            ],
        ),
        (
            "format",
            &["xlsx", "xls", "csv_utf8", "csv_utf16", "csv_gb18030"],
        ),
        (
            "hp",
            &["header_unknown", "header_duplicate", "header_missing"],
        ),
        (
            "opt",
            &[
                "update_existing",
                "update_existing_hint",
                "skip_invalid",
                "skip_invalid_hint",
                "sync",
                "sync_hint",
            ],
        ),
        ("progress", &["running", "done", "failed"]),
    ];
    for (prefix, names) in built {
        assert!(
            page.contains(&format!("`import.{prefix}.${{")),
            "import.js no longer builds import.{prefix}.*"
        );
        used.extend(names.iter().map(|n| format!("{prefix}.{n}")));
    }
    for key in used {
        assert!(zh.contains(&key), "import.{key} has no text");
    }
}
