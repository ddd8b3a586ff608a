//! Device sessions (DESIGN §4): the refresh cookie, its rotation and reuse detection, one
//! session per login, logout here versus everywhere, and the lifetimes of each role.

use chrono::Duration;
use diesel::prelude::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::schema::sessions;

use crate::both_backends;
use crate::helpers::{ADMIN_PASSWORD, MERCHANT_PASSWORD, TestApp, assert_problem};
use crate::talents::{TALENT_PASSWORD, phone, talent_with_card};

/// What a login or renewal answered: the access token and the refresh cookie, if set.
struct Answer {
    status: StatusCode,
    access: Option<String>,
    refresh: Option<String>,
    refresh_cookie: Option<String>,
    body: Value,
}

async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status();
    let cookies: Vec<String> = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let refresh_cookie = cookies
        .iter()
        .find(|c| c.starts_with("tc_refresh="))
        .cloned();
    let refresh = refresh_cookie
        .as_deref()
        .and_then(|c| c.strip_prefix("tc_refresh="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .filter(|v| !v.is_empty());
    let body: Value = res.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        access: body["access_token"].as_str().map(str::to_owned),
        refresh,
        refresh_cookie,
        body,
    }
}

async fn login(app: &TestApp, username: &str, password: &str) -> (String, String) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let a = answer(res).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    (a.access.unwrap(), a.refresh.expect("a refresh cookie"))
}

/// A renewal as the page sends it: the refresh cookie, from this site's origin.
async fn renew(app: &TestApp, refresh: &str) -> Answer {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/refresh", app.address))
        .header("cookie", format!("tc_refresh={refresh}"))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    answer(res).await
}

fn session_id(refresh: &str) -> i64 {
    refresh.split('.').next().unwrap().parse().unwrap()
}

