//! Partner merchants (合伙人商家): the application, the approval workflow, cashier
//! accounts and the public directory.
//!
//! A merchant applies (no login), an administrator approves it, and only then may its
//! owner account log in. Suspension closes every account of the merchant at once (their
//! tokens die with the version bump in [`users::set_merchant_accounts_active`]).

pub mod domain;
pub mod routes;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Actor, Role};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::offers::PublicOffer;
use crate::schema::merchants;
// The table; `users` is the accounts module.
use crate::schema::users as user_rows;
use crate::users::{self, NewAccount, User, UserView, Username};
pub use domain::{Category, Coordinates, District, Uscc};

/// The stored row, full bank account and contact phone included. Not `Serialize`: what
/// leaves the process is a [`MerchantRecord`] or a [`DirectoryEntry`], so no full row can
/// slip into a response or an audit snapshot.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = merchants)]
pub struct Merchant {
    pub id: i64,
    pub name: String,
    pub uscc: String,
    pub category: String,
    pub district: String,
    pub address: String,
    pub lat_e6: Option<i32>,
    pub lon_e6: Option<i32>,
    pub contact_name: String,
    pub contact_phone: String,
    pub bank_name: String,
    pub bank_account: String,
    pub status: String,
    pub status_reason: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Merchant workflow states (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MerchantStatus {
    Pending,
    Active,
    Suspended,
    Rejected,
}

impl MerchantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MerchantStatus::Pending => "pending",
            MerchantStatus::Active => "active",
            MerchantStatus::Suspended => "suspended",
            MerchantStatus::Rejected => "rejected",
        }
    }
}

/// An administrator's step in the merchant workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantAction {
    Approve,
    Reject,
    Suspend,
    Resume,
}

impl MerchantAction {
    /// (allowed from, leads to): the whole workflow in one table.
    pub fn transition(self) -> (MerchantStatus, MerchantStatus) {
        use MerchantStatus::*;
        match self {
            MerchantAction::Approve => (Pending, Active),
            MerchantAction::Reject => (Pending, Rejected),
            MerchantAction::Suspend => (Active, Suspended),
            MerchantAction::Resume => (Suspended, Active),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            MerchantAction::Approve => "approve",
            MerchantAction::Reject => "reject",
            MerchantAction::Suspend => "suspend",
            MerchantAction::Resume => "resume",
        }
    }

    pub fn past_tense(self) -> &'static str {
        match self {
            MerchantAction::Approve => "approved",
            MerchantAction::Reject => "rejected",
            MerchantAction::Suspend => "suspended",
            MerchantAction::Resume => "resumed",
        }
    }

    pub fn needs_reason(self) -> bool {
        matches!(self, MerchantAction::Reject | MerchantAction::Suspend)
    }
}

fn coordinate(e6: Option<i32>) -> Option<f64> {
    e6.map(|v| f64::from(v) / 1e6)
}

/// The full record: for the owner and officials.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MerchantRecord {
    pub id: i64,
    pub name: String,
    pub uscc: String,
    pub category: Category,
    pub category_label: String,
    pub district: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub contact_name: String,
    pub contact_phone: String,
    pub bank_name: String,
    /// Full number for the owner and in a single-record view by an official; masked
    /// (`6222***********3445`) in lists and for cashiers.
    pub bank_account: String,
    pub status: MerchantStatus,
    pub status_reason: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: NaiveDateTime,
}

/// What the public directory shows: no bank details, no contact phone, no USCC.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DirectoryEntry {
    pub id: i64,
    pub name: String,
    pub category: Category,
    pub category_label: String,
    pub district: String,
    pub address: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Its active offers (only those the `tier` filter allows, when given).
    pub offers: Vec<PublicOffer>,
}

impl Merchant {
    pub fn status(&self) -> ApiResult<MerchantStatus> {
        match self.status.as_str() {
            "pending" => Ok(MerchantStatus::Pending),
            "active" => Ok(MerchantStatus::Active),
            "suspended" => Ok(MerchantStatus::Suspended),
            "rejected" => Ok(MerchantStatus::Rejected),
            other => Err(ApiError::internal(anyhow::anyhow!(
                "merchant {} has unknown status {other:?}",
                self.id
            ))),
        }
    }

    fn category(&self) -> ApiResult<Category> {
        Category::parse(&self.category).map_err(|_| {
            ApiError::internal(anyhow::anyhow!(
                "merchant {} has unknown category {:?}",
                self.id,
                self.category
            ))
        })
    }

