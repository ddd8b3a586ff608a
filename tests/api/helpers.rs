#![allow(dead_code)] // Shared by test modules; not every module uses every helper.
//! Test harness: every API test starts the real application in-process on a random port
//! against its own database — a temp SQLite file, or a fresh PostgreSQL database — so
//! tests run in parallel and never share state.
//!
//! PostgreSQL comes from `TEST_DATABASE_URL` (default `postgres:///postgres`, the local
//! socket). Without it the PostgreSQL variants print a notice and pass, except under
//! `CI=true`, where a missing PostgreSQL fails the run.

use std::sync::OnceLock;

use diesel::{Connection, RunQueryDsl};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::password::Password;
use talentcard::auth::{Actor, Role};
use talentcard::config::Config;
use talentcard::db::{DatabaseUrl, Db, DbConnection, write_tx};
use talentcard::secrets::Secrets;
use talentcard::startup::Application;
use talentcard::state::AppState;
use talentcard::users::{self, NewAccount, Username};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once per backend, as `sqlite::name` and
/// `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[actix_web::test]
                async fn $name() {
                    if let Some(app) = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            )*
        }
    };
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub backend: Backend,
    pub client: reqwest::Client,
    pub state: AppState,
    pub config: Config,
    handle: actix_web::dev::ServerHandle,
    pg_database: Option<PgDatabase>,
    _dir: tempfile::TempDir,
}

pub fn pg_base_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres:///postgres".into())
}

/// The same URL pointing at another database.
fn with_database(base: &str, name: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, format!("?{q}")),
        None => (base, String::new()),
    };
    let scheme_end = head.find("://").map_or(0, |i| i + 3);
    let prefix = match head[scheme_end..].rfind('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    format!("{prefix}/{name}{query}")
}

pub fn pg_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| match diesel::PgConnection::establish(&pg_base_url()) {
        Ok(_) => true,
        Err(e) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but PostgreSQL at {} is unreachable: {e}", pg_base_url());
            }
            eprintln!("NOTICE: PostgreSQL unreachable ({e}); PostgreSQL test variants are skipped. Set TEST_DATABASE_URL or start PostgreSQL.");
            false
        }
    })
}