/// Moves a session's clock back, as if `by` had passed.
async fn age(app: &TestApp, refresh: &str, by: Duration) {
    let id = session_id(refresh);
    app.with_conn(move |conn| {
        let row: (
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        ) = sessions::table
            .find(id)
            .select((
                sessions::rotated_at,
                sessions::last_used_at,
                sessions::expires_at,
            ))
            .first(conn)
            .unwrap();
        diesel::update(sessions::table.find(id))
            .set((
                sessions::rotated_at.eq(row.0 - by),
                sessions::last_used_at.eq(row.1 - by),
                sessions::expires_at.eq(row.2 - by),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
}

async fn me_status(app: &TestApp, access: &str) -> StatusCode {
    app.get("/api/v1/me", access).await.0
}

async fn login_sets_a_refresh_cookie_only_the_auth_endpoints_see(app: TestApp) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    let a = answer(res).await;
    let cookie = a.refresh_cookie.expect("tc_refresh is set");
    for part in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
    let refresh = a.refresh.unwrap();
    let (id, secret) = refresh.split_once('.').unwrap();
    assert!(id.parse::<i64>().is_ok() && secret.len() == 64, "{refresh}");
    let secret = secret.to_owned();
    // Only a hash of it is stored.
    let stored: String = app
        .with_conn(move |conn| {
            sessions::table
                .find(session_id(&refresh))
                .select(sessions::refresh_hash)
                .first(conn)
                .unwrap()
        })
        .await;
    assert!(!stored.contains(&secret), "the secret itself is not stored");
    assert!(a.body["expires_in"].as_i64().unwrap() <= 900);
}

async fn a_renewal_rotates_the_refresh_token_and_answers_a_working_access_token(app: TestApp) {
    let (first_access, first) = login(&app, "admin", ADMIN_PASSWORD).await;
    let renewed = renew(&app, &first).await;
    assert_eq!(renewed.status, StatusCode::OK, "{}", renewed.body);
    assert_eq!(renewed.body["role"], "admin");
    let second = renewed.refresh.expect("a new refresh token");
    assert_ne!(second, first, "rotated");
    assert_eq!(session_id(&second), session_id(&first), "same session");
    let access = renewed.access.unwrap();
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
    assert_eq!(
        me_status(&app, &first_access).await,
        StatusCode::OK,
        "earlier access tokens of the session live out their minutes"
    );

    // A second tab racing with the replaced token, within seconds: an access token, no
    // rotation (the browser already holds the newer cookie).
    let racing = renew(&app, &first).await;
    assert_eq!(racing.status, StatusCode::OK, "{}", racing.body);
    assert!(
        racing.refresh.is_none(),
        "no new refresh cookie for the race"
    );
    // The newest keeps working.
    let third = renew(&app, &second).await;
    assert_eq!(third.status, StatusCode::OK);
    let third = third.refresh.unwrap();

    // The replaced token presented long after: a copy someone kept. The session ends,
    // for the thief and the owner alike.
    age(&app, &third, Duration::minutes(2)).await;
    let stolen = renew(&app, &second).await;
    assert_problem(
        &(stolen.status, stolen.body),
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let after = renew(&app, &third).await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "the session ended");
    assert_eq!(
        me_status(&app, &access).await,
        StatusCode::UNAUTHORIZED,
        "and its access tokens with it"
    );
    let reason: Option<String> = app
        .with_conn(move |conn| {
            sessions::table
                .find(session_id(&third))
                .select(sessions::end_reason)
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(reason.as_deref(), Some("replaced token reused"));
}

async fn a_guessed_refresh_token_ends_nothing(app: TestApp) {
    let (access, refresh) = login(&app, "admin", ADMIN_PASSWORD).await;
    let id = session_id(&refresh);
    for bad in [
        format!("{id}.{}", "0".repeat(64)),
        format!("{id}.short"),
        "garbage".to_owned(),
        String::new(),
    ] {
        let a = renew(&app, &bad).await;
        assert_problem(
            &(a.status, a.body),
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let none = app
        .request(Method::POST, "/api/v1/auth/refresh", None, None)
        .await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(renew(&app, &refresh).await.status, StatusCode::OK);
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
}

async fn logout_ends_this_device_only_and_logout_all_ends_every_one(app: TestApp) {
    let merchant = app.active_merchant("tills").await;
    let username = "tills-cashier";
    let (till_one, till_one_refresh) = login(&app, username, MERCHANT_PASSWORD).await;
    let (till_two, till_two_refresh) = login(&app, username, MERCHANT_PASSWORD).await;
    let (status, _) = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&till_one), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &till_one).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        renew(&app, &till_one_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        me_status(&app, &till_two).await,
        StatusCode::OK,
        "the other till stays signed in"
    );
    let renewed = renew(&app, &till_two_refresh).await;
    assert_eq!(renewed.status, StatusCode::OK);
    let till_two = renewed.access.unwrap();
    // The redemption hot path checks the session too.
    let (status, _) = app
        .request(
            Method::GET,
            &format!("/api/v1/redemptions?merchant_id={}", merchant.id),
            Some(&till_two),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (till_three, till_three_refresh) = login(&app, username, MERCHANT_PASSWORD).await;
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/logout-all",
            Some(&till_two),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for access in [&till_two, &till_three] {
        assert_eq!(me_status(&app, access).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        renew(&app, &till_three_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A new login works as ever.
    login(&app, username, MERCHANT_PASSWORD).await;
}

async fn a_logged_out_cashier_cannot_redeem_with_the_old_token(app: TestApp) {
    use crate::helpers::offer_body;
    app.set_budget(
        chrono::Datelike::year(&talentcard::time::to_local(talentcard::time::now())),
        json!({"total_fen": 10_000_000}),
    )
    .await;
    let merchant = app.active_merchant("hot").await;
    let offer = app.active_offer(&merchant, offer_body("九折")).await;
    let (_, card_no, _) = talent_with_card(&app, 41, "A").await;
    let admin = app.admin_token().await;
    let card_id = crate::redemptions::card_id(&app, &admin, &card_no).await;
    let (cashier, _) = login(&app, "hot-cashier", MERCHANT_PASSWORD).await;
    app.request(Method::POST, "/api/v1/auth/logout", Some(&cashier), None)
        .await;
    let code = crate::redemptions::mint(&app, card_id, talentcard::time::now(), 0);
    let res = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(&cashier)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"code": code, "bill_fen": 10_000, "offer_id": offer["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn a_password_change_ends_every_session_but_opens_one_here(app: TestApp) {
    let (here, _) = login(&app, "admin", ADMIN_PASSWORD).await;
    let (_, elsewhere_refresh) = login(&app, "admin", ADMIN_PASSWORD).await;
    let res = app
        .client
        .post(format!("{}/api/v1/me/password", app.address))
        .bearer_auth(&here)
        .json(&json!({"current_password": ADMIN_PASSWORD, "new_password": "another-pass-9"}))
        .send()
        .await
        .unwrap();
    let changed = answer(res).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    let new_refresh = changed.refresh.expect("this device gets a new session");
    assert_eq!(
        renew(&app, &elsewhere_refresh).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(me_status(&app, &here).await, StatusCode::UNAUTHORIZED);
    assert_eq!(renew(&app, &new_refresh).await.status, StatusCode::OK);
}

async fn each_role_keeps_its_session_for_its_lifetime(app: TestApp) {
    // Officials: 30 idle minutes, 8 hours at most.
    let (_, official) = login(&app, "admin", ADMIN_PASSWORD).await;
    age(&app, &official, Duration::minutes(25)).await;
    let renewed = renew(&app, &official).await;
    assert_eq!(renewed.status, StatusCode::OK, "25 idle minutes are fine");
    let official = renewed.refresh.unwrap();
    age(&app, &official, Duration::minutes(31)).await;
    assert_eq!(
        renew(&app, &official).await.status,
        StatusCode::UNAUTHORIZED,
        "31 idle minutes end an official's session"
    );

    // Counter staff: a 12-hour shift without any idle limit inside it.
    app.active_merchant("shift").await;
    let (_, cashier) = login(&app, "shift-cashier", MERCHANT_PASSWORD).await;
    age(&app, &cashier, Duration::hours(3)).await;
    let renewed = renew(&app, &cashier).await;
    assert_eq!(renewed.status, StatusCode::OK, "3 quiet hours at a till");
    let cashier = renewed.refresh.unwrap();
    age(&app, &cashier, Duration::hours(9) + Duration::minutes(1)).await;
    assert_eq!(
        renew(&app, &cashier).await.status,
        StatusCode::UNAUTHORIZED,
        "past the 12-hour shift"
    );

    // Talents: weeks on their own phone.
    talent_with_card(&app, 42, "B").await;
    let (_, talent) = login(&app, &phone(42), TALENT_PASSWORD).await;
    let id = session_id(&talent);
    let lifetime: (chrono::NaiveDateTime, chrono::NaiveDateTime) = app
        .with_conn(move |conn| {
            sessions::table
                .find(id)
                .select((sessions::created_at, sessions::expires_at))
                .first(conn)
                .unwrap()
        })
        .await;
    assert_eq!(lifetime.1 - lifetime.0, Duration::days(30));
    age(&app, &talent, Duration::days(20)).await;
    assert_eq!(
        renew(&app, &talent).await.status,
        StatusCode::OK,
        "20 days later"
    );
}

async fn a_disabled_account_cannot_renew(app: TestApp) {
    app.active_merchant("gone").await;
    let (_, refresh) = login(&app, "gone-cashier", MERCHANT_PASSWORD).await;
    app.with_conn(|conn| {
        use talentcard::schema::users;
        diesel::update(users::table.filter(users::username.eq("gone-cashier")))
            .set(users::active.eq(false))
            .execute(conn)
            .unwrap();
    })
    .await;
    assert_eq!(renew(&app, &refresh).await.status, StatusCode::UNAUTHORIZED);
}

async fn a_cross_site_renewal_is_refused(app: TestApp) {
    let (_, refresh) = login(&app, "admin", ADMIN_PASSWORD).await;
    let res = app
        .client
        .post(format!("{}/api/v1/auth/refresh", app.address))
        .header("cookie", format!("tc_refresh={refresh}"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    let a = answer(res).await;
    assert_problem(&(a.status, a.body), StatusCode::FORBIDDEN, "csrf");
    assert_eq!(renew(&app, &refresh).await.status, StatusCode::OK);
}

async fn a_stale_session_cookie_does_not_block_a_public_application(app: TestApp) {
    let (access, _) = login(&app, "admin", ADMIN_PASSWORD).await;
    app.request(Method::POST, "/api/v1/auth/logout", Some(&access), None)
        .await;
    let apply = |cookie: bool| {
        let mut req = app
            .client
            .post(format!("{}/api/v1/merchants", app.address))
            .header("origin", &app.address)
            .json(&crate::helpers::merchant_application(if cookie {
                "stalecookie"
            } else {
                "stalebearer"
            }));
        req = if cookie {
            req.header("cookie", format!("tc_session={access}"))
        } else {
            req.bearer_auth(&access)
        };
        req.send()
    };
    // The browser sends the ended session's cookie unasked: the page still works.
    assert_eq!(apply(true).await.unwrap().status(), StatusCode::CREATED);
    // An API client that sends an ended token is told so.
    assert_eq!(
        apply(false).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

both_backends!(
    a_stale_session_cookie_does_not_block_a_public_application,
    login_sets_a_refresh_cookie_only_the_auth_endpoints_see,
    a_renewal_rotates_the_refresh_token_and_answers_a_working_access_token,
    a_guessed_refresh_token_ends_nothing,
    logout_ends_this_device_only_and_logout_all_ends_every_one,
    a_logged_out_cashier_cannot_redeem_with_the_old_token,
    a_password_change_ends_every_session_but_opens_one_here,
    each_role_keeps_its_session_for_its_lifetime,
    a_disabled_account_cannot_renew,
    a_cross_site_renewal_is_refused,
);
