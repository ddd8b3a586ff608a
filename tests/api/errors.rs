use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, assert_problem, merchant_application};

async fn malformed_json_is_a_400_problem(app: TestApp) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("content-type", "application/json")
        .body("{\"username\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "malformed_json");
}

async fn unknown_fields_are_a_422_problem(app: TestApp) {
    let token = app.admin_token().await;
    let response = app
        .post(
            "/api/v1/users",
            &token,
            json!({"username": "newone", "role": "auditor", "is_root": true}),
        )
        .await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(
        response.1["detail"].as_str().unwrap().contains("is_root"),
        "{}",
        response.1
    );
}

async fn oversized_bodies_are_a_413_problem(app: TestApp) {
    let big = "x".repeat(app.config.json_limit_bytes + 1);
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": big, "password": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["code"], "payload_too_large");
}

async fn wrong_content_type_is_a_415_problem(app: TestApp) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("content-type", "text/plain")
        .body("username=admin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Steps whose body may be left out still want JSON when one is sent.
    let admin = app.admin_token().await;
    let merchant = app.apply_merchant(merchant_application("ctype")).await;
    let res = app
        .client
        .post(format!(
            "{}/api/v1/merchants/{merchant}/approve",
            app.address
        ))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body(r#"{"reason":"ok"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (_, merchant) = app
        .get(&format!("/api/v1/merchants/{merchant}"), &admin)
        .await;
    assert_eq!(merchant["status"], "pending", "nothing changed");
}

async fn unknown_routes_and_methods_are_problems(app: TestApp) {
    let response = app
        .request(Method::GET, "/api/v1/no-such-thing", None, None)
        .await;
    assert_problem(&response, StatusCode::NOT_FOUND, "not_found");
    let response = app
        .request(Method::DELETE, "/api/v1/auth/login", None, None)
        .await;
    assert!(response.0.is_client_error(), "{response:?}");
    let response = app
        .request(Method::GET, "/no-such-page.html", None, None)
        .await;
    assert_problem(&response, StatusCode::NOT_FOUND, "not_found");
    // A page address (no file extension) gets the app, which says there is no such
    // page; still a 404 for crawlers and monitors.
    for page in ["/no-such-page", "/merchants/join"] {
        let res = app
            .client
            .get(format!("{}{page}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{page}");
        assert!(
            res.headers()[reqwest::header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html"),
            "{page}"
        );
        assert!(res.text().await.unwrap().contains("/js/app.js"), "{page}");
    }
}

async fn bad_query_parameters_are_a_problem(app: TestApp) {
    let token = app.admin_token().await;
    let response = app.get("/api/v1/audit/events?per_page=1000", &token).await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let response = app.get("/api/v1/audit/events?page=abc", &token).await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let response = app.get("/api/v1/audit/events?from=yesterday", &token).await;
    assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
}

/// PostgreSQL only: SQLite is a file the process holds open and cannot "go away".
async fn an_unreachable_database_is_a_503_not_a_500(app: TestApp) {
    if app.backend != Backend::Postgres {
        return;
    }
    let token = app.admin_token().await;
    app.make_database_unreachable();
    let response = app.request(Method::GET, "/readyz", None, None).await;
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
    let response = app.get("/api/v1/audit/verify", &token).await;
    assert_problem(&response, StatusCode::SERVICE_UNAVAILABLE, "unavailable");
}

async fn a_wrong_method_on_a_known_path_is_a_405_naming_the_allowed_ones(app: TestApp) {
    // Logged in: `GET /redemptions/quote` reaches `GET /redemptions/{id}`, whose login
    // check comes first (anonymous, it is a 401).
    let admin = app.admin_token().await;
    for (method, path, allow) in [
        (Method::DELETE, "/api/v1/auth/login", "POST"),
        (Method::TRACE, "/api/v1/budgets/2026", "GET, PUT"),
        (Method::GET, "/api/v1/redemptions/quote", "POST"),
        (Method::PATCH, "/healthz", "GET"),
    ] {
        let res = app
            .client
            .request(method.clone(), format!("{}{path}", app.address))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert_eq!(res.headers()["allow"], allow, "{method} {path}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }
}

async fn a_step_that_requires_a_reason_refuses_an_empty_body_and_changes_nothing(app: TestApp) {
    let id = app.apply_merchant(merchant_application("noreason")).await;
    let admin = app.admin_token().await;
    for body in [json!({}), json!({"reason": "   "})] {
        let response = app
            .post(&format!("/api/v1/merchants/{id}/reject"), &admin, body)
            .await;
        assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    let (status, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{merchant}");
    assert_eq!(merchant["status"], "pending", "{merchant}");
    assert!(
        app.audit_actions("merchant", id)
            .await
            .iter()
            .all(|a| !a.contains("reject"))
    );
}

async fn the_document_declares_refusals_as_problem_json(app: TestApp) {
    let (status, doc) = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let problem = |path: &str, method: &str, code: &str| {
        doc["paths"][path][method]["responses"][code]["content"]["application/problem+json"]
            .is_object()
    };
    for (path, method, codes) in [
        (
            "/api/v1/budgets/{year}",
            "put",
            &[
                "400", "401", "403", "404", "409", "413", "415", "422", "503",
            ][..],
        ),
        (
            "/api/v1/merchants/{id}/reject",
            "post",
            &["401", "403", "404", "409", "422"][..],
        ),
        (
            "/api/v1/auth/login",
            "post",
            &["400", "401", "422", "429"][..],
        ),
        ("/api/v1/merchants", "get", &["422", "503"][..]),
    ] {
        for code in codes {
            assert!(
                problem(path, method, code),
                "{method} {path} lacks a problem+json {code}"
            );
        }
    }
    // Public routes do not claim a role check, and a step that needs a reason says so.
    assert!(doc["paths"]["/api/v1/merchants/{id}"]["get"]["responses"]["403"].is_null());
    assert!(doc["paths"]["/api/v1/auth/login"]["post"]["responses"]["403"].is_null());
    let required = &doc["components"]["schemas"]["RequiredReason"]["required"];
    assert_eq!(required, &json!(["reason"]));
    assert!(doc["components"]["schemas"]["OptionalReason"]["required"].is_null());
}

both_backends!(
    malformed_json_is_a_400_problem,
    unknown_fields_are_a_422_problem,
    oversized_bodies_are_a_413_problem,
    wrong_content_type_is_a_415_problem,
    unknown_routes_and_methods_are_problems,
    bad_query_parameters_are_a_problem,
    an_unreachable_database_is_a_503_not_a_500,
    a_wrong_method_on_a_known_path_is_a_405_naming_the_allowed_ones,
    a_step_that_requires_a_reason_refuses_an_empty_body_and_changes_nothing,
    the_document_declares_refusals_as_problem_json,
);
