//! The money rule of DESIGN §2, in one pure function: what an offer gives on a bill.
//!
//! Integer arithmetic only (fen and basis points); the discount is rounded half-up to the
//! fen once, and the subsidy is computed from that rounded discount, so stored line
//! amounts add up exactly and are never re-rounded.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// An amount of money in fen (1 元 = 100 fen), never negative.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct Fen(i64);

impl Fen {
    pub const ZERO: Fen = Fen(0);

    pub fn new(fen: i64) -> Option<Fen> {
        (fen >= 0).then_some(Fen(fen))
    }

    /// Parses a request field, naming it in the error.
    pub fn parse(field: &str, fen: i64) -> Result<Fen, ApiError> {
        Fen::new(fen).ok_or_else(|| {
            ApiError::validation(format!("{field} must be a non-negative amount in fen"))
        })
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// A rate in basis points, 0..=10000 (10000 = 100 %).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
pub struct BasisPoints(i32);

impl BasisPoints {
    pub const FULL: i32 = 10_000;

    pub fn new(bp: i32) -> Option<BasisPoints> {
        (0..=Self::FULL).contains(&bp).then_some(BasisPoints(bp))
    }

    pub fn parse(field: &str, bp: i64) -> Result<BasisPoints, ApiError> {
        i32::try_from(bp)
            .ok()
            .and_then(BasisPoints::new)
            .ok_or_else(|| {
                ApiError::validation(format!(
                    "{field} must be between 0 and 10000 basis points (10000 = 100 %)"
                ))
            })
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// How an offer reduces a bill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discount {
    /// A share of the bill, capped per use.
    Percent { rate: BasisPoints, cap: Fen },
    /// A fixed amount off, never more than the bill.
    Fixed { amount: Fen },
}

/// The money terms of an offer: all that the computation depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MoneyTerms {
    pub discount: Discount,
    pub min_spend: Fen,
    /// Share of the discount the government pays back to the merchant.
    pub subsidy: BasisPoints,
}

/// What one use of an offer on a bill comes to. `paid + discount = bill`,
/// `subsidy ≤ discount ≤ bill`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Outcome {
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub paid_fen: i64,
    pub subsidy_fen: i64,
}

/// The bill is below the offer's minimum spend (`min_spend_not_met`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSpendNotMet {
    pub min_spend_fen: i64,
}

impl From<MinSpendNotMet> for ApiError {
    fn from(e: MinSpendNotMet) -> Self {
        ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "min_spend_not_met",
            format!(
                "This offer needs a bill of at least {} fen.",
                e.min_spend_fen
            ),
        )
    }
}

/// `round_half_up(amount × bp / 10000)` for non-negative amounts, exact in i128.
fn apply_rate_half_up(amount: i64, rate: BasisPoints) -> i64 {
    let product = i128::from(amount) * i128::from(rate.get());
    let full = i128::from(BasisPoints::FULL);
    // Never larger than `amount` (rate ≤ 100 %), so it fits back into i64.
    ((product + full / 2) / full) as i64
}

