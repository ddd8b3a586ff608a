//! Configuration from environment variables, with safe defaults: with nothing set the
//! service uses an SQLite file under `./data/` and listens on 127.0.0.1:8080 only.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::db::{Backend, DatabaseUrl};
use crate::http::client::{Cidr, parse_cidrs};

/// Whether session cookies are `Secure`, and why (the reason is logged at start).
///
/// Secure by default: a session cookie sent over plain HTTP can be read on the wire.
/// The exceptions are where plain HTTP is the point and nothing crosses a network: the
/// demo, and a server listening on a loopback address only. An explicit
/// `COOKIE_SECURE` wins (`true` behind a TLS proxy on the same host, which listens on
/// loopback).
pub fn cookie_secure(explicit: Option<bool>, demo: bool, bind: &str) -> (bool, &'static str) {
    match explicit {
        Some(true) => (true, "COOKIE_SECURE=true"),
        Some(false) => (false, "COOKIE_SECURE=false"),
        None if demo => (false, "serve --demo runs over plain HTTP"),
        None if binds_loopback_only(bind) => (
            false,
            "the server listens on a loopback address only (set COOKIE_SECURE=true behind a TLS proxy)",
        ),
        None => (true, "default"),
    }
}

/// `BIND` names a loopback host (`127.0.0.1:8080`, `[::1]:8080`, `localhost:8080`).
fn binds_loopback_only(bind: &str) -> bool {
    let host = bind
        .rsplit_once(':')
        .map_or(bind, |(host, _port)| host)
        .trim_start_matches('[')
        .trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    /// PostgreSQL only: the schema owner's URL (`MIGRATION_DATABASE_URL`). When set,
    /// migrations run over it and `database_url` is the service's restricted role (see
    /// `db::roles`); when unset, `database_url` migrates and serves.
    pub migration_database_url: Option<DatabaseUrl>,
    /// Optional read replica for reports; falls back to `database_url`.
    pub replica_database_url: Option<DatabaseUrl>,
    pub bind: String,
    pub data_dir: PathBuf,
    pub secret_key_file: PathBuf,
    pub db_pool_size: u32,
    pub workers: usize,
    /// Login password checks running at once (`PASSWORD_CHECKS_AT_ONCE`): each holds
    /// argon2's 19 MiB while it runs.
    pub password_checks_at_once: usize,
    /// Lifetime of an access token; short so a stolen token is worth little.
    pub token_ttl: Duration,
    /// Set the `Secure` flag on the session cookie: on unless `COOKIE_SECURE=false`,
    /// `serve --demo` or a loopback-only listener (see [`cookie_secure`]).
    pub cookie_secure: bool,
    /// `COOKIE_SECURE` as set, if it was: an explicit choice beats the defaults.
    pub cookie_secure_env: Option<bool>,
    /// Proxies whose `X-Forwarded-For` hop names the client (`TRUSTED_PROXIES`,
    /// comma-separated addresses or CIDR blocks); empty: the TCP peer is the client.
    pub trusted_proxies: Vec<Cidr>,
    /// Maximum JSON request body.
    pub json_limit_bytes: usize,
    /// How often the audit sealer links newly committed entries into the chain.
    pub audit_seal_interval: Duration,
    /// The longest the log may grow without a signed checkpoint (DESIGN §9: hourly).
    pub audit_checkpoint_interval: Duration,
    /// The first line of every checkpoint text: names this log (C2SP tlog-checkpoint).
    pub audit_log_origin: String,
    /// Default validity of a newly issued card, in years (`CARD_VALIDITY_YEARS`).
    pub card_validity_years: u32,
    /// Districts a merchant may name (`DISTRICTS`, comma-separated).
    pub districts: Vec<String>,
    /// The message gateway's webhook (`NOTIFY_WEBHOOK_URL`): every redemption is posted
    /// to it for the holder's SMS or WeChat notice. Plain http to a relay inside the
    /// deployment (deploy/nginx.conf shows one that carries it on over TLS). Unset: none.
    pub notify_webhook_url: Option<String>,
}

/// Creates `dir` (and its parents) as 0700, or tightens an existing one that others
/// can read: it holds the secrets, the SQLite database and the demo logins.
pub fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::fs::{DirBuilder, Permissions};
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let mode = std::fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0 {
        // A read-only mount (a Kubernetes secret) cannot be changed and is the
        // operator's to protect: say so rather than refuse to start.
        match std::fs::set_permissions(dir, Permissions::from_mode(0o700)) {
            Ok(()) => tracing::info!(dir = %dir.display(), "data directory made private (0700)"),
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "data directory is readable by others")
            }
        }
    }
    Ok(())
}

/// The districts of 遂州 when `DISTRICTS` is not set.
pub const DEFAULT_DISTRICTS: &str = "船山区,安居区,射洪市,蓬溪县,大英县,经开区,高新区";

/// Names the audit log in checkpoint texts; a deployment may set its own (e.g. its
/// public host and path), since an origin is only meaningful with the log's key.
pub const DEFAULT_AUDIT_LOG_ORIGIN: &str = "suizhou-talentcard/audit-log";

