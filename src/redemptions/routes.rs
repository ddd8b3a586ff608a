//! HTTP for the counter: quote, redeem, reverse. The lists are in [`super::lists`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{Caller, Quote, Quoted, RedeemRequest, Redeemed, RedemptionView};
use crate::auth::principal::{Claimed, MerchantStaff, Reverser};
use crate::auth::{Auth, Principal, Role};
use crate::cards::CardNo;
use crate::codes;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::text::RequiredReason;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(quote).service(redeem).service(reverse);
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteBody {
    /// The QR payload or the numeric code under it. Or, for a printed card, `card_no`
    /// and `pin` instead.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = crate::text::SingleLine)]
    pub code: Option<String>,
    /// The printed card's number (with `pin`, in place of `code`).
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = String, pattern = r"^[ -]*([0-9][ -]*){12}$")]
    pub card_no: Option<String>,
    /// The card's 6-digit PIN, typed by the talent.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = String, pattern = r"^\s*[0-9]{6}\s*$", format = Password)]
    pub pin: Option<String>,
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub bill_fen: i64,
    pub offer_id: Option<i64>,
}

/// What the counter presents: a talent's rolling code, or a printed card with its PIN.
enum Presented {
    Code(String),
    Card { card_no: CardNo, pin: String },
}

fn presented(
    code: Option<String>,
    card_no: Option<String>,
    pin: Option<String>,
) -> ApiResult<Presented> {
    match (code, card_no, pin) {
        (Some(code), None, None) => {
            crate::text::Policy::SingleLine.check_field("code", &code)?;
            Ok(Presented::Code(code))
        }
        (None, Some(card_no), Some(pin)) => {
            // The check digit before any lookup: a typo is not a guess.
            let card_no = CardNo::parse(&card_no)?;
            let pin = pin.trim().to_owned();
            if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ApiError::invalid_field("pin", "pin must be 6 digits"));
            }
            Ok(Presented::Card { card_no, pin })
        }
        (None, Some(_), None) => Err(ApiError::invalid_field(
            "pin",
            "send either code, or card_no with pin: the pin is missing",
        )),
        _ => Err(ApiError::invalid_field(
            "code",
            "send either code, or card_no with pin",
        )),
    }
}

fn count_refusal(state: &AppState, e: &ApiError) {
    if !matches!(e, ApiError::Internal(_) | ApiError::ConnectionLost(_)) {
        state.metrics.refusals.with_label_values(&[e.code()]).inc();
    }
}

