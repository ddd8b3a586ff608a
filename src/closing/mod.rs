//! Closing a month: the anomaly scan first, then settlement generation — so what an open
//! high flag holds stays out of the settlements (DESIGN §8). Both `POST
//! /settlements/generate` and `talentcard settle` close a month this way. It sits above
//! both modules so that neither needs the other.

pub mod routes;

use chrono::NaiveDateTime;

use crate::auth::Actor;
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::settlements::Settlement;
use crate::talents::PiiVault;
use crate::time::Period;

/// Scans `period`, then generates its settlements; run inside a write transaction.
pub fn generate(
    conn: &mut DbConnection,
    vault: &PiiVault,
    actor: &Actor,
    period: &Period,
    now: NaiveDateTime,
) -> ApiResult<Vec<Settlement>> {
    crate::anomalies::scan::scan(conn, vault, actor, period, now)?;
    crate::settlements::generate(conn, actor, period, now)
}
