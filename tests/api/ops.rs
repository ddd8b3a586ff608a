use diesel::RunQueryDsl;
use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

async fn health_readiness_and_metrics_answer(app: TestApp) {
    let (status, body) = app
        .request(reqwest::Method::GET, "/healthz", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready");
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("talentcard_http_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/readyz\""), "{metrics}");
}

async fn openapi_document_lists_the_routes(app: TestApp) {
    let (status, doc) = app
        .request(reqwest::Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/auth/login",
        "/api/v1/me",
        "/api/v1/users",
        "/api/v1/audit/verify",
        "/api/v1/audit/events",
        "/readyz",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from OpenAPI: {:?}",
            paths.keys()
        );
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    // The deployment's districts, from its configuration, are the enum of the field.
    let districts = &doc["components"]["schemas"]["Application"]["properties"]["district"]["enum"];
    assert_eq!(
        districts,
        &serde_json::json!(app.config.districts),
        "{districts}"
    );
}

async fn migrations_apply_again_as_a_no_op(app: TestApp) {
    let applied = app
        .with_conn(|conn| talentcard::db::run_migrations(conn).expect("migrations"))
        .await;
    assert_eq!(applied, 0, "a second run must find nothing pending");
}

async fn responses_carry_a_request_id(app: TestApp) {
    let res = reqwest::get(format!("{}/healthz", app.address))
        .await
        .unwrap();
    let id = res
        .headers()
        .get("x-request-id")
        .expect("x-request-id header");
    assert!(!id.is_empty());
}

/// SQLite only: the database file and its WAL and shared-memory files hold password
/// hashes, bank accounts and the audit log, and every commit must survive power loss.
async fn sqlite_files_are_private_and_synced_fully(app: TestApp) {
    use std::os::unix::fs::PermissionsExt;
    if app.backend != Backend::Sqlite {
        return;
    }
    // A write, so the WAL and shared-memory files exist.
    app.official_token(talentcard::auth::Role::Auditor, "auditor-files")
        .await;
    let db_path = app.config.database_url.sqlite_path().to_owned();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{db_path}{suffix}");
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{path} has mode {:o}", mode & 0o777);
    }
    let synchronous = app
        .with_conn(|conn| {
            #[derive(diesel::QueryableByName)]
            struct Setting {
                #[diesel(sql_type = diesel::sql_types::Integer)]
                synchronous: i32,
            }
            diesel::sql_query("PRAGMA synchronous")
                .get_result::<Setting>(conn)
                .expect("PRAGMA synchronous")
                .synchronous
        })
        .await;
    assert_eq!(synchronous, 2, "synchronous must be FULL (2)");
}

both_backends!(
    sqlite_files_are_private_and_synced_fully,
    health_readiness_and_metrics_answer,
    openapi_document_lists_the_routes,
    migrations_apply_again_as_a_no_op,
    responses_carry_a_request_id,
);
