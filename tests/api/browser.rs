//! End-to-end tests of the web frontend in a real headless Chromium, driven through
//! chromedriver (Debian's `chromium` + `chromium-driver`) with fantoccini.
//!
//! Each test starts the real app (`TestApp`), its own chromedriver on a free port and a
//! Chromium with a fresh profile; `Browser` kills the driver and any Chromium of its
//! profile on drop, so a failing test leaves no browser behind. Without chromium or
//! chromedriver the tests print a NOTICE and pass, except under `CI=true`, where that
//! is a failure.
//! Screenshots go to `target/test-artifacts/` (not committed) to be looked at.
//!
//! Covered here: login (Chinese first, English switch remembered), the official's budget
//! gauge and audit verify, the auditor's read-only views and subsidy charts, escaping of
//! data, phone-width layouts, the app shell opening from the service worker's copy with
//! the server stopped, and the flows of issue 7 end to end against the real API: a
//! talent's card with its QR and numeric code; a cashier typing that code into the scan
//! field like a handheld scanner, the quote, confirm and receipt; the same code refused
//! as already used; an official approving a pending merchant; and the talent's page
//! still showing a valid code once the server is gone; and the 预警 queue (DESIGN §8): the
//! owner's held money and once-only response, the official's decision, the auditor's
//! read-only view.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::helpers::{ADMIN_PASSWORD, MERCHANT_PASSWORD, TestApp, offer_body};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

const WAIT: Duration = Duration::from_secs(15);

/// Chromium and chromedriver, from PATH or Debian's locations.
fn find_tool(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("artifacts dir");
    dir
}

pub struct Browser {
    pub client: Client,
    base: String,
    /// The emulated phone width, when this is a phone.
    phone: Option<u32>,
    driver: Child,
    profile: tempfile::TempDir,
}

impl Browser {
    /// A desktop-sized browser on `app`; `None` (after a notice) without Chromium outside CI.
    pub async fn desktop(app: &TestApp) -> Option<Browser> {
        Self::start(app, 1280, 900, false).await
    }

    /// A phone-sized browser (375 px wide, the narrowest screen we support).
    pub async fn phone(app: &TestApp) -> Option<Browser> {
        Self::start(app, 375, 812, true).await
    }

