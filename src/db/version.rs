//! A row's version as a column: PostgreSQL's `xmin`, the transaction that wrote the row
//! version read. Any UPDATE of the row gives it a new one; a lock (`FOR … UPDATE`) does
//! not. A statement that later finds the same `xmin` knows the row has not changed since
//! it was read (see [`crate::redemptions`]'s quoted path). SQLite has no such column and
//! selects NULL: what was read there is never taken as unchanged.

use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment};
use diesel::sql_types::{Nullable, Text};
use diesel::sqlite::Sqlite;

macro_rules! row_version {
    ($(#[$doc:meta])* $name:ident, $table:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        super::scalar_subquery!($name, $name, Nullable<Text>);

        impl QueryFragment<Pg> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                out.push_sql(concat!("\"", $table, "\".xmin::text"));
                Ok(())
            }
        }

        impl QueryFragment<Sqlite> for $name {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                out.push_sql("NULL");
                Ok(())
            }
        }
    };
}

row_version!(
    /// The version of the joined `cards` row.
    CardVersion,
    "cards"
);
row_version!(
    /// The version of the joined `users` row.
    UserVersion,
    "users"
);
row_version!(
    /// The version of the joined `merchants` row (NULL when none joined).
    MerchantVersion,
    "merchants"
);
row_version!(
    /// The version of the joined `offers` row (NULL when none joined).
    OfferVersion,
    "offers"
);
row_version!(
    /// The version of the joined account guessing counter (NULL: no failures counted).
    AccountThrottleVersion,
    "code_guess_throttle"
);
row_version!(
    /// The version of the joined merchant guessing counter (NULL: no failures counted).
    MerchantThrottleVersion,
    "merchant_guess_throttle"
);
