//! The talent's rolling code (DESIGN §3): signed, short-lived, single-use slots,
//! offline-tolerant, typeable, cheap to check.
//!
//! # Identity
//!
//! A code names `(card_id, window, slot)` — [`CodeId`]. `window` is
//! `floor(unix_seconds / 60)`: each code is valid for one 60-second window
//! (± [`SKEW_SECS`] of clock skew between phone, counter and server). Each window has
//! [`SLOTS_PER_WINDOW`] numbered slots, of which the phone is given
//! [`ISSUED_PER_WINDOW`], so a talent who just used a code shows the next slot at once,
//! also offline. Single use is enforced by whoever consumes a code:
//! `INSERT` the [`CodeId`] triple into a table with `UNIQUE (card_id, window, slot)` in
//! the redemption's transaction; the loser of a race gets a unique violation. Nothing
//! is stored when codes are issued.
//!
//! # Numeric form (20 digits, also typed by handheld scanners)
//!
//! ```text
//!  K WW S CCCCCCC MMMMMMMM D
//!  │ │  │ │       │        └ Damm check digit over the 19 digits before it
//!  │ │  │ │       └ MAC: HMAC-SHA256(code key, "tc-code-v1" ‖ card_id ‖ window ‖ slot),
//!  │ │  │ │         first 8 bytes as a big-endian integer mod 10^8
//!  │ │  │ └ card id, zero-padded (cards up to 9 999 999)
//!  │ │  └ slot 0..SLOTS_PER_WINDOW
//!  │ └ window mod 100: the server takes the window ≡ WW nearest to its clock
//!  └ key id: 4 + (kid mod 6), so it is always 4–9
//! ```
//!
//! The leading 4–9 and the length 20 keep every code outside the payment-code shapes
//! a cashier's scanner also sees (WeChat Pay: 18 digits starting 10–15; Alipay: 16–24
//! digits starting 25–30; UnionPay: 19 digits starting 62). Input of those shapes is
//! refused first, with a detail that says it was a payment code.
//!
//! # QR form
//!
//! `TC1:` + the 20 digits (QR alphanumeric mode, 24 characters, a small QR that
//! scans well from a phone screen). Both forms go through [`decode`]: the prefix only
//! tells a camera scan apart from someone else's QR code.
//!
//! # Security margin
//!
//! * Forgery: without the key, a guessed code for a chosen card and window passes
//!   the MAC with probability 10^-8 per guess (the 8 MAC digits; HMAC-SHA256 is a PRF
//!   and the 64-bit → 10^8 reduction bias is below 10^-11). The key-id digit and the
//!   Damm digit add no secrecy.
//! * Guessing is bounded by who can submit codes: only logged-in merchant staff reach
//!   verification, and [`guard::verify_as_staff`] refuses a staff account for the rest
//!   of the hour after [`MAX_FAILED_VERIFICATIONS_PER_HOUR`] codes with a wrong
//!   signature (typos, caught by the check digit, do not count). At that rate one
//!   account expects 10^8 / 30 ≈ 3.3 million hours (≈ 380 years) per forged code
//!   (an even chance takes ≈ 260 years) — and a forged code still only works on a
//!   real active card, once, audited and disputable by its holder.
//! * More accounts do not buy more guesses: all staff of one merchant share
//!   [`MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR`] failures an hour (and an owner adds
//!   at most 20 cashiers a day), so a merchant expects 10^8 / 60 ≈ 1.7 million hours
//!   (≈ 190 years) per forged code however many cashiers it has; N colluding merchants,
//!   each approved by an official, ≈ 190 / N years. `code_forgery_suspected_total` on
//!   /metrics counts every code with a wrong signature: a city's honest counters
//!   produce next to none, so an alert on its rate catches a guesser long before.
//! * Replay: a code works only in its window (≤ 70 s with skew) and once per slot.
//! * Revocation: the MAC binds the card *id*; verification reads that card row, so a
//!   suspended, revoked or expired card refuses every outstanding code at once, and a
//!   reissued card has a new id whose codes the old ones can never be.
//! * Rotation: `talentcard rotate-key code` adds a key and makes it current; codes
//!   name their key, so codes already on phones keep verifying until they expire.
//! * A window older than ~50 minutes aliases (WW is mod 100) to a different window,
//!   whose MAC does not match: such a stale code is refused as not genuine.

