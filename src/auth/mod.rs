//! Accounts and access: passwords (argon2id), access tokens (JWT with key ids), the
//! [`Principal`] extractor that every protected handler takes, and login throttling.
//!
//! Role and ownership rules live in [`principal`]: a handler states who may call it in
//! its signature (`Auth<Admin>`, `Auth<Official>` …), so it cannot forget the check.

pub mod password;
pub mod principal;
pub mod routes;
pub mod session;
pub mod throttle;
pub mod token;
pub mod verified;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use principal::{Actor, Auth, Principal};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Auditor,
    Merchant,
    Cashier,
    Talent,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Admin,
        Role::Auditor,
        Role::Merchant,
        Role::Cashier,
        Role::Talent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Auditor => "auditor",
            Role::Merchant => "merchant",
            Role::Cashier => "cashier",
            Role::Talent => "talent",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown role {s:?}; expected one of admin, auditor, merchant, cashier, talent"
                )
            })
    }
}
