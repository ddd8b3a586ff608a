//! Database access: one code path over PostgreSQL (production) and SQLite (the embedded
//! default), chosen at run time from `DATABASE_URL`.
//!
//! Query functions take `&mut DbConnection`, never the pool, so they compose inside one
//! transaction. Blocking diesel work runs on actix's blocking pool via [`Db::run`].

mod job_lock;
mod lock;
pub mod roles;
mod together;
mod url;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

pub use job_lock::job_lock;
pub use lock::ForNoKeyUpdateOf;
pub use together::{InOneStatement, SelectOne};
pub use url::{Backend, DatabaseUrl};

use crate::error::{ApiError, ApiResult};

diesel::define_sql_function! {
    /// PostgreSQL: true on a standby (or a primary still recovering).
    fn pg_is_in_recovery() -> diesel::sql_types::Bool;
}

/// One connection type for both backends; where they differ we branch on the variant.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// How long a SQLite writer waits for the lock before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// r2d2 manager that dispatches on the URL scheme itself: diesel's generic
/// `MultiConnection::establish` tries every backend in turn, so a mistyped PostgreSQL URL
/// would silently create an empty SQLite file.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
    health: Arc<ConnectHealth>,
}

impl DbManager {
    pub fn new(url: DatabaseUrl) -> Self {
        Self {
            url,
            health: Arc::default(),
        }
    }
}

/// Whether the last attempt to open a connection failed. While it did and no idle
/// connection is left, requests are refused at once with a 503 instead of each waiting
/// out the pool's time-out: an outage answers fast, and the pool's own background
/// reconnects (with back-off) clear the flag as soon as the database is back.
#[derive(Debug, Default)]
struct ConnectHealth {
    failing: AtomicBool,
}

impl ManageConnection for DbManager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        let result = establish(&self.url);
        self.health
            .failing
            .store(result.is_err(), Ordering::Relaxed);
        result.map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        r2d2::R2D2Connection::is_broken(conn)
    }
}

/// The pool's background reconnects fail many times a second while the database is
/// away (a failover, a restart); one warning every few seconds says so, with how many
/// failed since, instead of an ERROR line for each.
#[derive(Debug, Default)]
struct QuietConnectErrors {
    last: std::sync::Mutex<Option<(std::time::Instant, u64)>>,
}

const CONNECT_ERROR_EVERY: Duration = Duration::from_secs(5);

impl r2d2::HandleError<r2d2::Error> for QuietConnectErrors {
    fn handle_error(&self, error: r2d2::Error) {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match last.as_mut() {
            Some((at, suppressed)) if at.elapsed() < CONNECT_ERROR_EVERY => *suppressed += 1,
            _ => {
                let suppressed = last.map_or(0, |(_, n)| n);
                tracing::warn!(error = %error, failed_since_last_warning = suppressed, "cannot open a database connection");
                *last = Some((std::time::Instant::now(), 0));
            }
        }
    }
}

/// Opens one connection and applies the per-connection settings.
pub fn establish(url: &DatabaseUrl) -> diesel::ConnectionResult<DbConnection> {
    match url.backend() {
        Backend::Postgres => Ok(DbConnection::Pg(PgConnection::establish(url.as_str())?)),
        Backend::Sqlite => {
            let mut conn = SqliteConnection::establish(url.sqlite_path())?;
            // WAL lets readers run beside the writer; foreign keys are off by default in
            // SQLite. FULL syncs the WAL at every commit: NORMAL survives a crash of the
            // process but may lose the last acknowledged redemptions on power loss.
            conn.batch_execute(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; \
                 PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}; PRAGMA synchronous = {};",
                sqlite_synchronous()
            ))
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))?;
            Ok(DbConnection::Sqlite(conn))
        }
    }
}

/// `SQLITE_SYNCHRONOUS=normal` trades the last commits before a power loss for speed
/// (BENCHMARKS.md has the price); anything else, or nothing, is FULL.
fn sqlite_synchronous() -> &'static str {
    static SETTING: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();
    SETTING.get_or_init(|| match std::env::var("SQLITE_SYNCHRONOUS") {
        Ok(v) if v.trim().eq_ignore_ascii_case("normal") => {
            tracing::warn!("SQLITE_SYNCHRONOUS=normal: a power loss may lose the last commits");
            "NORMAL"
        }
        _ => "FULL",
    })
}