pub mod guard;
pub mod qr;
pub mod routes;

use chrono::{DateTime, NaiveDateTime};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use utoipa::ToSchema;

use crate::cards::card_no::{damm_digit, damm_valid};
use crate::cards::{self, Card, CardStatus};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::secrets::{KeySet, Secrets};

/// Length of one validity window. DESIGN §3: at most 60 s.
pub const WINDOW_SECS: i64 = 60;
/// Numbered single-use codes a window can have: the slot is one digit.
pub const SLOTS_PER_WINDOW: i64 = 10;
/// Codes of each window handed to the phone: a talent rarely redeems more than three
/// times a minute, and fewer codes keep the offline bundle small.
pub const ISSUED_PER_WINDOW: i64 = 3;
/// Clock skew tolerated at either end of a window.
pub const SKEW_SECS: i64 = 5;
pub const NUMERIC_LEN: usize = 20;
/// Largest card id the 7 card digits can carry.
pub const MAX_CARD_ID: i64 = 9_999_999;
/// Failed verifications a staff account may make per hour (see the security margin).
pub const MAX_FAILED_VERIFICATIONS_PER_HOUR: u32 = 30;
/// Failed verifications all staff of one merchant may make per hour together: two
/// accounts' worth, since honest counters hardly ever make one (see the security margin).
pub const MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR: u32 = 60;
/// Most codes one `/me/codes` call returns when the count is given.
pub const MAX_COUNT: usize = 30;
/// The phone must keep a valid code for 10 minutes offline: the current window plus
/// the ten after it, every slot (a 60-second window can be nearly over when fetched).
pub const DEFAULT_WINDOWS: i64 = 600 / WINDOW_SECS + 1;
pub const QR_PREFIX: &str = "TC1:";

const WINDOW_MOD: i64 = 100;
const MAC_MOD: u64 = 100_000_000;
const MAC_DOMAIN: &[u8] = b"tc-code-v1";
/// Key-id digits are 4 + (kid mod 6): never a payment-code leading digit.
const KID_DIGIT_BASE: u8 = 4;
const KID_DIGITS: u32 = 6;

/// What a code names; the unique key of its single use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeId {
    pub card_id: i64,
    pub window: i64,
    pub slot: i64,
}

impl CodeId {
    pub fn not_before(&self) -> NaiveDateTime {
        from_unix(self.window * WINDOW_SECS)
    }

    pub fn not_after(&self) -> NaiveDateTime {
        from_unix((self.window + 1) * WINDOW_SECS)
    }
}

fn from_unix(secs: i64) -> NaiveDateTime {
    DateTime::from_timestamp(secs, 0)
        .expect("window times are in range")
        .naive_utc()
}

pub fn window_of(now: NaiveDateTime) -> i64 {
    now.and_utc().timestamp().div_euclid(WINDOW_SECS)
}

/// Why a code was refused, before or after looking at the card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Not shaped like one of our codes at all.
    Format,
    /// Our shape, but the check digit is wrong: a typo or a misread.
    CheckDigit,
    /// A WeChat / Alipay / UnionPay payment code, named.
    PaymentCode(&'static str),
    /// Well-formed but not signed by any of our keys.
    Signature,
    Expired,
    NotYetValid,
    /// Genuine code, but the card is not active now.
    CardInactive(CardStatus),
}

impl CodeError {
    /// The problem a client sees: code `code_invalid` (with a detail per cause),
    /// `code_expired`, `code_not_yet_valid` or `card_inactive`.
    pub fn to_api(&self) -> ApiError {
        use actix_web::http::StatusCode as S;
        let invalid = |d: String| ApiError::new(S::UNPROCESSABLE_ENTITY, "code_invalid", d);
        match self {
            CodeError::Format => invalid(
                "This is not a talent-card code: expected the 20-digit number under the card's QR code."
                    .into(),
            ),
            CodeError::CheckDigit => invalid(
                "The code has a typo (its check digit does not match): scan it again or re-type it."
                    .into(),
            ),
            CodeError::PaymentCode(kind) => {
                // "an Alipay", but "a UnionPay" (said "you-") and "a WeChat Pay".
                let article = if *kind == "Alipay" { "an" } else { "a" };
                invalid(format!(
                    "You scanned {article} {kind} payment code, not a talent card: ask the customer to open the 英才卡 page and show its code."
                ))
            }
            CodeError::Signature => invalid(
                "This code was not issued by the talent-card system (or was altered): ask for a fresh code."
                    .into(),
            ),
            CodeError::Expired => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "code_expired",
                "This code has expired: ask the talent to show the current code.",
            ),
            CodeError::NotYetValid => ApiError::new(
                S::UNPROCESSABLE_ENTITY,
                "code_not_yet_valid",
                "This code is not valid yet: check the clocks, or ask for the current code.",
            ),
            CodeError::CardInactive(status) => ApiError::new(
                S::CONFLICT,
                "card_inactive",
                format!("The card is {}: its codes are refused.", status.as_str()),
            ),
        }
    }
}