impl TestApp {
    /// Starts the app on a fresh database; `None` (after a notice) when the backend is
    /// PostgreSQL and it is not available outside CI.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, pg_database) = match backend {
            Backend::Sqlite => (DatabaseUrl::sqlite(&dir.path().join("test.db")), None),
            Backend::Postgres => match PgDatabase::create() {
                Some(db) => (db.url(), Some(db)),
                None => return None,
            },
        };
        Some(Self::start(backend, url, pg_database, dir, tweak).await)
    }

    /// Starts the app on a PostgreSQL server the test controls (a throwaway cluster).
    pub async fn spawn_on_postgres(url: &str) -> TestApp {
        Self::spawn_on_postgres_with(url, |_| {}).await
    }

    pub async fn spawn_on_postgres_with(url: &str, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let url = DatabaseUrl::parse(url).expect("valid url");
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start(Backend::Postgres, url, None, dir, tweak).await
    }

    /// Starts the app as `roles`' service role, migrating as its owner role
    /// (`DATABASE_URL` and `MIGRATION_DATABASE_URL`), on the database `roles` made.
    pub async fn spawn_with_roles(roles: &PgRoles) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let owner = roles.owner_url();
        Self::start(
            Backend::Postgres,
            roles.service_url(),
            None,
            dir,
            |config| {
                config.migration_database_url = Some(owner);
            },
        )
        .await
    }

    async fn start(
        backend: Backend,
        url: DatabaseUrl,
        pg_database: Option<PgDatabase>,
        dir: tempfile::TempDir,
        tweak: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::for_database(url, dir.path().to_owned());
        tweak(&mut config);
        let secrets = Secrets::load_or_create(&config.secret_key_file).expect("secrets");
        let db = Db::migrate_and_connect(
            &config.database_url,
            config.migration_database_url.as_ref(),
            config.db_pool_size,
        )
        .expect("database");
        let app = Application::build_with(config.clone(), db, secrets).expect("app builds");
        let port = app.port();
        let state = app.state().clone();
        let handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        let test_app = TestApp {
            address: format!("http://127.0.0.1:{port}"),
            port,
            backend,
            // The server drops idle connections after its keep-alive (5 s); a client
            // that reuses one at that moment gets "incomplete message". Idle ones are
            // given up sooner here, so a request after a long browser step starts fresh.
            client: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("HTTP client"),
            state,
            config,
            handle,
            pg_database,
            _dir: dir,
        };
        test_app
            .create_account(Role::Admin, "admin", ADMIN_PASSWORD)
            .await;
        test_app
    }

    /// Creates an account directly (as the CLI does).
    pub async fn create_account(&self, role: Role, username: &str, password: &str) -> i64 {
        // Only a talent may have a phone-shaped name (its phone); tests also make talent
        // accounts with plain names.
        let username = match talentcard::talents::Phone::parse(username) {
            Ok(phone) if matches!(role, Role::Talent) => Username::for_talent(&phone),
            _ => Username::parse(username).unwrap(),
        };
        let password = Password::parse(password).unwrap();
        self.state
            .db
            .run(move |conn| {
                let hash = users::hash_password(&password)?;
                write_tx(conn, |conn| {
                    users::create(
                        conn,
                        &Actor::system("test"),
                        NewAccount {
                            username: &username,
                            password_hash: hash,
                            role,
                            display_name: "",
                            merchant_id: None,
                            talent_id: None,
                            active: true,
                        },
                    )
                })
            })
            .await
            .expect("account created")
            .id
    }

    /// Runs blocking database work directly (set-up and tampering in tests).
    pub async fn with_conn<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut DbConnection) -> T + Send + 'static,
    ) -> T {
        let db = self.state.db.clone();
        actix_web::web::block(move || {
            let mut conn = db.get().expect("connection");
            f(&mut conn)
        })
        .await
        .expect("blocking task")
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login as {username} failed: {body}");
        body["access_token"].as_str().expect("token").to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// The second administrator every dual-control step needs (`second-admin`, made directly
    /// on first use), logged in.
    pub async fn second_admin_token(&self) -> String {
        let exists = self
            .with_conn(|conn| {
                users::find_by_username(conn, "second-admin")
                    .unwrap()
                    .is_some()
            })
            .await;
        if !exists {
            self.create_account(Role::Admin, "second-admin", ADMIN_PASSWORD)
                .await;
        }
        self.login("second-admin", ADMIN_PASSWORD).await
    }

    /// Approves a proposal as `second-admin`; returns the approval's answer.
    pub async fn approve_proposal(&self, proposal: &Value) -> Value {
        let id = proposal["proposal"]["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("not a proposal: {proposal}"));
        let second = self.second_admin_token().await;
        let (status, body) = self
            .post(
                &format!("/api/v1/proposals/{id}/approve"),
                &second,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "approving {id}: {body}");
        body
    }

    /// Sets a year's budget the way the contract wants it: `admin` proposes, `second-admin`
    /// approves. Returns the budget after approval.
    pub async fn set_budget(&self, year: i32, settings: Value) -> Value {
        let admin = self.admin_token().await;
        let (status, proposed) = self
            .request(
                Method::PUT,
                &format!("/api/v1/budgets/{year}"),
                Some(&admin),
                Some(settings),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
        self.approve_proposal(&proposed).await["budget"].clone()
    }

    /// An official made through the front door: proposed by `admin`, approved by
    /// `second-admin`, activated with the code by its holder. Returns (id, token).
    pub async fn create_official(
        &self,
        role: &str,
        username: &str,
        password: &str,
    ) -> (i64, String) {
        let admin = self.admin_token().await;
        let (status, proposed) = self
            .post(
                "/api/v1/users",
                &admin,
                json!({"username": username, "role": role}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
        let approved = self.approve_proposal(&proposed).await;
        let code = approved["activation"]["activation_code"].as_str().unwrap();
        let (status, session) = self.activate(username, code, password).await;
        assert_eq!(status, StatusCode::OK, "{session}");
        (
            approved["user"]["id"].as_i64().unwrap(),
            session["access_token"].as_str().unwrap().to_owned(),
        )
    }

    /// `POST /auth/activate`: sets `password` with an activation code.
    pub async fn activate(
        &self,
        username: &str,
        code: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        self.request(
            Method::POST,
            "/api/v1/auth/activate",
            None,
            Some(json!({"username": username, "activation_code": code, "new_password": password})),
        )
        .await
    }

    /// A logged-in account of `role` (officials made directly; others by the caller).
    pub async fn official_token(&self, role: Role, username: &str) -> String {
        self.create_account(role, username, "official-password")
            .await;
        self.login(username, "official-password").await
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let is_problem = res.headers().get("content-type").is_some_and(|v| {
            v.to_str()
                .unwrap_or_default()
                .starts_with("application/problem+json")
        });
        let text = res.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if status.is_client_error() || status.is_server_error() {
            assert!(is_problem, "{status} without problem+json: {value}");
            assert!(
                value["code"].is_string() && value["detail"].is_string(),
                "problem lacks code/detail: {value}"
            );
        }
        (status, value)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.request(Method::POST, path, Some(token), Some(body))
            .await
    }

    /// `talentcard loadgen`'s seed in this app's database (a merchant with a cashier and
    /// an offer, a budget, `cards` cards), with the keys that mint the cards' codes.
    pub async fn loadgen_seed(&self, cards: usize) -> (talentcard::loadgen::Seeded, Secrets) {
        let secrets = Secrets::load(&self.config.secret_key_file).expect("secrets");
        let config = self.config.clone();
        let seeded = actix_web::web::block(move || talentcard::loadgen::seed(&config, cards))
            .await
            .unwrap()
            .expect("seeded");
        (seeded, secrets)
    }

    /// The budget's books against the redemptions (`talentcard budget-verify`).
    pub async fn budget_reconciliation(&self) -> talentcard::budgets::ledger::Reconciliation {
        self.with_conn(|conn| talentcard::budgets::ledger::reconcile(conn).expect("reconciling"))
            .await
    }

    /// Waits until the sealer has linked every committed audit entry.
    pub async fn seal_audit(&self) {
        self.with_conn(|conn| talentcard::audit::seal_pending(conn).expect("sealing"))
            .await;
    }

    /// A second server instance on the same database with the same keys (several
    /// stateless instances behind a load balancer); returns its base URL. It runs until
    /// the test's runtime ends.
    pub async fn second_instance(&self) -> String {
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".into();
        let secrets = Secrets::load(&config.secret_key_file).expect("secrets");
        let db = Db::migrate_and_connect(
            &config.database_url,
            config.migration_database_url.as_ref(),
            config.db_pool_size,
        )
        .expect("database");
        let app = Application::build_with(config, db, secrets).expect("second app builds");
        let address = format!("http://127.0.0.1:{}", app.port());
        actix_web::rt::spawn(app.run_until_stopped());
        address
    }

    /// PostgreSQL only: forbids new connections to this test's database and ends the
    /// pool's current ones, as when the database server goes away.
    pub fn make_database_unreachable(&self) {
        let PgDatabase { base, name } = self.pg_database.as_ref().expect("a PostgreSQL test");
        let mut conn = diesel::PgConnection::establish(base).expect("PostgreSQL connect");
        diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
            .execute(&mut conn)
            .unwrap();
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"
        ))
        .execute(&mut conn)
        .unwrap();
    }

    /// The database refuses the app's work until [`DatabaseOutage::end`] (on PostgreSQL
    /// it takes no connections, on SQLite another connection holds the write lock past
    /// the app's busy time-out): requests meanwhile answer 503. Returns once it began.
    pub fn database_outage(&self) -> DatabaseOutage {
        match self.backend {
            Backend::Postgres => {
                self.make_database_unreachable();
                let PgDatabase { base, name } = self.pg_database.as_ref().expect("PostgreSQL");
                DatabaseOutage::Postgres {
                    base: base.clone(),
                    name: name.clone(),
                }
            }
            Backend::Sqlite => {
                let path = self.config.database_url.sqlite_path().to_owned();
                let (began, started) = std::sync::mpsc::channel();
                let (end, ended) = std::sync::mpsc::channel::<()>();
                let holder = std::thread::spawn(move || {
                    use diesel::connection::SimpleConnection;
                    let mut conn = diesel::SqliteConnection::establish(&path).expect("SQLite");
                    conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE")
                        .unwrap();
                    began.send(()).unwrap();
                    let _ = ended.recv();
                    conn.batch_execute("COMMIT").unwrap();
                });
                started.recv().expect("the outage began");
                DatabaseOutage::Sqlite { end, holder }
            }
        }
    }

    pub fn stop(&self) -> impl std::future::Future<Output = ()> {
        self.handle.stop(true)
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting work; the PostgreSQL database is dropped with `pg_database`.
        drop(self.handle.stop(false));
    }
}

/// A database outage a test began ([`TestApp::database_outage`]) and ends.
pub enum DatabaseOutage {
    Postgres {
        base: String,
        name: String,
    },
    Sqlite {
        end: std::sync::mpsc::Sender<()>,
        holder: std::thread::JoinHandle<()>,
    },
}

impl DatabaseOutage {
    /// The database takes work again.
    pub fn end(self) {
        match self {
            DatabaseOutage::Postgres { base, name } => {
                let mut conn = diesel::PgConnection::establish(&base).expect("connect");
                diesel::sql_query(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
                    .execute(&mut conn)
                    .unwrap();
            }
            DatabaseOutage::Sqlite { end, holder } => {
                end.send(()).unwrap();
                holder.join().unwrap();
            }
        }
    }
}

/// A fresh, empty PostgreSQL database, dropped (with any connections left) on drop.
pub struct PgDatabase {
    base: String,
    pub name: String,
}

impl PgDatabase {
    /// `None` (after a notice) when PostgreSQL is unavailable outside CI.
    pub fn create() -> Option<Self> {
        if !pg_available() {
            return None;
        }
        let name = format!("tc_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin =
            diesel::PgConnection::establish(&pg_base_url()).expect("PostgreSQL connect");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create test database");
        Some(PgDatabase {
            base: pg_base_url(),
            name,
        })
    }

    pub fn url(&self) -> DatabaseUrl {
        DatabaseUrl::parse(&with_database(&self.base, &self.name)).expect("valid url")
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.base) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}

/// A fresh PostgreSQL database owned by a new role, and a second role for the service
/// (both LOGIN, neither superuser, unique names); all dropped on drop, even when the test
/// failed.
pub struct PgRoles {
    base: String,
    pub database: String,
    pub owner: String,
    pub service: String,
    password: String,
}

impl PgRoles {
    /// `None` (after a notice) when PostgreSQL is unavailable outside CI.
    pub fn create() -> Option<Self> {
        if !pg_available() {
            return None;
        }
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let roles = PgRoles {
            base: pg_base_url(),
            database: format!("tc_test_{suffix}"),
            owner: format!("tc_owner_{}", &suffix[..12]),
            service: format!("tc_service_{}", &suffix[..12]),
            // Where the server asks for passwords (not the local socket's trust), it has one.
            password: uuid::Uuid::new_v4().simple().to_string(),
        };
        let mut admin = diesel::PgConnection::establish(&roles.base).expect("PostgreSQL connect");
        for role in [&roles.owner, &roles.service] {
            diesel::sql_query(format!(
                "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD '{}'",
                roles.password
            ))
            .execute(&mut admin)
            .expect("create test role");
        }
        diesel::sql_query(format!(
            "CREATE DATABASE {} OWNER {}",
            roles.database, roles.owner
        ))
        .execute(&mut admin)
        .expect("create test database");
        Some(roles)
    }

    pub fn owner_url(&self) -> DatabaseUrl {
        self.url_as(&self.owner)
    }

    pub fn service_url(&self) -> DatabaseUrl {
        self.url_as(&self.service)
    }

    fn url_as(&self, role: &str) -> DatabaseUrl {
        let url = with_database(&self.base, &self.database);
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let host = rest.split_once('@').map_or(rest, |(_user, host)| host);
        DatabaseUrl::parse(&format!("{scheme}://{role}:{}@{host}", self.password))
            .expect("valid url")
    }
}

impl Drop for PgRoles {
    fn drop(&mut self) {
        if let Ok(mut conn) = diesel::PgConnection::establish(&self.base) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.database
            ))
            .execute(&mut conn);
            for role in [&self.service, &self.owner] {
                if let Err(e) =
                    diesel::sql_query(format!("DROP ROLE IF EXISTS {role}")).execute(&mut conn)
                {
                    eprintln!("NOTICE: test role {role} left behind: {e}");
                }
            }
        }
    }
}

/// Asserts a 422 `validation` problem that names `field`.
#[track_caller]
pub fn assert_invalid(response: &(StatusCode, Value), field: &str) {
    assert_problem(response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert_eq!(
        response.1["field"], field,
        "the problem should name the field; body: {}",
        response.1
    );
}

/// How many merchants exist (applications included): nothing half-written.
pub async fn merchant_count(app: &TestApp) -> i64 {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        talentcard::schema::merchants::table
            .count()
            .get_result::<i64>(conn)
            .expect("count")
    })
    .await
}

