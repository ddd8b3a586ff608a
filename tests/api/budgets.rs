use std::sync::atomic::{AtomicI64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::json;
use talentcard::auth::Role;
use talentcard::budgets::{self, Approach, Booking, Refusal, Reservation};
use talentcard::db::write_tx;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem};

/// Distinct redemption ids, so reservations spread over the budget slots as real ones do.
static NEXT_REDEMPTION: AtomicI64 = AtomicI64::new(1);

fn booking(amount: i64) -> Booking<'static> {
    Booking {
        year: 2026,
        period: "2026-11",
        merchant_id: 7,
        category: "food",
        amount_fen: amount,
        redemption_id: NEXT_REDEMPTION.fetch_add(1, Ordering::Relaxed),
    }
}

/// Reserves as a redemption does: the fast approach, and the locked one when asked.
async fn reserve(app: &TestApp, amount: i64) -> Result<(), Refusal> {
    let booking = booking(amount);
    app.with_conn(move |conn| {
        let attempt = |conn: &mut talentcard::db::DbConnection, approach| {
            write_tx(conn, |conn| budgets::reserve(conn, &booking, approach))
                .expect("reservation transaction")
        };
        let outcome = match attempt(conn, Approach::Fast) {
            Reservation::Retry => attempt(conn, Approach::Locked),
            outcome => outcome,
        };
        match outcome {
            Reservation::Made => Ok(()),
            Reservation::Refused(refusal) => Err(refusal),
            Reservation::Retry => panic!("the locked approach never asks to retry"),
        }
    })
    .await
}

/// Sets the 2026 budget under dual control: `admin` proposes, `second-admin` approves. The
/// answer of whichever step refused, or 200 with the budget after approval.
async fn set(app: &TestApp, body: serde_json::Value) -> (StatusCode, serde_json::Value) {
    let admin = app.admin_token().await;
    let proposed = app
        .request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&admin),
            Some(body),
        )
        .await;
    if proposed.0 != StatusCode::ACCEPTED {
        return proposed;
    }
    let id = proposed.1["proposal"]["id"].as_i64().unwrap();
    let second = app.second_admin_token().await;
    let (status, approved) = app
        .post(
            &format!("/api/v1/proposals/{id}/approve"),
            &second,
            json!({}),
        )
        .await;
    if status == StatusCode::OK {
        (status, approved["budget"].clone())
    } else {
        (status, approved)
    }
}

#[track_caller]
fn assert_parts_add_up(view: &serde_json::Value) {
    let part = |k: &str| view[k].as_i64().unwrap();
    assert_eq!(
        part("reserved_fen") + part("settled_fen") + part("paid_fen") + part("remaining_fen"),
        part("total_fen"),
        "{view}"
    );
    for c in view["categories"].as_array().unwrap() {
        let p = |k: &str| c[k].as_i64().unwrap();
        assert_eq!(
            p("reserved_fen") + p("settled_fen") + p("paid_fen") + p("remaining_fen"),
            p("total_fen"),
            "{c}"
        );
    }
}

async fn admins_set_budgets_and_the_parts_add_up(app: TestApp) {
    let token = app.admin_token().await;
    let (status, view) = set(&app, json!({"total_fen": 1_000_000, "categories": {"food": 300_000, "transport": 200_000}, "merchant_monthly_cap_fen": 50_000})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["remaining_fen"], 1_000_000);
    assert_eq!(view["categories"].as_array().unwrap().len(), 2);
    assert_parts_add_up(&view);

    reserve(&app, 1_234).await.expect("room for it");
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 1_234);
    assert_eq!(view["remaining_fen"], 1_000_000 - 1_234);
    assert_eq!(view["categories"][0]["category"], "food");
    assert_eq!(view["categories"][0]["reserved_fen"], 1_234);
    assert_parts_add_up(&view);
    // The quote's one-statement read agrees with the budget's view, slots counted.
    let left = |category: &'static str| {
        app.with_conn(move |conn| {
            talentcard::budgets::left::left_for(conn, 2026, category).unwrap()
        })
    };
    let food = left("food").await.expect("a budget");
    assert_eq!(food.year_fen, 1_000_000 - 1_234);
    assert_eq!(food.envelope_fen, Some(300_000 - 1_234));
    assert_eq!(food.for_subsidy(), 300_000 - 1_234);
    let clothing = left("clothing").await.expect("a budget");
    assert_eq!(clothing.envelope_fen, None, "no envelope for clothing");
    assert_eq!(clothing.for_subsidy(), 1_000_000 - 1_234);
    assert_eq!(
        app.with_conn(|conn| talentcard::budgets::left::left_for(conn, 2031, "food").unwrap())
            .await,
        None
    );

    let (status, list) = app.get("/api/v1/budgets", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list[0]["year"], 2026);

    let audited = app
        .get("/api/v1/audit/events?action=budget.set", &token)
        .await
        .1;
    assert_eq!(audited["total"], 1);
}

