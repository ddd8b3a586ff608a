//! The physical card's PIN (DESIGN §11): for talents who do not live on a smartphone.
//! The printed card carries only the number; what proves the holder is present is a
//! 6-digit PIN they set themselves (signed in) or with an official in person — never at
//! a counter.
//!
//! Six digits are a million guesses, so what protects a PIN is how few guesses anyone
//! gets, not how slowly it is hashed: 5 wrong in a row lock PIN use for 15 minutes, 10
//! in a local day until a new PIN is set, and every wrong PIN also counts in the
//! guessing budget of the cashier and merchant who sent it. The stored form is an
//! HMAC-SHA256 under a server-held key, bound to the card, so a copy of the table alone
//! cannot be checked against the million.

pub mod routes;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::audit;
use crate::auth::Actor;
use crate::cards::Card;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::card_pins;

/// Wrong PINs in a row that lock PIN use for [`LOCK_MINUTES`].
pub const LOCK_AFTER: i32 = 5;
pub const LOCK_MINUTES: i64 = 15;
/// Wrong PINs in a local day that block PIN use until a new PIN is set.
pub const BLOCK_AFTER_IN_A_DAY: i32 = 10;
/// Redemptions by PIN per card and local day (DESIGN §11).
pub const REDEMPTIONS_PER_DAY: i64 = 3;

/// A PIN fit to protect a card: six digits, none of the guesses a stranger tries first.
pub struct Pin(String);

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(******)")
    }
}

fn refuse(detail: &str) -> ApiError {
    ApiError::invalid_field("pin", detail.to_owned())
}

impl Pin {
    /// Parses a new PIN for the holder born on `birth`.
    pub fn parse(raw: &str, birth: Option<NaiveDate>) -> ApiResult<Self> {
        let pin = raw.trim();
        if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse("pin must be exactly 6 digits"));
        }
        let d: Vec<i32> = pin.bytes().map(|b| i32::from(b - b'0')).collect();
        let steps: Vec<i32> = d.windows(2).map(|w| (w[1] - w[0]).rem_euclid(10)).collect();
        if steps.iter().all(|s| *s == 0) {
            return Err(refuse("pin must not be one digit six times"));
        }
        if steps.iter().all(|s| *s == 1) || steps.iter().all(|s| *s == 9) {
            return Err(refuse(
                "pin must not be a run of digits such as 123456 or 654321",
            ));
        }
        // 121212, 123123: a short pattern repeated.
        if pin[..2].repeat(3) == pin || pin[..3].repeat(2) == pin {
            return Err(refuse("pin must not repeat a short pattern such as 121212"));
        }
        if let Some(birth) = birth
            && birth_date_forms(birth).iter().any(|form| form == pin)
        {
            return Err(refuse("pin must not be the holder's birth date"));
        }
        Ok(Pin(pin.to_owned()))
    }
}

/// The birth date in the 6-digit forms people use: YYMMDD, DDMMYY, MMDDYY, YYYYMM,
/// MMYYYY, and the year's last two digits around the month and day.
fn birth_date_forms(birth: NaiveDate) -> Vec<String> {
    let (y, m, d) = (birth.year(), birth.month(), birth.day());
    let yy = y.rem_euclid(100);
    vec![
        format!("{yy:02}{m:02}{d:02}"),
        format!("{d:02}{m:02}{yy:02}"),
        format!("{m:02}{d:02}{yy:02}"),
        format!("{y:04}{m:02}"),
        format!("{m:02}{y:04}"),
        format!("{yy:02}{d:02}{m:02}"),
    ]
}

/// The birth date in an 18-character ID number (YYYYMMDD at 6..14).
pub fn birth_of(id_number: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(id_number.get(6..14)?, "%Y%m%d").ok()
}

fn digest(key: &[u8; 32], card_id: i64, pin: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"card-pin\0");
    mac.update(&card_id.to_be_bytes());
    mac.update(pin.as_bytes());
    mac
}