/// The SQLite file holds bank accounts, password hashes and the audit log: it is created
/// (or tightened) to mode 0600 before SQLite opens it, so its `-wal` and `-shm` files,
/// which SQLite creates with the database file's mode, are private too. A directory we
/// create for it is 0700.
fn private_sqlite_file(path: &Path) -> anyhow::Result<()> {
    use std::fs::{self, DirBuilder, OpenOptions, Permissions};
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    for suffix in ["", "-wal", "-shm"] {
        let file = PathBuf::from(format!("{}{suffix}", path.display()));
        let Ok(meta) = fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&file, Permissions::from_mode(0o600))
                .with_context(|| format!("making {} private", file.display()))?;
        }
    }
    Ok(())
}

/// A name quoted as an SQL identifier (same on both backends).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Applies the embedded migrations of the connection's backend. Safe to run repeatedly.
pub fn run_migrations(conn: &mut DbConnection) -> anyhow::Result<usize> {
    let source = match conn {
        DbConnection::Pg(_) => PG_MIGRATIONS,
        DbConnection::Sqlite(_) => SQLITE_MIGRATIONS,
    };
    if all_applied(conn, &source)? {
        return Ok(0);
    }
    let applied = conn.run_pending_migrations(source).map_err(|e| {
        let e = e.to_string();
        let hint = if e.contains("permission denied") || e.contains("must be owner") {
            " (a restricted service role cannot migrate: run `talentcard migrate` with \
             MIGRATION_DATABASE_URL set to the schema owner)"
        } else {
            ""
        };
        anyhow::anyhow!("applying migrations: {e}{hint}")
    })?;
    Ok(applied.len())
}

/// Migrates over `owner` and, when `service` connects as another role, grants that role
/// its privileges (see [`roles::grant_service_role`]).
fn migrate_as_owner(owner: &DatabaseUrl, service: &DatabaseUrl) -> anyhow::Result<()> {
    if owner.backend() != Backend::Postgres || service.backend() != Backend::Postgres {
        bail!(
            "MIGRATION_DATABASE_URL separates the schema's owner from the service's role, \
             which only PostgreSQL has: with SQLite leave it unset"
        );
    }
    let mut owner_conn = establish(owner)
        .with_context(|| format!("connecting to {} (migrations)", owner.redacted()))?;
    let applied = run_migrations(&mut owner_conn)?;
    let owner_role = roles::current_role(&mut owner_conn)?;
    tracing::info!(applied, owner = %owner.redacted(), role = %owner_role, "database migrated as the owner");
    let mut service_conn =
        establish(service).with_context(|| format!("connecting to {}", service.redacted()))?;
    let service_role = roles::current_role(&mut service_conn)?;
    if service_role != owner_role {
        roles::grant_service_role(&mut owner_conn, &service_role)?;
        tracing::info!(role = %service_role, "service role granted its privileges");
    }
    Ok(())
}

/// Whether every embedded migration is recorded as applied. Asked here rather than
/// through diesel's harness, which first runs `CREATE TABLE IF NOT EXISTS
/// __diesel_schema_migrations`: PostgreSQL refuses that to a role without CREATE on the
/// schema even when the table exists, and such a service role (see [`roles`]) must
/// still start once the owner has migrated.
fn all_applied(conn: &mut DbConnection, source: &EmbeddedMigrations) -> anyhow::Result<bool> {
    #[derive(diesel::QueryableByName)]
    struct Present {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        present: bool,
    }
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let present = match conn {
        DbConnection::Pg(_) => {
            "SELECT to_regclass('__diesel_schema_migrations') IS NOT NULL AS present"
        }
        DbConnection::Sqlite(_) => {
            "SELECT EXISTS (SELECT 1 FROM sqlite_master \
             WHERE type = 'table' AND name = '__diesel_schema_migrations') AS present"
        }
    };
    let present: Present = diesel::sql_query(present)
        .get_result(conn)
        .context("looking for the migrations table")?;
    if !present.present {
        return Ok(false);
    }
    let applied: std::collections::HashSet<String> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Version>(conn)
            .context("reading the applied migrations")?
            .into_iter()
            .map(|v| v.version)
            .collect();
    // The backend parameter only picks an impl: the names are the same for both.
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(source)
        .map_err(|e| anyhow::anyhow!("listing the embedded migrations: {e}"))?;
    Ok(embedded
        .iter()
        .all(|m| applied.contains(&m.name().version().to_string())))
}

