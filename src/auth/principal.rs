//! Who is calling, and what they may touch — decided here and nowhere else.
//!
//! [`Principal`] is extracted from a Bearer header or the HttpOnly session cookie; the
//! user row is re-read on every request so a disabled account, a logout or a password
//! change ends its tokens at once. [`Auth<R>`] adds a role check named in the handler's
//! signature; the `ensure_*` methods are the ownership checks. [`Claimed<R>`] is the same
//! check split in two for the redemption hot path, which reads the user row within its
//! own statement and confirms it there.

use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;

use crate::auth::{Role, token};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::users::{self, SessionUser};

pub const SESSION_COOKIE: &str = "tc_session";

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: i64,
    pub username: String,
    pub role: Role,
    pub merchant_id: Option<i64>,
    pub talent_id: Option<i64>,
    /// The device session of the access token (one per login).
    pub session_id: i64,
}

impl Principal {
    pub fn is_official(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Auditor)
    }

    /// The merchant a merchant owner or cashier acts for.
    pub fn merchant_scope(&self) -> Option<i64> {
        match self.role {
            Role::Merchant | Role::Cashier => self.merchant_id,
            _ => None,
        }
    }

    /// Officials see every merchant; staff only their own.
    pub fn ensure_can_view_merchant(&self, merchant_id: i64) -> ApiResult<()> {
        if self.is_official() || self.merchant_scope() == Some(merchant_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden("This belongs to another merchant."))
        }
    }

    /// Only the owner account of this very merchant.
    pub fn ensure_merchant_owner(&self, merchant_id: i64) -> ApiResult<()> {
        if self.role == Role::Merchant && self.merchant_id == Some(merchant_id) {
            Ok(())
        } else {
            Err(ApiError::forbidden(
                "Only the owner account of this merchant may do this.",
            ))
        }
    }

    /// Officials see every talent; a talent only themself.
    pub fn ensure_can_view_talent(&self, talent_id: i64) -> ApiResult<()> {
        if self.is_official() || (self.role == Role::Talent && self.talent_id == Some(talent_id)) {
            Ok(())
        } else {
            Err(ApiError::forbidden("This belongs to another talent."))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user_id),
            name: self.username.clone(),
        }
    }
}

/// Who an audit entry names as having made a change.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: Option<i64>,
    pub name: String,
}

impl Actor {
    /// A change made by the system itself or a command-line tool, e.g. `system:cli`.
    pub fn system(what: &str) -> Self {
        Actor {
            user_id: None,
            name: format!("system:{what}"),
        }
    }

    /// A change requested without login (a merchant's public application).
    pub fn anonymous() -> Self {
        Actor {
            user_id: None,
            name: "anonymous".into(),
        }
    }
}

/// The token of an `Authorization: Bearer` header, if the request has one. It wins over
/// the session cookie (and so a Bearer request is no cookie write for the CSRF check).
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

fn token_from_request(req: &HttpRequest) -> Option<String> {
    bearer_token(req)
        .map(str::to_owned)
        .or_else(|| req.cookie(SESSION_COOKIE).map(|c| c.value().to_owned()))
}

/// The signed claims of the request's access token, and the user id they name.
fn claims_of(state: &AppState, token: Option<String>) -> ApiResult<(token::Claims, i64)> {
    let token =
        token.ok_or_else(|| ApiError::unauthorized("Log in first: no access token was sent."))?;
    let claims = state.verified_tokens.decode(&state.secrets.jwt, &token)?;
    let user_id: i64 = claims
        .sub
        .parse()
        .map_err(|_| ApiError::unauthorized("The access token is invalid; log in again."))?;
    Ok((claims, user_id))
}

/// The user row and, when it is still running, the session an access token names: what
/// every authenticated request reads (see [`users::find_session`]).
pub type SessionRead = Option<(SessionUser, Option<i64>)>;

/// The caller, if the user row still backs the token — active, and not signed out
/// everywhere or re-keyed since (the token version matches) — and its device session is
/// still running (not logged out, not expired).
fn confirm(claims: &token::Claims, read: SessionRead) -> ApiResult<Principal> {
    match read {
        Some((u, Some(session_id)))
            if u.active && u.token_version == claims.ver && session_id == claims.sid =>
        {
            Ok(Principal {
                user_id: u.id,
                role: u.role()?,
                username: u.username,
                merchant_id: u.merchant_id,
                talent_id: u.talent_id,
                session_id,
            })
        }
        _ => Err(ApiError::unauthorized(
            "This session has ended; log in again.",
        )),
    }
}

async fn authenticate(state: web::Data<AppState>, token: Option<String>) -> ApiResult<Principal> {
    let (claims, user_id) = claims_of(&state, token)?;
    let session_id = claims.sid;
    let read = state
        .db
        .run(move |conn| users::find_session(conn, user_id, session_id))
        .await?;
    confirm(&claims, read)
}

impl FromRequest for Principal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if let Some(known) = req.extensions().get::<Principal>() {
            let known = known.clone();
            return Box::pin(async move { Ok(known) });
        }
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = token_from_request(req);
        let req = req.clone();
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?;
            let principal = authenticate(state, token).await?;
            req.extensions_mut().insert(principal.clone());
            Ok(principal)
        })
    }
}

/// A set of roles allowed to call a handler.
pub trait RoleSet {
    const ROLES: &'static [Role];
    /// Who may, for the 403 detail.
    const WHO: &'static str;
}

