//! The printed card and its PIN (DESIGN §11): set by the talent or an official, never a
//! counter; quote and redeem with `{card_no, pin}`; wrong PINs lock, block and count in
//! the merchant's guessing budget; the daily PIN limit holds under concurrent counters.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, assert_invalid, assert_problem, offer_body};
use crate::redemptions::{Counter, counter, redeem};
use crate::talents::TALENT_PASSWORD;

const PIN: &str = "583920";

async fn set_my_pin(app: &TestApp, token: &str, pin: &str, password: &str) -> (StatusCode, Value) {
    app.post(
        "/api/v1/me/pin",
        token,
        json!({"pin": pin, "current_password": password}),
    )
    .await
}

fn by_pin(c: &Counter, pin: &str, bill_fen: i64) -> Value {
    json!({"card_no": c.card_no, "pin": pin, "bill_fen": bill_fen, "offer_id": c.offer_id})
}

async fn failures_counted(app: &TestApp, user_id: i64) -> i32 {
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::code_guess_throttle as t;
        t::table
            .find(user_id)
            .select(t::failures)
            .first::<i32>(conn)
            .optional()
            .unwrap()
            .unwrap_or(0)
    })
    .await
}

async fn cashier_id(app: &TestApp, token: &str) -> i64 {
    let (_, me) = app.get("/api/v1/me", token).await;
    me["id"]
        .as_i64()
        .or_else(|| me["user_id"].as_i64())
        .unwrap()
}

async fn a_talent_sets_a_pin_and_pays_with_the_printed_card(app: TestApp) {
    let c = counter(&app, "pin-shop", 1, offer_body("九折")).await;
    // Before a PIN is set the counter says so.
    let (_, refused) = redeem(
        &app,
        &c.merchant.cashier_token,
        "pin-0",
        by_pin(&c, PIN, 10_000),
    )
    .await;
    assert_eq!(refused["code"], "pin_not_set", "{refused}");
    let (status, _) = set_my_pin(&app, &c.talent_token, PIN, "not-my-password").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Born 1990-01-01: the birth date in its usual forms, runs and repeats are refused.
    for trivial in [
        "900101", "010190", "199001", "123456", "654321", "777777", "121212", "12345",
    ] {
        let refused = set_my_pin(&app, &c.talent_token, trivial, TALENT_PASSWORD).await;
        assert_invalid(&refused, "pin");
    }
    let (status, body) = set_my_pin(&app, &c.talent_token, PIN, TALENT_PASSWORD).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    let (status, quote) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"card_no": c.card_no, "pin": PIN, "bill_fen": 10_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["chosen"]["paid_fen"], 9_000);
    let (status, receipt) = redeem(
        &app,
        &c.merchant.cashier_token,
        "pin-1",
        by_pin(&c, PIN, 10_000),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    assert_eq!(receipt["by_pin"], true);
    assert_eq!(receipt["paid_fen"], 9_000);
    // A retry whose answer was lost gets the first result, not a second sale.
    let again = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(&c.merchant.cashier_token)
        .header("Idempotency-Key", "pin-1")
        .json(&by_pin(&c, PIN, 10_000))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["Idempotent-Replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], receipt["id"]);
    // The talent sees it at once, marked as made with the card.
    let (_, mine) = app.get("/api/v1/me/redemptions", &c.talent_token).await;
    assert_eq!(mine["items"][0]["id"], receipt["id"], "{mine}");
    assert_eq!(mine["items"][0]["by_pin"], true);
    // Three a day by PIN; the fourth is refused (the app's code still works).
    for key in ["pin-2", "pin-3"] {
        let (status, r) = redeem(
            &app,
            &c.merchant.cashier_token,
            key,
            by_pin(&c, PIN, 10_000),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "pin-4",
        by_pin(&c, PIN, 10_000),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r["code"], "pin_limit_reached");
    let (status, q) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"card_no": c.card_no, "pin": PIN, "bill_fen": 10_000}),
        )
        .await;
    assert_eq!(
        (status, q["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pin_limit_reached"))
    );
    app.stop().await;
}

/// Fifteen minutes on: the card's PIN lock ends now (its end moved back).
async fn end_lock(app: &TestApp, card_no: &str) {
    let card_no = card_no.to_owned();
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::{card_pins as p, cards};
        let card_id: i64 = cards::table
            .filter(cards::card_no.eq(&card_no))
            .select(cards::id)
            .first(conn)
            .unwrap();
        diesel::update(p::table.find(card_id))
            .set(p::locked_until.eq(talentcard::time::now() - chrono::Duration::seconds(1)))
            .execute(conn)
            .unwrap();
    })
    .await;
}