/// Show the cashier what this code would get at this merchant. Consumes nothing.
#[utoipa::path(
    tag = "redemptions",
    request_body = QuoteBody,
    responses((status = 200, body = Quote), (status = 409, description = "code_used, card_inactive", body = crate::error::Problem), (status = 422, description = "code_invalid, code_expired, code_not_yet_valid; by PIN: card_unknown, pin_not_set, pin_wrong, pin_limit_reached", body = crate::error::Problem), (status = 423, description = "pin_locked: 5 wrong PINs in a row (15 minutes) or 10 in a day (until a new PIN is set)", body = crate::error::Problem), (status = 429, description = "too_many_attempts: this account's or merchant's forged-code and wrong-PIN guesses are used up", body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/redemptions/quote")]
pub async fn quote(
    claimed: Claimed<MerchantStaff>,
    state: web::Data<AppState>,
    body: crate::http::Json<QuoteBody>,
) -> ApiResult<web::Json<Quote>> {
    let body = body.into_inner();
    let bill = super::parse_bill(body.bill_fen)?;
    let presented = presented(body.code, body.card_no, body.pin)?;
    let secrets = state.secrets.clone();
    let quoted = state.quoted.clone();
    let rooms = state.budget_rooms.clone();
    let result = state
        .db
        .run_on_worker(move |conn| {
            let now = crate::time::now();
            match presented {
                // The session is confirmed within the quote's own read.
                Presented::Code(code) => {
                    let (quote, sale) = super::quote_by_token(
                        conn,
                        &secrets,
                        &rooms,
                        &claimed,
                        &code,
                        bill,
                        body.offer_id,
                        now,
                    )?;
                    if let Some((code, sale)) = sale {
                        quoted.keep(claimed.session_id(), code, sale);
                    }
                    Ok(quote)
                }
                Presented::Card { card_no, pin } => {
                    let (staff, failures) = super::session(conn, &claimed)?;
                    let merchant_id = super::merchant_of(&staff)?;
                    let card = super::by_pin::admit(
                        conn,
                        &secrets.pin_key(),
                        &staff,
                        failures,
                        &card_no,
                        &pin,
                        now,
                    )?;
                    super::by_pin::next_identity(conn, &card, now)?;
                    super::quote_card(conn, merchant_id, card, bill, body.offer_id, now)
                }
            }
        })
        .await;
    if let Err(e) = &result {
        count_refusal(&state, e);
    }
    Ok(web::Json(result?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedeemBody {
    /// The QR payload or the numeric code under it. Or, for a printed card, `card_no`
    /// and `pin` instead.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = crate::text::SingleLine)]
    pub code: Option<String>,
    /// The printed card's number (with `pin`, in place of `code`).
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = String, pattern = r"^[ -]*([0-9][ -]*){12}$")]
    pub card_no: Option<String>,
    /// The card's 6-digit PIN, typed by the talent.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(value_type = String, pattern = r"^\s*[0-9]{6}\s*$", format = Password)]
    pub pin: Option<String>,
    #[schema(minimum = 1, maximum = 100_000_000)]
    pub bill_fen: i64,
    pub offer_id: i64,
}

const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

fn idempotency_key(req: &HttpRequest) -> ApiResult<String> {
    let key = req
        .headers()
        .get(IDEMPOTENCY_HEADER)
        .ok_or_else(|| ApiError::bad_request("Send an Idempotency-Key header (e.g. a UUID per confirmed quote) so a retry never redeems twice."))?
        .to_str()
        .map_err(|_| ApiError::bad_request("The Idempotency-Key header must be plain text."))?
        .trim()
        .to_owned();
    // `to_str` lets a tab through; the key is stored, so it meets the text rule too.
    crate::text::Policy::SingleLine.check_field("Idempotency-Key", &key)?;
    if key.is_empty() || key.len() > 100 {
        return Err(ApiError::bad_request(
            "The Idempotency-Key header must have 1 to 100 characters.",
        ));
    }
    Ok(key)
}

/// The first result of a refused request's Idempotency-Key, if it went through before,
/// else the refusal. A retry of a request that went through cannot succeed again (its
/// code is used, or expired by now), so the key is looked up only on refusal: one
/// statement fewer for every first attempt. The same key with another body is refused
/// here too (422).
fn replay_or(
    conn: &mut crate::db::DbConnection,
    staff: &Principal,
    request: &RedeemRequest,
    refusal: ApiError,
) -> ApiResult<(Redeemed, Vec<RedemptionView>)> {
    match super::replay(conn, super::merchant_of(staff)?, request)? {
        Some(first) => {
            let views = super::views(conn, std::slice::from_ref(&first), true)?;
            Ok((Redeemed::Replayed(first), views))
        }
        None => Err(refusal),
    }
}

/// Redeem an offer with a talent's code, or with a printed card and its PIN (at most 3
/// a day per card). Exactly once per code, and per Idempotency-Key: a retry returns the
/// first result (`Idempotent-Replayed: true`).
#[utoipa::path(
    tag = "redemptions",
    request_body = RedeemBody,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 100, description = "Unique per redemption attempt; retries reuse it")),
    responses(
        (status = 201, body = RedemptionView),
        (status = 409, description = "code_used, card_inactive", body = crate::error::Problem),
        (status = 422, description = "code_invalid, code_expired, not_eligible, limit_reached, min_spend_not_met, budget_exhausted, idempotency_mismatch; by PIN: card_unknown, pin_not_set, pin_wrong, pin_limit_reached", body = crate::error::Problem),
        (status = 423, description = "pin_locked: 5 wrong PINs in a row (15 minutes) or 10 in a day (until a new PIN is set)", body = crate::error::Problem),
        (status = 429, description = "too_many_attempts: this account's or merchant's forged-code and wrong-PIN guesses are used up", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/redemptions")]
pub async fn redeem(
    claimed: Claimed<MerchantStaff>,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: crate::http::Json<RedeemBody>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let idempotency_key = idempotency_key(&req)?;
    let bill = super::parse_bill(body.bill_fen)?;
    let (code, by_card) = match presented(body.code, body.card_no, body.pin)? {
        Presented::Code(code) => (code, None),
        // The request's fingerprint names the card, never the PIN.
        Presented::Card { card_no, pin } => (format!("card:{card_no}"), Some((card_no, pin))),
    };
    let request = RedeemRequest {
        idempotency_key,
        bill,
        code,
        offer_id: body.offer_id,
    };
    let secrets = state.secrets.clone();
    let quoted = state.quoted.clone();
    let paths = state.metrics.redemption_paths.clone();
    let result = state
        .db
        .run_writing_on_worker(move |conn| {
            let now = crate::time::now();
            if let Some((card_no, pin)) = by_card {
                return redeem_by_pin(conn, &secrets, &claimed, &request, &card_no, &pin, now);
            }
            let refusal = match codes::decode(&secrets.code, &request.code, now) {
                // The usual case: the session and the guessing limit are judged from the
                // user row the redemption reads with the card and the offer.
                Ok(code) => {
                    // A code this session just quoted: one statement, if nothing moved.
                    let path =
                        match super::redeem_quoted(conn, &quoted, &claimed, &request, code, now)? {
                            Quoted::Made(made) => {
                                paths.with_label_values(&["quoted"]).inc();
                                return Ok((
                                    Redeemed::Created(made.redemption),
                                    vec![made.receipt],
                                ));
                            }
                            Quoted::Moved => "quoted_then_transaction",
                            Quoted::NotQuoted => "transaction",
                        };
                    match super::redeem_code(conn, Caller::Token(&claimed), &request, code, now) {
                        Ok(made) => {
                            paths.with_label_values(&[path]).inc();
                            return Ok((Redeemed::Created(made.redemption), vec![made.receipt]));
                        }
                        // Refused for the session: nothing to replay.
                        Err(refusal)
                            if matches!(
                                actix_web::ResponseError::status_code(&refusal),
                                StatusCode::UNAUTHORIZED | StatusCode::TOO_MANY_REQUESTS
                            ) =>
                        {
                            return Err(refusal);
                        }
                        Err(refusal) => refusal,
                    }
                }
                // A code that is not genuine or not current: the session and the guessing
                // limit are judged first, and a wrong signature counts against the account.
                Err(error) => {
                    let (staff, failures) = super::session(conn, &claimed)?;
                    codes::guard::refuse_if_throttled(failures, now)?;
                    let refusal = codes::guard::refuse_undecoded(
                        conn,
                        staff.user_id,
                        staff.merchant_scope(),
                        failures,
                        error,
                        now,
                    );
                    return replay_or(conn, &staff, &request, refusal);
                }
            };
            let (staff, _) = super::session(conn, &claimed)?;
            replay_or(conn, &staff, &request, refusal)
        })
        .await;
    let (redeemed, mut views) = match result {
        Ok(ok) => ok,
        Err(e) => {
            count_refusal(&state, &e);
            return Err(e);
        }
    };
    let view = views
        .pop()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("redemption view missing")))?;
    Ok(match redeemed {
        Redeemed::Created(r) => {
            state
                .metrics
                .redemptions
                .with_label_values(&[&r.category])
                .inc();
            state.budget_rooms.took(&r.booking());
            HttpResponse::Created().json(view)
        }
        Redeemed::Replayed(_) => HttpResponse::Created()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(view),
    })
}

/// A redemption with the printed card and its PIN (see [`super::by_pin`]): the first
/// result of its Idempotency-Key, else the PIN tried once and the card's next PIN
/// identity for today taken — the next one if a concurrent counter took it first.
fn redeem_by_pin(
    conn: &mut crate::db::DbConnection,
    secrets: &crate::secrets::Secrets,
    claimed: &Claimed<MerchantStaff>,
    request: &RedeemRequest,
    card_no: &CardNo,
    pin: &str,
    now: chrono::NaiveDateTime,
) -> ApiResult<(Redeemed, Vec<RedemptionView>)> {
    let (staff, failures) = super::session(conn, claimed)?;
    codes::guard::refuse_if_throttled(failures, now)?;
    if let Some(first) = super::replay(conn, super::merchant_of(&staff)?, request)? {
        let views = super::views(conn, std::slice::from_ref(&first), true)?;
        return Ok((Redeemed::Replayed(first), views));
    }
    let card = super::by_pin::admit(
        conn,
        &secrets.pin_key(),
        &staff,
        failures,
        card_no,
        pin,
        now,
    )?;
    for _ in 0..crate::pins::REDEMPTIONS_PER_DAY {
        let identity = super::by_pin::next_identity(conn, &card, now)?;
        match super::redeem_code(conn, Caller::Staff(&staff), request, identity, now) {
            Ok(made) => return Ok((Redeemed::Created(made.redemption), vec![made.receipt])),
            Err(e) if e.code() == "code_used" => continue,
            Err(e) => return replay_or(conn, &staff, request, e),
        }
    }
    Err(super::by_pin::limit_reached())
}

/// Reverse a redemption (merchant staff: their own, within 24 hours; administrators:
/// any time). The subsidy reservation is released; after settlement the reversal
/// becomes a negative line of the next settlement.
#[utoipa::path(
    tag = "redemptions",
    params(("id" = i64, Path)),
    request_body = RequiredReason,
    responses((status = 200, body = RedemptionView), (status = 409, description = "already reversed", body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/redemptions/{id}/reverse")]
pub async fn reverse(
    auth: Auth<Reverser>,
    state: web::Data<AppState>,
    id: web::Path<i64>,
    body: crate::http::Json<RequiredReason>,
) -> ApiResult<web::Json<RedemptionView>> {
    let reason = body.parse()?;
    let id = id.into_inner();
    let principal = auth.into_inner();
    let view = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let redemption = super::get(conn, id)?;
            if principal.role != Role::Admin {
                principal.ensure_can_view_merchant(redemption.merchant_id)?;
                if now - redemption.created_at > super::reversal_window() {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        "invalid_transition",
                        "Merchant staff can reverse a redemption within 24 hours; ask the talent office after that.",
                    ));
                }
            }
            let reversed = super::reverse(conn, &principal.actor(), &redemption, &reason, now)?;
            Ok(super::views(conn, &[reversed], principal.role != Role::Admin)?.remove(0))
        })
        .await?;
    state.budget_rooms.forget();
    Ok(web::Json(view))
}
