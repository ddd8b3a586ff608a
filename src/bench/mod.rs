//! Benchmarks that report numbers (they assert nothing): `talentcard bench …`.
//! They write into the database they are given, so they refuse to run unless that
//! database is explicitly named with `--scratch-database`.

use std::time::Instant;

use anyhow::bail;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use crate::db::{self, DatabaseUrl, DbConnection};

pub mod import;
pub mod realistic;

/// Seeds `entries` unsealed audit entries with one set-based statement, then times the
/// sealer linking them, signing checkpoints, the server's verify, the export and the
/// offline `verify-export` of it.
pub fn audit(url: &DatabaseUrl, entries: i64) -> anyhow::Result<()> {
    let mut conn = db::establish(url)?;
    db::run_migrations(&mut conn)?;
    ensure_scratch(&mut conn)?;
    let started = Instant::now();
    seed(&mut conn, entries)?;
    println!("seeded {entries} entries in {:.2?}", started.elapsed());
    let started = Instant::now();
    let sealed = crate::audit::sealer::seal_all(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seal_time = started.elapsed();
    println!(
        "sealed {sealed} entries in {seal_time:.2?} ({:.0} entries/s)",
        sealed as f64 / seal_time.as_secs_f64()
    );
    // A scratch key set: the benchmark signs with keys nobody will ever trust.
    let keys_dir = tempfile_dir()?;
    let secrets = crate::secrets::Secrets::load_or_create(&keys_dir.join("secrets.json"))?;
    let config = crate::config::Config::for_database(url.clone(), keys_dir.clone());
    let sign = |conn: &mut DbConnection| {
        let started = Instant::now();
        let checkpoint = crate::audit::checkpoints::sign(
            conn,
            &secrets,
            &config,
            crate::audit::checkpoints::Reason::Request,
        )
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        anyhow::Ok((checkpoint, started.elapsed()))
    };
    let (checkpoint, took) = sign(&mut conn)?;
    println!(
        "signed a checkpoint over {} entries from scratch in {took:.2?}",
        checkpoint.size
    );
    seed(&mut conn, 1_000)?;
    crate::audit::seal_pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (next, took) = sign(&mut conn)?;
    println!(
        "signed the next checkpoint ({} more entries, from the stored frontier) in {took:.2?}",
        next.size - checkpoint.size
    );
    let started = Instant::now();
    let report = crate::audit::verify(&mut conn, &secrets).map_err(|e| anyhow::anyhow!("{e}"))?;
    let verify_time = started.elapsed();
    println!(
        "server verify: {} entries and {} checkpoints in {verify_time:.2?} ({:.0} entries/s), ok = {}",
        report.checked,
        report.summary.as_ref().map_or(0, |s| s.checkpoints),
        report.checked as f64 / verify_time.as_secs_f64(),
        report.ok
    );
    let file = keys_dir.join("audit-export.jsonl");
    let started = Instant::now();
    let (header, lines) =
        crate::audit::export_routes::prepare(&mut conn, &secrets, &config.audit_log_origin, None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file)?);
    crate::audit::export_routes::write(&mut conn, header, &lines, &mut out)?;
    std::io::Write::flush(&mut out)?;
    let bytes = std::fs::metadata(&file)?.len();
    println!(
        "exported {} entries ({:.0} MB) in {:.2?}",
        next.size,
        bytes as f64 / 1e6,
        started.elapsed()
    );
    let started = Instant::now();
    let summary = crate::audit::export::verify_export(
        std::io::BufReader::new(std::fs::File::open(&file)?),
        &[secrets.audit_keys().current_public()],
        &[],
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "verify-export: {} entries, {} checkpoints in {:.2?} (the bar: 1 000 000 in < 10 s)",
        summary.entries,
        summary.checkpoints,
        started.elapsed()
    );
    std::fs::remove_dir_all(&keys_dir)?;
    Ok(())
}

/// A private directory for the benchmark's keys and export file.
pub(crate) fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("talentcard-bench-{}", uuid::Uuid::new_v4()));
    crate::config::private_dir(&dir)?;
    Ok(dir)
}

/// Inserts `entries` unsealed audit entries in one set-based statement.
fn seed(conn: &mut DbConnection, entries: i64) -> anyhow::Result<()> {
    let series = match conn {
        DbConnection::Pg(_) => "SELECT g AS n FROM generate_series(1, $1) g",
        DbConnection::Sqlite(_) => {
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < $1) SELECT n FROM s"
        }
    };
    diesel::sql_query(format!(
        "INSERT INTO audit_events (at, actor_id, actor, action, entity_type, entity_id, before_json, after_json) \
         SELECT '2026-11-23 12:00:00', 1, 'bench', 'redemption.create', 'redemption', CAST(n AS TEXT), NULL, \
         '{{\"bill_fen\":12800,\"discount_fen\":1280,\"subsidy_fen\":640}}' FROM ({series}) t"
    ))
    .bind::<BigInt, _>(entries)
    .execute(conn)?;
    Ok(())
}

/// Benchmarks only run against a database that has no accounts yet.
pub(crate) fn ensure_scratch(conn: &mut DbConnection) -> anyhow::Result<()> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let users = diesel::sql_query("SELECT COUNT(*) AS n FROM users").get_result::<Count>(conn)?;
    if users.n > 0 {
        bail!("the benchmark database has accounts: use a scratch database");
    }
    Ok(())
}