/// The payment-code shape `digits` has, if any (digits only, as scanned).
pub fn payment_code_kind(digits: &str) -> Option<&'static str> {
    let len = digits.len();
    let lead: u32 = digits.get(..2)?.parse().ok()?;
    if len == 18 && (10..=15).contains(&lead) {
        Some("WeChat Pay")
    } else if (16..=24).contains(&len) && (25..=30).contains(&lead) {
        Some("Alipay")
    } else if len == 19 && lead == 62 {
        Some("UnionPay")
    } else {
        None
    }
}

fn kid_digit(kid: &str) -> Option<u8> {
    kid.parse::<u32>()
        .ok()
        .map(|n| KID_DIGIT_BASE + (n % KID_DIGITS) as u8)
}

/// The newest key whose id maps to `digit`: after a rotation, old and new keys have
/// different digits, so the only way to hit a wrong key is six rotations within one
/// code lifetime.
fn key_for_digit(keys: &KeySet, digit: u8) -> Option<Vec<u8>> {
    keys.kids()
        .filter_map(|kid| Some((kid.parse::<u32>().ok()?, kid)))
        .filter(|(n, _)| KID_DIGIT_BASE + (n % KID_DIGITS) as u8 == digit)
        .max_by_key(|(n, _)| *n)
        .and_then(|(_, kid)| keys.get(kid))
}

fn mac(key: &[u8], id: &CodeId) -> u64 {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(MAC_DOMAIN);
    m.update(&id.card_id.to_be_bytes());
    m.update(&id.window.to_be_bytes());
    m.update(&id.slot.to_be_bytes());
    let out = m.finalize().into_bytes();
    let first = u64::from_be_bytes(out[..8].try_into().expect("32-byte output"));
    first % MAC_MOD
}

/// The numeric form of a code signed with the current key.
pub fn encode(keys: &KeySet, id: &CodeId) -> ApiResult<String> {
    let (kid, key) = keys.current_key();
    let digit = kid_digit(&kid).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!(
            "code key id {kid:?} is not numeric; rotate the code key"
        ))
    })?;
    if !(0..=MAX_CARD_ID).contains(&id.card_id) || !(0..SLOTS_PER_WINDOW).contains(&id.slot) {
        return Err(ApiError::internal(anyhow::anyhow!(
            "card id {} or slot {} does not fit the code format",
            id.card_id,
            id.slot
        )));
    }
    let body = format!(
        "{digit}{:02}{}{:07}{:08}",
        id.window.rem_euclid(WINDOW_MOD),
        id.slot,
        id.card_id,
        mac(&key, id)
    );
    let check = damm_digit(body.as_bytes());
    Ok(format!("{body}{check}"))
}

/// The QR payload of a numeric code.
pub fn qr_payload(numeric: &str) -> String {
    format!("{QR_PREFIX}{numeric}")
}

