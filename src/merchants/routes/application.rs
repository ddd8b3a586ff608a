//! The public application form: anyone may apply to join the alliance, within a limit
//! per address; the districts it may name are public too.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::auth::password::Password;
use crate::auth::principal::MaybePrincipal;
use crate::auth::{Actor, Role};
use crate::db::write_tx;
use crate::error::{ApiError, ApiResult, Problem};
use crate::http::client::client_key;
use crate::merchants::domain::{self, Category, Coordinates, District, Uscc};
use crate::merchants::{MerchantRecord, NewMerchant};
use crate::pagination::{Page, Paginated};
use crate::ratelimit::{self, Limit, Take};
use crate::state::AppState;
use crate::users::{self, Username};

/// A merchant's application (DESIGN §4).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Application {
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*[^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u200B-\u200D\u202A-\u202E\u2060\u2066-\u2069\uFEFF]*$")]
    pub name: crate::text::DisplayName,
    #[schema(schema_with = domain::uscc_schema)]
    pub uscc: crate::text::SingleLine,
    #[schema(value_type = String, pattern = "^(clothing|food|housing|transport|medical|education|leisure|other)$")]
    pub category: crate::text::SingleLine,
    /// One of the configured districts (`DISTRICTS`).
    pub district: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub address: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub contact_name: crate::text::SingleLine,
    #[schema(schema_with = domain::contact_phone_schema)]
    pub contact_phone: crate::text::SingleLine,
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*[^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069 \u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]*$")]
    pub bank_name: crate::text::SingleLine,
    #[schema(schema_with = domain::bank_account_schema)]
    pub bank_account: crate::text::SingleLine,
    #[schema(schema_with = crate::users::username_schema)]
    pub owner_username: crate::text::SingleLine,
    /// Better left out: the owner then sets their own password with the activation code
    /// the approving official hands over (DESIGN §10). Still taken, for existing clients.
    #[serde(default, deserialize_with = "crate::text::string_when_present")]
    #[schema(schema_with = crate::auth::password::new_password_schema)]
    pub owner_password: Option<String>,
    /// WGS-84 latitude, with `lon`.
    #[serde(default)]
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    #[serde(default)]
    #[schema(minimum = -180, maximum = 180)]
    pub lon: Option<f64>,
}

/// `lat` and `lon` come as a pair: both numbers, or both left out or `null`.
/// (`dependentRequired` would not do: it counts a `null` as given.)
pub fn application_rules() -> serde_json::Value {
    serde_json::json!({"oneOf": [
        {
            "required": ["lat", "lon"],
            "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}
        },
        {"properties": {"lat": {"type": "null"}, "lon": {"type": "null"}}}
    ]})
}

/// Applications one address may send per hour without logging in: a shop applies once,
/// and each application hashes a password and leaves a pending merchant to review.
pub const APPLICATIONS_PER_ADDRESS_PER_HOUR: i32 = 10;

/// Apply to join the alliance (no login needed). The merchant starts `pending`; its owner
/// account can log in once an administrator approves it.
#[utoipa::path(
    tag = "merchants",
    request_body = Application,
    responses(
        (status = 201, body = MerchantRecord),
        (status = 401, description = "`unauthorized`: a token was sent but is not valid; send none to apply anonymously", body = Problem),
        (status = 409, description = "USCC or username already registered", body = Problem),
        (status = 422, body = Problem),
        (status = 429, description = "Too many applications from this address; see Retry-After", body = Problem)
    )
)]
#[post("/merchants")]
pub async fn apply(
    req: HttpRequest,
    caller: MaybePrincipal,
    state: web::Data<AppState>,
    body: crate::http::Json<Application>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let districts = &state.config.districts;
    let owner_password = body
        .owner_password
        .as_deref()
        .map(|raw| Password::parse(raw).map_err(|e| rename_field(e, "password", "owner_password")))
        .transpose()?;
    let application = (
        domain::required_text("name", &body.name, 100)?,
        Uscc::parse(&body.uscc)?,
        Category::parse(&body.category)?,
        District::parse(&body.district, districts)?,
        domain::required_text("address", &body.address, 200)?,
        Coordinates::parse(body.lat, body.lon)?,
        domain::required_text("contact_name", &body.contact_name, 50)?,
        domain::parse_phone(&body.contact_phone)?,
        domain::required_text("bank_name", &body.bank_name, 100)?,
        domain::parse_bank_account(&body.bank_account)?,
        Username::parse(&body.owner_username)
            .map_err(|e| rename_field(e, "username", "owner_username"))?,
    );
    let is_admin = caller.0.as_ref().is_some_and(|p| p.role == Role::Admin);
    let actor = caller
        .0
        .as_ref()
        .map_or_else(Actor::anonymous, |p| p.actor());
    // Counted once the form is valid (a typo costs nothing) and whatever the outcome: a
    // 409 answer is what someone probing for taken usernames wants.
    if !is_admin {
        let bucket = format!("apply|{}", client_key(&req, &state.config.trusted_proxies));
        let now = crate::time::now();
        let limit = Limit {
            max: APPLICATIONS_PER_ADDRESS_PER_HOUR,
            window: chrono::Duration::hours(1),
        };
        let taken = state
            .db
            .run_writing(move |conn| ratelimit::take(conn, &bucket, limit, now))
            .await?;
        if let Take::Refused { until } = taken {
            return Err(ApiError::rate_limited(
                "too_many_requests",
                format!(
                    "Too many applications from this address; try again in {} minutes.",
                    ratelimit::wait_in(until, now, 60)
                ),
                until,
                now,
            ));
        }
    }
    let record = state
        .db
        .run(move |conn| {
            let (
                name,
                uscc,
                category,
                district,
                address,
                coordinates,
                contact_name,
                contact_phone,
                bank_name,
                bank_account,
                owner_username,
            ) = application;
            // Hash before taking the write lock: argon2 takes tens of milliseconds.
            let owner_password_hash = match &owner_password {
                Some(password) => users::hash_password(password)?,
                None => users::UNUSABLE_PASSWORD_HASH.to_owned(),
            };
            write_tx(conn, |conn| {
                crate::merchants::apply(
                    conn,
                    &actor,
                    NewMerchant {
                        name,
                        uscc,
                        category,
                        district,
                        address,
                        coordinates,
                        contact_name,
                        contact_phone,
                        bank_name,
                        bank_account,
                        owner_username,
                        owner_password_hash,
                    },
                )
            })?
            .record()
        })
        .await?;
    Ok(HttpResponse::Created().json(record))
}

/// The districts an application may name, in their configured order (`DISTRICTS`), so
/// the public form offers this deployment's list rather than a copy of it. No login.
#[utoipa::path(
    tag = "merchants",
    responses((status = 200, description = "Every configured district, on one page", body = Paginated<String>))
)]
#[get("/districts")]
pub async fn list_districts(state: web::Data<AppState>) -> web::Json<Paginated<String>> {
    let items = state.config.districts.clone();
    let n = i64::try_from(items.len()).unwrap_or(i64::MAX);
    // The configuration refuses an empty list, so one page of all of them is valid paging.
    let page = Page {
        page: 1,
        per_page: n.max(1),
    };
    web::Json(Paginated::new(items, n, page))
}

/// Shared validators speak of `username`/`password`; the form's fields are prefixed.
fn rename_field(e: ApiError, from: &str, to: &'static str) -> ApiError {
    match e {
        ApiError::Problem {
            code: "validation",
            detail,
            ..
        } => ApiError::invalid_field(to, detail.replacen(from, to, 1)),
        other => other,
    }
}
