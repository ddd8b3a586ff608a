//! One integration-test binary: every module's tests run on SQLite and PostgreSQL.

mod helpers;

mod audit;
mod auth;
mod browser;
mod budgets;
mod cards;
mod codes;
mod errors;
mod fuzz;
mod merchants;
mod offers;
mod ops;
mod redemptions;
mod settlements;
mod talents;
mod transfer;
