//! Key rotation under dual control: `POST /keys/{purpose}/rotate` proposes it; once a
//! second admin approved, the operator carries it out on the server with
//! `talentcard rotate-key --purpose P --proposal ID` (the keys live in the secrets file,
//! which only the host can write, and every instance must restart to use a new key).
//! The command refuses without an approved, not yet carried out proposal for that
//! purpose, except as break glass while fewer than two admins are active.

use actix_web::{HttpResponse, post, web};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::{NewProposal, Proposal, Proposed};
use crate::audit;
use crate::auth::principal::Admin;
use crate::auth::{Actor, Auth};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::proposals;
use crate::secrets::Secrets;
use crate::state::AppState;

pub const ROTATE: &str = "key.rotate";

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(propose_rotation);
}

/// Which signing key: access tokens, the talents' rolling codes, or the audit
/// checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyPurpose {
    Jwt,
    Code,
    Audit,
}

impl KeyPurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyPurpose::Jwt => "jwt",
            KeyPurpose::Code => "code",
            KeyPurpose::Audit => "audit",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            KeyPurpose::Jwt => "the key that signs access tokens",
            KeyPurpose::Code => "the key that signs the talents' rolling codes",
            KeyPurpose::Audit => "the key that signs audit checkpoints",
        }
    }
}

impl std::str::FromStr for KeyPurpose {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "jwt" => Ok(KeyPurpose::Jwt),
            "code" => Ok(KeyPurpose::Code),
            "audit" => Ok(KeyPurpose::Audit),
            other => Err(format!(
                "unknown key purpose {other:?}: use jwt, code or audit"
            )),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Rotation {
    purpose: KeyPurpose,
}

/// What `rotate-key` records in the proposal once it has carried it out.
#[derive(Debug, Serialize, Deserialize)]
struct CarriedOut {
    purpose: KeyPurpose,
    kid: String,
    #[serde(with = "naive_rfc3339")]
    carried_out_at: NaiveDateTime,
}

mod naive_rfc3339 {
    use chrono::NaiveDateTime;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &NaiveDateTime, s: S) -> Result<S::Ok, S::Error> {
        crate::time::rfc3339_local::serialize(t, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<NaiveDateTime, D::Error> {
        let s = String::deserialize(d)?;
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| t.naive_utc())
            .map_err(serde::de::Error::custom)
    }
}

/// Propose rotating a signing key. After a second administrator approves, the operator
/// runs `talentcard rotate-key --purpose P --proposal ID` on the server and restarts
/// the instances; old keys keep verifying what they signed.
#[utoipa::path(
    tag = "proposals",
    params(("purpose" = inline(KeyPurpose), Path, description = "jwt, code or audit")),
    responses(
        (status = 202, description = "Proposed; waits for a second administrator", body = Proposed),
        (status = 404, description = "Unknown purpose", body = crate::error::Problem),
        (status = 409, description = "Already proposed", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[post("/keys/{purpose}/rotate")]
pub async fn propose_rotation(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    purpose: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let purpose: KeyPurpose = purpose
        .parse()
        .map_err(|e: String| ApiError::not_found(e))?;
    let principal = auth.into_inner();
    let proposal = state
        .db
        .write(move |conn| {
            let now = crate::time::now();
            let same = |p: &Proposal| {
                p.payload::<Rotation>()
                    .is_ok_and(|r| r.purpose == purpose)
            };
            if let Some(id) = super::open_exists(conn, ROTATE, same, now)? {
                return Err(ApiError::conflict(format!(
                    "Proposal {id} already proposes this and waits for a second administrator."
                )));
            }
            super::create(
                conn,
                &principal,
                NewProposal {
                    kind: ROTATE,
                    summary: format!(
                        "Rotate {}: the operator then runs `talentcard rotate-key --purpose {}` with this proposal's id and restarts the instances.",
                        purpose.describe(),
                        purpose.as_str()
                    ),
                    payload: &Rotation { purpose },
                    target_user_id: None,
                },
                now,
            )
        })
        .await?;
    Ok(HttpResponse::Accepted().json(Proposed { proposal }))
}

/// Rotates the key of `purpose` in `secrets` (the caller saves the file), as an approved
/// proposal allows — or, without one, as break glass while fewer than two admins are
/// active. Records it in the proposal and the audit log. Returns the new key id.
pub fn carry_out(
    conn: &mut DbConnection,
    secrets: &mut Secrets,
    purpose: KeyPurpose,
    proposal_id: Option<i64>,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let actor = Actor::system("cli");
    let Some(id) = proposal_id else {
        let admins = crate::users::active_admins(conn)?;
        if admins >= super::break_glass::BELOW_ADMINS {
            return Err(ApiError::conflict(format!(
                "there are {admins} active administrators: propose the rotation (POST /api/v1/keys/{}/rotate), have a second administrator approve it, then pass --proposal ID",
                purpose.as_str()
            )));
        }
        let kid = rotate(secrets, purpose);
        audit::record(
            conn,
            &actor,
            "key.rotate.break_glass",
            "key",
            purpose.as_str(),
            None::<&()>,
            Some(&serde_json::json!({"kid": kid, "active_admins": admins})),
        )?;
        return Ok(kid);
    };
    let p = super::find(conn, id)?;
    let asked: Rotation = if p.kind == ROTATE {
        p.payload()?
    } else {
        return Err(ApiError::conflict(format!(
            "Proposal {id} is a {}, not a key rotation.",
            p.kind
        )));
    };
    if asked.purpose != purpose {
        return Err(ApiError::conflict(format!(
            "Proposal {id} rotates the {} key, not the {} key.",
            asked.purpose.as_str(),
            purpose.as_str()
        )));
    }
    if p.status != "approved" {
        return Err(ApiError::conflict(format!(
            "Proposal {id} is {}; a second administrator must approve it first.",
            p.status(now).as_str()
        )));
    }
    if p.result
        .as_deref()
        .is_some_and(|r| serde_json::from_str::<CarriedOut>(r).is_ok())
    {
        return Err(ApiError::conflict(format!(
            "Proposal {id} was carried out already; propose a new rotation."
        )));
    }
    let kid = rotate(secrets, purpose);
    let done = CarriedOut {
        purpose,
        kid: kid.clone(),
        carried_out_at: now,
    };
    diesel::update(proposals::table.find(id))
        .set(proposals::result.eq(serde_json::to_string(&done).map_err(ApiError::internal)?))
        .execute(conn)?;
    audit::record(
        conn,
        &actor,
        "key.rotate",
        "proposal",
        id,
        None::<&()>,
        Some(&done),
    )?;
    Ok(kid)
}

fn rotate(secrets: &mut Secrets, purpose: KeyPurpose) -> String {
    match purpose {
        KeyPurpose::Jwt => secrets.jwt.rotate("jwt-"),
        KeyPurpose::Code => secrets.code.rotate(""),
        KeyPurpose::Audit => secrets.audit_keys_mut().rotate(),
    }
}
