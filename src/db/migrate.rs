//! The embedded migrations, per backend, and how they are applied: by the service's own
//! connection, or by the schema's owner, who then grants the service role its share.

use anyhow::{Context, bail};
use diesel::RunQueryDsl;
use diesel::migration::MigrationSource;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use super::{Backend, DatabaseUrl, DbConnection, establish, roles};

pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

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
pub(super) fn migrate_as_owner(owner: &DatabaseUrl, service: &DatabaseUrl) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
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