/// Runs `f` inside a write transaction.
///
/// On SQLite the transaction starts with `BEGIN IMMEDIATE`: a deferred transaction that
/// later upgrades to a writer fails with SQLITE_BUSY at once, whatever the busy timeout,
/// when another writer got there first. Nested calls inside `f` become savepoints.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(sqlite) = conn else {
        return conn.transaction(f);
    };
    let already_in_tx = matches!(
        AnsiTransactionManager::transaction_manager_status_mut(sqlite).transaction_depth(),
        Ok(Some(_))
    );
    if already_in_tx {
        return conn.transaction(f);
    }
    AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            // The original error matters more than a failed rollback; the connection is
            // marked broken by diesel in that case and r2d2 discards it.
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// How long a request waits for a pooled connection before it is refused with a 503.
const CONNECTION_WAIT: Duration = Duration::from_secs(5);

/// The connection pool plus the backend it talks to.
#[derive(Clone)]
pub struct Db {
    pool: r2d2::Pool<DbManager>,
    backend: Backend,
    health: Arc<ConnectHealth>,
    /// One per pooled connection: requests queue for a connection here, on the async
    /// workers, rather than each parking a blocking thread on the pool's condition
    /// variable (every such wait is two more context switches per request).
    turns: Arc<Semaphore>,
    /// SQLite only: its writers queue here, in order, before taking a connection.
    /// SQLite has one writer at a time, and a connection that finds the write lock taken
    /// sleeps and polls (`busy_timeout`), so under load some writers kept losing the race
    /// for over a second. The file lock still guards correctness (several processes may
    /// share a file); this queue only makes one server's writers take turns fairly.
    sqlite_writers: Option<Arc<Semaphore>>,
}

impl Db {
    /// Builds the pool. Migrations are applied first on a dedicated connection so a
    /// half-migrated schema is never served.
    pub fn connect(url: &DatabaseUrl, pool_size: u32, migrate: bool) -> anyhow::Result<Self> {
        if url.backend() == Backend::Sqlite {
            private_sqlite_file(Path::new(url.sqlite_path()))?;
        }
        let mut conn =
            establish(url).with_context(|| format!("connecting to {}", url.redacted()))?;
        if migrate {
            let applied = run_migrations(&mut conn)?;
            if applied > 0 {
                tracing::info!(applied, "database migrations applied");
            }
        }
        drop(conn);
        Self::pool(url, pool_size, false)
    }

    /// A pool that does not need its database up at start: the reports' replica, which
    /// may be down or not yet made while the primary serves (reports then read from the
    /// primary, [`crate::state::AppState::read_reports`]). Connections come as it appears.
    pub fn connect_lazily(url: &DatabaseUrl, pool_size: u32) -> anyhow::Result<Self> {
        Self::pool(url, pool_size, true)
    }

    fn pool(url: &DatabaseUrl, pool_size: u32, lazily: bool) -> anyhow::Result<Self> {
        let manager = DbManager::new(url.clone());
        let health = manager.health.clone();
        let builder = r2d2::Pool::builder()
            .error_handler(Box::new(QuietConnectErrors::default()))
            .max_size(pool_size)
            .connection_timeout(CONNECTION_WAIT)
            // A `SELECT 1` on every checkout doubled the round trips of a short request;
            // broken connections are still detected (`has_broken`) and errors map to 503.
            .test_on_check_out(false);
        let pool = if lazily {
            builder.build_unchecked(manager)
        } else {
            builder
                .build(manager)
                .context("building the connection pool")?
        };
        Ok(Self {
            pool,
            backend: url.backend(),
            health,
            turns: Arc::new(Semaphore::new(pool_size as usize)),
            sqlite_writers: (url.backend() == Backend::Sqlite).then(|| Arc::new(Semaphore::new(1))),
        })
    }

