//! Offers: validation, review of subsidised offers, the owner's pause/resume/end,
//! revisions as new versions, and the role-scoped list.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem, offer_body};

both_backends!(
    a_subsidised_offer_goes_live_only_after_an_official_approves_it,
    an_unsubsidised_offer_is_live_at_once,
    bad_offers_are_refused_with_a_clear_detail,
    offer_steps_are_refused_out_of_order_and_by_the_wrong_role,
    a_revision_is_a_new_version_and_the_old_terms_stay_as_they_were,
    a_revision_of_a_revision_under_review_replaces_the_running_offer,
    officials_see_the_approval_queue_and_staff_their_own_offers,
);

async fn create(app: &TestApp, merchant_id: i64, token: &str, body: Value) -> (StatusCode, Value) {
    app.post(
        &format!("/api/v1/merchants/{merchant_id}/offers"),
        token,
        body,
    )
    .await
}

async fn a_subsidised_offer_goes_live_only_after_an_official_approves_it(app: TestApp) {
    let shop = app.active_merchant("sub").await;
    let (status, offer) = create(&app, shop.id, &shop.owner_token, offer_body("英才九折")).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    assert_eq!(offer["status"], "pending");
    assert_eq!(offer["subsidy_bp"], 5000);
    assert_eq!(offer["tiers"], json!(["A", "B", "C", "D", "E"]));
    let id = offer["id"].as_i64().unwrap();

    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(
        page["items"][0]["offers"],
        json!([]),
        "pending offer listed"
    );

    let admin = app.admin_token().await;
    let (status, approved) = app
        .post(&format!("/api/v1/offers/{id}/approve"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "active");
    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(page["items"][0]["offers"][0]["id"].as_i64(), Some(id));
    assert_eq!(page["items"][0]["offers"][0]["title"], "英才九折");

    // Reject needs a reason and applies only to pending offers.
    let (_, second) = create(&app, shop.id, &shop.owner_token, offer_body("第二个")).await;
    let second = second["id"].as_i64().unwrap();
    let resp = app
        .post(
            &format!("/api/v1/offers/{second}/reject"),
            &admin,
            json!({}),
        )
        .await;
    assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let (status, rejected) = app
        .post(
            &format!("/api/v1/offers/{second}/reject"),
            &admin,
            json!({"reason": "补贴比例过高"}),
        )
        .await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    assert_eq!(rejected["status_reason"], "补贴比例过高");

    assert_eq!(
        app.audit_actions("offer", id).await,
        ["offer.create", "offer.approve"]
    );
    assert_eq!(
        app.audit_actions("offer", second).await,
        ["offer.create", "offer.reject"]
    );
}

async fn an_unsubsidised_offer_is_live_at_once(app: TestApp) {
    let shop = app.active_merchant("free").await;
    let mut body = json!({
        "title": "立减 20 元",
        "kind": "fixed",
        "amount_fen": 2000,
        "min_spend_fen": 10000,
        "tiers": ["e", "A"],
        "per_card_daily": 1,
        "per_card_monthly": 4,
        "valid_from": "2026-01-01",
        "valid_until": "2099-12-31",
        "subsidy_bp": 0,
    });
    let (status, offer) = create(&app, shop.id, &shop.owner_token, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{offer}");
    assert_eq!(offer["status"], "active");
    assert_eq!(offer["tiers"], json!(["A", "E"]));
    assert_eq!(offer["valid_from"], "2026-01-01T00:00:00+08:00");
    assert_eq!(offer["valid_until"], "2100-01-01T00:00:00+08:00");
    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants?tier=E", None, None)
        .await;
    assert_eq!(page["items"][0]["offers"][0]["amount_fen"], 2000);

    // An offer cannot be published already expired…
    body["valid_from"] = json!("2020-01-01");
    body["valid_until"] = json!("2020-12-31");
    let resp = create(&app, shop.id, &shop.owner_token, body).await;
    assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    assert!(resp.1["detail"].as_str().unwrap().contains("valid_until"));
    // …and one whose validity runs out leaves the directory.
    let id = offer["id"].as_i64().unwrap();
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::offers;
        diesel::update(offers::table.find(id))
            .set(offers::valid_until.eq(talentcard::time::now()))
            .execute(conn)
            .unwrap()
    })
    .await;
    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(page["items"][0]["offers"], json!([]));
}

