use reqwest::{Method, StatusCode};
use serde_json::json;
use talentcard::auth::throttle::{MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, MAX_FAILURES};
use talentcard::auth::{Role, token};

use crate::both_backends;
use crate::helpers::{ADMIN_PASSWORD, TestApp, assert_problem};

async fn login_returns_a_bearer_token_and_an_httponly_cookie(app: TestApp) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("tc_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["role"], "admin");
    assert_eq!(body["expires_in"], 900);

    // The same token works as a cookie.
    let token = body["access_token"].as_str().unwrap();
    let res = app
        .client
        .get(format!("{}/api/v1/me", app.address))
        .header("cookie", format!("tc_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["username"], "admin");
    assert!(me.get("password_hash").is_none());
}

async fn wrong_password_and_unknown_user_get_the_same_answer(app: TestApp) {
    let wrong = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "not-the-password"})),
        )
        .await;
    let unknown = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "nobody", "password": "not-the-password"})),
        )
        .await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    assert_eq!(
        wrong, unknown,
        "an unknown user must be indistinguishable from a wrong password"
    );
}

async fn repeated_failures_lock_the_username_from_that_address_known_or_not(app: TestApp) {
    for username in ["admin", "ghost"] {
        for _ in 0..MAX_FAILURES {
            let r = app
                .request(
                    Method::POST,
                    "/api/v1/auth/login",
                    None,
                    Some(json!({"username": username, "password": "guess-guess"})),
                )
                .await;
            assert_problem(&r, StatusCode::UNAUTHORIZED, "unauthorized");
        }
        // From this address even the right password is refused for a while.
        let password = if username == "admin" {
            ADMIN_PASSWORD
        } else {
            "guess-guess"
        };
        let r = app
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": password})),
            )
            .await;
        assert_problem(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    }
}

/// A login from `address`, as the trusted proxy in front of the app reports it.
async fn login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
) -> (StatusCode, serde_json::Value, Option<u64>) {
    let res = app
        .client
        .post(format!("{}/api/v1/auth/login", app.address))
        .header("x-forwarded-for", address)
        .json(&json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, res.json().await.unwrap(), retry_after)
}

