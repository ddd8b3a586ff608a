//! Accounts: the user table, its queries and the admin endpoints that create officials
//! and auditors. Merchant, cashier and talent accounts are created by their own modules
//! through [`create`], in the same transaction as the record they belong to.

pub mod routes;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::password::{self, Password};
use crate::auth::{Actor, Role};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::schema::users;

#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub display_name: String,
    pub merchant_id: Option<i64>,
    pub talent_id: Option<i64>,
    pub active: bool,
    pub token_version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// A staff member's phone, kept like a talent's (encrypted, blind index, masked).
    pub phone_enc: Option<String>,
    pub phone_index: Option<String>,
    pub phone_masked: Option<String>,
}

impl User {
    pub fn role(&self) -> ApiResult<Role> {
        parse_role(self.id, &self.role)
    }

    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            username: self.username.clone(),
            role: self.role.clone(),
            display_name: self.display_name.clone(),
            merchant_id: self.merchant_id,
            talent_id: self.talent_id,
            active: self.active,
            phone_masked: self.phone_masked.clone(),
            created_at: self.created_at,
        }
    }
}

/// A stored role; an unknown one is a server fault, not the caller's.
fn parse_role(user_id: i64, role: &str) -> ApiResult<Role> {
    role.parse()
        .map_err(|e: String| ApiError::internal(anyhow::anyhow!("user {user_id}: {e}")))
}

/// What a request's session is judged on: the parts of the user row that say whether a
/// token still stands and whom it speaks for. Every authenticated request reads it, so
/// it leaves out the password hash and the timestamps.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub merchant_id: Option<i64>,
    pub talent_id: Option<i64>,
    pub active: bool,
    pub token_version: i32,
}

impl SessionUser {
    pub fn role(&self) -> ApiResult<Role> {
        parse_role(self.id, &self.role)
    }
}

/// An account as shown to clients: never the password hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserView {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub display_name: String,
    pub merchant_id: Option<i64>,
    pub talent_id: Option<i64>,
    pub active: bool,
    /// A staff member's phone, masked (`138****0000`), when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_masked: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

/// The schema of a staff, merchant or official login name as [`Username::parse`]
/// takes it: 3–64 of `A–Z a–z 0–9 _ . @ -`, white space around it trimmed.
pub fn username_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .pattern(Some(
            r"^[ \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z0-9_.@-]{3,64}[ \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
        ))
        .build()
}