/// An origin is one non-empty line of printable text (it is the first line of a
/// signed checkpoint).
fn parse_origin(raw: String) -> anyhow::Result<String> {
    let origin = raw.trim().to_owned();
    if origin.is_empty() || origin.chars().any(char::is_control) {
        anyhow::bail!("AUDIT_LOG_ORIGIN must be one non-empty line of text");
    }
    Ok(origin)
}

fn parse_districts(raw: &str) -> anyhow::Result<Vec<String>> {
    let mut districts: Vec<String> = raw
        .split([',', '，'])
        .map(|d| d.trim().to_owned())
        .filter(|d| !d.is_empty())
        .collect();
    districts.dedup();
    if districts.is_empty() {
        bail!("DISTRICTS must name at least one district");
    }
    Ok(districts)
}

/// A separate migration role needs PostgreSQL roles: with SQLite (either URL) anything
/// but the same URL is refused rather than ignored, since the operator meant something
/// by it that SQLite cannot give.
fn check_migration_url(
    database: &DatabaseUrl,
    migration: Option<&DatabaseUrl>,
) -> anyhow::Result<()> {
    match migration {
        Some(migration)
            if migration != database
                && (database.backend() == Backend::Sqlite
                    || migration.backend() == Backend::Sqlite) =>
        {
            bail!(
                "MIGRATION_DATABASE_URL ({}) differs from DATABASE_URL ({}): a separate \
                 migration role is for PostgreSQL; with SQLite leave MIGRATION_DATABASE_URL unset",
                migration.redacted(),
                database.redacted()
            )
        }
        _ => Ok(()),
    }
}

fn env_opt(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match env_opt(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|e| anyhow::anyhow!("{name}={v:?} is not valid: {e}")),
    }
}

