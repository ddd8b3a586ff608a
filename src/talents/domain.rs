//! Talent domain values, parsed once at the boundary: [`IdNumber`] (居民身份证号,
//! GB 11643), [`Phone`] (mainland mobile) and [`TalentName`]; [`Tier`] is shared with offers.

use std::fmt;

use chrono::{Datelike, NaiveDate};

use crate::error::{ApiError, ApiResult};

pub use crate::tier::Tier;

/// GB 11643-1999 weights of the 17 body digits; the check character is
/// `CHECK_CHARS[sum mod 11]`.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS: [u8; 11] = *b"10X98765432";

/// The GB 11643 check character of 17 body digits.
pub fn id_check_char(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ID_WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    ID_CHECK_CHARS[(sum % 11) as usize]
}

/// A verified 18-character resident ID number, upper-case `X` as check character.
/// Its `Debug` is masked so it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl IdNumber {
    /// Parses against `today` (a birth date in the future is not plausible).
    pub fn parse(raw: &str, today: NaiveDate) -> ApiResult<Self> {
        let s = raw.trim().to_ascii_uppercase();
        let b = s.as_bytes();
        if b.len() != 18 {
            return Err(ApiError::invalid_field(
                "id_number",
                format!(
                    "id_number must have 18 characters, got {}",
                    s.chars().count()
                ),
            ));
        }
        if !b[..17].iter().all(u8::is_ascii_digit) || !(b[17].is_ascii_digit() || b[17] == b'X') {
            return Err(ApiError::invalid_field(
                "id_number",
                "id_number must be 17 digits followed by a digit or X",
            ));
        }
        // Region codes start with a province code 11–82; 0 or 9 is never a region.
        if !(b'1'..=b'8').contains(&b[0]) {
            return Err(ApiError::validation(
                "id_number does not start with a valid region code",
            ));
        }
        let birth = NaiveDate::parse_from_str(&s[6..14], "%Y%m%d")
            .map_err(|_| ApiError::validation("id_number does not contain a valid birth date"))?;
        if birth.year() < 1900 || birth > today {
            return Err(ApiError::invalid_field(
                "id_number",
                "id_number contains an implausible birth date",
            ));
        }
        if id_check_char(&b[..17]) != b[17] {
            return Err(ApiError::validation(
                "id_number check character is wrong: please re-check the number for a typo",
            ));
        }
        Ok(IdNumber(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `5109**********1234`: region prefix and last four only.
    pub fn masked(&self) -> String {
        mask_id_number(&self.0)
    }
}

/// A birth date `YYYYMMDD` of 1900–2099 that is a calendar date: 31, 30 or 28 days by
/// month, 29 February in leap years (1900 was not one, 2000 was).
const BIRTH_DATE: &str = concat!(
    "(?:(?:19|20)[0-9]{2}(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])",
    "|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)|02(?:0[1-9]|1[0-9]|2[0-8]))",
    "|(?:19(?:0[48]|[2468][048]|[13579][26])|20(?:[02468][048]|[13579][26]))0229)",
);

/// The pattern of an ID number as [`IdNumber::parse`] takes it: a region code starting
/// 1–8, a birth date, three digits and a digit or `X` (either case), white space around
/// it trimmed. Beyond a pattern: the check character, and a birth date after today.
pub fn id_number_pattern() -> String {
    crate::text::trimmed_pattern(&format!("[1-8][0-9]{{5}}{BIRTH_DATE}[0-9]{{3}}[0-9Xx]"))
}

pub fn id_number_schema() -> utoipa::openapi::schema::Object {
    crate::text::pattern_schema(
        id_number_pattern(),
        "居民身份证号: 18 characters, a region code, the birth date YYYYMMDD (not after today), three digits and a GB 11643 check character (0–9 or X).",
    )
}

/// The pattern of a mobile number as [`Phone::parse`] takes it: `1`, `3`–`9` and nine
/// more digits, with spaces and dashes anywhere after an optional `+86`, white space
/// around it trimmed.
pub fn phone_pattern() -> String {
    crate::text::trimmed_pattern(r"(?:\+86)*[ -]*1[ -]*[3-9](?:[ -]*[0-9]){9}[ -]*")
}

pub fn phone_schema() -> utoipa::openapi::schema::Object {
    crate::text::pattern_schema(
        phone_pattern(),
        "A mainland mobile number: 11 digits starting 13–19, optionally after +86, spaces and dashes ignored.",
    )
}

/// A mainland mobile number: 11 digits starting `1[3-9]`. `Debug` is masked.
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Phone {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        // People type spaces and dashes (138 1234 5678); a +86 prefix is common too.
        let digits: String = raw
            .trim()
            .trim_start_matches("+86")
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let b = digits.as_bytes();
        if b.len() == 11
            && b.iter().all(u8::is_ascii_digit)
            && b[0] == b'1'
            && (b'3'..=b'9').contains(&b[1])
        {
            Ok(Phone(digits))
        } else {
            Err(ApiError::invalid_field(
                "phone",
                "phone must be an 11-digit mainland mobile number starting 13–19",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `138****5678`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// A talent's name as written on the card: 1–50 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TalentName(String);

impl TalentName {
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let name = raw.trim();
        let len = name.chars().count();
        if len == 0 || len > 50 {
            return Err(ApiError::invalid_field(
                "name",
                "name must have 1 to 50 characters",
            ));
        }
        // Shown to cashiers and on the card: no look-alikes made of invisible characters.
        crate::text::Policy::DisplayName.check_field("name", name)?;
        Ok(TalentName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An ID number as shown: `5109**********1234`, region prefix and last four only.
/// Expects the canonical 18 characters.
pub fn mask_id_number(id: &str) -> String {
    match (id.get(..4), id.get(14..)) {
        (Some(head), Some(tail)) => format!("{head}**********{tail}"),
        _ => "*".repeat(id.chars().count()),
    }
}

/// A mobile number as shown: `138****5678`. Expects the canonical 11 digits.
pub fn mask_phone(phone: &str) -> String {
    match (phone.get(..3), phone.get(7..)) {
        (Some(head), Some(tail)) => format!("{head}****{tail}"),
        _ => "*".repeat(phone.chars().count()),
    }
}

/// The name as a cashier sees it: the family name's first character, the rest starred
/// (`张*`, `王**`); Latin names keep their first letter.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
    }

    // Published examples whose check characters are known to be right.
    const VALID_IDS: [&str; 4] = [
        "11010519491231002X",
        "110101199003074477",
        "440308199901010012",
        "510922198807150039",
    ];

    #[test]
    fn valid_id_numbers_are_accepted_and_masked() {
        for id in VALID_IDS {
            let parsed = IdNumber::parse(id, today()).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(parsed.as_str(), id);
        }
        let lower_x = IdNumber::parse(" 11010519491231002x ", today()).unwrap();
        assert_eq!(lower_x.as_str(), "11010519491231002X");
        assert_eq!(lower_x.masked(), "1101**********002X");
        assert_eq!(format!("{lower_x:?}"), "IdNumber(1101**********002X)");
    }

    #[test]
    fn invalid_id_numbers_are_refused_with_a_reason() {
        for (id, why) in [
            ("110105194912310021", "check character"),
            ("11010519491231002", "18 characters"),
            ("1101051949123100XX", "17 digits"),
            ("01010519491231002X", "region code"),
            ("110105194913310024", "birth date"),
            ("110105203001010012", "implausible"),
            ("110105189912310012", "implausible"),
        ] {
            let err = IdNumber::parse(id, today()).unwrap_err();
            assert!(err.to_string().contains(why), "{id}: {err}");
        }
    }

    #[test]
    fn every_single_digit_error_in_an_id_number_is_caught() {
        for id in VALID_IDS {
            for pos in 0..17 {
                for d in b'0'..=b'9' {
                    let mut b = id.as_bytes().to_vec();
                    if b[pos] == d {
                        continue;
                    }
                    b[pos] = d;
                    let typo = String::from_utf8(b).unwrap();
                    assert!(IdNumber::parse(&typo, today()).is_err(), "{typo}");
                }
            }
        }
    }

    #[test]
    fn phones_parse_and_mask() {
        assert_eq!(Phone::parse("13812345678").unwrap().masked(), "138****5678");
        assert_eq!(
            Phone::parse("+86 138-1234-5678").unwrap().as_str(),
            "13812345678"
        );
        for bad in [
            "12812345678",
            "1381234567",
            "138123456789",
            "1381234567a",
            "",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_documented_id_number_pattern_is_what_the_parser_takes() {
        // On the last day the pattern allows, only the check character is left to it.
        let last_day = NaiveDate::from_ymd_opt(2099, 12, 31).unwrap();
        let ok = |s: &str| {
            crate::text::SingleLine::parse(s).is_ok()
                && IdNumber::parse(s, last_day)
                    .map_or_else(|e| e.to_string().contains("check character"), |_| true)
        };
        let mut seeds: Vec<String> = VALID_IDS.iter().map(|s| (*s).to_owned()).collect();
        seeds.extend([
            " 11010519491231002x\u{3000}".into(),
            "110105190002290012".into(),
        ]);
        let seeds: Vec<&str> = seeds.iter().map(String::as_str).collect();
        crate::text::pattern_check::agrees(&[&id_number_pattern()], &seeds, ok);
        // Every birth date of the years around the pattern's ends, day by day.
        let re = regex::Regex::new(&id_number_pattern()).unwrap();
        for year in (1898..=1905).chain(1995..=2005).chain(2095..=2101) {
            for month in 0..=13 {
                for day in 0..=32 {
                    let id = format!("110105{year:04}{month:02}{day:02}001X");
                    assert_eq!(re.is_match(&id), ok(&id), "{id}");
                }
            }
        }
    }

    #[test]
    fn the_documented_phone_pattern_is_what_the_parser_takes() {
        crate::text::pattern_check::agrees(
            &[&phone_pattern()],
            &[
                "13812345678",
                "+86 138-1234-5678",
                "+86+8613812345678",
                " - 138 1234 5678 - ",
                "+86\u{3000}13812345678",
                "8613812345678",
            ],
            |s| crate::text::SingleLine::parse(s).is_ok() && Phone::parse(s).is_ok(),
        );
    }

    #[test]
    fn names_are_masked_for_cashiers() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("李"), "李*");
        assert!(TalentName::parse("  ").is_err());
        assert!(TalentName::parse("a\u{7}b").is_err());
    }
}
