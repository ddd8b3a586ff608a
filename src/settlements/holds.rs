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
