//! Who redeems or quotes at a counter: the staff member behind a token, confirmed from
//! their user row and session, and their merchant.

use chrono::NaiveDateTime;

use crate::auth::Principal;
use crate::auth::principal::{Claimed, MerchantStaff, SessionRead};
use crate::codes;
use crate::codes::guard::{Failures, staff_and_failures};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};

/// Who redeems: staff already authenticated, or (the HTTP hot path) an access token whose
/// user row comes with the redemption's own read, one statement fewer per redemption.
#[derive(Debug, Clone, Copy)]
pub enum Caller<'a> {
    Staff(&'a Principal),
    Token(&'a Claimed<MerchantStaff>),
}

impl Caller<'_> {
    pub(super) fn user_id(self) -> i64 {
        match self {
            Caller::Staff(staff) => staff.user_id,
            Caller::Token(claimed) => claimed.user_id(),
        }
    }

    pub(super) fn session_id(self) -> i64 {
        match self {
            Caller::Staff(staff) => staff.session_id,
            Caller::Token(claimed) => claimed.session_id(),
        }
    }

    /// The staff member, once the token is confirmed by its user row (401/403) and the
    /// account is not locked out for entering forged codes (429), in that order.
    pub(super) fn admit(
        self,
        user: SessionRead,
        failures: Failures,
        now: NaiveDateTime,
    ) -> ApiResult<Principal> {
        match self {
            Caller::Staff(staff) => Ok(staff.clone()),
            Caller::Token(claimed) => {
                let staff = confirmed(claimed, user)?;
                codes::guard::refuse_if_throttled(failures, now)?;
                Ok(staff)
            }
        }
    }
}

/// The merchant a staff member redeems for; anyone else may not redeem.
pub fn merchant_of(staff: &Principal) -> ApiResult<i64> {
    staff
        .merchant_scope()
        .ok_or_else(|| ApiError::forbidden("Only merchant staff redeem."))
}

/// The staff member behind a claimed token, from its user row: what `Auth` would give.
fn confirmed(claimed: &Claimed<MerchantStaff>, user: SessionRead) -> ApiResult<Principal> {
    let staff = claimed.confirm(user)?.into_inner();
    merchant_of(&staff)?;
    Ok(staff)
}

/// The claimed caller confirmed from a read of its own, with the account's failed code
/// checks: for the paths off the hot one (a code that does not decode, a refusal).
pub fn session(
    conn: &mut DbConnection,
    claimed: &Claimed<MerchantStaff>,
) -> ApiResult<(Principal, Failures)> {
    let (user, failures) = staff_and_failures(conn, claimed.user_id(), claimed.session_id())?;
    Ok((confirmed(claimed, user)?, failures))
}
