//! Opening connections: one per backend, with its settings, handed to r2d2 by a manager
//! that remembers whether the database refuses new ones (an outage answers 503 at once).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection};
use diesel::sqlite::SqliteConnection;

use super::{Backend, DatabaseUrl, DbConnection};

/// How long a SQLite writer waits for the lock before giving up with "database is locked".
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5_000;

/// r2d2 manager that dispatches on the URL scheme itself: diesel's generic
/// `MultiConnection::establish` tries every backend in turn, so a mistyped PostgreSQL URL
/// would silently create an empty SQLite file.
#[derive(Debug, Clone)]
pub struct DbManager {
    url: DatabaseUrl,
    pub(super) health: Arc<ConnectHealth>,
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
pub(super) struct ConnectHealth {
    pub(super) failing: AtomicBool,
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
pub(super) struct QuietConnectErrors {
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
pub(super) fn private_sqlite_file(path: &Path) -> anyhow::Result<()> {
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
