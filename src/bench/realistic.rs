//! Seeding a month of counters that looks like a real city, set-based: merchants of
//! every category and district, two cashiers each, 10 000 cards over all tiers, and
//! sales spread over the month's days and opening hours with varied bills — so the
//! anomaly rules see ordinary trade, not one cashier selling a million times at once.
//! Deterministic (arithmetic on the row number), so runs compare.

use diesel::RunQueryDsl;

use crate::db::DbConnection;

pub const CATEGORIES: [&str; 8] = [
    "clothing",
    "food",
    "housing",
    "transport",
    "medical",
    "education",
    "leisure",
    "other",
];
pub const DISTRICTS: [&str; 4] = ["船山区", "安居区", "射洪市", "蓬溪县"];

/// What was seeded, for reports.
pub struct Seeded {
    pub merchants: i64,
    pub cashiers: i64,
    pub cards: i64,
    pub redemptions: i64,
}

pub(crate) fn series(conn: &DbConnection, n: i64) -> String {
    match conn {
        DbConnection::Pg(_) => format!(
            "SELECT CAST(g AS BIGINT) AS n FROM generate_series(0, {}) g",
            n - 1
        ),
        DbConnection::Sqlite(_) => format!(
            "WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < {}) SELECT n FROM s",
            n - 1
        ),
    }
}

/// `offset_secs` seconds after 2026-11-01 00:00 local (= 2026-10-31 16:00 UTC), and the
/// local day `YYYY-MM-DD` of `day` (0-based) in November 2026.
fn at_and_day(conn: &DbConnection, offset_secs: &str, day: &str) -> (String, String) {
    match conn {
        DbConnection::Pg(_) => (
            format!("TIMESTAMP '2026-10-31 16:00:00' + ({offset_secs}) * INTERVAL '1 second'"),
            format!("'2026-11-' || LPAD(CAST(({day}) + 1 AS TEXT), 2, '0')"),
        ),
        DbConnection::Sqlite(_) => (
            format!("datetime('2026-10-31 16:00:00', '+' || ({offset_secs}) || ' seconds')"),
            format!("'2026-11-' || printf('%02d', ({day}) + 1)"),
        ),
    }
}

