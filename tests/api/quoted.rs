//! The quoted path: a redemption that follows its quote (same session, same code) is one
//! statement on PostgreSQL, which writes only if nothing the quote read has moved; else,
//! and always on SQLite, it is the usual transaction. Either way the answer is the one
//! the usual way gives.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::codes::forged;
use crate::helpers::{Backend, MERCHANT_PASSWORD, TestApp, assert_problem, offer_body};
use crate::redemptions::{Counter, card_id, counter, merchant_month, mint, now, redeem};
use crate::talents::talent_with_card;

async fn quote(app: &TestApp, token: &str, code: &str, bill_fen: i64) -> (StatusCode, Value) {
    app.post(
        "/api/v1/redemptions/quote",
        token,
        json!({"code": code, "bill_fen": bill_fen}),
    )
    .await
}

/// Redemptions made so far by path: (quoted, quoted then transaction, transaction).
async fn paths(app: &TestApp) -> (u64, u64, u64) {
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let count = |path: &str| {
        let prefix = format!("talentcard_redemption_paths_total{{path=\"{path}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |n| n.parse().unwrap())
    };
    (
        count("quoted"),
        count("quoted_then_transaction"),
        count("transaction"),
    )
}

/// What the quoted path took, by backend: PostgreSQL takes it, SQLite never does.
fn taken(app: &TestApp, quoted: u64, moved: u64, plain: u64) -> (u64, u64, u64) {
    match app.backend {
        Backend::Postgres => (quoted, moved, plain),
        Backend::Sqlite => (0, 0, quoted + moved + plain),
    }
}

fn year() -> i32 {
    talentcard::time::to_local(now())
        .format("%Y")
        .to_string()
        .parse()
        .unwrap()
}

async fn offer(app: &TestApp, c: &Counter, body: Value) -> i64 {
    app.active_offer(&c.merchant, body).await["id"]
        .as_i64()
        .unwrap()
}

fn sale(code: &str, bill_fen: i64, offer_id: i64) -> Value {
    json!({"code": code, "bill_fen": bill_fen, "offer_id": offer_id})
}

/// Each shape of sale — the budget with a merchant cap and a category envelope, an
/// unsubsidised offer, an offer with a daily limit — quoted and then redeemed: on
/// PostgreSQL in one statement, booked exactly as the usual way books it (row, audit
/// entry in a chain that verifies, budget, merchant's month).
async fn a_quoted_sale_is_one_statement_and_books_as_the_usual_way(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    app.set_budget(
        year(),
        json!({"total_fen": 10_000_000, "categories": {"food": 1_000_000}, "merchant_monthly_cap_fen": 100_000}),
    )
    .await;
    let cashier = &c.merchant.cashier_token;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, quoted) = quote(&app, cashier, &code, 10_000).await;
    assert_eq!(status, StatusCode::OK, "{quoted}");
    assert_eq!(quoted["chosen"]["subsidy_fen"], 500, "{quoted}");
    // The bill the counter confirms is the one redeemed, not the one quoted.
    let (status, made) = redeem(&app, cashier, "s1", sale(&code, 20_000, c.offer_id)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["discount_fen"], 2_000, "{made}");
    assert_eq!(made["paid_fen"], 18_000, "{made}");
    assert_eq!(made["subsidy_fen"], 1_000, "{made}");
    assert_eq!(made["talent"]["masked_name"], "测**", "{made}");
    assert_eq!(paths(&app).await, taken(&app, 1, 0, 0));
    let id = made["id"].as_i64().unwrap();
    assert_eq!(
        app.audit_actions("redemption", id).await,
        vec!["redemption.create"]
    );
    let (_, listed) = app.get("/api/v1/redemptions", &c.admin).await;
    assert_eq!(listed["items"][0]["id"], id, "{listed}");
    assert_eq!(listed["items"][0]["subsidy_fen"], 1_000, "{listed}");

    // Unsubsidised: the row and its entry, nothing reserved.
    let free = offer(
        &app,
        &c,
        json!({"title": "立减五元", "kind": "fixed", "amount_fen": 500, "min_spend_fen": 0,
               "tiers": ["A", "B", "C", "D", "E"], "subsidy_bp": 0}),
    )
    .await;
    let code = mint(&app, c.card_id, now(), 1);
    assert_eq!(quote(&app, cashier, &code, 3_000).await.0, StatusCode::OK);
    let (status, made) = redeem(&app, cashier, "s2", sale(&code, 3_000, free)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["subsidy_fen"], 0, "{made}");
    assert_eq!(paths(&app).await, taken(&app, 2, 0, 0));

    // Once a day per card: the first quoted sale goes through, the second is refused
    // for the limit, whichever way it is asked.
    let daily = offer(
        &app,
        &c,
        json!({"title": "每日一次", "kind": "percent", "percent_bp": 2000, "min_spend_fen": 0,
               "max_discount_fen": 5000, "tiers": ["A", "B", "C", "D", "E"],
               "per_card_daily": 1, "subsidy_bp": 5000}),
    )
    .await;
    let (_, no, _) = talent_with_card(&app, 2, "C").await;
    let card = card_id(&app, &c.admin, &no).await;
    let code = mint(&app, card, now(), 0);
    assert_eq!(quote(&app, cashier, &code, 10_000).await.0, StatusCode::OK);
    let (status, made) = redeem(&app, cashier, "s3", sale(&code, 10_000, daily)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(paths(&app).await, taken(&app, 3, 0, 0));
    let code = mint(&app, card, now(), 1);
    let (_, quoted) = quote(&app, cashier, &code, 10_000).await;
    let limited = quoted["offers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["offer_id"] == daily)
        .unwrap();
    assert_eq!(limited["reason"], "limit_reached", "{quoted}");
    let refused = redeem(&app, cashier, "s4", sale(&code, 10_000, daily)).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "limit_reached");
    // A quote counts the card's uses; a sale made the usual way after it (no quote)
    // makes that count stale, and the quoted sale is refused all the same.
    let (_, no, _) = talent_with_card(&app, 3, "C").await;
    let card = card_id(&app, &c.admin, &no).await;
    let (quoted_code, plain_code) = (mint(&app, card, now(), 0), mint(&app, card, now(), 1));
    assert_eq!(
        quote(&app, cashier, &quoted_code, 10_000).await.0,
        StatusCode::OK
    );
    let (status, made) = redeem(&app, cashier, "s5", sale(&plain_code, 10_000, daily)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(paths(&app).await, taken(&app, 3, 0, 1));
    let refused = redeem(&app, cashier, "s6", sale(&quoted_code, 10_000, daily)).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "limit_reached");

    // The budget: ¥10, then twice ¥10 (half of 20 % of ¥100) reserved, in the merchant's
    // month too, and the books add up; the audit chain verifies with the entries in it.
    let (_, budget) = app
        .get(&format!("/api/v1/budgets/{}", year()), &c.admin)
        .await;
    assert_eq!(budget["reserved_fen"], 3_000, "{budget}");
    let merchant_id = c.merchant.id;
    assert_eq!(merchant_month(&app, merchant_id).await, 3_000);
    assert!(app.budget_reconciliation().await.ok);
    app.seal_audit().await;
    let (_, report) = app.get("/api/v1/audit/verify", &c.admin).await;
    assert_eq!(report["ok"], true, "{report}");
    let (_, events) = app
        .get("/api/v1/audit/events?action=redemption.create", &c.admin)
        .await;
    assert_eq!(events["total"], 4, "{events}");
}

/// Whatever changes between the quote and the redemption decides it, as if there had
/// been no quote: a suspended card, a paused offer, a lowered merchant cap, an ended
/// session. A change that does not refuse (another cashier's forged code counted
/// against the merchant) sends the sale the usual way, which makes it.
async fn what_moved_since_the_quote_decides_the_redemption(app: TestApp) {
    let c = counter(&app, "moved", 1, offer_body("九折")).await;
    let cashier = c.merchant.cashier_token.clone();
    let total = |listed: Value| listed["total"].as_i64().unwrap();

    // The card is suspended after the quote.
    let code = mint(&app, c.card_id, now(), 0);
    assert_eq!(quote(&app, &cashier, &code, 10_000).await.0, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{}/suspend", c.card_no),
            &c.admin,
            json!({"reason": "reported lost"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = redeem(&app, &cashier, "m1", sale(&code, 10_000, c.offer_id)).await;
    assert_problem(&refused, StatusCode::CONFLICT, "card_inactive");
    let (status, body) = app
        .post(
            &format!("/api/v1/cards/{}/resume", c.card_no),
            &c.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The offer is paused after the quote.
    let code = mint(&app, c.card_id, now(), 1);
    assert_eq!(quote(&app, &cashier, &code, 10_000).await.0, StatusCode::OK);
    let (status, body) = app
        .post(
            &format!("/api/v1/offers/{}/pause", c.offer_id),
            &c.merchant.owner_token,
            json!({"reason": "盘点"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let refused = redeem(&app, &cashier, "m2", sale(&code, 10_000, c.offer_id)).await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "not_eligible");
    let (status, body) = app
        .post(
            &format!("/api/v1/offers/{}/resume", c.offer_id),
            &c.merchant.owner_token,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // The merchant's monthly cap is lowered below the subsidy after the quote.
    let code = mint(&app, c.card_id, now(), 2);
    assert_eq!(quote(&app, &cashier, &code, 10_000).await.0, StatusCode::OK);
    app.set_budget(
        year(),
        json!({"total_fen": 10_000_000, "merchant_monthly_cap_fen": 100}),
    )
    .await;
    let refused = redeem(&app, &cashier, "m3", sale(&code, 10_000, c.offer_id)).await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "budget_exhausted",
    );
    app.set_budget(
        year(),
        json!({"total_fen": 10_000_000, "merchant_monthly_cap_fen": 1_000_000}),
    )
    .await;

    // From here on, another card: a code's window has three slots.
    let (_, no, _) = talent_with_card(&app, 2, "C").await;
    let card = card_id(&app, &c.admin, &no).await;

    // Another cashier's forged code bumps the merchant's guessing counter: nothing that
    // refuses, so the sale is made the usual way.
    let (status, added) = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", c.merchant.id),
            &c.merchant.owner_token,
            json!({"username": "moved-second", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let second = app.login("moved-second", MERCHANT_PASSWORD).await;
    let code = mint(&app, card, now(), 0);
    assert_eq!(quote(&app, &cashier, &code, 10_000).await.0, StatusCode::OK);
    let forgery = redeem(
        &app,
        &second,
        "f1",
        sale(&forged(&code, 1), 10_000, c.offer_id),
    )
    .await;
    assert_problem(&forgery, StatusCode::UNPROCESSABLE_ENTITY, "code_invalid");
    let (status, made) = redeem(&app, &cashier, "m4", sale(&code, 10_000, c.offer_id)).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(paths(&app).await, taken(&app, 0, 1, 0));

    // The cashier logs out after the quote.
    let code = mint(&app, card, now(), 1);
    assert_eq!(quote(&app, &cashier, &code, 10_000).await.0, StatusCode::OK);
    let (status, _) = app
        .request(
            reqwest::Method::POST,
            "/api/v1/auth/logout",
            Some(&cashier),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let refused = redeem(&app, &cashier, "m5", sale(&code, 10_000, c.offer_id)).await;
    assert_eq!(refused.0, StatusCode::UNAUTHORIZED, "{}", refused.1);

    // Only the one sale was made, and the budget holds only it.
    assert_eq!(total(app.get("/api/v1/redemptions", &c.admin).await.1), 1);
    let (_, budget) = app
        .get(&format!("/api/v1/budgets/{}", year()), &c.admin)
        .await;
    assert_eq!(budget["reserved_fen"], 500, "{budget}");
    assert!(app.budget_reconciliation().await.ok);
}

/// Quoted sales fired at once: a code quoted at two counters and sent twenty times is
/// made once; six quoted codes of one card against a twice-a-day offer make two; twenty
/// quoted sales against a budget with room for three make three.
async fn quoted_sales_hold_single_use_limits_and_the_budget_at_once(app: TestApp) {
    let c = counter(&app, "storm", 1, offer_body("九折")).await;
    let (status, added) = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", c.merchant.id),
            &c.merchant.owner_token,
            json!({"username": "storm-second", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    let second = app.login("storm-second", MERCHANT_PASSWORD).await;
    let counters = [c.merchant.cashier_token.clone(), second];

    // One code, quoted at both counters, sent ten times from each.
    let code = mint(&app, c.card_id, now(), 0);
    for token in &counters {
        assert_eq!(quote(&app, token, &code, 10_000).await.0, StatusCode::OK);
    }
    let shots = (0..20).map(|i| {
        let (token, code) = (counters[i % 2].clone(), code.clone());
        let app = &app;
        async move {
            redeem(
                app,
                &token,
                &format!("one-{i}"),
                sale(&code, 10_000, c.offer_id),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(shots).await;
    let made = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .count();
    assert_eq!(made, 1, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "code_used"),
        "{results:?}"
    );

    // Twice a day per card: three quoted codes of each of two more cards (a window has
    // three), all six sent at once.
    let twice = offer(
        &app,
        &c,
        json!({"title": "每日两次", "kind": "percent", "percent_bp": 1000, "min_spend_fen": 0,
               "max_discount_fen": 5000, "tiers": ["A", "B", "C", "D", "E"],
               "per_card_daily": 2, "subsidy_bp": 5000}),
    )
    .await;
    let mut cards = Vec::new();
    for seq in 2..=10 {
        let (_, no, _) = talent_with_card(&app, seq, "C").await;
        cards.push(card_id(&app, &c.admin, &no).await);
    }
    let t = now();
    let limited: Vec<(String, String)> = (0..6)
        .map(|i| {
            let code = mint(&app, cards[i / 3], t, (i % 3) as i64);
            (counters[i % 2].clone(), code)
        })
        .collect();
    let results = quoted_at_once(&app, &limited, "twice", twice).await;
    let made = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .count();
    assert_eq!(made, 4, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "limit_reached"),
        "{results:?}"
    );

    // Room for three more ¥5 subsidies (after the one and the four above), twenty sales
    // over the seven cards left, each quoted first.
    crate::redemptions::set_budget(&app, &c.admin, 2_500 + 1_500).await;
    let sales: Vec<(String, String)> = (0..20)
        .map(|i| {
            let code = mint(&app, cards[2 + i / 3], t, (i % 3) as i64);
            (counters[i % 2].clone(), code)
        })
        .collect();
    let results = quoted_at_once(&app, &sales, "budget", c.offer_id).await;
    let made = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .count();
    assert_eq!(made, 3, "{results:?}");
    assert!(
        results
            .iter()
            .filter(|r| r.0 != StatusCode::CREATED)
            .all(|r| r.1["code"] == "budget_exhausted"),
        "{results:?}"
    );
    let (_, budget) = app
        .get(&format!("/api/v1/budgets/{}", year()), &c.admin)
        .await;
    assert_eq!(budget["reserved_fen"], 4_000, "{budget}");
    assert_eq!(budget["remaining_fen"], 0, "{budget}");
    assert!(app.budget_reconciliation().await.ok);
    app.seal_audit().await;
    let (_, report) = app.get("/api/v1/audit/verify", &c.admin).await;
    assert_eq!(report["ok"], true, "{report}");
    let (quoted, _, _) = paths(&app).await;
    if app.backend == Backend::Postgres {
        assert!(quoted >= 1, "some went the quoted way");
    }
}

/// Each (counter, code) quoted in turn, then all redeemed at once (¥100 each).
async fn quoted_at_once(
    app: &TestApp,
    sales: &[(String, String)],
    keys: &str,
    offer_id: i64,
) -> Vec<(StatusCode, Value)> {
    for (token, code) in sales {
        let (status, body) = quote(app, token, code, 10_000).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let shots = sales.iter().enumerate().map(|(i, (token, code))| {
        let key = format!("{keys}-{i}");
        async move { redeem(app, token, &key, sale(code, 10_000, offer_id)).await }
    });
    futures_util::future::join_all(shots).await
}

/// The room a quote checks the subsidy against: this instance's own redemptions and
/// budget changes show at once; another instance's redemption within a second (the
/// quote reads the room at most once a second, `budgets::rooms`). The redemption itself
/// always decides from the budget as it is.
async fn a_quote_sees_the_budget_s_room_at_once_here_and_within_a_second_elsewhere(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let cashier = c.merchant.cashier_token.clone();
    // Room for one subsidy of ¥5 and ¥2 more.
    app.set_budget(year(), json!({"total_fen": 700})).await;
    let subsidy_offered = |quote: &(StatusCode, Value)| {
        assert_eq!(quote.0, StatusCode::OK, "{}", quote.1);
        let offer = &quote.1["offers"][0];
        (offer["eligible"].clone(), offer["reason"].clone())
    };
    let yes = (json!(true), Value::Null);
    let no = (json!(false), json!("budget_exhausted"));

    let code = mint(&app, c.card_id, now(), 0);
    assert_eq!(
        subsidy_offered(&quote(&app, &cashier, &code, 10_000).await),
        yes
    );
    let made = redeem(&app, &cashier, "room-1", sale(&code, 10_000, c.offer_id)).await;
    assert_eq!(made.0, StatusCode::CREATED, "{}", made.1);
    assert_eq!(made.1["subsidy_fen"], 500, "{}", made.1);
    // ¥2 left, at once.
    let code = mint(&app, c.card_id, now(), 1);
    assert_eq!(
        subsidy_offered(&quote(&app, &cashier, &code, 10_000).await),
        no
    );
    // Topped up here: at once.
    app.set_budget(year(), json!({"total_fen": 1_200})).await;
    assert_eq!(
        subsidy_offered(&quote(&app, &cashier, &code, 10_000).await),
        yes
    );

    if app.backend != Backend::Postgres {
        return;
    }
    // Another instance takes ¥5 of the ¥7 left: this one sees it within a second.
    let second = app.second_instance().await;
    let (_, other_card_no, _) = talent_with_card(&app, 2, "B").await;
    let other_card = card_id(&app, &c.admin, &other_card_no).await;
    let elsewhere = mint(&app, other_card, now(), 0);
    let made = app
        .client
        .post(format!("{second}/api/v1/redemptions"))
        .bearer_auth(&cashier)
        .header("Idempotency-Key", "room-elsewhere")
        .json(&sale(&elsewhere, 10_000, c.offer_id))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    actix_web::rt::time::sleep(std::time::Duration::from_millis(1_100)).await;
    assert_eq!(
        subsidy_offered(&quote(&app, &cashier, &code, 10_000).await),
        no
    );
}

both_backends!(
    a_quoted_sale_is_one_statement_and_books_as_the_usual_way,
    what_moved_since_the_quote_decides_the_redemption,
    quoted_sales_hold_single_use_limits_and_the_budget_at_once,
    a_quote_sees_the_budget_s_room_at_once_here_and_within_a_second_elsewhere,
);