/// Decodes either form and checks signature and time; no database access.
pub fn decode(keys: &KeySet, input: &str, now: NaiveDateTime) -> Result<CodeId, CodeError> {
    let trimmed = input.trim();
    let (digits, from_qr) = match trimmed.get(..QR_PREFIX.len()) {
        Some(p) if p.eq_ignore_ascii_case(QR_PREFIX) => (&trimmed[QR_PREFIX.len()..], true),
        _ => (trimmed, false),
    };
    // People typing from the screen copy its grouping; scanners send bare digits.
    let digits: String = digits.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CodeError::Format);
    }
    if !from_qr && let Some(kind) = payment_code_kind(&digits) {
        return Err(CodeError::PaymentCode(kind));
    }
    let b = digits.as_bytes();
    if b.len() != NUMERIC_LEN || b[0] < b'0' + KID_DIGIT_BASE {
        return Err(CodeError::Format);
    }
    if !damm_valid(b) {
        return Err(CodeError::CheckDigit);
    }
    let num = |r: std::ops::Range<usize>| -> i64 { digits[r].parse().expect("ASCII digits") };
    let slot = num(3..4);
    if slot >= SLOTS_PER_WINDOW {
        // Never issued: only a forger or a garbled scan produces it.
        return Err(CodeError::Signature);
    }
    let now_window = window_of(now);
    // The window ≡ WW (mod 100) in [now − 50, now + 49].
    let low = now_window - WINDOW_MOD / 2;
    let window = low + (num(1..3) - low).rem_euclid(WINDOW_MOD);
    let id = CodeId {
        card_id: num(4..11),
        window,
        slot,
    };
    let key = key_for_digit(keys, b[0] - b'0').ok_or(CodeError::Signature)?;
    let given = num(11..19) as u64;
    if !constant_time_eq(given, mac(&key, &id)) {
        return Err(CodeError::Signature);
    }
    let skew = chrono::Duration::seconds(SKEW_SECS);
    if now < id.not_before() - skew {
        return Err(CodeError::NotYetValid);
    }
    if now >= id.not_after() + skew {
        return Err(CodeError::Expired);
    }
    Ok(id)
}

fn constant_time_eq(a: u64, b: u64) -> bool {
    // Branch-free: the time taken does not depend on how many digits match.
    std::hint::black_box(a ^ b) == 0
}

/// A code that verified, with the card it belongs to.
#[derive(Debug, Clone)]
pub struct VerifiedCode {
    pub id: CodeId,
    pub card: Card,
}

/// THE verification of a talent's code, for every caller (quote, redeem, …): format,
/// payment-code shape, signature, window, then the card row. Consumers then `INSERT`
/// `verified.id` into their used-codes table to make it single-use. Endpoints where
/// merchant staff submit codes go through [`guard::verify_as_staff`] first, which adds
/// the guessing limit around this same check.
pub fn verify(
    conn: &mut DbConnection,
    secrets: &Secrets,
    input: &str,
    now: NaiveDateTime,
) -> ApiResult<VerifiedCode> {
    verify_with(
        |card_id| cards::find_by_id(conn, card_id),
        &secrets.code,
        input,
        now,
    )
}

/// [`verify`] with the card lookup supplied by the caller (tests, benchmarks, caches).
pub fn verify_with(
    lookup: impl FnOnce(i64) -> ApiResult<Option<Card>>,
    keys: &KeySet,
    input: &str,
    now: NaiveDateTime,
) -> ApiResult<VerifiedCode> {
    let id = decode(keys, input, now).map_err(|e| e.to_api())?;
    check_card(lookup, id, now)
}

/// The card step of verification: the code's card must be active now. Consumers that
/// lock the card row pass their own `lookup`.
pub fn check_card(
    lookup: impl FnOnce(i64) -> ApiResult<Option<Card>>,
    id: CodeId,
    now: NaiveDateTime,
) -> ApiResult<VerifiedCode> {
    // A genuine code names a card row that exists: rows are never deleted.
    let card = lookup(id.card_id)?.ok_or_else(|| CodeError::Signature.to_api())?;
    match card.status_at(now) {
        CardStatus::Active => Ok(VerifiedCode { id, card }),
        other => Err(CodeError::CardInactive(other).to_api()),
    }
}

/// One code as the talent's phone receives it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CodeView {
    /// QR payload (`TC1:` + the numeric form).
    pub code: String,
    /// The 20 digits printed under the QR code.
    pub numeric: String,
    /// The QR code as SVG, with its quiet zone.
    pub qr_svg: String,
    /// Slot number within the window (0-based).
    pub slot: i64,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub not_before: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub not_after: NaiveDateTime,
}

