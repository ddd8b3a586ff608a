//! Least privilege for the service's own PostgreSQL role.
//!
//! Migrations run as the schema's owner (`MIGRATION_DATABASE_URL`); the service connects
//! as another role (`DATABASE_URL`) that may append to the audit tables and read them,
//! nothing more. Only a table's owner may `ALTER TABLE … DISABLE TRIGGER`, so the audit
//! log's append-only triggers then hold against the service itself, and the grants below
//! keep `UPDATE`, `DELETE` and `TRUNCATE` away from it even with the triggers gone.
//!
//! The grants are read off the catalogue at every start, after migrating, so a table a
//! later migration adds is covered without anyone remembering to grant it; running them
//! again changes nothing.

use anyhow::Context;
use diesel::connection::SimpleConnection;
use diesel::sql_types::{Bool, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::{DbConnection, quote_ident};

/// Tables whose name starts with this are the audit log: read and append, nothing more.
pub const AUDIT_TABLE_PREFIX: &str = "audit_";
/// diesel's record of applied migrations: the service may read it, only the owner writes.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

const AUDIT_GRANTS: &str = "SELECT, INSERT";
/// Everything a table privilege can add beyond [`AUDIT_GRANTS`], revoked in case an
/// operator granted `ALL` before (a table-level REVOKE also drops column grants).
const AUDIT_REVOKES: &str = "UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER";
const TABLE_GRANTS: &str = "SELECT, INSERT, UPDATE, DELETE";
const MIGRATIONS_REVOKES: &str = "INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER";

/// Serialises the grants of instances that start together: concurrent GRANTs on one
/// object fail with "tuple concurrently updated". (An arbitrary constant, "tcgrants".)
const GRANT_LOCK_KEY: i64 = 0x7463_6772_616e_7473;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// The role a connection acts as (`current_user`).
pub fn current_role(conn: &mut DbConnection) -> anyhow::Result<String> {
    let row: Name = diesel::sql_query("SELECT current_user::text AS name")
        .get_result(conn)
        .context("asking the database for the current role")?;
    Ok(row.name)
}

/// Grants `service_role` what the service needs on the schema `owner` migrated, and no
/// more on the audit tables: `SELECT, INSERT` on every `audit_*` table (revoking the
/// rest, from the role and from PUBLIC), `SELECT` on diesel's migrations table,
/// `SELECT, INSERT, UPDATE, DELETE` on every other table, `USAGE, SELECT` on the
/// sequences and `USAGE` on the schema. One transaction: all or nothing.
pub fn grant_service_role(owner: &mut DbConnection, service_role: &str) -> anyhow::Result<()> {
    let role = quote_ident(service_role);
    owner
        .transaction(|conn| -> anyhow::Result<()> {
            diesel::sql_query(format!("SELECT pg_advisory_xact_lock({GRANT_LOCK_KEY})"))
                .execute(conn)?;
            let schema: Name =
                diesel::sql_query("SELECT current_schema()::text AS name").get_result(conn)?;
            let schema = quote_ident(&schema.name);
            let tables: Vec<Name> = diesel::sql_query(
                "SELECT tablename::text AS name FROM pg_tables \
                 WHERE schemaname = current_schema() ORDER BY tablename",
            )
            .load(conn)?;
            let mut sql = format!("GRANT USAGE ON SCHEMA {schema} TO {role};\n");
            for Name { name } in &tables {
                let table = format!("{schema}.{}", quote_ident(name));
                if name.starts_with(AUDIT_TABLE_PREFIX) {
                    sql += &format!(
                        "REVOKE {AUDIT_REVOKES} ON {table} FROM {role}, PUBLIC;\n\
                         GRANT {AUDIT_GRANTS} ON {table} TO {role};\n"
                    );
                } else if name == MIGRATIONS_TABLE {
                    sql += &format!(
                        "REVOKE {MIGRATIONS_REVOKES} ON {table} FROM {role};\n\
                         GRANT SELECT ON {table} TO {role};\n"
                    );
                } else {
                    sql += &format!("GRANT {TABLE_GRANTS} ON {table} TO {role};\n");
                }
            }
            sql += &format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role};");
            conn.batch_execute(&sql)?;
            Ok(())
        })
        .with_context(|| format!("granting the service role {service_role:?} its privileges"))
}

/// Why the connection's role could rewrite the audit log behind its triggers (it is a
/// superuser, it owns the audit tables or acts as their owner, or it holds `UPDATE`,
/// `DELETE` or `TRUNCATE` on one), or `None` when it can only read and append.
pub fn audit_rewrite_risk(conn: &mut DbConnection) -> anyhow::Result<Option<&'static str>> {
    #[derive(QueryableByName)]
    struct Risk {
        #[diesel(sql_type = Bool)]
        superuser: bool,
        #[diesel(sql_type = Bool)]
        owner: bool,
        #[diesel(sql_type = Bool)]
        rewrites: bool,
    }
    // `pg_has_role(…, 'USAGE')` is also true for a member of the owning role, who may
    // disable triggers just like the owner.
    let risk: Risk = diesel::sql_query(format!(
        "SELECT COALESCE((SELECT rolsuper FROM pg_roles WHERE rolname = current_user), false) \
                AS superuser, \
            COALESCE(bool_or(pg_has_role(current_user, t.tableowner, 'USAGE')), false) AS owner, \
            COALESCE(bool_or(has_table_privilege(format('%I.%I', t.schemaname, t.tablename), \
                'UPDATE, DELETE, TRUNCATE')), false) AS rewrites \
         FROM pg_tables t \
         WHERE t.schemaname = current_schema() AND starts_with(t.tablename, '{AUDIT_TABLE_PREFIX}')"
    ))
    .get_result(conn)
    .context("checking the service role's privileges on the audit tables")?;
    Ok(if risk.superuser {
        Some("is a superuser")
    } else if risk.owner {
        Some("owns the audit tables")
    } else if risk.rewrites {
        Some("may UPDATE, DELETE or TRUNCATE audit tables")
    } else {
        None
    })
}