async fn wrong_pins_lock_then_block_and_count_against_the_merchant(app: TestApp) {
    let c = counter(&app, "pin-lock", 2, offer_body("九折")).await;
    set_my_pin(&app, &c.talent_token, PIN, TALENT_PASSWORD).await;
    let cashier = cashier_id(&app, &c.merchant.cashier_token).await;
    // A quote is no free guess: it counts like a redemption.
    let (status, wrong) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"card_no": c.card_no, "pin": "111222", "bill_fen": 10_000}),
        )
        .await;
    assert_eq!(
        (status, wrong["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pin_wrong"))
    );
    for i in 0..4 {
        let (_, r) = redeem(
            &app,
            &c.merchant.cashier_token,
            &format!("w{i}"),
            by_pin(&c, "111222", 10_000),
        )
        .await;
        assert_eq!(r["code"], "pin_wrong", "{r}");
    }
    assert_eq!(
        failures_counted(&app, cashier).await,
        5,
        "each wrong PIN is a guess"
    );
    // Locked for 15 minutes: even the right PIN waits.
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "right",
        by_pin(&c, PIN, 10_000),
    )
    .await;
    assert_eq!(status, StatusCode::LOCKED, "{r}");
    assert_eq!(r["code"], "pin_locked");
    // Fifteen minutes later (the lock's end moved back), five more wrong in the same
    // day block PIN use until a new PIN is set.
    end_lock(&app, &c.card_no).await;
    for i in 5..10 {
        redeem(
            &app,
            &c.merchant.cashier_token,
            &format!("w{i}"),
            by_pin(&c, "111222", 10_000),
        )
        .await;
    }
    end_lock(&app, &c.card_no).await;
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "right2",
        by_pin(&c, PIN, 10_000),
    )
    .await;
    assert_eq!(status, StatusCode::LOCKED, "{r}");
    assert!(r["detail"].as_str().unwrap().contains("new PIN"), "{r}");
    // An official, with the talent present, sets a new PIN: PIN use works again.
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{}/pin", c.card_no),
            &c.admin,
            json!({"pin": "204817"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "right3",
        by_pin(&c, "204817", 10_000),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let card_id = c.card_id;
    let actions = app.audit_actions("card", card_id).await;
    assert!(actions.contains(&"card.pin_set".to_owned()), "{actions:?}");
    assert!(
        actions.contains(&"card.pin_change".to_owned()),
        "{actions:?}"
    );
    app.stop().await;
}

async fn bad_pin_requests_are_refused_before_any_lookup(app: TestApp) {
    let c = counter(&app, "pin-bad", 3, offer_body("九折")).await;
    set_my_pin(&app, &c.talent_token, PIN, TALENT_PASSWORD).await;
    let cashier = cashier_id(&app, &c.merchant.cashier_token).await;
    let token = &c.merchant.cashier_token;
    let mut typo = c.card_no.clone().into_bytes();
    typo[3] = if typo[3] == b'9' { b'0' } else { typo[3] + 1 };
    let typo = String::from_utf8(typo).unwrap();
    let code = crate::redemptions::mint(&app, c.card_id, crate::redemptions::now(), 0);
    for (body, field) in [
        (
            json!({"card_no": typo, "pin": PIN, "bill_fen": 100, "offer_id": c.offer_id}),
            "card_no",
        ),
        (
            json!({"card_no": c.card_no, "bill_fen": 100, "offer_id": c.offer_id}),
            "pin",
        ),
        (
            json!({"card_no": c.card_no, "pin": "12ab56", "bill_fen": 100, "offer_id": c.offer_id}),
            "pin",
        ),
        (
            json!({"code": code, "card_no": c.card_no, "pin": PIN, "bill_fen": 100, "offer_id": c.offer_id}),
            "code",
        ),
        (json!({"bill_fen": 100, "offer_id": c.offer_id}), "code"),
        (
            json!({"code": null, "card_no": c.card_no, "pin": PIN, "bill_fen": 100, "offer_id": c.offer_id}),
            "code",
        ),
    ] {
        let refused = redeem(&app, token, "bad", body.clone()).await;
        assert_invalid(&refused, field);
    }
    assert_eq!(
        failures_counted(&app, cashier).await,
        0,
        "typos are not guesses"
    );
    // A well-formed number of no card is a guess.
    let unknown = {
        let mut n = talentcard::cards::CardNo::generate().as_str().to_owned();
        while n == c.card_no {
            n = talentcard::cards::CardNo::generate().as_str().to_owned();
        }
        n
    };
    let refused = redeem(
        &app,
        token,
        "unknown",
        json!({"card_no": unknown, "pin": PIN, "bill_fen": 100, "offer_id": c.offer_id}),
    )
    .await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "card_unknown");
    assert_eq!(failures_counted(&app, cashier).await, 1);
    // Nobody at a counter sets a PIN; a talent sets only their own.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/pin", c.card_no),
            token,
            json!({"pin": "204817"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/pin", c.card_no),
            &c.talent_token,
            json!({"pin": "204817"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = set_my_pin(&app, token, "204817", "x").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // A suspended card is refused by PIN as by code.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/suspend", c.card_no),
            &c.admin,
            json!({"reason": "挂失"}),
        )
        .await;
    assert!(status.is_success());
    let refused = redeem(&app, token, "suspended", by_pin(&c, PIN, 100)).await;
    assert_problem(&refused, StatusCode::CONFLICT, "card_inactive");
    app.stop().await;
}

/// Ten counters at once with the same card and PIN: exactly the daily three go through.
async fn the_daily_pin_limit_holds_under_concurrent_counters(app: TestApp) {
    let c = counter(&app, "pin-storm", 4, offer_body("九折")).await;
    set_my_pin(&app, &c.talent_token, PIN, TALENT_PASSWORD).await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let client = app.client.clone();
        let url = format!("{}/api/v1/redemptions", app.address);
        let token = c.merchant.cashier_token.clone();
        let body = by_pin(&c, PIN, 10_000);
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", format!("storm-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut created = 0;
    for task in tasks {
        let (status, body) = task.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            _ => assert_eq!(body["code"], "pin_limit_reached", "{status} {body}"),
        }
    }
    assert_eq!(created, 3, "exactly the day's PIN redemptions");
    let stored: i64 = app
        .with_conn(move |conn| {
            use diesel::prelude::*;
            use talentcard::schema::redemptions as r;
            r::table
                .filter(r::card_id.eq(c.card_id))
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(stored, 3);
    app.stop().await;
}

async fn the_printed_card_shows_the_number_and_its_qr_holds_only_that(app: TestApp) {
    let c = counter(&app, "pin-print", 5, offer_body("九折")).await;
    let print = |token: String, card_no: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}/api/v1/cards/{card_no}/print", app.address))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
        }
    };
    let res = print(c.admin.clone(), c.card_no.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    let svg = res.text().await.unwrap();
    // Parse it: ID-1 size, the texts, and one QR path.
    let mut reader = quick_xml::Reader::from_str(&svg);
    let (mut texts, mut width, mut qr) = (Vec::new(), None, None);
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).unwrap().map(|a| {
                        a.decode_and_unescape_value(reader.decoder())
                            .unwrap()
                            .into_owned()
                    })
                };
                match e.name().as_ref() {
                    b"svg" => width = attr("width").zip(attr("height")),
                    b"path" => qr = attr("d"),
                    _ => {}
                }
            }
            quick_xml::events::Event::Text(t) => texts.push(t.decode().unwrap().into_owned()),
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(width, Some(("85.6mm".to_owned(), "53.98mm".to_owned())));
    let grouped = talentcard::cards::print::grouped(&c.card_no);
    assert!(texts.contains(&grouped), "{texts:?}");
    assert!(
        texts.iter().any(|t| t.contains("测试5")),
        "the holder's name"
    );
    assert!(texts.contains(&"持卡在合作商家出示并输入密码".to_owned()));
    // The QR code is the card number's and nothing else's: its dark modules, one square
    // each, are those of a QR code of the number alone.
    let expected =
        qrcode::QrCode::with_error_correction_level(c.card_no.as_bytes(), qrcode::EcLevel::M)
            .unwrap()
            .to_colors()
            .into_iter()
            .filter(|m| *m == qrcode::Color::Dark)
            .count();
    assert_eq!(qr.unwrap().matches('M').count(), expected);
    // The talent prints their own; not another's; nobody else prints.
    let res = print(c.talent_token.clone(), c.card_no.clone()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let other = crate::talents::talent_with_card(&app, 6, "C").await;
    let res = print(c.talent_token.clone(), other.1.clone()).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = print(c.merchant.cashier_token.clone(), c.card_no.clone()).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

both_backends!(
    the_printed_card_shows_the_number_and_its_qr_holds_only_that,
    a_talent_sets_a_pin_and_pays_with_the_printed_card,
    wrong_pins_lock_then_block_and_count_against_the_merchant,
    bad_pin_requests_are_refused_before_any_lookup,
    the_daily_pin_limit_holds_under_concurrent_counters,
);
