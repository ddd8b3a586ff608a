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
}
