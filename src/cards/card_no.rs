//! Card numbers: 11 random digits (first non-zero) and a Damm check digit, 12 in all.
//!
//! Damm's quasigroup check catches every single-digit error and every swap of two
//! adjacent digits (Luhn misses `09`↔`90`), so a mistyped number is refused before any
//! database lookup. Random rather than sequential, so numbers do not reveal how many
//! cards exist or invite guessing a neighbour's number.

use std::fmt;

use crate::error::{ApiError, ApiResult};

/// Damm's totally anti-symmetric quasigroup of order 10 (H. M. Damm, 2004).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// The Damm check digit of ASCII digits; appending it makes [`damm_valid`] true.
pub fn damm_digit(digits: &[u8]) -> u8 {
    digits.iter().fold(0u8, |interim, d| {
        DAMM[interim as usize][(d - b'0') as usize]
    })
}

/// Whether ASCII digits (check digit last) pass the Damm check.
pub fn damm_valid(digits: &[u8]) -> bool {
    digits.iter().all(u8::is_ascii_digit) && damm_digit(digits) == 0
}

pub const CARD_NO_LEN: usize = 12;

/// A card number whose check digit is right (existence is another matter).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardNo(String);

impl CardNo {
    /// Accepts the printed grouping (`8123 4567 8901`, dashes too).
    pub fn parse(raw: &str) -> ApiResult<Self> {
        let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if digits.len() != CARD_NO_LEN || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ApiError::invalid_field(
                "card_no",
                format!("card number must have {CARD_NO_LEN} digits"),
            ));
        }
        if !damm_valid(digits.as_bytes()) {
            return Err(ApiError::invalid_field(
                "card_no",
                "card number check digit is wrong: please re-check the number for a typo",
            ));
        }
        Ok(CardNo(digits))
    }

    /// A fresh random number.
    pub fn generate() -> Self {
        let random = crate::secrets::random_bytes::<8>();
        // 9·10^10 body values; the modulo bias of a 64-bit source is below 10^-8.
        let body = 10_000_000_000u64 + u64::from_le_bytes(random) % 90_000_000_000;
        let mut digits = body.to_string().into_bytes();
        digits.push(b'0' + damm_digit(&digits));
        CardNo(String::from_utf8(digits).expect("ASCII digits"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CardNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_damm_vectors() {
        // Wikipedia's worked example: 572 → check digit 4.
        assert_eq!(damm_digit(b"572"), 4);
        assert!(damm_valid(b"5724"));
        assert!(!damm_valid(b"5723"));
        assert!(!damm_valid(b"7524"), "adjacent swap caught");
    }

    #[test]
    fn valid_and_invalid_card_numbers() {
        let body = b"81234567890";
        let mut good = body.to_vec();
        good.push(b'0' + damm_digit(body));
        let good = String::from_utf8(good).unwrap();
        assert_eq!(CardNo::parse(&good).unwrap().as_str(), good);
        let grouped = format!("{} {} {}", &good[..4], &good[4..8], &good[8..]);
        assert_eq!(CardNo::parse(&grouped).unwrap().as_str(), good);
        let wrong_check = format!("{}{}", &good[..11], (good.as_bytes()[11] - b'0' + 1) % 10);
        assert!(
            CardNo::parse(&wrong_check)
                .unwrap_err()
                .to_string()
                .contains("check digit")
        );
        for bad in ["", "12345", "8123456789012", "81234567890a"] {
            assert!(CardNo::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn generated_numbers_parse(_seed in 0u8..32) {
            let no = CardNo::generate();
            prop_assert_eq!(no.as_str().len(), CARD_NO_LEN);
            prop_assert!(no.as_str().as_bytes()[0] != b'0');
            prop_assert!(CardNo::parse(no.as_str()).is_ok());
        }

        #[test]
        fn any_single_digit_error_or_adjacent_swap_is_caught(
            pos in 0usize..CARD_NO_LEN, delta in 1u8..10, swap in 0usize..CARD_NO_LEN - 1,
        ) {
            let no = CardNo::generate();
            let mut typo = no.as_str().as_bytes().to_vec();
            typo[pos] = b'0' + (typo[pos] - b'0' + delta) % 10;
            prop_assert!(CardNo::parse(std::str::from_utf8(&typo).unwrap()).is_err());
            let mut swapped = no.as_str().as_bytes().to_vec();
            swapped.swap(swap, swap + 1);
            if swapped != no.as_str().as_bytes() {
                prop_assert!(CardNo::parse(std::str::from_utf8(&swapped).unwrap()).is_err());
            }
        }
    }
}
