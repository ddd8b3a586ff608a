//! What a search box query means for each kind of thing, and the look-ups.
//!
//! Talents' names are stored as text, so part of a name finds them. ID numbers and
//! phones are stored only encrypted with a blind index (see [`crate::talents::pii`]):
//! they are found whole, exactly, and each such search is audited. Card numbers are not
//! personal data: a whole number (its check digit verified) or four or more of its
//! digits find cards. Merchants are found by part of their name, either case, or by
//! their whole 统一社会信用代码.

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::cards::{Card, CardNo, CardStatus};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::merchants::Uscc;
use crate::pagination::Page;
use crate::schema::{cards, merchants, talents};
use crate::talents::{IdNumber, Phone};

/// The most characters a query may have.
pub const MAX_QUERY_CHARS: usize = 64;

/// What to search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchKind {
    Talent,
    Card,
    Merchant,
}

/// How the query was read, so a page can say what it searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchMatch {
    /// Part of a talent's or merchant's name.
    Name,
    /// A whole ID number, through the blind index (audited).
    IdNumber,
    /// A whole mobile number, through the blind index (audited).
    Phone,
    /// A whole card number.
    CardNo,
    /// Four to eleven digits of a card number.
    CardNoPart,
    /// A whole 统一社会信用代码.
    Uscc,
    /// Nothing of this kind can match the query (e.g. part of a phone number: numbers
    /// stored encrypted are found whole only).
    None,
}

/// The query, checked: 1 to [`MAX_QUERY_CHARS`] characters as sent, not only white
/// space (control characters were refused when it was read). Returns it trimmed.
pub fn check_query(q: &str) -> ApiResult<&str> {
    let trimmed = q.trim();
    if trimmed.is_empty() || q.chars().count() > MAX_QUERY_CHARS {
        return Err(ApiError::invalid_field(
            "q",
            format!("q must have 1 to {MAX_QUERY_CHARS} characters, not only spaces"),
        ));
    }
    Ok(trimmed)
}

/// The pattern of [`check_query`] for the OpenAPI document: text without control
/// characters or bidi overrides ([`crate::text::SingleLine`]) holding at least one
/// character that is not white space.
pub const QUERY_PATTERN: &str = r"^[^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u0020\u007F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202A-\u202F\u205F\u2066-\u2069\u3000][^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$";

/// The query without the spaces and dashes people type inside numbers.
fn compact(q: &str) -> String {
    q.chars().filter(|c| !matches!(c, ' ' | '-')).collect()
}

/// What a query finds talents by.
#[derive(Debug)]
pub enum TalentKey {
    IdNumber(IdNumber),
    Phone(Phone),
    Name(String),
    None,
}

/// Reads a query for talents: an ID number's shape (17 digits and a digit or X) is an ID
/// number, and a wrong one is refused (422 naming `q`) rather than silently finding
/// nobody; a mobile number is a phone; other digits can match nothing (numbers are
/// stored encrypted, found whole only); anything else is part of a name.
pub fn talent_key(q: &str, today: NaiveDate) -> ApiResult<TalentKey> {
    let c = compact(q).to_ascii_uppercase();
    let b = c.as_bytes();
    if b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
    {
        return IdNumber::parse(&c, today)
            .map(TalentKey::IdNumber)
            .map_err(|e| e.with_field("q"));
    }
    if let Ok(phone) = Phone::parse(q) {
        return Ok(TalentKey::Phone(phone));
    }
    let digits = c.strip_prefix("+86").unwrap_or(&c);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(TalentKey::None);
    }
    Ok(TalentKey::Name(q.to_owned()))
}

/// What a query finds cards by.
#[derive(Debug)]
pub enum CardKey {
    Whole(CardNo),
    Part(String),
    None,
}

/// Reads a query for cards: twelve digits are a card number whose check digit must be
/// right (a typo is a 422 naming `q`); four to eleven digits are part of one; anything
/// else matches no card.
pub fn card_key(q: &str) -> ApiResult<CardKey> {
    let c = compact(q);
    if c.is_empty() || !c.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(CardKey::None);
    }
    match c.len() {
        crate::cards::card_no::CARD_NO_LEN => CardNo::parse(&c)
            .map(CardKey::Whole)
            .map_err(|e| e.with_field("q")),
        4..=11 => Ok(CardKey::Part(c)),
        _ => Ok(CardKey::None),
    }
}

