//! Least privilege (DESIGN §9): migrations run as the schema's owner, the service as a
//! role that reads the audit log and appends to it, nothing more. PostgreSQL only: SQLite
//! has no roles.

use diesel::{Connection, PgConnection, RunQueryDsl};
use reqwest::StatusCode;
use serde_json::json;
use talentcard::db::Db;

use crate::helpers::{PgRoles, TestApp};

/// Runs `sql` as the connection's role and returns the database's refusal, if any.
fn refusal(conn: &mut PgConnection, sql: &str) -> Option<String> {
    diesel::sql_query(sql)
        .execute(conn)
        .err()
        .map(|e| e.to_string())
}

#[track_caller]
fn assert_refused(conn: &mut PgConnection, sql: &str) {
    // diesel does not expose the SQLSTATE (42501, insufficient_privilege); these are
    // PostgreSQL's messages for it.
    match refusal(conn, sql) {
        Some(e) if e.contains("permission denied") || e.contains("must be owner") => {}
        Some(e) => panic!("{sql}: refused, but not for lack of privilege: {e}"),
        None => panic!("{sql}: the service role was allowed to do it"),
    }
}

#[track_caller]
fn assert_allowed(conn: &mut PgConnection, sql: &str) {
    if let Some(e) = refusal(conn, sql) {
        panic!("{sql}: refused: {e}");
    }
}

fn migrate_as_owner(roles: &PgRoles) {
    Db::migrate_and_connect(&roles.service_url(), Some(&roles.owner_url()), 1)
        .expect("migrated as the owner");
}

/// What the service role may do to the audit log, and what not, in real SQL.
fn assert_service_role_appends_only(roles: &PgRoles) {
    let mut service =
        PgConnection::establish(roles.service_url().as_str()).expect("connect as service");
    assert_allowed(
        &mut service,
        "INSERT INTO audit_events (at, actor, action, entity_type, entity_id) \
         VALUES (now(), 'test', 'test.append', 'test', '1')",
    );
    assert_allowed(&mut service, "SELECT * FROM audit_events");
    assert_allowed(&mut service, "SELECT * FROM audit_chain_head");
    assert_allowed(
        &mut service,
        "SELECT * FROM audit_seals, audit_checkpoints, audit_witnesses",
    );
    for sql in [
        "UPDATE audit_events SET action = 'test.rewritten'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "ALTER TABLE audit_events DISABLE TRIGGER ALL",
        "UPDATE audit_chain_head SET last_seq = last_seq",
        "DELETE FROM audit_chain_head",
        "DELETE FROM __diesel_schema_migrations",
        "UPDATE audit_seals SET hash = prev_hash",
        "DELETE FROM audit_seals",
        "TRUNCATE audit_seals",
        "ALTER TABLE audit_seals DISABLE TRIGGER ALL",
        "UPDATE audit_checkpoints SET signature = ''",
        "DELETE FROM audit_checkpoints",
        "UPDATE audit_witnesses SET signature = ''",
        "DELETE FROM audit_witnesses",
    ] {
        assert_refused(&mut service, sql);
    }
    // The rest of the schema is the service's to work in.
    assert_allowed(&mut service, "UPDATE users SET display_name = display_name");
    assert_allowed(&mut service, "DELETE FROM rate_limits");
}

#[test]
fn the_service_role_can_append_to_the_audit_log_and_nothing_more() {
    let Some(roles) = PgRoles::create() else {
        return;
    };
    migrate_as_owner(&roles);
    assert_service_role_appends_only(&roles);

    // Once the owner has migrated (a Kubernetes init container, a deploy step), the
    // service starts on DATABASE_URL alone, without CREATE on the schema.
    Db::migrate_and_connect(&roles.service_url(), None, 1)
        .expect("the service starts on a migrated schema");

    // An operator once granted everything: the next start takes back the extras.
    let mut owner = PgConnection::establish(roles.owner_url().as_str()).expect("owner");
    diesel::sql_query(format!(
        "GRANT ALL ON audit_events, audit_chain_head TO {}",
        roles.service
    ))
    .execute(&mut owner)
    .unwrap();
    migrate_as_owner(&roles);
    assert_service_role_appends_only(&roles);
}

#[actix_web::test]
async fn the_app_serves_as_the_service_role_after_migrating_as_the_owner() {
    let Some(roles) = PgRoles::create() else {
        return;
    };
    // The admin account is made through the service role's pool, like the CLI does.
    let app = TestApp::spawn_with_roles(&roles).await;
    let token = app.admin_token().await;
    let (status, body) = app
        .post(
            "/api/v1/users",
            &token,
            json!({"username": "auditor1", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    app.approve_proposal(&body).await;

    // Sealing and signing only insert, so the service role does both.
    app.seal_audit().await;
    let (status, checkpoint) = app
        .post("/api/v1/audit/checkpoints", &token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    let (status, report) = app.get("/api/v1/audit/verify", &token).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unsealed"], 0, "{report}");
    assert!(
        report["summary"]["checkpoints"].as_i64().unwrap() >= 1,
        "{report}"
    );
}