    /// The service's pool after migrating. With `owner` (`MIGRATION_DATABASE_URL`,
    /// PostgreSQL only) the migrations run over that connection, as the schema's owner,
    /// which then grants `url`'s role what the service needs and nothing more on the
    /// audit log (see [`roles`]); without it `url` migrates itself, as before. Warns once
    /// when the service's role could rewrite the audit log anyway.
    pub fn migrate_and_connect(
        url: &DatabaseUrl,
        owner: Option<&DatabaseUrl>,
        pool_size: u32,
    ) -> anyhow::Result<Self> {
        let db = match owner.filter(|owner| *owner != url) {
            None => Self::connect(url, pool_size, true)?,
            Some(owner) => {
                migrate_as_owner(owner, url)?;
                Self::connect(url, pool_size, false)?
            }
        };
        if db.backend == Backend::Postgres {
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            if let Some(risk) = roles::audit_rewrite_risk(&mut conn)? {
                tracing::warn!(
                    role = %roles::current_role(&mut conn)?,
                    risk,
                    "the service's database role can rewrite the audit log, which is then \
                     protected only by its triggers; run migrations as a separate owner role \
                     (MIGRATION_DATABASE_URL): see deploy/README.md, \"Database roles\""
                );
            }
        }
        Ok(db)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A pooled connection for synchronous callers (CLI, background jobs in blocking threads).
    pub fn get(&self) -> Result<r2d2::PooledConnection<DbManager>, ApiError> {
        self.pool.get().map_err(ApiError::from)
    }

    /// Runs blocking database work off the async workers.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_until(Instant::now() + CONNECTION_WAIT, f).await
    }

    /// [`Db::run`] for work that writes: on SQLite it first waits its turn among this
    /// server's writers (see `sqlite_writers`), within the same 5 s.
    pub async fn run_writing<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let deadline = Instant::now() + CONNECTION_WAIT;
        let _writer_turn = match &self.sqlite_writers {
            Some(writers) => Some(wait_turn(writers, deadline).await?),
            None => None,
        };
        self.run_until(deadline, f).await
    }

    async fn run_until<T, F>(&self, deadline: Instant, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = wait_turn(&self.turns, deadline).await?;
        if self.health.failing.load(Ordering::Relaxed) && self.pool.state().idle_connections == 0 {
            return Err(ApiError::ConnectionLost(anyhow::anyhow!(
                "the database refuses new connections"
            )));
        }
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let _turn = turn;
            let mut conn = pool.get().map_err(ApiError::from)?;
            let result = f(&mut conn);
            if let Err(ApiError::ConnectionLost(_)) = &result {
                discard_on_return(&mut conn);
            }
            result
        })
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("blocking task failed: {e}")))?
    }

    /// Like [`Db::run_writing`] inside a write transaction (see [`write_tx`]).
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        self.run_writing(move |conn| write_tx(conn, f)).await
    }

    /// Readiness probe: can we reach the database right now, and take writes there? A
    /// PostgreSQL server in recovery (a standby, a demoted primary) answers reads but
    /// refuses every redemption: not ready, and its connection is dropped.
    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| {
            let writable = match conn {
                DbConnection::Pg(_) => {
                    !diesel::select(pg_is_in_recovery()).get_result::<bool>(conn)?
                }
                DbConnection::Sqlite(_) => {
                    diesel::sql_query("SELECT 1").execute(conn)?;
                    true
                }
            };
            if writable {
                Ok(())
            } else {
                Err(ApiError::ConnectionLost(anyhow::anyhow!(
                    "the database server is a standby (in recovery): it takes no writes"
                )))
            }
        })
        .await
    }
}

/// Marks a connection whose link broke so that the pool drops it when it comes back
/// (diesel only reports a connection broken when a transaction failed to close), and
/// the next request gets a fresh one instead of the same dead socket.
fn discard_on_return(conn: &mut DbConnection) {
    match conn {
        DbConnection::Pg(pg) => {
            AnsiTransactionManager::transaction_manager_status_mut(pg).set_in_error()
        }
        DbConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::transaction_manager_status_mut(sqlite).set_in_error()
        }
    }
}

