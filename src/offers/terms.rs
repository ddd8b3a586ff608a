//! The terms a merchant sends for an offer, and the rules they must meet before they
//! are stored.

use chrono::NaiveDateTime;

use super::OfferKind;
use super::money::{BasisPoints, Fen};
use crate::error::{ApiError, ApiResult};
use crate::tier::TierSet;

/// An offer to store; [`create`](super::create) validates it.
#[derive(Debug, Clone)]
pub struct NewOffer {
    pub title: String,
    pub kind: OfferKind,
    pub percent_bp: Option<i32>,
    pub amount_fen: Option<i64>,
    pub min_spend_fen: i64,
    pub max_discount_fen: Option<i64>,
    pub tiers: TierSet,
    pub per_card_daily: Option<i32>,
    pub per_card_monthly: Option<i32>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub subsidy_bp: i32,
    /// Family (dependent) cards may use it too.
    pub dependents: bool,
}

impl NewOffer {
    /// The rules of issue 4: percent 1..=10000 bp with a cap, fixed > 0, subsidy
    /// 0..=10000 bp, positive limits, dates in order.
    pub fn validate(&self) -> ApiResult<()> {
        let title = self.title.trim();
        if title.is_empty() || title.chars().count() > 100 {
            return Err(ApiError::invalid_field(
                "title",
                "title must have 1 to 100 characters",
            ));
        }
        match self.kind {
            OfferKind::Percent => {
                match self.percent_bp {
                    Some(bp) if (1..=BasisPoints::FULL).contains(&bp) => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "percent_bp",
                            "percent_bp must be between 1 and 10000 basis points (10000 = 100 %)",
                        ));
                    }
                    None => {
                        return Err(ApiError::validation("a percent offer needs percent_bp"));
                    }
                }
                match self.max_discount_fen {
                    Some(cap) if cap > 0 => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "max_discount_fen",
                            "max_discount_fen must be more than 0 fen",
                        ));
                    }
                    None => {
                        return Err(ApiError::validation(
                            "a percent offer needs max_discount_fen, the most it gives per use",
                        ));
                    }
                }
                if self.amount_fen.is_some() {
                    return Err(ApiError::validation(
                        "amount_fen belongs to fixed offers; a percent offer uses percent_bp",
                    ));
                }
            }
            OfferKind::Fixed => {
                match self.amount_fen {
                    Some(a) if a > 0 => {}
                    Some(_) => {
                        return Err(ApiError::invalid_field(
                            "amount_fen",
                            "amount_fen must be more than 0 fen",
                        ));
                    }
                    None => return Err(ApiError::validation("a fixed offer needs amount_fen")),
                }
                if self.percent_bp.is_some() || self.max_discount_fen.is_some() {
                    return Err(ApiError::validation(
                        "percent_bp and max_discount_fen belong to percent offers; a fixed offer gives amount_fen, at most the bill",
                    ));
                }
            }
        }
        Fen::parse("min_spend_fen", self.min_spend_fen)?;
        BasisPoints::parse("subsidy_bp", i64::from(self.subsidy_bp))?;
        for (field, limit) in [
            ("per_card_daily", self.per_card_daily),
            ("per_card_monthly", self.per_card_monthly),
        ] {
            if limit.is_some_and(|l| l < 1) {
                return Err(ApiError::validation(format!(
                    "{field} must be at least 1 when given (leave it out for no limit)"
                )));
            }
        }
        if let (Some(d), Some(m)) = (self.per_card_daily, self.per_card_monthly)
            && d > m
        {
            return Err(ApiError::validation(
                "per_card_daily cannot be more than per_card_monthly",
            ));
        }
        if let (Some(from), Some(until)) = (self.valid_from, self.valid_until)
            && from >= until
        {
            return Err(ApiError::invalid_field(
                "valid_from",
                "valid_from must be before valid_until",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::Tier;

    fn percent_offer() -> NewOffer {
        NewOffer {
            title: "九折".into(),
            kind: OfferKind::Percent,
            percent_bp: Some(1000),
            amount_fen: None,
            min_spend_fen: 0,
            max_discount_fen: Some(5_000),
            tiers: TierSet::new(&[Tier::A]).unwrap(),
            per_card_daily: None,
            per_card_monthly: None,
            valid_from: None,
            valid_until: None,
            subsidy_bp: 5000,
            dependents: false,
        }
    }

    #[test]
    fn offer_rules_refuse_incomplete_or_out_of_range_terms() {
        assert!(percent_offer().validate().is_ok());
        type Breakage = Box<dyn Fn(&mut NewOffer)>;
        let cases: Vec<Breakage> = vec![
            Box::new(|o| o.percent_bp = Some(0)),
            Box::new(|o| o.percent_bp = Some(10_001)),
            Box::new(|o| o.percent_bp = None),
            Box::new(|o| o.max_discount_fen = None),
            Box::new(|o| o.max_discount_fen = Some(0)),
            Box::new(|o| o.amount_fen = Some(100)),
            Box::new(|o| o.subsidy_bp = 10_001),
            Box::new(|o| o.subsidy_bp = -1),
            Box::new(|o| o.min_spend_fen = -1),
            Box::new(|o| o.per_card_daily = Some(0)),
            Box::new(|o| {
                o.per_card_daily = Some(5);
                o.per_card_monthly = Some(4);
            }),
            Box::new(|o| o.title = "  ".into()),
            Box::new(|o| {
                let t = crate::time::now();
                o.valid_from = Some(t);
                o.valid_until = Some(t);
            }),
            Box::new(|o| {
                o.kind = OfferKind::Fixed;
                o.percent_bp = None;
                o.max_discount_fen = None;
                o.amount_fen = Some(0);
            }),
            Box::new(|o| {
                o.kind = OfferKind::Fixed;
                o.amount_fen = Some(100);
            }),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut offer = percent_offer();
            case(&mut offer);
            assert!(offer.validate().is_err(), "case {i} accepted");
        }
    }
}
