use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, NaiveDateTime};
use reqwest::StatusCode;
use serde_json::{Value, json};
use talentcard::auth::{Principal, Role};
use talentcard::redemptions::{self, RedeemRequest};

use crate::both_backends;
use crate::helpers::{TestApp, assert_invalid, assert_problem, offer_body};
use crate::redemptions::{Counter, counter, mint, set_budget};
use crate::talents::talent_with_card;

/// Redeems at an injected instant (the module function, as the HTTP handler calls it).
pub async fn redeem_at(
    app: &TestApp,
    c: &Counter,
    card_id: i64,
    at: NaiveDateTime,
    slot: i64,
    bill: i64,
) -> i64 {
    let staff = Principal {
        user_id: c.merchant.cashier_id,
        username: "shop-cashier".into(),
        role: Role::Cashier,
        merchant_id: Some(c.merchant.id),
        talent_id: None,
        // Acting in-process, not through a signed-in device.
        session_id: 0,
    };
    let req = RedeemRequest {
        code: mint(app, card_id, at, slot),
        bill: redemptions::parse_bill(bill).unwrap(),
        offer_id: c.offer_id,
        idempotency_key: uuid::Uuid::new_v4().to_string(),
    };
    let secrets = app.state.secrets.clone();
    app.with_conn(move |conn| {
        redemptions::redeem(conn, &secrets, &staff, &req, at)
            .expect("redeemed")
            .redemption
            .id
    })
    .await
}

/// Local Shanghai wall-clock time → stored UTC.
fn local(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .unwrap()
        .and_hms_opt(h, min, s)
        .unwrap()
        - chrono::Duration::hours(8)
}