/// Sets (or replaces) the card's PIN, clearing any lock. Audited without the PIN.
pub fn set(
    conn: &mut DbConnection,
    key: &[u8; 32],
    actor: &Actor,
    card: &Card,
    pin: &Pin,
    now: NaiveDateTime,
) -> ApiResult<()> {
    let hash = hex::encode(digest(key, card.id, &pin.0).finalize().into_bytes());
    let replaced = diesel::delete(card_pins::table.find(card.id)).execute(conn)? > 0;
    diesel::insert_into(card_pins::table)
        .values((
            card_pins::card_id.eq(card.id),
            card_pins::pin_hash.eq(hash),
            card_pins::set_at.eq(now),
            card_pins::set_by.eq(actor.user_id),
            card_pins::failures.eq(0),
            card_pins::day_failures.eq(0),
            card_pins::blocked.eq(false),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        if replaced {
            "card.pin_change"
        } else {
            "card.pin_set"
        },
        "card",
        card.id,
        None::<&()>,
        Some(&serde_json::json!({"card_no": card.card_no})),
    )
}

/// The card's PIN state, as stored.
#[derive(Debug, Clone, Queryable)]
struct Stored {
    pin_hash: String,
    failures: i32,
    day_failures: i32,
    failures_day: Option<String>,
    locked_until: Option<NaiveDateTime>,
    blocked: bool,
}

fn locked(detail: String) -> ApiError {
    ApiError::new(actix_web::http::StatusCode::LOCKED, "pin_locked", detail)
}

/// Checks `raw` against the card's PIN, counting a wrong one (and locking as the rules
/// say). Run it in a transaction of its own, committed whatever the answer: a wrong
/// PIN must stay counted when the request is refused. `Ok(false)` is a wrong PIN.
pub fn check(
    conn: &mut DbConnection,
    key: &[u8; 32],
    card: &Card,
    raw: &str,
    now: NaiveDateTime,
) -> ApiResult<bool> {
    // Read through an UPDATE that changes nothing: it locks the row, so concurrent wrong
    // PINs each count (SQLite's writer lock does the same there).
    let stored: Stored = diesel::update(card_pins::table.find(card.id))
        .set(card_pins::failures.eq(card_pins::failures))
        .returning((
            card_pins::pin_hash,
            card_pins::failures,
            card_pins::day_failures,
            card_pins::failures_day,
            card_pins::locked_until,
            card_pins::blocked,
        ))
        .get_result(conn)
        .optional()?
        .ok_or_else(|| {
            ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "pin_not_set",
                "This card has no PIN yet: the talent sets one in the app, or at the talent office in person.",
            )
        })?;
    if stored.blocked {
        return Err(locked(
            "PIN use is blocked after too many wrong PINs today: the talent sets a new PIN in the app or at the talent office.".into(),
        ));
    }
    if let Some(until) = stored.locked_until.filter(|until| *until > now) {
        return Err(locked(format!(
            "PIN use is locked after {LOCK_AFTER} wrong PINs, until {}.",
            crate::time::to_local(until).format("%H:%M")
        )));
    }
    let right = raw.len() == 6
        && hex::decode(&stored.pin_hash)
            .is_ok_and(|expected| digest(key, card.id, raw).verify_slice(&expected).is_ok());
    if right {
        if stored.failures > 0 {
            diesel::update(card_pins::table.find(card.id))
                .set(card_pins::failures.eq(0))
                .execute(conn)?;
        }
        return Ok(true);
    }
    let today = crate::time::to_local(now).format("%Y-%m-%d").to_string();
    let day_failures = if stored.failures_day.as_deref() == Some(today.as_str()) {
        stored.day_failures + 1
    } else {
        1
    };
    let failures = stored.failures + 1;
    let lock = failures >= LOCK_AFTER;
    diesel::update(card_pins::table.find(card.id))
        .set((
            card_pins::failures.eq(if lock { 0 } else { failures }),
            card_pins::day_failures.eq(day_failures),
            card_pins::failures_day.eq(Some(today)),
            card_pins::locked_until.eq(if lock {
                Some(now + Duration::minutes(LOCK_MINUTES))
            } else {
                stored.locked_until
            }),
            card_pins::blocked.eq(day_failures >= BLOCK_AFTER_IN_A_DAY),
        ))
        .execute(conn)?;
    Ok(false)
}

/// The refusal of a wrong PIN.
pub fn wrong_pin() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        "pin_wrong",
        format!(
            "The PIN is wrong. After {LOCK_AFTER} wrong PINs in a row PIN use is locked for {LOCK_MINUTES} minutes."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trivial_pins_are_refused() {
        let birth = NaiveDate::from_ymd_opt(1949, 12, 31);
        for pin in [
            "000000", "111111", "123456", "234567", "890123", "654321", "098765", "121212",
            "123123", "491231", "311249", "123149", "194912", "121949", "12345", "1234567",
            "12a456", "",
        ] {
            assert!(Pin::parse(pin, birth).is_err(), "{pin}");
        }
        for pin in ["583920", "204817", "760391"] {
            assert!(Pin::parse(pin, birth).is_ok(), "{pin}");
        }
        assert_eq!(birth_of("11010519491231002X"), birth);
    }
}