async fn bad_offers_are_refused_with_a_clear_detail(app: TestApp) {
    let shop = app.active_merchant("strict").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"percent_bp": 0}), "percent_bp"),
        (json!({"percent_bp": 10001}), "percent_bp"),
        (json!({"max_discount_fen": null}), "max_discount_fen"),
        (json!({"max_discount_fen": 0}), "max_discount_fen"),
        (json!({"tiers": []}), "at least one tier"),
        (json!({"tiers": ["F"]}), "tier"),
        (json!({"subsidy_bp": 10001}), "subsidy_bp"),
        (json!({"subsidy_bp": -5}), "subsidy_bp"),
        (json!({"min_spend_fen": -1}), "min_spend_fen"),
        (json!({"title": ""}), "title"),
        (json!({"per_card_daily": 0}), "per_card_daily"),
        (
            json!({"valid_from": "2026-12-31", "valid_until": "2026-01-01"}),
            "before",
        ),
        (json!({"valid_from": "tomorrow"}), "valid_from"),
        (json!({"amount_fen": 100}), "amount_fen"),
        (
            json!({"kind": "fixed", "percent_bp": null, "max_discount_fen": null}),
            "amount_fen",
        ),
        (
            json!({"kind": "fixed", "percent_bp": null, "max_discount_fen": null, "amount_fen": 0}),
            "amount_fen",
        ),
    ];
    for (patch, needle) in cases {
        let mut body = offer_body("坏");
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let resp = create(&app, shop.id, &shop.owner_token, body).await;
        assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let detail = resp.1["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{patch}: {detail}");
    }
    let mut body = offer_body("坏");
    body["kind"] = json!("bogo");
    assert!(
        create(&app, shop.id, &shop.owner_token, body)
            .await
            .0
            .is_client_error()
    );
    let mut body = offer_body("坏");
    body["surprise"] = json!(1);
    assert!(
        create(&app, shop.id, &shop.owner_token, body)
            .await
            .0
            .is_client_error()
    );
    let count = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            talentcard::schema::offers::table
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(count, 0);
}