/// Seeds November 2026 into an empty (scratch) database.
pub fn seed(conn: &mut DbConnection, merchants: i64, redemptions: i64) -> anyhow::Result<Seeded> {
    let cards: i64 = 10_000;
    let (m_series, c_series, r_series) = (
        series(conn, merchants),
        series(conn, cards),
        series(conn, redemptions),
    );
    let t = "'2026-10-01 00:00:00'";
    let category = format!(
        "CASE n % 8 {} END",
        CATEGORIES
            .iter()
            .enumerate()
            .map(|(i, c)| format!("WHEN {i} THEN '{c}'"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let district = |col: &str| {
        format!(
            "CASE {col} % 4 {} END",
            DISTRICTS
                .iter()
                .enumerate()
                .map(|(i, d)| format!("WHEN {i} THEN '{d}'"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    let merchant_district = district("(n / 8)");
    // Sale n is split like digits: merchant m = n mod M, its cashier k = (n / M) mod 2,
    // day d = (n / 2M) mod 30 and q = n / 60M, the q-th sale of that cashier that day —
    // about ten minutes apart (with jitter) between 08:00 and 22:00 local. Cards are
    // spread by a prime, bills ¥10–¥310.
    let day = format!("((x.n / {}) % 30)", 2 * merchants);
    let q = format!("(x.n / {})", 60 * merchants);
    let secs = format!("({day} * 86400 + 28800 + ({q} * 607 + (x.n * 37) % 300) % 50400)");
    let day = day.as_str();
    let (at, local_day) = at_and_day(conn, &secs, day);
    let statements = [
        format!(
            "INSERT INTO merchants (name, uscc, category, district, address, contact_name, contact_phone, bank_name, bank_account, status, created_at, updated_at) \
             SELECT 'bench ' || CAST(n AS TEXT), CAST(100000000000000000 + n AS TEXT), {category}, {merchant_district}, '-', '-', \
                    '0825-' || CAST(1000000 + n AS TEXT), '-', '-', 'active', {t}, {t} FROM ({m_series}) s"
        ),
        format!(
            "INSERT INTO users (username, password_hash, role, display_name, merchant_id, active, token_version, created_at, updated_at) \
             SELECT 'bench-cashier-' || CAST(m.id AS TEXT) || '-' || CAST(k.n AS TEXT), '!', 'cashier', '', m.id, TRUE, 0, {t}, {t} \
             FROM merchants m CROSS JOIN (SELECT 0 AS n UNION ALL SELECT 1) k"
        ),
        format!(
            "INSERT INTO offers (merchant_id, title, kind, percent_bp, min_spend_fen, max_discount_fen, tiers, subsidy_bp, status, created_at, updated_at) \
             SELECT id, 'bench', 'percent', 1000, CASE WHEN id % 3 = 0 THEN 5000 ELSE 0 END, 5000, 'ABCDE', 5000, 'active', {t}, {t} FROM merchants"
        ),
        format!(
            "INSERT INTO talents (name, id_number_enc, id_number_index, id_number_masked, phone_enc, phone_index, phone_masked, employer, tier, created_at, updated_at) \
             SELECT 'bench', '-', 'i' || CAST(n AS TEXT), '-', '-', 'p' || CAST(n AS TEXT), '-', '-', \
                    CASE n % 5 WHEN 0 THEN 'A' WHEN 1 THEN 'B' WHEN 2 THEN 'C' WHEN 3 THEN 'D' ELSE 'E' END, {t}, {t} FROM ({c_series}) s"
        ),
        format!(
            "INSERT INTO cards (card_no, talent_id, tier, status, issued_at, expires_at, status_changed_at, created_at, updated_at) \
             SELECT CAST(100000000000 + id AS TEXT), id, tier, 'active', {t}, '2029-11-01 00:00:00', {t}, {t}, {t} FROM talents"
        ),
        format!(
            "INSERT INTO redemptions (merchant_id, offer_id, card_id, talent_id, tier, category, district, subsidy_bp, \
             bill_fen, discount_fen, paid_fen, subsidy_fen, code_window, code_slot, local_day, period, cashier_id, \
             idempotency_key, request_hash, status, disputed, created_at) \
             SELECT m.id, o.id, c.id, c.talent_id, c.tier, m.category, m.district, 5000, \
                    x.bill, x.bill / 10, x.bill - x.bill / 10, x.bill / 20, x.n, 0, {local_day}, '2026-11', \
                    u.id, 'b' || CAST(x.n AS TEXT), '-', 'active', FALSE, {at} \
             FROM (SELECT r.n, 1000 + (r.n * 7883) % 30000 AS bill, r.n % {merchants} AS mi, \
                          (r.n * 104729 + r.n / 13) % {cards} AS ci, (r.n / {merchants}) % 2 AS ki \
                   FROM ({r_series}) r) x \
             JOIN (SELECT id, category, district, ROW_NUMBER() OVER (ORDER BY id) - 1 AS i FROM merchants) m ON m.i = x.mi \
             JOIN offers o ON o.merchant_id = m.id \
             JOIN (SELECT id, talent_id, tier, ROW_NUMBER() OVER (ORDER BY id) - 1 AS i FROM cards) c ON c.i = x.ci \
             JOIN users u ON u.username = 'bench-cashier-' || CAST(m.id AS TEXT) || '-' || CAST(x.ki AS TEXT)"
        ),
    ];
    for sql in &statements {
        diesel::sql_query(sql.as_str()).execute(conn)?;
    }
    Ok(Seeded {
        merchants,
        cashiers: merchants * 2,
        cards,
        redemptions,
    })
}

/// A few known patterns on top, so the scan has something real to find: a cashier
/// burst, a card repeated at one counter, a sale at 02:30, and a cashier whose phone is
/// a customer's.
pub fn plant_patterns(conn: &mut DbConnection) -> anyhow::Result<()> {
    let (burst_at, _) = at_and_day(conn, "19 * 86400 + 36000 + k.n * 15", "19");
    let (repeat_at, _) = at_and_day(conn, "9 * 86400 + 43200 + k.n * 600", "9");
    let (late_at, _) = at_and_day(conn, "4 * 86400 + 9000 + k.n", "4");
    let twelve = series(conn, 12);
    let three = series(conn, 3);
    let one = series(conn, 1);
    let insert = |rows: &str, card: &str, at: &str, day: &str, key: &str| {
        format!(
            "INSERT INTO redemptions (merchant_id, offer_id, card_id, talent_id, tier, category, district, subsidy_bp, \
             bill_fen, discount_fen, paid_fen, subsidy_fen, code_window, code_slot, local_day, period, cashier_id, \
             idempotency_key, request_hash, status, disputed, created_at) \
             SELECT m.id, o.id, c.id, c.talent_id, c.tier, m.category, m.district, 5000, 8800, 880, 7920, 440, \
                    -1000 - k.n, 1, '{day}', '2026-11', u.id, '{key}-' || CAST(k.n AS TEXT), '-', 'active', FALSE, {at} \
             FROM ({rows}) k \
             JOIN (SELECT MIN(id) AS id FROM merchants) first ON TRUE \
             JOIN merchants m ON m.id = first.id JOIN offers o ON o.merchant_id = m.id \
             JOIN users u ON u.username = 'bench-cashier-' || CAST(m.id AS TEXT) || '-0' \
             JOIN cards c ON c.id = {card}"
        )
    };
    let statements = [
        insert(&twelve, "(SELECT MIN(id) FROM cards) + 100 + k.n", &burst_at, "2026-11-20", "burst"),
        insert(&three, "(SELECT MIN(id) FROM cards) + 7", &repeat_at, "2026-11-10", "repeat"),
        insert(&one, "(SELECT MIN(id) FROM cards) + 9", &late_at, "2026-11-05", "late"),
        // The second cashier of some merchant shares a phone with one of its customers.
        "UPDATE users SET phone_index = (SELECT t.phone_index FROM redemptions r JOIN talents t ON t.id = r.talent_id \
         WHERE r.cashier_id = users.id ORDER BY r.id LIMIT 1) \
         WHERE id = (SELECT MAX(id) FROM users WHERE role = 'cashier')"
            .to_owned(),
    ];
    for sql in &statements {
        diesel::sql_query(sql.as_str()).execute(conn)?;
    }
    Ok(())
}