    pub fn record(&self) -> ApiResult<MerchantRecord> {
        let category = self.category()?;
        Ok(MerchantRecord {
            id: self.id,
            name: self.name.clone(),
            uscc: self.uscc.clone(),
            category,
            category_label: category.label().to_owned(),
            district: self.district.clone(),
            address: self.address.clone(),
            lat: coordinate(self.lat_e6),
            lon: coordinate(self.lon_e6),
            contact_name: self.contact_name.clone(),
            contact_phone: self.contact_phone.clone(),
            bank_name: self.bank_name.clone(),
            bank_account: self.bank_account.clone(),
            status: self.status()?,
            status_reason: self.status_reason.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }

    /// The record with the bank account masked (lists, cashiers).
    pub fn masked_record(&self) -> ApiResult<MerchantRecord> {
        let mut record = self.record()?;
        record.bank_account = domain::mask_bank_account(&self.bank_account);
        Ok(record)
    }

    /// The record as audit snapshots keep it: bank account masked as in lists, and the
    /// contact phone masked too ([`domain::mask_contact_phone`]). A changed account still
    /// shows as a different masked value.
    pub fn audit_record(&self) -> ApiResult<MerchantRecord> {
        let mut record = self.masked_record()?;
        record.contact_phone = domain::mask_contact_phone(&self.contact_phone);
        Ok(record)
    }

    pub fn directory_entry(&self, offers: Vec<PublicOffer>) -> ApiResult<DirectoryEntry> {
        let category = self.category()?;
        Ok(DirectoryEntry {
            id: self.id,
            name: self.name.clone(),
            category,
            category_label: category.label().to_owned(),
            district: self.district.clone(),
            address: self.address.clone(),
            lat: coordinate(self.lat_e6),
            lon: coordinate(self.lon_e6),
            offers,
        })
    }
}

/// A validated application.
#[derive(Debug, Clone)]
pub struct NewMerchant {
    pub name: String,
    pub uscc: Uscc,
    pub category: Category,
    pub district: District,
    pub address: String,
    pub coordinates: Option<Coordinates>,
    pub contact_name: String,
    pub contact_phone: String,
    pub bank_name: String,
    pub bank_account: String,
    pub owner_username: Username,
    /// Computed before the transaction: argon2 is slow.
    pub owner_password_hash: String,
}

pub fn find(conn: &mut DbConnection, id: i64) -> ApiResult<Option<Merchant>> {
    Ok(merchants::table
        .find(id)
        .select(Merchant::as_select())
        .first(conn)
        .optional()?)
}

pub fn get(conn: &mut DbConnection, id: i64) -> ApiResult<Merchant> {
    find(conn, id)?.ok_or_else(|| ApiError::not_found(format!("No merchant with id {id}.")))
}

/// Stores an application as `pending` with its (inactive) owner account, audited.
/// Call inside a write transaction.
pub fn apply(conn: &mut DbConnection, actor: &Actor, new: NewMerchant) -> ApiResult<Merchant> {
    let taken: i64 = merchants::table
        .filter(merchants::uscc.eq(new.uscc.as_str()))
        .count()
        .get_result(conn)?;
    if taken > 0 {
        return Err(uscc_taken());
    }
    let now = crate::time::now();
    let merchant = diesel::insert_into(merchants::table)
        .values((
            merchants::name.eq(&new.name),
            merchants::uscc.eq(new.uscc.as_str()),
            merchants::category.eq(new.category.as_str()),
            merchants::district.eq(new.district.as_str()),
            merchants::address.eq(&new.address),
            merchants::lat_e6.eq(new.coordinates.map(|c| c.lat_e6)),
            merchants::lon_e6.eq(new.coordinates.map(|c| c.lon_e6)),
            merchants::contact_name.eq(&new.contact_name),
            merchants::contact_phone.eq(&new.contact_phone),
            merchants::bank_name.eq(&new.bank_name),
            merchants::bank_account.eq(&new.bank_account),
            merchants::status.eq(MerchantStatus::Pending.as_str()),
            merchants::created_at.eq(now),
            merchants::updated_at.eq(now),
        ))
        .returning(merchants::all_columns)
        .get_result::<Merchant>(conn)
        // Two applications racing with one USCC: the unique index decides.
        .map_err(|e| match ApiError::from(e) {
            ApiError::Problem {
                code: "conflict", ..
            } => uscc_taken(),
            other => other,
        })?;
    audit::record(
        conn,
        actor,
        "merchant.apply",
        "merchant",
        merchant.id,
        None::<&()>,
        Some(&merchant.audit_record()?),
    )?;
    users::create(
        conn,
        actor,
        NewAccount {
            username: &new.owner_username,
            password_hash: new.owner_password_hash,
            role: Role::Merchant,
            display_name: &new.contact_name,
            merchant_id: Some(merchant.id),
            talent_id: None,
            // Opens on approval.
            active: false,
        },
    )
    // The form's field, so the page can say which of its values is taken.
    .map_err(|e| match e.code() {
        "conflict" => e.with_field("owner_username"),
        _ => e,
    })?;
    Ok(merchant)
}

fn uscc_taken() -> ApiError {
    ApiError::conflict("A merchant with this 统一社会信用代码 (uscc) is already registered.")
        .with_field("uscc")
}

/// Applies a workflow step if the merchant is in the state it starts from; accounts open
/// or close with it. Call inside a write transaction.
pub fn transition(
    conn: &mut DbConnection,
    actor: &Actor,
    id: i64,
    action: MerchantAction,
    reason: Option<&str>,
) -> ApiResult<Merchant> {
    let before = get(conn, id)?;
    let (from, to) = action.transition();
    // Conditional update: of two concurrent requests only one finds the state it expects.
    let changed = diesel::update(
        merchants::table
            .find(id)
            .filter(merchants::status.eq(from.as_str())),
    )
    .set((
        merchants::status.eq(to.as_str()),
        merchants::status_reason.eq(reason),
        merchants::updated_at.eq(crate::time::now()),
    ))
    .execute(conn)?;
    if changed == 0 {
        return Err(ApiError::invalid_transition(format!(
            "Cannot {} merchant {id}: it is {}, and only {} {} merchant can be {}.",
            action.name(),
            before.status,
            if from == MerchantStatus::Active {
                "an"
            } else {
                "a"
            },
            from.as_str(),
            action.past_tense(),
        )));
    }
    let after = get(conn, id)?;
    if from == MerchantStatus::Active || to == MerchantStatus::Active {
        users::set_merchant_accounts_active(conn, id, to == MerchantStatus::Active)?;
    }
    audit::record(
        conn,
        actor,
        &format!("merchant.{}", action.name()),
        "merchant",
        id,
        Some(&before.audit_record()?),
        Some(&after.audit_record()?),
    )?;
    Ok(after)
}

/// Adds a cashier account to an active merchant. Call inside a write transaction.
pub fn add_cashier(
    conn: &mut DbConnection,
    actor: &Actor,
    merchant_id: i64,
    username: &Username,
    display_name: &str,
    password_hash: String,
) -> ApiResult<User> {
    let merchant = get(conn, merchant_id)?;
    if merchant.status()? != MerchantStatus::Active {
        return Err(ApiError::invalid_transition(format!(
            "Merchant {merchant_id} is {}: cashiers can be added only to an active merchant.",
            merchant.status
        )));
    }
    users::create(
        conn,
        actor,
        NewAccount {
            username,
            password_hash,
            role: Role::Cashier,
            display_name,
            merchant_id: Some(merchant_id),
            talent_id: None,
            active: true,
        },
    )
}

pub fn list_cashiers(conn: &mut DbConnection, merchant_id: i64) -> ApiResult<Vec<UserView>> {
    let cashiers: Vec<User> = user_rows::table
        .filter(user_rows::merchant_id.eq(merchant_id))
        .filter(user_rows::role.eq(Role::Cashier.as_str()))
        .order(user_rows::id)
        .select(User::as_select())
        .load(conn)?;
    Ok(cashiers.iter().map(User::view).collect())
}

/// Removes a cashier: the account is closed, its tokens die, and it is detached from the
/// merchant so that resuming a suspended merchant (which reopens its accounts) cannot
/// bring it back. The row stays: redemptions name who scanned them. Call inside a write
/// transaction.
pub fn remove_cashier(
    conn: &mut DbConnection,
    actor: &Actor,
    merchant_id: i64,
    user_id: i64,
) -> ApiResult<()> {
    let before = users::find_by_id(conn, user_id)?
        .filter(|u| u.merchant_id == Some(merchant_id) && u.role == Role::Cashier.as_str())
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "Merchant {merchant_id} has no cashier with id {user_id}."
            ))
        })?;
    diesel::update(user_rows::table.find(user_id))
        .set((
            user_rows::active.eq(false),
            user_rows::merchant_id.eq(None::<i64>),
            user_rows::updated_at.eq(crate::time::now()),
        ))
        .execute(conn)?;
    users::bump_token_version(conn, user_id)?;
    let after = users::find_by_id(conn, user_id)?.map(|u| u.view());
    #[derive(Serialize)]
    struct Removed<'a> {
        merchant_id: i64,
        cashier: &'a Option<UserView>,
    }
    audit::record(
        conn,
        actor,
        "merchant.cashier_remove",
        "user",
        user_id,
        Some(&before.view()),
        Some(&Removed {
            merchant_id,
            cashier: &after,
        }),
    )
}
