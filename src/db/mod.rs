//! Database access: one code path over PostgreSQL (production) and SQLite (the embedded
//! default), chosen at run time from `DATABASE_URL`.
//!
//! Query functions take `&mut DbConnection`, never the pool, so they compose inside one
//! transaction. Blocking diesel work runs on actix's blocking pool via [`Db::run`].

mod connect;
mod job_lock;
mod lock;
mod migrate;
pub mod roles;
mod subquery;
mod together;
mod url;
pub mod version;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, RunQueryDsl};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use connect::{ConnectHealth, QuietConnectErrors, private_sqlite_file};
pub use connect::{DbManager, establish};
pub use job_lock::job_lock;
pub use lock::ForNoKeyUpdateOf;
use migrate::migrate_as_owner;
pub use migrate::{PG_MIGRATIONS, SQLITE_MIGRATIONS, run_migrations};
pub(crate) use subquery::scalar_subquery;
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

/// Runs a query on the backend's own connection: `direct!(conn, |c| query.first(c))`,
/// with the query expression written once and built for each backend.
///
/// diesel's `MultiConnection` hands a query to the inner connection by rendering its
/// whole SQL text on every execution (twice: for its binds and its cache check), before
/// the prepared-statement cache is even asked; the inner connection finds a statement
/// with a static query id by its type alone. On the counter's hot path that rendering
/// was a tenth of the server's CPU (perf, BENCHMARKS.md), so hot queries run directly.
macro_rules! direct {
    ($conn:expr, |$c:ident| $run:expr) => {
        match $conn {
            $crate::db::DbConnection::Pg($c) => $run,
            $crate::db::DbConnection::Sqlite($c) => $run,
        }
    };
}
pub(crate) use direct;

/// A name quoted as an SQL identifier (same on both backends).
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
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

    /// [`Db::run`] for the counter's quote, which on PostgreSQL is one short statement.
    /// When a pooled connection is idle the work runs here, on the HTTP worker, which
    /// waits out the round trip, instead of being handed to a blocking thread and back:
    /// two thread wake-ups fewer a request, about a sixth of a sale's CPU on the server
    /// and on PostgreSQL alike (BENCHMARKS.md). A worker waiting serves no other request
    /// meanwhile, so there are more workers than cores (`WORKERS`, [`crate::config`]),
    /// and only such short work runs so. When no connection is idle, and on SQLite, it
    /// is [`Db::run`].
    pub async fn run_on_worker<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match self.backend {
            Backend::Postgres => self.on_worker_if_idle(f).await,
            Backend::Sqlite => self.run(f).await,
        }
    }

    /// [`Db::run_on_worker`] for the counter's redemption; on SQLite, whose commits wait
    /// for an fsync, it is [`Db::run_writing`].
    pub async fn run_writing_on_worker<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match self.backend {
            Backend::Postgres => self.on_worker_if_idle(f).await,
            Backend::Sqlite => self.run_writing(f).await,
        }
    }

    async fn on_worker_if_idle<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = wait_turn(&self.turns, Instant::now() + CONNECTION_WAIT).await?;
        match self.pool.try_get() {
            Some(conn) => {
                let _turn = turn;
                on_connection(conn, f)
            }
            None => self.on_blocking_thread(turn, f).await,
        }
    }

    async fn run_until<T, F>(&self, deadline: Instant, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let turn = wait_turn(&self.turns, deadline).await?;
        self.on_blocking_thread(turn, f).await
    }

    /// `f` on a blocking thread with a pooled connection, in the turn already taken.
    async fn on_blocking_thread<T, F>(
        &self,
        turn: OwnedSemaphorePermit,
        f: F,
    ) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        if self.health.failing.load(Ordering::Relaxed) && self.pool.state().idle_connections == 0 {
            return Err(ApiError::ConnectionLost(anyhow::anyhow!(
                "the database refuses new connections"
            )));
        }
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let _turn = turn;
            on_connection(pool.get().map_err(ApiError::from)?, f)
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

/// `f` on a pooled connection, which goes back to the pool unless its link broke.
fn on_connection<T>(
    mut conn: r2d2::PooledConnection<DbManager>,
    f: impl FnOnce(&mut DbConnection) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    let result = f(&mut conn);
    if let Err(ApiError::ConnectionLost(_)) = &result {
        discard_on_return(&mut conn);
    }
    result
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
