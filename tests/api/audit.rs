use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

async fn every_change_is_audited_and_listed(app: TestApp) {
    let token = app.admin_token().await;
    let (status, proposed) = app
        .post(
            "/api/v1/users",
            &token,
            json!({"username": "auditor1", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let created = app.approve_proposal(&proposed).await["user"].clone();
    // The account is made by the approval, so the approver is its actor.
    let (status, page) = app
        .get(
            "/api/v1/audit/events?entity_type=user&action=user.create&actor=second-admin",
            &token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1, "{page}");
    let event = &page["items"][0];
    assert_eq!(event["entity_id"], created["id"].to_string());
    let after: serde_json::Value =
        serde_json::from_str(event["after_json"].as_str().unwrap()).unwrap();
    assert_eq!(after["username"], "auditor1");
    assert!(
        !event["after_json"].as_str().unwrap().contains("argon2"),
        "no password hash in the audit log"
    );
    let (_, by_prefix) = app
        .get("/api/v1/audit/events?action=user.&per_page=1", &token)
        .await;
    assert!(by_prefix["total"].as_i64().unwrap() >= 2, "{by_prefix}");
    assert_eq!(by_prefix["items"].as_array().unwrap().len(), 1);
}

async fn chain_verifies_after_many_concurrent_writes(app: TestApp) {
    let token = app.admin_token().await;
    let writers = (0..40).map(|i| {
        let body = json!({"username": format!("official{i}"), "role": "auditor"});
        app.post("/api/v1/users", &token, body)
    });
    // The background sealer runs meanwhile; a second sealer races it on purpose.
    let sealing = async {
        for _ in 0..5 {
            app.seal_audit().await;
        }
    };
    let (results, ()) =
        futures_util::future::join(futures_util::future::join_all(writers), sealing).await;
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::ACCEPTED),
        "{results:?}"
    );
    app.seal_audit().await;
    let (status, report) = app.get("/api/v1/audit/verify", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["unsealed"], 0, "{report}");
    // 1 admin + 40 proposals, each audited once.
    assert_eq!(report["checked"], 41, "{report}");
    assert_eq!(report["head_seq"], 41, "{report}");
}

/// What someone who owns the database can do: drop the append-only triggers.
pub fn drop_append_only_guard(conn: &mut talentcard::db::DbConnection, backend: Backend) {
    let sql = match backend {
        Backend::Postgres => vec![
            "DROP TRIGGER audit_events_append_only ON audit_events",
            "DROP TRIGGER audit_seals_append_only ON audit_seals",
        ],
        Backend::Sqlite => vec![
            "DROP TRIGGER audit_events_no_delete",
            "DROP TRIGGER audit_events_no_update",
            "DROP TRIGGER audit_seals_no_delete",
            "DROP TRIGGER audit_seals_no_update",
        ],
    };
    for s in sql {
        diesel::sql_query(s).execute(conn).unwrap();
    }
}

async fn the_database_refuses_to_edit_or_delete_sealed_entries(app: TestApp) {
    app.create_account(talentcard::auth::Role::Auditor, "someone", "someone-pass")
        .await;
    let token = app.admin_token().await;
    let (status, _) = app
        .post("/api/v1/audit/checkpoints", &token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (edit, delete) = app
        .with_conn(|conn| {
            let mut refused = |sql: &str| diesel::sql_query(sql).execute(conn).is_err();
            let edit = refused("UPDATE audit_events SET actor = 'mallory' WHERE id = 1")
                && refused("UPDATE audit_seals SET hash = prev_hash WHERE seq = 1")
                && refused("UPDATE audit_chain_head SET last_seq = 7");
            let delete = refused("DELETE FROM audit_seals WHERE seq = 2")
                && refused("DELETE FROM audit_events WHERE id = 2")
                && refused("DELETE FROM audit_checkpoints");
            (edit, delete)
        })
        .await;
    assert!(
        edit && delete,
        "append-only triggers must refuse edits ({edit}) and deletes ({delete})"
    );
}

async fn verify_finds_an_entry_edited_behind_its_back(app: TestApp) {
    let token = app.admin_token().await;
    for i in 0..5 {
        app.create_account(
            talentcard::auth::Role::Auditor,
            &format!("aud{i}"),
            "auditor-pass",
        )
        .await;
    }
    app.seal_audit().await;
    let backend = app.backend;
    app.with_conn(move |conn| {
        drop_append_only_guard(conn, backend);
        diesel::sql_query(
            "UPDATE audit_events SET after_json = '{\"username\":\"mallory\"}' \
             WHERE id = (SELECT event_id FROM audit_seals WHERE seq = 3)",
        )
        .execute(conn)
        .unwrap();
    })
    .await;
    let (_, report) = app.get("/api/v1/audit/verify", &token).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["seq"], 3, "{report}");
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("altered"),
        "{report}"
    );
}

