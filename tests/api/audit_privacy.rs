//! No secrets in the record (DESIGN §9): audit snapshots keep personal data and bank
//! accounts masked, and entries written before that are listed with their payloads
//! withheld.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::audit::privacy::holds_unmasked_personal_data;
use talentcard::auth::Role;
use talentcard::schema::audit_events::dsl as a;

use crate::both_backends;
use crate::helpers::{MERCHANT_PASSWORD, TestApp, merchant_application};
use crate::talents::{create_talent, id_number, phone};

/// What `merchant_application` applies with.
const BANK_ACCOUNT: &str = "6222020200112233445";
const CONTACT_PHONE: &str = "13800000000";

/// Every entry's (action, before_json, after_json), read straight from the table.
async fn stored_payloads(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    app.with_conn(|conn| {
        a::audit_events
            .order(a::id)
            .select((a::action, a::before_json, a::after_json))
            .load(conn)
            .expect("audit rows")
    })
    .await
}

/// Asserts that no stored payload contains any of `secrets` or holds unmasked data.
async fn assert_no_secret_stored(app: &TestApp, secrets: &[&str]) {
    for (action, before, after) in stored_payloads(app).await {
        for json in [before, after].into_iter().flatten() {
            for secret in secrets {
                assert!(
                    !json.contains(secret),
                    "{action} keeps {secret} in the record: {json}"
                );
            }
            assert!(
                !holds_unmasked_personal_data(&json),
                "{action} holds unmasked personal data: {json}"
            );
        }
    }
}

/// The listed entries of one action, newest first.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, page) = app
        .get(&format!("/api/v1/audit/events?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().expect("items").clone()
}

fn payload(entry: &Value, field: &str) -> Value {
    serde_json::from_str(entry[field].as_str().expect(field)).expect("JSON payload")
}

async fn merchant_snapshots_keep_the_bank_account_and_contact_phone_masked(app: TestApp) {
    let id = app.apply_merchant(merchant_application("priv")).await;
    let admin = app.admin_token().await;
    for (step, body) in [
        ("approve", json!({})),
        ("suspend", json!({"reason": "资料复核"})),
        ("resume", json!({})),
    ] {
        let (status, record) = app
            .post(&format!("/api/v1/merchants/{id}/{step}"), &admin, body)
            .await;
        assert_eq!(status, StatusCode::OK, "{step}: {record}");
        // The admin's answer itself is unchanged: the full record.
        assert_eq!(record["bank_account"], BANK_ACCOUNT);
    }

    let entries = listed(
        &app,
        &admin,
        &format!("entity_type=merchant&entity_id={id}"),
    )
    .await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "merchant.resume",
            "merchant.suspend",
            "merchant.approve",
            "merchant.apply"
        ]
    );
    for entry in &entries {
        assert_eq!(entry["payload_withheld"], false, "{entry}");
    }
    let applied = payload(&entries[3], "after_json");
    assert_eq!(applied["bank_account"], "6222***********3445");
    assert_eq!(applied["contact_phone"], "138****0000");
    assert_eq!(applied["status"], "pending");
    // What an auditor follows is still there.
    let approved = &entries[2];
    assert_eq!(payload(approved, "before_json")["status"], "pending");
    assert_eq!(payload(approved, "after_json")["status"], "active");
    assert_eq!(
        payload(approved, "after_json")["bank_account"],
        "6222***********3445"
    );
    assert_eq!(
        payload(&entries[1], "after_json")["status_reason"],
        "资料复核"
    );

    // Views of the full account behave as before: the owner's is not audited, an
    // official's is, once per view, with no payload.
    let owner = app.login("priv-owner", MERCHANT_PASSWORD).await;
    let (status, own) = app.get(&format!("/api/v1/merchants/{id}"), &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["bank_account"], BANK_ACCOUNT);
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    for _ in 0..2 {
        let (status, seen) = app.get(&format!("/api/v1/merchants/{id}"), &auditor).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(seen["bank_account"], BANK_ACCOUNT);
    }
    let views = listed(&app, &admin, "action=merchant.view_bank_account").await;
    assert_eq!(views.len(), 2, "{views:?}");
    assert!(
        views
            .iter()
            .all(|v| v["after_json"].is_null() && v["payload_withheld"] == false)
    );

    assert_no_secret_stored(&app, &[BANK_ACCOUNT, CONTACT_PHONE]).await;
}

