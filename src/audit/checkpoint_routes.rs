//! `/audit/checkpoints`, `/audit/public-key` and witnesses (DESIGN §9).

use actix_web::{get, post, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_actix_web::service_config::ServiceConfig;

use super::checkpoints::{self, Checkpoint, Reason, Witness, WitnessedCheckpoint};
use super::signing;
use crate::auth::Auth;
use crate::auth::principal::{Auditor, Official};
use crate::error::ApiResult;
use crate::pagination::{Page, PageQuery, Paginated};
use crate::schema::{audit_checkpoints, audit_witnesses};
use crate::state::AppState;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_checkpoints)
        .service(sign_checkpoint)
        .service(public_key)
        .service(add_witness);
}

/// Signed checkpoints of the audit log, newest first, with their witnesses.
#[utoipa::path(
    tag = "audit",
    params(PageQuery),
    responses((status = 200, body = Paginated<WitnessedCheckpoint>)),
    security(("bearer" = []))
)]
#[get("/audit/checkpoints")]
pub async fn list_checkpoints(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    page: crate::http::Query<PageQuery>,
) -> ApiResult<web::Json<Paginated<WitnessedCheckpoint>>> {
    let page = Page::try_from(page.into_inner())?;
    let result = state
        .db
        .run(move |conn| {
            let total: i64 = audit_checkpoints::table.count().get_result(conn)?;
            let items: Vec<Checkpoint> = audit_checkpoints::table
                .order(audit_checkpoints::size.desc())
                .limit(page.per_page)
                .offset(page.offset())
                .select(Checkpoint::as_select())
                .load(conn)?;
            let sizes: Vec<i64> = items.iter().map(|c| c.size).collect();
            let witnesses: Vec<Witness> = audit_witnesses::table
                .filter(audit_witnesses::checkpoint_size.eq_any(sizes))
                .order(audit_witnesses::id)
                .select(Witness::as_select())
                .load(conn)?;
            Ok(Paginated::new(
                checkpoints::attach(items, witnesses),
                total,
                page,
            ))
        })
        .await?;
    Ok(web::Json(result))
}

/// Seal what has been committed and sign a checkpoint over it now (or return the
/// latest one when nothing was added since).
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = Checkpoint)),
    security(("bearer" = []))
)]
#[post("/audit/checkpoints")]
pub async fn sign_checkpoint(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
) -> ApiResult<web::Json<Checkpoint>> {
    let (secrets, config) = (state.secrets.clone(), state.config.clone());
    let checkpoint = state
        .db
        .run_writing(move |conn| {
            super::seal_pending(conn)?;
            checkpoints::sign(conn, &secrets, &config, Reason::Request)
        })
        .await?;
    Ok(web::Json(checkpoint))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PublicKeys {
    /// Id of the key that signs new checkpoints.
    pub key_id: String,
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// Base64 of the 32-byte public key: pin it in `verify-export --public-key`.
    pub public_key: String,
    /// Keys that signed earlier checkpoints (before a rotation).
    pub previous: Vec<PreviousKey>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviousKey {
    pub key_id: String,
    pub public_key: String,
}

pub fn public_keys(secrets: &crate::secrets::Secrets) -> PublicKeys {
    let keys = secrets.audit_keys();
    PublicKeys {
        key_id: keys.current.clone(),
        algorithm: "Ed25519",
        public_key: signing::encode_public_key(&keys.current_public()),
        previous: keys
            .previous()
            .map(|(kid, key)| PreviousKey {
                key_id: kid.to_owned(),
                public_key: signing::encode_public_key(&key),
            })
            .collect(),
    }
}

/// The public keys that verify the server's checkpoint signatures.
#[utoipa::path(
    tag = "audit",
    responses((status = 200, body = PublicKeys)),
    security(("bearer" = []))
)]
#[get("/audit/public-key")]
pub async fn public_key(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
) -> web::Json<PublicKeys> {
    web::Json(public_keys(&state.secrets))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WitnessBody {
    /// The witness's Ed25519 public key: base64 of its 32 bytes, base64 of its DER
    /// SubjectPublicKeyInfo, or PEM.
    pub public_key: crate::text::MultiLine,
    /// Ed25519 signature over the checkpoint's `text`, base64 (64 bytes).
    pub signature: crate::text::SingleLine,
}

/// An auditor countersigns a checkpoint with a key of their own; the signature is
/// verified over the checkpoint text before it is stored.
#[utoipa::path(
    tag = "audit",
    params(("size" = i64, Path, minimum = 0)),
    request_body = WitnessBody,
    responses((status = 200, body = Witness)),
    security(("bearer" = []))
)]
#[post("/audit/checkpoints/{size}/witness")]
pub async fn add_witness(
    auth: Auth<Auditor>,
    state: web::Data<AppState>,
    size: web::Path<i64>,
    body: crate::http::Json<WitnessBody>,
) -> ApiResult<web::Json<Witness>> {
    let actor = auth.into_inner().actor();
    let size = size.into_inner();
    let body = body.into_inner();
    let witness = state
        .db
        .run_writing(move |conn| {
            checkpoints::add_witness(conn, &actor, size, &body.public_key, &body.signature)
        })
        .await?;
    Ok(web::Json(witness))
}
