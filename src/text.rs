//! Text that comes in from outside, parsed once at the edge.
//!
//! Every string a client sends — body fields, query parameters, text path segments,
//! headers that reach the database — goes through one of these types, so a NUL byte never
//! reaches PostgreSQL (which refuses it with a 500-shaped error) nor SQLite (which stores
//! it), and bidi overrides cannot make a name read differently from what it is
//! (DESIGN §4, "Text fields refuse control characters…").
//!
//! | type | refuses |
//! |---|---|
//! | [`SingleLine`] | C0 controls U+0000–U+001F, DEL U+007F, bidi overrides U+202A–U+202E and U+2066–U+2069 |
//! | [`MultiLine`] | the same, except tab and newline (notes, reasons) |
//! | [`DisplayName`] | [`SingleLine`]'s set plus zero-width U+200B–U+200D, U+2060, U+FEFF (names shown to others) |
//!
//! The check runs inside `Deserialize`, so every request struct holding one is covered,
//! and the OpenAPI schema states it as a `pattern` a schema-driven fuzzer can read.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, SchemaType, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::error::{ApiError, ApiResult};

/// Which characters a kind of text refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    SingleLine,
    MultiLine,
    DisplayName,
}

impl Policy {
    /// The first refused character and what kind of character it is, if any.
    pub fn first_refused(self, s: &str) -> Option<(usize, char, &'static str)> {
        s.chars()
            .enumerate()
            .find_map(|(i, c)| self.refuses(c).map(|why| (i + 1, c, why)))
    }

    fn refuses(self, c: char) -> Option<&'static str> {
        match c {
            '\t' | '\n' if self == Policy::MultiLine => None,
            '\u{0}'..='\u{1f}' | '\u{7f}' => Some("a control character"),
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => Some("a bidirectional override"),
            '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' if self == Policy::DisplayName => {
                Some("an invisible (zero-width) character")
            }
            _ => None,
        }
    }

    /// The same rule as an ECMA-262 / JSON Schema `pattern`, for the OpenAPI document.
    pub fn pattern(self) -> &'static str {
        match self {
            Policy::SingleLine => r"^[^\u0000-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$",
            Policy::MultiLine => {
                r"^[^\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]*$"
            }
            Policy::DisplayName => {
                r"^[^\u0000-\u001F\u007F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$"
            }
        }
    }

    /// `Ok` if `s` holds no refused character; otherwise a message that names the
    /// character's position and code point but does not echo the text (it may be personal).
    pub fn check(self, s: &str) -> Result<(), String> {
        match self.first_refused(s) {
            None => Ok(()),
            Some((pos, c, why)) => Err(format!(
                "character {pos} is U+{:04X}, {why}, which is not allowed here",
                c as u32
            )),
        }
    }

    /// [`Policy::check`] as a 422 problem naming `field`, for text that does not come
    /// through `Deserialize` (headers, path segments).
    pub fn check_field(self, field: &'static str, s: &str) -> Result<(), ApiError> {
        self.check(s)
            .map_err(|e| ApiError::invalid_field(field, format!("{field}: {e}")))
    }
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $policy:expr, $description:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const POLICY: Policy = $policy;

            pub fn parse(s: impl Into<String>) -> Result<Self, String> {
                let s = s.into();
                Self::POLICY.check(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<$name> for String {
            fn from(t: $name) -> String {
                t.0
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(s).map_err(serde::de::Error::custom)
            }
        }

        impl PartialSchema for $name {
            fn schema() -> RefOr<Schema> {
                ObjectBuilder::new()
                    .schema_type(SchemaType::Type(Type::String))
                    .pattern(Some(Self::POLICY.pattern()))
                    .description(Some($description))
                    .into()
            }
        }

        impl ToSchema for $name {
            fn name() -> Cow<'static, str> {
                Cow::Borrowed(stringify!($name))
            }
        }
    };
}

text_type!(
    /// One line of text: no control characters, no bidi overrides.
    SingleLine,
    Policy::SingleLine,
    "Text without control characters (U+0000–U+001F, U+007F) or bidi overrides (U+202A–U+202E, U+2066–U+2069)."
);

