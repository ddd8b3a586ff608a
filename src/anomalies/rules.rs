//! The ten rules of DESIGN §8, each one set-based query over a period's redemptions
//! (window functions and joins; the application only groups the rows it gets back).
//! A query returns one row per redemption a flag covers, tagged with the flag's subject
//! and the numbers its evidence needs.

use std::collections::BTreeMap;

use diesel::QueryableByName;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use super::thresholds::Thresholds;
use super::{Rule, Severity};
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::talents::{Field, Phone, PiiVault};
use crate::time::Period;

/// One flag's worth of findings, before it is stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub rule: Rule,
    pub severity: Severity,
    pub subject: String,
    pub merchant_id: Option<i64>,
    pub staff_id: Option<i64>,
    pub card_id: Option<i64>,
    /// Sorted, without repeats.
    pub redemption_ids: Vec<i64>,
    pub evidence: serde_json::Value,
}

/// A covered redemption as a rule's query returns it. `high` marks rows that make the
/// flag high; `n1`–`n4` carry the subject's numbers (the same on each of its rows).
#[derive(Debug, QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<BigInt>)]
    redemption_id: Option<i64>,
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    merchant_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    staff_id: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    card_id: Option<i64>,
    #[diesel(sql_type = BigInt)]
    high: i64,
    #[diesel(sql_type = BigInt)]
    n1: i64,
    #[diesel(sql_type = BigInt)]
    n2: i64,
    #[diesel(sql_type = BigInt)]
    n3: i64,
    #[diesel(sql_type = BigInt)]
    n4: i64,
}

/// The SQL that differs between the backends: seconds since the epoch of a stored UTC
/// timestamp, and its hour in Asia/Shanghai (UTC+8 all year).
struct Dialect {
    postgres: bool,
}

impl Dialect {
    fn of(conn: &DbConnection) -> Self {
        Dialect {
            postgres: matches!(conn, DbConnection::Pg(_)),
        }
    }

    fn epoch(&self, col: &str) -> String {
        if self.postgres {
            format!("CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)")
        } else {
            format!("CAST(strftime('%s', {col}) AS INTEGER)")
        }
    }

    fn local_hour(&self, col: &str) -> String {
        if self.postgres {
            format!("CAST(EXTRACT(HOUR FROM {col} + INTERVAL '8 hours') AS BIGINT)")
        } else {
            format!("CAST(strftime('%H', {col}, '+8 hours') AS INTEGER)")
        }
    }
}

const NULL_ID: &str = "CAST(NULL AS BIGINT)";

fn rows(conn: &mut DbConnection, sql: &str, period: &Period) -> ApiResult<Vec<Row>> {
    Ok(diesel::sql_query(sql)
        .bind::<Text, _>(period.as_str())
        .load::<Row>(conn)?)
}