/// A permit of `queue`, or a 503 once `deadline` has passed.
async fn wait_turn(queue: &Arc<Semaphore>, deadline: Instant) -> ApiResult<OwnedSemaphorePermit> {
    let busy = || ApiError::unavailable("The database is busy; retry the request.");
    tokio::time::timeout_at(deadline, queue.clone().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())
}

#[cfg(test)]
mod upgrade_tests {
    use diesel::migration::MigrationSource;
    use diesel::prelude::*;
    use diesel::sqlite::{Sqlite, SqliteConnection};
    use diesel_migrations::MigrationHarness;

    use super::SQLITE_MIGRATIONS;

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    fn count(conn: &mut SqliteConnection, sql: &str) -> i64 {
        diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
    }

    /// The family-cards migration rebuilds `talents` on SQLite (foreign keys off, its
    /// own transaction): a database with talents, cards and logins comes through whole,
    /// its references intact and foreign keys enforced again.
    #[test]
    fn the_talents_rebuild_keeps_a_populated_database_whole() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        diesel::sql_query("PRAGMA foreign_keys = ON")
            .execute(&mut conn)
            .unwrap();
        let all = MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS).unwrap();
        let rebuild = all
            .iter()
            .position(|m| m.name().to_string().contains("family_cards"))
            .expect("the family cards migration");
        // What `run_pending_migrations` would create first.
        diesel::sql_query(
            "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        )
        .execute(&mut conn)
        .unwrap();
        for migration in &all[..rebuild] {
            conn.run_migration(migration).unwrap();
        }
        diesel::sql_query(
            "INSERT INTO talents (name, id_number_enc, id_number_index, id_number_masked, phone_enc, \
             phone_index, phone_masked, employer, tier, created_at, updated_at) VALUES \
             ('甲', 'e1', 'i1', 'm1', 'p1', 'x1', 'q1', '', 'A', '2026-01-01 00:00:00', '2026-01-01 00:00:00'), \
             ('乙', 'e2', 'i2', 'm2', 'p2', 'x2', 'q2', '', 'B', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
        .execute(&mut conn)
        .unwrap();
        diesel::sql_query(
            "INSERT INTO cards (card_no, talent_id, tier, status, issued_at, expires_at, \
             status_changed_at, created_at, updated_at) VALUES \
             ('100000000001', 2, 'B', 'active', '2026-01-01 00:00:00', '2030-01-01 00:00:00', \
              '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
        .execute(&mut conn)
        .unwrap();

        conn.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();

        assert_eq!(count(&mut conn, "SELECT COUNT(*) AS n FROM talents"), 2);
        assert_eq!(
            count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM cards c JOIN talents t ON t.id = c.talent_id WHERE t.name = '乙'"
            ),
            1
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT COUNT(*) AS n FROM pragma_foreign_key_check"
            ),
            0
        );
        assert_eq!(
            count(
                &mut conn,
                "SELECT foreign_keys AS n FROM pragma_foreign_keys"
            ),
            1
        );
        // New ids continue after the old ones, and the rules came along.
        let refused = diesel::sql_query(
            "INSERT INTO cards (card_no, talent_id, tier, status, issued_at, expires_at, \
             status_changed_at, created_at, updated_at) VALUES \
             ('100000000002', 99, 'B', 'active', '2026-01-01 00:00:00', '2030-01-01 00:00:00', \
              '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
        .execute(&mut conn);
        assert!(refused.is_err(), "a card of no talent is refused");
        let phoneless_talent = diesel::sql_query(
            "INSERT INTO talents (name, id_number_enc, id_number_index, id_number_masked, employer, \
             tier, created_at, updated_at) VALUES ('丙', 'e3', 'i3', 'm3', '', 'A', \
             '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
        )
        .execute(&mut conn);
        assert!(
            phoneless_talent.is_err(),
            "only a family member may lack a phone"
        );
        diesel::sql_query(
            "INSERT INTO talents (name, id_number_enc, id_number_index, id_number_masked, employer, \
             tier, created_at, updated_at, principal_id, relation) VALUES ('丙', 'e3', 'i3', 'm3', '', \
             'A', '2026-01-01 00:00:00', '2026-01-01 00:00:00', 1, 'child')",
        )
        .execute(&mut conn)
        .unwrap();
        assert_eq!(count(&mut conn, "SELECT MAX(id) AS n FROM talents"), 3);
    }
}
