//! Moving an installation from the embedded SQLite database to PostgreSQL
//! (`talentcard move-to-postgres`): every row of every table, nothing retyped.
//!
//! The copy is generic over the schema so it never falls behind a new migration: SQLite
//! serialises each batch of rows as one JSON array (`json_object` per row) and
//! PostgreSQL turns it back into typed rows with `json_populate_recordset`, which
//! converts SQLite's text timestamps and 0/1 booleans by the target column types.
//! Tables are copied in foreign-key order (a table after those it references; creation
//! order otherwise: a table SQLite rebuilt is newer than its dependents). Ids are kept, so
//! the audit chain's hashes stay valid; the sequences are moved past the copied ids.

use anyhow::{Context, bail};
use diesel::RunQueryDsl;
use diesel::sql_types::{BigInt, Text};

use crate::db::{self, DatabaseUrl, DbConnection, quote_ident};

const BATCH: i64 = 5_000;

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// A column of a SQLite table: its name and declared type.
#[derive(diesel::QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

#[derive(diesel::QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    rows: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The source's tables, each after the tables its foreign keys reference (a reference to
/// itself aside), in creation order where the references leave a choice.
fn in_reference_order(source: &mut DbConnection) -> anyhow::Result<Vec<String>> {
    let created: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY rowid",
    )
    .load::<Name>(source)?
    .into_iter()
    .map(|n| n.name)
    .collect();
    let mut references = Vec::with_capacity(created.len());
    for table in &created {
        let referenced: Vec<String> = diesel::sql_query(format!(
            "SELECT DISTINCT \"table\" AS name FROM pragma_foreign_key_list('{table}')"
        ))
        .load::<Name>(source)?
        .into_iter()
        .map(|n| n.name)
        .filter(|name| name != table && created.contains(name))
        .collect();
        references.push(referenced);
    }
    let mut ordered: Vec<String> = Vec::with_capacity(created.len());
    while ordered.len() < created.len() {
        let next = created.iter().zip(&references).position(|(table, refs)| {
            !ordered.contains(table) && refs.iter().all(|r| ordered.contains(r))
        });
        match next {
            Some(i) => ordered.push(created[i].clone()),
            None => bail!("the tables' foreign keys reference each other in a cycle"),
        }
    }
    Ok(ordered)
}

/// What was copied, per table.
#[derive(Debug)]
pub struct Report {
    pub tables: Vec<(String, i64)>,
}

/// Copies everything from the SQLite database `from` into the empty PostgreSQL database
/// `to` (migrated first), in one PostgreSQL transaction: all or nothing.
pub fn sqlite_to_postgres(from: &DatabaseUrl, to: &DatabaseUrl) -> anyhow::Result<Report> {
    if from.backend() != db::Backend::Sqlite || to.backend() != db::Backend::Postgres {
        bail!("the move goes from a sqlite:// database to a postgres:// database");
    }
    let mut source = db::establish(from).context("opening the SQLite database")?;
    db::run_migrations(&mut source).context("bringing the SQLite database up to date first")?;
    let mut target = db::establish(to).context("connecting to PostgreSQL")?;
    db::run_migrations(&mut target).context("migrating PostgreSQL")?;
    ensure_empty(&mut target)?;

    let tables = in_reference_order(&mut source)?;

    db::write_tx(&mut target, |target| -> anyhow::Result<Report> {
        let mut report = Report { tables: Vec::new() };
        for table in &tables {
            let ident = quote_ident(table);
            // Rows the migrations themselves insert (e.g. the audit chain head) are
            // replaced by the source's. The append-only triggers of the audit tables are
            // off for this copy only (this transaction; it needs the tables' owner).
            diesel::sql_query(format!("ALTER TABLE {ident} DISABLE TRIGGER USER"))
                .execute(target)?;
            diesel::sql_query(format!("DELETE FROM {ident}")).execute(target)?;
            let columns: Vec<Column> = diesel::sql_query(format!(
                "SELECT name, type AS kind FROM pragma_table_info('{table}')"
            ))
            .load::<Column>(&mut source)?;
            // JSON holds no bytes: a BLOB goes as PostgreSQL's hex form of bytea.
            let object = columns
                .iter()
                .map(|c| {
                    let value = if c.kind.eq_ignore_ascii_case("BLOB") {
                        format!("'\\x' || hex({})", quote_ident(&c.name))
                    } else {
                        quote_ident(&c.name)
                    };
                    format!("'{}', {value}", c.name)
                })
                .collect::<Vec<_>>()
                .join(", ");
            let mut copied = 0;
            loop {
                let batch = diesel::sql_query(format!(
                    "SELECT COALESCE(json_group_array(json_object({object})), '[]') AS rows \
                     FROM (SELECT * FROM {ident} ORDER BY rowid LIMIT {BATCH} OFFSET {copied})"
                ))
                .get_result::<Json>(&mut source)?;
                let inserted = diesel::sql_query(format!(
                    "INSERT INTO {ident} SELECT * FROM json_populate_recordset(NULL::{ident}, $1::json)"
                ))
                .bind::<Text, _>(&batch.rows)
                .execute(target)
                .with_context(|| format!("copying {table}"))? as i64;
                copied += inserted;
                if inserted < BATCH {
                    break;
                }
            }
            // Only integer ids are generated (an import job's id is a UUID in text).
            let generated_id = columns
                .iter()
                .any(|c| c.name == "id" && c.kind.to_ascii_uppercase().contains("INT"));
            if generated_id {
                // Tables whose id is not generated have no sequence: no row, no setval.
                diesel::sql_query(format!(
                    "SELECT setval(seq, GREATEST((SELECT MAX(id) FROM {ident}), 1)) AS n \
                     FROM (SELECT pg_get_serial_sequence('{table}', 'id') AS seq) s WHERE seq IS NOT NULL"
                ))
                .load::<Count>(target)?;
            }
            let source_rows = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {ident}"))
                .get_result::<Count>(&mut source)?;
            if source_rows.n != copied {
                bail!(
                    "{table}: copied {copied} rows but the source has {}",
                    source_rows.n
                );
            }
            diesel::sql_query(format!("ALTER TABLE {ident} ENABLE TRIGGER USER"))
                .execute(target)?;
            report.tables.push((table.clone(), copied));
        }
        Ok(report)
    })
}

/// Refuses to copy into a database that already holds data (other than what the
/// migrations put there).
fn ensure_empty(conn: &mut DbConnection) -> anyhow::Result<()> {
    let users = diesel::sql_query("SELECT COUNT(*) AS n FROM users").get_result::<Count>(conn)?;
    if users.n > 0 {
        bail!("the target database already has accounts; move into an empty database");
    }
    Ok(())
}