async fn talent_snapshots_keep_the_id_number_and_phone_masked(app: TestApp) {
    let admin = app.admin_token().await;
    let talent = create_talent(&app, &admin, 7, "C").await;
    let id = talent["id"].as_i64().unwrap();
    let (status, card) = app
        .post(&format!("/api/v1/talents/{id}/cards"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    // A reissue with a new tier changes the talent too (`talent.tier_change`).
    let (status, reissued) = app
        .post(
            &format!(
                "/api/v1/cards/{}/reissue",
                card["card_no"].as_str().unwrap()
            ),
            &admin,
            json!({"reason": "晋升 A 类", "tier": "A"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reissued}");
    // The one unmasked view: the admin sees the data, the record only that it was seen.
    let (status, pii) = app.get(&format!("/api/v1/talents/{id}/pii"), &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(pii["id_number"], id_number(7));

    let masked_id = format!("5109**********{}", &id_number(7)[14..]);
    let entries = listed(&app, &admin, &format!("entity_type=talent&entity_id={id}")).await;
    let by_action = |action: &str| {
        entries
            .iter()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} in {entries:?}"))
            .clone()
    };
    let created = payload(&by_action("talent.create"), "after_json");
    assert_eq!(created["id_number_masked"], masked_id);
    assert_eq!(created["phone_masked"], "139****0007");
    let changed = by_action("talent.tier_change");
    assert_eq!(payload(&changed, "before_json")["tier"], "C");
    assert_eq!(payload(&changed, "after_json")["tier"], "A");
    assert_eq!(
        payload(&by_action("talent.pii_view"), "after_json"),
        json!({"fields": ["id_number", "phone"]})
    );
    assert!(entries.iter().all(|e| e["payload_withheld"] == false));
    let login = listed(&app, &admin, "action=user.create&actor=admin").await;
    let login = login
        .iter()
        .find(|e| payload(e, "after_json")["talent_id"] == id)
        .expect("the talent's login is audited");
    assert_eq!(payload(login, "after_json")["username"], "139****0007");

    assert_no_secret_stored(&app, &[&id_number(7), &phone(7)]).await;
}

async fn entries_written_before_masking_are_listed_with_payloads_withheld(app: TestApp) {
    let admin = app.admin_token().await;
    // As the code before masking wrote them: the full merchant row.
    let old = json!({"id": 999, "name": "旧商行", "contact_phone": CONTACT_PHONE,
                     "bank_account": BANK_ACCOUNT, "status": "pending"})
    .to_string();
    let masked = json!({"id": 999, "name": "旧商行", "contact_phone": "138****0000",
                        "bank_account": "6222***********3445", "status": "active"})
    .to_string();
    let rows = [
        ("merchant.apply", None, Some(old.clone())),
        ("merchant.approve", Some(old.clone()), Some(masked.clone())),
        (
            "merchant.suspend",
            Some(masked.clone()),
            Some(masked.clone()),
        ),
        ("merchant.resume", None, Some("not JSON".to_owned())),
    ];
    app.with_conn(move |conn| {
        for (action, before, after) in rows {
            diesel::insert_into(a::audit_events)
                .values((
                    a::at.eq(talentcard::time::now()),
                    a::actor.eq("old-code"),
                    a::action.eq(action),
                    a::entity_type.eq("merchant"),
                    a::entity_id.eq("999"),
                    a::before_json.eq(before),
                    a::after_json.eq(after),
                ))
                .execute(conn)
                .expect("old entry inserted");
        }
    })
    .await;

    let entries = listed(&app, &admin, "entity_type=merchant&entity_id=999").await;
    let summary: Vec<(&str, bool)> = entries
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["payload_withheld"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("merchant.resume", true),
            ("merchant.suspend", false),
            ("merchant.approve", true),
            ("merchant.apply", true),
        ]
    );
    for withheld in entries.iter().filter(|e| e["payload_withheld"] == true) {
        assert!(withheld["before_json"].is_null(), "{withheld}");
        assert!(withheld["after_json"].is_null(), "{withheld}");
    }
    assert_eq!(entries[1]["before_json"], masked.as_str());
    assert_eq!(entries[1]["after_json"], masked.as_str());
    let (_, page) = app
        .get("/api/v1/audit/events?entity_id=999&per_page=100", &admin)
        .await;
    assert!(!page.to_string().contains(BANK_ACCOUNT), "{page}");

    // Withholding is a matter of listing: the stored entries are intact and verify.
    app.seal_audit().await;
    let (status, report) = app.get("/api/v1/audit/verify", &admin).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["ok"], true, "{report}");
}

async fn the_openapi_document_describes_payload_withheld(app: TestApp) {
    let (status, doc) = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = &doc["components"]["schemas"]["ListedEvent"];
    assert!(
        listed.to_string().contains("payload_withheld"),
        "ListedEvent: {listed}"
    );
    let events = doc["paths"]["/api/v1/audit/events"]["get"].to_string();
    assert!(events.contains("ListedEvent"), "{events}");
}

both_backends!(
    merchant_snapshots_keep_the_bank_account_and_contact_phone_masked,
    talent_snapshots_keep_the_id_number_and_phone_masked,
    entries_written_before_masking_are_listed_with_payloads_withheld,
    the_openapi_document_describes_payload_withheld,
);