/// The code identities for the current and following windows, slot by slot, up to
/// the card's expiry.
pub fn upcoming(card: &Card, count: usize, now: NaiveDateTime) -> Vec<CodeId> {
    let first = window_of(now);
    (0..count as i64)
        .map(|i| CodeId {
            card_id: card.id,
            window: first + i / ISSUED_PER_WINDOW,
            slot: i % ISSUED_PER_WINDOW,
        })
        .filter(|id| id.not_before() < card.expires_at)
        .collect()
}

/// Signs and renders `count` codes (default: every slot of [`DEFAULT_WINDOWS`]).
pub fn issue(
    keys: &KeySet,
    card: &Card,
    count: Option<usize>,
    now: NaiveDateTime,
) -> ApiResult<Vec<CodeView>> {
    let status = card.status_at(now);
    if status != CardStatus::Active {
        return Err(CodeError::CardInactive(status).to_api());
    }
    let count = count.unwrap_or((DEFAULT_WINDOWS * ISSUED_PER_WINDOW) as usize);
    upcoming(card, count, now)
        .into_iter()
        .map(|id| {
            let numeric = encode(keys, &id)?;
            let code = qr_payload(&numeric);
            Ok(CodeView {
                qr_svg: qr::svg(&code)?,
                code,
                numeric,
                slot: id.slot,
                not_before: id.not_before(),
                not_after: id.not_after(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn keys() -> KeySet {
        let dir = tempfile::tempdir().unwrap();
        Secrets::load_or_create(&dir.path().join("s.json"))
            .unwrap()
            .code
    }

    fn at(secs: i64) -> NaiveDateTime {
        from_unix(secs)
    }

    const T0: i64 = 1_795_000_020; // a window start (divisible by 60)

    #[test]
    fn payment_code_shapes_are_named() {
        assert_eq!(payment_code_kind("134567890123456789"), Some("WeChat Pay"));
        assert_eq!(payment_code_kind("2812345678901234"), Some("Alipay"));
        assert_eq!(
            payment_code_kind("301234567890123456789012"),
            Some("Alipay")
        );
        assert_eq!(payment_code_kind("6212345678901234567"), Some("UnionPay"));
        assert_eq!(payment_code_kind("161234567890123456"), None);
        assert_eq!(payment_code_kind("3112345678901234"), None);
        let k = keys();
        for code in [
            "134567890123456789",
            "2812345678901234567",
            "6212345678901234567",
        ] {
            assert!(matches!(
                decode(&k, code, at(T0)),
                Err(CodeError::PaymentCode(_))
            ));
            let detail = CodeError::PaymentCode("WeChat Pay").to_api().to_string();
            assert!(detail.contains("payment code"), "{detail}");
        }
    }

    #[test]
    fn a_code_is_valid_in_its_window_with_skew() {
        let k = keys();
        let id = CodeId {
            card_id: 42,
            window: T0 / WINDOW_SECS,
            slot: 2,
        };
        let n = encode(&k, &id).unwrap();
        assert_eq!(n.len(), NUMERIC_LEN);
        assert!(payment_code_kind(&n).is_none());
        assert_eq!(decode(&k, &n, at(T0)), Ok(id));
        assert_eq!(decode(&k, &qr_payload(&n), at(T0 + 59)), Ok(id));
        assert_eq!(decode(&k, &n, at(T0 + 64)), Ok(id), "skew after");
        assert_eq!(decode(&k, &n, at(T0 - 5)), Ok(id), "skew before");
        assert_eq!(decode(&k, &n, at(T0 + 65)), Err(CodeError::Expired));
        assert_eq!(decode(&k, &n, at(T0 - 6)), Err(CodeError::NotYetValid));
        assert_eq!(decode(&k, &n, at(T0 + 49 * 60)), Err(CodeError::Expired));
        assert_eq!(
            decode(&k, &n, at(T0 - 10 * 60)),
            Err(CodeError::NotYetValid)
        );
        assert_eq!(
            decode(&k, &n, at(T0 + 3600)),
            Err(CodeError::Signature),
            "aliased"
        );
    }

    #[test]
    fn rotated_keys_still_verify_their_codes_and_others_do_not() {
        let mut k = keys();
        let id = CodeId {
            card_id: 7,
            window: T0 / WINDOW_SECS,
            slot: 0,
        };
        let old = encode(&k, &id).unwrap();
        k.rotate("");
        let new = encode(&k, &id).unwrap();
        assert_ne!(old, new);
        assert_eq!(decode(&k, &old, at(T0)), Ok(id));
        assert_eq!(decode(&k, &new, at(T0)), Ok(id));
        assert_eq!(decode(&keys(), &old, at(T0)), Err(CodeError::Signature));
    }

    #[test]
    fn every_code_of_a_default_batch_is_distinct_and_covers_ten_minutes() {
        let card = Card {
            id: 5,
            card_no: "x".into(),
            talent_id: 1,
            tier: "A".into(),
            status: "active".into(),
            status_reason: None,
            issued_at: at(0),
            expires_at: at(T0 + 86_400),
            status_changed_at: at(0),
            replaced_by: None,
            created_at: at(0),
            updated_at: at(0),
            principal_card_id: None,
        };
        let now = at(T0 + 59);
        let codes = issue(&keys(), &card, None, now).unwrap();
        assert_eq!(codes.len(), 33);
        let numerics: std::collections::HashSet<_> = codes.iter().map(|c| &c.numeric).collect();
        assert_eq!(numerics.len(), 33);
        assert!(codes.last().unwrap().not_after >= now + chrono::Duration::minutes(10));
        assert!(codes[0].qr_svg.starts_with("<?xml") || codes[0].qr_svg.starts_with("<svg"));
        let late = issue(&keys(), &card, Some(30), at(T0 + 86_400 - 90)).unwrap();
        assert_eq!(late.len(), 6, "no codes beyond the card's expiry");
    }

    fn arb_id() -> impl Strategy<Value = CodeId> {
        (0..=MAX_CARD_ID, 0..SLOTS_PER_WINDOW, -40i64..=10).prop_map(|(card_id, slot, dw)| CodeId {
            card_id,
            window: T0 / WINDOW_SECS + dw,
            slot,
        })
    }

    proptest! {
        #[test]
        fn encode_decode_round_trip(id in arb_id()) {
            let k = keys();
            let n = encode(&k, &id).unwrap();
            prop_assert_eq!(n.len(), NUMERIC_LEN);
            prop_assert!(payment_code_kind(&n).is_none());
            let now = id.not_before() + chrono::Duration::seconds(30);
            prop_assert_eq!(decode(&k, &n, now), Ok(id));
            prop_assert_eq!(decode(&k, &qr_payload(&n), now), Ok(id));
        }

        #[test]
        fn any_single_digit_change_is_rejected(id in arb_id(), pos in 0..NUMERIC_LEN, delta in 1u8..10) {
            let k = keys();
            let n = encode(&k, &id).unwrap();
            let mut typo = n.into_bytes();
            typo[pos] = b'0' + (typo[pos] - b'0' + delta) % 10;
            let typo = String::from_utf8(typo).unwrap();
            let now = id.not_before() + chrono::Duration::seconds(30);
            prop_assert!(decode(&k, &typo, now).is_err());
        }

        #[test]
        fn a_code_for_another_card_does_not_verify(id in arb_id(), other in 0..=MAX_CARD_ID) {
            prop_assume!(other != id.card_id);
            let k = keys();
            let n = encode(&k, &id).unwrap();
            // Re-point the card digits and fix up the check digit, as a forger would.
            let mut forged = format!("{}{other:07}{}", &n[..4], &n[11..19]);
            let check = damm_digit(forged.as_bytes());
            forged.push(char::from(b'0' + check));
            let now = id.not_before() + chrono::Duration::seconds(30);
            prop_assert_eq!(decode(&k, &forged, now), Err(CodeError::Signature));
        }
    }

    /// `cargo test --lib codes::tests::bench_verify -- --ignored --nocapture`
    #[test]
    #[ignore = "micro-benchmark; run on demand"]
    fn bench_verify_one_code() {
        let k = keys();
        let id = CodeId {
            card_id: 1_234_567,
            window: T0 / WINDOW_SECS,
            slot: 1,
        };
        let n = qr_payload(&encode(&k, &id).unwrap());
        let now = at(T0 + 30);
        let rounds = 200_000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            assert!(decode(&k, std::hint::black_box(&n), now).is_ok());
        }
        let per = start.elapsed().as_nanos() / rounds;
        println!("codes::decode (format + Damm + HMAC-SHA256 + window): {per} ns per code");
    }
}