/// Asserts a problem response with the given status and code.
#[track_caller]
pub fn assert_problem(response: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(
        response.0, status,
        "unexpected status; body: {}",
        response.1
    );
    assert_eq!(
        response.1["code"], code,
        "unexpected problem code; body: {}",
        response.1
    );
}

/// Password of every merchant owner and cashier that the helpers below create.
pub const MERCHANT_PASSWORD: &str = "merchant-password-1";

/// A valid 统一社会信用代码 not used before (random body, computed check character).
pub fn unique_uscc() -> String {
    let n = uuid::Uuid::new_v4().as_u128() % 10_000_000;
    let body = format!("91510903MA{n:07}");
    let check = talentcard::merchants::Uscc::check_char(&body).expect("valid body");
    format!("{body}{check}")
}

/// A complete, valid merchant application; `key` (letters and digits) names the merchant
/// and prefixes its owner's username (`{key}-owner`).
pub fn merchant_application(key: &str) -> Value {
    json!({
        "name": format!("{key} 商行"),
        "uscc": unique_uscc(),
        "category": "food",
        "district": "船山区",
        "address": "遂州大道1号",
        "contact_name": "张三",
        "contact_phone": "13800000000",
        "bank_name": "遂州银行",
        "bank_account": "6222020200112233445",
        "owner_username": format!("{key}-owner"),
        "owner_password": MERCHANT_PASSWORD,
    })
}

