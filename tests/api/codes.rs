use std::sync::Arc;

use chrono::{Duration, NaiveDateTime};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::codes;
use talentcard::secrets::Secrets;

use crate::both_backends;
use crate::cards::lapse_card;
use crate::helpers::{TestApp, assert_problem};
use crate::talents::{role_tokens, talent_with_card};

/// Runs THE verification function against the app's database.
async fn verify(
    app: &TestApp,
    secrets: Arc<Secrets>,
    input: &str,
    now: NaiveDateTime,
) -> Result<i64, (String, String)> {
    let input = input.to_owned();
    app.with_conn(move |conn| {
        codes::verify(conn, &secrets, &input, now)
            .map(|v| v.card.id)
            .map_err(|e| (e.code().to_owned(), e.to_string()))
    })
    .await
}

async fn fetch(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/me/codes{query}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

fn now() -> NaiveDateTime {
    talentcard::time::now()
}

/// The first code of the window after the current one is valid at its `not_before`.
fn next_window_start(codes: &[Value]) -> NaiveDateTime {
    let first_next = codes
        .iter()
        .find(|c| c["not_before"] != codes[0]["not_before"])
        .unwrap();
    chrono::DateTime::parse_from_rfc3339(first_next["not_before"].as_str().unwrap())
        .unwrap()
        .naive_utc()
}

async fn a_talent_fetches_codes_covering_ten_minutes_offline(app: TestApp) {
    let (_, _, token) = talent_with_card(&app, 1, "A").await;
    let before = now();
    let codes = fetch(&app, &token, "").await;
    assert_eq!(codes.len(), 33, "11 windows × 3 slots");
    let last_end = chrono::DateTime::parse_from_rfc3339(codes[32]["not_after"].as_str().unwrap())
        .unwrap()
        .naive_utc();
    assert!(last_end >= before + Duration::minutes(10));
    let mut seen = std::collections::HashSet::new();
    for c in &codes {
        let numeric = c["numeric"].as_str().unwrap();
        assert_eq!(numeric.len(), 20);
        assert!(numeric.bytes().all(|b| b.is_ascii_digit()));
        assert!(codes::payment_code_kind(numeric).is_none());
        assert_eq!(c["code"], format!("TC1:{numeric}"));
        assert!(c["qr_svg"].as_str().unwrap().contains("<svg"));
        assert!(seen.insert(numeric.to_owned()), "codes are distinct");
    }
    // Three slots share each window.
    assert_eq!(codes[0]["not_before"], codes[2]["not_before"]);
    assert_ne!(codes[2]["not_before"], codes[3]["not_before"]);
    assert_eq!(fetch(&app, &token, "?count=5").await.len(), 5);
    for bad in ["?count=0", "?count=31", "?count=x"] {
        let (status, body) = app.get(&format!("/api/v1/me/codes{bad}"), &token).await;
        assert!(status.is_client_error(), "{bad}: {status} {body}");
    }
}

async fn every_slot_and_both_forms_verify_with_precise_refusals(app: TestApp) {
    let (_, card_no, token) = talent_with_card(&app, 2, "C").await;
    let secrets = app.state.secrets.clone();
    let codes = fetch(&app, &token, "?count=6").await;
    let t = now();
    let card_id = verify(&app, secrets.clone(), codes[0]["code"].as_str().unwrap(), t)
        .await
        .unwrap();
    for c in &codes[..3] {
        for form in ["code", "numeric"] {
            assert_eq!(
                verify(&app, secrets.clone(), c[form].as_str().unwrap(), t).await,
                Ok(card_id),
                "{form}"
            );
        }
    }
    let (_, card) = app
        .get(
            &format!("/api/v1/cards/{card_no}"),
            &app.admin_token().await,
        )
        .await;
    assert_eq!(card["id"], card_id);

    // Expired: the current window's code three minutes later.
    let err = verify(
        &app,
        secrets.clone(),
        codes[0]["numeric"].as_str().unwrap(),
        t + Duration::minutes(3),
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, "code_expired", "{err:?}");
    // Not yet valid: a code of the next window, used now (well before it starts).
    let next = &codes[3];
    let early = next_window_start(&codes) - Duration::seconds(30);
    let err = verify(
        &app,
        secrets.clone(),
        next["numeric"].as_str().unwrap(),
        early,
    )
    .await
    .unwrap_err();
    assert_eq!(err.0, "code_not_yet_valid", "{err:?}");
    // A few seconds early is clock skew, tolerated.
    let skewed = next_window_start(&codes) - Duration::seconds(3);
    assert!(
        verify(
            &app,
            secrets.clone(),
            next["numeric"].as_str().unwrap(),
            skewed
        )
        .await
        .is_ok()
    );

    // Format, typo, signature and payment-code refusals each say what happened.
    let numeric = codes[0]["numeric"].as_str().unwrap();
    let mut typo = numeric.as_bytes().to_vec();
    typo[8] = b'0' + (typo[8] - b'0' + 3) % 10;
    for (input, needle) in [
        ("hello", "not a talent-card code"),
        ("123", "not a talent-card code"),
        (std::str::from_utf8(&typo).unwrap(), "typo"),
        ("134567890123456789", "WeChat Pay payment code"),
        ("2812345678901234", "Alipay payment code"),
        ("6212345678901234567", "UnionPay payment code"),
    ] {
        let err = verify(&app, secrets.clone(), input, t).await.unwrap_err();
        assert_eq!(err.0, "code_invalid", "{input}: {err:?}");
        assert!(err.1.contains(needle), "{input}: {err:?}");
    }
}

async fn a_code_of_one_card_never_verifies_as_another(app: TestApp) {
    let (_, _, token_a) = talent_with_card(&app, 3, "A").await;
    let (_, card_b, _) = talent_with_card(&app, 4, "C").await;
    let admin = app.admin_token().await;
    let (_, b) = app.get(&format!("/api/v1/cards/{card_b}"), &admin).await;
    let b_id = b["id"].as_i64().unwrap();
    let secrets = app.state.secrets.clone();
    let code_a = fetch(&app, &token_a, "?count=1").await[0]["numeric"]
        .as_str()
        .unwrap()
        .to_owned();
    // Swap in B's card id and repair the check digit, as a forger would.
    let mut forged = format!("{}{b_id:07}{}", &code_a[..4], &code_a[11..19]);
    let check = talentcard::cards::card_no::damm_digit(forged.as_bytes());
    forged.push(char::from(b'0' + check));
    let err = verify(&app, secrets, &forged, now()).await.unwrap_err();
    assert_eq!(err.0, "code_invalid");
    assert!(err.1.contains("not issued"), "{err:?}");
}

async fn suspension_pauses_codes_and_resume_revives_those_still_in_window(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, no, token) = talent_with_card(&app, 5, "A").await;
    let secrets = app.state.secrets.clone();
    let code = fetch(&app, &token, "?count=3").await[1]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let t = now();
    app.post(
        &format!("/api/v1/cards/{no}/suspend"),
        &admin,
        json!({"reason": "lost phone"}),
    )
    .await;
    let err = verify(&app, secrets.clone(), &code, t).await.unwrap_err();
    assert_eq!(err.0, "card_inactive");
    assert!(err.1.contains("suspended"), "{err:?}");
    assert_problem(
        &app.get("/api/v1/me/codes", &token).await,
        StatusCode::CONFLICT,
        "card_inactive",
    );
    app.post(&format!("/api/v1/cards/{no}/resume"), &admin, json!({}))
        .await;
    assert!(verify(&app, secrets, &code, t).await.is_ok());
}

