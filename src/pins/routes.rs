//! Setting a PIN: the talent signed in (with their password), or an official with the
//! talent present (audited). Never a counter.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::Pin;
use crate::auth::Auth;
use crate::auth::password;
use crate::auth::principal::{Admin, TalentRole};
use crate::cards::{self, Card, CardNo, CardStatus};
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::talents::{Field, PiiVault};

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(set_my_pin).service(set_card_pin);
}

fn pin_schema() -> utoipa::openapi::schema::Object {
    crate::text::pattern_schema(
        r"^\s*[0-9]{6}\s*$".to_owned(),
        "Six digits: not one digit six times, not a run (123456, 654321), not a repeated pattern (121212), not the holder's birth date.",
    )
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMyPin {
    #[schema(schema_with = pin_schema)]
    pub pin: String,
    /// The account's password: a PIN unlocks the card at any counter.
    #[schema(format = Password)]
    pub current_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetCardPin {
    #[schema(schema_with = pin_schema)]
    pub pin: String,
}

/// The PIN for a card that can still be used, checked against its holder's birth date.
fn pin_for(
    conn: &mut DbConnection,
    vault: &PiiVault,
    card: &Card,
    raw: &str,
    now: chrono::NaiveDateTime,
) -> ApiResult<Pin> {
    if !matches!(
        card.status_at(now),
        CardStatus::Active | CardStatus::Suspended
    ) {
        return Err(ApiError::invalid_transition(format!(
            "Card {} is {}: a PIN is set on a card in use.",
            card.card_no,
            card.status_at(now).as_str()
        )));
    }
    let talent = crate::talents::find(conn, card.talent_id)?;
    let id_number = vault.decrypt(Field::IdNumber, &talent.id_number_enc)?;
    Pin::parse(raw, super::birth_of(&id_number))
}

/// Set or change the PIN of my card, for paying with the printed card where I have no
/// phone with me. Needs my password.
#[utoipa::path(
    tag = "cards",
    request_body = SetMyPin,
    responses(
        (status = 204, description = "Set; any PIN lock is cleared"),
        (status = 401, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)
    ),
    security(("bearer" = []), ("cookie" = []))
)]
#[post("/me/pin")]
pub async fn set_my_pin(
    auth: Auth<TalentRole>,
    state: web::Data<AppState>,
    body: crate::http::Json<SetMyPin>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let principal = auth.into_inner();
    let talent_id = principal
        .talent_id
        .ok_or_else(|| ApiError::forbidden("This account has no talent record."))?;
    let vault = PiiVault::new(&state.secrets);
    let key = state.secrets.pin_key();
    let actor = principal.actor();
    state
        .db
        .run_writing(move |conn| {
            let user = crate::users::find_by_id(conn, principal.user_id)?
                .ok_or_else(|| ApiError::not_found("No such user."))?;
            if !password::verify(&body.current_password, Some(&user.password_hash)) {
                return Err(ApiError::unauthorized("The current password is wrong."));
            }
            let now = crate::time::now();
            write_tx(conn, |conn| {
                let card = cards::current_for_talent(conn, talent_id)?
                    .ok_or_else(|| ApiError::not_found("No card has been issued to you yet."))?;
                let pin = pin_for(conn, &vault, &card, &body.pin, now)?;
                super::set(conn, &key, &actor, &card, &pin, now)
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Set a card's PIN with the talent present at the office (audited): for talents who
/// do not use the app, or forgot their PIN. Clears any PIN lock.
#[utoipa::path(
    tag = "cards",
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),
    request_body = SetCardPin,
    responses(
        (status = 204, description = "Set; any PIN lock is cleared"),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/cards/{card_no}/pin")]
pub async fn set_card_pin(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: crate::http::Json<SetCardPin>,
) -> ApiResult<HttpResponse> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let body = body.into_inner();
    let vault = PiiVault::new(&state.secrets);
    let key = state.secrets.pin_key();
    let actor = auth.actor();
    state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let card = cards::find_by_no(conn, &card_no)?;
            let pin = pin_for(conn, &vault, &card, &body.pin, now)?;
            super::set(conn, &key, &actor, &card, &pin, now)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
