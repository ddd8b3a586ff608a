//! The one way around dual control: `talentcard create-user`, run by whoever runs the
//! server. It makes the first administrator, and a second for a city that has lost the
//! others — never a third, so an operator cannot quietly mint approvers. Each use is
//! recorded as `user.break_glass` for the auditors.

use crate::audit;
use crate::auth::{Actor, Role};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::users::{self, NewAccount, User, Username};

/// `create-user` works only while fewer administrators than this are active.
pub const BELOW_ADMINS: i64 = 2;

/// Creates an official with a password the operator chose, if the city has fewer than
/// [`BELOW_ADMINS`] active administrators; audited as a break-glass use.
pub fn create_official(
    conn: &mut DbConnection,
    username: &Username,
    role: Role,
    password_hash: String,
) -> ApiResult<User> {
    if !matches!(role, Role::Admin | Role::Auditor) {
        return Err(ApiError::invalid_field(
            "role",
            "create-user makes admin and auditor accounts; merchants and talents get theirs through the API",
        ));
    }
    let admins = users::active_admins(conn)?;
    if admins >= BELOW_ADMINS {
        return Err(ApiError::conflict(format!(
            "there are {admins} active administrators: propose the account with POST /api/v1/users and have a second administrator approve it; create-user is the break-glass path for a city with fewer than {BELOW_ADMINS}"
        )));
    }
    let actor = Actor::system("cli");
    let user = users::create(
        conn,
        &actor,
        NewAccount {
            username,
            password_hash,
            role,
            display_name: "",
            merchant_id: None,
            talent_id: None,
            active: true,
        },
    )?;
    audit::record(
        conn,
        &actor,
        "user.break_glass",
        "user",
        user.id,
        None::<&()>,
        Some(&serde_json::json!({"role": role, "active_admins_before": admins})),
    )?;
    Ok(user)
}
