//! What every request handler can reach: configuration, the database and the keys.

use std::sync::Arc;

use crate::config::Config;
use crate::db::Db;
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
}

impl AppState {
    /// Where reports read from: the replica when there is one.
    pub fn reports_db(&self) -> &Db {
        self.replica.as_ref().unwrap_or(&self.db)
    }
}
