//! Anomaly control (DESIGN §8): each rule sees exactly its planted pattern, an ordinary
//! merchant raises nothing, rescans are idempotent, open high flags hold money, and
//! clearing or confirming a flag has its settlement effect.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use talentcard::schema::redemptions;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem, offer_body};
use crate::redemptions::{Counter, card_id, counter};
use crate::settlements::{generate, redeem_at};
use crate::talents::talent_with_card;

const PERIOD: &str = "2026-10";

/// Local Shanghai wall-clock time in October 2026 → stored UTC.
fn oct(day: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2026, 10, day)
        .unwrap()
        .and_hms_opt(h, min, s)
        .unwrap()
        - chrono::Duration::hours(8)
}

static NEXT_WINDOW: AtomicI64 = AtomicI64::new(1);

/// One sale as the counter would have stored it, planted at `at`.
#[derive(Clone)]
pub struct Sale {
    merchant_id: i64,
    offer_id: i64,
    card_id: i64,
    talent_id: i64,
    cashier_id: i64,
    district: &'static str,
    bill_fen: i64,
    subsidy_fen: i64,
}

pub async fn plant(app: &TestApp, sale: &Sale, at: NaiveDateTime) -> i64 {
    let s = sale.clone();
    app.with_conn(move |conn| {
        let local = talentcard::time::to_local(at);
        let window = NEXT_WINDOW.fetch_add(1, Ordering::Relaxed);
        diesel::insert_into(redemptions::table)
            .values((
                redemptions::merchant_id.eq(s.merchant_id),
                redemptions::offer_id.eq(s.offer_id),
                redemptions::card_id.eq(s.card_id),
                redemptions::talent_id.eq(s.talent_id),
                redemptions::tier.eq("B"),
                redemptions::category.eq("food"),
                redemptions::district.eq(s.district),
                redemptions::subsidy_bp.eq(5_000),
                redemptions::bill_fen.eq(s.bill_fen),
                redemptions::discount_fen.eq(s.subsidy_fen * 2),
                redemptions::paid_fen.eq(s.bill_fen - s.subsidy_fen * 2),
                redemptions::subsidy_fen.eq(s.subsidy_fen),
                redemptions::code_window.eq(1_000_000 + window),
                redemptions::code_slot.eq(0),
                redemptions::local_day.eq(local.format("%Y-%m-%d").to_string()),
                redemptions::period.eq(local.format("%Y-%m").to_string()),
                redemptions::cashier_id.eq(s.cashier_id),
                redemptions::idempotency_key.eq(format!("planted-{window}")),
                redemptions::request_hash.eq("planted"),
                redemptions::status.eq("active"),
                redemptions::disputed.eq(false),
                redemptions::created_at.eq(at),
            ))
            .execute(conn)
            .unwrap();
        redemptions::table
            .filter(redemptions::idempotency_key.eq(format!("planted-{window}")))
            .select(redemptions::id)
            .first::<i64>(conn)
            .unwrap()
    })
    .await
}

async fn talent_of(app: &TestApp, card_id: i64) -> i64 {
    app.with_conn(move |conn| {
        use talentcard::schema::cards;
        cards::table
            .find(card_id)
            .select(cards::talent_id)
            .first(conn)
            .unwrap()
    })
    .await
}

pub async fn sale(app: &TestApp, c: &Counter) -> Sale {
    Sale {
        merchant_id: c.merchant.id,
        offer_id: c.offer_id,
        card_id: c.card_id,
        talent_id: talent_of(app, c.card_id).await,
        cashier_id: c.merchant.cashier_id,
        district: "船山区",
        bill_fen: 8_760,
        subsidy_fen: 438,
    }
}

/// More cards (and talents) to sell to.
async fn cards(app: &TestApp, c: &Counter, first_seq: u32, n: u32) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    for seq in first_seq..first_seq + n {
        let (talent, card_no, _) = talent_with_card(app, seq, "B").await;
        out.push((card_id(app, &c.admin, &card_no).await, talent));
    }
    out
}

