//! Browser-facing hardening (DESIGN §4): CSRF refusal of cross-site cookie writes, the
//! API's and the pages' security headers, and the per-address and per-merchant limits
//! of the public application form and cashier creation.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::merchants::routes::{
    APPLICATIONS_PER_ADDRESS_PER_HOUR, CASHIERS_PER_MERCHANT_PER_DAY,
};

use crate::both_backends;
use crate::helpers::{MERCHANT_PASSWORD, TestApp, merchant_application, offer_body};
use crate::talents::talent_with_card;

/// `POST path` with the session cookie `token`, the given headers and a raw body.
async fn cookie_post(
    app: &TestApp,
    path: &str,
    token: &str,
    headers: &[(&str, &str)],
    content_type: &str,
    body: &str,
) -> (StatusCode, Value) {
    let mut req = app
        .client
        .post(format!("{}{path}", app.address))
        .header("cookie", format!("tc_session={token}"))
        .header("content-type", content_type)
        .body(body.to_owned());
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn offer_status(app: &TestApp, token: &str, id: &Value) -> Value {
    let (status, offer) = app.get(&format!("/api/v1/offers/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{offer}");
    offer["status"].clone()
}

async fn cross_site_cookie_writes_are_refused_and_change_nothing(app: TestApp) {
    let shop = app.active_merchant("csrf").await;
    let offer = app.active_offer(&shop, offer_body("九折")).await;
    let pause = format!("/api/v1/offers/{}/pause", offer["id"]);
    let owner = &shop.owner_token;

    // The request: a form post from evil.example carrying the owner's cookie.
    let (status, body) = cookie_post(
        &app,
        &pause,
        owner,
        &[("origin", "https://evil.example")],
        "application/x-www-form-urlencoded",
        "",
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "csrf");
    assert_eq!(offer_status(&app, owner, &offer["id"]).await, "active");

    // What the browser says about the site counts even when JSON is sent.
    for site in ["cross-site", "same-site"] {
        let (status, body) = cookie_post(
            &app,
            &pause,
            owner,
            &[("sec-fetch-site", site)],
            "application/json",
            "{}",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{site}: {body}");
        assert_eq!(body["code"], "csrf");
    }
    // Neither header: a cookie write must be JSON.
    let (status, body) = cookie_post(&app, &pause, owner, &[], "text/plain", "{}").await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "csrf");
    assert_eq!(offer_status(&app, owner, &offer["id"]).await, "active");

    // The pages' own requests pass: same origin by Sec-Fetch-Site, or by Origin.
    let (status, body) = cookie_post(
        &app,
        &pause,
        owner,
        &[("sec-fetch-site", "same-origin")],
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(offer_status(&app, owner, &offer["id"]).await, "paused");
    let resume = format!("/api/v1/offers/{}/resume", offer["id"]);
    let ours = app.address.clone();
    let (status, body) = cookie_post(
        &app,
        &resume,
        owner,
        &[("origin", ours.as_str())],
        "application/json",
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // An upload from the pages (multipart, same origin) is not a CSRF refusal.
    let (status, body) = cookie_post(
        &app,
        &pause,
        owner,
        &[("sec-fetch-site", "same-origin"), ("origin", ours.as_str())],
        "multipart/form-data; boundary=x",
        "--x--\r\n",
    )
    .await;
    assert_ne!(body["code"], "csrf", "{status}: {body}");
    // A JSON cookie write without either header (a script, not a browser) passes too.
    let (status, body) = cookie_post(&app, &pause, owner, &[], "application/json", "{}").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn bearer_clients_and_cookieless_requests_are_not_affected(app: TestApp) {
    let shop = app.active_merchant("bearer").await;
    let offer = app.active_offer(&shop, offer_body("九折")).await;
    // A Bearer client with a foreign Origin (a CLI tool, another service) passes.
    let res = app
        .client
        .post(format!(
            "{}/api/v1/offers/{}/pause",
            app.address, offer["id"]
        ))
        .bearer_auth(&shop.owner_token)
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    // Without a session cookie there is nothing to forge: a cross-site login attempt is
    // an ordinary (wrong) login.
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("origin", "https://evil.example")
        .json(&json!({"username": "admin", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

fn assert_api_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    assert_eq!(
        h.get("cache-control").map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.to_str().unwrap()),
        Some("nosniff"),
        "{what}"
    );
}

async fn api_answers_are_never_cached_or_sniffed_and_pages_send_no_referrer(app: TestApp) {
    let admin = app.admin_token().await;
    let get = |path: &str, token: Option<&str>| {
        let mut req = app.client.get(format!("{}{path}", app.address));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send()
    };
    let ok = get("/api/v1/me", Some(&admin)).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_api_headers(&ok, "a 200");
    let missing = get("/api/v1/no-such-thing", None).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/problem+json")
    );
    assert_api_headers(&missing, "a 404 problem");
    let unauthorized = get("/api/v1/me", None).await.unwrap();
    assert_api_headers(&unauthorized, "a 401 problem");
    let (_, _, talent) = talent_with_card(&app, 31, "A").await;
    let codes = get("/api/v1/me/codes", Some(&talent)).await.unwrap();
    assert_eq!(codes.status(), StatusCode::OK);
    assert_api_headers(&codes, "/me/codes");

    let page = get("/", None).await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let h = page.headers();
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    // Tests listen on loopback only, where the cookie is not marked Secure (see
    // config::cookie_secure; its unit test covers the other listeners).
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": "admin", "password": crate::helpers::ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie.contains("Secure"), "{cookie}");
}

async fn the_public_application_form_is_limited_per_address(app: TestApp) {
    for i in 0..APPLICATIONS_PER_ADDRESS_PER_HOUR {
        let (status, body) = app
            .request(
                Method::POST,
                "/api/v1/merchants",
                None,
                Some(merchant_application(&format!("limit{i}"))),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let res = app
        .client
        .post(format!("{}/api/v1/merchants", app.address))
        .json(&merchant_application("one-too-many"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "too_many_requests");
    // An administrator registering merchants is not held to the public form's limit.
    let admin = app.admin_token().await;
    let (status, body) = app
        .post("/api/v1/merchants", &admin, merchant_application("byadmin"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

async fn an_owner_adds_a_limited_number_of_cashiers_a_day(app: TestApp) {
    let shop = app.active_merchant("many").await;
    let path = format!("/api/v1/merchants/{}/cashiers", shop.id);
    let add = |i: i32| {
        app.post(
            &path,
            &shop.owner_token,
            json!({"username": format!("many-cashier{i}"), "password": MERCHANT_PASSWORD}),
        )
    };
    // A refused creation (a taken username) does not use up the day's allowance…
    let (status, body) = app
        .post(
            &path,
            &shop.owner_token,
            json!({"username": "many-cashier", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    // …so with the fixture's cashier, the first of the day, this fills it exactly.
    for i in 1..CASHIERS_PER_MERCHANT_PER_DAY {
        let (status, body) = add(i).await;
        assert_eq!(status, StatusCode::CREATED, "cashier {i}: {body}");
    }
    // …but the next new one is over it.
    let (status, body) = add(CASHIERS_PER_MERCHANT_PER_DAY).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_requests");
    assert!(
        body["detail"].as_str().unwrap().contains("cashiers a day"),
        "{body}"
    );
    // Another merchant is not affected.
    let other = app.active_merchant("other").await;
    assert_ne!(other.cashier_id, 0);
}

both_backends!(
    cross_site_cookie_writes_are_refused_and_change_nothing,
    bearer_clients_and_cookieless_requests_are_not_affected,
    api_answers_are_never_cached_or_sniffed_and_pages_send_no_referrer,
    the_public_application_form_is_limited_per_address,
    an_owner_adds_a_limited_number_of_cashiers_a_day,
);