async fn revoke_and_reissue_kill_every_outstanding_code_at_once(app: TestApp) {
    let admin = app.admin_token().await;
    let secrets = app.state.secrets.clone();
    // Reissue: the old card's codes die, the new card's work.
    let (_, old_no, token) = talent_with_card(&app, 6, "C").await;
    let old_codes = fetch(&app, &token, "").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{old_no}/reissue"),
            &admin,
            json!({"reason": "lost phone"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let t = now();
    for c in old_codes.iter().take(3) {
        let err = verify(&app, secrets.clone(), c["code"].as_str().unwrap(), t)
            .await
            .unwrap_err();
        assert_eq!(err.0, "card_inactive", "{err:?}");
        assert!(err.1.contains("revoked"));
    }
    let new_codes = fetch(&app, &token, "?count=1").await;
    assert!(
        verify(
            &app,
            secrets.clone(),
            new_codes[0]["code"].as_str().unwrap(),
            now()
        )
        .await
        .is_ok()
    );
    assert!(
        !old_codes
            .iter()
            .any(|c| c["numeric"] == new_codes[0]["numeric"]),
        "new card, new codes"
    );

    // Revoke: dead for good.
    let (_, no, token) = talent_with_card(&app, 7, "A").await;
    let code = fetch(&app, &token, "?count=1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/api/v1/cards/{no}/revoke"),
        &admin,
        json!({"reason": "fraud"}),
    )
    .await;
    let err = verify(&app, secrets.clone(), &code, now())
        .await
        .unwrap_err();
    assert_eq!(err.0, "card_inactive");
    assert_problem(
        &app.get("/api/v1/me/codes", &token).await,
        StatusCode::CONFLICT,
        "card_inactive",
    );

    // Expiry: a lapsed card refuses its codes without any batch job.
    let (_, no, token) = talent_with_card(&app, 8, "A").await;
    let code = fetch(&app, &token, "?count=1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    lapse_card(&app, &no).await;
    let err = verify(&app, secrets, &code, now()).await.unwrap_err();
    assert_eq!(err.0, "card_inactive");
    assert!(err.1.contains("expired"));
}

async fn codes_signed_before_a_key_rotation_keep_verifying(app: TestApp) {
    let (_, _, token) = talent_with_card(&app, 9, "B").await;
    let old_code = fetch(&app, &token, "?count=1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    // What `talentcard rotate-key code` does, followed by a restart.
    let mut rotated = (*app.state.secrets).clone();
    let new_kid = rotated.code.rotate("");
    assert_ne!(new_kid, app.state.secrets.code.current);
    let rotated = Arc::new(rotated);
    let t = now();
    let card_id = verify(&app, rotated.clone(), &old_code, t).await.unwrap();
    let card = app
        .with_conn(move |conn| {
            talentcard::cards::find_by_id(conn, card_id)
                .unwrap()
                .unwrap()
        })
        .await;
    let new_codes = codes::issue(&rotated.code, &card, Some(1), t).unwrap();
    assert_ne!(new_codes[0].numeric, old_code[4..]);
    assert_eq!(
        verify(&app, rotated.clone(), &new_codes[0].code, t).await,
        Ok(card_id)
    );
    // An instance still on the old key set cannot verify the new key's codes.
    let err = verify(&app, app.state.secrets.clone(), &new_codes[0].code, t)
        .await
        .unwrap_err();
    assert_eq!(err.0, "code_invalid");
}

async fn only_talents_fetch_codes(app: TestApp) {
    let tokens = role_tokens(&app).await;
    for (role, token) in &tokens {
        let (status, body) = app
            .request(Method::GET, "/api/v1/me/codes", token.as_deref(), None)
            .await;
        let expected = match *role {
            // The role-matrix talent has no card yet: past the role check, nothing to show.
            "talent" => StatusCode::NOT_FOUND,
            "anonymous" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        assert_eq!(status, expected, "{role}: {body}");
    }
}

/// A forger's `i`-th guess at a numeric code: other MAC digits, check digit repaired.
pub fn forged(numeric: &str, i: u32) -> String {
    let mut f = format!(
        "{}{:08}",
        &numeric[..11],
        (numeric[11..19].parse::<u32>().unwrap() + 1 + i) % 100_000_000
    );
    let check = talentcard::cards::card_no::damm_digit(f.as_bytes());
    f.push(char::from(b'0' + check));
    f
}

async fn forgery_guesses_are_rate_limited_per_staff_account(app: TestApp) {
    let (_, _, token) = talent_with_card(&app, 10, "A").await;
    let genuine = fetch(&app, &token, "?count=1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let numeric = genuine[4..].to_owned();
    let forge = |i: u32| forged(&numeric, i);
    let secrets = app.state.secrets.clone();
    let t = now();
    let attempt = move |user: i64, input: String, at: NaiveDateTime| {
        let secrets = secrets.clone();
        app_verify_as_staff(secrets, user, input, at)
    };
    let limit = codes::MAX_FAILED_VERIFICATIONS_PER_HOUR;
    for i in 0..limit {
        let err = app.with_conn(attempt(7, forge(i), t)).await.unwrap_err();
        assert_eq!(err, "code_invalid");
    }
    // Typos and payment codes do not count against an honest cashier.
    let mut typo = numeric.clone().into_bytes();
    typo[2] = b'0' + (typo[2] - b'0' + 1) % 10;
    let typo = String::from_utf8(typo).unwrap();
    for _ in 0..limit + 5 {
        let err = app
            .with_conn(attempt(9, typo.clone(), t))
            .await
            .unwrap_err();
        assert_eq!(err, "code_invalid");
        let err = app
            .with_conn(attempt(9, "134567890123456789".into(), t))
            .await
            .unwrap_err();
        assert_eq!(err, "code_invalid");
    }
    assert!(app.with_conn(attempt(9, genuine.clone(), t)).await.is_ok());
    // Now even the genuine code is refused for this account, but not for another.
    assert_eq!(
        app.with_conn(attempt(7, genuine.clone(), t))
            .await
            .unwrap_err(),
        "too_many_attempts"
    );
    assert!(app.with_conn(attempt(8, genuine.clone(), t)).await.is_ok());
    // An hour later the account may try again.
    let later = t + Duration::minutes(61);
    assert_eq!(
        app.with_conn(attempt(7, forge(99), later))
            .await
            .unwrap_err(),
        "code_invalid"
    );
}

async fn forgery_guesses_are_rate_limited_per_merchant_however_many_cashiers(app: TestApp) {
    let (_, _, token) = talent_with_card(&app, 10, "A").await;
    let genuine = fetch(&app, &token, "?count=1").await[0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let numeric = genuine[4..].to_owned();
    let t = now();
    let secrets = app.state.secrets.clone();
    let attempt = move |user: i64, merchant: i64, input: String| {
        merchant_verify_as_staff(secrets.clone(), user, Some(merchant), input, t)
    };
    let alarm_before = talentcard::metrics::CODE_FORGERY_SUSPECTED.get();
    let per_account = codes::MAX_FAILED_VERIFICATIONS_PER_HOUR;
    let per_merchant = codes::MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR;
    assert!(per_merchant > per_account && per_merchant < 3 * per_account);
    // Cashiers 21, 22, 23 of merchant 5 each stay within their own hourly limit…
    let mut guesses = 0;
    for (user, n) in [(21, per_account), (22, per_merchant - per_account)] {
        for _ in 0..n {
            let err = app
                .with_conn(attempt(user, 5, forged(&numeric, guesses)))
                .await
                .unwrap_err();
            assert_eq!(err, "code_invalid");
            guesses += 1;
        }
    }
    // …but the merchant's budget is spent: a third cashier is refused, even a genuine code.
    assert_eq!(
        app.with_conn(attempt(23, 5, genuine.clone()))
            .await
            .unwrap_err(),
        "too_many_attempts"
    );
    assert_eq!(
        app.with_conn(attempt(22, 5, genuine.clone()))
            .await
            .unwrap_err(),
        "too_many_attempts"
    );
    // Another merchant's cashier is not affected.
    assert!(app.with_conn(attempt(24, 6, genuine.clone())).await.is_ok());
    // Every forged code rang the alarm (other tests may ring it too, never less).
    assert!(talentcard::metrics::CODE_FORGERY_SUSPECTED.get() - alarm_before >= u64::from(guesses));
    let metrics = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("talentcard_code_forgery_suspected_total"),
        "{metrics}"
    );
    assert!(
        metrics.contains("talentcard_code_guess_refusals_total{scope=\"merchant\"}"),
        "{metrics}"
    );
}

fn app_verify_as_staff(
    secrets: Arc<Secrets>,
    user: i64,
    input: String,
    at: NaiveDateTime,
) -> impl FnOnce(&mut talentcard::db::DbConnection) -> Result<i64, String> + Send + 'static {
    merchant_verify_as_staff(secrets, user, None, input, at)
}

fn merchant_verify_as_staff(
    secrets: Arc<Secrets>,
    user: i64,
    merchant: Option<i64>,
    input: String,
    at: NaiveDateTime,
) -> impl FnOnce(&mut talentcard::db::DbConnection) -> Result<i64, String> + Send + 'static {
    move |conn| {
        codes::guard::verify_as_staff(conn, &secrets, user, merchant, &input, at)
            .map(|v| v.card.id)
            .map_err(|e| e.code().to_owned())
    }
}

both_backends!(
    forgery_guesses_are_rate_limited_per_staff_account,
    forgery_guesses_are_rate_limited_per_merchant_however_many_cashiers,
    a_talent_fetches_codes_covering_ten_minutes_offline,
    every_slot_and_both_forms_verify_with_precise_refusals,
    a_code_of_one_card_never_verifies_as_another,
    suspension_pauses_codes_and_resume_revives_those_still_in_window,
    revoke_and_reissue_kill_every_outstanding_code_at_once,
    codes_signed_before_a_key_rotation_keep_verifying,
    only_talents_fetch_codes,
);

/// Full verification including the card row, on both backends:
/// `cargo test --test api codes::bench_verify_with_card_lookup -- --ignored --nocapture`
#[actix_web::test]
#[ignore = "micro-benchmark; run on demand"]
async fn bench_verify_with_card_lookup() {
    for backend in [
        crate::helpers::Backend::Sqlite,
        crate::helpers::Backend::Postgres,
    ] {
        let Some(app) = TestApp::spawn(backend).await else {
            continue;
        };
        let (_, _, token) = talent_with_card(&app, 1, "A").await;
        let code = fetch(&app, &token, "?count=1").await[0]["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let secrets = app.state.secrets.clone();
        let per = app
            .with_conn(move |conn| {
                let t = talentcard::time::now();
                let rounds = 5_000u32;
                let start = std::time::Instant::now();
                for _ in 0..rounds {
                    codes::verify(conn, &secrets, &code, t).unwrap();
                }
                start.elapsed() / rounds
            })
            .await;
        println!("codes::verify incl. card row ({backend:?}, one connection): {per:?} per code");
    }
}
