//! Activation codes instead of known passwords (DESIGN §10): a talent registered without
//! a password gets a code; codes are single-use, expire, are stored only under a keyed
//! hash, and a forgotten password is answered with a fresh code — a talent's or an
//! owner's from an official, a cashier's from its owner — that kills the earlier one.

use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use talentcard::schema::activation_codes;

use crate::both_backends;
use crate::helpers::{MERCHANT_PASSWORD, TestApp, assert_problem};
use crate::talents::{id_number, phone};

/// A talent registered without a password: (talent id, the code it was given).
async fn talent_without_password(app: &TestApp, admin: &str, seq: u32) -> (i64, String) {
    let (status, body) = app
        .post(
            "/api/v1/talents",
            admin,
            json!({"name": format!("新人{seq}"), "id_number": id_number(seq), "phone": phone(seq),
                   "employer": "遂州大学", "tier": "B"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let code = body["activation"]["activation_code"]
        .as_str()
        .unwrap_or_else(|| panic!("an activation code: {body}"))
        .to_owned();
    (body["id"].as_i64().unwrap(), code)
}

async fn a_talent_registered_without_a_password_activates_once_with_the_code(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, code) = talent_without_password(&app, &admin, 301).await;
    assert!(
        !code.contains(['0', 'O', '1', 'I']),
        "typeable without look-alikes: {code}"
    );
    // Nobody knows a password for it: logging in with anything fails.
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": phone(301), "password": "guess-a-password"})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Stored only under a keyed hash: not the code, not its plain SHA-256.
    let stored: Vec<String> = app
        .with_conn(|conn| {
            activation_codes::table
                .select(activation_codes::code_hash)
                .load(conn)
                .unwrap()
        })
        .await;
    let plain = hex::encode(Sha256::digest(code.replace('-', "").as_bytes()));
    assert!(
        stored
            .iter()
            .all(|h| !h.contains(&code.replace('-', "")) && *h != plain),
        "{stored:?}"
    );
    // Lower case and no dashes are fine.
    let typed = code.replace('-', "").to_lowercase();
    let (status, body) = app.activate(&phone(301), &typed, "my-own-password-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["role"], "talent");
    app.login(&phone(301), "my-own-password-1").await;
    // Single use.
    assert_problem(
        &app.activate(&phone(301), &code, "another-password-2").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn an_expired_code_is_refused(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, code) = talent_without_password(&app, &admin, 302).await;
    app.with_conn(|conn| {
        diesel::update(activation_codes::table)
            .set(
                activation_codes::expires_at
                    .eq(talentcard::time::now() - chrono::Duration::minutes(1)),
            )
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_problem(
        &app.activate(&phone(302), &code, "my-own-password-1").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn a_new_code_for_a_talent_kills_the_old_one(app: TestApp) {
    let admin = app.admin_token().await;
    let (id, first) = talent_without_password(&app, &admin, 303).await;
    let path = format!("/api/v1/talents/{id}/activation");
    let (status, second) = app.post(&path, &admin, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["username"], phone(303));
    let second = second["activation_code"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_problem(
        &app.activate(&phone(303), &first, "my-own-password-1").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let (status, _) = app
        .activate(&phone(303), &second, "my-own-password-1")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        app.audit_actions("user", id_of(&app, &phone(303)).await)
            .await
            .contains(&"user.activation_issued".to_owned())
    );
    // Only administrators give talents codes.
    let shop = app.active_merchant("codes").await;
    let auditor = app
        .official_token(talentcard::auth::Role::Auditor, "auditor")
        .await;
    for token in [&shop.owner_token, &shop.cashier_token, &auditor] {
        assert_problem(
            &app.post(&path, token, json!({})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    assert_problem(
        &app.post("/api/v1/talents/999999/activation", &admin, json!({}))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

async fn id_of(app: &TestApp, username: &str) -> i64 {
    let username = username.to_owned();
    app.with_conn(move |conn| {
        use talentcard::schema::users;
        users::table
            .filter(users::username.eq(username))
            .select(users::id)
            .first(conn)
            .unwrap()
    })
    .await
}

async fn owners_and_cashiers_get_codes_from_whoever_answers_for_them(app: TestApp) {
    let admin = app.admin_token().await;
    let shop = app.active_merchant("forgot").await;
    let other = app.active_merchant("elsewhere").await;

    // The owner forgot: an official gives a code.
    let (status, owner) = app
        .post(
            &format!("/api/v1/merchants/{}/activation", shop.id),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{owner}");
    assert_eq!(owner["username"], "forgot-owner");
    let (status, _) = app
        .activate(
            "forgot-owner",
            owner["activation_code"].as_str().unwrap(),
            "owner-new-password",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let owner_token = app.login("forgot-owner", "owner-new-password").await;
    assert_problem(
        &app.post(
            &format!("/api/v1/merchants/{}/activation", shop.id),
            &owner_token,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // A cashier forgot: the owner of that shop gives a code, nobody else.
    let path = format!(
        "/api/v1/merchants/{}/cashiers/{}/activation",
        shop.id, shop.cashier_id
    );
    for token in [&other.owner_token, &shop.cashier_token, &admin] {
        assert_problem(
            &app.post(&path, token, json!({})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    // Another shop's cashier through this shop's path: no such cashier here.
    assert_problem(
        &app.post(
            &format!(
                "/api/v1/merchants/{}/cashiers/{}/activation",
                shop.id, other.cashier_id
            ),
            &owner_token,
            json!({}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let (status, cashier) = app.post(&path, &owner_token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{cashier}");
    // The old password still works until the new one is set: nobody is locked out.
    app.login("forgot-cashier", MERCHANT_PASSWORD).await;
    let (status, _) = app
        .activate(
            "forgot-cashier",
            cashier["activation_code"].as_str().unwrap(),
            "cashier-new-password",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    app.login("forgot-cashier", "cashier-new-password").await;
}

async fn wrong_codes_are_throttled(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, code) = talent_without_password(&app, &admin, 304).await;
    let mut last = StatusCode::OK;
    for _ in 0..8 {
        last = app
            .activate(&phone(304), "ABCD-EFGH-JKLM-NPQR", "my-own-password-1")
            .await
            .0;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // Even the right code waits out the limit.
    assert_eq!(
        app.activate(&phone(304), &code, "my-own-password-1")
            .await
            .0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

both_backends!(
    a_talent_registered_without_a_password_activates_once_with_the_code,
    an_expired_code_is_refused,
    a_new_code_for_a_talent_kills_the_old_one,
    owners_and_cashiers_get_codes_from_whoever_answers_for_them,
    wrong_codes_are_throttled,
    an_owner_who_applied_without_a_password_is_activated_on_approval,
);

async fn an_owner_who_applied_without_a_password_is_activated_on_approval(app: TestApp) {
    let mut application = crate::helpers::merchant_application("nopass");
    application
        .as_object_mut()
        .unwrap()
        .remove("owner_password");
    let id = app.apply_merchant(application).await;
    let admin = app.admin_token().await;
    let (status, approved) = app
        .post(
            &format!("/api/v1/merchants/{id}/approve"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "active");
    let code = approved["owner_activation"]["activation_code"]
        .as_str()
        .unwrap_or_else(|| panic!("the owner's code: {approved}"));
    let (status, _) = app
        .activate("nopass-owner", code, "owner-own-password")
        .await;
    assert_eq!(status, StatusCode::OK);
    app.login("nopass-owner", "owner-own-password").await;

    // With a password, as before: no code.
    let id = app
        .apply_merchant(crate::helpers::merchant_application("withpass"))
        .await;
    let (_, approved) = app
        .post(
            &format!("/api/v1/merchants/{id}/approve"),
            &admin,
            json!({}),
        )
        .await;
    assert!(approved.get("owner_activation").is_none(), "{approved}");
    // A null password is a wrong type, not "no password".
    let mut application = crate::helpers::merchant_application("nullpass");
    application["owner_password"] = Value::Null;
    let (status, _) = app
        .request(Method::POST, "/api/v1/merchants", None, Some(application))
        .await;
    assert!(status.is_client_error(), "{status}");
}