async fn budget(app: &TestApp, admin: &str, year: i32) -> Value {
    let (status, b) = app.get(&format!("/api/v1/budgets/{year}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let part = |k: &str| b[k].as_i64().unwrap();
    assert_eq!(
        part("reserved_fen") + part("settled_fen") + part("paid_fen") + part("remaining_fen"),
        part("total_fen"),
        "parts add up: {b}"
    );
    b
}

async fn set_year_budget(app: &TestApp, _admin: &str, year: i32, total: i64) {
    app.set_budget(year, json!({"total_fen": total})).await;
}

pub async fn generate(app: &TestApp, admin: &str, period: &str) -> Vec<Value> {
    generate_run(app, admin, period).await["created"]
        .as_array()
        .unwrap()
        .clone()
}

/// The whole answer of a generation run: `created` and `left_out`.
pub async fn generate_run(app: &TestApp, admin: &str, period: &str) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/settlements/generate",
            admin,
            json!({"period": period}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[track_caller]
fn assert_totals_are_line_sums(s: &Value) {
    let lines = s["lines"].as_array().unwrap();
    for k in ["bill_fen", "discount_fen", "subsidy_fen"] {
        assert_eq!(
            s[k].as_i64().unwrap(),
            lines.iter().map(|l| l[k].as_i64().unwrap()).sum::<i64>(),
            "{k}: {s}"
        );
    }
    assert_eq!(s["line_count"].as_u64().unwrap() as usize, lines.len());
}

async fn month_boundaries_follow_shanghai_time(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    let last_second = redeem_at(
        &app,
        &c,
        c.card_id,
        local(2026, 11, 30, 23, 59, 59),
        0,
        10_000,
    )
    .await;
    let first_second = redeem_at(&app, &c, c.card_id, local(2026, 12, 1, 0, 0, 0), 0, 10_000).await;
    let nov = generate(&app, &c.admin, "2026-11").await;
    assert_eq!(nov.len(), 1);
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{}", nov[0]["id"]), &c.admin)
        .await;
    let ids: Vec<i64> = s["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["redemption_id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![last_second]);
    let dec = generate(&app, &c.admin, "2026-12").await;
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{}", dec[0]["id"]), &c.admin)
        .await;
    assert_eq!(s["lines"][0]["redemption_id"], first_second);
}

async fn a_month_goes_from_draft_to_paid_with_four_eyes(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    for (i, bill) in [10_000, 12_345, 999].into_iter().enumerate() {
        redeem_at(
            &app,
            &c,
            c.card_id,
            local(2026, 11, 10 + i as u32, 12, 0, 0),
            0,
            bill,
        )
        .await;
    }
    let before = budget(&app, &c.admin, 2026).await;
    assert_eq!(before["reserved_fen"], 500 + 618 + 50);
    let made = generate(&app, &c.admin, "2026-11").await;
    assert_eq!(made.len(), 1);
    let id = made[0]["id"].as_i64().unwrap();
    assert!(
        generate(&app, &c.admin, "2026-11").await.is_empty(),
        "a second run finds nothing new"
    );
    let (_, s) = app
        .get(
            &format!("/api/v1/settlements/{id}"),
            &c.merchant.owner_token,
        )
        .await;
    assert_eq!(s["status"], "draft");
    assert_eq!(s["subsidy_fen"], 1_168);
    assert_totals_are_line_sums(&s);
    assert_eq!(s["lines"][0]["talent"], "测**");

    let path = |step: &str| format!("/api/v1/settlements/{id}/{step}");
    let admin2 = app.official_token(Role::Admin, "admin2").await;
    // Out of order steps are refused.
    assert_problem(
        &app.post(&path("verify"), &c.admin, json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &app.post(&path("confirm"), &c.merchant.cashier_token, json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        app.post(&path("confirm"), &c.merchant.owner_token, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_problem(
        &app.post(&path("verify"), &c.merchant.owner_token, json!({}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        app.post(&path("verify"), &c.admin, json!({})).await.0,
        StatusCode::OK
    );
    // Four eyes: the verifier cannot approve.
    assert_problem(
        &app.post(&path("approve"), &c.admin, json!({})).await,
        StatusCode::FORBIDDEN,
        "four_eyes",
    );
    let (status, approved) = app.post(&path("approve"), &admin2, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["lines_digest"].as_str().unwrap().len(), 64);
    // The approval records the checkpoint signed for it, and that checkpoint is listed.
    let size = approved["audit_checkpoint_size"]
        .as_i64()
        .expect("checkpoint size");
    let (_, checkpoints) = app.get("/api/v1/audit/checkpoints", &c.admin).await;
    let recorded = checkpoints["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|cp| cp["size"] == size)
        .unwrap_or_else(|| panic!("checkpoint {size} listed: {checkpoints}"));
    assert_eq!(recorded["root"], approved["audit_checkpoint_root"]);
    assert_eq!(recorded["reason"], "settlement");
    assert!(approved["audit_head_hash"].is_null());
    let after_approval = budget(&app, &c.admin, 2026).await;
    assert_eq!(after_approval["reserved_fen"], 0);
    assert_eq!(after_approval["settled_fen"], 1_168);

    // The payout batch lists it.
    let rows = xlsx_rows(
        &app,
        "/api/v1/payouts/export?period=2026-11",
        &c.admin,
        "拨付批次",
    )
    .await;
    assert_eq!(rows[2][0], Data::Float(id as f64));
    assert_eq!(rows[2][1], Data::String("shop 商行".into()));
    assert_eq!(rows[2][5], Data::Float(11.68), "amounts are numbers in 元");
    assert_eq!(rows[2][7], Data::String("待拨付".into()), "not paid yet");
    assert_eq!(rows[3][0], Data::String("合计".into()));
    assert_eq!(rows[3][5], Data::Float(11.68));
    assert_eq!(rows[5][0], Data::String("其中待拨付".into()));
    assert_eq!(rows[5][5], Data::Float(11.68));

    assert_problem(
        &app.post(&path("pay"), &admin2, json!({"bank_reference": ""}))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, paid) = app
        .post(
            &path("pay"),
            &admin2,
            json!({"bank_reference": "ICBC-20261205-0001"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{paid}");
    assert_eq!(paid["status"], "paid");
    // Paid, the batch still lists it — with the bank's reference.
    let rows = xlsx_rows(
        &app,
        "/api/v1/payouts/export?period=2026-11",
        &c.admin,
        "拨付批次",
    )
    .await;
    assert_eq!(rows[2][0], Data::Float(id as f64));
    assert_eq!(rows[2][7], Data::String("已拨付".into()));
    assert_eq!(rows[2][8], Data::String("ICBC-20261205-0001".into()));
    assert_eq!(rows[4][0], Data::String("其中已拨付".into()));
    assert_eq!(rows[4][5], Data::Float(11.68));
    let after_payout = budget(&app, &c.admin, 2026).await;
    assert_eq!(
        (
            after_payout["settled_fen"].as_i64(),
            after_payout["paid_fen"].as_i64()
        ),
        (Some(0), Some(1_168))
    );
    // Paid is final.
    for (step, body) in [
        ("pay", json!({"bank_reference": "again"})),
        ("reject", json!({"reason": "too late"})),
        ("approve", json!({})),
        ("confirm", json!({})),
    ] {
        let r = app
            .post(
                &path(step),
                if step == "confirm" {
                    &c.merchant.owner_token
                } else {
                    &c.admin
                },
                body,
            )
            .await;
        assert_problem(&r, StatusCode::CONFLICT, "invalid_transition");
    }
    let (_, events) = app
        .get(
            &format!("/api/v1/audit/events?entity_type=settlement&entity_id={id}"),
            &c.admin,
        )
        .await;
    assert_eq!(
        events["total"], 5,
        "generate, confirm, verify, approve and pay, each audited: {events}"
    );

    // The statement opens with its lines and totals.
    let res = app
        .client
        .get(format!("{}{}", app.address, path("export")))
        .bearer_auth(&c.merchant.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
    let sheet = book.worksheet_range("结算单").unwrap();
    let rows: Vec<Vec<Data>> = sheet.rows().map(|r| r.to_vec()).collect();
    let total_row = rows
        .iter()
        .find(|r| r[0] == Data::String("合计".into()))
        .expect("totals row");
    assert_eq!(total_row[6], Data::Float(11.68));
    let line_rows = rows
        .iter()
        .filter(|r| r.get(1) == Some(&Data::String("核销".into())))
        .count();
    assert_eq!(line_rows, 3);
}

async fn a_reversal_after_payout_is_a_negative_line_next_time(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    let admin2 = app.official_token(Role::Admin, "admin2").await;
    let r1 = redeem_at(
        &app,
        &c,
        c.card_id,
        local(2026, 11, 10, 12, 0, 0),
        0,
        10_000,
    )
    .await;
    redeem_at(
        &app,
        &c,
        c.card_id,
        local(2026, 11, 11, 12, 0, 0),
        0,
        20_000,
    )
    .await;
    let id = generate(&app, &c.admin, "2026-11").await[0]["id"]
        .as_i64()
        .unwrap();
    let path = |id: i64, step: &str| format!("/api/v1/settlements/{id}/{step}");
    app.post(&path(id, "confirm"), &c.merchant.owner_token, json!({}))
        .await;
    app.post(&path(id, "verify"), &c.admin, json!({})).await;
    app.post(&path(id, "approve"), &admin2, json!({})).await;
    // The approval folded the slots into the budget and handed them room again, so
    // the next redemptions take the fast path rather than queue to refill them.
    let room: i64 = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use talentcard::schema::budget_slots;
            budget_slots::table
                .filter(budget_slots::year.eq(2026))
                .filter(budget_slots::scope.eq(""))
                .select(budget_slots::room_fen)
                .load::<i64>(conn)
                .unwrap()
                .iter()
                .sum()
        })
        .await;
    assert!(room > 0, "slots primed after the fold: {room}");
    app.post(&path(id, "pay"), &c.admin, json!({"bank_reference": "B-1"}))
        .await;
    let (status, _) = app
        .post(
            &format!("/api/v1/redemptions/{r1}/reverse"),
            &c.admin,
            json!({"reason": "refunded"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let paid_before = budget(&app, &c.admin, 2026).await["paid_fen"]
        .as_i64()
        .unwrap();
    assert_eq!(
        paid_before, 1_500,
        "nothing moves until the reversal settles"
    );
    let books = app.budget_reconciliation().await;
    assert!(
        books.ok,
        "the reversed subsidy still counts until it settles: {books:?}"
    );
    let next = generate(&app, &c.admin, "2026-12").await;
    assert_eq!(next.len(), 1);
    let nid = next[0]["id"].as_i64().unwrap();
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{nid}"), &c.admin)
        .await;
    assert_totals_are_line_sums(&s);
    assert_eq!(s["lines"].as_array().unwrap().len(), 1);
    assert_eq!(s["lines"][0]["kind"], "reversal");
    assert_eq!(s["lines"][0]["subsidy_fen"], -500);
    assert_eq!(s["subsidy_fen"], -500);
    assert!(
        generate(&app, &c.admin, "2026-12").await.is_empty(),
        "the reversal settles once"
    );
    app.post(&path(nid, "confirm"), &c.merchant.owner_token, json!({}))
        .await;
    app.post(&path(nid, "verify"), &c.admin, json!({})).await;
    let (status, body) = app.post(&path(nid, "approve"), &admin2, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let b = budget(&app, &c.admin, 2026).await;
    assert_eq!(
        b["paid_fen"], 1_000,
        "the reversed subsidy returns to the budget: {b}"
    );
    let books = app.budget_reconciliation().await;
    assert!(books.ok, "{books:?}");
    assert_eq!(books.accounts[0].redeemed_fen, 1_000, "{books:?}");
    // A fen the redemptions do not account for is found.
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use talentcard::schema::budgets;
        diesel::update(budgets::table.find(2026))
            .set(budgets::paid_fen.eq(budgets::paid_fen + 1))
            .execute(conn)
            .unwrap()
    })
    .await;
    let books = app.budget_reconciliation().await;
    assert!(!books.ok, "{books:?}");
}

async fn disputed_redemptions_wait_for_the_resolution(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    let at = talentcard::time::now();
    let period = talentcard::time::to_local(at).format("%Y-%m").to_string();
    let year: i32 = period[..4].parse().unwrap();
    if year != 2026 {
        set_year_budget(&app, &c.admin, year, 1_000_000).await;
    }
    let held = redeem_at(&app, &c, c.card_id, at, 0, 10_000).await;
    let (status, dispute) = app
        .post(
            &format!("/api/v1/redemptions/{held}/dispute"),
            &c.talent_token,
            json!({"reason": "不是我"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dispute}");
    assert!(
        generate(&app, &c.admin, &period).await.is_empty(),
        "a disputed redemption is held out"
    );
    app.post(
        &format!("/api/v1/disputes/{}/resolve", dispute["id"]),
        &c.admin,
        json!({"outcome": "dismissed", "note": "receipt signed"}),
    )
    .await;
    let made = generate(&app, &c.admin, &period).await;
    assert_eq!(made.len(), 1, "released after the dispute is dismissed");
    assert_eq!(made[0]["line_count"], 1);
}

async fn concurrent_generate_runs_settle_each_line_once(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    let mut cards = vec![c.card_id];
    for seq in 2..=4 {
        let (_, no, _) = talent_with_card(&app, seq, "C").await;
        cards.push(crate::redemptions::card_id(&app, &c.admin, &no).await);
    }
    // Each card three times a day, hours apart, as real customers come back (three in
    // one instant would rightly be held as a rapid repeat).
    for (i, card) in cards.iter().enumerate() {
        for visit in 0..3 {
            redeem_at(
                &app,
                &c,
                *card,
                local(2026, 11, 1 + i as u32, 9 + 3 * visit as u32, 0, 0),
                0,
                1_000 * (visit + 1),
            )
            .await;
        }
    }
    let runs = (0..6).map(|_| {
        app.post(
            "/api/v1/settlements/generate",
            &c.admin,
            json!({"period": "2026-11"}),
        )
    });
    let results = futures_util::future::join_all(runs).await;
    assert!(results.iter().all(|r| r.0 == StatusCode::OK), "{results:?}");
    let created: usize = results
        .iter()
        .map(|r| r.1["created"].as_array().unwrap().len())
        .sum();
    assert_eq!(created, 1, "one settlement in all: {results:?}");
    let (_, list) = app
        .get("/api/v1/settlements?period=2026-11", &c.admin)
        .await;
    assert_eq!(list["total"], 1);
    let (_, s) = app
        .get(
            &format!("/api/v1/settlements/{}", list["items"][0]["id"]),
            &c.admin,
        )
        .await;
    assert_eq!(s["line_count"], 12);
    assert_totals_are_line_sums(&s);
}

async fn a_rejected_settlement_releases_its_lines(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 11, 3, 9, 0, 0), 0, 10_000).await;
    let id = generate(&app, &c.admin, "2026-11").await[0]["id"]
        .as_i64()
        .unwrap();
    let reject = format!("/api/v1/settlements/{id}/reject");
    assert_problem(
        &app.post(&reject, &c.admin, json!({"reason": ""})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, s) = app
        .post(&reject, &c.admin, json!({"reason": "wrong bank account"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["status"], "rejected");
    let again = generate(&app, &c.admin, "2026-11").await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["run"], 2, "a supplementary run of the period");
    assert_eq!(again[0]["line_count"], 1);
    assert_eq!(budget(&app, &c.admin, 2026).await["reserved_fen"], 500);
}

async fn a_redemption_reversed_under_review_leaves_its_settlement(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    let gone = redeem_at(&app, &c, c.card_id, local(2026, 11, 3, 9, 0, 0), 0, 10_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 11, 4, 9, 0, 0), 0, 20_000).await;
    let id = generate(&app, &c.admin, "2026-11").await[0]["id"]
        .as_i64()
        .unwrap();
    app.post(
        &format!("/api/v1/settlements/{id}/confirm"),
        &c.merchant.owner_token,
        json!({}),
    )
    .await;
    let (status, _) = app
        .post(
            &format!("/api/v1/redemptions/{gone}/reverse"),
            &c.admin,
            json!({"reason": "refunded"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{id}"), &c.admin)
        .await;
    assert_eq!(s["line_count"], 1, "{s}");
    assert_eq!(s["subsidy_fen"], 1_000);
    assert_totals_are_line_sums(&s);
    assert_eq!(
        budget(&app, &c.admin, 2026).await["reserved_fen"],
        1_000,
        "its reservation is released"
    );
    assert!(
        generate(&app, &c.admin, "2026-12").await.is_empty(),
        "no negative line for money never paid"
    );
}

async fn settlement_access_is_scoped(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let other = app.active_merchant("other").await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 11, 3, 9, 0, 0), 0, 10_000).await;
    let id = generate(&app, &c.admin, "2026-11").await[0]["id"]
        .as_i64()
        .unwrap();
    let auditor = app.official_token(Role::Auditor, "auditor").await;
    assert_eq!(
        app.get(&format!("/api/v1/settlements/{id}"), &auditor)
            .await
            .0,
        StatusCode::OK
    );
    assert_problem(
        &app.get(&format!("/api/v1/settlements/{id}"), &other.owner_token)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/settlements/{id}/confirm"),
            &other.owner_token,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/settlements/{id}/verify"),
            &auditor,
            json!({}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.post(
            "/api/v1/settlements/generate",
            &auditor,
            json!({"period": "2026-11"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.post(
            "/api/v1/settlements/generate",
            &c.admin,
            json!({"period": "2026-13"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (_, theirs) = app.get("/api/v1/settlements", &other.owner_token).await;
    assert_eq!(theirs["total"], 0);
    assert_problem(
        &app.get("/api/v1/settlements", &c.talent_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.get(
            "/api/v1/payouts/export?period=2026-11",
            &c.merchant.owner_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let _ = set_budget;
}

async fn subsidy_reports_group_and_add_up(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 10, 3, 9, 0, 0), 0, 10_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 11, 3, 9, 0, 0), 0, 20_000).await;
    let auditor = app.official_token(Role::Auditor, "auditor").await;
    for group in ["category", "district", "month", "merchant", "tier"] {
        let (status, report) = app
            .get(
                &format!("/api/v1/reports/subsidies?group_by={group}"),
                &auditor,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["total"]["subsidy_fen"], 1_500, "{group}: {report}");
        let sum: i64 = report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["subsidy_fen"].as_i64().unwrap())
            .sum();
        assert_eq!(sum, 1_500);
    }
    let (_, by_month) = app
        .get(
            "/api/v1/reports/subsidies?group_by=month&from=2026-11-01&to=2026-11-30",
            &auditor,
        )
        .await;
    assert_eq!(by_month["rows"].as_array().unwrap().len(), 1);
    assert_eq!(by_month["rows"][0]["key"], "2026-11");
    assert_invalid(
        &app.get(
            "/api/v1/reports/subsidies?group_by=month&from=2026-13-01",
            &auditor,
        )
        .await,
        "from",
    );

    // The same report as a spreadsheet: groups in Chinese, amounts as numbers, the total.
    let rows = xlsx_rows(
        &app,
        "/api/v1/reports/subsidies/export?group_by=category&from=2026-11-01&to=2026-11-30",
        &auditor,
        "补贴统计",
    )
    .await;
    assert_eq!(
        rows[0][0],
        Data::String("遂州英才卡 补贴统计（按类别） 2026-11-01 至 2026-11-30".into())
    );
    assert_eq!(rows[2][0], Data::String("食·餐饮".into()), "{rows:?}");
    let last = rows.last().unwrap();
    assert_eq!(last[0], Data::String("合计".into()));
    assert_eq!(
        last[4],
        Data::Float(10.0),
        "November alone: ¥10.00 of subsidy"
    );
    let refused = app
        .client
        .get(format!(
            "{}/api/v1/reports/subsidies/export?group_by=category",
            app.address
        ))
        .bearer_auth(&c.merchant.owner_token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_problem(
        &app.get("/api/v1/reports/subsidies?group_by=weather", &auditor)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    assert_problem(
        &app.get(
            "/api/v1/reports/subsidies?group_by=month",
            &c.merchant.owner_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

/// Four eyes are two people: an approver whose account the verifier proposed or
/// approved within 30 days may be the verifier's second login, so they are refused.
async fn a_pair_that_set_each_other_up_is_not_four_eyes(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    set_year_budget(&app, &c.admin, 2026, 1_000_000).await;
    redeem_at(&app, &c, c.card_id, local(2026, 11, 3, 9, 0, 0), 0, 10_000).await;
    // `admin` proposes buddy, `second-admin` approves; buddy activates.
    let (_, buddy) = app
        .create_official("admin", "buddy", "buddy-password")
        .await;
    let second = app.second_admin_token().await;
    let step = |id: i64, step: &str| format!("/api/v1/settlements/{id}/{step}");
    let ready = |verifier: String| {
        let app = &app;
        let c = &c;
        async move {
            let id = generate(app, &c.admin, "2026-11").await[0]["id"]
                .as_i64()
                .unwrap();
            let (status, body) = app
                .post(&step(id, "confirm"), &c.merchant.owner_token, json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let (status, body) = app.post(&step(id, "verify"), &verifier, json!({})).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            id
        }
    };
    // Verified by the proposer of buddy's account.
    let id = ready(c.admin.clone()).await;
    let refused = app.post(&step(id, "approve"), &buddy, json!({})).await;
    assert_problem(&refused, StatusCode::FORBIDDEN, "four_eyes");
    assert!(
        refused.1["detail"].as_str().unwrap().contains("30 days"),
        "{}",
        refused.1
    );
    let (status, _) = app
        .post(&step(id, "reject"), &c.admin, json!({"reason": "next run"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    // Verified by the approver of buddy's account.
    let id = ready(second.clone()).await;
    assert_problem(
        &app.post(&step(id, "approve"), &buddy, json!({})).await,
        StatusCode::FORBIDDEN,
        "four_eyes",
    );
    // Thirty-one days later the pair rule no longer applies.
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use talentcard::schema::proposals;
        diesel::update(proposals::table)
            .set(proposals::decided_at.eq(talentcard::time::now() - chrono::Duration::days(31)))
            .execute(conn)
            .unwrap()
    })
    .await;
    let (status, approved) = app.post(&step(id, "approve"), &buddy, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
}

/// The rows of the first sheet of an XLSX answer.
async fn xlsx_rows(app: &TestApp, path: &str, token: &str, sheet: &str) -> Vec<Vec<Data>> {
    let res = app
        .client
        .get(format!("{}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
    let range = book.worksheet_range(sheet).unwrap();
    range.rows().map(|r| r.to_vec()).collect()
}

async fn the_owner_confirms_with_an_invoice_number_shown_on_the_settlement_and_both_sheets(
    app: TestApp,
) {
    let with = counter(&app, "inv", 1, offer_body("九折")).await;
    let without = counter(&app, "noinv", 2, offer_body("九折")).await;
    set_year_budget(&app, &with.admin, 2026, 1_000_000).await;
    for c in [&with, &without] {
        redeem_at(&app, c, c.card_id, local(2026, 11, 10, 12, 0, 0), 0, 10_000).await;
    }
    let made = generate(&app, &with.admin, "2026-11").await;
    let id_of = |merchant_id: i64| {
        made.iter()
            .find(|s| s["merchant_id"] == merchant_id)
            .and_then(|s| s["id"].as_i64())
            .expect("a settlement per merchant")
    };
    let (id, other) = (id_of(with.merchant.id), id_of(without.merchant.id));
    let confirm = format!("/api/v1/settlements/{id}/confirm");
    let owner = &with.merchant.owner_token;

    // Bad numbers are refused naming the field, and nothing is written.
    let too_long = "9".repeat(41);
    for bad in [
        json!(""),
        json!("   "),
        json!("0440 0123"),
        json!("发票0001"),
        json!("0440/0123"),
        json!(too_long),
        json!("0440\u{0}0123"),
        json!("0440\u{7}0123"),
        json!("0440\u{202e}0123"),
        json!(12345678),
    ] {
        let answer = app
            .post(&confirm, owner, json!({ "invoice_no": bad }))
            .await;
        assert_invalid(&answer, "invoice_no");
    }
    assert_invalid(
        &app.post(&confirm, owner, json!({"invoice": "04400123"}))
            .await,
        "invoice",
    );
    let (_, s) = app.get(&format!("/api/v1/settlements/{id}"), owner).await;
    assert_eq!(
        (s["status"].as_str(), &s["invoice_no"]),
        (Some("draft"), &Value::Null),
        "{s}"
    );

    // Accepted trimmed, and shown on the settlement to the owner and to officials.
    let (status, s) = app
        .post(
            &confirm,
            owner,
            json!({"invoice_no": " 04400123-0001\u{3000}"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["status"], "confirmed");
    assert_eq!(s["invoice_no"], "04400123-0001");
    let (_, seen) = app
        .get(&format!("/api/v1/settlements/{id}"), &with.admin)
        .await;
    assert_eq!(seen["invoice_no"], "04400123-0001");
    let (_, listed) = app
        .get("/api/v1/settlements?period=2026-11", &with.admin)
        .await;
    let row = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .expect("listed");
    assert_eq!(row["invoice_no"], "04400123-0001");
    // Confirmed is confirmed: a second confirmation cannot change the number.
    assert_problem(
        &app.post(&confirm, owner, json!({"invoice_no": "99999999"}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );

    // The confirm event records it.
    let (_, events) = app
        .get(
            &format!("/api/v1/audit/events?entity_type=settlement&entity_id={id}&action=settlement.confirm"),
            &with.admin,
        )
        .await;
    let after: Value = serde_json::from_str(
        events["items"][0]["after_json"]
            .as_str()
            .unwrap_or_else(|| panic!("a confirm event: {events}")),
    )
    .unwrap();
    assert_eq!(after["invoice_no"], "04400123-0001");

    // The other merchant confirms with no body at all: no number.
    let (status, plain) = app
        .request(
            reqwest::Method::POST,
            &format!("/api/v1/settlements/{other}/confirm"),
            Some(&without.merchant.owner_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{plain}");
    assert_eq!(plain["invoice_no"], Value::Null);

    // The statement carries it in its header.
    let rows = xlsx_rows(
        &app,
        &format!("/api/v1/settlements/{id}/export"),
        owner,
        "结算单",
    )
    .await;
    let invoice_row = rows
        .iter()
        .find(|r| r[0] == Data::String("发票号码".into()))
        .expect("an invoice row");
    assert_eq!(invoice_row[1], Data::String("04400123-0001".into()));

    // Approved by two officials, both settlements are on the payout sheet; the number
    // sits in its own column, as text, and is blank where none was given.
    let admin2 = app.official_token(Role::Admin, "admin2").await;
    for s in [id, other] {
        let (status, body) = app
            .post(
                &format!("/api/v1/settlements/{s}/verify"),
                &with.admin,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .post(
                &format!("/api/v1/settlements/{s}/approve"),
                &admin2,
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let rows = xlsx_rows(
        &app,
        "/api/v1/payouts/export?period=2026-11",
        &with.admin,
        "拨付批次",
    )
    .await;
    assert_eq!(rows[1][6], Data::String("发票号码".into()));
    let payout = |settlement: i64| {
        rows.iter()
            .find(|r| r[0] == Data::Float(settlement as f64))
            .unwrap_or_else(|| panic!("settlement {settlement} on the sheet: {rows:?}"))
    };
    assert_eq!(payout(id)[6], Data::String("04400123-0001".into()));
    assert!(
        matches!(payout(other).get(6), None | Some(Data::Empty)),
        "{:?}",
        payout(other)
    );
}

both_backends!(
    a_pair_that_set_each_other_up_is_not_four_eyes,
    month_boundaries_follow_shanghai_time,
    a_month_goes_from_draft_to_paid_with_four_eyes,
    a_reversal_after_payout_is_a_negative_line_next_time,
    disputed_redemptions_wait_for_the_resolution,
    concurrent_generate_runs_settle_each_line_once,
    a_rejected_settlement_releases_its_lines,
    a_redemption_reversed_under_review_leaves_its_settlement,
    settlement_access_is_scoped,
    subsidy_reports_group_and_add_up,
    the_owner_confirms_with_an_invoice_number_shown_on_the_settlement_and_both_sheets,
);