async fn budgets_cannot_drop_below_what_is_committed(app: TestApp) {
    let put = |body: serde_json::Value| set(&app, body);
    assert_eq!(
        put(json!({"total_fen": 10_000, "categories": {"food": 5_000}}))
            .await
            .0,
        StatusCode::OK
    );
    reserve(&app, 4_000).await.unwrap();
    assert_problem(
        &put(json!({"total_fen": 3_999})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_problem(
        &put(json!({"total_fen": 10_000, "categories": {"food": 3_000}})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_problem(
        &put(json!({"total_fen": 10_000, "categories": {}})).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    // Raising and keeping are fine, and nothing half-applied by the refusals above.
    let (status, view) = put(json!({"total_fen": 4_000})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["remaining_fen"], 0);
    assert_eq!(view["categories"][0]["total_fen"], 5_000);
}

async fn bad_budget_input_is_refused_clearly(app: TestApp) {
    let token = app.admin_token().await;
    for (path, body) in [
        ("/api/v1/budgets/2026", json!({"total_fen": -1})),
        (
            "/api/v1/budgets/2026",
            json!({"total_fen": 100, "categories": {"food": 101}}),
        ),
        (
            "/api/v1/budgets/2026",
            json!({"total_fen": 100, "categories": {"spaceships": 1}}),
        ),
        (
            "/api/v1/budgets/2026",
            json!({"total_fen": 100, "merchant_monthly_cap_fen": -5}),
        ),
        ("/api/v1/budgets/1999", json!({"total_fen": 100})),
        ("/api/v1/budgets/2026", json!({"total_fen": "lots"})),
        ("/api/v1/budgets/2026", json!({"total_fen": 1.5})),
    ] {
        let response = app
            .request(Method::PUT, path, Some(&token), Some(body.clone()))
            .await;
        assert_problem(&response, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    assert_problem(
        &app.get("/api/v1/budgets/2031", &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_problem(
        &app.get("/api/v1/budgets/notayear", &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

async fn without_a_budget_nothing_is_reserved(app: TestApp) {
    assert_eq!(reserve(&app, 1).await, Err(Refusal::NoBudget));
}

async fn concurrent_reservations_never_overdraw(app: TestApp) {
    let token = app.admin_token().await;
    let (status, _) = set(&app, json!({"total_fen": 300})).await;
    assert_eq!(status, StatusCode::OK);
    let outcomes = futures_util::future::join_all((0..20).map(|_| reserve(&app, 100))).await;
    let granted = outcomes.iter().filter(|o| o.is_ok()).count();
    assert_eq!(granted, 3, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|o| o.is_err())
            .all(|o| *o == Err(Refusal::YearExhausted))
    );
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 300);
    assert_eq!(view["remaining_fen"], 0);
}

async fn the_merchant_cap_and_envelopes_hold(app: TestApp) {
    set(&app, json!({"total_fen": 100_000, "categories": {"food": 250}, "merchant_monthly_cap_fen": 1_000})).await;
    let outcomes = futures_util::future::join_all((0..6).map(|_| reserve(&app, 100))).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        2,
        "envelope of 250 holds two of 100: {outcomes:?}"
    );
    set(&app, json!({"total_fen": 100_000, "categories": {"food": 90_000}, "merchant_monthly_cap_fen": 1_000})).await;
    let outcomes = futures_util::future::join_all((0..12).map(|_| reserve(&app, 100))).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        8,
        "cap of 1000 holds eight more: {outcomes:?}"
    );
    assert!(outcomes.contains(&Err(Refusal::MerchantCapReached)));
}

async fn put_budget(app: &TestApp, _token: &str, body: serde_json::Value) -> serde_json::Value {
    let (status, view) = set(app, body).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_parts_add_up(&view);
    view
}

async fn release(app: &TestApp, amount: i64) {
    app.with_conn(move |conn| {
        write_tx(conn, |conn| budgets::release(conn, &booking(amount))).expect("release")
    })
    .await
}

async fn room_held_by_slots_is_not_a_commitment(app: TestApp) {
    let token = app.admin_token().await;
    put_budget(
        &app,
        &token,
        json!({"total_fen": 100_000, "categories": {"food": 50_000}}),
    )
    .await;
    // The first reservations hand their slots a share of the budget as room; that room
    // is still remaining, not reserved.
    for _ in 0..5 {
        reserve(&app, 100).await.expect("room for it");
    }
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 500);
    assert_eq!(view["remaining_fen"], 100_000 - 500);
    assert_eq!(view["categories"][0]["remaining_fen"], 50_000 - 500);
    assert_parts_add_up(&view);
    // So the total may drop to exactly what is reserved, and then nothing more fits.
    let view = put_budget(
        &app,
        &token,
        json!({"total_fen": 500, "categories": {"food": 500}}),
    )
    .await;
    assert_eq!(view["remaining_fen"], 0);
    for _ in 0..20 {
        assert_eq!(reserve(&app, 1).await, Err(Refusal::EnvelopeExhausted));
    }
    // A release gives room back wherever the reservation sat.
    release(&app, 100).await;
    release(&app, 100).await;
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 300);
    assert_eq!(view["remaining_fen"], 200);
    assert_parts_add_up(&view);
    let outcomes = futures_util::future::join_all((0..10).map(|_| reserve(&app, 100))).await;
    assert_eq!(
        outcomes.iter().filter(|o| o.is_ok()).count(),
        2,
        "{outcomes:?}"
    );
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 500);
    assert_eq!(view["remaining_fen"], 0);
}

/// Redemptions take from slots while officials change the budget and reversals release
/// reservations: every path takes its locks in the same order, so none deadlocks (a
/// deadlock would surface as a 500 or a failed transaction) and the sums stay exact.
async fn budget_changes_and_releases_race_reservations_safely(app: TestApp) {
    let token = app.admin_token().await;
    put_budget(
        &app,
        &token,
        json!({"total_fen": 10_000, "categories": {"food": 10_000}}),
    )
    .await;
    for _ in 0..5 {
        reserve(&app, 100).await.expect("room for it");
    }
    let reservations = futures_util::future::join_all((0..60).map(|_| reserve(&app, 100)));
    let releases = futures_util::future::join_all((0..5).map(|_| release(&app, 100)));
    // Budget changes take turns (each approves exactly the settings it was shown); they
    // race the counters' reservations and releases.
    let changes = async {
        for i in 0..5 {
            let body = json!({"total_fen": 10_000 + i * 100, "categories": {"food": 10_000}});
            put_budget(&app, &token, body).await;
        }
    };
    let (outcomes, _, _) = futures_util::future::join3(reservations, releases, changes).await;
    assert!(outcomes.iter().all(|o| o.is_ok()), "{outcomes:?}");
    let (_, view) = app.get("/api/v1/budgets/2026", &token).await;
    assert_eq!(view["reserved_fen"], 6_000);
    assert_eq!(view["categories"][0]["reserved_fen"], 6_000);
    assert_eq!(view["categories"][0]["remaining_fen"], 4_000);
    assert_parts_add_up(&view);
}

async fn budget_role_matrix(app: TestApp) {
    set(&app, json!({"total_fen": 5})).await;
    let auditor = app.official_token(Role::Auditor, "auditor").await;
    assert_eq!(
        app.get("/api/v1/budgets/2026", &auditor).await.0,
        StatusCode::OK
    );
    assert_problem(
        &app.request(
            Method::PUT,
            "/api/v1/budgets/2026",
            Some(&auditor),
            Some(json!({"total_fen": 9})),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    for (role, name) in [
        (Role::Merchant, "owner"),
        (Role::Cashier, "cashier"),
        (Role::Talent, "talent"),
    ] {
        let token = app.official_token(role, name).await;
        assert_problem(
            &app.get("/api/v1/budgets/2026", &token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
        assert_problem(
            &app.request(
                Method::PUT,
                "/api/v1/budgets/2026",
                Some(&token),
                Some(json!({"total_fen": 9})),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    assert_problem(
        &app.request(Method::GET, "/api/v1/budgets/2026", None, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

/// A budget once set has every slot ready with a share of its room (a 32nd each, half
/// of it in all), so the first redemptions take the fast path rather than queue on the
/// budget row; the room is not a commitment, so what the budget reports is unchanged.
async fn a_budget_set_hands_every_slot_its_share_at_once(app: TestApp) {
    let year = 2031;
    app.set_budget(
        year,
        json!({"total_fen": 3_200_000, "categories": {"food": 320_000}}),
    )
    .await;
    let rooms: Vec<(String, i64)> = app
        .with_conn(move |conn| {
            use diesel::prelude::*;
            use talentcard::schema::budget_slots as s;
            s::table
                .filter(s::year.eq(year))
                .order((s::scope, s::slot))
                .select((s::scope, s::room_fen))
                .load(conn)
                .unwrap()
        })
        .await;
    let year_rooms: Vec<i64> = rooms
        .iter()
        .filter(|(s, _)| s.is_empty())
        .map(|(_, r)| *r)
        .collect();
    let food_rooms: Vec<i64> = rooms
        .iter()
        .filter(|(s, _)| s == "food")
        .map(|(_, r)| *r)
        .collect();
    assert_eq!(year_rooms, vec![100_000; 16], "{rooms:?}");
    assert_eq!(food_rooms, vec![10_000; 16], "{rooms:?}");
    let admin = app.admin_token().await;
    let (_, budget) = app.get(&format!("/api/v1/budgets/{year}"), &admin).await;
    assert_eq!(budget["remaining_fen"], 3_200_000, "{budget}");
    assert_eq!(budget["reserved_fen"], 0, "{budget}");
}

both_backends!(
    a_budget_set_hands_every_slot_its_share_at_once,
    admins_set_budgets_and_the_parts_add_up,
    budgets_cannot_drop_below_what_is_committed,
    bad_budget_input_is_refused_clearly,
    without_a_budget_nothing_is_reserved,
    concurrent_reservations_never_overdraw,
    the_merchant_cap_and_envelopes_hold,
    room_held_by_slots_is_not_a_commitment,
    budget_changes_and_releases_race_reservations_safely,
    budget_role_matrix,
);
