//! Money an open high anomaly flag holds (DESIGN §8): generation leaves it out, and
//! approval refuses a settlement that contains it. Read straight from the flag tables,
//! so settlement needs nothing of the anomaly module itself.

use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::schema::{anomaly_flag_redemptions, anomaly_flags};

/// SQL condition: redemption `r` is held by an open high flag. Settlement generation
/// leaves such redemptions out, like disputed ones.
pub const HELD: &str = "EXISTS (SELECT 1 FROM anomaly_flag_redemptions fr \
     JOIN anomaly_flags f ON f.id = fr.flag_id \
     WHERE fr.redemption_id = r.id AND f.status = 'open' AND f.severity = 'high')";

/// Open high flags covering any redemption of a settlement's active lines: approving it
/// would pay out held money.
pub fn holds_on_settlement(conn: &mut DbConnection, settlement_id: i64) -> ApiResult<Vec<i64>> {
    use crate::schema::settlement_lines;
    Ok(anomaly_flags::table
        .inner_join(anomaly_flag_redemptions::table)
        .filter(anomaly_flags::status.eq("open"))
        .filter(anomaly_flags::severity.eq("high"))
        .filter(
            anomaly_flag_redemptions::redemption_id.eq_any(
                settlement_lines::table
                    .filter(settlement_lines::settlement_id.eq(settlement_id))
                    .filter(settlement_lines::active.eq(true))
                    .filter(settlement_lines::kind.eq("redemption"))
                    .select(settlement_lines::redemption_id),
            ),
        )
        .select(anomaly_flags::id)
        .distinct()
        .order(anomaly_flags::id)
        .load(conn)?)
}

/// What a period's settlement run left out, and why: sales held by open high alerts and
/// sales under dispute (each settles in a later run once decided), beside the sales
/// already in a settlement. So an official who pressed "generate" learns why fewer (or
/// no) settlements appeared.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct LeftOut {
    /// Sales held back by an open high-severity alert.
    pub held_count: i64,
    pub held_subsidy_fen: i64,
    /// Sales a talent disputes, waiting for an official's decision.
    pub disputed_count: i64,
    pub disputed_subsidy_fen: i64,
    /// Sales of the period already in a settlement of an earlier run.
    pub settled_before_count: i64,
}

/// [`LeftOut`] for `period` (`YYYY-MM`), as things stand now.
pub fn left_out(conn: &mut DbConnection, period: &str) -> ApiResult<LeftOut> {
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = BigInt)]
        held_count: i64,
        #[diesel(sql_type = BigInt)]
        held_subsidy_fen: i64,
        #[diesel(sql_type = BigInt)]
        disputed_count: i64,
        #[diesel(sql_type = BigInt)]
        disputed_subsidy_fen: i64,
        #[diesel(sql_type = BigInt)]
        settled_before_count: i64,
    }
    let in_settlement = "EXISTS (SELECT 1 FROM settlement_lines l WHERE l.redemption_id = r.id \
                         AND l.kind = 'redemption' AND l.active)";
    let row: Row = diesel::sql_query(format!(
        "SELECT \
           CAST(COALESCE(SUM(CASE WHEN NOT {in_settlement} AND NOT r.disputed AND {HELD} THEN 1 ELSE 0 END), 0) AS BIGINT) AS held_count, \
           CAST(COALESCE(SUM(CASE WHEN NOT {in_settlement} AND NOT r.disputed AND {HELD} THEN r.subsidy_fen ELSE 0 END), 0) AS BIGINT) AS held_subsidy_fen, \
           CAST(COALESCE(SUM(CASE WHEN NOT {in_settlement} AND r.disputed THEN 1 ELSE 0 END), 0) AS BIGINT) AS disputed_count, \
           CAST(COALESCE(SUM(CASE WHEN NOT {in_settlement} AND r.disputed THEN r.subsidy_fen ELSE 0 END), 0) AS BIGINT) AS disputed_subsidy_fen, \
           CAST(COALESCE(SUM(CASE WHEN {in_settlement} THEN 1 ELSE 0 END), 0) AS BIGINT) AS settled_before_count \
         FROM redemptions r WHERE r.period = $1 AND r.status = 'active'"
    ))
    .bind::<Text, _>(period)
    .get_result(conn)?;
    Ok(LeftOut {
        held_count: row.held_count,
        held_subsidy_fen: row.held_subsidy_fen,
        disputed_count: row.disputed_count,
        disputed_subsidy_fen: row.disputed_subsidy_fen,
        settled_before_count: row.settled_before_count,
    })
}
