//! Onboarding a city (DESIGN §10): the talent office receives its talents as the human
//! resources bureau's spreadsheet and imports it — checked whole before anything is
//! written, written in short batches by a job, each new talent getting a card and an
//! activation code instead of a password someone else knows.
//!
//! [`sheet`] reads the file (XLSX, XLS, CSV in UTF-8/UTF-16/GB18030), [`columns`] finds
//! the header, [`rows`] turns each row into a talent or named errors, [`plan`] checks
//! rows against each other and the register, [`job`] runs the plan in batches (what a
//! batch writes is in `write`), [`letters`] prints the activation letters, [`sync`]
//! suspends whom the bureau's list left out.

pub mod clean;
pub mod columns;
pub mod job;
pub mod letters;
pub mod plan;
pub mod routes;
pub mod rows;
pub mod sheet;
pub mod sync;
mod write;
