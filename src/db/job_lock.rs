//! Named locks held until the transaction ends, for jobs that must run one at a time
//! across instances (settlement generation, audit sealing).

use diesel::prelude::*;

use super::DbConnection;
use crate::error::ApiResult;
use crate::schema::job_locks;

/// Takes a named lock row until the transaction ends: one holder at a time across
/// instances (PostgreSQL row lock; SQLite's write lock already serialises).
pub fn job_lock(conn: &mut DbConnection, name: &str) -> ApiResult<()> {
    let now = crate::time::now();
    let locked = diesel::update(job_locks::table.find(name))
        .set(job_locks::locked_at.eq(now))
        .execute(conn)?;
    if locked == 1 {
        return Ok(());
    }
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(job_locks::table)
            .values((job_locks::name.eq(name), job_locks::locked_at.eq(now)))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(()),
        // Someone created it first: wait for their lock like everyone else.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {
            diesel::update(job_locks::table.find(name))
                .set(job_locks::locked_at.eq(now))
                .execute(conn)?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
