use chrono::{Duration, NaiveDateTime};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::codes::{self, CodeId};

use crate::both_backends;
use crate::codes::forged;
use crate::helpers::{
    Backend, MERCHANT_PASSWORD, MerchantFixture, TestApp, assert_problem, offer_body,
};
use crate::talents::talent_with_card;

/// A counter ready to redeem: an active merchant with a live subsidised offer, a budget,
/// and a talent with an active card.
pub struct Counter {
    pub merchant: MerchantFixture,
    pub offer_id: i64,
    pub card_id: i64,
    pub card_no: String,
    pub talent_token: String,
    pub admin: String,
}

pub async fn set_budget(app: &TestApp, _admin: &str, total_fen: i64) {
    let year: i32 = talentcard::time::to_local(talentcard::time::now())
        .format("%Y")
        .to_string()
        .parse()
        .unwrap();
    app.set_budget(year, json!({"total_fen": total_fen})).await;
}

pub async fn card_id(app: &TestApp, admin: &str, card_no: &str) -> i64 {
    let (status, card) = app.get(&format!("/api/v1/cards/{card_no}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    card["id"].as_i64().unwrap()
}

pub async fn counter(app: &TestApp, key: &str, seq: u32, offer: Value) -> Counter {
    let admin = app.admin_token().await;
    set_budget(app, &admin, 10_000_000).await;
    let merchant = app.active_merchant(key).await;
    let offer = app.active_offer(&merchant, offer).await;
    let (_, card_no, talent_token) = talent_with_card(app, seq, "B").await;
    let card_id = card_id(app, &admin, &card_no).await;
    Counter {
        merchant,
        offer_id: offer["id"].as_i64().unwrap(),
        card_id,
        card_no,
        talent_token,
        admin,
    }
}

/// A genuine code of the card for the window containing `at`, numeric form.
pub fn mint(app: &TestApp, card_id: i64, at: NaiveDateTime, slot: i64) -> String {
    let id = CodeId {
        card_id,
        window: codes::window_of(at),
        slot,
    };
    codes::encode(&app.state.secrets.code, &id).unwrap()
}

/// The subsidy booked to the merchant's current month (under its cap).
pub async fn merchant_month(app: &TestApp, merchant_id: i64) -> i64 {
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::merchant_month_subsidy as month;
        month::table
            .filter(month::merchant_id.eq(merchant_id))
            .select(month::subsidy_fen)
            .first(conn)
            .expect("the merchant's month")
    })
    .await
}

pub fn now() -> NaiveDateTime {
    talentcard::time::now()
}

