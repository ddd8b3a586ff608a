//! Usernames: talents log in with their phone, so no other account may have a
//! phone-shaped name, and the public application form cannot be used to learn which
//! phones (or names) have an account (DESIGN §4).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    TestApp, assert_invalid, assert_problem, merchant_application, merchant_count,
};
use crate::talents::{create_talent, phone};

both_backends!(
    phone_shaped_owner_usernames_are_refused_whoever_has_that_phone,
    cashiers_and_officials_cannot_have_phone_shaped_usernames,
    the_application_form_validates_everything_before_it_looks_for_a_taken_username,
);

async fn phone_shaped_owner_usernames_are_refused_whoever_has_that_phone(app: TestApp) {
    let admin = app.admin_token().await;
    // One phone belongs to a talent, the other to nobody: the answers must not differ.
    create_talent(&app, &admin, 1, "C").await;
    let before = merchant_count(&app).await;
    for username in [
        phone(1),
        phone(2),
        format!("+86{}", phone(1)),
        format!("86{}", phone(2)),
        "139 0000 0001".to_owned(),
        "139-0000-0002".to_owned(),
        "+86 139-0000-0001".to_owned(),
    ] {
        let mut application = merchant_application("phoneshaped");
        application["owner_username"] = json!(username);
        let resp = app
            .request(Method::POST, "/api/v1/merchants", None, Some(application))
            .await;
        assert_invalid(&resp, "owner_username");
    }
    assert_eq!(
        merchant_count(&app).await,
        before,
        "no pending merchant left behind"
    );
}

async fn cashiers_and_officials_cannot_have_phone_shaped_usernames(app: TestApp) {
    let admin = app.admin_token().await;
    let shop = app.active_merchant("phonecashier").await;
    let resp = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", shop.id),
            &shop.owner_token,
            json!({"username": "13912345678", "password": "cashier-password-1"}),
        )
        .await;
    assert_invalid(&resp, "username");
    let resp = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "+86 139 1234 5678", "role": "auditor"}),
        )
        .await;
    assert_invalid(&resp, "username");
    // A name that merely contains digits is fine.
    let (status, body) = app
        .post(
            "/api/v1/users",
            &admin,
            json!({"username": "auditor-13912345678", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

async fn the_application_form_validates_everything_before_it_looks_for_a_taken_username(
    app: TestApp,
) {
    app.apply_merchant(merchant_application("taken")).await;
    // With a bad field, a taken and a free username get the same answer.
    for owner in ["taken-owner", "free-owner"] {
        let mut application = merchant_application("again");
        application["owner_username"] = json!(owner);
        application["bank_account"] = json!("12");
        let resp = app
            .request(Method::POST, "/api/v1/merchants", None, Some(application))
            .await;
        assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
        assert!(
            !resp.1["detail"].as_str().unwrap().contains("taken"),
            "{}",
            resp.1
        );
    }
}