/// What a query finds merchants by.
#[derive(Debug)]
pub enum MerchantKey {
    Uscc(Uscc),
    Name(String),
}

/// A whole, valid 统一社会信用代码 is looked up exactly; anything else is part of a name.
pub fn merchant_key(q: &str) -> MerchantKey {
    match Uscc::parse(q) {
        Ok(uscc) => MerchantKey::Uscc(uscc),
        Err(_) => MerchantKey::Name(q.to_owned()),
    }
}

/// A `LIKE` pattern matching `s` anywhere, its wildcards escaped with `\`.
pub fn like_anywhere(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// A card found by a search, with its holder.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardHit {
    pub id: i64,
    pub card_no: String,
    pub tier: String,
    pub status: CardStatus,
    /// Last local day the card is valid.
    #[schema(value_type = String, format = Date)]
    pub valid_until: NaiveDate,
    pub holder_id: i64,
    /// The holder's name (officials see names, as in the talent list).
    pub holder_name: String,
}

/// Cards by a whole number or part of one, newest first.
pub fn cards(
    conn: &mut DbConnection,
    key: &CardKey,
    page: Page,
    now: chrono::NaiveDateTime,
) -> ApiResult<(Vec<CardHit>, i64)> {
    let build = || {
        let q = cards::table.into_boxed();
        match key {
            CardKey::Whole(no) => q.filter(cards::card_no.eq(no.as_str().to_owned())),
            CardKey::Part(digits) => q.filter(cards::card_no.like(format!("%{digits}%"))),
            // Never reached: the caller answers an empty page without asking.
            CardKey::None => q.filter(cards::id.lt(0)),
        }
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<Card> = build()
        .order(cards::id.desc())
        .limit(page.per_page)
        .offset(page.offset())
        .select(Card::as_select())
        .load(conn)?;
    let holders: std::collections::HashMap<i64, String> = talents::table
        .filter(talents::id.eq_any(rows.iter().map(|c| c.talent_id)))
        .select((talents::id, talents::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect();
    let hits = rows
        .iter()
        .map(|c| CardHit {
            id: c.id,
            card_no: c.card_no.clone(),
            tier: c.tier.clone(),
            status: c.status_at(now),
            valid_until: crate::cards::last_valid_day(c.expires_at),
            holder_id: c.talent_id,
            holder_name: holders.get(&c.talent_id).cloned().unwrap_or_default(),
        })
        .collect();
    Ok((hits, total))
}

/// A merchant found by a search, in any status.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MerchantHit {
    pub id: i64,
    pub name: String,
    pub uscc: String,
    pub category: String,
    pub district: String,
    /// `pending`, `active`, `suspended` or `rejected`.
    pub status: String,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

/// Merchants by USCC or part of the name, in any status, by name. Case-insensitive with
/// `lower()` on both sides: the same for Latin letters on both backends (PostgreSQL
/// also folds other scripts' capitals, SQLite only A–Z; Chinese has no case).
pub fn merchants(
    conn: &mut DbConnection,
    key: &MerchantKey,
    page: Page,
) -> ApiResult<(Vec<MerchantHit>, i64)> {
    let build = || {
        let q = merchants::table.into_boxed();
        match key {
            MerchantKey::Uscc(uscc) => q.filter(merchants::uscc.eq(uscc.as_str().to_owned())),
            MerchantKey::Name(name) => q.filter(
                lower(merchants::name)
                    .like(like_anywhere(&name.to_lowercase()))
                    .escape('\\'),
            ),
        }
    };
    let total: i64 = build().count().get_result(conn)?;
    let rows: Vec<(i64, String, String, String, String, String)> = build()
        .order((merchants::name, merchants::id))
        .limit(page.per_page)
        .offset(page.offset())
        .select((
            merchants::id,
            merchants::name,
            merchants::uscc,
            merchants::category,
            merchants::district,
            merchants::status,
        ))
        .load(conn)?;
    let hits = rows
        .into_iter()
        .map(|(id, name, uscc, category, district, status)| MerchantHit {
            id,
            name,
            uscc,
            category,
            district,
            status,
        })
        .collect();
    Ok((hits, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
    }

    fn id_number() -> String {
        let body = "51090219900101001";
        let check = crate::talents::domain::id_check_char(body.as_bytes());
        format!("{body}{}", char::from(check))
    }

    #[test]
    fn a_query_is_one_to_sixty_four_characters_not_only_spaces() {
        assert_eq!(check_query("  王芳 ").unwrap(), "王芳");
        assert_eq!(check_query(" ").unwrap_err().field(), Some("q"));
        assert_eq!(check_query("").unwrap_err().field(), Some("q"));
        assert!(check_query(&"字".repeat(64)).is_ok());
        assert!(check_query(&"字".repeat(65)).is_err());
    }

    #[test]
    fn the_query_pattern_agrees_with_the_check() {
        let re = regex::Regex::new(QUERY_PATTERN).unwrap();
        for ok in ["王", " a ", "13900000001", "a\u{00A0}b"] {
            assert!(re.is_match(ok), "{ok:?}");
            assert!(check_query(ok).is_ok(), "{ok:?}");
        }
        for blank in ["", " ", "\u{3000}", "\u{00A0} \u{2003}"] {
            assert!(!re.is_match(blank), "{blank:?}");
            assert!(check_query(blank).is_err(), "{blank:?}");
        }
        assert!(!re.is_match("a\u{0001}"));
    }

    #[test]
    fn talents_are_found_by_whole_numbers_or_part_of_a_name() {
        assert!(matches!(
            talent_key(&id_number(), today()).unwrap(),
            TalentKey::IdNumber(_)
        ));
        assert!(matches!(
            talent_key(&id_number().to_lowercase(), today()).unwrap(),
            TalentKey::IdNumber(_)
        ));
        assert!(matches!(
            talent_key("139 0000 0001", today()).unwrap(),
            TalentKey::Phone(_)
        ));
        assert!(matches!(
            talent_key("0001", today()).unwrap(),
            TalentKey::None
        ));
        assert!(matches!(
            talent_key("王芳", today()).unwrap(),
            TalentKey::Name(n) if n == "王芳"
        ));
        let mut wrong = id_number();
        let last = if wrong.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(17.., last);
        assert_eq!(
            talent_key(&wrong, today()).unwrap_err().field(),
            Some("q"),
            "a mistyped ID number is said to be wrong, naming q"
        );
    }

    #[test]
    fn cards_are_found_by_a_whole_number_or_four_digits_or_more() {
        let no = CardNo::generate();
        let spaced = format!(
            "{} {} {}",
            &no.as_str()[..4],
            &no.as_str()[4..8],
            &no.as_str()[8..]
        );
        assert!(matches!(card_key(&spaced).unwrap(), CardKey::Whole(n) if n == no));
        assert!(matches!(card_key("1234").unwrap(), CardKey::Part(p) if p == "1234"));
        assert!(matches!(card_key("123").unwrap(), CardKey::None));
        assert!(matches!(card_key("王芳").unwrap(), CardKey::None));
        let mut typo = no.as_str().to_owned();
        let d = typo.as_bytes()[11];
        typo.replace_range(11.., &(((d - b'0' + 1) % 10).to_string()));
        assert_eq!(card_key(&typo).unwrap_err().field(), Some("q"));
    }

    #[test]
    fn merchants_are_found_by_uscc_or_name() {
        let body = "91510903MA0000001";
        let uscc = format!("{body}{}", Uscc::check_char(body).unwrap());
        assert!(matches!(
            merchant_key(&uscc.to_lowercase()),
            MerchantKey::Uscc(_)
        ));
        assert!(matches!(merchant_key("小吃"), MerchantKey::Name(n) if n == "小吃"));
    }

    #[test]
    fn like_wildcards_are_escaped() {
        assert_eq!(like_anywhere("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