text_type!(
    /// A note or reason: like [`SingleLine`] but tab and newline are allowed.
    MultiLine,
    Policy::MultiLine,
    "Text that may hold tabs and newlines but no other control characters (U+0000–U+001F, U+007F) and no bidi overrides (U+202A–U+202E, U+2066–U+2069)."
);

text_type!(
    /// A name shown to other people (talents, merchants, offers, accounts): like
    /// [`SingleLine`], and no zero-width characters either, so look-alike names cannot be
    /// made from invisible ones.
    DisplayName,
    Policy::DisplayName,
    "A name shown to others: no control characters (U+0000–U+001F, U+007F), bidi overrides (U+202A–U+202E, U+2066–U+2069) or zero-width characters (U+200B–U+200D, U+2060, U+FEFF)."
);

/// White space that the parsers trim (Rust's `str::trim`: Unicode `White_Space`) and
/// [`SingleLine`] lets through, as a pattern's character class. A parser that trims
/// takes any of it around the value, so its pattern must too.
pub const TRIMMED_SPACE: &str = r"[ \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// All of Unicode `White_Space`, which `str::trim` removes: [`TRIMMED_SPACE`] and the
/// controls tab to carriage return, for text that is not one of the types above (query
/// parameters read as plain strings).
pub const WHITE_SPACE: &str =
    r"[\u0009-\u000D \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// The pattern of a value a parser takes after trimming: `core`, with any
/// [`TRIMMED_SPACE`] around it.
pub fn trimmed_pattern(core: &str) -> String {
    format!("^{TRIMMED_SPACE}*{core}{TRIMMED_SPACE}*$")
}

/// A string schema with `pattern` and a description: how the identifiers' parsers
/// (USCC, ID number, phone…) state what they take.
pub fn pattern_schema(pattern: impl Into<String>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(pattern))
        .description(Some(description))
        .build()
}

/// `schema` that also admits `null`, for an optional field where `null` means "not
/// sent" (serde reads both as `None`).
pub fn or_null(mut schema: Object) -> Object {
    if let SchemaType::Type(t) = schema.schema_type {
        schema.schema_type = SchemaType::from_iter([t, Type::Null]);
    }
    schema
}

/// The most characters a reason or note may have, counted once trimmed.
pub const REASON_MAX_CHARS: usize = 500;

/// White space `str::trim` removes that [`MultiLine`] lets through (tab and newline too).
const NOTE_SPACE: &str =
    r"[\u0009\u000A \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";
/// A character of a note that is neither white space nor refused by [`MultiLine`].
const NOTE_INK: &str = r"[^\u0000-\u0020\u007F\u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202A-\u202F\u205F\u2066-\u2069\u3000]";
/// Any character [`MultiLine`] lets through ([`Policy::MultiLine`]'s pattern's class).
const NOTE_ANY: &str = r"[^\u0000-\u0008\u000B-\u001F\u007F\u202A-\u202E\u2066-\u2069]";

/// A non-blank note of at most [`REASON_MAX_CHARS`] once trimmed: its first and last
/// characters that are not white space, and at most 498 characters between them.
fn note_core() -> String {
    format!(
        "{NOTE_INK}(?:{NOTE_ANY}{{0,{}}}{NOTE_INK})?",
        REASON_MAX_CHARS - 2
    )
}

/// The pattern of a reason or note a step requires, as [`parse_reason`] takes it.
pub fn required_note_pattern() -> String {
    format!("^{NOTE_SPACE}*{}{NOTE_SPACE}*$", note_core())
}

/// The pattern of a reason a step takes if given: blank means none.
pub fn optional_note_pattern() -> String {
    format!("^{NOTE_SPACE}*(?:{})?{NOTE_SPACE}*$", note_core())
}

/// The schema of a reason or note a step requires (`reason`, `note`): multi-line text,
/// not blank, at most 500 characters once trimmed, as [`parse_reason`] checks. The
/// length is in the pattern, not `maxLength`: white space around the text does not
/// count.
pub fn required_note_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(required_note_pattern()))
        .description(Some(
            "Not blank; at most 500 characters once white space around it is trimmed; tab and newline allowed, other control characters and bidi overrides not.",
        ))
        .build()
}

