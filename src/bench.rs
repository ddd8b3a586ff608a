//! Benchmarks that report numbers (they assert nothing): `talentcard bench …`.
//! They write into the database they are given, so they refuse to run unless that
//! database is explicitly named with `--scratch-database`.

use std::time::Instant;

use anyhow::bail;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;

use crate::db::{self, DatabaseUrl, DbConnection};

/// Seeds `entries` unsealed audit entries with one set-based statement, then times the
/// sealer linking them and `verify` walking them.
pub fn audit(url: &DatabaseUrl, entries: i64) -> anyhow::Result<()> {
    let mut conn = db::establish(url)?;
    db::run_migrations(&mut conn)?;
    ensure_scratch(&mut conn)?;
    let started = Instant::now();
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
    .execute(&mut conn)?;
    println!("seeded {entries} entries in {:.2?}", started.elapsed());
    let started = Instant::now();
    let sealed = crate::audit::seal_pending(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    let seal_time = started.elapsed();
    println!(
        "sealed {sealed} entries in {seal_time:.2?} ({:.0} entries/s)",
        sealed as f64 / seal_time.as_secs_f64()
    );
    let started = Instant::now();
    let report = crate::audit::verify(&mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
    let verify_time = started.elapsed();
    println!(
        "verified {} entries in {verify_time:.2?} ({:.0} entries/s), ok = {}",
        report.checked,
        report.checked as f64 / verify_time.as_secs_f64(),
        report.ok
    );
    Ok(())
}

/// Benchmarks only run against a database that has no accounts yet.
fn ensure_scratch(conn: &mut DbConnection) -> anyhow::Result<()> {
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
