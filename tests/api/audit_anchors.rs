//! The record anchored outside the database (DESIGN §9): signed checkpoints catch a
//! rewrite with recomputed hashes, exports verify offline and fail on any changed byte,
//! witnesses sign with openssl, and a version 1 chain is re-sealed only if intact.

use std::io::Write;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use diesel::RunQueryDsl;
use ed25519_dalek::Signer;
use reqwest::StatusCode;
use serde_json::{Value, json};
use talentcard::audit::export::{ExportError, verify_export};
use talentcard::auth::Role;

use crate::audit::drop_append_only_guard;
use crate::both_backends;
use crate::helpers::{Backend, PgDatabase, TestApp};

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_talentcard"))
}

async fn server_key(app: &TestApp, token: &str) -> String {
    let (status, key) = app.get("/api/v1/audit/public-key", token).await;
    assert_eq!(status, StatusCode::OK, "{key}");
    assert_eq!(key["algorithm"], "Ed25519");
    key["public_key"].as_str().unwrap().to_owned()
}

async fn export(app: &TestApp, token: &str, query: &str) -> String {
    let response = app
        .client
        .get(format!("{}/api/v1/audit/export{query}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

fn verify_text(text: &str, key: &str, witnesses: &[&str]) -> Result<Value, ExportError> {
    let key = talentcard::audit::signing::parse_public_key(key).unwrap();
    let witnesses: Vec<_> = witnesses
        .iter()
        .map(|w| talentcard::audit::signing::parse_public_key(w).unwrap())
        .collect();
    verify_export(text.as_bytes(), &[key], &witnesses).map(|s| serde_json::to_value(s).unwrap())
}

fn write_temp(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

async fn checkpoint(app: &TestApp, token: &str) -> Value {
    let (status, checkpoint) = app
        .post("/api/v1/audit/checkpoints", token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{checkpoint}");
    checkpoint
}

/// The attack of issue 14: as the database's owner, make two `talent.pii_view` entries
/// an auditor's, recompute every hash after them with the published construction.
async fn a_rewrite_with_recomputed_hashes_is_caught_by_every_verifier(app: TestApp) {
    let admin = app.admin_token().await;
    let auditor_id = app
        .create_account(Role::Auditor, "auditor1", "auditor-pass")
        .await;
    let talent = crate::talents::create_talent(&app, &admin, 1, "B").await;
    let pii = format!("/api/v1/talents/{}/pii", talent["id"]);
    for _ in 0..2 {
        assert_eq!(app.get(&pii, &admin).await.0, StatusCode::OK);
    }
    let signed = checkpoint(&app, &admin).await;
    let size = signed["size"].as_i64().unwrap();
    let key = server_key(&app, &admin).await;
    assert!(
        verify_text(&export(&app, &admin, "").await, &key, &[]).is_ok(),
        "an untouched export verifies"
    );

    let backend = app.backend;
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::{audit_events as e, audit_seals as s};
        drop_append_only_guard(conn, backend);
        let changed = diesel::update(e::table.filter(e::action.eq("talent.pii_view")))
            .set((e::actor.eq("auditor1"), e::actor_id.eq(auditor_id)))
            .execute(conn)
            .unwrap();
        assert_eq!(changed, 2);
        let rows: Vec<(talentcard::audit::AuditEvent, (i64, Option<String>))> = s::table
            .inner_join(e::table)
            .order(s::seq)
            .select((
                talentcard::audit::AuditEvent::as_select(),
                (s::seq, s::legacy_hash),
            ))
            .load(conn)
            .unwrap();
        let mut prev = talentcard::audit::GENESIS_HASH.to_owned();
        for (event, (seq, legacy)) in rows {
            let entry = talentcard::audit::sealer::chain_entry(&event, seq, legacy, prev);
            diesel::update(s::table.find(seq))
                .set((s::prev_hash.eq(&entry.prev_hash), s::hash.eq(&entry.hash)))
                .execute(conn)
                .unwrap();
            prev = entry.hash;
        }
    })
    .await;

    // The server's own verify names the checkpoint the rewrite no longer matches.
    let (_, report) = app.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["checkpoint"], size, "{report}");
    assert!(
        report["first_broken"]["reason"]
            .as_str()
            .unwrap()
            .contains("rewritten"),
        "{report}"
    );

    // `talentcard audit-verify` on the same database and keys.
    let out = binary()
        .arg("audit-verify")
        .env("DATABASE_URL", app.config.database_url.as_str())
        .env("SECRET_KEY_FILE", &app.config.secret_key_file)
        .env("DATA_DIR", &app.config.data_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("\"checkpoint\": {size}")),
        "{out:?}"
    );

    // An export of the rewritten log fails offline, naming the checkpoint.
    let text = export(&app, &admin, &format!("?size={size}")).await;
    match verify_text(&text, &key, &[]) {
        Err(ExportError::Broken(b)) => assert_eq!(b.checkpoint, Some(size), "{b}"),
        other => panic!("the rewritten export must fail: {other:?}"),
    }
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(&dir, "audit.jsonl", &text);
    let out = binary()
        .args([
            "verify-export",
            file.to_str().unwrap(),
            "--public-key",
            &key,
        ])
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("checkpoint {size}")),
        "{out:?}"
    );
}

