use diesel::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem};
use crate::talents::{create_talent, role_tokens, talent_with_card};

/// Moves a card's validity into the past, as if time had passed.
pub async fn lapse_card(app: &TestApp, card_no: &str) {
    let card_no = card_no.to_owned();
    app.with_conn(move |conn| {
        diesel::sql_query("UPDATE cards SET issued_at = $1, expires_at = $2 WHERE card_no = $3")
            .bind::<diesel::sql_types::Timestamp, _>(
                chrono::Utc::now().naive_utc() - chrono::Duration::days(400),
            )
            .bind::<diesel::sql_types::Timestamp, _>(
                chrono::Utc::now().naive_utc() - chrono::Duration::seconds(1),
            )
            .bind::<diesel::sql_types::Text, _>(card_no)
            .execute(conn)
            .unwrap();
    })
    .await;
}

async fn audit_count(app: &TestApp, token: &str, action: &str) -> i64 {
    let (_, page) = app
        .get(&format!("/api/v1/audit/events?action={action}"), token)
        .await;
    page["total"].as_i64().unwrap()
}

async fn a_card_goes_through_its_lifecycle_and_every_step_is_audited(app: TestApp) {
    let admin = app.admin_token().await;
    let talent = create_talent(&app, &admin, 1, "A").await;
    let (status, card) = app
        .post(
            &format!("/api/v1/talents/{}/cards", talent["id"]),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let no = card["card_no"].as_str().unwrap().to_owned();
    assert_eq!(no.len(), 12);
    assert_eq!(card["status"], "active");
    assert_eq!(card["tier"], "A");
    let today = chrono::Utc::now().naive_utc() + chrono::Duration::hours(8);
    let year = today.format("%Y").to_string().parse::<i32>().unwrap();
    assert!(
        card["valid_until"]
            .as_str()
            .unwrap()
            .starts_with(&(year + 3).to_string()),
        "default validity 3 years: {card}"
    );
    // At most one live card per talent.
    assert_problem(
        &app.post(
            &format!("/api/v1/talents/{}/cards", talent["id"]),
            &admin,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let path = |step: &str| format!("/api/v1/cards/{no}/{step}");
    assert_problem(
        &app.post(&path("suspend"), &admin, json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, suspended) = app
        .post(&path("suspend"), &admin, json!({"reason": "phone lost"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{suspended}");
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["status_reason"], "phone lost");
    assert_problem(
        &app.post(&path("suspend"), &admin, json!({"reason": "again"}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (status, resumed) = app.post(&path("resume"), &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resumed}");
    assert_eq!(resumed["status"], "active");
    assert_problem(
        &app.post(&path("resume"), &admin, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &app.post(&path("revoke"), &admin, json!({"reason": " "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, revoked) = app
        .post(&path("revoke"), &admin, json!({"reason": "left the city"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{revoked}");
    assert_eq!(revoked["status"], "revoked");
    for step in ["suspend", "resume", "revoke"] {
        assert_problem(
            &app.post(&path(step), &admin, json!({"reason": "x"})).await,
            StatusCode::CONFLICT,
            "invalid_transition",
        );
    }
    assert_problem(
        &app.post(&path("reissue"), &admin, json!({"reason": "x"}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    // A revoked card no longer blocks a new one.
    let (status, _) = app
        .post(
            &format!("/api/v1/talents/{}/cards", talent["id"]),
            &admin,
            json!({"valid_until": "2030-06-30"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for (action, n) in [
        ("card.issue", 2),
        ("card.suspend", 1),
        ("card.resume", 1),
        ("card.revoke", 1),
    ] {
        assert_eq!(audit_count(&app, &admin, action).await, n, "{action}");
    }
    let (_, events) = app
        .get("/api/v1/audit/events?action=card.suspend", &admin)
        .await;
    let before: Value =
        serde_json::from_str(events["items"][0]["before_json"].as_str().unwrap()).unwrap();
    let after: Value =
        serde_json::from_str(events["items"][0]["after_json"].as_str().unwrap()).unwrap();
    assert_eq!(before["status"], "active");
    assert_eq!(after["status"], "suspended");
}

async fn a_mistyped_card_number_is_refused_before_any_lookup(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, no, _) = talent_with_card(&app, 2, "C").await;
    let (status, card) = app.get(&format!("/api/v1/cards/{no}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    let mut typo = no.clone().into_bytes();
    typo[5] = b'0' + (typo[5] - b'0' + 1) % 10;
    let typo = String::from_utf8(typo).unwrap();
    let resp = app.get(&format!("/api/v1/cards/{typo}"), &admin).await;
    assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(resp.1["detail"].as_str().unwrap().contains("check digit"));
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{typo}/suspend"),
            &admin,
            json!({"reason": "x"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    assert_problem(
        &app.get("/api/v1/cards/12345", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    // Right check digit, no such card: only now is it a lookup.
    let mut other = b"12345678901".to_vec();
    other.push(b'0' + talentcard::cards::card_no::damm_digit(&other));
    let other = String::from_utf8(other).unwrap();
    assert_problem(
        &app.get(&format!("/api/v1/cards/{other}"), &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_problem(
        &app.post("/api/v1/talents/999999/cards", &admin, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_problem(
        &app.post(
            "/api/v1/talents/1/cards",
            &admin,
            json!({"valid_until": "2020-01-01"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, _) = app
        .post(
            "/api/v1/talents/1/cards",
            &admin,
            json!({"valid_until": "soon"}),
        )
        .await;
    assert!(status.is_client_error());
}

async fn reissue_revokes_the_old_card_and_issues_a_new_number(app: TestApp) {
    let admin = app.admin_token().await;
    let (talent_id, old_no, talent) = talent_with_card(&app, 3, "C").await;
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{old_no}/reissue"),
            &admin,
            json!({}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{old_no}/reissue"),
            &admin,
            json!({"reason": "promoted", "tier": "B"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let new_no = body["new"]["card_no"].as_str().unwrap();
    assert_ne!(new_no, old_no);
    assert_eq!(body["old"]["status"], "revoked");
    assert_eq!(body["old"]["replaced_by"], body["new"]["id"]);
    assert_eq!(body["new"]["tier"], "B");
    assert_eq!(body["new"]["valid_until"], body["old"]["valid_until"]);
    let (_, me) = app.get("/api/v1/me/card", &talent).await;
    assert_eq!(me["card_no"], new_no);
    let (_, t) = app
        .get(&format!("/api/v1/talents/{talent_id}"), &admin)
        .await;
    assert_eq!(t["tier"], "B");
    assert_eq!(t["card"]["card_no"], new_no);
    let (_, history) = app
        .get(&format!("/api/v1/cards?talent_id={talent_id}"), &admin)
        .await;
    assert_eq!(history["total"], 2, "history kept: {history}");
    assert_eq!(audit_count(&app, &admin, "card.reissue").await, 1);
    assert_eq!(audit_count(&app, &admin, "talent.tier_change").await, 1);
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{old_no}/reissue"),
            &admin,
            json!({"reason": "again"}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
}

async fn a_card_past_its_validity_is_expired_without_a_batch_job(app: TestApp) {
    let admin = app.admin_token().await;
    let (talent_id, no, talent) = talent_with_card(&app, 4, "A").await;
    lapse_card(&app, &no).await;
    let (_, card) = app.get(&format!("/api/v1/cards/{no}"), &admin).await;
    assert_eq!(card["status"], "expired", "{card}");
    let (_, mine) = app.get("/api/v1/me/card", &talent).await;
    assert_eq!(mine["status"], "expired");
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{no}/suspend"),
            &admin,
            json!({"reason": "x"}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (_, expired) = app.get("/api/v1/cards?status=expired", &admin).await;
    assert_eq!(expired["total"], 1);
    let (_, active) = app.get("/api/v1/cards?status=active", &admin).await;
    assert_eq!(active["total"], 0);
    let (_, by_talent) = app.get("/api/v1/talents?card_status=expired", &admin).await;
    assert_eq!(by_talent["total"], 1);
    // Renewal: a new card; the lapsed one is kept as history, marked expired.
    let (status, renewed) = app
        .post(
            &format!("/api/v1/talents/{talent_id}/cards"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{renewed}");
    let (_, mine) = app.get("/api/v1/me/card", &talent).await;
    assert_eq!(mine["card_no"], renewed["card_no"]);
    assert_eq!(audit_count(&app, &admin, "card.expire").await, 1);
}

async fn card_lists_filter_and_page(app: TestApp) {
    let admin = app.admin_token().await;
    talent_with_card(&app, 5, "A").await;
    let (_, no, _) = talent_with_card(&app, 6, "C").await;
    talent_with_card(&app, 7, "C").await;
    app.post(
        &format!("/api/v1/cards/{no}/suspend"),
        &admin,
        json!({"reason": "x"}),
    )
    .await;
    for (query, n) in [
        ("", 3),
        ("tier=C", 2),
        ("status=suspended", 1),
        ("status=active", 2),
        ("status=active&tier=A", 1),
    ] {
        let (status, page) = app.get(&format!("/api/v1/cards?{query}"), &admin).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], n, "{query}: {page}");
    }
    let (_, page) = app.get("/api/v1/cards?per_page=2&page=2", &admin).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_problem(
        &app.get("/api/v1/cards?per_page=500", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
}

async fn card_endpoints_enforce_roles(app: TestApp) {
    let tokens = role_tokens(&app).await;
    let admin = tokens[0].1.clone().unwrap();
    let mut seq = 50;
    for (role, token) in &tokens {
        seq += 1;
        let talent = create_talent(&app, &admin, seq, "C").await;
        let (_, card) = app
            .post(
                &format!("/api/v1/talents/{}/cards", talent["id"]),
                &admin,
                json!({}),
            )
            .await;
        let no = card["card_no"].as_str().unwrap();
        let reason = Some(json!({"reason": "role matrix"}));
        let cases: [(Method, String, Option<Value>, &[&str]); 6] = [
            (
                Method::GET,
                "/api/v1/cards".into(),
                None,
                &["admin", "auditor"],
            ),
            (
                Method::GET,
                format!("/api/v1/cards/{no}"),
                None,
                &["admin", "auditor"],
            ),
            (
                Method::POST,
                format!("/api/v1/cards/{no}/suspend"),
                reason.clone(),
                &["admin"],
            ),
            (
                Method::POST,
                format!("/api/v1/cards/{no}/resume"),
                reason.clone(),
                &["admin"],
            ),
            (
                Method::POST,
                format!("/api/v1/cards/{no}/reissue"),
                reason.clone(),
                &["admin"],
            ),
            (Method::GET, "/api/v1/me/card".into(), None, &["talent"]),
        ];
        for (method, path, body, allowed) in cases {
            let (status, resp) = app
                .request(method.clone(), &path, token.as_deref(), body)
                .await;
            let ok = if allowed.contains(role) {
                // The role-matrix talent has no card: 404 means it got past the role check.
                status.is_success() || (*role == "talent" && status == StatusCode::NOT_FOUND)
            } else if token.is_none() {
                status == StatusCode::UNAUTHORIZED
            } else {
                status == StatusCode::FORBIDDEN
            };
            assert!(ok, "{role} {method} {path}: {status} {resp}");
        }
        let issue = app
            .request(
                Method::POST,
                &format!("/api/v1/talents/{}/cards", talent["id"]),
                token.as_deref(),
                Some(json!({})),
            )
            .await;
        // Admin gets past the role check and meets the one-live-card rule.
        let expected = match *role {
            "admin" => StatusCode::CONFLICT,
            "anonymous" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(issue.0, expected, "{role} issue: {}", issue.1);
        let revoke = app
            .request(
                Method::POST,
                &format!("/api/v1/cards/{no}/revoke"),
                token.as_deref(),
                Some(json!({"reason": "x"})),
            )
            .await;
        let expected = match *role {
            // Reissued above, so the admin meets the revoked-card rule.
            "admin" => StatusCode::CONFLICT,
            "anonymous" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(revoke.0, expected, "{role} revoke: {}", revoke.1);
    }
    let _ = Role::Admin;
}

async fn concurrent_issues_leave_exactly_one_live_card(app: TestApp) {
    let admin = app.admin_token().await;
    let talent = create_talent(&app, &admin, 60, "B").await;
    let path = format!("/api/v1/talents/{}/cards", talent["id"]);
    let attempts = (0..10).map(|_| app.post(&path, &admin, json!({})));
    let results = futures_util::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    for (status, body) in &results {
        assert!(
            *status == StatusCode::CREATED || body["code"] == "conflict",
            "{status} {body}"
        );
    }
    let (_, cards) = app
        .get(&format!("/api/v1/cards?talent_id={}", talent["id"]), &admin)
        .await;
    assert_eq!(cards["total"], 1);
    assert_eq!(audit_count(&app, &admin, "card.issue").await, 1);
}

both_backends!(
    concurrent_issues_leave_exactly_one_live_card,
    a_card_goes_through_its_lifecycle_and_every_step_is_audited,
    a_mistyped_card_number_is_refused_before_any_lookup,
    reissue_revokes_the_old_card_and_issues_a_new_number,
    a_card_past_its_validity_is_expired_without_a_batch_job,
    card_lists_filter_and_page,
    card_endpoints_enforce_roles,
);
