//! Builds the application: keys, database, routes, middleware, listener.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use anyhow::Context;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, scope};

use crate::config::Config;
use crate::db::Db;
use crate::http::{self, health, middleware, openapi::ApiDoc};
use crate::metrics::Metrics;
use crate::secrets::Secrets;
use crate::state::AppState;
use crate::{audit, auth, budgets, users};

/// Every `/api/v1` route, registered through utoipa so the OpenAPI document follows.
fn api_routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    // The counter's first: every sale is two of its requests, and a request is matched
    // against the routes in this order (routing was 3 % of the server's CPU at the
    // counter, BENCHMARKS.md). No other module's path overlaps these.
    crate::redemptions::routes::configure(cfg);
    auth::routes::configure(cfg);
    users::routes::configure(cfg);
    crate::activation::routes::configure(cfg);
    crate::activation::reissue::configure(cfg);
    crate::proposals::routes::configure(cfg);
    crate::anomalies::routes::configure(cfg);
    crate::closing::routes::configure(cfg);
    audit::routes::configure(cfg);
    audit::checkpoint_routes::configure(cfg);
    audit::export_routes::configure(cfg);
    budgets::routes::configure(cfg);
    crate::onboarding::routes::configure(cfg);
    crate::talents::routes::configure(cfg);
    crate::cards::routes::configure(cfg);
    crate::pins::routes::configure(cfg);
    crate::family::routes::configure(cfg);
    crate::codes::routes::configure(cfg);
    crate::merchants::routes::configure(cfg);
    crate::offers::routes::configure(cfg);
    crate::redemptions::lists::configure(cfg);
    crate::redemptions::disputes::configure(cfg);
    crate::settlements::routes::configure(cfg);
    crate::reports::configure(cfg);
    crate::search::routes::configure(cfg);
}

/// The OpenAPI document as the running app serves it.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (_, mut api) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(scope::scope("/api/v1").configure(api_routes))
        .service(health::healthz)
        .service(health::readyz)
        .service(health::metrics)
        .split_for_parts();
    http::openapi::standard_problems(&mut api);
    http::openapi::declare_cross_field_rules(&mut api);
    api
}

/// Warms every pooled connection for the counter ([`crate::redemptions::warm_up`]). A
/// failure only costs the first requests their speed, so it is logged, not fatal.
fn warm_up(db: &Db, pool_size: u32) {
    // Every connection out at once, so each is warmed rather than the same one again.
    let warmed = (0..pool_size)
        .map(|_| db.get())
        .collect::<Result<Vec<_>, _>>()
        .and_then(|mut conns| {
            conns
                .iter_mut()
                .try_for_each(|conn| crate::redemptions::warm_up(conn))
        });
    if let Err(e) = warmed {
        tracing::warn!(error = %e, "could not warm the connections for the counter");
    }
}

/// The blocking threads each worker may have: its share of the pooled connections —
/// the primary's and the reports' replica's, since a request's database work holds one
/// (at most one task per connection across all workers: see [`Db::run`]) — and two for
/// a password check, a spreadsheet or an audit export. Tokio's default, 512 per worker,
/// let each worker grow a thread for every connection of the pool: 36 threads under the
/// counter mix, each keeping its own stack and allocator pages, about 1.7 MiB apiece
/// (BENCHMARKS.md).
fn blocking_threads_per_worker(connections: u32, workers: usize) -> usize {
    (connections as usize).div_ceil(workers.max(1)) + 2
}

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

impl Application {
    /// Opens the database (applying migrations, as the owner when
    /// `MIGRATION_DATABASE_URL` is set), loads or creates the keys and binds the
    /// listener. Call [`Application::run_until_stopped`] to serve.
    pub fn build(config: Config) -> anyhow::Result<Self> {
        let secrets = Secrets::load_or_create(&config.secret_key_file)?;
        let db = Db::migrate_and_connect(
            &config.database_url,
            config.migration_database_url.as_ref(),
            config.db_pool_size,
        )?;
        Self::build_with(config, db, secrets)
    }