async fn scan(app: &TestApp, admin: &str) -> Value {
    let (status, report) = app
        .post(
            "/api/v1/audit/anomalies/scan",
            admin,
            json!({"period": PERIOD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

async fn flags(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, page) = app
        .get(
            &format!("/api/v1/audit/anomalies?period={PERIOD}&per_page=200"),
            token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Scans and expects exactly one flag, of `rule`, covering exactly `ids`.
async fn only_flag(app: &TestApp, c: &Counter, rule: &str, severity: &str, ids: &[i64]) -> Value {
    scan(app, &c.admin).await;
    let all = flags(app, &c.admin).await;
    assert_eq!(all.len(), 1, "exactly one flag expected: {all:#?}");
    let f = all[0].clone();
    assert_eq!(f["rule"], rule, "{f}");
    assert_eq!(f["severity"], severity, "{f}");
    let mut want = ids.to_vec();
    want.sort_unstable();
    let got: Vec<i64> = f["redemption_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(got, want, "{f}");
    f
}

async fn an_ordinary_merchant_raises_nothing(app: TestApp) {
    let c = counter(&app, "honest", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    let others = cards(&app, &c, 2, 12).await;
    // Thirty sales over the month, ordinary bills, daytime, different cards, one repeat
    // customer on different days.
    for (i, (card, talent)) in others.iter().cycle().take(30).enumerate() {
        let s = Sale {
            card_id: *card,
            talent_id: *talent,
            bill_fen: 3_000 + (i as i64) * 137,
            ..base.clone()
        };
        plant(&app, &s, oct(1 + i as u32, 9 + (i as u32 % 10), 15, 0)).await;
    }
    let report = scan(&app, &c.admin).await;
    assert_eq!(report["raised"], 0, "{report}");
    assert!(flags(&app, &c.admin).await.is_empty());
}

async fn rapid_repeat_flags_the_repeats_and_is_high_from_three(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    // Unrelated: the same card on another day.
    plant(&app, &s, oct(2, 12, 0, 0)).await;
    let a = plant(&app, &s, oct(5, 12, 0, 0)).await;
    let b = plant(&app, &s, oct(5, 12, 20, 0)).await;
    let f = only_flag(&app, &c, "rapid_repeat", "medium", &[a, b]).await;
    assert_eq!(f["merchant"]["id"], c.merchant.id);
    assert_eq!(f["card_no"], c.card_no.as_str());
    // A third within half an hour of the first makes it high; the same flag refreshes.
    let d = plant(&app, &s, oct(5, 12, 25, 0)).await;
    let f2 = only_flag(&app, &c, "rapid_repeat", "high", &[a, b, d]).await;
    assert_eq!(f2["id"], f["id"], "refreshed, not duplicated");
}

async fn cashier_burst_flags_ten_cards_in_five_minutes(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    let others = cards(&app, &c, 2, 11).await;
    let mut burst = Vec::new();
    for (i, (card, talent)) in others.iter().take(10).enumerate() {
        let s = Sale {
            card_id: *card,
            talent_id: *talent,
            ..base.clone()
        };
        let secs = i as u32 * 25;
        burst.push(plant(&app, &s, oct(8, 15, secs / 60, secs % 60)).await);
    }
    // The same cashier an hour later: not part of it.
    let (card, talent) = others[10];
    plant(
        &app,
        &Sale {
            card_id: card,
            talent_id: talent,
            ..base.clone()
        },
        oct(8, 16, 0, 0),
    )
    .await;
    let f = only_flag(&app, &c, "cashier_burst", "high", &burst).await;
    assert_eq!(f["staff_id"], c.merchant.cashier_id);
    assert_eq!(f["evidence"]["most_cards_in_window"], 10);
}

async fn min_spend_bunching_flags_bills_just_over_the_minimum(app: TestApp) {
    let mut offer = offer_body("满100减10");
    offer["kind"] = json!("fixed");
    offer["amount_fen"] = json!(1_000);
    offer["min_spend_fen"] = json!(10_000);
    offer.as_object_mut().unwrap().remove("percent_bp");
    offer.as_object_mut().unwrap().remove("max_discount_fen");
    let c = counter(&app, "shop", 1, offer).await;
    let base = sale(&app, &c).await;
    let others = cards(&app, &c, 2, 12).await;
    let mut bunched = Vec::new();
    for (i, (card, talent)) in others.iter().enumerate() {
        // Nine of twelve bills between ¥100.00 and ¥105.00: 75 % → medium.
        let bill = if i < 9 {
            10_000 + (i as i64) * 50
        } else {
            16_000 + (i as i64) * 1_111
        };
        let s = Sale {
            card_id: *card,
            talent_id: *talent,
            bill_fen: bill,
            ..base.clone()
        };
        let id = plant(&app, &s, oct(3 + i as u32, 11, 0, 0)).await;
        if i < 9 {
            bunched.push(id);
        }
    }
    let f = only_flag(&app, &c, "min_spend_bunching", "medium", &bunched).await;
    assert_eq!(f["evidence"]["bunched"], 9);
    assert_eq!(f["evidence"]["of"], 12);
    // Three more just over the minimum: 12 of 15 is 80 % — high, and the same flag.
    for (i, (card, talent)) in others.iter().take(3).enumerate() {
        let s = Sale {
            card_id: *card,
            talent_id: *talent,
            bill_fen: 10_100,
            ..base.clone()
        };
        bunched.push(plant(&app, &s, oct(20 + i as u32, 11, 0, 0)).await);
    }
    let high = only_flag(&app, &c, "min_spend_bunching", "high", &bunched).await;
    assert_eq!(high["id"], f["id"]);
}

async fn round_bills_flag_a_merchant_of_whole_tens(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    let others = cards(&app, &c, 2, 10).await;
    let mut round = Vec::new();
    for i in 0..20u32 {
        let (card, talent) = others[i as usize % others.len()];
        let bill = if i < 17 {
            5_000 + i as i64 * 1_000
        } else {
            5_432 + i as i64
        };
        let s = Sale {
            card_id: card,
            talent_id: talent,
            bill_fen: bill,
            ..base.clone()
        };
        let id = plant(&app, &s, oct(1 + i, 10, 0, 0)).await;
        if i < 17 {
            round.push(id);
        }
    }
    let f = only_flag(&app, &c, "round_bills", "medium", &round).await;
    assert_eq!(f["evidence"]["round"], 17);
    assert_eq!(f["evidence"]["of"], 20);
}

async fn staff_redemption_flags_a_cashier_buying_at_their_own_counter(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    // A second cashier whose phone is the talent 7's.
    let (status, staff) = app
        .post(
            &format!("/api/v1/merchants/{}/cashiers", c.merchant.id),
            &c.merchant.owner_token,
            json!({"username": "shop-cashier2", "password": "cashier-password", "phone": crate::talents::phone(7)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{staff}");
    assert_eq!(staff["phone_masked"], "139****0007");
    let others = cards(&app, &c, 6, 2).await;
    let (own_card, own_talent) = others[1];
    plant(
        &app,
        &Sale {
            card_id: others[0].0,
            talent_id: others[0].1,
            ..base.clone()
        },
        oct(4, 12, 0, 0),
    )
    .await;
    let own = plant(
        &app,
        &Sale {
            card_id: own_card,
            talent_id: own_talent,
            ..base.clone()
        },
        oct(4, 13, 0, 0),
    )
    .await;
    let f = only_flag(&app, &c, "staff_redemption", "high", &[own]).await;
    assert_eq!(f["evidence"]["matches"], "staff_phone");
}

async fn reversal_ratio_flags_a_cashier_who_reverses_a_third(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    let others = cards(&app, &c, 2, 10).await;
    let mut ids = Vec::new();
    for (i, (card, talent)) in others.iter().enumerate() {
        let s = Sale {
            card_id: *card,
            talent_id: *talent,
            ..base.clone()
        };
        ids.push(plant(&app, &s, oct(2 + i as u32, 14, 0, 0)).await);
    }
    let reversed = ids[..3].to_vec();
    let r = reversed.clone();
    app.with_conn(move |conn| {
        diesel::update(redemptions::table.filter(redemptions::id.eq_any(r)))
            .set(redemptions::status.eq("reversed"))
            .execute(conn)
            .unwrap()
    })
    .await;
    let f = only_flag(&app, &c, "reversal_ratio", "medium", &reversed).await;
    assert_eq!(f["evidence"]["reversed"], 3);
    assert_eq!(f["evidence"]["of"], 10);
}

async fn card_velocity_flags_one_card_in_two_districts_at_once(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    let far = app.active_merchant("far").await;
    let far_offer = app.active_offer(&far, offer_body("九折")).await;
    let there = Sale {
        merchant_id: far.id,
        offer_id: far_offer["id"].as_i64().unwrap(),
        cashier_id: far.cashier_id,
        district: "安居区",
        ..base.clone()
    };
    let a = plant(&app, &base, oct(6, 18, 0, 0)).await;
    let b = plant(&app, &there, oct(6, 18, 7, 0)).await;
    // Two hours later elsewhere is travel, not a clone.
    plant(&app, &there, oct(6, 20, 30, 0)).await;
    let f = only_flag(&app, &c, "card_velocity", "medium", &[a, b]).await;
    assert_eq!(f["card_no"], c.card_no.as_str());
}

async fn off_hours_flags_sales_between_midnight_and_five(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    plant(&app, &s, oct(9, 23, 59, 0)).await;
    let late = plant(&app, &s, oct(11, 2, 30, 0)).await;
    plant(&app, &s, oct(12, 5, 0, 0)).await;
    let f = only_flag(&app, &c, "off_hours", "low", &[late]).await;
    assert_eq!(f["merchant"]["id"], c.merchant.id);
}

async fn peer_outlier_flags_a_merchant_far_above_its_category(app: TestApp) {
    let c = counter(&app, "big", 1, offer_body("九折")).await;
    let base = sale(&app, &c).await;
    plant(
        &app,
        &Sale {
            subsidy_fen: 150_000,
            bill_fen: 3_000_000,
            ..base.clone()
        },
        oct(3, 12, 0, 0),
    )
    .await;
    for key in ["p1", "p2", "p3"] {
        let m = app.active_merchant(key).await;
        let o = app.active_offer(&m, offer_body("九折")).await;
        let peer = Sale {
            merchant_id: m.id,
            offer_id: o["id"].as_i64().unwrap(),
            cashier_id: m.cashier_id,
            subsidy_fen: 10_000,
            bill_fen: 200_000,
            ..base.clone()
        };
        plant(&app, &peer, oct(4, 12, 0, 0)).await;
    }
    let f = only_flag(&app, &c, "peer_outlier", "medium", &[]).await;
    assert_eq!(f["merchant"]["id"], c.merchant.id);
    assert_eq!(f["evidence"]["peer_median_fen"], 10_000);
}

async fn reissue_churn_flags_a_card_reissued_three_times(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let mut card_no = c.card_no.clone();
    for _ in 0..3 {
        let (status, card) = app
            .post(
                &format!("/api/v1/cards/{card_no}/reissue"),
                &c.admin,
                json!({"reason": "lost"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{card}");
        card_no = card["new"]["card_no"].as_str().unwrap().to_owned();
    }
    // Reissued last month (planted), so they count for the October scan.
    app.with_conn(|conn| {
        use talentcard::schema::cards;
        diesel::update(cards::table.filter(cards::replaced_by.is_not_null()))
            .set(cards::status_changed_at.eq(oct(1, 10, 0, 0)))
            .execute(conn)
            .unwrap()
    })
    .await;
    let new_card = card_id(&app, &c.admin, &card_no).await;
    let s = Sale {
        card_id: new_card,
        ..sale(&app, &c).await
    };
    let id = plant(&app, &s, oct(20, 12, 0, 0)).await;
    let f = only_flag(&app, &c, "reissue_churn", "medium", &[id]).await;
    assert_eq!(f["evidence"]["reissues"], 3);
}

async fn resolve(app: &TestApp, id: i64, outcome: &str) -> Value {
    let admin = app.admin_token().await;
    let (status, body) = app
        .post(
            &format!("/api/v1/audit/anomalies/{id}/resolve"),
            &admin,
            json!({"outcome": outcome, "note": "checked the till rolls"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// An open high flag holds its redemptions out of generation; the owner answers once;
/// clearing releases them to the next run.
async fn a_high_flag_holds_its_money_until_cleared(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let repeats = [
        redeem_at(&app, &c, c.card_id, oct(5, 12, 0, 0), 0, 10_000).await,
        redeem_at(&app, &c, c.card_id, oct(5, 12, 10, 0), 0, 10_000).await,
        redeem_at(&app, &c, c.card_id, oct(5, 12, 20, 0), 0, 10_000).await,
    ];
    let (other, _) = cards(&app, &c, 2, 1).await[0];
    redeem_at(&app, &c, other, oct(6, 12, 0, 0), 0, 10_000).await;
    let run = crate::settlements::generate_run(&app, &c.admin, PERIOD).await;
    // The run says what it left out and why, so "generate" is never a silent "done".
    assert_eq!(run["left_out"]["held_count"], 3, "{run}");
    assert_eq!(run["left_out"]["held_subsidy_fen"], 3 * 500, "{run}");
    assert_eq!(run["left_out"]["disputed_count"], 0, "{run}");
    assert_eq!(run["left_out"]["settled_before_count"], 0, "{run}");
    let made = run["created"].as_array().unwrap().clone();
    assert_eq!(made.len(), 1);
    assert_eq!(
        made[0]["line_count"], 1,
        "the repeats are held: {}",
        made[0]
    );
    let f = only_flag(&app, &c, "rapid_repeat", "high", &repeats).await;
    let id = f["id"].as_i64().unwrap();

    // The owner sees it and answers once; another merchant's owner sees nothing.
    let owner_view = flags(&app, &c.merchant.owner_token).await;
    assert_eq!(owner_view.len(), 1);
    let respond = format!("/api/v1/audit/anomalies/{id}/respond");
    let (status, answered) = app
        .post(
            &respond,
            &c.merchant.owner_token,
            json!({"note": "a family of three, one card"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answered}");
    assert_eq!(answered["response"], "a family of three, one card");
    assert_problem(
        &app.post(&respond, &c.merchant.owner_token, json!({"note": "again"}))
            .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    let stranger = app.active_merchant("stranger").await;
    assert!(flags(&app, &stranger.owner_token).await.is_empty());
    assert_problem(
        &app.post(&respond, &stranger.owner_token, json!({"note": "mine?"}))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Cleared: the next run pays the held sales.
    let cleared = resolve(&app, id, "cleared").await;
    assert_eq!(cleared["flag"]["status"], "cleared");
    assert_eq!(cleared["reversed"], 0);
    let run = crate::settlements::generate_run(&app, &c.admin, PERIOD).await;
    assert_eq!(run["left_out"]["held_count"], 0, "{run}");
    assert_eq!(run["left_out"]["settled_before_count"], 1, "{run}");
    let again = run["created"].as_array().unwrap().clone();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0]["line_count"], 3, "{}", again[0]);
    assert_eq!(
        app.audit_actions("anomaly_flag", id).await,
        ["anomaly.raise", "anomaly.respond", "anomaly.resolve"]
    );
}

/// A flag raised after generation blocks approval (409 anomaly_hold); confirming it
/// reverses the flagged sales, which then leave the settlement.
async fn approval_is_refused_while_a_flag_holds_and_confirmation_reverses(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let first = redeem_at(&app, &c, c.card_id, oct(5, 12, 0, 0), 0, 10_000).await;
    let second = redeem_at(&app, &c, c.card_id, oct(5, 12, 10, 0), 0, 10_000).await;
    let made = generate(&app, &c.admin, PERIOD).await;
    assert_eq!(made[0]["line_count"], 2, "a medium flag holds nothing");
    let sid = made[0]["id"].as_i64().unwrap();
    // A late upload of the till: a third within the half hour makes the flag high.
    let third = redeem_at(&app, &c, c.card_id, oct(5, 12, 20, 0), 0, 10_000).await;
    let f = only_flag(&app, &c, "rapid_repeat", "high", &[first, second, third]).await;
    let path = |step: &str| format!("/api/v1/settlements/{sid}/{step}");
    assert_eq!(
        app.post(&path("confirm"), &c.merchant.owner_token, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&path("verify"), &c.admin, json!({})).await.0,
        StatusCode::OK
    );
    let second_admin = app.second_admin_token().await;
    assert_problem(
        &app.post(&path("approve"), &second_admin, json!({})).await,
        StatusCode::CONFLICT,
        "anomaly_hold",
    );
    let confirmed = resolve(&app, f["id"].as_i64().unwrap(), "confirmed").await;
    assert_eq!(confirmed["flag"]["status"], "confirmed");
    assert_eq!(confirmed["reversed"], 3);
    for id in [first, second, third] {
        let (_, r) = app
            .get(&format!("/api/v1/redemptions/{id}"), &c.admin)
            .await;
        assert_eq!(r["status"], "reversed", "{r}");
    }
    let (status, body) = app.post(&path("approve"), &second_admin, json!({})).await;
    assert_ne!(body["code"], "anomaly_hold", "{status} {body}");
    // Rescanning finds the reversed sales no more: nothing new, nothing reopened.
    let report = scan(&app, &c.admin).await;
    assert_eq!(report["raised"], 0, "{report}");
}

/// Rescans refresh, never duplicate, never reopen; what a resolved flag did not cover
/// raises a new flag with only the new redemptions.
async fn rescans_are_idempotent_and_resolved_flags_stay_resolved(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    plant(&app, &s, oct(5, 12, 0, 0)).await;
    plant(&app, &s, oct(5, 12, 5, 0)).await;
    assert_eq!(scan(&app, &c.admin).await["raised"], 1);
    let report = scan(&app, &c.admin).await;
    assert_eq!(
        (report["raised"].as_i64(), report["refreshed"].as_i64()),
        (Some(0), Some(1))
    );
    let all = flags(&app, &c.admin).await;
    assert_eq!(all.len(), 1);
    resolve(&app, all[0]["id"].as_i64().unwrap(), "cleared").await;
    let report = scan(&app, &c.admin).await;
    assert_eq!(report["raised"], 0, "{report}");
    assert_eq!(report["already_resolved"], 1, "{report}");
    assert_eq!(flags(&app, &c.admin).await[0]["status"], "cleared");
    // The same card repeats again another day: a new flag, only the new pair.
    let x = plant(&app, &s, oct(20, 9, 0, 0)).await;
    let y = plant(&app, &s, oct(20, 9, 15, 0)).await;
    assert_eq!(scan(&app, &c.admin).await["raised"], 1);
    let open: Vec<Value> = flags(&app, &c.admin)
        .await
        .into_iter()
        .filter(|f| f["status"] == "open")
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["redemption_ids"], json!([x, y]));
}

async fn who_may_see_scan_and_decide_flags(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    plant(&app, &s, oct(11, 2, 0, 0)).await;
    scan(&app, &c.admin).await;
    let id = flags(&app, &c.admin).await[0]["id"].as_i64().unwrap();
    let auditor = app
        .official_token(talentcard::auth::Role::Auditor, "auditor")
        .await;
    assert_eq!(flags(&app, &auditor).await.len(), 1);
    for (path, body) in [
        (
            "/api/v1/audit/anomalies/scan".to_owned(),
            json!({"period": PERIOD}),
        ),
        (
            format!("/api/v1/audit/anomalies/{id}/resolve"),
            json!({"outcome": "cleared", "note": "x"}),
        ),
    ] {
        assert_problem(
            &app.post(&path, &auditor, body).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    // A low flag is not the merchant's to see.
    assert!(flags(&app, &c.merchant.owner_token).await.is_empty());
    assert_problem(
        &app.get(
            &format!("/api/v1/audit/anomalies/{id}"),
            &c.merchant.owner_token,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_problem(
        &app.get("/api/v1/audit/anomalies", &c.merchant.cashier_token)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.get("/api/v1/audit/anomalies", &c.talent_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // Bad input.
    for body in [
        json!({"period": "2026-13"}),
        json!({"period": "last month"}),
    ] {
        assert_problem(
            &app.post("/api/v1/audit/anomalies/scan", &c.admin, body)
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
    }
    for body in [
        json!({"outcome": "maybe", "note": "x"}),
        json!({"outcome": "cleared", "note": "  "}),
        json!({"outcome": "cleared"}),
    ] {
        assert_problem(
            &app.post(
                &format!("/api/v1/audit/anomalies/{id}/resolve"),
                &c.admin,
                body,
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
    }
    assert_problem(
        &app.get("/api/v1/audit/anomalies?rule=nonsense", &c.admin)
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    resolve(&app, id, "cleared").await;
    assert_problem(
        &app.post(
            &format!("/api/v1/audit/anomalies/{id}/resolve"),
            &c.admin,
            json!({"outcome": "confirmed", "note": "changed my mind"}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
}

/// Thresholds are one documented set; changing them is a proposal a second admin
/// approves, and the rules use the new ones from then on. /metrics counts open flags.
async fn thresholds_change_by_proposal_and_open_flags_show_in_metrics(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let s = sale(&app, &c).await;
    let dawn = plant(&app, &s, oct(14, 5, 30, 0)).await;
    assert_eq!(
        scan(&app, &c.admin).await["raised"],
        0,
        "05:30 is not off-hours by default"
    );
    let (status, defaults) = app
        .get("/api/v1/audit/anomalies/thresholds", &c.admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(defaults["off_hours_end_hour"], 5);
    assert_eq!(defaults["cashier_burst_cards"], 10);
    let (status, proposed) = app
        .request(
            reqwest::Method::PUT,
            "/api/v1/audit/anomalies/thresholds",
            Some(&c.admin),
            Some(json!({"off_hours_end_hour": 6})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
    assert!(
        proposed["proposal"]["summary"]
            .as_str()
            .unwrap()
            .contains("off_hours_end_hour 5 → 6"),
        "{proposed}"
    );
    // Not before approval.
    assert_eq!(scan(&app, &c.admin).await["raised"], 0);
    let approved = app.approve_proposal(&proposed).await;
    assert_eq!(approved["thresholds"]["off_hours_end_hour"], 6);
    only_flag(&app, &c, "off_hours", "low", &[dawn]).await;
    for bad in [
        json!({"cashier_burst_cards": 0}),
        json!({"round_share_bp": 20_000}),
        json!({"no_such": 1}),
    ] {
        assert_problem(
            &app.request(
                reqwest::Method::PUT,
                "/api/v1/audit/anomalies/thresholds",
                Some(&c.admin),
                Some(bad),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
        );
    }
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
        metrics.contains("talentcard_anomaly_flags_open{rule=\"off_hours\",severity=\"low\"} 1"),
        "{metrics}"
    );
}

/// Confirming a flag over a sale already paid out nets the money back: the reversal is
/// a negative line of the merchant's next settlement.
async fn a_confirmed_flag_on_paid_money_is_a_negative_line_next_run(app: TestApp) {
    let c = counter(&app, "shop", 1, offer_body("九折")).await;
    let paid = redeem_at(&app, &c, c.card_id, oct(5, 12, 0, 0), 0, 10_000).await;
    let made = generate(&app, &c.admin, PERIOD).await;
    let sid = made[0]["id"].as_i64().unwrap();
    let path = |id: i64, step: &str| format!("/api/v1/settlements/{id}/{step}");
    let second_admin = app.second_admin_token().await;
    app.post(&path(sid, "confirm"), &c.merchant.owner_token, json!({}))
        .await;
    app.post(&path(sid, "verify"), &c.admin, json!({})).await;
    assert_eq!(
        app.post(&path(sid, "approve"), &second_admin, json!({}))
            .await
            .0,
        StatusCode::OK
    );
    let (status, body) = app
        .post(
            &path(sid, "pay"),
            &c.admin,
            json!({"bank_reference": "B-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A late till upload: the same card ten minutes later makes a rapid repeat.
    let late = redeem_at(&app, &c, c.card_id, oct(5, 12, 10, 0), 0, 10_000).await;
    let f = only_flag(&app, &c, "rapid_repeat", "medium", &[paid, late]).await;
    let confirmed = resolve(&app, f["id"].as_i64().unwrap(), "confirmed").await;
    assert_eq!(confirmed["reversed"], 2);
    // The reversal happens now, so it settles with the current month.
    let now_period = talentcard::time::to_local(talentcard::time::now())
        .format("%Y-%m")
        .to_string();
    let next = generate(&app, &c.admin, &now_period).await;
    assert_eq!(next.len(), 1, "{next:?}");
    let (_, s) = app
        .get(&format!("/api/v1/settlements/{}", next[0]["id"]), &c.admin)
        .await;
    let lines = s["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{s}");
    assert_eq!(lines[0]["kind"], "reversal");
    assert_eq!(lines[0]["redemption_id"], paid);
    assert!(lines[0]["subsidy_fen"].as_i64().unwrap() < 0, "{s}");
}

both_backends!(
    a_confirmed_flag_on_paid_money_is_a_negative_line_next_run,
    thresholds_change_by_proposal_and_open_flags_show_in_metrics,
    a_high_flag_holds_its_money_until_cleared,
    approval_is_refused_while_a_flag_holds_and_confirmation_reverses,
    rescans_are_idempotent_and_resolved_flags_stay_resolved,
    who_may_see_scan_and_decide_flags,
    an_ordinary_merchant_raises_nothing,
    rapid_repeat_flags_the_repeats_and_is_high_from_three,
    cashier_burst_flags_ten_cards_in_five_minutes,
    min_spend_bunching_flags_bills_just_over_the_minimum,
    round_bills_flag_a_merchant_of_whole_tens,
    staff_redemption_flags_a_cashier_buying_at_their_own_counter,
    reversal_ratio_flags_a_cashier_who_reverses_a_third,
    card_velocity_flags_one_card_in_two_districts_at_once,
    off_hours_flags_sales_between_midnight_and_five,
    peer_outlier_flags_a_merchant_far_above_its_category,
    reissue_churn_flags_a_card_reissued_three_times,
);