/// The schema of an optional reason: `null`, blank (the same as none), or at most 500
/// characters once trimmed.
pub fn optional_note_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .pattern(Some(optional_note_pattern()))
        .description(Some(
            "Optional; at most 500 characters once white space around it is trimmed; tab and newline allowed, other control characters and bidi overrides not.",
        ))
        .build()
}

/// `{reason}` of a step that requires one (reject, suspend, revoke, reverse, dispute).
/// Steps that read their body with [`crate::http::OptionalJson`] so that `{}` or no
/// body is refused with a sentence naming the field still document this schema: it is
/// exactly what they accept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RequiredReason {
    #[schema(schema_with = required_note_schema)]
    pub reason: MultiLine,
}

impl RequiredReason {
    /// The reason trimmed, refused when blank or too long.
    pub fn parse(&self) -> ApiResult<String> {
        parse_required_reason(&self.reason)
    }
}

/// `{reason}` of a step that takes one if given: no body, `null`, `{}`,
/// `{"reason": null}` and a blank reason all mean none.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptionalReason {
    #[serde(default)]
    #[schema(schema_with = optional_note_schema)]
    pub reason: Option<MultiLine>,
}

impl OptionalReason {
    /// The reason of a body read with [`crate::http::OptionalJson`]: trimmed, `None`
    /// when none was given, refused when `required` and none was given.
    pub fn parse(body: Option<Self>, required: bool) -> ApiResult<Option<String>> {
        parse_reason(body.and_then(|b| b.reason).as_deref(), required)
    }
}