    pub fn build_with(config: Config, db: Db, secrets: Secrets) -> anyhow::Result<Self> {
        let listener =
            TcpListener::bind(&config.bind).with_context(|| format!("binding {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let workers = config.workers;
        // A replica has a pool of the same size, whose report reads must not take the
        // counter's threads.
        let connections = if config.replica_database_url.is_some() {
            2 * config.db_pool_size
        } else {
            config.db_pool_size
        };
        // The replica is read-only: never migrated from here, and not needed to start.
        let replica = config
            .replica_database_url
            .as_ref()
            .map(|url| Db::connect_lazily(url, config.db_pool_size))
            .transpose()
            .context("REPLICA_DATABASE_URL")?;
        // Sealing once before serving moves a version 1 chain to version 2 (refusing
        // to start if it does not verify) and links what the last run left unsealed.
        {
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            crate::audit::sealer::seal_all(&mut conn)
                .map_err(|e| anyhow::anyhow!("sealing the audit log: {e:#}"))?;
        }
        warm_up(&db, config.db_pool_size);
        let state = AppState {
            replica,
            password_checks: crate::auth::password::check_turns(config.password_checks_at_once),
            config: Arc::new(config),
            db,
            secrets: Arc::new(secrets),
            metrics: Arc::new(Metrics::new()),
            quoted: Arc::default(),
            verified_tokens: Arc::default(),
            budget_rooms: Arc::default(),
        };
        crate::auth::password::warm_up();
        let app_state = state.clone();
        let mut api =
            serde_json::to_value(openapi_document()).context("serialising the OpenAPI document")?;
        http::openapi::configured_districts(&mut api, &state.config.districts);
        // Serialised once and shared: a parsed copy per worker cost each worker megabytes.
        let api =
            web::Bytes::from(serde_json::to_vec(&api).context("serialising the OpenAPI document")?);
        let server = HttpServer::new(move || {
            let json_limit = app_state.config.json_limit_bytes;
            let api = api.clone();
            App::new()
                .app_data(web::Data::new(app_state.clone()))
                .app_data(http::json_config(json_limit))
                .app_data(http::query_config())
                .app_data(http::path_config())
                .wrap(from_fn(middleware::csrf))
                .wrap(from_fn(middleware::problem_for_bare_errors))
                .wrap(from_fn(middleware::catch_panics))
                .wrap(from_fn(middleware::api_headers))
                .wrap(from_fn(middleware::observe))
                .wrap(TracingLogger::<crate::telemetry::RedactedRootSpan>::new())
                .service(health::healthz)
                .service(health::readyz)
                .service(health::metrics)
                .route(
                    "/api/v1/openapi.json",
                    web::get().to(move || {
                        let api = api.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type(actix_web::http::header::ContentType::json())
                                .body(api)
                        }
                    }),
                )
                .service(
                    web::scope("/api/v1")
                        .configure(|cfg| {
                            let mut utoipa_cfg =
                                utoipa_actix_web::service_config::ServiceConfig::new(cfg);
                            api_routes(&mut utoipa_cfg);
                        })
                        .default_service(web::to(http::not_found)),
                )
                .configure(crate::web::configure)
                .default_service(web::to(http::not_found))
        })
        .workers(workers)
        .worker_max_blocking_threads(blocking_threads_per_worker(connections, workers))
        .listen(listener)?
        .run();
        Ok(Application {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped, sealing the audit chain in the background.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        audit::sealer::spawn(
            self.state.db.clone(),
            self.state.secrets.clone(),
            self.state.config.clone(),
        );
        crate::proposals::spawn_expiry(self.state.db.clone());
        crate::onboarding::job::spawn_purge(self.state.db.clone());
        if let Some(url) = &self.state.config.notify_webhook_url {
            crate::notify::spawn(
                self.state.db.clone(),
                self.state.secrets.clone(),
                url.clone(),
            );
        }
        self.server.await
    }
}