async fn a_strangers_failures_do_not_lock_an_official_out(app: TestApp) {
    let stranger = "198.51.100.1";
    for _ in 0..MAX_FAILURES {
        let (status, ..) = login_from(&app, stranger, "admin", "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The stranger is locked out, right password or not, with a Retry-After…
    let (status, body, retry_after) = login_from(&app, stranger, "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_attempts");
    let retry_after = retry_after.expect("Retry-After");
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    // …and cannot dodge it by writing an address of their choice in front.
    let (status, ..) = login_from(
        &app,
        &format!("203.0.113.50, {stranger}"),
        "admin",
        "x-guess-x",
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // The official, from their own address, logs in.
    let (status, body, _) = login_from(&app, "203.0.113.7", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn guessing_from_many_addresses_leaves_each_fresh_address_one_try(app: TestApp) {
    // A distributed guesser spends the account's backoff from several addresses.
    let mut spent = 0;
    let mut n = 0;
    while spent < MAX_ACCOUNT_FAILURES {
        n += 1;
        for _ in 0..MAX_FAILURES.min(MAX_ACCOUNT_FAILURES - spent) {
            let (status, ..) =
                login_from(&app, &format!("198.51.100.{n}"), "admin", "guess-guess").await;
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            spent += 1;
        }
    }
    // Now an address that has failed once is refused before its password is checked…
    let (status, ..) = login_from(&app, "192.0.2.1", "admin", "guess-guess").await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a fresh address is heard once"
    );
    let (status, ..) = login_from(&app, "192.0.2.1", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    // …while the official's own address, which has not failed, still gets in.
    let (status, body, _) = login_from(&app, "192.0.2.2", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn spraying_usernames_from_one_address_is_refused_after_the_address_limit(app: TestApp) {
    let sprayer = "198.51.100.66";
    for i in 0..MAX_ADDRESS_FAILURES {
        let (status, ..) = login_from(&app, sprayer, &format!("user{i}"), "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let before = app.state.metrics.login_password_checks.get();
    let (status, body, retry_after) =
        login_from(&app, sprayer, "someone-else", "guess-guess").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "too_many_attempts");
    assert!(retry_after.is_some());
    assert_eq!(
        app.state.metrics.login_password_checks.get(),
        before,
        "a refused attempt costs no password check"
    );
    // Other addresses are not affected; the admin logs in from elsewhere.
    let (status, ..) = login_from(&app, "198.51.100.67", "someone-else", "guess-guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, ..) = login_from(&app, "198.51.100.67", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK);
}

async fn a_correct_login_does_not_count_as_a_failure(app: TestApp) {
    // Far more successful logins than any limit, from one address.
    for _ in 0..MAX_FAILURES + 2 {
        let (status, ..) = login_from(&app, "198.51.100.5", "admin", ADMIN_PASSWORD).await;
        assert_eq!(status, StatusCode::OK);
    }
    for _ in 0..MAX_FAILURES - 1 {
        let (status, ..) = login_from(&app, "198.51.100.5", "admin", "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, ..) = login_from(&app, "198.51.100.5", "admin", ADMIN_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "the last try of the window");
}

async fn expired_throttle_rows_are_purged(app: TestApp) {
    use diesel::prelude::*;
    use talentcard::schema::rate_limits;
    for i in 0..3 {
        let (status, ..) =
            login_from(&app, "198.51.100.8", &format!("ghost{i}"), "guess-guess").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    async fn count(app: &TestApp) -> i64 {
        app.with_conn(|conn| rate_limits::table.count().get_result::<i64>(conn).unwrap())
            .await
    }
    // Three usernames, the address and the three accounts.
    assert_eq!(count(&app).await, 7);
    // Their window ends…
    app.with_conn(|conn| {
        diesel::update(rate_limits::table)
            .set(rate_limits::window_end.eq(talentcard::time::now() - chrono::Duration::seconds(1)))
            .execute(conn)
            .unwrap()
    })
    .await;
    // …and the next new bucket sweeps them away.
    let (status, ..) = login_from(&app, "198.51.100.9", "ghost-new", "guess-guess").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app).await, 3);
}

/// Runs each test once per backend on an app behind a trusted proxy on loopback, so a
/// test chooses the client address with `X-Forwarded-For`.
macro_rules! behind_proxy {
    ($($name:ident),* $(,)?) => {
        mod behind_proxy {
            use crate::helpers::{Backend, TestApp};

            fn trust_loopback(config: &mut talentcard::config::Config) {
                config.trusted_proxies = talentcard::http::client::parse_cidrs("127.0.0.1").unwrap();
            }

            $(
                #[actix_web::test]
                async fn $name() {
                    for backend in [Backend::Sqlite, Backend::Postgres] {
                        if let Some(app) = TestApp::spawn_with(backend, trust_loopback).await {
                            super::$name(app).await;
                        }
                    }
                }
            )*
        }
    };
}

behind_proxy!(
    a_strangers_failures_do_not_lock_an_official_out,
    guessing_from_many_addresses_leaves_each_fresh_address_one_try,
    spraying_usernames_from_one_address_is_refused_after_the_address_limit,
    a_correct_login_does_not_count_as_a_failure,
    expired_throttle_rows_are_purged,
);

async fn a_storm_of_wrong_passwords_gets_no_more_password_checks_than_the_limit(app: TestApp) {
    let before = app.state.metrics.login_password_checks.get();
    let shots = (0..100).map(|_| {
        app.request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "guess-guess"})),
        )
    });
    let answers = futures_util::future::join_all(shots).await;
    let checks = app.state.metrics.login_password_checks.get() - before;
    eprintln!("100 concurrent wrong logins for one username: {checks} password checks");
    let refused = answers
        .iter()
        .filter(|r| r.0 == StatusCode::TOO_MANY_REQUESTS)
        .count();
    let wrong = answers
        .iter()
        .filter(|r| r.0 == StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(refused + wrong, 100, "only 401 and 429 expected");
    assert!(
        checks <= MAX_FAILURES as u64,
        "{checks} password checks under a storm; the limit is {MAX_FAILURES}"
    );
    assert_eq!(
        wrong as u64, checks,
        "every check was a 401, every other a 429"
    );
}

async fn expired_tampered_and_foreign_tokens_are_rejected(app: TestApp) {
    let token = app.admin_token().await;
    assert_eq!(app.get("/api/v1/me", &token).await.0, StatusCode::OK);

    let expired = token::issue(&app.state.secrets.jwt, 1, Role::Admin, 0, 1, -120).unwrap();
    assert_problem(
        &app.get("/api/v1/me", &expired).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // Change the payload (claim another user) without re-signing.
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: serde_json::Value =
        serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
    claims["sub"] = json!("2");
    parts[1] = engine.encode(claims.to_string());
    assert_problem(
        &app.get("/api/v1/me", &parts.join(".")).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // Signed by a key this server never had.
    let mut other = app.state.secrets.jwt.clone();
    other.rotate("foreign-");
    let foreign = token::issue(&other, 1, Role::Admin, 0, 1, 600).unwrap();
    assert_problem(
        &app.get("/api/v1/me", &foreign).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    assert_problem(
        &app.get("/api/v1/me", "not-a-jwt").await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_problem(
        &app.request(Method::GET, "/api/v1/me", None, None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn logout_ends_the_session(app: TestApp) {
    let token = app.admin_token().await;
    let (status, _) = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_problem(
        &app.get("/api/v1/me", &token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn password_change_needs_the_old_one_and_ends_other_sessions(app: TestApp) {
    let first = app.admin_token().await;
    let second = app.admin_token().await;
    let wrong = app
        .post(
            "/api/v1/me/password",
            &first,
            json!({"current_password": "nope-nope", "new_password": "brand-new-pass"}),
        )
        .await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");
    let weak = app
        .post(
            "/api/v1/me/password",
            &first,
            json!({"current_password": ADMIN_PASSWORD, "new_password": "short"}),
        )
        .await;
    assert_problem(&weak, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let (status, body) = app
        .post(
            "/api/v1/me/password",
            &first,
            json!({"current_password": ADMIN_PASSWORD, "new_password": "brand-new-pass"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let fresh = body["access_token"].as_str().unwrap();
    assert_eq!(app.get("/api/v1/me", fresh).await.0, StatusCode::OK);
    assert_problem(
        &app.get("/api/v1/me", &second).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    app.login("admin", "brand-new-pass").await;
}

async fn admins_propose_officials_and_auditors_only(app: TestApp) {
    let token = app.admin_token().await;
    let (id, _) = app
        .create_official("auditor", "Auditor.Li", "auditor-pass")
        .await;
    let (_, me) = app
        .get("/api/v1/me", &app.login("AUDITOR.LI", "auditor-pass").await)
        .await;
    assert_eq!(me["id"], id);
    assert_eq!(me["username"], "auditor.li");

    let dup = app
        .post(
            "/api/v1/users",
            &token,
            json!({"username": "auditor.li", "role": "admin"}),
        )
        .await;
    assert_problem(&dup, StatusCode::CONFLICT, "conflict");
    for body in [
        json!({"username": "someone", "role": "talent"}),
        json!({"username": "someone", "role": "root"}),
        json!({"username": "a b", "role": "admin"}),
        // The proposer never chooses the password: the holder does, with the code.
        json!({"username": "someone", "role": "admin", "password": "chosen-by-me"}),
    ] {
        let response = app.post("/api/v1/users", &token, body).await;
        assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
}

/// Who may call what, for the endpoints of the foundation.
async fn role_matrix_is_enforced(app: TestApp) {
    let mut tokens = vec![("admin", app.admin_token().await)];
    for (role, name) in [
        (Role::Auditor, "auditor"),
        (Role::Merchant, "owner"),
        (Role::Cashier, "cashier"),
        (Role::Talent, "talent"),
    ] {
        tokens.push((name, app.official_token(role, name).await));
    }
    let matrix: &[(&str, &[&str])] = &[
        (
            "/api/v1/me",
            &["admin", "auditor", "owner", "cashier", "talent"],
        ),
        ("/api/v1/users", &["admin"]),
        ("/api/v1/audit/events", &["admin", "auditor"]),
        ("/api/v1/audit/verify", &["admin", "auditor"]),
    ];
    for (path, allowed) in matrix {
        for (who, token) in &tokens {
            let response = app.get(path, token).await;
            if allowed.contains(who) {
                assert_eq!(
                    response.0,
                    StatusCode::OK,
                    "{who} should reach {path}: {}",
                    response.1
                );
            } else {
                assert_problem(&response, StatusCode::FORBIDDEN, "forbidden");
            }
        }
        assert_problem(
            &app.request(Method::GET, path, None, None).await,
            StatusCode::UNAUTHORIZED,
            "unauthorized",
        );
    }
    let create = json!({"username": "x-official", "role": "admin"});
    for (who, token) in &tokens[1..] {
        let response = app.post("/api/v1/users", token, create.clone()).await;
        assert_problem(&response, StatusCode::FORBIDDEN, "forbidden");
        let _ = who;
    }
}

both_backends!(
    login_returns_a_bearer_token_and_an_httponly_cookie,
    wrong_password_and_unknown_user_get_the_same_answer,
    repeated_failures_lock_the_username_from_that_address_known_or_not,
    a_storm_of_wrong_passwords_gets_no_more_password_checks_than_the_limit,
    expired_tampered_and_foreign_tokens_are_rejected,
    logout_ends_the_session,
    password_change_needs_the_old_one_and_ends_other_sessions,
    admins_propose_officials_and_auditors_only,
    role_matrix_is_enforced,
);