macro_rules! role_set {
    ($(#[$doc:meta])* $name:ident, $who:literal, [$($role:ident),+]) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name;
        impl RoleSet for $name {
            const ROLES: &'static [Role] = &[$(Role::$role),+];
            const WHO: &'static str = $who;
        }
    };
}

role_set!(
    /// Administrators (officials of the talent office).
    Admin, "an administrator", [Admin]);
role_set!(
    /// Auditors: read everything and countersign the audit log as witnesses.
    Auditor, "an auditor", [Auditor]);
role_set!(
    /// Administrators and auditors: read access to everything.
    Official, "an official or auditor", [Admin, Auditor]);
role_set!(
    /// A merchant's owner account.
    MerchantOwner, "a merchant owner", [Merchant]);
role_set!(
    /// Anyone working for a merchant: owner or cashier.
    MerchantStaff, "a merchant owner or cashier", [Merchant, Cashier]);
role_set!(
    /// Officials (read-wide) and merchant staff (scoped to their merchant).
    OfficialOrStaff, "an official or merchant staff", [Admin, Auditor, Merchant, Cashier]);
role_set!(
    /// Officials, and a merchant's owner for what concerns its merchant.
    OfficialOrOwner, "an official or the merchant's owner", [Admin, Auditor, Merchant]);
role_set!(
    /// Who may reverse a redemption: its merchant's staff, or an administrator.
    Reverser, "merchant staff or an administrator", [Admin, Merchant, Cashier]);
role_set!(
    /// Officials, and talents for what concerns themselves.
    OfficialOrTalent, "an official or the talent concerned", [Admin, Auditor, Talent]);
role_set!(
    /// A card holder.
    TalentRole, "a talent", [Talent]);
role_set!(
    /// Any logged-in account.
    AnyRole, "a logged-in user", [Admin, Auditor, Merchant, Cashier, Talent]);

/// A [`Principal`] whose role is in `R`; anyone else gets 403 before the handler runs.
#[derive(Debug)]
pub struct Auth<R: RoleSet>(pub Principal, PhantomData<R>);

impl<R: RoleSet> Auth<R> {
    pub fn into_inner(self) -> Principal {
        self.0
    }
}

impl<R: RoleSet> Deref for Auth<R> {
    type Target = Principal;

    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl<R: RoleSet> Auth<R> {
    fn admit(principal: Principal) -> ApiResult<Self> {
        ensure_role::<R>(principal.role)?;
        Ok(Auth(principal, PhantomData))
    }
}

/// The 403 for a role outside `R`.
fn ensure_role<R: RoleSet>(role: Role) -> ApiResult<()> {
    if R::ROLES.contains(&role) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("Only {} may do this.", R::WHO)))
    }
}

impl<R: RoleSet + 'static> FromRequest for Auth<R> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let principal = Principal::from_request(req, payload);
        Box::pin(async move { Auth::admit(principal.await?) })
    }
}

/// An access token that is genuine and claims a role in `R`, not yet checked against
/// the user row. For the redemption hot path, which reads the user row in its own
/// database work ([`Claimed::confirm`]) instead of in a round trip of its own; every
/// other handler takes [`Auth`].
#[derive(Debug)]
pub struct Claimed<R: RoleSet> {
    claims: token::Claims,
    user_id: i64,
    roles: PhantomData<R>,
}

impl<R: RoleSet> Claimed<R> {
    pub fn user_id(&self) -> i64 {
        self.user_id
    }

    /// The session the token names, for the caller's read to join.
    pub fn session_id(&self) -> i64 {
        self.claims.sid
    }

    /// What [`Auth`] would have given, from the user row (and session) read by the caller.
    pub fn confirm(&self, read: SessionRead) -> ApiResult<Auth<R>> {
        Auth::admit(confirm(&self.claims, read)?)
    }
}

impl<R: RoleSet> Claimed<R> {
    fn from_token(req: &HttpRequest) -> ApiResult<Self> {
        let state = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("AppState missing")))?;
        let (claims, user_id) = claims_of(state, token_from_request(req))?;
        // The role claim is refused early (403 before the body is read, as with `Auth`);
        // the role in the user row is checked again by `confirm`.
        ensure_role::<R>(claims.role)?;
        Ok(Claimed {
            claims,
            user_id,
            roles: PhantomData,
        })
    }
}

impl<R: RoleSet + 'static> FromRequest for Claimed<R> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Claimed::from_token(req))
    }
}

/// The caller of a public endpoint: `None` when no token was sent. A Bearer token that
/// was sent but is bad or expired is still a 401, so an API client never silently gets
/// the anonymous view because its session ended. A session cookie is different: the
/// browser sends it unasked, and a stale one (a session ended elsewhere) must not stop
/// anyone from using a public page such as the merchant application — it reads as no
/// login at all.
#[derive(Debug)]
pub struct MaybePrincipal(pub Option<Principal>);

impl FromRequest for MaybePrincipal {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.extensions().get::<Principal>().is_none() && token_from_request(req).is_none() {
            return Box::pin(async { Ok(MaybePrincipal(None)) });
        }
        let by_cookie = bearer_token(req).is_none();
        let principal = Principal::from_request(req, payload);
        Box::pin(async move {
            match principal.await {
                Ok(principal) => Ok(MaybePrincipal(Some(principal))),
                Err(e) if by_cookie && e.code() == "unauthorized" => Ok(MaybePrincipal(None)),
                Err(e) => Err(e),
            }
        })
    }
}