pub async fn redeem(app: &TestApp, token: &str, key: &str, body: Value) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn quote_then_redeem_at_the_counter(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, quote) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"code": code, "bill_fen": 12_345}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["talent"]["masked_name"], "测**");
    assert_eq!(quote["chosen"]["offer_id"], c.offer_id);
    // 10 % of 123.45 元 is 12.345 → 12.35 (half up); half of it subsidised → 6.175 → 6.18.
    assert_eq!(quote["chosen"]["discount_fen"], 1_235);
    assert_eq!(quote["chosen"]["paid_fen"], 11_110);
    assert_eq!(quote["chosen"]["subsidy_fen"], 618);
    assert!(
        !quote.to_string().contains("5109"),
        "no ID number at the counter"
    );

    let (status, made) = redeem(
        &app,
        &c.merchant.cashier_token,
        "k1",
        json!({"code": code, "bill_fen": 12_345, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["discount_fen"], 1_235);
    assert_eq!(made["paid_fen"], 11_110);
    assert_eq!(made["subsidy_fen"], 618);
    assert_eq!(made["talent"]["masked_name"], "测**");
    assert_eq!(made["merchant"]["id"], c.merchant.id);

    // The same code again: used, for quote and redeem alike.
    let again = redeem(
        &app,
        &c.merchant.cashier_token,
        "k2",
        json!({"code": code, "bill_fen": 12_345, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(again.0, StatusCode::CONFLICT);
    assert_eq!(again.1["code"], "code_used");
    let requote = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"code": code, "bill_fen": 100}),
        )
        .await;
    assert_problem(&requote, StatusCode::CONFLICT, "code_used");
    // The next slot works at once.
    let next = mint(&app, c.card_id, now(), 1);
    let (status, _) = redeem(
        &app,
        &c.merchant.cashier_token,
        "k3",
        json!({"code": next, "bill_fen": 5_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &c.admin).await;
    assert_eq!(budget["reserved_fen"], 618 + 250, "{budget}");
    let (_, events) = app
        .get("/api/v1/audit/events?action=redemption.create", &c.admin)
        .await;
    assert_eq!(events["total"], 2);
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("talentcard_redemptions_total{category=\"food\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("code=\"code_used\""), "{metrics}");
}

async fn a_retried_request_returns_the_first_result(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let body = json!({"code": mint(&app, c.card_id, now(), 0), "bill_fen": 10_000, "offer_id": c.offer_id});
    let first = redeem(&app, &c.merchant.cashier_token, "retry-me", body.clone()).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    let res = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(&c.merchant.cashier_token)
        .header("Idempotency-Key", "retry-me")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["idempotent-replayed"], "true");
    let second: Value = res.json().await.unwrap();
    assert_eq!(second, first.1, "the same result, not a second redemption");
    let (_, list) = app
        .get("/api/v1/redemptions", &c.merchant.owner_token)
        .await;
    assert_eq!(list["total"], 1);

    let other = json!({"code": mint(&app, c.card_id, now(), 1), "bill_fen": 10_000, "offer_id": c.offer_id});
    let mismatch = redeem(&app, &c.merchant.cashier_token, "retry-me", other.clone()).await;
    assert_eq!(mismatch.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(mismatch.1["code"], "idempotency_mismatch");
    let no_key = app
        .post("/api/v1/redemptions", &c.merchant.cashier_token, other)
        .await;
    assert_problem(&no_key, StatusCode::BAD_REQUEST, "bad_request");
}

async fn refusals_are_precise(app: TestApp) {
    let mut narrow = offer_body("只限A");
    narrow["tiers"] = json!(["A"]);
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let narrow = app.active_offer(&c.merchant, narrow).await["id"]
        .as_i64()
        .unwrap();
    let mut big = offer_body("满百");
    big["min_spend_fen"] = json!(10_000);
    let big = app.active_offer(&c.merchant, big).await["id"]
        .as_i64()
        .unwrap();
    let token = &c.merchant.cashier_token;
    let body = |code: String, bill: i64, offer: i64| json!({"code": code, "bill_fen": bill, "offer_id": offer});
    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            body(mint(&app, c.card_id, now(), 0), 5_000, narrow),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not_eligible",
        ),
        (
            body(mint(&app, c.card_id, now(), 0), 5_000, big),
            StatusCode::UNPROCESSABLE_ENTITY,
            "min_spend_not_met",
        ),
        (
            body(
                mint(&app, c.card_id, now() - Duration::minutes(5), 0),
                5_000,
                c.offer_id,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "code_expired",
        ),
        (
            body(
                mint(&app, c.card_id, now() + Duration::minutes(5), 0),
                5_000,
                c.offer_id,
            ),
            StatusCode::UNPROCESSABLE_ENTITY,
            "code_not_yet_valid",
        ),
        (
            body("134567890123456789".into(), 5_000, c.offer_id),
            StatusCode::UNPROCESSABLE_ENTITY,
            "code_invalid",
        ),
        (
            body(mint(&app, c.card_id, now(), 0), 0, c.offer_id),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        ),
        (
            body(mint(&app, c.card_id, now(), 0), 5_000, 987_654),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
    ];
    for (i, (b, status, code)) in cases.into_iter().enumerate() {
        let r = redeem(&app, token, &format!("refuse-{i}"), b.clone()).await;
        assert_eq!(
            (r.0, r.1["code"].as_str().unwrap_or_default()),
            (status, code),
            "case {i}: {b} → {}",
            r.1
        );
    }
    let payment = redeem(
        &app,
        token,
        "pay",
        body("134567890123456789".into(), 5_000, c.offer_id),
    )
    .await;
    assert!(
        payment.1["detail"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("payment"),
        "{}",
        payment.1
    );
    // The quote lists why each offer does not apply.
    let (status, quote) = app
        .post(
            "/api/v1/redemptions/quote",
            token,
            json!({"code": mint(&app, c.card_id, now(), 0), "bill_fen": 5_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let reason = |id: i64| {
        quote["offers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["offer_id"] == id)
            .unwrap()["reason"]
            .clone()
    };
    assert_eq!(reason(narrow), "not_eligible");
    assert_eq!(reason(big), "min_spend_not_met");
    assert_eq!(quote["chosen"]["offer_id"], c.offer_id);

    // A suspended card refuses even a genuine code.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/suspend", c.card_no),
            &c.admin,
            json!({"reason": "lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let r = redeem(
        &app,
        token,
        "susp",
        body(mint(&app, c.card_id, now(), 2), 5_000, c.offer_id),
    )
    .await;
    assert_eq!(r.1["code"], "card_inactive", "{}", r.1);
    // No budget left: refused with a clear reason, and nothing half-written.
    app.post(
        &format!("/api/v1/cards/{}/resume", c.card_no),
        &c.admin,
        json!({}),
    )
    .await;
    set_budget(&app, &c.admin, 0).await;
    let r = redeem(
        &app,
        token,
        "broke",
        body(mint(&app, c.card_id, now(), 2), 5_000, c.offer_id),
    )
    .await;
    assert_eq!(r.1["code"], "budget_exhausted", "{}", r.1);
    let (_, list) = app
        .get("/api/v1/redemptions", &c.merchant.owner_token)
        .await;
    assert_eq!(list["total"], 0, "refusals leave nothing behind: {list}");
    // The refused code was not consumed.
    set_budget(&app, &c.admin, 10_000).await;
    let r = redeem(
        &app,
        token,
        "broke-retry",
        body(mint(&app, c.card_id, now(), 2), 5_000, c.offer_id),
    )
    .await;
    assert_eq!(r.0, StatusCode::CREATED, "{}", r.1);
}

async fn one_code_fired_fifty_times_redeems_once(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let shots = (0..50).map(|i| {
        let (app, token, body) = (
            &app,
            c.merchant.cashier_token.clone(),
            json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
        );
        async move { redeem(app, &token, &format!("storm-{i}"), body).await }
    });
    let results = futures_util::future::join_all(shots).await;
    let created = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .count();
    assert_eq!(created, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "code_used"),
        "{results:?}"
    );
}

async fn a_daily_limit_holds_under_a_storm_of_valid_codes(app: TestApp) {
    let mut limited = offer_body("每日两次");
    limited["per_card_daily"] = json!(2);
    let c = counter(&app, "shop", 1, limited).await;
    let t = now();
    // Ten genuine codes of the card, all valid now (slots of the current window).
    let shots = (0..10).map(|slot| {
        let code = mint(&app, c.card_id, t, slot);
        let token = c.merchant.cashier_token.clone();
        let app = &app;
        async move {
            redeem(
                app,
                &token,
                &format!("limit-{slot}"),
                json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(shots).await;
    assert_eq!(
        results
            .iter()
            .filter(|r| r.0 == StatusCode::CREATED)
            .count(),
        2,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "limit_reached"),
        "{results:?}"
    );
}

/// The quote judges each offer from its one read as the redemption would: the card's
/// uses of a limited offer, and the room left in the merchant's category envelope (slots
/// counted); the offer it can still give is chosen.
async fn the_quote_judges_limits_and_the_envelope_in_its_one_read(app: TestApp) {
    let mut daily = offer_body("每日一次");
    daily["per_card_daily"] = json!(1);
    let c = counter(&app, "shop", 1, daily).await;
    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    // Food's envelope has room for the first redemption's ¥5 subsidy and ¥1 more.
    app.set_budget(
        year.parse().unwrap(),
        json!({"total_fen": 10_000_000, "categories": {"food": 600}}),
    )
    .await;
    let subsidised = app.active_offer(&c.merchant, offer_body("九五折")).await;
    let mut unsubsidised = offer_body("店内自享");
    unsubsidised["percent_bp"] = json!(300);
    unsubsidised["subsidy_bp"] = json!(0);
    let unsubsidised = app.active_offer(&c.merchant, unsubsidised).await;
    let body = |code: &str| json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
    let first = mint(&app, c.card_id, now(), 0);
    let (status, made) = redeem(&app, &c.merchant.cashier_token, "q1", body(&first)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["subsidy_fen"], 500, "{made}");

    let fresh = mint(&app, c.card_id, now(), 1);
    let (status, quote) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"code": fresh, "bill_fen": 10_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    let reason = |id: &Value| {
        quote["offers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| &o["offer_id"] == id)
            .map(|o| (o["eligible"].clone(), o["reason"].clone()))
            .unwrap_or_else(|| panic!("offer {id} quoted: {quote}"))
    };
    assert_eq!(quote["offers"].as_array().unwrap().len(), 3, "{quote}");
    assert_eq!(
        reason(&json!(c.offer_id)),
        (json!(false), json!("limit_reached"))
    );
    assert_eq!(
        reason(&subsidised["id"]),
        (json!(false), json!("budget_exhausted"))
    );
    assert_eq!(reason(&unsubsidised["id"]), (json!(true), Value::Null));
    assert_eq!(quote["chosen"]["offer_id"], unsubsidised["id"], "{quote}");
}

/// At a card's daily limit a code used twice is still `code_used`; and the audit entry
/// describes the very row that was written (its id is known before the row exists).
async fn a_used_code_at_the_limit_is_used_and_the_audit_names_the_row(app: TestApp) {
    let mut limited = offer_body("每日一次");
    limited["per_card_daily"] = json!(1);
    let c = counter(&app, "shop", 1, limited).await;
    let body = |code: &str| json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
    let first = mint(&app, c.card_id, now(), 0);
    let (status, made) = redeem(&app, &c.merchant.cashier_token, "u1", body(&first)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let again = redeem(&app, &c.merchant.cashier_token, "u2", body(&first)).await;
    assert_problem(&again, StatusCode::CONFLICT, "code_used");
    let fresh = mint(&app, c.card_id, now(), 1);
    let over = redeem(&app, &c.merchant.cashier_token, "u3", body(&fresh)).await;
    assert_problem(&over, StatusCode::UNPROCESSABLE_ENTITY, "limit_reached");

    let (_, events) = app
        .get("/api/v1/audit/events?action=redemption.create", &c.admin)
        .await;
    assert_eq!(events["total"], 1, "{events}");
    let entry = &events["items"][0];
    assert_eq!(entry["entity_id"], made["id"].to_string(), "{entry}");
    let after: Value = serde_json::from_str(entry["after_json"].as_str().unwrap()).unwrap();
    assert_eq!(after["id"], made["id"], "{after}");
    assert_eq!(after["subsidy_fen"], made["subsidy_fen"], "{after}");
    let (_, list) = app.get("/api/v1/redemptions", &c.admin).await;
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["items"][0]["id"], made["id"], "{list}");
    assert_eq!(list["items"][0]["created_at"], made["created_at"], "{list}");
}

/// Twenty ¥100 sales at once over five cards (each subsidised ¥5) where the budget has
/// room for three: exactly three are made, every other is `budget_exhausted`.
async fn three_of_twenty_fit(app: &TestApp, c: &Counter, keys: &str) {
    let mut cards = vec![c.card_id];
    for seq in 2..=5 {
        let (_, no, _) = talent_with_card(app, seq, "C").await;
        cards.push(card_id(app, &c.admin, &no).await);
    }
    let t = now();
    let shots = (0..20).map(|i| {
        let code = mint(app, cards[i % cards.len()], t, (i / cards.len()) as i64);
        let token = c.merchant.cashier_token.clone();
        async move {
            redeem(
                app,
                &token,
                &format!("{keys}-{i}"),
                json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(shots).await;
    let created = results.iter().filter(|r| r.0 == StatusCode::CREATED);
    assert_eq!(created.count(), 3, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "budget_exhausted"),
        "{results:?}"
    );
}

async fn a_budget_with_room_for_three_grants_exactly_three(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    // Each redemption of 100 元 is subsidised 5 元 (10 % off, half of it).
    set_budget(&app, &c.admin, 1_500).await;
    three_of_twenty_fit(&app, &c, "budget").await;
    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &c.admin).await;
    assert_eq!(budget["reserved_fen"], 1_500);
    assert_eq!(budget["remaining_fen"], 0);
}

/// A sale the category envelope cannot cover is refused whole: the merchant's month,
/// whose step comes before the envelope's and took its share, gives it back too. Each
/// account then holds exactly the three sales that fit.
async fn a_storm_past_the_envelope_leaves_the_merchant_cap_exact(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    // Room in food's envelope for three ¥5 subsidies; the merchant's cap and the year
    // have room for all twenty.
    app.set_budget(
        year.parse().unwrap(),
        json!({"total_fen": 10_000_000, "categories": {"food": 1_500}, "merchant_monthly_cap_fen": 100_000}),
    )
    .await;
    three_of_twenty_fit(&app, &c, "envelope").await;
    let merchant_id = c.merchant.id;
    let cap_used = merchant_month(&app, merchant_id).await;
    assert_eq!(
        cap_used, 1_500,
        "the merchant's month holds the three sales"
    );
    let books = app.budget_reconciliation().await;
    assert!(books.ok, "{:?}", books.accounts);
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &c.admin).await;
    assert_eq!(budget["reserved_fen"], 1_500, "{budget}");
}

/// A card being suspended while a redemption of it arrives is never overtaken: the
/// redemption waits on the card's row until the suspension commits, is then refused,
/// and nothing of it is written.
async fn a_card_suspended_during_a_redemption_is_refused(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (locked_tx, locked) = std::sync::mpsc::channel();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let db = app.state.db.clone();
    let card_no = talentcard::cards::CardNo::parse(&c.card_no).expect("a card number");
    // An official's suspension, held open: the card's row is locked and changed, not
    // yet committed.
    let official = std::thread::spawn(move || {
        use talentcard::cards::{Transition, transition};
        let mut conn = db.get().expect("connection");
        let official = talentcard::auth::Actor::system("test");
        talentcard::db::write_tx(&mut conn, |conn| {
            let reason = Some("reported lost".to_owned());
            transition(
                conn,
                &official,
                &card_no,
                Transition::Suspend,
                reason,
                now(),
            )?;
            locked_tx.send(()).expect("test waits");
            go_rx.recv().expect("test says go");
            Ok::<_, talentcard::error::ApiError>(())
        })
        .expect("suspended");
    });
    locked.recv().expect("the card is locked");
    let body = json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
    let (refused, ()) = futures_util::future::join(
        redeem(&app, &c.merchant.cashier_token, "suspended-1", body),
        async {
            // Long enough for the redemption to be waiting on the card.
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            go.send(()).expect("the official waits");
        },
    )
    .await;
    official.join().expect("the suspension committed");
    assert_problem(&refused, StatusCode::CONFLICT, "card_inactive");
    let (_, list) = app.get("/api/v1/redemptions", &c.admin).await;
    assert_eq!(list["total"], 0, "{list}");
    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &c.admin).await;
    assert_eq!(budget["reserved_fen"], 0, "{budget}");
}

async fn reversal_releases_the_subsidy_once(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let other = app.active_merchant("other").await;
    let (_, made) = redeem(&app, &c.merchant.cashier_token, "r1", json!({"code": mint(&app, c.card_id, now(), 0), "bill_fen": 10_000, "offer_id": c.offer_id})).await;
    let id = made["id"].as_i64().unwrap();
    let path = format!("/api/v1/redemptions/{id}/reverse");
    assert_problem(
        &app.post(&path, &c.merchant.cashier_token, json!({"reason": " "}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    assert_problem(
        &app.post(&path, &other.cashier_token, json!({"reason": "not ours"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.post(&path, &c.talent_token, json!({"reason": "me"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, reversed) = app
        .post(
            &path,
            &c.merchant.cashier_token,
            json!({"reason": "wrong bill"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    assert_eq!(reversed["status"], "reversed");
    assert_problem(
        &app.post(&path, &c.admin, json!({"reason": "again"})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let year = talentcard::time::to_local(now()).format("%Y").to_string();
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &c.admin).await;
    assert_eq!(budget["reserved_fen"], 0, "{budget}");
    // A reversed redemption no longer counts against the card's limits, and its code stays used.
    let (_, events) = app
        .get("/api/v1/audit/events?action=redemption.reverse", &c.admin)
        .await;
    assert_eq!(events["total"], 1);
}

async fn staff_may_reverse_only_within_the_window(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let (_, made) = redeem(&app, &c.merchant.cashier_token, "old", json!({"code": mint(&app, c.card_id, now(), 0), "bill_fen": 10_000, "offer_id": c.offer_id})).await;
    let id = made["id"].as_i64().unwrap();
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::redemptions;
        diesel::update(redemptions::table.find(id))
            .set(redemptions::created_at.eq(talentcard::time::now() - Duration::hours(25)))
            .execute(conn)
            .unwrap();
    })
    .await;
    let path = format!("/api/v1/redemptions/{id}/reverse");
    assert_problem(
        &app.post(&path, &c.merchant.owner_token, json!({"reason": "late"}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (status, _) = app
        .post(&path, &c.admin, json!({"reason": "office corrects it"}))
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn talents_dispute_and_officials_resolve(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let (_, someone_else, stranger) = talent_with_card(&app, 2, "C").await;
    let _ = someone_else;
    let mut ids = Vec::new();
    for slot in 0..2 {
        let (_, made) = redeem(&app, &c.merchant.cashier_token, &format!("d{slot}"), json!({"code": mint(&app, c.card_id, now(), slot), "bill_fen": 10_000, "offer_id": c.offer_id})).await;
        ids.push(made["id"].as_i64().unwrap());
    }
    let dispute = |id: i64, token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/redemptions/{id}/dispute"),
                &token,
                json!({"reason": "不是我"}),
            )
            .await
        }
    };
    assert_problem(
        &dispute(ids[0], stranger.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &dispute(ids[0], c.merchant.cashier_token.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, upheld) = dispute(ids[0], c.talent_token.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{upheld}");
    assert_problem(
        &dispute(ids[0], c.talent_token.clone()).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let (_, dismissed) = dispute(ids[1], c.talent_token.clone()).await;
    let (_, mine) = app.get("/api/v1/me/redemptions", &c.talent_token).await;
    assert!(
        mine["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["disputed"] == true),
        "{mine}"
    );
    let (_, open) = app.get("/api/v1/disputes?status=open", &c.admin).await;
    assert_eq!(open["total"], 2);
    let (_, theirs) = app.get("/api/v1/disputes", &stranger).await;
    assert_eq!(theirs["total"], 0, "a talent sees only their own disputes");
    assert_problem(
        &app.get("/api/v1/disputes", &c.merchant.owner_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    let resolve = |id: &Value, outcome: &str| {
        let app = &app;
        let path = format!("/api/v1/disputes/{id}/resolve");
        let body = json!({"outcome": outcome, "note": "checked the receipt"});
        let admin = c.admin.clone();
        async move { app.post(&path, &admin, body).await }
    };
    let (status, _) = resolve(&upheld["id"], "upheld").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = resolve(&dismissed["id"], "dismissed").await;
    assert_eq!(status, StatusCode::OK);
    assert_problem(
        &resolve(&dismissed["id"], "upheld").await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let (_, r0) = app
        .get(&format!("/api/v1/redemptions/{}", ids[0]), &c.admin)
        .await;
    assert_eq!(
        (r0["status"].as_str(), r0["disputed"].as_bool()),
        (Some("reversed"), Some(false)),
        "{r0}"
    );
    let (_, r1) = app
        .get(&format!("/api/v1/redemptions/{}", ids[1]), &c.admin)
        .await;
    assert_eq!(
        (r1["status"].as_str(), r1["disputed"].as_bool()),
        (Some("active"), Some(false)),
        "{r1}"
    );
}

async fn redemption_lists_are_scoped_and_masked(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let other = app.active_merchant("other").await;
    redeem(&app, &c.merchant.cashier_token, "s1", json!({"code": mint(&app, c.card_id, now(), 0), "bill_fen": 10_000, "offer_id": c.offer_id})).await;
    let (status, mine) = app
        .get("/api/v1/redemptions", &c.merchant.owner_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mine["total"], 1);
    let item = &mine["items"][0];
    assert_eq!(item["talent"]["masked_name"], "测**");
    assert!(
        item["card_no"].as_str().unwrap().starts_with("****"),
        "{item}"
    );
    let (_, theirs) = app.get("/api/v1/redemptions", &other.owner_token).await;
    assert_eq!(theirs["total"], 0);
    assert_problem(
        &app.get(
            &format!("/api/v1/redemptions?merchant_id={}", c.merchant.id),
            &other.cashier_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.get(
            &format!("/api/v1/redemptions/{}", item["id"]),
            &other.cashier_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.get("/api/v1/redemptions", &c.talent_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (_, official) = app
        .get(
            &format!("/api/v1/redemptions?card_no={}", c.card_no),
            &c.admin,
        )
        .await;
    assert_eq!(official["total"], 1);
    assert_eq!(official["items"][0]["card_no"], c.card_no);
    let (_, today) = app
        .get(
            &format!(
                "/api/v1/redemptions?from={}",
                talentcard::time::to_local(now()).format("%Y-%m-%d")
            ),
            &c.merchant.cashier_token,
        )
        .await;
    assert_eq!(today["total"], 1);
    assert_problem(
        &app.get("/api/v1/redemptions?from=yesterday", &c.admin)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (_, savings) = app.get("/api/v1/me/redemptions", &c.talent_token).await;
    assert_eq!(savings["total"], 1);
    assert_problem(
        &app.request(Method::GET, "/api/v1/redemptions", None, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    // Only merchant staff quote and redeem.
    for token in [&c.admin, &c.talent_token] {
        let r = app
            .post(
                "/api/v1/redemptions/quote",
                token,
                json!({"code": mint(&app, c.card_id, now(), 1), "bill_fen": 100}),
            )
            .await;
        assert_problem(&r, StatusCode::FORBIDDEN, "forbidden");
    }
}

/// Two server instances on one PostgreSQL database: a code still redeems once.
async fn two_instances_share_single_use(app: TestApp) {
    if app.backend != Backend::Postgres {
        return;
    }
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let second = app.second_instance().await;
    let code = mint(&app, c.card_id, now(), 0);
    let shots = (0..40).map(|i| {
        let base = if i % 2 == 0 {
            app.address.clone()
        } else {
            second.clone()
        };
        let client = app.client.clone();
        let token = c.merchant.cashier_token.clone();
        let body = json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
        async move {
            client
                .post(format!("{base}/api/v1/redemptions"))
                .bearer_auth(token)
                .header("Idempotency-Key", format!("two-{i}"))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures_util::future::join_all(shots).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::CREATED)
            .count(),
        1,
        "{statuses:?}"
    );
}

/// The counter's hot path judges the session and the guessing limit from the row it reads
/// with the card: a forger's account is locked out even for a genuine code, a logged-out
/// token is refused, and neither consumes the code.
async fn the_session_and_the_guessing_limit_hold_at_the_counter(app: TestApp) {
    let c = counter(&app, "guarded", 1, offer_body("九折")).await;
    let body = |code: &str| json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
    let genuine = mint(&app, c.card_id, now(), 0);
    assert_eq!(genuine.len(), codes::NUMERIC_LEN, "{genuine}");
    let forge = |i: u32| forged(&genuine, i);
    for i in 0..codes::MAX_FAILED_VERIFICATIONS_PER_HOUR {
        let r = redeem(
            &app,
            &c.merchant.cashier_token,
            &format!("f{i}"),
            body(&forge(i)),
        )
        .await;
        assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "code_invalid");
    }
    let r = redeem(&app, &c.merchant.cashier_token, "g1", body(&genuine)).await;
    assert_problem(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    // The refusal says when to come back: within the hour the limit counts.
    let res = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(&c.merchant.cashier_token)
        .header("Idempotency-Key", "g1-again")
        .json(&body(&genuine))
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
    // The limit is the account's, and the refused genuine code was not consumed.
    let (status, made) = redeem(&app, &c.merchant.owner_token, "g2", body(&genuine)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");

    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/logout",
            Some(&c.merchant.owner_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let fresh = mint(&app, c.card_id, now(), 1);
    let r = redeem(&app, &c.merchant.owner_token, "g3", body(&fresh)).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    // Nor is a retry of a request that went through replayed to an ended session.
    let r = redeem(&app, &c.merchant.owner_token, "g2", body(&genuine)).await;
    assert_problem(&r, StatusCode::UNAUTHORIZED, "unauthorized");
    let (status, list) = app.get("/api/v1/redemptions", &c.admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["total"], 1, "{list}");
}

/// The rows a redemption names (merchant, offer, card, talent, cashier) are never
/// deleted: the database refuses it, on PostgreSQL in place of the redemption's foreign
/// keys, and the redemption keeps naming rows that exist.
async fn the_rows_a_redemption_names_cannot_be_deleted(app: TestApp) {
    let c = counter(&app, "kept", 1, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, made) = redeem(
        &app,
        &c.merchant.cashier_token,
        "kept-1",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let id = made["id"].as_i64().unwrap();
    let named = app
        .with_conn(move |conn| {
            use diesel::prelude::*;
            for (table, column) in [
                ("merchants", "merchant_id"),
                ("offers", "offer_id"),
                ("cards", "card_id"),
                ("talents", "talent_id"),
                ("users", "cashier_id"),
            ] {
                let deleted = diesel::sql_query(format!(
                    "DELETE FROM {table} WHERE id = (SELECT {column} FROM redemptions WHERE id = {id})"
                ))
                .execute(conn);
                let message = deleted.expect_err(table).to_string();
                assert!(message.contains("never deleted"), "{table}: {message}");
            }
            #[derive(diesel::QueryableByName)]
            struct Named {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            diesel::sql_query(format!(
                "SELECT COUNT(*) AS n FROM redemptions r \
                 JOIN merchants m ON m.id = r.merchant_id JOIN offers o ON o.id = r.offer_id \
                 JOIN cards c ON c.id = r.card_id JOIN talents t ON t.id = r.talent_id \
                 JOIN users u ON u.id = r.cashier_id WHERE r.id = {id}"
            ))
            .get_result::<Named>(conn)
            .unwrap()
            .n
        })
        .await;
    assert_eq!(named, 1, "the redemption still names all five rows");
}

async fn the_merchant_guessing_budget_holds_at_the_counter_across_cashiers(app: TestApp) {
    let c = counter(&app, "budgeted", 1, offer_body("九折")).await;
    let body = |code: &str| json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id});
    let genuine = mint(&app, c.card_id, now(), 0);
    let per_account = codes::MAX_FAILED_VERIFICATIONS_PER_HOUR;
    let per_merchant = codes::MAX_FAILED_VERIFICATIONS_PER_MERCHANT_HOUR;
    // The cashier and the owner each stay within their account's limit…
    let mut i = 0;
    for (token, n) in [
        (&c.merchant.cashier_token, per_account),
        (&c.merchant.owner_token, per_merchant - per_account),
    ] {
        for _ in 0..n {
            let r = redeem(&app, token, &format!("f{i}"), body(&forged(&genuine, i))).await;
            assert_problem(&r, StatusCode::UNPROCESSABLE_ENTITY, "code_invalid");
            i += 1;
        }
    }
    // …and a cashier added now finds the merchant's budget spent, even for a genuine
    // code on the redemption's own read.
    let (status, added) = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", c.merchant.id),
            &c.merchant.owner_token,
            json!({"username": "budgeted-second", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let second = app.login("budgeted-second", MERCHANT_PASSWORD).await;
    let r = redeem(&app, &second, "g1", body(&genuine)).await;
    assert_problem(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
    assert!(
        r.1["detail"].as_str().unwrap().contains("merchant"),
        "{}",
        r.1
    );
    // A forged code from the new cashier is refused before it is checked.
    let r = redeem(&app, &second, "f-last", body(&forged(&genuine, 999))).await;
    assert_problem(&r, StatusCode::TOO_MANY_REQUESTS, "too_many_attempts");
}

both_backends!(
    the_rows_a_redemption_names_cannot_be_deleted,
    the_merchant_guessing_budget_holds_at_the_counter_across_cashiers,
    quote_then_redeem_at_the_counter,
    a_retried_request_returns_the_first_result,
    refusals_are_precise,
    one_code_fired_fifty_times_redeems_once,
    a_daily_limit_holds_under_a_storm_of_valid_codes,
    a_used_code_at_the_limit_is_used_and_the_audit_names_the_row,
    the_quote_judges_limits_and_the_envelope_in_its_one_read,
    a_storm_past_the_envelope_leaves_the_merchant_cap_exact,
    a_card_suspended_during_a_redemption_is_refused,
    a_budget_with_room_for_three_grants_exactly_three,
    reversal_releases_the_subsidy_once,
    staff_may_reverse_only_within_the_window,
    talents_dispute_and_officials_resolve,
    redemption_lists_are_scoped_and_masked,
    two_instances_share_single_use,
    the_session_and_the_guessing_limit_hold_at_the_counter,
);
