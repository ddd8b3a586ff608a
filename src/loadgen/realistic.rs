//! The realistic counter mix's data (`loadgen --realistic`, DESIGN §7), seeded set-based
//! in a few statements: 200 merchants over every category and district, each with 1–3
//! cashiers and 1–3 offers of six shapes (percent and fixed, with and without a minimum
//! spend, per-card daily or monthly limits, some unsubsidised, some for three tiers
//! only), a budget with a category envelope for each category and a merchant monthly
//! cap, and 10 000+ cards over all tiers. Everything is named after the run, so runs can
//! follow each other on one database.

use anyhow::Context;
use chrono::Datelike;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use crate::bench::realistic::{CATEGORIES, series};
use crate::db::{DbConnection, write_tx};

/// The six offer shapes, by `shape = (merchant id + j) % 6` for a merchant's j-th offer:
/// [kind, percent_bp, amount_fen, min_spend_fen, max_discount_fen, tiers, per-card daily,
/// per-card monthly, subsidy_bp].
const SHAPES: [[&str; 9]; 6] = [
    // 10 % off up to ¥50, half subsidised: the common one.
    [
        "percent", "1000", "NULL", "0", "5000", "ABCDE", "NULL", "NULL", "5000",
    ],
    // ¥20 off from ¥100, half subsidised.
    [
        "fixed", "NULL", "2000", "10000", "NULL", "ABCDE", "NULL", "NULL", "5000",
    ],
    // 15 % off up to ¥30 for tiers A–C, once a day per card.
    [
        "percent", "1500", "NULL", "0", "3000", "ABC", "1", "NULL", "3000",
    ],
    // ¥5 off, four times a month per card, unsubsidised.
    [
        "fixed", "NULL", "500", "0", "NULL", "ABCDE", "NULL", "4", "0",
    ],
    // 5 % off up to ¥20, fully subsidised, twice a day per card.
    [
        "percent", "500", "NULL", "0", "2000", "ABCDE", "2", "NULL", "10000",
    ],
    // 8 % off up to ¥40, unsubsidised.
    [
        "percent", "800", "NULL", "0", "4000", "ABCDE", "NULL", "NULL", "0",
    ],
];

/// A merchant of the mix: its cashiers' logins and its offers.
pub struct Merchant {
    pub id: i64,
    pub cashiers: Vec<String>,
    /// Its offers, the first one first (the one a cashier sometimes picks by hand).
    pub offers: Vec<i64>,
}