async fn verify_finds_a_deleted_entry(app: TestApp) {
    let token = app.admin_token().await;
    for i in 0..5 {
        app.create_account(
            talentcard::auth::Role::Auditor,
            &format!("aud{i}"),
            "auditor-pass",
        )
        .await;
    }
    app.seal_audit().await;
    let backend = app.backend;
    app.with_conn(move |conn| {
        drop_append_only_guard(conn, backend);
        diesel::sql_query("DELETE FROM audit_seals WHERE seq = 4")
            .execute(conn)
            .unwrap();
    })
    .await;
    let (_, report) = app.get("/api/v1/audit/verify", &token).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["seq"], 4, "{report}");
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("missing"),
        "{report}"
    );
}

async fn verify_finds_entries_cut_from_the_end(app: TestApp) {
    let token = app.admin_token().await;
    app.create_account(talentcard::auth::Role::Auditor, "aud", "auditor-pass")
        .await;
    // The end of the chain is pinned by the latest signed checkpoint.
    let (status, checkpoint) = app
        .post("/api/v1/audit/checkpoints", &token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    let backend = app.backend;
    app.with_conn(move |conn| {
        drop_append_only_guard(conn, backend);
        // In one transaction, so the background sealer cannot seal the entry again.
        diesel::Connection::transaction(conn, |conn| {
            let id =
                "(SELECT event_id FROM audit_seals WHERE seq = (SELECT MAX(seq) FROM audit_seals))";
            diesel::sql_query(format!("CREATE TEMPORARY TABLE cut AS SELECT {id} AS id"))
                .execute(conn)?;
            diesel::sql_query(
                "DELETE FROM audit_seals WHERE seq = (SELECT MAX(seq) FROM audit_seals)",
            )
            .execute(conn)?;
            diesel::sql_query("DELETE FROM audit_events WHERE id = (SELECT id FROM cut)")
                .execute(conn)?;
            diesel::sql_query("DROP TABLE cut").execute(conn)
        })
        .unwrap();
    })
    .await;
    let (_, report) = app.get("/api/v1/audit/verify", &token).await;
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("removed"),
        "{report}"
    );
    // An export is not quietly cut to what is left: it refuses, pointing at verify.
    let (status, refused) = app.get("/api/v1/audit/export", &token).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
}

both_backends!(
    every_change_is_audited_and_listed,
    chain_verifies_after_many_concurrent_writes,
    the_database_refuses_to_edit_or_delete_sealed_entries,
    verify_finds_an_entry_edited_behind_its_back,
    verify_finds_a_deleted_entry,
    verify_finds_entries_cut_from_the_end,
);

/// The background sealer's pass of every tick looks back only a few seconds; an entry
/// whose transaction outlasted that — committed after a later entry was sealed — is
/// linked by the wider pass, and the chain stays whole.
#[actix_web::test]
async fn an_entry_of_a_slow_transaction_waits_for_the_wider_pass() {
    use std::time::Duration;

    use talentcard::audit::sealer::seal_within;
    use talentcard::auth::Actor;
    use talentcard::db::Db;

    let Some(database) = crate::helpers::PgDatabase::create() else {
        return;
    };
    let db = Db::migrate_and_connect(&database.url(), None, 2).expect("database");
    let mut quick = db.get().unwrap();
    let mut slow = db.get().unwrap();
    let actor = Actor::system("test");
    let record = |conn: &mut talentcard::db::DbConnection, action: &str| {
        talentcard::audit::record(
            conn,
            &actor,
            action,
            "test",
            1,
            None::<&()>,
            Some(&json!({})),
        )
        .unwrap()
    };
    let sealed = |conn: &mut talentcard::db::DbConnection, action: &str| -> bool {
        use diesel::prelude::*;
        use talentcard::schema::{audit_events, audit_seals};
        audit_seals::table
            .inner_join(audit_events::table.on(audit_events::id.eq(audit_seals::event_id)))
            .filter(audit_events::action.eq(action))
            .count()
            .get_result::<i64>(conn)
            .unwrap()
            == 1
    };
    seal_within(&mut quick, Duration::from_secs(1)).unwrap();

    // The slow transaction takes its entry's id first and commits after the quick one's
    // entry was sealed.
    diesel::sql_query("BEGIN").execute(&mut *slow).unwrap();
    record(&mut slow, "test.slow");
    record(&mut quick, "test.quick");
    assert_eq!(seal_within(&mut quick, Duration::from_secs(1)).unwrap(), 1);
    diesel::sql_query("COMMIT").execute(&mut *slow).unwrap();
    std::thread::sleep(Duration::from_millis(1_100));

    assert_eq!(seal_within(&mut quick, Duration::from_secs(1)).unwrap(), 0);
    assert!(!sealed(&mut quick, "test.slow"));
    assert_eq!(talentcard::audit::seal_pending(&mut quick).unwrap(), 1);
    assert!(sealed(&mut quick, "test.slow") && sealed(&mut quick, "test.quick"));
    let secrets = talentcard::secrets::Secrets::load_or_create(
        &tempfile::tempdir().unwrap().path().join("secrets.json"),
    )
    .unwrap();
    let report = talentcard::audit::verify(&mut quick, &secrets).unwrap();
    assert!(report.ok, "{report:?}");
}