/// Seeds a realistic November 2026 ([`realistic`]: `redemptions` sales over
/// `merchants` merchants, two cashiers each, 10 000 cards, spread over days and hours),
/// then times settlement generation for the month and the subsidy reports (DESIGN §7:
/// 1 000 000 redemptions settle in < 10 s). Generation here does not scan first: this
/// times settlement alone (`bench anomalies` times the scan).
pub fn settlement(url: &DatabaseUrl, redemptions: i64, merchants: i64) -> anyhow::Result<()> {
    let mut conn = db::establish(url)?;
    db::run_migrations(&mut conn)?;
    ensure_scratch(&mut conn)?;
    let started = Instant::now();
    realistic::seed(&mut conn, merchants, redemptions)?;
    if let DbConnection::Pg(_) = conn {
        diesel::sql_query("ANALYZE").execute(&mut conn)?;
    }
    println!(
        "seeded {redemptions} redemptions over {merchants} merchants in {:.2?}",
        started.elapsed()
    );
    let period =
        crate::settlements::Period::parse("2026-11").map_err(|e| anyhow::anyhow!("{e}"))?;
    let started = Instant::now();
    let made = db::write_tx(&mut conn, |conn| {
        crate::settlements::generate(
            conn,
            &crate::auth::Actor::system("bench"),
            &period,
            crate::time::now(),
        )
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let lines: i64 = made.iter().map(|s| i64::from(s.line_count)).sum();
    println!(
        "generated {} settlements with {lines} lines in {:.2?}",
        made.len(),
        started.elapsed()
    );
    let started = Instant::now();
    let again = db::write_tx(&mut conn, |conn| {
        crate::settlements::generate(
            conn,
            &crate::auth::Actor::system("bench"),
            &period,
            crate::time::now(),
        )
    })
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "a second run found {} new settlements in {:.2?}",
        again.len(),
        started.elapsed()
    );
    for group in ["category", "merchant", "month"] {
        let started = Instant::now();
        let report = crate::reports::subsidy_report(&mut conn, group, None, None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "report by {group}: {} rows, {} redemptions, in {:.2?}",
            report.rows.len(),
            report.total.count,
            started.elapsed()
        );
    }
    Ok(())
}

/// Seeds a realistic month (see [`realistic`]) with a few planted patterns, then times
/// the anomaly scan of the month, and a second scan (refreshing what the first raised).
/// DESIGN §8: 1 000 000 redemptions scan in < 10 s on PostgreSQL.
pub fn anomalies(url: &DatabaseUrl, redemptions: i64, merchants: i64) -> anyhow::Result<()> {
    let mut conn = db::establish(url)?;
    db::run_migrations(&mut conn)?;
    ensure_scratch(&mut conn)?;
    let started = Instant::now();
    let seeded = realistic::seed(&mut conn, merchants, redemptions)?;
    realistic::plant_patterns(&mut conn)?;
    if let DbConnection::Pg(_) = conn {
        diesel::sql_query("ANALYZE").execute(&mut conn)?;
    }
    println!(
        "seeded {} redemptions over {} merchants, {} cashiers and {} cards in {:.2?}",
        seeded.redemptions,
        seeded.merchants,
        seeded.cashiers,
        seeded.cards,
        started.elapsed()
    );
    let dir = tempfile_dir()?;
    let secrets = crate::secrets::Secrets::load_or_create(&dir.join("secrets.json"))?;
    let vault = crate::talents::PiiVault::new(&secrets);
    let period = crate::time::Period::parse("2026-11").map_err(|e| anyhow::anyhow!("{e}"))?;
    let actor = crate::auth::Actor::system("bench");
    let t = crate::anomalies::thresholds::Thresholds::default();
    type RuleFn = fn(
        &mut DbConnection,
        &crate::time::Period,
        &crate::anomalies::thresholds::Thresholds,
    ) -> crate::error::ApiResult<Vec<crate::anomalies::rules::Hit>>;
    use crate::anomalies::rules;
    let each: [(&str, RuleFn); 9] = [
        ("rapid_repeat", rules::rapid_repeat),
        ("cashier_burst", rules::cashier_burst),
        ("min_spend_bunching", rules::min_spend_bunching),
        ("round_bills", rules::round_bills),
        ("peer_outlier", rules::peer_outlier),
        ("reversal_ratio", rules::reversal_ratio),
        ("card_velocity", rules::card_velocity),
        ("off_hours", rules::off_hours),
        ("reissue_churn", rules::reissue_churn),
    ];
    for (name, rule) in each {
        let started = Instant::now();
        let hits = rule(&mut conn, &period, &t).map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("  {name}: {} hits in {:.2?}", hits.len(), started.elapsed());
    }
    let started = Instant::now();
    let hits =
        rules::staff_redemption(&mut conn, &period, &vault).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "  staff_redemption: {} hits in {:.2?}",
        hits.len(),
        started.elapsed()
    );
    for run in ["first scan", "second scan"] {
        let started = Instant::now();
        let report = db::write_tx(&mut conn, |conn| {
            crate::anomalies::scan::scan(conn, &vault, &actor, &period, crate::time::now())
        })
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "{run}: {:.2?} — raised {}, refreshed {}; open flags by rule: {:?}",
            started.elapsed(),
            report.raised,
            report.refreshed,
            report.open_by_rule
        );
    }
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
