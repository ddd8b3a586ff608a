//! 遂州英才卡 — the talent card merchant benefits platform.
//!
//! Domain areas each keep their model, queries and HTTP handlers side by side
//! (`auth`, `users`, `audit`, …); cross-cutting pieces (`db`, `error`, `config`,
//! `http`, `telemetry`) sit beside them. `startup` wires everything into one app.

pub mod activation;
pub mod anomalies;
pub mod audit;
pub mod auth;
pub mod bench;
pub mod budgets;
pub mod cards;
pub mod cli;
pub mod closing;
pub mod codes;
pub mod config;
pub mod db;
pub mod demo;
pub mod error;
pub mod family;
pub mod http;
pub mod loadgen;
pub mod merchants;
pub mod metrics;
pub mod notify;
pub mod offers;
pub mod onboarding;
pub mod pagination;
pub mod pins;
pub mod proposals;
pub mod ratelimit;
pub mod redemptions;
pub mod reports;
pub mod schema;
pub mod search;
pub mod secrets;
pub mod settlements;
pub mod spreadsheet;
pub mod startup;
pub mod state;
pub mod talents;
pub mod telemetry;
pub mod text;
pub mod tier;
pub mod time;
pub mod transfer;
pub mod users;
pub mod web;
