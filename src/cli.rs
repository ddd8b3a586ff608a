//! The `talentcard` command line.

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::auth::password::Password;
use crate::auth::{Actor, Role};
use crate::config::Config;
use crate::db::{Db, write_tx};
use crate::secrets::Secrets;
use crate::startup::Application;
use crate::users::{self, Username};

#[derive(Debug, Parser)]
#[command(
    name = "talentcard",
    version,
    about = "遂州英才卡 — talent card merchant benefits platform"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API and the web pages (migrations are applied first).
    Serve {
        /// Load demo accounts and data into an empty database and print the logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit. With MIGRATION_DATABASE_URL they run
    /// as that (owner) role, which then grants DATABASE_URL's role its privileges.
    Migrate,
    /// Break glass: create an administrator or auditor directly, outside dual control.
    /// Only while fewer than two administrators are active (the first one, or a city
    /// locked out); audited as `user.break_glass`. Otherwise propose with POST /users.
    CreateUser {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        username: String,
        /// The password; prefer the TALENTCARD_PASSWORD environment variable, which does
        /// not show up in the process list.
        #[arg(long, env = "TALENTCARD_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Generate the settlements of a period (local month), like POST /settlements/generate.
    Settle {
        /// `YYYY-MM`, e.g. 2026-11.
        #[arg(long)]
        period: String,
    },
    /// Fire real HTTP redemptions at a running server and report throughput and latency.
    /// Seeds its own merchant, offer, budget and cards into the server's database
    /// (same DATABASE_URL and SECRET_KEY_FILE as the server): use a scratch database.
    Loadgen {
        /// The server, e.g. http://127.0.0.1:8080
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// Cards to seed; each gives ten fresh codes per minute.
        #[arg(long, default_value_t = 2_000)]
        cards: usize,
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Pace the requests (sales, with --realistic) to this many per second in total
        /// (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// The realistic counter mix: many merchants and offer shapes, envelopes and a
        /// merchant cap, each sale a quote then a redeem (DESIGN §7).
        #[arg(long)]
        realistic: bool,
        /// Merchants of the realistic mix.
        #[arg(long, default_value_t = 200)]
        merchants: usize,
        /// Print a line per second: throughput and the worst latencies in that second.
        #[arg(long)]
        per_second: bool,
        /// Write every redemption the server acknowledged to this file, one
        /// `id<TAB>idempotency key` per line, for the failover drill to look up.
        #[arg(long)]
        acknowledged: Option<std::path::PathBuf>,
    },
    /// Verify the audit record (chain, signed checkpoints, settlement anchors); exits
    /// with status 1 if it is broken.
    AuditVerify,
    /// Reconcile each budget year and envelope with the redemptions it stands for
    /// (reserved + settled + paid against their subsidy); exits with status 1 if they
    /// differ. Run it on a quiet database: after a failover drill, on a restored backup.
    BudgetVerify,
    /// Print the public keys that verify the audit checkpoints, for an auditor to pin.
    AuditKey,
    /// Verify an audit export (GET /api/v1/audit/export) offline: no database, network
    /// or configuration. Exits 0 with a summary, or 1 naming the first broken entry or
    /// checkpoint (docs/audit-format.md).
    VerifyExport {
        /// The export file (JSON lines).
        file: std::path::PathBuf,
        /// The server's public key you pinned: base64, or a file holding it. Repeat for
        /// keys in use before a rotation.
        #[arg(long = "public-key", required = true)]
        public_keys: Vec<String>,
        /// A witness whose valid signature the latest checkpoint must carry (repeatable).
        #[arg(long = "witness-key")]
        witness_keys: Vec<String>,
    },
    /// Move this installation's SQLite database (DATABASE_URL) into an empty PostgreSQL
    /// database, keeping every row and id; then point DATABASE_URL at PostgreSQL.
    MoveToPostgres {
        /// e.g. postgres://talentcard@db/talentcard
        #[arg(long)]
        target: String,
    },
    /// Benchmarks that print numbers, against a scratch database.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
    /// Add a new signing key and make it current; old keys keep verifying until their
    /// tokens or codes expire (audit keys: forever). Restart the instances afterwards.
    /// Needs a rotation proposal a second admin approved (POST /api/v1/keys/P/rotate),
    /// except as audited break glass while fewer than two admins are active.
    RotateKey {
        /// `jwt` (access tokens), `code` (talents' rolling codes) or `audit`
        /// (checkpoint signatures).
        #[arg(long)]
        purpose: String,
        /// The id of the approved `key.rotate` proposal this carries out.
        #[arg(long)]
        proposal: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Seed N audit entries, then time sealing and verifying the chain.
    Audit {
        /// A database without accounts; it is written to.
        #[arg(long)]
        scratch_database: String,
        #[arg(long, default_value_t = 1_000_000)]
        entries: i64,
    },
    /// Seed N redemptions of one month, then time settlement generation and reports.
    Settlement {
        /// A database without accounts; it is written to.
        #[arg(long)]
        scratch_database: String,
        #[arg(long, default_value_t = 1_000_000)]
        redemptions: i64,
        #[arg(long, default_value_t = 200)]
        merchants: i64,
    },
    /// Seed a realistic month (N redemptions, spread over merchants, cashiers, cards,
    /// days and hours, with a few planted patterns), then time the anomaly scan.
    Anomalies {
        /// A database without accounts; it is written to.
        #[arg(long)]
        scratch_database: String,
        #[arg(long, default_value_t = 1_000_000)]
        redemptions: i64,
        #[arg(long, default_value_t = 200)]
        merchants: i64,
    },
    /// Import a generated list of N talents (check, then the batched job) and time it,
    /// with what a small write waited meanwhile.
    Import {
        /// A database without accounts; it is written to.
        #[arg(long)]
        scratch_database: String,
        #[arg(long, default_value_t = 10_000)]
        rows: u32,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init();
    if let Command::VerifyExport {
        file,
        public_keys,
        witness_keys,
    } = &cli.command
    {
        // Before reading any configuration: this runs on an auditor's own machine.
        return verify_export(file, public_keys, witness_keys);
    }
    let config = Config::from_env()?;
    match cli.command {
        Command::Serve { demo } => serve(config, demo),
        Command::Migrate => {
            let db = Db::migrate_and_connect(
                &config.database_url,
                config.migration_database_url.as_ref(),
                1,
            )?;
            println!("migrations applied ({} database)", db.backend());
            Ok(())
        }
        Command::CreateUser {
            role,
            username,
            password,
        } => {
            let db = Db::migrate_and_connect(
                &config.database_url,
                config.migration_database_url.as_ref(),
                1,
            )?;
            let username =
                Username::parse(&username).map_err(|e| anyhow::anyhow!(e.problem().detail))?;
            let password =
                Password::parse(&password).map_err(|e| anyhow::anyhow!(e.problem().detail))?;
            let hash = users::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let user = write_tx(&mut conn, |conn| {
                crate::proposals::break_glass::create_official(conn, &username, role, hash)
            })
            .map_err(|e| anyhow::anyhow!("{}", e.problem().detail))?;
            crate::audit::seal_pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created {} account {:?} (id {})",
                user.role, user.username, user.id
            );
            Ok(())
        }
        Command::Settle { period } => {
            let period = crate::settlements::Period::parse(&period)
                .map_err(|e| anyhow::anyhow!(e.problem().detail))?;
            let db = Db::migrate_and_connect(
                &config.database_url,
                config.migration_database_url.as_ref(),
                1,
            )?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let secrets = Secrets::load_or_create(&config.secret_key_file)?;
            let vault = crate::talents::PiiVault::new(&secrets);
            let actor = Actor::system("cli");
            let made = write_tx(&mut conn, |conn| {
                // As POST /settlements/generate: scanned first, so held money stays out.
                crate::closing::generate(conn, &vault, &actor, &period, crate::time::now())
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::audit::seal_pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            for s in &made {
                println!(
                    "settlement {} merchant {} run {}: {} lines, subsidy {} fen",
                    s.id, s.merchant_id, s.run, s.line_count, s.subsidy_fen
                );
            }
            println!(
                "{} settlement(s) generated for {}",
                made.len(),
                period.as_str()
            );
            Ok(())
        }
        Command::Loadgen {
            url,
            cards,
            concurrency,
            seconds,
            rate,
            realistic,
            merchants,
            per_second,
            acknowledged,
        } => crate::loadgen::run(
            &config,
            crate::loadgen::Options {
                url,
                cards,
                concurrency,
                duration: std::time::Duration::from_secs(seconds),
                rate,
                realistic,
                merchants,
                per_second,
                acknowledged,
            },
        ),
        Command::AuditVerify => {
            let db = Db::connect(&config.database_url, 1, false)?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let started = std::time::Instant::now();
            let secrets = Secrets::load(&config.secret_key_file)?;
            let report =
                crate::audit::verify(&mut conn, &secrets).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "verified {} entries in {:.2?}",
                report.checked,
                started.elapsed()
            );
            if !report.ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::BudgetVerify => {
            let db = Db::connect(&config.database_url, 1, false)?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let report = crate::budgets::ledger::reconcile(&mut conn)
                .map_err(|e| anyhow::anyhow!("{}", e.problem().detail))?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::VerifyExport { .. } => unreachable!("handled before configuration"),
        Command::AuditKey => {
            let secrets = Secrets::load_or_create(&config.secret_key_file)?;
            let keys = crate::audit::checkpoint_routes::public_keys(&secrets);
            println!("{}", serde_json::to_string_pretty(&keys)?);
            eprintln!(
                "pin it: talentcard verify-export FILE --public-key {}",
                keys.public_key
            );
            Ok(())
        }
        Command::MoveToPostgres { target } => {
            let target = crate::db::DatabaseUrl::parse(&target).map_err(anyhow::Error::msg)?;
            let started = std::time::Instant::now();
            let report = crate::transfer::sqlite_to_postgres(&config.database_url, &target)?;
            for (table, rows) in &report.tables {
                println!("{table:<28} {rows:>10} rows");
            }
            println!(
                "moved to {} in {:.1?}; set DATABASE_URL to it and restart",
                target.redacted(),
                started.elapsed()
            );
            Ok(())
        }
        Command::Bench { which } => match which {
            BenchCommand::Audit {
                scratch_database,
                entries,
            } => {
                let url =
                    crate::db::DatabaseUrl::parse(&scratch_database).map_err(anyhow::Error::msg)?;
                crate::bench::audit(&url, entries)
            }
            BenchCommand::Settlement {
                scratch_database,
                redemptions,
                merchants,
            } => {
                let url =
                    crate::db::DatabaseUrl::parse(&scratch_database).map_err(anyhow::Error::msg)?;
                crate::bench::settlement(&url, redemptions, merchants)
            }
            BenchCommand::Anomalies {
                scratch_database,
                redemptions,
                merchants,
            } => {
                let url =
                    crate::db::DatabaseUrl::parse(&scratch_database).map_err(anyhow::Error::msg)?;
                crate::bench::anomalies(&url, redemptions, merchants)
            }
            BenchCommand::Import {
                scratch_database,
                rows,
            } => {
                let url =
                    crate::db::DatabaseUrl::parse(&scratch_database).map_err(anyhow::Error::msg)?;
                crate::bench::import::run(&url, rows)
            }
        },
        Command::RotateKey { purpose, proposal } => {
            let purpose: crate::proposals::keys::KeyPurpose =
                purpose.parse().map_err(anyhow::Error::msg)?;
            let db = Db::migrate_and_connect(
                &config.database_url,
                config.migration_database_url.as_ref(),
                1,
            )?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut secrets = Secrets::load_or_create(&config.secret_key_file)?;
            let path = config.secret_key_file.clone();
            // The file is written last inside the transaction: a refusal leaves both as
            // they were, and the record commits only once the new key is saved.
            let kid = write_tx(&mut conn, |conn| {
                let kid = crate::proposals::keys::carry_out(
                    conn,
                    &mut secrets,
                    purpose,
                    proposal,
                    crate::time::now(),
                )?;
                secrets
                    .save(&path)
                    .map_err(crate::error::ApiError::internal)?;
                Ok::<_, crate::error::ApiError>(kid)
            })
            .map_err(|e| anyhow::anyhow!("{}", e.problem().detail))?;
            crate::audit::seal_pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "new {} key {kid} is current; restart every instance to use it",
                purpose.as_str()
            );
            Ok(())
        }
    }
}

fn verify_export(
    file: &std::path::Path,
    public_keys: &[String],
    witness_keys: &[String],
) -> anyhow::Result<()> {
    use crate::audit::export;
    let servers = public_keys
        .iter()
        .map(|k| export::read_key_argument(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let witnesses = witness_keys
        .iter()
        .map(|k| export::read_key_argument(k))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let input = std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let started = std::time::Instant::now();
    match export::verify_export(std::io::BufReader::new(input), &servers, &witnesses) {
        Ok(summary) => {
            println!("{}", serde_json::to_string_pretty(&summary)?);
            eprintln!(
                "OK: {} entries ({} payloads withheld), {} checkpoints, {} witness signatures, \
                 {} settlement anchors, from {} to {}; verified in {:.2?}",
                summary.entries,
                summary.withheld,
                summary.checkpoints,
                summary.witnesses,
                summary.settlement_anchors,
                summary.first_at.as_deref().unwrap_or("-"),
                summary.last_at.as_deref().unwrap_or("-"),
                started.elapsed()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!("BROKEN: {e}");
            std::process::exit(1);
        }
    }
}

#[actix_web::main]
async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let (secure, why) = crate::config::cookie_secure(config.cookie_secure_env, demo, &config.bind);
    config.cookie_secure = secure;
    if secure {
        tracing::info!(reason = why, "session cookies are marked Secure");
    } else {
        tracing::warn!(reason = why, "session cookies are NOT marked Secure");
    }
    if config.database_url.backend() == crate::db::Backend::Sqlite {
        crate::config::private_dir(&config.data_dir).context("preparing DATA_DIR")?;
    }
    let app = Application::build(config.clone())?;
    if demo {
        let state = app.state().clone();
        let logins = state
            .db
            .run(move |conn| crate::demo::seed(conn, &state.config))
            .await?;
        crate::demo::print_logins(&logins, app.port());
    }
    tracing::info!(
        port = app.port(),
        database = %config.database_url.redacted(),
        startup_ms = started.elapsed().as_millis() as u64,
        "talentcard listening"
    );
    app.run_until_stopped().await?;
    Ok(())
}
