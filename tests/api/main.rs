//! One integration-test binary: every module's tests run on SQLite and PostgreSQL.

mod helpers;

mod anomalies;
mod audit;
mod audit_anchors;
mod audit_privacy;
mod auth;
mod browser;
mod browser_a11y;
mod browser_apply;
mod browser_owner;
mod browser_search;
mod browser_sessions;
mod budgets;
mod cards;
mod codes;
mod errors;
mod fuzz;
mod i18n;
mod loadgen;
mod merchants;
mod offers;
mod ops;
mod outage;
mod pgcluster;
mod proposals;
mod redemptions;
mod roles;
mod search;
mod security;
mod sessions;
mod settlements;
mod talents;
mod text;
mod transfer;
mod usernames;