async fn offer_steps_are_refused_out_of_order_and_by_the_wrong_role(app: TestApp) {
    let shop = app.active_merchant("steps").await;
    let admin = app.admin_token().await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let (_, offer) = create(&app, shop.id, &shop.owner_token, offer_body("步骤")).await;
    let id = offer["id"].as_i64().unwrap();
    let step = |action: &'static str, token: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/offers/{id}/{action}"),
                &token,
                json!({"reason": "理由"}),
            )
            .await
        }
    };
    // Only an administrator approves; not the owner, the cashier or an auditor.
    for token in [&shop.owner_token, &shop.cashier_token, &auditor] {
        assert_problem(
            &step("approve", token.clone()).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    // Pending: cannot be paused or resumed.
    assert_problem(
        &step("pause", shop.owner_token.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &step("resume", shop.owner_token.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(step("approve", admin.clone()).await.0, StatusCode::OK);
    assert_problem(
        &step("approve", admin.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &step("reject", admin.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    // Pause and resume are the owner's, not the cashier's or an official's.
    assert_problem(
        &step("pause", shop.cashier_token.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &step("pause", admin.clone()).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        step("pause", shop.owner_token.clone()).await.1["status"],
        "paused"
    );
    assert_problem(
        &step("pause", shop.owner_token.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(
        step("resume", shop.owner_token.clone()).await.1["status"],
        "active"
    );
    assert_eq!(
        step("end", shop.owner_token.clone()).await.1["status"],
        "ended"
    );
    for action in ["pause", "resume", "end"] {
        assert_problem(
            &step(action, shop.owner_token.clone()).await,
            StatusCode::CONFLICT,
            "invalid_transition",
        );
    }
    let resp = app
        .post("/api/v1/offers/999999/approve", &admin, json!({}))
        .await;
    assert_problem(&resp, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(
        app.audit_actions("offer", id).await,
        [
            "offer.create",
            "offer.approve",
            "offer.pause",
            "offer.resume",
            "offer.end"
        ]
    );
}

async fn a_revision_is_a_new_version_and_the_old_terms_stay_as_they_were(app: TestApp) {
    let shop = app.active_merchant("rev").await;
    let admin = app.admin_token().await;
    let old = app.active_offer(&shop, offer_body("九折")).await;
    let old_id = old["id"].as_i64().unwrap();
    let mut terms = offer_body("八折");
    terms["percent_bp"] = json!(2000);
    let (status, new) = app
        .post(
            &format!("/api/v1/offers/{old_id}/revise"),
            &shop.owner_token,
            terms.clone(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_eq!(
        (new["status"].as_str(), new["replaces_id"].as_i64()),
        (Some("pending"), Some(old_id))
    );
    let new_id = new["id"].as_i64().unwrap();
    // While the revision waits, the old version keeps running and no second revision starts.
    let (_, still) = app
        .get(&format!("/api/v1/offers/{old_id}"), &shop.owner_token)
        .await;
    assert_eq!(still["status"], "active");
    let resp = app
        .post(
            &format!("/api/v1/offers/{old_id}/revise"),
            &shop.owner_token,
            terms,
        )
        .await;
    assert_problem(&resp, StatusCode::CONFLICT, "conflict");

    app.post(
        &format!("/api/v1/offers/{new_id}/approve"),
        &admin,
        json!({}),
    )
    .await;
    let (_, old_now) = app
        .get(&format!("/api/v1/offers/{old_id}"), &shop.owner_token)
        .await;
    assert_eq!(old_now["status"], "ended");
    assert_eq!(old_now["percent_bp"], 1000, "old terms rewritten");
    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    let live: Vec<i64> = page["items"][0]["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_i64().unwrap())
        .collect();
    assert_eq!(live, [new_id]);
    assert_eq!(
        app.audit_actions("offer", old_id).await,
        ["offer.create", "offer.approve", "offer.end"]
    );
    // An ended offer cannot be revised.
    let resp = app
        .post(
            &format!("/api/v1/offers/{old_id}/revise"),
            &shop.owner_token,
            offer_body("再改"),
        )
        .await;
    assert_problem(&resp, StatusCode::CONFLICT, "invalid_transition");
    // An unsubsidised revision replaces the live version at once.
    let mut free = offer_body("免补贴");
    free["subsidy_bp"] = json!(0);
    let (_, newest) = app
        .post(
            &format!("/api/v1/offers/{new_id}/revise"),
            &shop.owner_token,
            free,
        )
        .await;
    assert_eq!(newest["status"], "active");
    let (_, replaced) = app.get(&format!("/api/v1/offers/{new_id}"), &admin).await;
    assert_eq!(replaced["status"], "ended");
}

async fn a_revision_of_a_revision_under_review_replaces_the_running_offer(app: TestApp) {
    let shop = app.active_merchant("rerev").await;
    let admin = app.admin_token().await;
    let running = app.active_offer(&shop, offer_body("九折")).await;
    let running_id = running["id"].as_i64().unwrap();
    let revise = |id: i64, title: &str| {
        let path = format!("/api/v1/offers/{id}/revise");
        let body = offer_body(title);
        let app = &app;
        let token = shop.owner_token.clone();
        async move { app.post(&path, &token, body).await }
    };
    let (status, first) = revise(running_id, "八五折").await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let first_id = first["id"].as_i64().unwrap();
    // The owner changes the revision again before anyone reviewed it.
    let (status, second) = revise(first_id, "八折").await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(
        (second["status"].as_str(), second["replaces_id"].as_i64()),
        (Some("pending"), Some(running_id)),
        "it takes the withdrawn revision's place: {second}"
    );
    let second_id = second["id"].as_i64().unwrap();
    let (_, first_now) = app
        .get(&format!("/api/v1/offers/{first_id}"), &shop.owner_token)
        .await;
    assert_eq!(first_now["status"], "ended");
    assert_eq!(first_now["status_reason"], "withdrawn by a revision");
    let (_, still) = app
        .get(&format!("/api/v1/offers/{running_id}"), &shop.owner_token)
        .await;
    assert_eq!(still["status"], "active", "the running offer runs on");
    let (status, approved) = app
        .post(
            &format!("/api/v1/offers/{second_id}/approve"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let (_, replaced) = app
        .get(&format!("/api/v1/offers/{running_id}"), &shop.owner_token)
        .await;
    assert_eq!(replaced["status"], "ended", "{replaced}");
    assert_eq!(
        replaced["status_reason"],
        format!("replaced by offer {second_id}")
    );
}

async fn officials_see_the_approval_queue_and_staff_their_own_offers(app: TestApp) {
    let a = app.active_merchant("qa").await;
    let b = app.active_merchant("qb").await;
    create(&app, a.id, &a.owner_token, offer_body("A1")).await;
    app.active_offer(&a, offer_body("A2")).await;
    create(&app, b.id, &b.owner_token, offer_body("B1")).await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let (status, queue) = app.get("/api/v1/offers?status=pending", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{queue}");
    let titles: Vec<&str> = queue["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["A1", "B1"]);
    let (_, all) = app
        .get(&format!("/api/v1/offers?merchant_id={}", a.id), &auditor)
        .await;
    assert_eq!(all["total"], 2);
    let (_, own) = app
        .get("/api/v1/offers?status=active", &a.cashier_token)
        .await;
    assert_eq!(own["total"], 1);
    let resp = app.request(Method::GET, "/api/v1/offers", None, None).await;
    assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.get("/api/v1/offers?status=nonsense", &auditor).await;
    assert!(resp.0.is_client_error());
}