/// Groups rows by subject into hits; `evidence` turns a subject's first row (and its
/// row count) into the evidence, `severity` decides from whether any row is high.
fn group(
    rule: Rule,
    rows: Vec<Row>,
    severity: impl Fn(bool) -> Severity,
    evidence: impl Fn(&Row, usize) -> serde_json::Value,
) -> Vec<Hit> {
    let mut by_subject: BTreeMap<String, Vec<Row>> = BTreeMap::new();
    for row in rows {
        by_subject.entry(row.subject.clone()).or_default().push(row);
    }
    by_subject
        .into_values()
        .map(|rows| {
            let mut ids: Vec<i64> = rows.iter().filter_map(|r| r.redemption_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let first = &rows[0];
            Hit {
                rule,
                severity: severity(rows.iter().any(|r| r.high != 0)),
                subject: first.subject.clone(),
                merchant_id: first.merchant_id,
                staff_id: first.staff_id,
                card_id: first.card_id,
                evidence: evidence(first, ids.len()),
                redemption_ids: ids,
            }
        })
        .collect()
}

/// The period's live redemptions with their time in seconds, as a CTE named `r`.
fn live(d: &Dialect) -> String {
    format!(
        "r AS (SELECT id, merchant_id, cashier_id, card_id, talent_id, offer_id, district, category, \
         bill_fen, subsidy_fen, created_at, {} AS t FROM redemptions WHERE period = $1 AND status = 'active')",
        d.epoch("created_at")
    )
}

/// `rapid_repeat`: one card at one merchant `count` times within the window; high when
/// `high_count` fall within one window. Covers the redemptions of those windows.
pub fn rapid_repeat(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let (n, h, w) = (
        t.rapid_repeat_count,
        t.rapid_repeat_high_count,
        t.rapid_repeat_window_secs,
    );
    let sql = format!(
        "WITH {live}, \
         w AS (SELECT id, card_id, merchant_id, t, \
                 ROW_NUMBER() OVER (PARTITION BY card_id, merchant_id ORDER BY t, id) AS rn, \
                 LEAD(t, {n_back}) OVER (PARTITION BY card_id, merchant_id ORDER BY t, id) AS nth_t, \
                 LEAD(t, {h_back}) OVER (PARTITION BY card_id, merchant_id ORDER BY t, id) AS hth_t \
               FROM r), \
         starts AS (SELECT card_id, merchant_id, rn, \
                      CASE WHEN hth_t IS NOT NULL AND hth_t - t <= {w} THEN 1 ELSE 0 END AS high \
                    FROM w WHERE nth_t IS NOT NULL AND nth_t - t <= {w}) \
         SELECT w.id AS redemption_id, 'card:' || w.card_id || '|merchant:' || w.merchant_id AS subject, \
                w.merchant_id, {NULL_ID} AS staff_id, w.card_id, CAST(MAX(s.high) AS BIGINT) AS high, \
                CAST(0 AS BIGINT) AS n1, CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM w JOIN starts s ON s.card_id = w.card_id AND s.merchant_id = w.merchant_id \
              AND w.rn BETWEEN s.rn AND s.rn + {n_back} \
         GROUP BY w.id, w.card_id, w.merchant_id",
        live = live(&d),
        n_back = n - 1,
        h_back = h - 1,
    );
    Ok(group(
        Rule::RapidRepeat,
        rows(conn, &sql, p)?,
        |high| {
            if high {
                Severity::High
            } else {
                Severity::Medium
            }
        },
        |_, count| serde_json::json!({"redemptions": count, "window_minutes": w / 60}),
    ))
}

/// `cashier_burst`: `cards` distinct cards by one staff account within the window.
/// Windows with that many redemptions at all are found first (a window frame), and only
/// those are counted card by card.
pub fn cashier_burst(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let (k, w) = (t.cashier_burst_cards, t.cashier_burst_window_secs);
    let sql = format!(
        "WITH {live}, \
         c AS (SELECT id, cashier_id, t, COUNT(*) OVER (PARTITION BY cashier_id ORDER BY t \
                 RANGE BETWEEN CURRENT ROW AND {w} FOLLOWING) AS n FROM r), \
         starts AS (SELECT a.id, a.cashier_id, a.t, COUNT(DISTINCT b.card_id) AS cards \
                    FROM c a JOIN r b ON b.cashier_id = a.cashier_id AND b.t >= a.t AND b.t <= a.t + {w} \
                    WHERE a.n >= {k} GROUP BY a.id, a.cashier_id, a.t HAVING COUNT(DISTINCT b.card_id) >= {k}) \
         SELECT b.id AS redemption_id, 'staff:' || b.cashier_id AS subject, b.merchant_id, \
                b.cashier_id AS staff_id, {NULL_ID} AS card_id, CAST(1 AS BIGINT) AS high, \
                CAST(MAX(s.cards) AS BIGINT) AS n1, CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM starts s JOIN r b ON b.cashier_id = s.cashier_id AND b.t >= s.t AND b.t <= s.t + {w} \
         GROUP BY b.id, b.cashier_id, b.merchant_id",
        live = live(&d),
    );
    let rows = rows(conn, &sql, p)?;
    // The most distinct cards any one window of this staff account held.
    let mut most: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        let m = most.entry(r.subject.clone()).or_default();
        *m = (*m).max(r.n1);
    }
    Ok(group(
        Rule::CashierBurst,
        rows,
        |_| Severity::High,
        |first, count| {
            serde_json::json!({
                "redemptions": count,
                "most_cards_in_window": most.get(&first.subject).copied().unwrap_or(first.n1),
                "window_minutes": w / 60,
            })
        },
    ))
}

