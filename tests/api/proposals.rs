//! Dual control (DESIGN §13): every proposal kind is refused to its proposer, made real
//! only by a second admin's approval, expires after 72 h, and leaves an audit trail.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;
use talentcard::schema::{activation_codes, proposals};

use crate::both_backends;
use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem};

fn id_of(proposed: &Value) -> i64 {
    proposed["proposal"]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("not a proposal: {proposed}"))
}

/// Proposes as `admin` (202), shows the proposer cannot approve it, approves it as the
/// second admin and checks the audit trail. Returns the approval's answer.
async fn propose_then_approve(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let admin = app.admin_token().await;
    let (status, proposed) = app.request(method, path, Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{path}: {proposed}");
    assert_eq!(proposed["proposal"]["status"], "open");
    assert_eq!(proposed["proposal"]["proposed_by_username"], "admin");
    let id = id_of(&proposed);
    let approve = format!("/api/v1/proposals/{id}/approve");
    assert_problem(
        &app.post(&approve, &admin, json!({})).await,
        StatusCode::FORBIDDEN,
        "four_eyes",
    );
    let approved = app.approve_proposal(&proposed).await;
    assert_eq!(approved["proposal"]["status"], "approved", "{approved}");
    assert_eq!(approved["proposal"]["decided_by_username"], "second-admin");
    // Decided once: a second approval finds nothing open.
    let second = app.second_admin_token().await;
    assert_problem(
        &app.post(&approve, &second, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(
        app.audit_actions("proposal", id).await,
        ["proposal.create", "proposal.approve"]
    );
    approved
}

async fn a_new_official_exists_only_after_approval_and_sets_their_own_password(app: TestApp) {
    let admin = app.admin_token().await;
    let approved = propose_then_approve(
        &app,
        Method::POST,
        "/api/v1/users",
        json!({"username": "li.si", "role": "admin", "display_name": "李四"}),
    )
    .await;
    let user_id = approved["user"]["id"].as_i64().unwrap();
    assert_eq!(approved["user"]["role"], "admin");
    assert_eq!(approved["proposal"]["target_user_id"], user_id);
    assert_eq!(approved["proposal"]["result"]["user_id"], user_id);
    let code = approved["activation"]["activation_code"].as_str().unwrap();
    assert_eq!(code.len(), 19, "{code}");
    // Before activation no password works, not even an empty one.
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "li.si", "password": "!activation-pending"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // A wrong code, then the right one typed carelessly (lower case, no dashes).
    let (status, _) = app
        .activate("li.si", "AAAA-BBBB-CCCC-DDDD", "li-si-password")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let careless = code.replace('-', "").to_lowercase();
    let (status, session) = app.activate("li.si", &careless, "li-si-password").await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["role"], "admin");
    app.login("li.si", "li-si-password").await;
    // Single use.
    let (status, _) = app.activate("li.si", code, "another-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Nowhere is the code stored in the clear, nor in the proposal.
    let (_, proposal) = app
        .get(
            &format!("/api/v1/proposals/{}", approved["proposal"]["id"]),
            &admin,
        )
        .await;
    assert!(!proposal.to_string().contains(code), "{proposal}");
    let stored: Vec<String> = app
        .with_conn(|conn| {
            activation_codes::table
                .select(activation_codes::code_hash)
                .load(conn)
                .unwrap()
        })
        .await;
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 64 && !h.contains(&code.replace('-', "")))
    );
    assert_eq!(
        app.audit_actions("user", user_id).await,
        ["user.create", "user.password_change", "user.activate"]
    );
}

async fn an_expired_activation_code_is_refused(app: TestApp) {
    let approved = propose_then_approve(
        &app,
        Method::POST,
        "/api/v1/users",
        json!({"username": "late.one", "role": "auditor"}),
    )
    .await;
    let code = approved["activation"]["activation_code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.with_conn(|conn| {
        diesel::update(activation_codes::table)
            .set(
                activation_codes::expires_at
                    .eq(talentcard::time::now() - chrono::Duration::minutes(1)),
            )
            .execute(conn)
            .unwrap()
    })
    .await;
    let (status, body) = app.activate("late.one", &code, "late-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
}

async fn a_role_change_waits_for_approval_and_ends_old_sessions(app: TestApp) {
    let (id, auditor) = app
        .create_official("auditor", "clerk", "clerk-password")
        .await;
    let admin = app.admin_token().await;
    let (status, proposed) = app
        .post(
            &format!("/api/v1/users/{id}/role"),
            &admin,
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
    // Still an auditor until approved.
    assert_eq!(app.get("/api/v1/me", &auditor).await.1["role"], "auditor");
    assert_problem(
        &app.post(
            &format!("/api/v1/users/{id}/role"),
            &admin,
            json!({"role": "admin"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    app.post(
        &format!("/api/v1/proposals/{}/reject", id_of(&proposed)),
        &admin,
        json!({"reason": "asked again below"}),
    )
    .await;
    propose_then_approve(
        &app,
        Method::POST,
        &format!("/api/v1/users/{id}/role"),
        json!({"role": "admin"}),
    )
    .await;
    assert_problem(
        &app.get("/api/v1/me", &auditor).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let token = app.login("clerk", "clerk-password").await;
    assert_eq!(app.get("/api/v1/me", &token).await.1["role"], "admin");
    assert!(
        app.audit_actions("user", id)
            .await
            .contains(&"user.role_change".to_owned())
    );
    // Already an admin; merchants' accounts are not officials'; unknown accounts.
    assert_problem(
        &app.post(
            &format!("/api/v1/users/{id}/role"),
            &admin,
            json!({"role": "admin"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let talent = app
        .create_account(Role::Talent, "talent-x", "talent-password")
        .await;
    assert_problem(
        &app.post(
            &format!("/api/v1/users/{talent}/role"),
            &admin,
            json!({"role": "admin"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_problem(
        &app.post(
            "/api/v1/users/999999/role",
            &admin,
            json!({"role": "admin"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/users/{id}/role"),
            &admin,
            json!({"role": "talent"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
}

async fn disabling_is_immediate_and_enabling_again_is_a_proposal(app: TestApp) {
    let (id, token) = app
        .create_official("auditor", "clerk", "clerk-password")
        .await;
    let admin = app.admin_token().await;
    let me = app.get("/api/v1/me", &admin).await.1["id"]
        .as_i64()
        .unwrap();
    assert_problem(
        &app.post(
            &format!("/api/v1/users/{me}/deactivate"),
            &admin,
            json!({"reason": "x"}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_problem(
        &app.post(&format!("/api/v1/users/{id}/deactivate"), &admin, json!({}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    // Nothing to enable yet.
    assert_problem(
        &app.post(&format!("/api/v1/users/{id}/reactivate"), &admin, json!({}))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let (status, disabled) = app
        .post(
            &format!("/api/v1/users/{id}/deactivate"),
            &admin,
            json!({"reason": "left the bureau"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{disabled}");
    assert_eq!(disabled["active"], false);
    assert_problem(
        &app.get("/api/v1/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "clerk", "password": "clerk-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let approved = propose_then_approve(
        &app,
        Method::POST,
        &format!("/api/v1/users/{id}/reactivate"),
        json!({}),
    )
    .await;
    assert_eq!(approved["user"]["active"], true);
    app.login("clerk", "clerk-password").await;
    let actions = app.audit_actions("user", id).await;
    assert!(
        actions.contains(&"user.deactivate".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"user.reactivate".to_owned()),
        "{actions:?}"
    );
}

async fn a_forgotten_password_is_reset_by_a_fresh_code(app: TestApp) {
    let (id, token) = app
        .create_official("auditor", "clerk", "clerk-password")
        .await;
    let approved = propose_then_approve(
        &app,
        Method::POST,
        &format!("/api/v1/users/{id}/activation"),
        json!({}),
    )
    .await;
    let code = approved["activation"]["activation_code"].as_str().unwrap();
    assert_problem(
        &app.get("/api/v1/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "clerk", "password": "clerk-password"})),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the old password stops working"
    );
    let (status, _) = app.activate("clerk", code, "clerk-new-password").await;
    assert_eq!(status, StatusCode::OK);
    app.login("clerk", "clerk-new-password").await;
}

async fn the_budget_is_unchanged_until_a_second_admin_approves(app: TestApp) {
    let admin = app.admin_token().await;
    let settings = json!({"total_fen": 1_000_000, "categories": {"food": 300_000}, "merchant_monthly_cap_fen": 50_000});
    let (status, proposed) = app
        .request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&admin),
            Some(settings.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
    assert_eq!(proposed["proposal"]["kind"], "budget.set");
    assert!(
        proposed["proposal"]["summary"]
            .as_str()
            .unwrap()
            .contains("¥10000.00"),
        "{proposed}"
    );
    assert_problem(
        &app.get("/api/v1/budgets/2026", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    // The same change twice would only confuse the approver.
    assert_problem(
        &app.request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&admin),
            Some(settings),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let approved = app.approve_proposal(&proposed).await;
    assert_eq!(approved["budget"]["total_fen"], 1_000_000);
    assert_eq!(
        app.get("/api/v1/budgets/2026", &admin).await.1["total_fen"],
        1_000_000
    );

    // Lowering is a proposal too; until approved the budget stays.
    let approved = propose_then_approve(
        &app,
        Method::PUT,
        "/api/v1/budgets/2026",
        json!({"total_fen": 400_000, "categories": {"food": 300_000}}),
    )
    .await;
    assert_eq!(approved["budget"]["total_fen"], 400_000);
    assert_eq!(approved["budget"]["merchant_monthly_cap_fen"], Value::Null);
    let budget_events = app
        .get("/api/v1/audit/events?action=budget.set", &admin)
        .await
        .1;
    assert_eq!(budget_events["total"], 2);
    assert_eq!(budget_events["items"][0]["actor"], "second-admin");

    // Two proposals from the same settings: the first approved makes the second stale.
    let (_, first) = app
        .request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&admin),
            Some(json!({"total_fen": 500_000})),
        )
        .await;
    let (_, second) = app
        .request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&admin),
            Some(json!({"total_fen": 600_000})),
        )
        .await;
    app.approve_proposal(&first).await;
    let approver = app.second_admin_token().await;
    assert_problem(
        &app.post(
            &format!("/api/v1/proposals/{}/approve", id_of(&second)),
            &approver,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // The refused approval changed nothing and left the proposal open.
    assert_eq!(
        app.get("/api/v1/budgets/2026", &admin).await.1["total_fen"],
        500_000
    );
    let (_, still) = app
        .get(&format!("/api/v1/proposals/{}", id_of(&second)), &admin)
        .await;
    assert_eq!(still["status"], "open");
}

async fn an_open_proposal_expires_after_72_hours(app: TestApp) {
    let admin = app.admin_token().await;
    let (status, proposed) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "too.late", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = id_of(&proposed);
    let created = talentcard::time::now();
    let expires: chrono::NaiveDateTime = app
        .with_conn(move |conn| {
            proposals::table
                .find(id)
                .select(proposals::expires_at)
                .first(conn)
                .unwrap()
        })
        .await;
    let lifetime = expires - created;
    assert!(
        (lifetime - chrono::Duration::hours(72)).num_seconds().abs() < 60,
        "{lifetime}"
    );
    // Time passes: plant the expiry in the past.
    app.with_conn(move |conn| {
        diesel::update(proposals::table.find(id))
            .set(proposals::expires_at.eq(talentcard::time::now() - chrono::Duration::seconds(1)))
            .execute(conn)
            .unwrap()
    })
    .await;
    let (_, open) = app.get("/api/v1/proposals?status=open", &admin).await;
    assert_eq!(open["total"], 0, "{open}");
    let (_, expired) = app.get("/api/v1/proposals?status=expired", &admin).await;
    assert_eq!(expired["total"], 1, "{expired}");
    assert_eq!(expired["items"][0]["status"], "expired");
    let second = app.second_admin_token().await;
    assert_problem(
        &app.post(
            &format!("/api/v1/proposals/{id}/approve"),
            &second,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "proposal_expired",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/proposals/{id}/reject"),
            &second,
            json!({"reason": "late"}),
        )
        .await,
        StatusCode::CONFLICT,
        "proposal_expired",
    );
    assert_eq!(
        app.audit_actions("proposal", id).await,
        ["proposal.create", "proposal.expire"]
    );
    let nobody = app
        .with_conn(|conn| talentcard::users::find_by_username(conn, "too.late").unwrap())
        .await;
    assert!(nobody.is_none());
    // The name is free again for a fresh proposal.
    let (status, _) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "too.late", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
}

async fn a_rejected_proposal_changes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, proposed) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "not.needed", "role": "admin"}),
        )
        .await;
    let id = id_of(&proposed);
    let second = app.second_admin_token().await;
    let reject = format!("/api/v1/proposals/{id}/reject");
    assert_problem(
        &app.post(&reject, &second, json!({"reason": "  "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, rejected) = app
        .post(&reject, &second, json!({"reason": "we have enough admins"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["decision_reason"], "we have enough admins");
    assert_problem(
        &app.post(
            &format!("/api/v1/proposals/{id}/approve"),
            &second,
            json!({}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(
        app.audit_actions("proposal", id).await,
        ["proposal.create", "proposal.reject"]
    );
    let nobody = app
        .with_conn(|conn| talentcard::users::find_by_username(conn, "not.needed").unwrap())
        .await;
    assert!(nobody.is_none());
    // The proposer may withdraw their own.
    let (_, mine) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "changed.mind", "role": "admin"}),
        )
        .await;
    let (status, withdrawn) = app
        .post(
            &format!("/api/v1/proposals/{}/reject", id_of(&mine)),
            &admin,
            json!({"reason": "typo in the name"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
}

async fn concurrent_approvals_decide_once(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, proposed) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "once.only", "role": "auditor"}),
        )
        .await;
    let id = id_of(&proposed);
    let second = app.second_admin_token().await;
    app.create_account(Role::Admin, "third-admin", ADMIN_PASSWORD)
        .await;
    let third = app.login("third-admin", ADMIN_PASSWORD).await;
    let path = format!("/api/v1/proposals/{id}/approve");
    let (a, b) = futures_util::future::join(
        app.post(&path, &second, json!({})),
        app.post(&path, &third, json!({})),
    )
    .await;
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{a:?} {b:?}"
    );
    let accounts: i64 = app
        .with_conn(|conn| {
            use talentcard::schema::users;
            users::table
                .filter(users::username.eq("once.only"))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(accounts, 1);
}

async fn who_may_see_and_decide_proposals(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, proposed) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "watched", "role": "auditor"}),
        )
        .await;
    let id = id_of(&proposed);
    let auditor = app.official_token(Role::Auditor, "auditor").await;
    let (status, list) = app.get("/api/v1/proposals?status=open", &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["kind"], "official.create");
    for path in [
        format!("/api/v1/proposals/{id}/approve"),
        format!("/api/v1/proposals/{id}/reject"),
    ] {
        assert_problem(
            &app.post(&path, &auditor, json!({"reason": "no"})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    for (role, name) in [
        (Role::Merchant, "owner"),
        (Role::Cashier, "cashier"),
        (Role::Talent, "talent"),
    ] {
        let token = app.official_token(role, name).await;
        assert_problem(
            &app.get("/api/v1/proposals", &token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        for (method, path, body) in [
            (
                Method::POST,
                "/api/v1/users".to_owned(),
                json!({"username": "mine", "role": "admin"}),
            ),
            (
                Method::PUT,
                "/api/v1/budgets/2026".to_owned(),
                json!({"total_fen": 1}),
            ),
            (
                Method::POST,
                format!("/api/v1/proposals/{id}/approve"),
                json!({}),
            ),
        ] {
            assert_problem(
                &app.request(method, &path, Some(&token), Some(body)).await,
                StatusCode::FORBIDDEN,
                "forbidden",
            );
        }
    }
    assert_problem(
        &app.get("/api/v1/proposals?status=maybe", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    assert_problem(
        &app.get("/api/v1/proposals/999999", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

/// The break-glass path: the command line makes officials only while fewer than two
/// administrators are active, and says so in the audit record.
async fn break_glass_works_only_for_a_city_without_two_admins(app: TestApp) {
    use talentcard::auth::password::Password;
    use talentcard::users::Username;
    let create = |name: &'static str| {
        app.with_conn(move |conn| {
            let hash =
                talentcard::users::hash_password(&Password::parse("glass-password").unwrap())
                    .unwrap();
            talentcard::db::write_tx(conn, |conn| {
                talentcard::proposals::break_glass::create_official(
                    conn,
                    &Username::parse(name).unwrap(),
                    Role::Admin,
                    hash,
                )
            })
        })
    };
    // One admin: a locked-out city may add a second.
    let second = create("rescue").await.expect("second admin by break glass");
    let actions = app.audit_actions("user", second.id).await;
    assert_eq!(actions, ["user.create", "user.break_glass"]);
    // Two admins: from now on it is a proposal.
    let refused = create("third").await.unwrap_err();
    assert!(
        refused.problem().detail.contains("POST /api/v1/users"),
        "{}",
        refused.problem().detail
    );
}

async fn a_key_rotation_is_approved_then_carried_out_once_by_the_operator(app: TestApp) {
    use talentcard::proposals::keys::{self, KeyPurpose};
    let admin = app.admin_token().await;
    assert_problem(
        &app.post("/api/v1/keys/master/rotate", &admin, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, waiting) = app.post("/api/v1/keys/jwt/rotate", &admin, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{waiting}");
    let carry_out = |purpose: KeyPurpose, proposal: Option<i64>| {
        let path = app.config.secret_key_file.clone();
        app.with_conn(move |conn| {
            let mut secrets = talentcard::secrets::Secrets::load(&path).unwrap();
            let before = secrets.jwt.current.clone();
            talentcard::db::write_tx(conn, |conn| {
                keys::carry_out(
                    conn,
                    &mut secrets,
                    purpose,
                    proposal,
                    talentcard::time::now(),
                )
            })
            .map(|kid| (before, kid))
        })
    };
    // Not approved yet: the operator cannot carry it out.
    let refused = carry_out(KeyPurpose::Jwt, Some(id_of(&waiting)))
        .await
        .unwrap_err();
    assert!(
        refused.problem().detail.contains("must approve"),
        "{}",
        refused.problem().detail
    );
    app.post(
        &format!("/api/v1/proposals/{}/reject", id_of(&waiting)),
        &admin,
        json!({"reason": "proposed again below"}),
    )
    .await;
    let approved =
        propose_then_approve(&app, Method::POST, "/api/v1/keys/jwt/rotate", json!({})).await;
    let id = approved["proposal"]["id"].as_i64().unwrap();
    assert_eq!(approved["proposal"]["result"]["carried_out"], false);
    // Wrong purpose, then no proposal at all while two admins are active.
    assert!(carry_out(KeyPurpose::Audit, Some(id)).await.is_err());
    let refused = carry_out(KeyPurpose::Jwt, None).await.unwrap_err();
    assert!(
        refused.problem().detail.contains("--proposal"),
        "{}",
        refused.problem().detail
    );
    let (before, kid) = carry_out(KeyPurpose::Jwt, Some(id))
        .await
        .expect("carried out");
    assert_ne!(before, kid);
    let refused = carry_out(KeyPurpose::Jwt, Some(id)).await.unwrap_err();
    assert!(refused.problem().detail.contains("carried out already"));
    let (_, shown) = app.get(&format!("/api/v1/proposals/{id}"), &admin).await;
    assert_eq!(shown["result"]["kid"], kid.as_str());
    assert_eq!(
        app.audit_actions("proposal", id).await,
        ["proposal.create", "proposal.approve", "key.rotate"]
    );
}

/// Every kind lapses the same way: nothing happens, and the lapse is audited.
async fn every_kind_of_proposal_expires_unapplied(app: TestApp) {
    let admin = app.admin_token().await;
    let (clerk, _) = app
        .create_official("auditor", "clerk", "clerk-password")
        .await;
    let (idle, _) = app
        .create_official("auditor", "idle", "idle-password")
        .await;
    app.post(
        &format!("/api/v1/users/{idle}/deactivate"),
        &admin,
        json!({"reason": "on leave"}),
    )
    .await;
    let mut ids = Vec::new();
    for (method, path, body) in [
        (
            Method::POST,
            "/api/v1/users".to_owned(),
            json!({"username": "new.one", "role": "admin"}),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{clerk}/role"),
            json!({"role": "admin"}),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{idle}/reactivate"),
            json!({}),
        ),
        (
            Method::POST,
            format!("/api/v1/users/{clerk}/activation"),
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/budgets/2026".to_owned(),
            json!({"total_fen": 1_000}),
        ),
        (
            Method::POST,
            "/api/v1/keys/audit/rotate".to_owned(),
            json!({}),
        ),
        (
            Method::PUT,
            "/api/v1/audit/anomalies/thresholds".to_owned(),
            json!({"off_hours_end_hour": 6}),
        ),
    ] {
        let (status, proposed) = app.request(method, &path, Some(&admin), Some(body)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{path}: {proposed}");
        ids.push((path, id_of(&proposed)));
    }
    app.with_conn(|conn| {
        diesel::update(proposals::table)
            .set(proposals::expires_at.eq(talentcard::time::now() - chrono::Duration::seconds(1)))
            .execute(conn)
            .unwrap()
    })
    .await;
    // The background sweep records the lapses; here it runs now.
    let expired = app
        .with_conn(|conn| {
            talentcard::proposals::expire_overdue(conn, talentcard::time::now()).unwrap()
        })
        .await;
    assert_eq!(expired, ids.len());
    let second = app.second_admin_token().await;
    for (path, id) in &ids {
        assert_problem(
            &app.post(
                &format!("/api/v1/proposals/{id}/approve"),
                &second,
                json!({}),
            )
            .await,
            StatusCode::CONFLICT,
            "proposal_expired",
        );
        assert_eq!(
            app.audit_actions("proposal", *id).await,
            ["proposal.create", "proposal.expire"],
            "{path}"
        );
    }
    // Nothing was applied.
    let (_, admins) = app.get("/api/v1/users?role=admin", &admin).await;
    assert!(!admins.to_string().contains("new.one"), "{admins}");
    assert!(!admins.to_string().contains("clerk"), "{admins}");
    assert_problem(
        &app.get("/api/v1/budgets/2026", &admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    app.login("clerk", "clerk-password").await;
}

both_backends!(
    every_kind_of_proposal_expires_unapplied,
    a_key_rotation_is_approved_then_carried_out_once_by_the_operator,
    a_new_official_exists_only_after_approval_and_sets_their_own_password,
    an_expired_activation_code_is_refused,
    a_role_change_waits_for_approval_and_ends_old_sessions,
    disabling_is_immediate_and_enabling_again_is_a_proposal,
    a_forgotten_password_is_reset_by_a_fresh_code,
    the_budget_is_unchanged_until_a_second_admin_approves,
    an_open_proposal_expires_after_72_hours,
    a_rejected_proposal_changes_nothing,
    concurrent_approvals_decide_once,
    who_may_see_and_decide_proposals,
    break_glass_works_only_for_a_city_without_two_admins,
);