    /// A browser of any size; `mobile` emulates a phone (touch, true viewport width).
    pub(crate) async fn start(
        app: &TestApp,
        width: u32,
        height: u32,
        mobile: bool,
    ) -> Option<Browser> {
        let chromium = find_tool(&["chromium", "chromium-browser"]);
        let driver = find_tool(&["chromedriver"]);
        let (Some(chromium), Some(driver)) = (chromium, driver) else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but chromium or chromedriver is not installed");
            }
            eprintln!(
                "NOTICE: chromium or chromedriver not found; browser tests are skipped. Install Debian's chromium and chromium-driver."
            );
            return None;
        };
        let port = free_port();
        let mut command = Command::new(&driver);
        command
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = command.spawn().expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("profile dir");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let args = vec![
            "--headless=new".to_owned(),
            // Tests run as root in containers, where Chromium's sandbox cannot start.
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            // The machine has no outside network: without these Chromium keeps trying to
            // reach Google's services in the background.
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--no-default-browser-check".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-features=Translate,OptimizationHints,MediaRouter".to_owned(),
            "--hide-scrollbars".to_owned(),
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut options = json!({ "binary": chromium, "args": args });
        if mobile {
            // Headless windows are at least 500 px wide; device emulation gives the page a
            // true 375 px viewport (at 2× pixels, like a phone's screen).
            options["mobileEmulation"] = json!({
                "deviceMetrics": { "width": width, "height": height, "pixelRatio": 2.0, "mobile": true, "touch": true }
            });
        }
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), options);
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Some(Browser {
            client,
            base: app.address.clone(),
            phone: mobile.then_some(width),
            driver: child,
            profile,
        })
    }

    pub async fn open(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .expect("page loads");
    }

    /// Runs `script` (a function body; `arguments` as in WebDriver) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("script runs")
    }

    /// Waits until `script` returns a truthy value; panics with `what` after the timeout.
    pub async fn wait_until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let v = self.js(script, args.clone()).await;
            let truthy = !matches!(&v, Value::Null | Value::Bool(false))
                && v.as_str() != Some("")
                && v.as_i64() != Some(0);
            if truthy {
                return v;
            }
            if Instant::now() > deadline {
                let body = self.js("return document.body.innerText", vec![]).await;
                panic!("timed out waiting for {what}; the page shows:\n{body}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits for an element matching `css` and returns its text.
    pub async fn wait_for(&self, css: &str) -> String {
        self.wait_until(
            css,
            "const e = document.querySelector(arguments[0]); return e ? (e.innerText || e.textContent || ' ') : null;",
            vec![json!(css)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits until the element `css` exists and its text contains `text`.
    pub async fn wait_text(&self, css: &str, text: &str) -> String {
        self.wait_until(
            &format!("{css} containing {text:?}"),
            "const e = document.querySelector(arguments[0]); const t = e && (e.innerText || e.textContent); return t && t.includes(arguments[1]) ? t : null;",
            vec![json!(css), json!(text)],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map(|v| v.len())
            .unwrap_or(0)
    }

    /// Clicks the element; one a re-render replaced between finding and clicking it is
    /// found again (pages redraw lists when their data arrives).
    pub async fn click(&self, css: &str) {
        self.wait_for(css).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let clicked = match self.client.find(Locator::Css(css)).await {
                Ok(el) => el.click().await,
                Err(e) => Err(e),
            };
            match clicked {
                Ok(()) => return,
                Err(e) if Instant::now() < deadline && replaced(&e) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("click {css}: {e}"),
            }
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css).await;
        let el = self.client.find(Locator::Css(css)).await.expect("element");
        el.clear().await.expect("clear");
        el.send_keys(text).await.expect("typing");
    }

    /// Chooses the file at `path` in the file input `css`, as a person picking it does
    /// (WebDriver types a file input's path; `type_into` would clear it first, which a
    /// file input refuses).
    pub async fn choose_file(&self, css: &str, path: &Path) {
        self.wait_for(css).await;
        let el = self
            .client
            .find(Locator::Css(css))
            .await
            .expect("file input");
        el.send_keys(&path.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("choose {} in {css}: {e}", path.display()));
    }

    /// Logs in through the form and waits for the face to appear.
    pub async fn login(&self, username: &str, password: &str) {
        self.open("/").await;
        self.type_into("#login-username", username).await;
        self.type_into("#login-password", password).await;
        self.click("#login-submit").await;
        self.wait_for(".face").await;
    }

    /// Logs out and waits for the login form, which the page shows only once the server
    /// has ended the session: navigating away sooner can abort that request and leave
    /// the old session's cookie in place for the next login.
    pub async fn logout(&self) {
        self.click("#logout").await;
        self.wait_for("#login-form").await;
    }

    /// Shows a tab of the current face.
    pub async fn tab(&self, id: &str) {
        self.click(&format!("[data-tab='{id}']")).await;
        // Clicked again while it is not active: under CI's load a click that lands while
        // the face is still drawing another tab can be lost (seen once in ~20 runs).
        self.wait_until(
            "the tab to become active",
            "const e = document.querySelector(`[data-tab='${arguments[0]}']`); \
             if (e && !e.classList.contains('is-active')) e.click(); \
             return e && e.classList.contains('is-active');",
            vec![json!(id)],
        )
        .await;
    }

    /// Nothing wider than the viewport: a phone never scrolls sideways.
    pub async fn assert_fits_width(&self) {
        let widths = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth]",
                vec![],
            )
            .await;
        let (scroll, inner) = (widths[0].as_i64().unwrap(), widths[1].as_i64().unwrap());
        if let Some(width) = self.phone {
            assert_eq!(inner, i64::from(width), "the phone viewport's width");
        }
        assert!(
            scroll <= inner,
            "the page is {scroll} px wide in a {inner} px window"
        );
    }

    pub async fn screenshot(&self, name: &str) {
        // Let fonts and transitions settle so the artifact shows the finished page.
        tokio::time::sleep(Duration::from_millis(400)).await;
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(artifacts_dir().join(format!("{name}.png")), png).expect("write artifact");
    }

    pub async fn close(mut self) {
        let client = self.client.clone();
        client.close().await.expect("session ends");
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // A Chromium left behind (a failed test never ends its session) is found by its
        // unique profile directory; its renderers exit with it. Only positive pids go to
        // kill(1): procps-ng 4.0.2 mis-parses a negative process-group id and signals
        // every process on the machine.
        let marker = format!("--user-data-dir={}", self.profile.path().display());
        let pids: Vec<String> = std::fs::read_dir("/proc")
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                name.parse::<u32>().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                String::from_utf8_lossy(&cmdline)
                    .contains(&marker)
                    .then_some(name)
            })
            .collect();
        if !pids.is_empty() {
            let _ = Command::new("kill")
                .args(["-s", "KILL"])
                .args(&pids)
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub(crate) fn backend_name(app: &TestApp) -> &'static str {
    match app.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    }
}

pub(crate) async fn set_budget(app: &TestApp, year: i32) {
    app.set_budget(
        year,
        json!({
            "total_fen": 500_000_000,
            "merchant_monthly_cap_fen": 2_000_000,
            "categories": { "food": 120_000_000, "transport": 80_000_000 }
        }),
    )
    .await;
}

pub(crate) fn this_year() -> i32 {
    // Business time is Asia/Shanghai (UTC+8), like the page's year picker.
    use chrono::Datelike;
    (chrono::Utc::now() + chrono::Duration::hours(8)).year()
}

async fn official_works_in_chinese_and_english(app: TestApp) {
    set_budget(&app, this_year()).await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.open("/").await;
    b.wait_text("#login-form", "密码").await;
    assert_eq!(b.wait_for("#login-submit").await, "登录");
    b.login("admin", ADMIN_PASSWORD).await;

    // The budget gauge adds up what the API said: ¥5,000,000.00 in total, all remaining.
    b.wait_for("#budget-gauge").await;
    b.wait_text("#budget-gauge [data-part='remaining']", "¥5,000,000.00")
        .await;
    b.wait_text(".face-body", "年度预算").await;
    b.wait_text(".face-body", "餐饮").await;
    assert!(
        b.count("[data-write]").await > 0,
        "officials can set the budget"
    );
    b.screenshot(&format!("official-budget-zh-{}", backend_name(&app)))
        .await;

    // English, remembered across a reload; then back to Chinese.
    b.click("#lang-toggle").await;
    b.wait_text(".sidenav", "Budget").await;
    b.wait_text("#budget-gauge", "Remaining").await;
    b.client.refresh().await.expect("reload");
    b.wait_text(".sidenav", "Approvals").await;
    assert_eq!(
        b.js("return document.documentElement.lang", vec![]).await,
        json!("en")
    );
    b.click("#lang-toggle").await;
    b.wait_text(".sidenav", "审批").await;
    b.client.refresh().await.expect("reload");
    b.wait_text(".sidenav", "预算").await;

    // The audit chain verifies.
    b.tab("audit").await;
    b.click("#audit-verify").await;
    let verdict = b.wait_text("#audit-result .verdict-ok", "OK").await;
    assert!(verdict.contains("审计链完整"), "{verdict}");
    b.wait_for(".table td").await;
    b.screenshot(&format!("official-audit-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

async fn auditor_sees_the_same_views_read_only(app: TestApp) {
    set_budget(&app, this_year()).await;
    app.create_account(Role::Auditor, "auditor1", "auditor-password-1")
        .await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("auditor1", "auditor-password-1").await;
    b.wait_text("#budget-gauge [data-part='remaining']", "¥5,000,000.00")
        .await;
    b.wait_text("#readonly-badge", "只读").await;
    assert_eq!(b.count("#budget-form").await, 0, "no budget form");
    assert_eq!(b.count("[data-tab='users']").await, 0, "no accounts tab");
    for tab in [
        "overview",
        "proposals",
        "approvals",
        "talents",
        "settlements",
        "alerts",
        "disputes",
        "audit",
    ] {
        b.tab(tab).await;
        b.wait_until(
            "the view to load",
            "return !document.querySelector('.face-body .loading')",
            vec![],
        )
        .await;
        assert_eq!(b.count("[data-write]").await, 0, "write controls on {tab}");
    }
    b.click("#audit-verify").await;
    b.wait_text("#audit-result .verdict-ok", "OK").await;
    b.screenshot(&format!("auditor-audit-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

async fn data_is_shown_as_text_never_as_markup(app: TestApp) {
    let token = app.admin_token().await;
    let evil = "<img src=x id=pwned onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>";
    let (status, body) = app
        .post(
            "/api/v1/users",
            &token,
            json!({"username": "clerk", "role": "auditor", "display_name": evil}),
        )
        .await;
    assert!(status.is_success(), "{status} {body}");
    app.approve_proposal(&body).await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("users").await;
    b.wait_text(".face-body table", "<script>").await;
    assert_eq!(
        b.count("#pwned").await,
        0,
        "markup from data became an element"
    );
    assert_ne!(b.js("return document.title", vec![]).await, json!("pwned"));
    b.close().await;
    app.stop().await;
}

async fn a_wrong_password_is_refused_in_the_users_language(app: TestApp) {
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    // An address that is no page gets a page saying so, with the way home — not JSON.
    b.open("/no-such-page").await;
    b.wait_text("#not-found", "没有这个页面").await;
    b.wait_text("#not-found", "/no-such-page").await;
    b.click("#not-found a").await;
    b.wait_for("#login-form").await;
    b.open("/").await;
    b.type_into("#login-username", "admin").await;
    b.type_into("#login-password", "not-the-password").await;
    b.click("#login-submit").await;
    b.wait_text("#login-form .alert-error", "用户名或密码错误")
        .await;
    b.close().await;
    app.stop().await;
}

async fn login_and_faces_fit_a_phone_screen(app: TestApp) {
    set_budget(&app, this_year()).await;
    app.create_account(Role::Talent, "13800138000", "talent-password-1")
        .await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.open("/").await;
    b.wait_for("#login-form").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-login-{}", backend_name(&app)))
        .await;

    b.login("admin", ADMIN_PASSWORD).await;
    b.wait_for("#budget-gauge").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-official-{}", backend_name(&app)))
        .await;
    b.click("#logout").await;
    b.wait_for("#login-form").await;

    // A talent account without a card yet (cards come with the card endpoints): the face
    // still renders, says so plainly and fits the phone.
    b.login("13800138000", "talent-password-1").await;
    b.wait_for(".face-talent .tabbar").await;
    b.wait_until(
        "the card slot to settle",
        "return !document.querySelector('.card-slot .loading')",
        vec![],
    )
    .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-talent-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

async fn the_pages_are_served_under_a_strict_csp_and_revalidate(app: TestApp) {
    let res = app
        .client
        .get(format!("{}/", app.address))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), reqwest::StatusCode::OK);
    let header = |name: &str| {
        res.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("style-src 'self'"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(header("cache-control"), "no-cache");
    let etag = header("etag");
    assert!(!etag.is_empty());
    let again = app
        .client
        .get(format!("{}/", app.address))
        .header("If-None-Match", &etag)
        .send()
        .await
        .expect("page");
    assert_eq!(again.status(), reqwest::StatusCode::NOT_MODIFIED);

    // Every file the service worker keeps for offline use exists, so its install succeeds.
    let sw = app
        .client
        .get(format!("{}/sw.js", app.address))
        .send()
        .await
        .expect("sw.js")
        .text()
        .await
        .expect("text");
    let shell: Vec<&str> = sw
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("'/")?.strip_suffix("',"))
        .collect();
    assert!(shell.len() > 5, "shell list not found in sw.js");
    for path in shell {
        let res = app
            .client
            .get(format!("{}/{path}", app.address))
            .send()
            .await
            .expect("asset");
        assert_eq!(res.status(), reqwest::StatusCode::OK, "/{path}");
    }
    app.stop().await;
}

/// A module missing from the service worker's shell breaks the offline start: the
/// app's imports fail without network.
#[test]
fn the_offline_copy_holds_every_module_of_the_app() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let sw = std::fs::read_to_string(dir.join("sw.js")).expect("sw.js");
    for entry in std::fs::read_dir(dir.join("js")).expect("web/js") {
        let name = entry.expect("entry").file_name();
        let path = format!("'/js/{}'", name.to_string_lossy());
        assert!(
            sw.contains(&path),
            "sw.js does not keep {path} for offline use"
        );
    }
}

/// The CSP forbids inline scripts and styles, and data must never be parsed as HTML:
/// guard the sources against the usual ways those creep back in.
#[test]
fn web_sources_use_no_inline_code_and_no_html_parsing_of_data() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut files = vec![dir.join("index.html"), dir.join("sw.js")];
    for entry in std::fs::read_dir(dir.join("js")).expect("web/js") {
        files.push(entry.expect("entry").path());
    }
    for file in files {
        let text = std::fs::read_to_string(&file).expect("source");
        for banned in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            " style=\"",
            "eval(",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", file.display());
        }
        if file.ends_with("index.html") {
            assert!(
                text.matches("<script").count()
                    == text.matches("<script type=\"module\" src=").count(),
                "index.html has an inline script"
            );
        }
    }
}

async fn the_app_opens_from_its_offline_copy_when_the_server_is_gone(app: TestApp) {
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.open("/").await;
    b.wait_for("#login-form").await;
    // WebDriver awaits a returned promise: the service worker has cached the whole shell.
    b.wait_until(
        "the service worker to control the page with the shell cached",
        "if (!navigator.serviceWorker.controller) return false; \
         return caches.open('talentcard-shell-v1').then(c => c.keys()).then(k => k.length >= 14);",
        vec![],
    )
    .await;
    app.stop().await;
    b.client.refresh().await.expect("reload");
    b.wait_for("#login-form").await;
    b.wait_until(
        "the offline badge",
        "const e = document.getElementById('offline-badge'); return e && !e.hidden;",
        vec![],
    )
    .await;
    b.screenshot(&format!("phone-offline-{}", backend_name(&app)))
        .await;
    b.close().await;
}

async fn the_counter_scan_screen_suits_a_handheld_scanner(app: TestApp) {
    app.create_account(Role::Cashier, "cashier1", "cashier-password-1")
        .await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("cashier1", "cashier-password-1").await;
    // The cursor waits in the code field, where a scanner types.
    b.wait_until(
        "focus in the scan field",
        "return document.activeElement && document.activeElement.id === 'scan-code'",
        vec![],
    )
    .await;
    // A scanner types the code and Enter: with no bill yet the cursor moves on to it.
    let code = b.client.active_element().await.expect("focused field");
    code.send_keys("81234567890123456789\u{E007}")
        .await
        .expect("typing");
    b.wait_until(
        "focus on the bill",
        "return document.activeElement && document.activeElement.id === 'scan-bill'",
        vec![],
    )
    .await;
    // A bill that is not money is refused before anything is sent.
    let bill = b.client.active_element().await.expect("focused field");
    bill.send_keys("12.345\u{E007}").await.expect("typing");
    b.wait_text("#scan-msg .alert-error", "金额").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-counter-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

/// The digits of the code the talent's page shows now (shown grouped, e.g. `1234 5678`).
pub(crate) async fn shown_numeric_code(b: &Browser) -> String {
    b.wait_until(
        "a QR code drawn from the server's SVG",
        "const q = document.getElementById('qr'); return q && q.complete && q.naturalWidth > 0 && q.src.startsWith('data:image/svg+xml');",
        vec![],
    )
    .await;
    let shown = b.wait_for("#code-numeric").await;
    let digits: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert!(digits.len() >= 8, "numeric code shown: {shown:?}");
    digits
}

/// Seconds the talent's page says the code on screen has left.
async fn countdown_seconds(b: &Browser) -> u64 {
    let text = b.wait_for("#countdown-text").await;
    text.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

/// The code on screen once it has at least half a minute left, so that a slow run never
/// scans a code whose 60-second window just ended.
async fn fresh_numeric_code(b: &Browser) -> String {
    loop {
        let code = shown_numeric_code(b).await;
        let left = countdown_seconds(b).await;
        if left >= 30 {
            return code;
        }
        tokio::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

async fn a_talents_code_is_redeemed_at_the_counter_once(app: TestApp) {
    set_budget(&app, this_year()).await;
    let merchant = app.active_merchant("shop7").await;
    app.active_offer(&merchant, offer_body("九折优惠")).await;
    talent_with_card(&app, 71, "B").await;
    let Some(talent) = Browser::phone(&app).await else {
        return;
    };
    talent.login(&phone(71), TALENT_PASSWORD).await;
    talent.wait_text("#talent-card", "测试71").await;
    let code = fresh_numeric_code(&talent).await;
    talent.assert_fits_width().await;
    talent
        .screenshot(&format!("talent-card-{}", backend_name(&app)))
        .await;

    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("shop7-cashier", MERCHANT_PASSWORD).await;
    b.wait_until(
        "focus in the scan field",
        "return document.activeElement && document.activeElement.id === 'scan-code'",
        vec![],
    )
    .await;
    // Like a handheld scanner: the code and Enter, then the bill and Enter.
    let field = b.client.active_element().await.expect("focused field");
    field
        .send_keys(&format!("{code}\u{E007}"))
        .await
        .expect("typing");
    b.wait_until(
        "focus on the bill",
        "return document.activeElement && document.activeElement.id === 'scan-bill'",
        vec![],
    )
    .await;
    let bill = b.client.active_element().await.expect("focused field");
    bill.send_keys("128.00\u{E007}").await.expect("typing");
    // 10 % of ¥128.00: ¥12.80 off, ¥115.20 to pay, the talent only by masked name.
    b.wait_for("#quote").await;
    let name = b.wait_for("#quote-name").await;
    assert!(
        name.contains('*') && !name.contains("测试71"),
        "the quote shows the name masked: {name:?}"
    );
    b.wait_text("#quote", "九折优惠").await;
    b.wait_text("#quote-discount", "-¥12.80").await;
    b.wait_text("#quote-pay", "¥115.20").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("counter-quote-{}", backend_name(&app)))
        .await;

    b.click("#quote-confirm").await;
    b.wait_text("#receipt-pay", "¥115.20").await;
    b.wait_text("#receipt", "-¥12.80").await;
    b.wait_text("#receipt-talent", &name).await;
    let receipt_id = b.wait_for("#receipt-id").await;
    b.screenshot(&format!("counter-receipt-{}", backend_name(&app)))
        .await;

    // Exactly one redemption, the one on the receipt.
    let (status, list) = app.get("/api/v1/redemptions", &merchant.owner_token).await;
    assert!(status.is_success(), "{status} {list}");
    assert_eq!(list["total"], json!(1), "{list}");
    assert_eq!(list["items"][0]["id"].to_string(), receipt_id.trim());
    assert_eq!(list["items"][0]["paid_fen"], json!(11520));

    // The same code again: refused, and the cashier is told why in plain words.
    b.click("#receipt-next").await;
    b.type_into("#scan-code", &code).await;
    b.type_into("#scan-bill", "50\u{E007}").await;
    let refusal = b.wait_text("#scan-refusal", "此码已使用").await;
    assert!(
        refusal.contains("下一个码"),
        "says what to do next: {refusal}"
    );
    assert_eq!(
        b.js(
            "return document.getElementById('scan-refusal').dataset.code",
            vec![]
        )
        .await,
        json!("code_used"),
        "{refusal}"
    );
    b.assert_fits_width().await;
    b.screenshot(&format!("counter-code-used-{}", backend_name(&app)))
        .await;

    // The talent's savings list shows the redemption with its merchant and offer.
    talent.tab("savings").await;
    talent.wait_text(".talent-body", "shop7 商行").await;
    talent.wait_text(".talent-body", "九折优惠").await;
    talent.wait_text(".talent-body", "¥12.80").await;
    talent.assert_fits_width().await;
    talent
        .screenshot(&format!("talent-savings-{}", backend_name(&app)))
        .await;

    // The partner directory shows the shop under 食 with what the offer gives this tier.
    talent.tab("partners").await;
    talent.wait_text(".merchant-list", "shop7 商行").await;
    talent.wait_text(".merchant-list", "九折优惠").await;
    talent.assert_fits_width().await;
    talent
        .screenshot(&format!("talent-partners-{}", backend_name(&app)))
        .await;

    // The counter's list of today: the redemption, then reversed with a reason.
    b.tab("today").await;
    b.wait_text(".face-body table", "九折优惠").await;
    b.wait_text(".face-body table", &name).await;
    b.click(".face-body table button").await;
    b.type_into("dialog textarea", "顾客退货").await;
    b.click("dialog button[type='submit']").await;
    b.wait_text(".face-body table", "已撤销").await;
    b.screenshot(&format!("counter-today-{}", backend_name(&app)))
        .await;
    let (_, list) = app.get("/api/v1/redemptions", &merchant.owner_token).await;
    assert_eq!(list["items"][0]["status"], json!("reversed"), "{list}");
    b.close().await;
    talent.close().await;
    app.stop().await;
}

/// A sale reversed from its receipt must not still read like money to collect.
async fn a_receipt_reversed_at_the_counter_says_reversed_not_the_amount(app: TestApp) {
    set_budget(&app, this_year()).await;
    let merchant = app.active_merchant("shop9").await;
    app.active_offer(&merchant, offer_body("九折优惠")).await;
    let (_, card_no, _) = talent_with_card(&app, 91, "B").await;
    let admin = app.admin_token().await;
    let card_id = crate::redemptions::card_id(&app, &admin, &card_no).await;
    let code = crate::redemptions::mint(&app, card_id, talentcard::time::now(), 0);
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login("shop9-cashier", MERCHANT_PASSWORD).await;
    b.type_into("#scan-code", &format!("{code}\u{E007}")).await;
    b.type_into("#scan-bill", "128.00\u{E007}").await;
    b.click("#quote-confirm").await;
    b.wait_text("#receipt-pay", "¥115.20").await;
    b.click("#receipt-reverse").await;
    b.type_into("dialog textarea", "顾客退货").await;
    b.click("dialog button[type='submit']").await;
    b.wait_text("#receipt-pay", "已撤销").await;
    b.wait_text("#receipt", "不按此单收款").await;
    let receipt = b.wait_for("#receipt .receipt-pay").await;
    assert!(
        !receipt.contains("¥115.20"),
        "no amount to collect: {receipt:?}"
    );
    assert_eq!(
        b.count("#receipt-reverse").await,
        0,
        "nothing left to reverse"
    );
    b.assert_fits_width().await;
    b.screenshot(&format!("counter-receipt-reversed-{}", backend_name(&app)))
        .await;
    let (_, list) = app.get("/api/v1/redemptions", &merchant.owner_token).await;
    assert_eq!(list["items"][0]["status"], json!("reversed"), "{list}");
    b.close().await;
    app.stop().await;
}

async fn an_official_approves_a_pending_merchant(app: TestApp) {
    let id = app
        .apply_merchant(crate::helpers::merchant_application("newshop"))
        .await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("approvals").await;
    b.wait_text("#pending-merchants table", "newshop 商行")
        .await;
    b.wait_text("#pending-merchants table", "餐饮").await;
    b.screenshot(&format!("official-approvals-{}", backend_name(&app)))
        .await;
    b.click("[data-action='approve']").await;
    // The queue reloads without it.
    b.wait_until(
        "the merchant to leave the queue",
        "const t = document.getElementById('pending-merchants'); return t && !t.innerText.includes('newshop 商行') && !t.querySelector('.loading');",
        vec![],
    )
    .await;
    let admin = app.admin_token().await;
    let (status, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert!(status.is_success(), "{status} {merchant}");
    assert_eq!(merchant["status"], json!("active"), "{merchant}");
    b.wait_text("#all-merchants table", "newshop 商行").await;
    b.wait_text("#all-merchants table", "有效").await;
    // Its owner can now log in at the counter and add a cashier.
    b.logout().await;
    b.login("newshop-owner", MERCHANT_PASSWORD).await;
    b.wait_for("#scan-code").await;
    b.tab("cashiers").await;
    b.type_into("input[name='username']", "newshop-till1").await;
    b.type_into("input[name='password']", MERCHANT_PASSWORD)
        .await;
    b.click(".face-body form button[type='submit']").await;
    b.wait_text("#cashier-list table", "newshop-till1").await;
    b.screenshot(&format!("owner-cashiers-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

async fn the_talent_still_shows_a_valid_code_offline(app: TestApp) {
    talent_with_card(&app, 72, "A").await;
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login(&phone(72), TALENT_PASSWORD).await;
    shown_numeric_code(&b).await;
    // The shell is cached by the service worker and the codes are kept on the phone.
    b.wait_until(
        "the service worker to control the page with the shell cached",
        "if (!navigator.serviceWorker.controller) return false; \
         return caches.open('talentcard-shell-v1').then(c => c.keys()).then(k => k.length >= 14);",
        vec![],
    )
    .await;
    b.wait_until(
        "the offline minutes to show",
        "const e = document.getElementById('offline-left'); return e && /\\d/.test(e.textContent);",
        vec![],
    )
    .await;
    app.stop().await;
    b.client.refresh().await.expect("reload");
    b.wait_until(
        "the offline badge",
        "const e = document.getElementById('offline-badge'); return e && !e.hidden;",
        vec![],
    )
    .await;
    b.wait_text("#talent-card", "测试72").await;
    let code = shown_numeric_code(&b).await;
    // The code on screen is inside its window: its countdown still runs.
    let left = countdown_seconds(&b).await;
    assert!(left > 0, "code {code} shown with {left} s left");
    b.assert_fits_width().await;
    b.screenshot(&format!("talent-offline-{}", backend_name(&app)))
        .await;
    b.close().await;
}

async fn the_auditor_charts_subsidies_by_category_district_and_month(app: TestApp) {
    use crate::redemptions::{counter, mint, now, redeem};
    let c = counter(&app, "chart1", 73, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, body) = redeem(
        &app,
        &c.merchant.cashier_token,
        "chart-key-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    app.create_account(Role::Auditor, "auditor1", "auditor-password-1")
        .await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    b.login("auditor1", "auditor-password-1").await;
    b.tab("reports").await;
    // ¥20.00 off a ¥200.00 bill, half of it subsidised: ¥10.00 in each chart.
    b.wait_text("#chart-category svg", "餐饮").await;
    b.wait_text("#chart-category svg", "¥10.00").await;
    b.wait_text("#chart-district svg", "船山区").await;
    b.wait_text("#chart-district svg", "¥10.00").await;
    b.wait_for("#chart-month svg").await;
    assert_eq!(
        b.count("[data-write]").await,
        0,
        "write controls on reports"
    );
    b.screenshot(&format!("auditor-reports-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

async fn a_settlement_goes_from_the_merchant_through_two_officials_to_paid(app: TestApp) {
    use crate::redemptions::{counter, mint, now, redeem};
    let c = counter(&app, "settle1", 74, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, body) = redeem(
        &app,
        &c.merchant.cashier_token,
        "settle-key-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    // This month, generated before it ends (as for a merchant leaving the alliance).
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
    app.create_account(Role::Admin, "admin2", "admin2-password-1")
        .await;
    let Some(b) = Browser::desktop(&app).await else {
        return;
    };
    // Each step by the one allowed to take it; the list shows the new status after each.
    let step = async |user: &str, password: &str, action: &str, status: &str| {
        b.login(user, password).await;
        b.tab("settlements").await;
        b.wait_text(".face-body table", &period).await;
        b.click(&format!("[data-action='{action}']")).await;
        if action == "confirm" {
            // The owner's confirmation asks for an optional invoice number first.
            b.click("#settle-confirm [data-action='dialog-confirm']")
                .await;
        }
        b.wait_text(".face-body table", status).await;
    };
    step("settle1-owner", MERCHANT_PASSWORD, "confirm", "商家已确认").await;
    b.logout().await;
    step("admin", ADMIN_PASSWORD, "verify", "已核验").await;
    b.logout().await;
    step("admin2", "admin2-password-1", "approve", "已批准").await;
    // Paying asks for the bank's reference.
    b.click("[data-action='pay']").await;
    b.type_into("dialog textarea", "SZB-2026-0001").await;
    b.click("dialog button[type='submit']").await;
    b.wait_text(".face-body table", "已支付").await;
    b.screenshot(&format!("official-settlements-{}", backend_name(&app)))
        .await;
    // Its lines: the one redemption, the talent by masked name.
    b.click("[data-action='details']").await;
    b.wait_text("#settlement-lines table", "核销").await;
    b.wait_text("#settlement-lines table", "¥200.00").await;
    b.wait_text("#settlement-lines table", "¥10.00").await;
    b.screenshot(&format!("official-settlement-lines-{}", backend_name(&app)))
        .await;
    // A fresh token: the admin's logout in the browser ended that account's sessions.
    let admin = app.admin_token().await;
    let (status, s) = app.get(&format!("/api/v1/settlements/{id}"), &admin).await;
    assert!(status.is_success(), "{status} {s}");
    assert_eq!(s["status"], json!("paid"), "{s}");
    assert_eq!(s["bank_reference"], json!("SZB-2026-0001"), "{s}");
    assert_eq!(s["subsidy_fen"], json!(1000), "{s}");
    b.close().await;
    app.stop().await;
}

async fn a_talent_disputes_a_redemption_and_an_official_upholds_it(app: TestApp) {
    use crate::redemptions::{counter, mint, now, redeem};
    let c = counter(&app, "disp1", 75, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, body) = redeem(
        &app,
        &c.merchant.cashier_token,
        "dispute-key-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let Some(b) = Browser::phone(&app).await else {
        return;
    };
    b.login(&phone(75), TALENT_PASSWORD).await;
    b.tab("savings").await;
    b.wait_text(".talent-body", "disp1 商行").await;
    b.click(".talent-body .list-item button").await;
    b.type_into("dialog textarea", "没有享受到折扣").await;
    b.click("dialog button[type='submit']").await;
    b.wait_text(".talent-body .list-item", "申诉中").await;
    b.screenshot(&format!("talent-disputed-{}", backend_name(&app)))
        .await;

    b.logout().await;
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("disputes").await;
    b.wait_text(".face-body table", "没有享受到折扣").await;
    b.wait_text(".face-body table", "disp1 商行").await;
    b.wait_text(".face-body table", "¥200.00").await;
    let shown = b.wait_for(".face-body table").await;
    assert!(!shown.contains("null"), "{shown}");
    b.screenshot(&format!("official-disputes-{}", backend_name(&app)))
        .await;
    b.click("[data-action='resolve']").await;
    b.type_into("dialog textarea", "已与商家核实").await;
    b.click("dialog button[type='submit']").await;
    b.wait_text(".face-body table", "已支持").await;
    let admin = app.admin_token().await;
    let (status, list) = app.get("/api/v1/disputes", &admin).await;
    assert!(status.is_success(), "{status} {list}");
    assert_eq!(list["items"][0]["status"], json!("upheld"), "{list}");
    // The talent sees the outcome in place of a second dispute button.
    b.logout().await;
    b.login(&phone(75), TALENT_PASSWORD).await;
    b.tab("savings").await;
    b.wait_text(".talent-body .list-item", "已支持").await;
    // …and what was decided, in the official's words.
    b.wait_text(".talent-body .li-note", "异议已成立").await;
    b.wait_text(".talent-body .li-note", "已与商家核实").await;
    assert_eq!(b.count(".talent-body .list-item button").await, 0);
    b.screenshot(&format!("talent-dispute-upheld-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

/// Scrolls `css` to the top of the window, below the sticky top bar.
async fn scroll_to(b: &Browser, css: &str) {
    b.js(
        "document.querySelector(arguments[0]).scrollIntoView({block: 'start'}); window.scrollBy(0, -80);",
        vec![json!(css)],
    )
    .await;
}

/// Checkpoint `size` as `GET /audit/checkpoints` lists it.
async fn listed_checkpoint(app: &TestApp, token: &str, size: i64) -> Value {
    let (status, list) = app
        .get("/api/v1/audit/checkpoints?per_page=100", token)
        .await;
    assert!(status.is_success(), "{status} {list}");
    list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|c| c["size"] == json!(size))
        .cloned()
        .unwrap_or_else(|| panic!("checkpoint {size} not listed: {list}"))
}

async fn an_auditor_witnesses_a_checkpoint_on_the_audit_tab(app: TestApp) {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;

    set_budget(&app, this_year()).await;
    let token = app.official_token(Role::Auditor, "auditor1").await;
    app.seal_audit().await;
    let (status, checkpoint) = app
        .post("/api/v1/audit/checkpoints", &token, json!({}))
        .await;
    assert!(status.is_success(), "{status} {checkpoint}");
    let size = checkpoint["size"].as_i64().expect("size");
    let text = checkpoint["text"].as_str().expect("text").to_owned();
    let (_, server_key) = app.get("/api/v1/audit/public-key", &token).await;
    let server_key = server_key["public_key"].as_str().expect("key").to_owned();

    // The auditor's own key, which the server never sees; openssl makes the same.
    let witness = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let b64 = base64::engine::general_purpose::STANDARD;
    let witness_key = b64.encode(witness.verifying_key().to_bytes());
    let signature = b64.encode(witness.sign(text.as_bytes()).to_bytes());

    // A laptop screen.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("auditor1", "official-password").await;
    b.tab("audit").await;
    b.wait_text("#audit-public-key-text", &server_key).await;
    let row = format!("#audit-checkpoints tr[data-size='{size}']");
    b.wait_text(&row, "尚无见证").await;
    assert_eq!(
        b.count(&format!("{row} [data-action='download-checkpoint']"))
            .await,
        1,
        "the checkpoint text can be downloaded"
    );
    assert_eq!(
        b.js(
            "return document.querySelector('#audit-export').getAttribute('href')",
            vec![]
        )
        .await,
        json!("/api/v1/audit/export")
    );
    assert_eq!(b.count("[data-write]").await, 0, "auditors change nothing");
    b.screenshot(&format!(
        "auditor-checkpoints-zh-1366-{}",
        backend_name(&app)
    ))
    .await;

    // A signature that is not one is refused next to its field, in the user's language.
    b.click(&format!("{row} [data-action='witness']")).await;
    b.type_into("#witness-public-key", &witness_key).await;
    b.type_into("#witness-signature", "AAAA").await;
    b.click("#witness-submit").await;
    b.wait_text("#witness-signature-msg .alert-error", "签名不正确")
        .await;
    b.wait_text("#witness-signature-msg", "64 bytes").await;
    assert_eq!(
        b.js(
            "return document.querySelector('#witness-public-key-msg').textContent",
            vec![]
        )
        .await,
        json!(""),
        "the public key was fine"
    );
    b.screenshot(&format!("auditor-witness-refused-{}", backend_name(&app)))
        .await;

    // The real signature is recorded and counted.
    b.type_into("#witness-signature", &signature).await;
    b.click("#witness-submit").await;
    b.wait_text("#witness-msg .alert-ok", &format!("#{size}"))
        .await;
    b.click("#witness-close").await;
    b.wait_for(&format!("{row} [data-witnesses='1']")).await;
    let listed = listed_checkpoint(&app, &token, size).await;
    assert_eq!(
        listed["witnesses"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(listed["witnesses"][0]["public_key"], json!(witness_key));

    // Verify now counts the witness.
    b.click("#audit-verify").await;
    b.wait_text("#audit-summary", "1 个见证签名").await;
    b.screenshot(&format!("auditor-witnessed-zh-1366-{}", backend_name(&app)))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text("#audit-checkpoints", "Checkpoints & witnesses")
        .await;
    b.wait_text(&row, "Witnesses: 1").await;
    b.click("#witness-howto summary").await;
    b.wait_text("#witness-howto", "openssl pkeyutl -sign -rawin")
        .await;
    scroll_to(&b, "#witness-howto").await;
    b.screenshot(&format!(
        "auditor-checkpoints-en-1366-{}",
        backend_name(&app)
    ))
    .await;
    b.close().await;

    // A phone: the list becomes cards and nothing is wider than the screen.
    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("auditor1", "official-password").await;
    b.tab("audit").await;
    b.wait_for(&format!("{row} [data-witnesses='1']")).await;
    b.assert_fits_width().await;
    scroll_to(&b, &row).await;
    b.screenshot(&format!("phone-checkpoints-zh-390-{}", backend_name(&app)))
        .await;
    b.click(&format!("{row} [data-action='witness']")).await;
    b.wait_for("#witness-dialog").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-witness-zh-390-{}", backend_name(&app)))
        .await;
    b.click("#witness-close").await;
    b.click("#lang-toggle").await;
    b.wait_text("#audit-checkpoints", "Checkpoints & witnesses")
        .await;
    b.click("#witness-howto summary").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-checkpoints-en-390-{}", backend_name(&app)))
        .await;
    b.close().await;
    app.stop().await;
}

/// Waits until the current view has loaded (no list still loading).
async fn settled(b: &Browser) {
    b.wait_until(
        "the view to load",
        "return !document.querySelector('.face-body .loading')",
        vec![],
    )
    .await;
}

async fn a_budget_change_waits_for_a_second_administrator(app: TestApp) {
    let year = this_year();
    set_budget(&app, year).await;
    app.create_account(Role::Auditor, "auditor1", "auditor-password-1")
        .await;
    let backend = backend_name(&app);
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    // The admin proposes a bigger budget in the form: it waits, the gauge stays.
    b.login("admin", ADMIN_PASSWORD).await;
    b.wait_text("#budget-gauge [data-part='remaining']", "¥5,000,000.00")
        .await;
    b.click("details:has(#budget-form) > summary").await;
    b.type_into("#budget-total", "6000000").await;
    b.click("#budget-save").await;
    b.wait_text("#budget-form .alert-ok", "等待另一位管理员批准")
        .await;
    let effect = format!("将 {year} 年预算从 ¥5,000,000.00 改为 ¥6,000,000.00");
    b.wait_text("#budget-pending", &effect).await;
    b.wait_text("#budget-gauge [data-part='remaining']", "¥5,000,000.00")
        .await;
    let admin = app.admin_token().await;
    let (status, budget) = app.get(&format!("/api/v1/budgets/{year}"), &admin).await;
    assert!(status.is_success(), "{status} {budget}");
    assert_eq!(budget["total_fen"], json!(500_000_000), "{budget}");
    scroll_to(&b, "#budget-pending").await;
    b.screenshot(&format!("proposal-budget-form-zh-1366-{backend}"))
        .await;

    // Their own proposal: no Approve, only Withdraw and a plain word on who decides.
    b.tab("proposals").await;
    settled(&b).await;
    b.wait_text("#proposal-list", &effect).await;
    b.wait_text("#proposal-list", "等待另一位管理员审批").await;
    assert_eq!(b.count("#proposal-list [data-action='approve']").await, 0);
    assert_eq!(b.count("#proposal-list [data-action='withdraw']").await, 1);
    assert_eq!(
        b.count("#proposals-badge").await,
        0,
        "nothing waits for its proposer"
    );
    b.screenshot(&format!("proposal-mine-zh-1366-{backend}"))
        .await;
    b.logout().await;

    // The second admin sees it waiting, in Chinese, and approves it.
    app.second_admin_token().await;
    b.login("second-admin", ADMIN_PASSWORD).await;
    b.wait_text("#proposals-badge", "1").await;
    b.tab("proposals").await;
    settled(&b).await;
    b.wait_text("#proposal-list", &effect).await;
    b.wait_text("#proposal-list", "admin 于").await;
    b.screenshot(&format!("proposal-waiting-zh-1366-{backend}"))
        .await;
    b.click("#proposal-list [data-action='approve']").await;
    b.wait_text("#proposal-list", "暂无数据").await;
    b.wait_until(
        "the badge to go",
        "return !document.getElementById('proposals-badge')",
        vec![],
    )
    .await;
    b.tab("overview").await;
    b.wait_text("#budget-gauge [data-part='remaining']", "¥6,000,000.00")
        .await;
    assert_eq!(b.count("#budget-pending .alert").await, 0);

    // The history in English says who decided.
    b.click("#lang-toggle").await;
    b.wait_text(".sidenav", "Waiting for me").await;
    b.tab("proposals").await;
    b.click("#proposal-filter [data-status='approved']").await;
    b.wait_text(
        "#proposal-list",
        &format!("Change the {year} budget from ¥5,000,000.00 to ¥6,000,000.00"),
    )
    .await;
    b.wait_text("#proposal-list", "Approved by second-admin")
        .await;
    b.screenshot(&format!("proposal-history-en-1366-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.logout().await;

    // The auditor reads the same list without a single write control.
    b.login("auditor1", "auditor-password-1").await;
    b.tab("proposals").await;
    b.click("#proposal-filter [data-status='approved']").await;
    b.wait_text("#proposal-list", &effect).await;
    assert_eq!(
        b.count("[data-write]").await,
        0,
        "write controls for an auditor"
    );
    assert_eq!(b.count("#proposal-list button[data-action]").await, 0);
    b.screenshot(&format!("proposal-auditor-zh-1366-{backend}"))
        .await;
    b.close().await;

    // A phone: a waiting budget change with its envelopes, then the same in English. (The
    // browser's logout ended the admin's sessions: a fresh token.)
    let admin = app.admin_token().await;
    let (status, proposed) = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/budgets/{year}"),
            Some(&admin),
            Some(json!({
                "total_fen": 600_000_000,
                "merchant_monthly_cap_fen": 3_000_000,
                "categories": { "food": 150_000_000, "transport": 80_000_000, "education": 50_000_000 }
            })),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{proposed}");
    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("second-admin", ADMIN_PASSWORD).await;
    b.tab("proposals").await;
    settled(&b).await;
    b.wait_text(
        "#proposal-list",
        "餐饮额度从 ¥1,200,000.00 改为 ¥1,500,000.00",
    )
    .await;
    b.wait_text("#proposal-list", "新增教育额度 ¥500,000.00")
        .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-proposal-zh-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(
        "#proposal-list",
        "Food & dining envelope from ¥1,200,000.00 to ¥1,500,000.00",
    )
    .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-proposal-en-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.close().await;
    app.stop().await;
}

async fn an_approved_official_gets_an_activation_code_and_logs_in_with_it(app: TestApp) {
    app.second_admin_token().await;
    let backend = backend_name(&app);
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    // The create form asks no password and says how the new official gets in.
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("users").await;
    b.click("#user-new > summary").await;
    b.wait_text("#user-form", "激活码").await;
    assert_eq!(b.count("#user-form input[type='password']").await, 0);
    b.type_into("#user-username", "li.si").await;
    b.type_into("#user-display-name", "李四").await;
    b.click("#user-submit").await;
    b.wait_text("#user-msg .alert-ok", "等待另一位管理员批准")
        .await;
    b.wait_text("#user-msg", "新建管理员账号 li.si（李四）")
        .await;
    b.screenshot(&format!("users-proposed-zh-1366-{backend}"))
        .await;
    b.logout().await;

    // The second admin approves and is shown the code once, with what to do with it.
    b.login("second-admin", ADMIN_PASSWORD).await;
    b.tab("proposals").await;
    b.wait_text("#proposal-list", "新建管理员账号 li.si（李四）")
        .await;
    b.click("#proposal-list [data-action='approve']").await;
    let code = b.wait_for("#activation-code").await.trim().to_owned();
    assert!(code.len() >= 16, "an activation code: {code:?}");
    b.wait_text("#activation-dialog", "交给 li.si 本人").await;
    b.wait_text("#activation-expiry", "有效期至").await;
    b.screenshot(&format!("activation-code-zh-1366-{backend}"))
        .await;
    b.click("#activation-done").await;
    b.wait_until(
        "the dialog to close",
        "return !document.getElementById('activation-dialog')",
        vec![],
    )
    .await;
    // The users list offers the per-official actions, disable being the only direct one.
    b.tab("users").await;
    b.wait_for("tr[data-user='li.si'] [data-action='deactivate']")
        .await;
    b.wait_for("tr[data-user='li.si'] [data-action='role']")
        .await;
    b.wait_for("tr[data-user='li.si'] [data-action='activation']")
        .await;
    b.screenshot(&format!("users-list-zh-1366-{backend}")).await;
    b.click("#lang-toggle").await;
    b.wait_text("tr[data-user='li.si']", "Make auditor").await;
    b.screenshot(&format!("users-list-en-1366-{backend}")).await;
    b.click("#lang-toggle").await;
    b.close().await;

    // On a phone, the new official sets a password with the code and is in.
    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.open("/").await;
    b.click("#activate-link").await;
    b.wait_for("#activate-form").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-activate-zh-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text("#activate-form", "Activation code").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-activate-en-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.type_into("#activate-username", "li.si").await;
    b.type_into("#activate-code", "WRONG-CODE-0000-0000").await;
    b.type_into("#activate-password", "li-si-own-password")
        .await;
    b.type_into("#activate-password2", "li-si-own-password")
        .await;
    b.click("#activate-submit").await;
    b.wait_text("#activate-form .alert-error", "激活码不正确")
        .await;
    b.type_into("#activate-code", &code).await;
    b.click("#activate-submit").await;
    b.wait_for(".face-official").await;
    // At phone width the chip shows the role; the account button still names them.
    b.wait_until(
        "the account button to name 李四",
        "const e = document.getElementById('account-open'); return e && e.textContent.includes('李四');",
        vec![],
    )
    .await;
    b.assert_fits_width().await;
    // Their accounts view on the phone: the table becomes cards, the actions fit.
    b.tab("users").await;
    b.wait_for("tr[data-user='admin'] [data-action='deactivate']")
        .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-users-zh-390-{backend}")).await;
    b.click("#lang-toggle").await;
    b.wait_text("tr[data-user='admin']", "New activation code")
        .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-users-en-390-{backend}")).await;
    b.click("#lang-toggle").await;
    b.close().await;
    // The password is theirs: it logs in.
    app.login("li.si", "li-si-own-password").await;

    // A phone-width approval shows the code readably too (English this time).
    let admin = app.admin_token().await;
    let (status, _) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "wang.wu", "role": "auditor", "display_name": "Wang Wu"}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED);
    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("second-admin", ADMIN_PASSWORD).await;
    b.click("#lang-toggle").await;
    b.wait_text(".sidenav", "Waiting for me").await;
    b.tab("proposals").await;
    b.wait_text(
        "#proposal-list",
        "Create the auditor account wang.wu (Wang Wu)",
    )
    .await;
    b.assert_fits_width().await;
    b.click("#proposal-list [data-action='approve']").await;
    b.wait_for("#activation-code").await;
    b.wait_text("#activation-dialog", "Give the code to wang.wu")
        .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-activation-code-en-390-{backend}"))
        .await;
    b.click("#activation-done").await;
    b.click("#lang-toggle").await;
    b.close().await;
    app.stop().await;
}

/// The month before this one (Shanghai) and a local wall-clock time in it, stored as UTC.
fn last_month() -> (String, impl Fn(u32, u32, u32) -> chrono::NaiveDateTime) {
    use chrono::{Datelike, NaiveDate};
    let today = talentcard::time::to_local(talentcard::time::now()).date_naive();
    let prev = today.with_day(1).unwrap() - chrono::Duration::days(1);
    let (y, m) = (prev.year(), prev.month());
    let at = move |day: u32, h: u32, min: u32| {
        NaiveDate::from_ymd_opt(y, m, day)
            .unwrap()
            .and_hms_opt(h, min, 0)
            .unwrap()
            - chrono::Duration::hours(8)
    };
    (format!("{y}-{m:02}"), at)
}

async fn an_official_decides_an_alert_the_owner_answered_and_an_auditor_only_reads(app: TestApp) {
    use crate::anomalies::{plant, sale};
    let backend = backend_name(&app);
    let c = crate::redemptions::counter(&app, "held", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    let (period, at) = last_month();
    // One card three times within half an hour (high: holds money), and a sale at 02:30.
    for min in [0, 10, 20] {
        plant(&app, &s, at(5, 12, min)).await;
    }
    plant(&app, &s, at(12, 2, 30)).await;
    let (status, report) = app
        .post(
            "/api/v1/audit/anomalies/scan",
            &c.admin,
            json!({ "period": period }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{report}");
    assert_eq!(report["raised"], 2, "{report}");
    app.create_account(Role::Auditor, "auditor1", "auditor-password-1")
        .await;
    let flag = ".flag[data-rule='rapid_repeat']";

    // The owner sees what is held and why, and answers once; a cashier gets a phone.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("held-owner", MERCHANT_PASSWORD).await;
    b.tab("held").await;
    b.wait_text(flag, "等待主管部门处理").await;
    b.wait_text(flag, "同一张卡 30 分钟内在本店核销了 3 次")
        .await;
    b.wait_text(&format!("{flag} [data-part='held-sum']"), "¥13.14")
        .await;
    b.wait_text("#held-badge", "1").await;
    assert_eq!(
        b.count(".flag[data-rule='off_hours']").await,
        0,
        "an owner sees only the high flags"
    );
    b.screenshot(&format!("owner-held-zh-1366-{backend}")).await;
    b.type_into(
        &format!("{flag} [data-part='response-input']"),
        "熟客一家三口分开结账。",
    )
    .await;
    b.click(&format!("{flag} [data-action='respond']")).await;
    b.wait_text(&format!("{flag} [data-part='response']"), "熟客一家三口")
        .await;
    assert_eq!(
        b.count(&format!("{flag} [data-action='respond']")).await,
        0,
        "one response only"
    );
    b.click("#lang-toggle").await;
    b.wait_text(flag, "waits until the office decides").await;
    b.screenshot(&format!("owner-held-en-1366-{backend}")).await;
    b.tab("cashiers").await;
    b.type_into("form [name='username']", "held-cashier-2")
        .await;
    b.type_into("form [name='password']", "cashier-password-2")
        .await;
    b.type_into("form [name='phone']", "13912345678").await;
    b.click("form [type='submit']").await;
    b.wait_text("#cashier-list", "139****5678").await;
    b.close().await;

    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("held-owner", MERCHANT_PASSWORD).await;
    b.tab("held").await;
    b.wait_text(flag, "熟客一家三口").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-owner-held-zh-390-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(flag, "waits until the office decides").await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-owner-held-en-390-{backend}"))
        .await;
    b.close().await;

    // The admin: high first, the evidence in words, the sales one click away, a decision.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("alerts").await;
    b.wait_for(".flag[data-rule='off_hours']").await;
    let order = b
        .js(
            "return [...document.querySelectorAll('.flag')].map(f => f.dataset.severity + ':' + f.dataset.rule)",
            vec![],
        )
        .await;
    assert_eq!(order, json!(["high:rapid_repeat", "low:off_hours"]));
    b.wait_text("[data-tab='alerts'] #held-badge", "1").await;
    let card = b
        .wait_text(flag, "同一张卡 30 分钟内在本店核销了 3 次")
        .await;
    assert!(card.contains("暂扣资金"), "{card}");
    assert!(
        card.contains("熟客一家三口"),
        "the owner's response: {card}"
    );
    assert!(card.contains(&c.card_no), "the card number: {card}");
    b.click(&format!("{flag} [data-action='redemptions']"))
        .await;
    b.wait_until(
        "the three flagged sales",
        "return document.querySelectorAll(`${arguments[0]} tr[data-redemption]`).length === 3 && !document.querySelector(`${arguments[0]} .flag-redemptions .loading`)",
        vec![json!(flag)],
    )
    .await;
    b.wait_text(&format!("{flag} .flag-redemptions"), "¥87.60")
        .await;
    b.click(&format!("{flag} [data-outcome='confirmed'] input"))
        .await;
    b.wait_text(
        &format!("{flag} [data-part='outcome-warning']"),
        "撤销这 3 笔核销",
    )
    .await;
    scroll_to(&b, &format!("{flag} .flag-redemptions")).await;
    b.screenshot(&format!("official-alerts-zh-1366-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(
        flag,
        "The same card was redeemed 3 times here within 30 minutes",
    )
    .await;
    b.click(&format!("{flag} [data-action='redemptions']"))
        .await;
    b.wait_for(&format!("{flag} tr[data-redemption]")).await;
    b.screenshot(&format!("official-alerts-en-1366-{backend}"))
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(flag, "同一张卡").await;
    // A note is required; then cleared, the flag leaves the open queue.
    b.click(&format!("{flag} [data-action='resolve']")).await;
    b.wait_text(&format!("{flag} .form-msg"), "请填写处理意见")
        .await;
    b.type_into(
        &format!("{flag} [data-part='note']"),
        "核实为家庭分单，正常交易。",
    )
    .await;
    b.click(&format!("{flag} [data-action='resolve']")).await;
    b.wait_until(
        "the cleared flag to leave the open queue",
        "return !document.querySelector(arguments[0]) && document.querySelector(\".flag[data-rule='off_hours']\")",
        vec![json!(flag)],
    )
    .await;
    let (status, f) = app
        .get(
            &format!("/api/v1/audit/anomalies?period={period}&rule=rapid_repeat"),
            &c.admin,
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{f}");
    assert_eq!(f["items"][0]["status"], "cleared", "{f}");
    assert_eq!(f["items"][0]["note"], "核实为家庭分单，正常交易。", "{f}");
    b.js(
        "const s = document.querySelector('#anom-status'); s.value = 'cleared'; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    b.wait_text(flag, "已排除").await;
    b.close().await;

    let Some(b) = Browser::start(&app, 390, 844, true).await else {
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.tab("alerts").await;
    b.wait_for(".flag[data-rule='off_hours']").await;
    // Every status: the decided flag (with its note) above the open one.
    b.js(
        "const s = document.querySelector('#anom-status'); s.value = ''; s.dispatchEvent(new Event('change'));",
        vec![],
    )
    .await;
    b.wait_text(flag, "核实为家庭分单").await;
    b.wait_for(".flag[data-rule='off_hours']").await;
    scroll_to(&b, flag).await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-official-alerts-zh-390-{backend}"))
        .await;
    b.click(".flag[data-rule='off_hours'] [data-action='redemptions']")
        .await;
    b.wait_for(".flag[data-rule='off_hours'] tr[data-redemption]")
        .await;
    b.click("#lang-toggle").await;
    b.wait_text(
        ".flag[data-rule='off_hours']",
        "between 00:00 and 05:00 at night",
    )
    .await;
    b.assert_fits_width().await;
    b.screenshot(&format!("phone-official-alerts-en-390-{backend}"))
        .await;
    b.close().await;

    // The auditor reads the same queue with no way to scan or decide.
    let Some(b) = Browser::start(&app, 1366, 900, false).await else {
        return;
    };
    b.login("auditor1", "auditor-password-1").await;
    b.tab("alerts").await;
    b.wait_text(".flag[data-rule='off_hours']", "凌晨 00:00 至 05:00")
        .await;
    settled(&b).await;
    assert_eq!(b.count("[data-write]").await, 0, "auditors change nothing");
    assert_eq!(b.count("#anom-scan").await, 0, "no scan for auditors");
    b.screenshot(&format!("auditor-alerts-zh-1366-{backend}"))
        .await;
    b.close().await;
    app.stop().await;
}

crate::both_backends!(
    the_pages_are_served_under_a_strict_csp_and_revalidate,
    official_works_in_chinese_and_english,
    auditor_sees_the_same_views_read_only,
    data_is_shown_as_text_never_as_markup,
    a_wrong_password_is_refused_in_the_users_language,
    login_and_faces_fit_a_phone_screen,
    the_counter_scan_screen_suits_a_handheld_scanner,
    the_app_opens_from_its_offline_copy_when_the_server_is_gone,
    a_talents_code_is_redeemed_at_the_counter_once,
    a_receipt_reversed_at_the_counter_says_reversed_not_the_amount,
    an_official_approves_a_pending_merchant,
    the_talent_still_shows_a_valid_code_offline,
    the_auditor_charts_subsidies_by_category_district_and_month,
    a_settlement_goes_from_the_merchant_through_two_officials_to_paid,
    a_talent_disputes_a_redemption_and_an_official_upholds_it,
    an_auditor_witnesses_a_checkpoint_on_the_audit_tab,
    a_budget_change_waits_for_a_second_administrator,
    an_approved_official_gets_an_activation_code_and_logs_in_with_it,
    an_official_decides_an_alert_the_owner_answered_and_an_auditor_only_reads,
);

/// Whether a WebDriver error means the element went away under a re-render.
fn replaced(e: &fantoccini::error::CmdError) -> bool {
    e.is_stale_element_reference() || e.is_no_such_element()
}