fn env_bool(name: &str, default: bool) -> anyhow::Result<bool> {
    match env_opt(name).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(v) => bail!("{name}={v:?} is not a boolean (true/false)"),
    }
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let data_dir = PathBuf::from(env_opt("DATA_DIR").unwrap_or_else(|| "data".into()));
        let database_url = match env_opt("DATABASE_URL") {
            Some(raw) => DatabaseUrl::parse(&raw).map_err(anyhow::Error::msg)?,
            None => DatabaseUrl::sqlite(&data_dir.join("talentcard.db")),
        };
        let migration_database_url = env_opt("MIGRATION_DATABASE_URL")
            .map(|raw| DatabaseUrl::parse(&raw).map_err(anyhow::Error::msg))
            .transpose()
            .context("MIGRATION_DATABASE_URL")?;
        check_migration_url(&database_url, migration_database_url.as_ref())?;
        let replica_database_url = env_opt("REPLICA_DATABASE_URL")
            .map(|raw| DatabaseUrl::parse(&raw).map_err(anyhow::Error::msg))
            .transpose()
            .context("REPLICA_DATABASE_URL")?;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let default_pool = match database_url.backend() {
            // Four per core: on two cores, 16 connections only contended with each other —
            // the counter mix at half load had a redeem p99 of 26–28 ms with 16 against
            // 13 ms with 8, at the same throughput (BENCHMARKS.md).
            Backend::Postgres => u32::try_from(4 * cores).unwrap_or(u32::MAX),
            // SQLite has one writer at a time; more connections only queue on its lock.
            Backend::Sqlite => 8,
        };
        let secret_key_file = env_opt("SECRET_KEY_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("secrets.json"));
        let bind = env_opt("BIND").unwrap_or_else(|| "127.0.0.1:8080".into());
        let cookie_secure_env = match env_opt("COOKIE_SECURE") {
            None => None,
            Some(_) => Some(env_bool("COOKIE_SECURE", true)?),
        };
        let trusted_proxies = parse_cidrs(&env_opt("TRUSTED_PROXIES").unwrap_or_default())
            .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?;
        let config = Config {
            database_url,
            migration_database_url,
            replica_database_url,
            cookie_secure: cookie_secure(cookie_secure_env, false, &bind).0,
            cookie_secure_env,
            trusted_proxies,
            bind,
            data_dir,
            secret_key_file,
            db_pool_size: env_parse("DB_POOL_SIZE", default_pool)?,
            // Two a core: the counter's statements run on the workers, each waiting out
            // its round trip to PostgreSQL while the other of its core's pair serves
            // (see `Db::run_on_worker`).
            workers: env_parse("WORKERS", 2 * cores)?,
            password_checks_at_once: env_parse("PASSWORD_CHECKS_AT_ONCE", 1)?,
            token_ttl: Duration::from_secs(env_parse("TOKEN_TTL_SECS", 15 * 60)?),
            json_limit_bytes: env_parse("JSON_LIMIT_BYTES", 64 * 1024)?,
            audit_seal_interval: Duration::from_millis(env_parse("AUDIT_SEAL_INTERVAL_MS", 1000)?),
            audit_checkpoint_interval: Duration::from_secs(env_parse(
                "AUDIT_CHECKPOINT_INTERVAL_SECS",
                3600,
            )?),
            audit_log_origin: parse_origin(
                env_opt("AUDIT_LOG_ORIGIN").unwrap_or_else(|| DEFAULT_AUDIT_LOG_ORIGIN.into()),
            )?,
            card_validity_years: env_parse("CARD_VALIDITY_YEARS", 3)?,
            districts: parse_districts(
                &env_opt("DISTRICTS").unwrap_or_else(|| DEFAULT_DISTRICTS.into()),
            )?,
            notify_webhook_url: env_opt("NOTIFY_WEBHOOK_URL"),
        };
        if let Some(url) = &config.notify_webhook_url
            && !url.starts_with("http://")
        {
            bail!(
                "NOTIFY_WEBHOOK_URL must be an http:// URL of a relay inside the deployment (see deploy/nginx.conf)"
            );
        }
        if !(1..=20).contains(&config.card_validity_years) {
            bail!("CARD_VALIDITY_YEARS must be between 1 and 20");
        }
        if config.db_pool_size == 0 {
            bail!("DB_POOL_SIZE must be at least 1");
        }
        if !(1..=64).contains(&config.password_checks_at_once) {
            bail!("PASSWORD_CHECKS_AT_ONCE must be between 1 and 64");
        }
        if config.token_ttl < Duration::from_secs(60)
            || config.token_ttl > Duration::from_secs(12 * 3600)
        {
            bail!("TOKEN_TTL_SECS must be between 60 and 43200");
        }
        Ok(config)
    }

    /// A configuration for tests and tools: everything explicit, nothing from the environment.
    pub fn for_database(database_url: DatabaseUrl, data_dir: PathBuf) -> Self {
        Config {
            secret_key_file: data_dir.join("secrets.json"),
            database_url,
            migration_database_url: None,
            replica_database_url: None,
            bind: "127.0.0.1:0".into(),
            data_dir,
            db_pool_size: 8,
            workers: 2,
            password_checks_at_once: 1,
            token_ttl: Duration::from_secs(15 * 60),
            // Tests listen on loopback: what `cookie_secure` decides for that.
            cookie_secure: false,
            cookie_secure_env: None,
            trusted_proxies: Vec::new(),
            json_limit_bytes: 64 * 1024,
            audit_seal_interval: Duration::from_millis(200),
            audit_checkpoint_interval: Duration::from_secs(3600),
            audit_log_origin: DEFAULT_AUDIT_LOG_ORIGIN.into(),
            card_validity_years: 3,
            districts: parse_districts(DEFAULT_DISTRICTS).expect("default districts are valid"),
            notify_webhook_url: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::{check_migration_url, cookie_secure, private_dir};
    use crate::db::DatabaseUrl;

    fn mode(path: &std::path::Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn data_dir_is_created_private_and_an_open_one_is_tightened() {
        let base = tempfile::tempdir().unwrap();
        let fresh = base.path().join("a/data");
        private_dir(&fresh).unwrap();
        assert_eq!(mode(&fresh), 0o700);
        let open = base.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&open).unwrap();
        assert_eq!(mode(&open), 0o700);
    }

    #[test]
    fn session_cookies_are_secure_unless_demo_or_loopback_only() {
        assert!(cookie_secure(None, false, "0.0.0.0:8080").0);
        assert!(cookie_secure(None, false, "[::]:8080").0);
        assert!(cookie_secure(None, false, "10.0.0.5:8080").0);
        assert!(!cookie_secure(None, true, "0.0.0.0:8080").0);
        assert!(!cookie_secure(None, false, "127.0.0.1:8080").0);
        assert!(!cookie_secure(None, false, "[::1]:8080").0);
        assert!(!cookie_secure(None, false, "localhost:8080").0);
        // An explicit setting wins both ways.
        assert!(cookie_secure(Some(true), true, "127.0.0.1:8080").0);
        assert!(!cookie_secure(Some(false), false, "0.0.0.0:8080").0);
    }

    #[test]
    fn a_separate_migration_role_is_postgresql_only() {
        let url = |raw: &str| DatabaseUrl::parse(raw).unwrap();
        let pg = url("postgres://service@db/tc");
        let owner = url("postgres://owner:secret@db/tc");
        let sqlite = url("sqlite://data/tc.db");
        assert!(check_migration_url(&pg, None).is_ok());
        assert!(check_migration_url(&pg, Some(&owner)).is_ok());
        assert!(check_migration_url(&sqlite, Some(&sqlite)).is_ok());
        let refused = check_migration_url(&sqlite, Some(&owner))
            .unwrap_err()
            .to_string();
        assert!(refused.contains("MIGRATION_DATABASE_URL"), "{refused}");
        assert!(
            !refused.contains("secret"),
            "the password leaked: {refused}"
        );
        assert!(check_migration_url(&pg, Some(&url("sqlite://data/other.db"))).is_err());
    }
}