/// `min_spend_bunching`: a merchant whose bills on offers with a minimum spend sit just
/// above it (within the band) far more often than chance. Covers the bunched bills;
/// evidence compares with the other merchants of its category.
pub fn min_spend_bunching(
    conn: &mut DbConnection,
    p: &Period,
    t: &Thresholds,
) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let band = t.bunching_band_bp;
    let sql = format!(
        "WITH {live}, \
         m AS (SELECT r.id, r.merchant_id, r.category, r.bill_fen, o.min_spend_fen AS ms, \
                 CASE WHEN r.bill_fen >= o.min_spend_fen AND r.bill_fen * 10000 <= o.min_spend_fen * (10000 + {band}) \
                      THEN 1 ELSE 0 END AS bunched \
               FROM r JOIN offers o ON o.id = r.offer_id WHERE o.min_spend_fen > 0), \
         a AS (SELECT merchant_id, category, COUNT(*) AS total, SUM(bunched) AS bunched, \
                 MIN(ms) AS low, MAX(ms) AS high_ms FROM m GROUP BY merchant_id, category), \
         cat AS (SELECT category, SUM(total) AS total, SUM(bunched) AS bunched FROM a GROUP BY category) \
         SELECT m.id AS redemption_id, 'merchant:' || m.merchant_id AS subject, m.merchant_id, \
                {NULL_ID} AS staff_id, {NULL_ID} AS card_id, \
                CAST(CASE WHEN a.bunched * 10000 >= a.total * {high} THEN 1 ELSE 0 END AS BIGINT) AS high, \
                CAST(a.bunched AS BIGINT) AS n1, CAST(a.total AS BIGINT) AS n2, \
                CAST(cat.bunched - a.bunched AS BIGINT) AS n3, CAST(cat.total - a.total AS BIGINT) AS n4 \
         FROM m JOIN a ON a.merchant_id = m.merchant_id JOIN cat ON cat.category = a.category \
         WHERE a.total >= {min} AND a.bunched * 10000 >= a.total * {share} AND m.bunched = 1",
        live = live(&d),
        high = t.bunching_high_share_bp,
        min = t.bunching_min_redemptions,
        share = t.bunching_share_bp,
    );
    Ok(group(
        Rule::MinSpendBunching,
        rows(conn, &sql, p)?,
        |high| {
            if high {
                Severity::High
            } else {
                Severity::Medium
            }
        },
        |r, _| {
            serde_json::json!({
                "bunched": r.n1,
                "of": r.n2,
                "band_bp": band,
                "peers_bunched": r.n3,
                "peers_of": r.n4,
            })
        },
    ))
}

/// `round_bills`: a merchant whose bills are almost all whole multiples of the unit.
pub fn round_bills(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let unit = t.round_bill_unit_fen;
    let sql = format!(
        "WITH {live}, \
         a AS (SELECT merchant_id, COUNT(*) AS total, \
                 SUM(CASE WHEN bill_fen % {unit} = 0 THEN 1 ELSE 0 END) AS round FROM r GROUP BY merchant_id) \
         SELECT r.id AS redemption_id, 'merchant:' || r.merchant_id AS subject, r.merchant_id, \
                {NULL_ID} AS staff_id, {NULL_ID} AS card_id, CAST(0 AS BIGINT) AS high, \
                CAST(a.round AS BIGINT) AS n1, CAST(a.total AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM r JOIN a ON a.merchant_id = r.merchant_id \
         WHERE a.total >= {min} AND a.round * 10000 >= a.total * {share} AND r.bill_fen % {unit} = 0",
        live = live(&d),
        min = t.round_min_redemptions,
        share = t.round_share_bp,
    );
    Ok(group(
        Rule::RoundBills,
        rows(conn, &sql, p)?,
        |_| Severity::Medium,
        |r, _| serde_json::json!({"round": r.n1, "of": r.n2, "unit_fen": unit}),
    ))
}