/// An approved merchant with a logged-in owner and cashier (`{key}-owner`, `{key}-cashier`).
pub struct MerchantFixture {
    pub id: i64,
    pub owner_token: String,
    pub cashier_id: i64,
    pub cashier_token: String,
}

/// An offer body for [`TestApp::active_offer`] and offer tests: 10 % off, at most 50 元,
/// all tiers, half subsidised.
pub fn offer_body(title: &str) -> Value {
    json!({
        "title": title,
        "kind": "percent",
        "percent_bp": 1000,
        "min_spend_fen": 0,
        "max_discount_fen": 5000,
        "tiers": ["A", "B", "C", "D", "E"],
        "subsidy_bp": 5000,
    })
}

impl TestApp {
    /// Applies (anonymously) and returns the new merchant's id.
    pub async fn apply_merchant(&self, body: Value) -> i64 {
        let (status, body) = self
            .request(Method::POST, "/api/v1/merchants", None, Some(body))
            .await;
        assert_eq!(status, StatusCode::CREATED, "application failed: {body}");
        body["id"].as_i64().expect("merchant id")
    }

    /// Applies, approves as admin, logs the owner in and adds a logged-in cashier.
    pub async fn active_merchant(&self, key: &str) -> MerchantFixture {
        let id = self.apply_merchant(merchant_application(key)).await;
        let admin = self.admin_token().await;
        let (status, body) = self
            .post(
                &format!("/api/v1/merchants/{id}/approve"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "approval failed: {body}");
        let owner_token = self.login(&format!("{key}-owner"), MERCHANT_PASSWORD).await;
        let (status, body) = self
            .post(
                &format!("/api/v1/merchants/{id}/cashiers"),
                &owner_token,
                json!({"username": format!("{key}-cashier"), "password": MERCHANT_PASSWORD}),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::CREATED,
            "adding a cashier failed: {body}"
        );
        let cashier_token = self
            .login(&format!("{key}-cashier"), MERCHANT_PASSWORD)
            .await;
        MerchantFixture {
            id,
            owner_token,
            cashier_id: body["id"].as_i64().expect("cashier id"),
            cashier_token,
        }
    }

    /// Publishes `body` for the merchant and, when it waits for review, approves it as
    /// admin; returns the live offer.
    pub async fn active_offer(&self, merchant: &MerchantFixture, body: Value) -> Value {
        let (status, offer) = self
            .post(
                &format!("/api/v1/merchants/{}/offers", merchant.id),
                &merchant.owner_token,
                body,
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "offer refused: {offer}");
        if offer["status"] == "active" {
            return offer;
        }
        let admin = self.admin_token().await;
        let (status, offer) = self
            .post(
                &format!("/api/v1/offers/{}/approve", offer["id"]),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "offer approval failed: {offer}");
        offer
    }

    /// The audit actions recorded for one entity, oldest first.
    pub async fn audit_actions(&self, entity_type: &str, entity_id: i64) -> Vec<String> {
        let entity_type = entity_type.to_owned();
        self.with_conn(move |conn| {
            use diesel::prelude::*;
            use talentcard::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::entity_type.eq(entity_type))
                .filter(a::entity_id.eq(entity_id.to_string()))
                .order(a::id)
                .select(a::action)
                .load::<String>(conn)
                .expect("audit query")
        })
        .await
    }
}
