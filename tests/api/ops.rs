use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::TestApp;

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

both_backends!(
    health_readiness_and_metrics_answer,
    openapi_document_lists_the_routes,
    migrations_apply_again_as_a_no_op,
    responses_carry_a_request_id,
);