#[derive(Debug, QueryableByName)]
struct MerchantSubsidy {
    #[diesel(sql_type = BigInt)]
    merchant_id: i64,
    #[diesel(sql_type = Text)]
    category: String,
    #[diesel(sql_type = BigInt)]
    subsidy_fen: i64,
}

fn median(mut values: Vec<i64>) -> i64 {
    values.sort_unstable();
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2
    }
}

/// `peer_outlier`: a merchant's subsidy far above the median of the other merchants of
/// its category that had redemptions in the period. A flag about volume: it covers no
/// single redemption, so it holds nothing; its evidence is the comparison.
pub fn peer_outlier(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let totals: Vec<MerchantSubsidy> = diesel::sql_query(
        "SELECT merchant_id, category, CAST(SUM(subsidy_fen) AS BIGINT) AS subsidy_fen \
         FROM redemptions WHERE period = $1 AND status = 'active' GROUP BY merchant_id, category",
    )
    .bind::<Text, _>(p.as_str())
    .load(conn)?;
    let mut by_category: BTreeMap<&str, Vec<&MerchantSubsidy>> = BTreeMap::new();
    for m in &totals {
        by_category.entry(&m.category).or_default().push(m);
    }
    let mut hits = Vec::new();
    for members in by_category.values() {
        for m in members {
            let peers: Vec<i64> = members
                .iter()
                .filter(|o| o.merchant_id != m.merchant_id)
                .map(|o| o.subsidy_fen)
                .collect();
            if (peers.len() as i64) < t.peer_min_peers {
                continue;
            }
            let median = median(peers.clone());
            if m.subsidy_fen > t.peer_multiple * median && m.subsidy_fen > t.peer_min_subsidy_fen {
                hits.push(Hit {
                    rule: Rule::PeerOutlier,
                    severity: Severity::Medium,
                    subject: format!("merchant:{}", m.merchant_id),
                    merchant_id: Some(m.merchant_id),
                    staff_id: None,
                    card_id: None,
                    redemption_ids: Vec::new(),
                    evidence: serde_json::json!({
                        "subsidy_fen": m.subsidy_fen,
                        "peer_median_fen": median,
                        "peers": peers.len(),
                        "category": m.category,
                        "multiple": t.peer_multiple,
                    }),
                });
            }
        }
    }
    Ok(hits)
}

#[derive(Debug, QueryableByName)]
struct ContactPhone {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    contact_phone: String,
}

/// `staff_redemption`: a talent whose phone is the merchant's contact phone or one of
/// its staff accounts' — someone redeeming at their own counter. Phones are compared by
/// blind index; the merchants' contact phones are indexed here, once per merchant.
pub fn staff_redemption(
    conn: &mut DbConnection,
    p: &Period,
    vault: &PiiVault,
) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let contacts: Vec<ContactPhone> = diesel::sql_query(
        "SELECT id, contact_phone FROM merchants WHERE id IN (SELECT DISTINCT merchant_id FROM redemptions WHERE period = $1)",
    )
    .bind::<Text, _>(p.as_str())
    .load(conn)?;
    // Hex digests and integer ids only: safe to write into the statement.
    let values: Vec<String> = contacts
        .iter()
        .filter_map(|c| {
            let phone = Phone::parse(&c.contact_phone).ok()?;
            Some(format!(
                "({}, '{}')",
                c.id,
                vault.blind_index(Field::Phone, phone.as_str())
            ))
        })
        .collect();
    let contact_match = if values.is_empty() {
        "SELECT CAST(NULL AS BIGINT), CAST(NULL AS TEXT) WHERE 1 = 0".to_owned()
    } else {
        format!("VALUES {}", values.join(", "))
    };
    let sql = format!(
        "WITH {live}, mp(merchant_id, idx) AS ({contact_match}), \
         staff AS (SELECT id AS staff_id, merchant_id, phone_index AS idx FROM users \
                   WHERE merchant_id IS NOT NULL AND phone_index IS NOT NULL) \
         SELECT r.id AS redemption_id, 'merchant:' || r.merchant_id || '|talent:' || r.talent_id AS subject, \
                r.merchant_id, s.staff_id, r.card_id, CAST(1 AS BIGINT) AS high, \
                CAST(CASE WHEN mp.merchant_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS n1, \
                CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM r JOIN talents tl ON tl.id = r.talent_id \
         LEFT JOIN mp ON mp.merchant_id = r.merchant_id AND mp.idx = tl.phone_index \
         LEFT JOIN staff s ON s.merchant_id = r.merchant_id AND s.idx = tl.phone_index \
         WHERE mp.merchant_id IS NOT NULL OR s.staff_id IS NOT NULL",
        live = live(&d),
    );
    Ok(group(
        Rule::StaffRedemption,
        rows(conn, &sql, p)?,
        |_| Severity::High,
        |r, count| {
            serde_json::json!({
                "redemptions": count,
                "matches": if r.n1 == 1 { "merchant_contact_phone" } else { "staff_phone" },
                "staff_id": r.staff_id,
            })
        },
    ))
}