/// A reason or note for the record: trimmed, `None` when missing or blank; refused when
/// `required` and missing, or longer than [`REASON_MAX_CHARS`].
pub fn parse_reason(raw: Option<&str>, required: bool) -> ApiResult<Option<String>> {
    match raw.map(str::trim).filter(|r| !r.is_empty()) {
        None if required => Err(ApiError::invalid_field(
            "reason",
            "reason is required for this step: say why, it is kept in the record",
        )),
        Some(r) if r.chars().count() > REASON_MAX_CHARS => Err(ApiError::invalid_field(
            "reason",
            "reason must have at most 500 characters",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A required reason or note: trimmed, 1–500 characters.
pub fn parse_required_reason(raw: &str) -> ApiResult<String> {
    parse_reason(Some(raw), true).map(Option::unwrap_or_default)
}

/// Checks a documented pattern against the parser it describes, for the tests of each
/// parser: what the pattern allows must be accepted, and around those values (random
/// edits with characters that matter) the pattern and the parser must agree.
#[cfg(test)]
pub(crate) mod pattern_check {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    use rand::{Rng, SeedableRng};

    /// Characters worth trying at any position: digits, letters of both cases (some
    /// outside the identifiers' alphabets), separators, white space the parsers trim or
    /// do not, refused controls, zero-width and bidi characters, and a CJK character.
    pub const ALPHABET: &[char] = &[
        '0', '1', '2', '3', '5', '8', '9', 'A', 'E', 'F', 'I', 'O', 'X', 'Y', 'Z', 'a', 'e', 'x',
        'z', '+', '-', ' ', '.', '\t', '\n', '\r', '\u{0}', '\u{7f}', '\u{85}', '\u{a0}',
        '\u{2009}', '\u{200b}', '\u{202e}', '\u{202f}', '\u{3000}', '\u{feff}', '中',
    ];

    /// `patterns` (all must match, as in an `allOf`) against `accepts`: every value
    /// drawn from the first pattern that matches them all is accepted, and for those
    /// values and `seeds` under random edits the patterns match exactly when `accepts`.
    pub fn agrees(patterns: &[&str], seeds: &[&str], accepts: impl Fn(&str) -> bool) {
        let compiled: Vec<regex::Regex> = patterns
            .iter()
            .map(|p| regex::Regex::new(p).unwrap_or_else(|e| panic!("{p}: {e}")))
            .collect();
        let matches = |s: &str| compiled.iter().all(|r| r.is_match(s));
        let inner = patterns[0]
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .expect("an anchored pattern");
        let strategy = proptest::string::string_regex(inner).expect("a generable pattern");
        let mut runner = TestRunner::deterministic();
        let mut values: Vec<String> = seeds.iter().map(|s| (*s).to_owned()).collect();
        for _ in 0..300 {
            let value = strategy.new_tree(&mut runner).unwrap().current();
            if matches(&value) {
                assert!(
                    accepts(&value),
                    "{value:?} matches {patterns:?} but is refused"
                );
                values.push(value);
            }
        }
        let mut rng = rand::rngs::StdRng::seed_from_u64(20261128);
        for value in &values {
            for _ in 0..60 {
                let mut chars: Vec<char> = value.chars().collect();
                for _ in 0..rng.gen_range(1..=3) {
                    let c = ALPHABET[rng.gen_range(0..ALPHABET.len())];
                    let at = rng.gen_range(0..=chars.len());
                    match rng.gen_range(0..3) {
                        0 => chars.insert(at, c),
                        1 if at < chars.len() => chars[at] = c,
                        _ if at < chars.len() => {
                            chars.remove(at);
                        }
                        _ => chars.push(c),
                    }
                }
                let edited: String = chars.into_iter().collect();
                assert_eq!(
                    matches(&edited),
                    accepts(&edited),
                    "{edited:?}: pattern {patterns:?} and parser disagree"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(p: Policy, c: char) -> bool {
        p.check(&format!("a{c}b")).is_err()
    }

    #[test]
    fn every_control_character_is_refused_in_single_line_text() {
        for c in ('\u{0}'..='\u{1f}').chain(['\u{7f}']) {
            assert!(refused(Policy::SingleLine, c), "U+{:04X}", c as u32);
            assert!(refused(Policy::DisplayName, c), "U+{:04X}", c as u32);
        }
    }

    #[test]
    fn multi_line_text_allows_tab_and_newline_only() {
        assert!(!refused(Policy::MultiLine, '\t'));
        assert!(!refused(Policy::MultiLine, '\n'));
        for c in ('\u{0}'..='\u{1f}')
            .chain(['\u{7f}'])
            .filter(|c| !matches!(c, '\t' | '\n'))
        {
            assert!(refused(Policy::MultiLine, c), "U+{:04X}", c as u32);
        }
        assert!(refused(Policy::MultiLine, '\r'));
    }

    #[test]
    fn range_boundaries_are_exact() {
        for p in [Policy::SingleLine, Policy::MultiLine, Policy::DisplayName] {
            // Just outside each refused range.
            for ok in [
                ' ', '~', '\u{80}', '\u{2029}', '\u{202f}', '\u{2065}', '\u{206a}',
            ] {
                assert!(!refused(p, ok), "{p:?} U+{:04X}", ok as u32);
            }
            // Each refused range's ends.
            for bad in [
                '\u{1f}', '\u{7f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
            ] {
                assert!(refused(p, bad), "{p:?} U+{:04X}", bad as u32);
            }
        }
    }

    #[test]
    fn zero_width_characters_are_refused_in_names_only() {
        for c in ['\u{200b}', '\u{200c}', '\u{200d}', '\u{2060}', '\u{feff}'] {
            assert!(refused(Policy::DisplayName, c), "U+{:04X}", c as u32);
            assert!(!refused(Policy::SingleLine, c), "U+{:04X}", c as u32);
            assert!(!refused(Policy::MultiLine, c), "U+{:04X}", c as u32);
        }
        for ok in [
            '\u{200a}', '\u{200e}', '\u{205f}', '\u{2061}', '\u{fefe}', '\u{ff00}',
        ] {
            assert!(!refused(Policy::DisplayName, ok), "U+{:04X}", ok as u32);
        }
    }

    #[test]
    fn ordinary_chinese_and_latin_text_is_accepted() {
        for s in ["", "遂州老火锅", "Café Noir · 二店", "ID 5109-xx (备注)"] {
            assert!(DisplayName::parse(s).is_ok(), "{s}");
            assert!(SingleLine::parse(s).is_ok(), "{s}");
            assert!(
                MultiLine::parse(format!("{s}\n\tsecond line")).is_ok(),
                "{s}"
            );
        }
    }

    #[test]
    fn the_refusal_names_the_position_and_code_point_but_not_the_text() {
        let e = SingleLine::parse("张三\u{0}secret").unwrap_err();
        assert!(e.contains("character 3 is U+0000"), "{e}");
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn deserialisation_refuses_what_parse_refuses() {
        let e = serde_json::from_str::<SingleLine>(r#""a\u0000""#).unwrap_err();
        assert!(e.is_data(), "{e}");
        let e = serde_json::from_str::<DisplayName>(r#""shop\u200b""#).unwrap_err();
        assert!(e.to_string().contains("U+200B"), "{e}");
        let ok: MultiLine = serde_json::from_str(r#""line 1\nline 2""#).unwrap();
        assert_eq!(&*ok, "line 1\nline 2");
    }

    /// The pattern in the OpenAPI document must refuse what the code refuses; checked
    /// character by character over the interesting planes (no regex crate needed).
    #[test]
    fn the_documented_pattern_matches_the_code() {
        for p in [Policy::SingleLine, Policy::MultiLine, Policy::DisplayName] {
            let ranges = parse_negated_class(p.pattern());
            for c in ('\u{0}'..='\u{3000}').chain('\u{fe00}'..='\u{ffff}') {
                let pattern_refuses = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
                assert_eq!(
                    pattern_refuses,
                    p.refuses(c).is_some(),
                    "{p:?} U+{:04X}",
                    c as u32
                );
            }
        }
    }

    #[test]
    fn the_documented_reason_patterns_are_what_parse_reason_takes() {
        let long = "理".repeat(REASON_MAX_CHARS);
        let seeds = [
            "lost phone",
            " \t\n lost\tphone \u{3000}",
            "",
            " \u{a0}\n",
            long.as_str(),
            &format!(" {long}\n"),
            &format!("{long}x"),
            "x",
        ];
        for (pattern, required) in [
            (required_note_pattern(), true),
            (optional_note_pattern(), false),
        ] {
            pattern_check::agrees(&[&pattern], &seeds, |s| {
                MultiLine::parse(s).is_ok() && parse_reason(Some(s), required).is_ok()
            });
        }
    }

    #[test]
    fn a_reason_is_trimmed_required_where_asked_and_at_most_500_characters() {
        assert!(parse_reason(None, true).is_err());
        assert!(parse_reason(Some("  "), true).is_err());
        assert_eq!(parse_reason(None, false).unwrap(), None);
        assert_eq!(parse_reason(Some(" \n "), false).unwrap(), None);
        assert_eq!(
            parse_reason(Some(" lost "), true).unwrap().as_deref(),
            Some("lost")
        );
        assert!(parse_reason(Some(&"x".repeat(501)), false).is_err());
        assert!(parse_required_reason(&format!(" {} ", "x".repeat(500))).is_ok());
        assert_eq!(OptionalReason::parse(None, false).unwrap(), None);
        assert!(OptionalReason::parse(Some(OptionalReason::default()), true).is_err());
    }

    /// `^[^\uAAAA-\uBBBB\uCCCC…]*$` → its ranges.
    fn parse_negated_class(pattern: &str) -> Vec<(char, char)> {
        let body = pattern
            .strip_prefix("^[^")
            .and_then(|s| s.strip_suffix("]*$"))
            .expect("negated class");
        let chars: Vec<char> = body
            .split(r"\u")
            .filter(|s| !s.is_empty())
            .flat_map(|s| {
                let (hex, rest) = s.split_at(4);
                let c = char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap();
                assert!(rest.is_empty() || rest == "-", "{rest}");
                [Some(c), (rest == "-").then_some('-')]
            })
            .flatten()
            .collect();
        let mut out = Vec::new();
        let mut i = 0;
        while i < chars.len() {
            if chars.get(i + 1) == Some(&'-') {
                out.push((chars[i], chars[i + 2]));
                i += 3;
            } else {
                out.push((chars[i], chars[i]));
                i += 1;
            }
        }
        out
    }
}

/// For an optional body field that, when sent, must be a string: `null` is refused like
/// any other wrong type, as the document says (leaving the field out is how to omit it).
/// Use with `#[serde(default, deserialize_with = "crate::text::string_when_present")]`.
pub fn string_when_present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    <String as serde::Deserialize>::deserialize(deserializer).map(Some)
}
