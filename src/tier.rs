//! Talent tiers (DESIGN §2): A 顶尖, B 领军, C 拔尖, D 骨干, E 青年/基础. Cards carry one
//! tier; offers name the tiers that may use them.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
pub enum Tier {
    A,
    B,
    C,
    D,
    E,
}

impl Tier {
    pub const ALL: [Tier; 5] = [Tier::A, Tier::B, Tier::C, Tier::D, Tier::E];

    pub fn as_char(self) -> char {
        match self {
            Tier::A => 'A',
            Tier::B => 'B',
            Tier::C => 'C',
            Tier::D => 'D',
            Tier::E => 'E',
        }
    }

    /// The stored and serialised form: `"A"` … `"E"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::A => "A",
            Tier::B => "B",
            Tier::C => "C",
            Tier::D => "D",
            Tier::E => "E",
        }
    }

    pub fn from_char(c: char) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_char() == c)
    }

    /// The Chinese name shown to users.
    pub fn label(self) -> &'static str {
        match self {
            Tier::A => "顶尖",
            Tier::B => "领军",
            Tier::C => "拔尖",
            Tier::D => "骨干",
            Tier::E => "青年/基础",
        }
    }
}

/// A stored tier as printed for people: `C类 · 拔尖`; an unknown value as it is.
pub fn printed(stored: &str) -> String {
    stored
        .parse::<Tier>()
        .map(|t| format!("{t}类 · {}", t.label()))
        .unwrap_or_else(|_| stored.to_owned())
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

impl FromStr for Tier {
    type Err = ApiError;

    fn from_str(s: &str) -> Result<Self, ApiError> {
        let mut chars = s.trim().chars();
        match (chars.next().map(|c| c.to_ascii_uppercase()), chars.next()) {
            (Some(c), None) => Tier::from_char(c),
            _ => None,
        }
        .ok_or_else(|| ApiError::validation(format!("tier {s:?} is not one of A, B, C, D, E")))
    }
}

/// The pattern of a tier letter as `Tier::from_str` takes it: `A`–`E` in either case,
/// white space around it trimmed. (Where a tier is a serde enum, the schema is the enum.)
pub fn tier_letter_pattern() -> String {
    crate::text::trimmed_pattern("[A-Ea-e]")
}

/// [`tier_letter_pattern`] for a plain string (the directory's `?tier=`), where the
/// controls that are white space get as far as the parser and are trimmed too.
pub fn tier_letter_query_pattern() -> String {
    let ws = crate::text::WHITE_SPACE;
    format!("^{ws}*[A-Ea-e]{ws}*$")
}

/// The schema of a list of tiers given as letters (an offer's `tiers`): at least one.
pub fn tier_letters_schema() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::text::pattern_schema(
            tier_letter_pattern(),
            "A tier, A–E (either case).",
        ))
        .min_items(Some(1))
        .description(Some("Eligible tiers, at least one of `A`–`E`."))
        .build()
}

/// A non-empty set of tiers, stored as its letters in order (e.g. `"ACE"`) so that a
/// directory filter is a plain `LIKE '%C%'` on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierSet(Vec<Tier>);

impl TierSet {
    pub fn new(tiers: &[Tier]) -> Result<Self, ApiError> {
        let mut tiers = tiers.to_vec();
        tiers.sort();
        tiers.dedup();
        if tiers.is_empty() {
            return Err(ApiError::invalid_field(
                "tiers",
                "tiers must name at least one tier (A, B, C, D or E)",
            ));
        }
        Ok(TierSet(tiers))
    }

    /// Reads the stored form; unknown letters are a corrupted row, not user input.
    pub fn from_stored(s: &str) -> Vec<Tier> {
        s.chars().filter_map(Tier::from_char).collect()
    }

    pub fn to_stored(&self) -> String {
        self.0.iter().map(|t| t.as_char()).collect()
    }

    pub fn contains(&self, tier: Tier) -> bool {
        self.0.contains(&tier)
    }

    pub fn tiers(&self) -> &[Tier] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_tier_pattern_is_what_the_parser_takes() {
        crate::text::pattern_check::agrees(
            &[&tier_letter_pattern()],
            &["A", " c ", "F", "AB"],
            |s| crate::text::SingleLine::parse(s).is_ok() && s.parse::<Tier>().is_ok(),
        );
    }

    #[test]
    fn the_documented_tier_query_pattern_is_what_the_parser_takes() {
        crate::text::pattern_check::agrees(
            &[&tier_letter_query_pattern()],
            &["A", "\tc\r\n", "F", "AB"],
            |s| s.parse::<Tier>().is_ok(),
        );
    }

    #[test]
    fn tier_sets_are_sorted_deduplicated_and_never_empty() {
        let set = TierSet::new(&[Tier::E, Tier::A, Tier::E, Tier::C]).unwrap();
        assert_eq!(set.to_stored(), "ACE");
        assert_eq!(TierSet::from_stored("ACE"), vec![Tier::A, Tier::C, Tier::E]);
        assert!(TierSet::new(&[]).is_err());
        assert_eq!("c".parse::<Tier>().unwrap(), Tier::C);
        assert!("F".parse::<Tier>().is_err());
        assert!("AB".parse::<Tier>().is_err());
    }
}