/// Changes one letter or digit somewhere in `line`, at about `fraction` of its length.
fn change_one_byte(line: &str, fraction: f64) -> Option<String> {
    let mut bytes = line.as_bytes().to_vec();
    let start = (bytes.len() as f64 * fraction) as usize;
    let at = (start..bytes.len()).find(|&i| bytes[i].is_ascii_alphanumeric())?;
    bytes[at] = match bytes[at] {
        b'0' => b'1',
        b'9' => b'8',
        b'a' => b'b',
        b'z' => b'y',
        b'A' => b'B',
        c if c.is_ascii_digit() || c.is_ascii_lowercase() || c.is_ascii_uppercase() => c - 1,
        c => c,
    };
    String::from_utf8(bytes).ok()
}

async fn an_export_verifies_offline_and_any_changed_byte_fails(app: TestApp) {
    let admin = app.admin_token().await;
    for i in 0..3 {
        app.create_account(Role::Auditor, &format!("aud{i}"), "auditor-pass")
            .await;
    }
    let first = checkpoint(&app, &admin).await;
    // A settlement approval names the checkpoint it relied on (as approve does).
    let (size, root) = (first["size"].as_i64().unwrap(), first["root"].clone());
    app.with_conn(move |conn| {
        talentcard::audit::record(
            conn,
            &talentcard::auth::Actor::system("test"),
            "settlement.approve",
            "settlement",
            1,
            None::<&()>,
            Some(&json!({"audit_checkpoint_size": size, "audit_checkpoint_root": root})),
        )
        .unwrap();
    })
    .await;
    app.create_account(Role::Auditor, "aud9", "auditor-pass")
        .await;
    let last = checkpoint(&app, &admin).await;
    let key = server_key(&app, &admin).await;
    let text = export(&app, &admin, "").await;
    let summary = verify_text(&text, &key, &[]).expect("the export verifies");
    assert_eq!(summary["entries"], last["size"], "{summary}");
    assert!(summary["checkpoints"].as_i64().unwrap() >= 2, "{summary}");
    assert_eq!(summary["settlement_anchors"], 1, "{summary}");

    // The command an auditor runs, with nothing from the environment.
    let dir = tempfile::tempdir().unwrap();
    let key_file = write_temp(&dir, "server.key", &key);
    let file = write_temp(&dir, "audit.jsonl", &text);
    let out = binary()
        .args(["verify-export", file.to_str().unwrap(), "--public-key"])
        .arg(&key_file)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("OK: "),
        "{out:?}"
    );

    // One changed byte in any entry fails.
    let lines: Vec<&str> = text.lines().collect();
    let mut tried = 0;
    for (i, line) in lines.iter().enumerate() {
        if !line.contains("\"type\":\"entry\"") {
            continue;
        }
        for fraction in [0.1, 0.3, 0.5, 0.7, 0.9] {
            let Some(changed) = change_one_byte(line, fraction) else {
                continue;
            };
            let mut tampered = lines.clone();
            tampered[i] = &changed;
            let tampered = tampered.join("\n") + "\n";
            assert!(
                verify_text(&tampered, &key, &[]).is_err(),
                "line {i} changed at {fraction} still verifies: {changed}"
            );
            tried += 1;
        }
    }
    assert!(tried >= 5 * 5, "{tried} variants tried");

    // An approval naming a checkpoint with another root fails.
    let forged = text.replacen(
        &format!("\\\"audit_checkpoint_size\\\":{size}"),
        &format!("\\\"audit_checkpoint_size\\\":{}", last["size"]),
        1,
    );
    assert_ne!(forged, text);
    assert!(verify_text(&forged, &key, &[]).is_err());

    // A checkpoint signed by another key fails against the pinned key.
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let resigned: Vec<String> = lines
        .iter()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if v["type"] == "checkpoint" {
                let sig = other.sign(v["text"].as_str().unwrap().as_bytes());
                v["signature"] = json!(B64.encode(sig.to_bytes()));
            }
            v.to_string()
        })
        .collect();
    match verify_text(&(resigned.join("\n") + "\n"), &key, &[]) {
        Err(ExportError::Broken(b)) => {
            assert!(
                b.checkpoint.is_some() && b.reason.contains("signature"),
                "{b}"
            )
        }
        other => panic!("a checkpoint signed by another key must fail: {other:?}"),
    }
    // Pinning a key the server never used fails too.
    let stranger = B64.encode(other.verifying_key().as_bytes());
    assert!(verify_text(&text, &stranger, &[]).is_err());
    // A file cut short (no end line) fails.
    let cut = lines[..lines.len() - 1].join("\n") + "\n";
    assert!(verify_text(&cut, &key, &[]).is_err());
}

