use reqwest::StatusCode;
use serde_json::json;
use talentcard::config::Config;
use talentcard::db::Db;
use talentcard::secrets::Secrets;
use talentcard::startup::Application;

use crate::helpers::{ADMIN_PASSWORD, Backend, PgDatabase, TestApp};

/// An installation outgrows SQLite: everything moves to PostgreSQL, logins still work,
/// the numbers are the same and the audit chain still verifies.
#[actix_web::test]
async fn a_sqlite_installation_moves_to_postgres_with_nothing_retyped() {
    let Some(target) = PgDatabase::create() else {
        return;
    };
    let app = TestApp::spawn(Backend::Sqlite).await.expect("sqlite app");
    let token = app.admin_token().await;
    app.set_budget(
        2026,
        json!({"total_fen": 123_456, "categories": {"food": 1_000}}),
    )
    .await;
    // Proposed, approved and activated: proposals and activation codes move too.
    app.create_official("auditor", "auditor", "auditor-pass")
        .await;
    // An import whose letters wait: sealed bytes (BLOBs) move too and still open.
    let job = crate::import::import(
        &app,
        &token,
        "",
        crate::import::csv(&[[
            "张三",
            &crate::talents::id_number(301),
            &crate::talents::phone(301),
            "",
            "A",
        ]]),
    )
    .await;
    assert_eq!(job["created"], 1, "{job}");
    app.seal_audit().await;
    let (_, before) = app.get("/api/v1/audit/verify", &token).await;

    let report = talentcard::transfer::sqlite_to_postgres(&app.config.database_url, &target.url())
        .expect("moved");
    assert!(
        report.tables.iter().any(|(t, n)| t == "users" && *n == 4),
        "{report:?}"
    );

    // Serve the moved data from PostgreSQL with the same secrets.
    let mut config = Config::for_database(target.url(), app.config.data_dir.clone());
    config.secret_key_file = app.config.secret_key_file.clone();
    let secrets = Secrets::load(&config.secret_key_file).unwrap();
    let db = Db::connect(&config.database_url, 2, true).unwrap();
    let moved = Application::build_with(config, db, secrets).unwrap();
    let address = format!("http://127.0.0.1:{}", moved.port());
    let handle = moved.handle();
    actix_web::rt::spawn(moved.run_until_stopped());
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": "auditor", "password": "auditor-pass"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let auditor = login["access_token"]
        .as_str()
        .expect("auditor logs in on PostgreSQL");
    let get = |path: &str| {
        client
            .get(format!("{address}{path}"))
            .bearer_auth(auditor)
            .send()
    };
    let budget: serde_json::Value = get("/api/v1/budgets/2026")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(budget["total_fen"], 123_456);
    assert_eq!(budget["categories"][0]["total_fen"], 1_000);
    let after: serde_json::Value = get("/api/v1/audit/verify")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(after["checked"], before["checked"]);
    assert_eq!(after["head_hash"], before["head_hash"]);
    // New rows get fresh ids after the copied ones.
    let admin: serde_json::Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let created = client
        .post(format!("{address}/api/v1/users"))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .json(&json!({"username": "another", "role": "auditor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let letters = client
        .get(format!("{address}{}", job["letters_url"].as_str().unwrap()))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        letters.status(),
        StatusCode::OK,
        "the sealed letters moved intact"
    );
    handle.stop(false).await;
}

#[actix_web::test]
async fn moving_into_a_database_with_data_is_refused() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let source = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let err = talentcard::transfer::sqlite_to_postgres(
        &source.config.database_url,
        &app.config.database_url,
    )
    .unwrap_err();
    assert!(err.to_string().contains("empty"), "{err}");
}
