//! `GET /me/codes`: the talent's phone fetches its upcoming codes.

use actix_web::{get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{CodeView, MAX_COUNT};
use crate::auth::Auth;
use crate::auth::principal::TalentRole;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(my_codes);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CodesQuery {
    /// How many codes, 1–30. Default: every slot of the current window and the ten
    /// after it, so the phone shows a valid code for 10 minutes offline.
    #[param(minimum = 1, maximum = 30)]
    pub count: Option<usize>,
}

/// The talent's current and upcoming single-use codes.
#[utoipa::path(
    tag = "codes",
    params(CodesQuery),
    responses(
        (status = 200, body = Vec<CodeView>),
        (status = 404, description = "no card", body = crate::error::Problem),
        (status = 409, description = "card_inactive", body = crate::error::Problem),
    ),
    security(("bearer" = []), ("cookie" = []))
)]
#[get("/me/codes")]
pub async fn my_codes(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
    query: crate::http::Query<CodesQuery>,
) -> ApiResult<web::Json<Vec<CodeView>>> {
    let count = query.into_inner().count;
    if let Some(n) = count
        && !(1..=MAX_COUNT).contains(&n)
    {
        return Err(ApiError::invalid_field(
            "count",
            format!("count must be between 1 and {MAX_COUNT}"),
        ));
    }
    let talent_id = auth
        .talent_id
        .ok_or_else(|| ApiError::forbidden("This account has no talent record."))?;
    let card = state
        .db
        .run(move |conn| crate::cards::current_for_talent(conn, talent_id))
        .await?
        .ok_or_else(|| ApiError::not_found("No card has been issued to you yet."))?;
    let codes = super::issue(&state.secrets.code, &card, count, crate::time::now())?;
    Ok(web::Json(codes))
}