fn openssl(args: &[&str], dir: &std::path::Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(out.status.success(), "openssl {args:?}: {out:?}");
    out.stdout
}

/// The recipe of docs/audit-format.md, exactly: an openssl Ed25519 key signs the
/// downloaded checkpoint text; the server verifies it before storing it.
async fn a_witness_signs_with_openssl_and_a_bad_signature_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let auditor = app.official_token(Role::Auditor, "witness1").await;
    let signed = checkpoint(&app, &admin).await;
    let size = signed["size"].as_i64().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    write_temp(
        &dir,
        &format!("checkpoint-{size}.txt"),
        signed["text"].as_str().unwrap(),
    );
    openssl(
        &["genpkey", "-algorithm", "ed25519", "-out", "witness.pem"],
        path,
    );
    let der = openssl(
        &["pkey", "-in", "witness.pem", "-pubout", "-outform", "DER"],
        path,
    );
    let public_key = B64.encode(&der[der.len() - 32..]);
    let signature = B64.encode(openssl(
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            "witness.pem",
            "-in",
            &format!("checkpoint-{size}.txt"),
        ],
        path,
    ));
    let witness_path = format!("/api/v1/audit/checkpoints/{size}/witness");
    let body = json!({"public_key": public_key, "signature": signature});

    // Only auditors witness.
    assert_eq!(
        app.post(&witness_path, &admin, body.clone()).await.0,
        StatusCode::FORBIDDEN
    );
    // A signature over other text is refused, naming the field.
    let wrong = B64.encode(openssl(
        &[
            "pkeyutl",
            "-sign",
            "-rawin",
            "-inkey",
            "witness.pem",
            "-in",
            "witness.pem",
        ],
        path,
    ));
    let refused = app
        .post(
            &witness_path,
            &auditor,
            json!({"public_key": public_key, "signature": wrong}),
        )
        .await;
    crate::helpers::assert_invalid(&refused, "signature");
    crate::helpers::assert_invalid(
        &app.post(
            &witness_path,
            &auditor,
            json!({"public_key": "bm90IGEga2V5", "signature": signature}),
        )
        .await,
        "public_key",
    );
    assert_eq!(
        app.post(
            "/api/v1/audit/checkpoints/999999/witness",
            &auditor,
            body.clone()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );

    let (status, witness) = app.post(&witness_path, &auditor, body).await;
    assert_eq!(status, StatusCode::OK, "{witness}");
    assert_eq!(witness["public_key"], public_key);
    let (_, listed) = app.get("/api/v1/audit/checkpoints", &auditor).await;
    let latest = &listed["items"][0];
    assert_eq!(latest["size"], size, "{listed}");
    assert_eq!(latest["witnesses"].as_array().unwrap().len(), 1, "{listed}");

    // The export verifies with that witness required, and not with another.
    let key = server_key(&app, &admin).await;
    let text = export(&app, &auditor, &format!("?size={size}")).await;
    let summary = verify_text(&text, &key, &[&public_key]).expect("witnessed export verifies");
    assert_eq!(summary["witnesses"], 1);
    let stranger = B64.encode(
        ed25519_dalek::SigningKey::from_bytes(&[5u8; 32])
            .verifying_key()
            .as_bytes(),
    );
    assert!(verify_text(&text, &key, &[&stranger]).is_err());
    let file = write_temp(&dir, "audit.jsonl", &text);
    let pem = path.join("witness.pub.pem");
    std::fs::write(
        &pem,
        openssl(&["pkey", "-in", "witness.pem", "-pubout"], path),
    )
    .unwrap();
    let out = binary()
        .args([
            "verify-export",
            file.to_str().unwrap(),
            "--public-key",
            &key,
            "--witness-key",
        ])
        .arg(&pem)
        .env_clear()
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // A witness signature altered in the database is caught by the server's verify.
    let backend = app.backend;
    app.with_conn(move |conn| {
        let table_trigger = match backend {
            Backend::Postgres => "DROP TRIGGER audit_witnesses_append_only ON audit_witnesses",
            Backend::Sqlite => "DROP TRIGGER audit_witnesses_no_update",
        };
        diesel::sql_query(table_trigger).execute(conn).unwrap();
        diesel::sql_query(format!(
            "UPDATE audit_witnesses SET signature = '{}'",
            B64.encode([1u8; 64])
        ))
        .execute(conn)
        .unwrap();
    })
    .await;
    let (_, report) = app.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_broken"]["checkpoint"], size, "{report}");
}