/// `reversal_ratio`: a staff account whose redemptions are reversed unusually often.
/// Covers the reversed ones.
pub fn reversal_ratio(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let sql = format!(
        "WITH a AS (SELECT cashier_id, COUNT(*) AS total, \
                      SUM(CASE WHEN status = 'reversed' THEN 1 ELSE 0 END) AS reversed \
                    FROM redemptions WHERE period = $1 GROUP BY cashier_id) \
         SELECT r.id AS redemption_id, 'staff:' || r.cashier_id AS subject, r.merchant_id, \
                r.cashier_id AS staff_id, {NULL_ID} AS card_id, CAST(0 AS BIGINT) AS high, \
                CAST(a.reversed AS BIGINT) AS n1, CAST(a.total AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM redemptions r JOIN a ON a.cashier_id = r.cashier_id \
         WHERE r.period = $1 AND r.status = 'reversed' AND a.total >= {min} AND a.reversed * 10000 >= a.total * {share}",
        min = t.reversal_min_redemptions,
        share = t.reversal_share_bp,
    );
    Ok(group(
        Rule::ReversalRatio,
        rows(conn, &sql, p)?,
        |_| Severity::Medium,
        |r, _| serde_json::json!({"reversed": r.n1, "of": r.n2}),
    ))
}

/// `card_velocity`: one card at two merchants in different districts within the window
/// — one person cannot cross the city that fast. Covers both redemptions of each pair.
pub fn card_velocity(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let w = t.velocity_window_secs;
    let sql = format!(
        "WITH {live}, \
         w AS (SELECT id, card_id, merchant_id, district, t, \
                 LAG(id) OVER (PARTITION BY card_id ORDER BY t, id) AS prev_id, \
                 LAG(t) OVER (PARTITION BY card_id ORDER BY t, id) AS prev_t, \
                 LAG(district) OVER (PARTITION BY card_id ORDER BY t, id) AS prev_district, \
                 LAG(merchant_id) OVER (PARTITION BY card_id ORDER BY t, id) AS prev_merchant \
               FROM r), \
         pairs AS (SELECT id, prev_id, card_id, t - prev_t AS gap FROM w \
                   WHERE prev_id IS NOT NULL AND t - prev_t <= {w} AND prev_district <> district \
                     AND prev_merchant <> merchant_id), \
         covered AS (SELECT id AS rid, card_id, gap FROM pairs UNION ALL SELECT prev_id, card_id, gap FROM pairs) \
         SELECT rid AS redemption_id, 'card:' || card_id AS subject, {NULL_ID} AS merchant_id, \
                {NULL_ID} AS staff_id, card_id, CAST(0 AS BIGINT) AS high, \
                CAST(MIN(gap) AS BIGINT) AS n1, CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM covered GROUP BY rid, card_id",
        live = live(&d),
    );
    let rows = rows(conn, &sql, p)?;
    let mut fastest: BTreeMap<String, i64> = BTreeMap::new();
    for r in &rows {
        let f = fastest.entry(r.subject.clone()).or_insert(i64::MAX);
        *f = (*f).min(r.n1);
    }
    Ok(group(
        Rule::CardVelocity,
        rows,
        |_| Severity::Medium,
        |r, count| {
            serde_json::json!({
                "redemptions": count,
                "fastest_minutes": fastest.get(&r.subject).copied().unwrap_or(r.n1) / 60,
                "window_minutes": w / 60,
            })
        },
    ))
}

