//! What every request handler can reach: configuration, the database and the keys.

use std::sync::Arc;

use actix_web::ResponseError;
use actix_web::http::StatusCode;

use crate::config::Config;
use crate::db::{Db, DbConnection};
use crate::error::ApiResult;
use crate::metrics::Metrics;
use crate::secrets::Secrets;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub secrets: Arc<Secrets>,
    pub metrics: Arc<Metrics>,
    /// Read replica for reports (`REPLICA_DATABASE_URL`), when configured.
    pub replica: Option<Db>,
    /// Quotes kept for the redemptions that follow them (see [`crate::redemptions::redeem_quoted`]).
    pub quoted: Arc<crate::redemptions::QuotedSales>,
    /// The budget's room as quotes see it (see [`crate::budgets::rooms`]).
    pub budget_rooms: Arc<crate::budgets::rooms::RoomsSeen>,
    /// Access tokens already verified (see [`crate::auth::verified`]).
    pub verified_tokens: Arc<crate::auth::verified::VerifiedTokens>,
    /// Turns for login password checks (see [`crate::auth::password::check_turns`]).
    pub password_checks: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// Runs a report's read on the replica when there is one, and on the primary while
    /// the replica is unreachable (down, restarting, being rebuilt after a failover):
    /// officials keep their reports, a little fresher for it.
    pub async fn read_reports<T, F>(&self, read: F) -> ApiResult<T>
    where
        F: FnOnce(&mut DbConnection) -> ApiResult<T> + Clone + Send + 'static,
        T: Send + 'static,
    {
        if let Some(replica) = &self.replica {
            match replica.run(read.clone()).await {
                Err(e) if e.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                    tracing::warn!(error = %e, "the reports' replica is unavailable; reading from the primary");
                }
                answered => return answered,
            }
        }
        self.db.run(read).await
    }
}