pub struct Seeded {
    pub merchants: Vec<Merchant>,
    pub card_ids: Vec<i64>,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct CashierRow {
    #[diesel(sql_type = BigInt)]
    merchant_id: i64,
    #[diesel(sql_type = Text)]
    username: String,
}

#[derive(QueryableByName)]
struct OfferRow {
    #[diesel(sql_type = BigInt)]
    merchant_id: i64,
    #[diesel(sql_type = BigInt)]
    id: i64,
}

/// Seeds `merchants` merchants and `cards` cards for run `run` (a short tag), every
/// cashier with `password_hash`, in one transaction.
pub fn seed(
    conn: &mut DbConnection,
    run: &str,
    districts: &[String],
    merchants: i64,
    cards: i64,
    password_hash: &str,
) -> anyhow::Result<Seeded> {
    let now = crate::time::now();
    let t = format!("'{}'", now.format("%Y-%m-%d %H:%M:%S"));
    let year = crate::time::to_local(now).year();
    let run_number = u64::from_str_radix(run, 16).context("run tag")? % 1_000_000;
    let pick = |values: &[&str], by: &str| {
        format!(
            "CASE {by} % {} {} END",
            values.len(),
            values
                .iter()
                .enumerate()
                .map(|(i, v)| format!("WHEN {i} THEN '{v}'"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let districts: Vec<&str> = districts.iter().map(String::as_str).collect();
    let category = pick(&CATEGORIES, "s.n");
    let district = pick(&districts, "(s.n / 8)");
    let shape = |column: usize| {
        format!(
            "CASE (m.id + k.n) % 6 {} END",
            SHAPES
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let v = s[column];
                    let v = if column == 0 || column == 5 {
                        format!("'{v}'")
                    } else {
                        v.to_owned()
                    };
                    format!("WHEN {i} THEN {v}")
                })
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let three = "(SELECT 0 AS n UNION ALL SELECT 1 UNION ALL SELECT 2)";
    let prefix = format!("loadgen {run} ");
    let mine = format!("m.name LIKE '{prefix}%'");
    let m_series = series(conn, merchants);
    let statements = [
        format!(
            "INSERT INTO merchants (name, uscc, category, district, address, contact_name, contact_phone, \
             bank_name, bank_account, status, created_at, updated_at) \
             SELECT '{prefix}' || CAST(s.n AS TEXT), '91{run_number:06}' || CAST(1000000000 + s.n AS TEXT), \
                    {category}, {district}, '遂州大道 ' || CAST(s.n AS TEXT) || ' 号', '压测', \
                    '0825-' || CAST(1000000 + s.n AS TEXT), '遂州银行', '62220000' || CAST(10000000 + s.n AS TEXT), \
                    'active', {t}, {t} FROM ({m_series}) s"
        ),
        format!(
            "INSERT INTO users (username, password_hash, role, display_name, merchant_id, active, token_version, created_at, updated_at) \
             SELECT 'lg-{run}-' || CAST(m.id AS TEXT) || '-' || CAST(k.n AS TEXT), '{password_hash}', 'cashier', '', m.id, TRUE, 0, {t}, {t} \
             FROM merchants m CROSS JOIN {three} k WHERE {mine} AND k.n < 1 + m.id % 3"
        ),
        format!(
            "INSERT INTO offers (merchant_id, title, kind, percent_bp, amount_fen, min_spend_fen, max_discount_fen, \
             tiers, per_card_daily, per_card_monthly, subsidy_bp, status, created_at, updated_at, dependents) \
             SELECT m.id, '压测优惠 ' || CAST((m.id + k.n) % 6 AS TEXT), {}, {}, {}, {}, {}, {}, {}, {}, {}, \
                    'active', {t}, {t}, FALSE \
             FROM merchants m CROSS JOIN {three} k WHERE {mine} AND k.n < 1 + (m.id / 3) % 3",
            shape(0),
            shape(1),
            shape(2),
            shape(3),
            shape(4),
            shape(5),
            shape(6),
            shape(7),
            shape(8)
        ),
        // A budget with room for any run, a merchant monthly cap, and an envelope for
        // every category (their sum within the year's total).
        format!(
            "INSERT INTO budgets (year, total_fen, merchant_monthly_cap_fen, reserved_fen, settled_fen, paid_fen, updated_at) \
             VALUES ({year}, 0, 100000000, 0, 0, 0, {t}) ON CONFLICT (year) DO NOTHING"
        ),
        format!(
            "UPDATE budgets SET total_fen = total_fen + 1000000000000, merchant_monthly_cap_fen = 100000000 \
             WHERE year = {year}"
        ),
    ];
    let categories = CATEGORIES
        .iter()
        .map(|c| {
            format!(
                "INSERT INTO budget_envelopes (year, category, total_fen, reserved_fen, settled_fen, paid_fen) \
                 VALUES ({year}, '{c}', 100000000000, 0, 0, 0) \
                 ON CONFLICT (year, category) DO UPDATE SET total_fen = budget_envelopes.total_fen + 100000000000"
            )
        })
        .collect::<Vec<_>>();
    write_tx(conn, |conn| -> anyhow::Result<Seeded> {
        for sql in statements.iter().chain(&categories) {
            diesel::sql_query(sql.as_str())
                .execute(conn)
                .with_context(|| format!("seeding: {}", &sql[..sql.len().min(60)]))?;
        }
        // As setting a budget through the API does.
        crate::budgets::slots::prime_year(conn, year)
            .map_err(|e| anyhow::anyhow!("{}", e.problem().detail))?;
        let cashiers: Vec<CashierRow> = diesel::sql_query(format!(
            "SELECT u.merchant_id AS merchant_id, u.username AS username FROM users u \
             JOIN merchants m ON m.id = u.merchant_id WHERE {mine} ORDER BY u.id"
        ))
        .load(conn)?;
        let offers: Vec<OfferRow> = diesel::sql_query(format!(
            "SELECT o.merchant_id AS merchant_id, o.id AS id FROM offers o \
             JOIN merchants m ON m.id = o.merchant_id WHERE {mine} ORDER BY o.id"
        ))
        .load(conn)?;
        let ids: Vec<IdRow> = diesel::sql_query(format!(
            "SELECT m.id AS id FROM merchants m WHERE {mine} ORDER BY m.id"
        ))
        .load(conn)?;
        let merchants = ids
            .into_iter()
            .map(|m| Merchant {
                id: m.id,
                cashiers: cashiers
                    .iter()
                    .filter(|c| c.merchant_id == m.id)
                    .map(|c| c.username.clone())
                    .collect(),
                offers: offers
                    .iter()
                    .filter(|o| o.merchant_id == m.id)
                    .map(|o| o.id)
                    .collect(),
            })
            .collect();
        Ok(Seeded {
            merchants,
            card_ids: seed_cards(conn, run, cards)?,
        })
    })
}

/// Seeds `cards` talents of run `run` over all tiers, each with an active card valid for
/// three years, in two statements; returns the cards' ids. The talents' personal data is
/// placeholder text: a redemption by code never reads it.
pub fn seed_cards(conn: &mut DbConnection, run: &str, cards: i64) -> anyhow::Result<Vec<i64>> {
    let now = crate::time::now();
    let t = format!("'{}'", now.format("%Y-%m-%d %H:%M:%S"));
    let expires = format!(
        "'{}'",
        (now + chrono::Duration::days(3 * 365)).format("%Y-%m-%d %H:%M:%S")
    );
    let c_series = series(conn, cards);
    let tier =
        "CASE s.n % 5 WHEN 0 THEN 'A' WHEN 1 THEN 'B' WHEN 2 THEN 'C' WHEN 3 THEN 'D' ELSE 'E' END";
    for sql in [
        format!(
            "INSERT INTO talents (name, id_number_enc, id_number_index, id_number_masked, phone_enc, phone_index, \
             phone_masked, employer, tier, created_at, updated_at) \
             SELECT '压测' || CAST(s.n AS TEXT), '-', 'lg-{run}-' || CAST(s.n AS TEXT), '-', '-', \
                    'lg-{run}-' || CAST(s.n AS TEXT), '-', '压测', {tier}, {t}, {t} FROM ({c_series}) s"
        ),
        format!(
            "INSERT INTO cards (card_no, talent_id, tier, status, issued_at, expires_at, status_changed_at, created_at, updated_at) \
             SELECT CAST(100000000000 + id AS TEXT), id, tier, 'active', {t}, {expires}, {t}, {t}, {t} FROM talents \
             WHERE id_number_index LIKE 'lg-{run}-%'"
        ),
    ] {
        diesel::sql_query(sql)
            .execute(conn)
            .context("seeding cards")?;
    }
    let ids: Vec<IdRow> = diesel::sql_query(format!(
        "SELECT c.id AS id FROM cards c JOIN talents t ON t.id = c.talent_id \
         WHERE t.id_number_index LIKE 'lg-{run}-%' ORDER BY c.id"
    ))
    .load(conn)?;
    Ok(ids.into_iter().map(|c| c.id).collect())
}