/// Writes `n` entries the way the version 1 sealer left them, and its head.
fn seed_version_1(conn: &mut talentcard::db::DbConnection, n: i64, tamper: bool) {
    use diesel::prelude::*;
    use talentcard::schema::{audit_chain_head as h, audit_events as e};
    let mut prev = talentcard::audit::GENESIS_HASH.to_owned();
    for seq in 1..=n {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
            .unwrap()
            .and_hms_micro_opt(8, 0, seq as u32, 123_456)
            .unwrap();
        let after = format!(r#"{{"bank_account":"62220202001122{seq:05}"}}"#);
        let entry = talentcard::audit::chain::ChainEntry {
            seq,
            id: seq,
            at: talentcard::audit::chain::format_at(&at),
            actor_id: Some(1),
            actor: "admin".into(),
            action: "merchant.apply".into(),
            entity_type: "merchant".into(),
            entity_id: seq.to_string(),
            before_json: None,
            after_json: Some(after.clone()),
            withheld: false,
            payload_hash: String::new(),
            legacy_hash: None,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let hash = talentcard::audit::chain::legacy_entry_hash(&entry, &prev);
        let stored = if tamper && seq == 2 {
            after.replace('6', "7")
        } else {
            after
        };
        diesel::insert_into(e::table)
            .values((
                e::id.eq(seq),
                e::at.eq(at),
                e::actor_id.eq(Some(1i64)),
                e::actor.eq("admin"),
                e::action.eq("merchant.apply"),
                e::entity_type.eq("merchant"),
                e::entity_id.eq(seq.to_string()),
                e::after_json.eq(stored),
                e::seq.eq(seq),
                e::prev_hash.eq(&prev),
                e::hash.eq(&hash),
            ))
            .execute(conn)
            .unwrap();
        prev = hash;
    }
    // The head as the version 1 sealer kept it (its row was not frozen then).
    let trigger = match conn {
        talentcard::db::DbConnection::Pg(_) => {
            diesel::sql_query(format!("SELECT setval('audit_events_id_seq', {n})"))
                .execute(conn)
                .unwrap();
            "DROP TRIGGER audit_chain_head_frozen ON audit_chain_head"
        }
        talentcard::db::DbConnection::Sqlite(_) => "DROP TRIGGER audit_chain_head_no_update",
    };
    diesel::sql_query(trigger).execute(conn).unwrap();
    diesel::update(h::table.find(1))
        .set((h::last_seq.eq(n), h::last_hash.eq(&prev)))
        .execute(conn)
        .unwrap();
}

fn upgrade_on(url: talentcard::db::DatabaseUrl) {
    let keys = tempfile::tempdir().unwrap();
    let secrets =
        talentcard::secrets::Secrets::load_or_create(&keys.path().join("secrets.json")).unwrap();
    let db = talentcard::db::Db::connect(&url, 1, true).unwrap();
    let mut conn = db.get().unwrap();
    seed_version_1(&mut conn, 5, false);
    talentcard::audit::seal_pending(&mut conn).expect("an intact version 1 chain re-seals");
    let report = talentcard::audit::verify(&mut conn, &secrets).unwrap();
    assert!(report.ok, "{report:?}");
    let summary = report.summary.unwrap();
    // Five version 1 entries and the entry recording the upgrade.
    assert_eq!(summary.entries, 6);
    assert_eq!(summary.legacy_entries, 5);
}

fn upgrade_refuses_a_broken_chain(url: talentcard::db::DatabaseUrl) {
    let db = talentcard::db::Db::connect(&url, 1, true).unwrap();
    let mut conn = db.get().unwrap();
    seed_version_1(&mut conn, 5, true);
    let error = talentcard::audit::seal_pending(&mut conn).expect_err("a broken chain is refused");
    assert!(
        error.to_string().contains("position 2") || format!("{error:?}").contains("position 2"),
        "{error:?}"
    );
    use diesel::prelude::*;
    let seals: i64 = talentcard::schema::audit_seals::table
        .count()
        .get_result(&mut *conn)
        .unwrap();
    assert_eq!(seals, 0, "nothing is re-sealed");
}

#[test]
fn a_version_1_chain_is_verified_and_re_sealed_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["intact", "broken"] {
        let url = talentcard::db::DatabaseUrl::parse(&format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        ))
        .unwrap();
        match name {
            "intact" => upgrade_on(url),
            _ => upgrade_refuses_a_broken_chain(url),
        }
    }
}

#[test]
fn a_version_1_chain_is_verified_and_re_sealed_on_postgres() {
    let Some(intact) = PgDatabase::create() else {
        return;
    };
    upgrade_on(intact.url());
    let broken = PgDatabase::create().unwrap();
    upgrade_refuses_a_broken_chain(broken.url());
}

both_backends!(
    a_rewrite_with_recomputed_hashes_is_caught_by_every_verifier,
    an_export_verifies_offline_and_any_changed_byte_fails,
    a_witness_signs_with_openssl_and_a_bad_signature_is_refused,
);
