//! Parsed merchant fields: a value of these types has been validated once, at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};

/// 统一社会信用代码 (GB 32100-2015): 18 characters from a 31-symbol alphabet (digits and
/// capitals without I, O, Z, S, V), the last one a mod-31 check character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uscc(String);

/// GB 32100-2015 §5 code alphabet; a character's value is its index.
const USCC_CHARSET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// GB 32100-2015 §6.2 weights of positions 1–17 (3^(i-1) mod 31).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

fn uscc_value(c: u8) -> Option<u32> {
    USCC_CHARSET.iter().position(|&x| x == c).map(|i| i as u32)
}

impl Uscc {
    /// Accepts lower case and surrounding spaces (people copy codes from licences).
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let code = raw.trim().to_ascii_uppercase();
        let bytes = code.as_bytes();
        if bytes.len() != 18 || !code.is_ascii() {
            return Err(ApiError::invalid_field(
                "uscc",
                "uscc (统一社会信用代码) must have exactly 18 characters",
            ));
        }
        if let Some(bad) = bytes.iter().find(|&&c| uscc_value(c).is_none()) {
            return Err(ApiError::invalid_field(
                "uscc",
                format!(
                    "uscc (统一社会信用代码) contains {:?}, which is not allowed (digits and capital letters except I, O, Z, S, V)",
                    *bad as char
                ),
            ));
        }
        let expected = Self::check_char(&code[..17]).expect("charset checked above");
        if bytes[17] as char != expected {
            return Err(ApiError::invalid_field(
                "uscc",
                "uscc (统一社会信用代码) check character does not match: please check the code for a typo",
            ));
        }
        Ok(Uscc(code))
    }

    /// The check character for the first 17 characters, `None` if they are not 17 valid
    /// symbols.
    pub fn check_char(first17: &str) -> Option<char> {
        let bytes = first17.as_bytes();
        if bytes.len() != 17 {
            return None;
        }
        let mut sum = 0;
        for (c, w) in bytes.iter().zip(USCC_WEIGHTS) {
            sum += uscc_value(*c)? * w;
        }
        let check = (31 - sum % 31) % 31;
        Some(USCC_CHARSET[check as usize] as char)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The schema of a USCC as [`Uscc::parse`] takes it: 18 symbols of the GB 32100
/// alphabet in either case, white space around them trimmed. The mod-31 check character
/// is beyond a pattern.
pub fn uscc_schema() -> utoipa::openapi::schema::Object {
    crate::text::pattern_schema(
        crate::text::trimmed_pattern("[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}"),
        "统一社会信用代码: 18 characters of 0–9 and A–Z without I, O, S, V, Z (either case), the last a GB 32100 check character.",
    )
}

/// What a merchant offers, grouped as the city presents it (衣食住行 and more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Clothing,
    Food,
    Housing,
    Transport,
    Medical,
    Education,
    Leisure,
    Other,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Clothing,
        Category::Food,
        Category::Housing,
        Category::Transport,
        Category::Medical,
        Category::Education,
        Category::Leisure,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Clothing => "clothing",
            Category::Food => "food",
            Category::Housing => "housing",
            Category::Transport => "transport",
            Category::Medical => "medical",
            Category::Education => "education",
            Category::Leisure => "leisure",
            Category::Other => "other",
        }
    }

    /// The Chinese name shown in the UI.
    pub fn label(self) -> &'static str {
        match self {
            Category::Clothing => "衣·服饰",
            Category::Food => "食·餐饮",
            Category::Housing => "住·住宿",
            Category::Transport => "行·出行",
            Category::Medical => "医疗健康",
            Category::Education => "教育培训",
            Category::Leisure => "文旅休闲",
            Category::Other => "其他",
        }
    }

    pub fn parse(raw: &str) -> ApiResult<Self> {
        Category::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "category",
                    format!(
                        "category {raw:?} is not one of clothing, food, housing, transport, medical, education, leisure, other"
                    ),
                )
            })
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A district of 遂州 from the configured list (`DISTRICTS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct District(String);

impl District {
    pub fn parse(raw: &str, allowed: &[String]) -> ApiResult<Self> {
        let raw = raw.trim();
        if allowed.iter().any(|d| d == raw) {
            Ok(District(raw.to_owned()))
        } else {
            Err(ApiError::invalid_field(
                "district",
                format!("district {raw:?} is not one of {}", allowed.join(", ")),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Coordinates stored as integer micro-degrees (exact, portable, about 0.1 m).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coordinates {
    pub lat_e6: i32,
    pub lon_e6: i32,
}

impl Coordinates {
    pub fn parse(lat: Option<f64>, lon: Option<f64>) -> ApiResult<Option<Self>> {
        match (lat, lon) {
            (None, None) => Ok(None),
            (Some(lat), Some(lon)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    return Err(ApiError::invalid_field(
                        "lat",
                        "lat must be between -90 and 90",
                    ));
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    return Err(ApiError::invalid_field(
                        "lon",
                        "lon must be between -180 and 180",
                    ));
                }
                Ok(Some(Coordinates {
                    lat_e6: (lat * 1e6).round() as i32,
                    lon_e6: (lon * 1e6).round() as i32,
                }))
            }
            _ => Err(ApiError::validation(
                "lat and lon must be given together or not at all",
            )),
        }
    }
}

/// Required free text, trimmed, with a length limit in characters.
pub fn required_text(field: &str, raw: &str, max_chars: usize) -> ApiResult<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            format!("{field} must not be empty"),
        ));
    }
    if text.chars().count() > max_chars {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            format!("{field} must have at most {max_chars} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            field.to_owned(),
            format!("{field} must not contain control characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A contact telephone: a mobile number or a landline such as `0825-2222333`.
pub fn parse_phone(raw: &str) -> ApiResult<String> {
    let phone = raw.trim();
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let ok_chars = phone
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == '+' || c == ' ');
    if ok_chars && (7..=15).contains(&digits) && phone.len() <= 20 {
        Ok(phone.to_owned())
    } else {
        Err(ApiError::invalid_field(
            "contact_phone",
            "contact_phone must be a telephone number: 7 to 15 digits, optionally with '-', '+' or spaces",
        ))
    }
}

/// The patterns of a contact telephone as [`parse_phone`] takes it, both of which must
/// match: 7 to 15 digits among `-`, `+` and spaces; and at most 20 characters from the
/// first to the last that is not white space. One pattern cannot say both without a
/// lookahead, which schema-driven generators do not draw from.
pub fn contact_phone_patterns() -> [String; 2] {
    [
        crate::text::trimmed_pattern("[-+ ]*(?:[0-9][-+ ]*){7,15}"),
        crate::text::trimmed_pattern("[-+ 0-9]{1,20}"),
    ]
}

/// The schema of a contact telephone: [`contact_phone_patterns`] as an `allOf`.
pub fn contact_phone_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    let [shape, length] = contact_phone_patterns();
    let all_of = utoipa::openapi::schema::AllOfBuilder::new()
        .item(crate::text::pattern_schema(
            shape,
            "A telephone number: 7 to 15 digits, optionally with '-', '+' or spaces, at most 20 characters.",
        ))
        .item(
            utoipa::openapi::schema::ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::Type::String)
                .pattern(Some(length)),
        )
        .build();
    utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::AllOf(all_of))
}

/// The pattern of a bank account as [`parse_bank_account`] takes it: 8 to 30 digits,
/// with white space anywhere (it is dropped).
pub fn bank_account_pattern() -> String {
    format!(
        "^{ws}*(?:[0-9]{ws}*){{8,30}}$",
        ws = crate::text::TRIMMED_SPACE
    )
}

pub fn bank_account_schema() -> utoipa::openapi::schema::Object {
    crate::text::pattern_schema(
        bank_account_pattern(),
        "8 to 30 digits; spaces are ignored.",
    )
}

/// A bank account number for payouts: 8–30 digits; spaces people type are dropped.
pub fn parse_bank_account(raw: &str) -> ApiResult<String> {
    let account: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if (8..=30).contains(&account.len()) && account.chars().all(|c| c.is_ascii_digit()) {
        Ok(account)
    } else {
        Err(ApiError::invalid_field(
            "bank_account",
            "bank_account must be 8 to 30 digits",
        ))
    }
}

/// `6222********1234`: enough to recognise the account, not enough to use it.
pub fn mask_bank_account(account: &str) -> String {
    let n = account.chars().count();
    if n <= 8 {
        return "*".repeat(n);
    }
    account
        .chars()
        .enumerate()
        .map(|(i, c)| if i < 4 || i >= n - 4 { c } else { '*' })
        .collect()
}

/// A contact phone as the audit log keeps it: a mainland mobile as talents' phones are
/// shown (`138****5678`), anything else (a landline) with every digit but the last four
/// masked (`****-***0006`). The API shows contact phones in full to the merchant's own
/// staff and to officials, but the log is handed to auditors outside and can never be
/// corrected, so it keeps no more than it needs to follow a change.
pub fn mask_contact_phone(phone: &str) -> String {
    if let Ok(mobile) = crate::talents::Phone::parse(phone) {
        return mobile.masked();
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            if seen + 4 > digits { c } else { '*' }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_uscc_vectors_pass_their_check_character() {
        for valid in [
            "91350100M000100Y43",
            "91110000802100433B",
            "91510900MA62G5T8QB",
        ] {
            assert_eq!(Uscc::parse(valid).unwrap().as_str(), valid);
        }
        // Lower case and surrounding spaces are normalised.
        assert_eq!(
            Uscc::parse(" 91350100m000100y43 ").unwrap().as_str(),
            "91350100M000100Y43"
        );
    }

    #[test]
    fn uscc_typos_and_foreign_characters_are_refused() {
        for invalid in [
            "91350100M000100Y44", // wrong check character
            "91350100M000100Y4",  // 17 characters
            "91350100M000100Y430",
            "91350100M0001O0Y43", // letter O is not in the alphabet
            "91350100M000100S43", // nor is S
            "91350100M00010OY4３",
            "",
        ] {
            assert!(Uscc::parse(invalid).is_err(), "{invalid:?} accepted");
        }
        // A weighted sum ≡ 0 (mod 31) gives check value 0, i.e. '0', not 31.
        assert!(Uscc::parse("915109000000000220").is_ok());
        assert_eq!(Uscc::check_char("10000000000000000"), Some('Y'));
    }

    /// What the document can promise: accepted, or refused only for the check character.
    fn uscc_shape_ok(s: &str) -> bool {
        crate::text::SingleLine::parse(s).is_ok()
            && Uscc::parse(s).map_or_else(|e| e.to_string().contains("check character"), |_| true)
    }

    #[test]
    fn the_documented_uscc_pattern_is_what_the_parser_takes() {
        crate::text::pattern_check::agrees(
            &[&crate::text::trimmed_pattern(
                "[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}",
            )],
            &[
                "91350100M000100Y43",
                " 91350100m000100y43\u{3000}",
                "91350100M0001O0Y43",
            ],
            uscc_shape_ok,
        );
        let schema = serde_json::to_value(uscc_schema()).unwrap();
        assert_eq!(
            schema["pattern"],
            crate::text::trimmed_pattern("[0-9A-HJ-NP-RTUW-Ya-hj-np-rtuw-y]{18}")
        );
    }

    #[test]
    fn the_documented_contact_phone_patterns_are_what_the_parser_takes() {
        let [shape, length] = contact_phone_patterns();
        let ok = |s: &str| crate::text::SingleLine::parse(s).is_ok() && parse_phone(s).is_ok();
        let seeds = [
            "0825-2222333",
            "+86 138 1234 5678",
            " 6660006 ",
            "1-2-3-4-5-6-7-8-9-0-1",
            "12345678901234567890",
            "123456789012345",
            "- 1234567 -",
        ];
        crate::text::pattern_check::agrees(&[&shape, &length], &seeds, ok);
        crate::text::pattern_check::agrees(&[&length, &shape], &seeds, ok);
    }

    #[test]
    fn the_documented_bank_account_pattern_is_what_the_parser_takes() {
        crate::text::pattern_check::agrees(
            &[&bank_account_pattern()],
            &[
                "6222020200112233445",
                "6222 0202 0011 2233 445",
                "12345678",
                "1234567",
            ],
            |s| crate::text::SingleLine::parse(s).is_ok() && parse_bank_account(s).is_ok(),
        );
    }

    #[test]
    fn bank_accounts_are_masked_to_first_and_last_four() {
        assert_eq!(
            mask_bank_account("6222020200112233445"),
            "6222***********3445"
        );
        assert_eq!(mask_bank_account("12345678"), "********");
    }

    #[test]
    fn contact_phones_are_masked_like_talent_phones_or_to_the_last_four() {
        assert_eq!(mask_contact_phone("13800000000"), "138****0000");
        assert_eq!(mask_contact_phone("+86 138 1234 5678"), "138****5678");
        assert_eq!(mask_contact_phone("0825-6660006"), "****-***0006");
        assert_eq!(mask_contact_phone("6660006"), "***0006");
    }

    #[test]
    fn coordinates_come_in_pairs_within_range() {
        let c = Coordinates::parse(Some(30.513_1), Some(105.592_8))
            .unwrap()
            .unwrap();
        assert_eq!((c.lat_e6, c.lon_e6), (30_513_100, 105_592_800));
        assert!(Coordinates::parse(Some(30.0), None).is_err());
        assert!(Coordinates::parse(Some(91.0), Some(0.0)).is_err());
        assert!(Coordinates::parse(Some(f64::NAN), Some(0.0)).is_err());
    }
}