/// A login name: 3–64 characters of letters, digits and `_ . @ -`. Compared
/// case-insensitively by storing it lower-cased. Talents log in with their mobile number
/// ([`Username::for_talent`]); every other name must not look like one (DESIGN §4), or
/// choosing a name would tell a stranger which phones have a talent account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    /// A staff, merchant or official login name: refused when phone-shaped.
    pub fn parse(raw: &str) -> ApiResult<Self> {
        if is_phone_shaped(raw) {
            return Err(ApiError::invalid_field(
                "username",
                "username must not look like a mobile number: those are the login names of talents",
            ));
        }
        let name = raw.trim().to_lowercase();
        let ok_len = (3..=64).contains(&name.chars().count());
        let ok_chars = name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.@-".contains(c));
        if ok_len && ok_chars {
            Ok(Username(name))
        } else {
            Err(ApiError::invalid_field(
                "username",
                "username must be 3 to 64 characters: letters, digits, '_', '.', '@' or '-'",
            ))
        }
    }

    /// A talent's login name: the normalised mobile number.
    pub fn for_talent(phone: &crate::talents::domain::Phone) -> Self {
        Username(phone.as_str().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `^(\+?86)?1[3-9][0-9]{9}$` after removing spaces and dashes (DESIGN §4): the shape of
/// a mainland mobile number, with or without the country code.
pub fn is_phone_shaped(raw: &str) -> bool {
    let s: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .collect();
    let s = s
        .strip_prefix("+86")
        .or_else(|| s.strip_prefix("86").filter(|rest| rest.len() == 11))
        .unwrap_or(&s);
    let b = s.as_bytes();
    b.len() == 11
        && b.iter().all(u8::is_ascii_digit)
        && b[0] == b'1'
        && (b'3'..=b'9').contains(&b[1])
}

/// The password hash of an account that waits for its holder to set a password with an
/// activation code: no PHC string, so no password verifies against it.
pub const UNUSABLE_PASSWORD_HASH: &str = "!activation-pending";

/// A new account; `password_hash` is computed by the caller off the async workers.
pub struct NewAccount<'a> {
    pub username: &'a Username,
    pub password_hash: String,
    pub role: Role,
    pub display_name: &'a str,
    pub merchant_id: Option<i64>,
    pub talent_id: Option<i64>,
    pub active: bool,
}

/// The user row behind an access token, and its session's id if that session is still
/// running (see [`crate::auth::session::live`]).
pub fn find_session(
    conn: &mut DbConnection,
    id: i64,
    session_id: i64,
) -> ApiResult<Option<(SessionUser, Option<i64>)>> {
    use crate::schema::sessions;
    let now = crate::time::now();
    Ok(users::table
        .left_join(sessions::table.on(crate::auth::session::live(session_id, now)))
        .filter(users::id.eq(id))
        .select((SessionUser::as_select(), sessions::id.nullable()))
        .first(conn)
        .optional()?)
}

pub fn find_by_id(conn: &mut DbConnection, id: i64) -> ApiResult<Option<User>> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

pub fn find_by_username(conn: &mut DbConnection, username: &str) -> ApiResult<Option<User>> {
    Ok(users::table
        .filter(users::username.eq(username.to_lowercase()))
        .select(User::as_select())
        .first(conn)
        .optional()?)
}

/// Creates an account and audits it. A taken username is a 409.
pub fn create(conn: &mut DbConnection, actor: &Actor, new: NewAccount<'_>) -> ApiResult<User> {
    let now = crate::time::now();
    let user = diesel::insert_into(users::table)
        .values((
            users::username.eq(new.username.as_str()),
            users::password_hash.eq(&new.password_hash),
            users::role.eq(new.role.as_str()),
            users::display_name.eq(new.display_name),
            users::merchant_id.eq(new.merchant_id),
            users::talent_id.eq(new.talent_id),
            users::active.eq(new.active),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        // `as_returning()` does not compile for the multi-backend connection; the column
        // tuple does, and `User` lists its fields in table order.
        .returning(users::all_columns)
        .get_result::<User>(conn)
        .map_err(|e| match ApiError::from(e) {
            ApiError::Problem {
                code: "conflict", ..
            } => ApiError::conflict(format!(
                "The username {:?} is already taken.",
                new.username.as_str()
            )),
            other => other,
        })?;
    audit::record(
        conn,
        actor,
        "user.create",
        "user",
        user.id,
        None::<&()>,
        Some(&user.view()),
    )?;
    Ok(user)
}

/// Gives a staff account its phone, kept like a talent's: encrypted, blind-indexed (to
/// compare with talents' phones) and masked.
pub fn set_phone(
    conn: &mut DbConnection,
    vault: &crate::talents::PiiVault,
    user_id: i64,
    phone: &crate::talents::Phone,
) -> ApiResult<User> {
    use crate::talents::Field;
    diesel::update(users::table.find(user_id))
        .set((
            users::phone_enc.eq(vault.encrypt(Field::Phone, phone.as_str())?),
            users::phone_index.eq(vault.blind_index(Field::Phone, phone.as_str())),
            users::phone_masked.eq(phone.masked()),
        ))
        .execute(conn)?;
    find_by_id(conn, user_id)?.ok_or_else(|| ApiError::not_found("account vanished"))
}

/// Active administrator accounts: dual control needs two.
pub fn active_admins(conn: &mut DbConnection) -> ApiResult<i64> {
    Ok(users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::active.eq(true))
        .count()
        .get_result(conn)?)
}

/// Hashes a password on the current (blocking) thread.
pub fn hash_password(password: &Password) -> ApiResult<String> {
    password::hash(password).map_err(ApiError::internal)
}

/// The owner account of `merchant_id` if it has no password yet (applied without one).
pub fn passwordless_owner(
    conn: &mut DbConnection,
    merchant_id: i64,
) -> ApiResult<Option<(i64, String)>> {
    Ok(users::table
        .filter(users::merchant_id.eq(merchant_id))
        .filter(users::role.eq("merchant"))
        .filter(users::password_hash.eq(UNUSABLE_PASSWORD_HASH))
        .select((users::id, users::username))
        .first(conn)
        .optional()?)
}

/// Ends every token of the user (logout, password change, deactivation).
pub fn bump_token_version(conn: &mut DbConnection, user_id: i64) -> ApiResult<i32> {
    Ok(diesel::update(users::table.find(user_id))
        .set((
            users::token_version.eq(users::token_version + 1),
            users::updated_at.eq(crate::time::now()),
        ))
        .returning(users::token_version)
        .get_result(conn)?)
}

pub fn set_password(
    conn: &mut DbConnection,
    actor: &Actor,
    user_id: i64,
    password_hash: &str,
) -> ApiResult<i32> {
    diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(password_hash))
        .execute(conn)?;
    let version = bump_token_version(conn, user_id)?;
    audit::record(
        conn,
        actor,
        "user.password_change",
        "user",
        user_id,
        None::<&()>,
        None::<&()>,
    )?;
    Ok(version)
}

/// Enables or disables every account of a merchant (approval, suspension).
pub fn set_merchant_accounts_active(
    conn: &mut DbConnection,
    merchant_id: i64,
    active: bool,
) -> ApiResult<usize> {
    Ok(
        diesel::update(users::table.filter(users::merchant_id.eq(merchant_id)))
            .set((
                users::active.eq(active),
                users::token_version.eq(users::token_version + 1),
                users::updated_at.eq(crate::time::now()),
            ))
            .execute(conn)?,
    )
}

#[cfg(test)]
mod phone_shape_tests {
    use super::*;

    #[test]
    fn phone_shaped_names_are_recognised_with_prefix_spaces_and_dashes() {
        for s in [
            "13800000001",
            "19912345678",
            "+8613800000001",
            "8613800000001",
            "138 0000 0001",
            "138-0000-0001",
            " +86 138-0000-0001 ",
        ] {
            assert!(is_phone_shaped(s), "{s}");
            let e = Username::parse(s).unwrap_err();
            assert_eq!(e.field(), Some("username"), "{s}");
        }
    }

    #[test]
    fn other_names_are_not_phone_shaped() {
        for s in [
            "12800000001",
            "1380000000",
            "138000000012",
            "+13800000001",
            "+8513800000001",
            "shop1",
            "cashier-13800000001",
            "a13800000001",
        ] {
            assert!(!is_phone_shaped(s), "{s}");
        }
        assert!(Username::parse("cashier-13800000001").is_ok());
    }
}