/// `off_hours`: redemptions between the configured local hours (00:00–05:00), per
/// merchant.
pub fn off_hours(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let d = Dialect::of(conn);
    let sql = format!(
        "WITH {live} \
         SELECT r.id AS redemption_id, 'merchant:' || r.merchant_id AS subject, r.merchant_id, \
                {NULL_ID} AS staff_id, {NULL_ID} AS card_id, CAST(0 AS BIGINT) AS high, \
                CAST(0 AS BIGINT) AS n1, CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM r WHERE {hour} >= {start} AND {hour} < {end}",
        live = live(&d),
        hour = d.local_hour("r.created_at"),
        start = t.off_hours_start_hour,
        end = t.off_hours_end_hour,
    );
    let (start, end) = (t.off_hours_start_hour, t.off_hours_end_hour);
    Ok(group(
        Rule::OffHours,
        rows(conn, &sql, p)?,
        |_| Severity::Low,
        |_, count| serde_json::json!({"redemptions": count, "from_hour": start, "to_hour": end}),
    ))
}

/// `reissue_churn`: a talent whose card was reissued `count` times within the months
/// before the period's end. Covers the talent's redemptions in the period.
pub fn reissue_churn(conn: &mut DbConnection, p: &Period, t: &Thresholds) -> ApiResult<Vec<Hit>> {
    let (_, end) = p.bounds();
    let since = crate::time::months_before(end, t.reissue_months);
    let sql = format!(
        "WITH churn AS (SELECT talent_id, COUNT(*) AS reissues FROM cards \
                        WHERE replaced_by IS NOT NULL AND status_changed_at >= $1 AND status_changed_at < $2 \
                        GROUP BY talent_id HAVING COUNT(*) >= {count}) \
         SELECT r.id AS redemption_id, 'talent:' || c.talent_id AS subject, {NULL_ID} AS merchant_id, \
                {NULL_ID} AS staff_id, {NULL_ID} AS card_id, CAST(0 AS BIGINT) AS high, \
                CAST(c.reissues AS BIGINT) AS n1, CAST(0 AS BIGINT) AS n2, CAST(0 AS BIGINT) AS n3, CAST(0 AS BIGINT) AS n4 \
         FROM churn c LEFT JOIN redemptions r ON r.talent_id = c.talent_id AND r.period = $3 AND r.status = 'active'",
        count = t.reissue_count,
    );
    // Parameters numbered in order of first appearance: SQLite binds by that order.
    let rows: Vec<Row> = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Timestamp, _>(since)
        .bind::<diesel::sql_types::Timestamp, _>(end)
        .bind::<Text, _>(p.as_str())
        .load(conn)?;
    let months = t.reissue_months;
    Ok(group(
        Rule::ReissueChurn,
        rows,
        |_| Severity::Medium,
        |r, count| serde_json::json!({"reissues": r.n1, "months": months, "redemptions": count}),
    ))
}

/// Every rule over the period.
pub fn all(
    conn: &mut DbConnection,
    p: &Period,
    t: &Thresholds,
    vault: &PiiVault,
) -> ApiResult<Vec<Hit>> {
    let mut hits = rapid_repeat(conn, p, t)?;
    hits.extend(cashier_burst(conn, p, t)?);
    hits.extend(min_spend_bunching(conn, p, t)?);
    hits.extend(round_bills(conn, p, t)?);
    hits.extend(peer_outlier(conn, p, t)?);
    hits.extend(staff_redemption(conn, p, vault)?);
    hits.extend(reversal_ratio(conn, p, t)?);
    hits.extend(card_velocity(conn, p, t)?);
    hits.extend(off_hours(conn, p, t)?);
    hits.extend(reissue_churn(conn, p, t)?);
    Ok(hits)
}