/// The one computation of DESIGN §2: discount = min(round_half_up(bill × rate), cap) for
/// percent offers, min(amount, bill) for fixed ones; subsidy = round_half_up(discount ×
/// subsidy share) from the rounded discount; a bill below the minimum spend gets nothing.
pub fn compute(terms: &MoneyTerms, bill: Fen) -> Result<Outcome, MinSpendNotMet> {
    if bill < terms.min_spend {
        return Err(MinSpendNotMet {
            min_spend_fen: terms.min_spend.get(),
        });
    }
    let bill = bill.get();
    let discount = match terms.discount {
        Discount::Percent { rate, cap } => apply_rate_half_up(bill, rate).min(cap.get()),
        Discount::Fixed { amount } => amount.get().min(bill),
    };
    Ok(Outcome {
        bill_fen: bill,
        discount_fen: discount,
        paid_fen: bill - discount,
        subsidy_fen: apply_rate_half_up(discount, terms.subsidy),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fen(v: i64) -> Fen {
        Fen::new(v).unwrap()
    }
    fn bp(v: i32) -> BasisPoints {
        BasisPoints::new(v).unwrap()
    }
    fn percent(rate: i32, cap: i64, min: i64, subsidy: i32) -> MoneyTerms {
        MoneyTerms {
            discount: Discount::Percent {
                rate: bp(rate),
                cap: fen(cap),
            },
            min_spend: fen(min),
            subsidy: bp(subsidy),
        }
    }

    #[test]
    fn worked_examples_round_half_up_once() {
        // 12.5 % of 1.00 元 = 12.5 fen → 13; half of 13 = 6.5 → 7.
        let o = compute(&percent(1250, 10_000, 0, 5000), fen(100)).unwrap();
        assert_eq!((o.discount_fen, o.paid_fen, o.subsidy_fen), (13, 87, 7));
        // 12.4 fen rounds down.
        let o = compute(&percent(1240, 10_000, 0, 5000), fen(100)).unwrap();
        assert_eq!(o.discount_fen, 12);
        // 10 % of 888.88 元 = 8888.8 fen, capped at 50 元.
        let o = compute(&percent(1000, 5_000, 0, 10_000), fen(88_888)).unwrap();
        assert_eq!(
            (o.discount_fen, o.paid_fen, o.subsidy_fen),
            (5_000, 83_888, 5_000)
        );
        // A fixed 20 元 off a 15 元 bill takes the bill to zero, no further.
        let fixed = MoneyTerms {
            discount: Discount::Fixed { amount: fen(2_000) },
            min_spend: fen(0),
            subsidy: bp(3_333),
        };
        let o = compute(&fixed, fen(1_500)).unwrap();
        assert_eq!((o.discount_fen, o.paid_fen, o.subsidy_fen), (1_500, 0, 500));
    }

    #[test]
    fn bills_below_minimum_spend_get_nothing() {
        let terms = percent(1000, 5_000, 10_000, 5000);
        assert_eq!(
            compute(&terms, fen(9_999)),
            Err(MinSpendNotMet {
                min_spend_fen: 10_000
            })
        );
        assert!(compute(&terms, fen(10_000)).is_ok());
    }

    fn terms_strategy() -> impl Strategy<Value = MoneyTerms> {
        let discount = prop_oneof![
            (0..=10_000i32, 0..=1_000_000_000i64).prop_map(|(r, c)| Discount::Percent {
                rate: bp(r),
                cap: fen(c)
            }),
            (0..=1_000_000_000i64).prop_map(|a| Discount::Fixed { amount: fen(a) }),
        ];
        (discount, 0..=1_000_000i64, 0..=10_000i32).prop_map(|(discount, min, s)| MoneyTerms {
            discount,
            min_spend: fen(min),
            subsidy: bp(s),
        })
    }

    proptest! {
        #[test]
        fn outcome_invariants_hold(terms in terms_strategy(), bill in 0..=i64::MAX / 2) {
            match compute(&terms, fen(bill)) {
                Err(e) => {
                    prop_assert!(bill < terms.min_spend.get());
                    prop_assert_eq!(e.min_spend_fen, terms.min_spend.get());
                }
                Ok(o) => {
                    prop_assert!(bill >= terms.min_spend.get());
                    prop_assert_eq!(o.bill_fen, bill);
                    prop_assert!(0 <= o.discount_fen && o.discount_fen <= bill);
                    prop_assert_eq!(o.paid_fen + o.discount_fen, bill);
                    prop_assert!(0 <= o.subsidy_fen && o.subsidy_fen <= o.discount_fen);
                    match terms.discount {
                        Discount::Percent { cap, .. } => prop_assert!(o.discount_fen <= cap.get()),
                        Discount::Fixed { amount } => {
                            prop_assert_eq!(o.discount_fen, amount.get().min(bill))
                        }
                    }
                }
            }
        }

        /// Half-up exactly: the rounded value is within half a fen of the true quotient,
        /// and an exact half goes up — checked against the true fraction in integers.
        #[test]
        fn rounding_is_exact_half_up(rate in 0..=10_000i32, subsidy in 0..=10_000i32, bill in 0..=10_000_000_000i64) {
            let terms = percent(rate, i64::MAX / 4, 0, subsidy);
            let o = compute(&terms, fen(bill)).unwrap();
            let exact = i128::from(bill) * i128::from(rate); // true discount × 10000
            let d = i128::from(o.discount_fen) * 10_000;
            // d - 5000 ≤ exact < d + 5000  ⇔  half-up rounding of exact / 10000.
            prop_assert!(d - 5_000 <= exact && exact < d + 5_000);
            let exact_s = i128::from(o.discount_fen) * i128::from(subsidy);
            let s = i128::from(o.subsidy_fen) * 10_000;
            prop_assert!(s - 5_000 <= exact_s && exact_s < s + 5_000);
        }
    }
}
