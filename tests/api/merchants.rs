//! Merchants: application, approval workflow, cashiers, the public directory and the
//! isolation of one merchant from another.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{
    MERCHANT_PASSWORD, TestApp, assert_problem, merchant_application, offer_body,
};

both_backends!(
    optional_step_bodies_are_validated_not_ignored,
    an_application_waits_for_approval_before_its_owner_can_log_in,
    bad_applications_are_refused_with_a_clear_detail_and_nothing_written,
    one_merchant_per_credit_code,
    workflow_steps_are_refused_out_of_order,
    suspension_ends_every_session_of_the_merchant,
    only_administrators_run_the_merchant_workflow,
    the_owner_manages_cashiers_and_a_removed_cashier_is_locked_out,
    another_merchant_can_neither_see_nor_change_our_data,
    the_directory_shows_only_active_merchants_and_no_private_fields,
    the_directory_filters_by_category_district_tier_and_text,
    officials_list_applications_by_status_with_masked_bank_accounts,
    official_views_of_bank_details_are_audited,
    demo_data_fills_the_directory_and_its_logins_work,
    the_openapi_document_lists_merchant_and_offer_routes,
);

fn login_body(user: &str) -> Value {
    json!({"username": user, "password": MERCHANT_PASSWORD})
}

async fn an_application_waits_for_approval_before_its_owner_can_log_in(app: TestApp) {
    let (status, merchant) = app
        .request(
            Method::POST,
            "/api/v1/merchants",
            None,
            Some(merchant_application("acme")),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{merchant}");
    assert_eq!(merchant["status"], "pending");
    assert_eq!(merchant["category_label"], "食·餐饮");
    let id = merchant["id"].as_i64().unwrap();

    let refused = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(login_body("acme-owner")),
        )
        .await;
    // The owner is told the application is still under review, not just "inactive".
    assert_problem(&refused, StatusCode::FORBIDDEN, "merchant_pending");

    let admin = app.admin_token().await;
    let (status, approved) = app
        .post(
            &format!("/api/v1/merchants/{id}/approve"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "active");
    let owner = app.login("acme-owner", MERCHANT_PASSWORD).await;
    let (status, own) = app.get(&format!("/api/v1/merchants/{id}"), &owner).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(own["bank_account"], "6222020200112233445");

    let actions = app.audit_actions("merchant", id).await;
    assert_eq!(actions, ["merchant.apply", "merchant.approve"]);
    // The admin may use the public form too; the audit names them.
    let (status, _) = app
        .post("/api/v1/merchants", &admin, merchant_application("byadmin"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

async fn bad_applications_are_refused_with_a_clear_detail_and_nothing_written(app: TestApp) {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("uscc", json!("91350100M000100Y44"), "check character"),
        ("uscc", json!("91350100M000100Y4"), "18 characters"),
        ("uscc", json!("91350100M0001O0Y43"), "not allowed"),
        ("category", json!("casino"), "category"),
        ("district", json!("朝阳区"), "district"),
        ("contact_phone", json!("call me"), "contact_phone"),
        ("bank_account", json!("12ab"), "bank_account"),
        ("name", json!("   "), "name"),
        ("owner_username", json!("x"), "owner_username"),
        ("owner_password", json!("short"), "owner_password"),
        ("lat", json!(30.5), "together"),
        ("lat", json!(95.0), "lat"),
    ];
    for (field, value, needle) in cases {
        let mut body = merchant_application("bad");
        body[field] = value.clone();
        if field == "lat" && value == json!(95.0) {
            body["lon"] = json!(105.0);
        }
        let resp = app
            .request(Method::POST, "/api/v1/merchants", None, Some(body))
            .await;
        assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
        let detail = resp.1["detail"].as_str().unwrap();
        assert!(detail.contains(needle), "{field}={value}: {detail}");
    }
    let mut body = merchant_application("bad");
    body["iban"] = json!("x");
    let resp = app
        .request(Method::POST, "/api/v1/merchants", None, Some(body))
        .await;
    assert!(resp.0.is_client_error(), "unknown field accepted: {resp:?}");

    let (count, users) = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use talentcard::schema::{merchants, users};
            (
                merchants::table.count().get_result::<i64>(conn).unwrap(),
                users::table.count().get_result::<i64>(conn).unwrap(),
            )
        })
        .await;
    assert_eq!((count, users), (0, 1), "only the admin account exists");

    // Coordinates are kept exactly as micro-degrees.
    let mut body = merchant_application("geo");
    body["lat"] = json!(30.513_1);
    body["lon"] = json!(105.592_8);
    let (status, merchant) = app
        .request(Method::POST, "/api/v1/merchants", None, Some(body))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        (merchant["lat"].as_f64(), merchant["lon"].as_f64()),
        (Some(30.5131), Some(105.5928))
    );
}

async fn one_merchant_per_credit_code(app: TestApp) {
    let first = merchant_application("first");
    app.apply_merchant(first.clone()).await;
    let mut again = merchant_application("second");
    // Same code, typed in lower case: still the same code.
    again["uscc"] = json!(first["uscc"].as_str().unwrap().to_lowercase());
    let resp = app
        .request(Method::POST, "/api/v1/merchants", None, Some(again))
        .await;
    assert_problem(&resp, StatusCode::CONFLICT, "conflict");
    assert!(
        resp.1["detail"]
            .as_str()
            .unwrap()
            .contains("统一社会信用代码")
    );

    // A taken owner username is a 409 too, and leaves no merchant behind.
    let mut taken = merchant_application("third");
    taken["owner_username"] = json!("first-owner");
    let resp = app
        .request(Method::POST, "/api/v1/merchants", None, Some(taken))
        .await;
    assert_problem(&resp, StatusCode::CONFLICT, "conflict");
    let count = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            talentcard::schema::merchants::table
                .count()
                .get_result::<i64>(conn)
                .unwrap()
        })
        .await;
    assert_eq!(count, 1);
}

async fn workflow_steps_are_refused_out_of_order(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.apply_merchant(merchant_application("flow")).await;
    let step = |action: &'static str, body: Value| {
        let admin = admin.clone();
        let app = &app;
        async move {
            app.post(&format!("/api/v1/merchants/{id}/{action}"), &admin, body)
                .await
        }
    };
    let reason = json!({"reason": "检查发现问题"});
    // Pending: only approve or reject.
    assert_problem(
        &step("suspend", reason.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &step("resume", json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(step("approve", json!({})).await.0, StatusCode::OK);
    // Active: no second approval, no rejection.
    let again = step("approve", json!({})).await;
    assert_problem(&again, StatusCode::CONFLICT, "invalid_transition");
    assert!(again.1["detail"].as_str().unwrap().contains("active"));
    assert_problem(
        &step("reject", reason.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &step("resume", json!({})).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    // Suspend needs a reason.
    assert_problem(
        &step("suspend", json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    assert_problem(
        &step("suspend", json!({"reason": "  "})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    let (status, suspended) = step("suspend", reason.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(suspended["status_reason"], "检查发现问题");
    assert_problem(
        &step("suspend", reason.clone()).await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_eq!(step("resume", json!({})).await.1["status"], "active");

    // Reject needs a reason; a rejected application is final.
    let other = app.apply_merchant(merchant_application("nope")).await;
    let resp = app
        .post(
            &format!("/api/v1/merchants/{other}/reject"),
            &admin,
            json!({}),
        )
        .await;
    assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let (status, rejected) = app
        .post(
            &format!("/api/v1/merchants/{other}/reject"),
            &admin,
            reason.clone(),
        )
        .await;
    assert_eq!(
        (status, rejected["status"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    for action in ["approve", "suspend", "resume", "reject"] {
        let resp = app
            .post(
                &format!("/api/v1/merchants/{other}/{action}"),
                &admin,
                reason.clone(),
            )
            .await;
        assert_problem(&resp, StatusCode::CONFLICT, "invalid_transition");
    }
    let resp = app
        .post("/api/v1/merchants/999999/approve", &admin, json!({}))
        .await;
    assert_problem(&resp, StatusCode::NOT_FOUND, "not_found");
    let refused = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(login_body("nope-owner")),
        )
        .await;
    // The owner learns it was rejected, and why, in the official's words.
    assert_problem(&refused, StatusCode::FORBIDDEN, "merchant_rejected");
    assert_eq!(refused.1["reason"], reason["reason"], "{}", refused.1);

    assert_eq!(
        app.audit_actions("merchant", id).await,
        [
            "merchant.apply",
            "merchant.approve",
            "merchant.suspend",
            "merchant.resume"
        ]
    );
    assert_eq!(
        app.audit_actions("merchant", other).await,
        ["merchant.apply", "merchant.reject"]
    );
}

async fn suspension_ends_every_session_of_the_merchant(app: TestApp) {
    let shop = app.active_merchant("susp").await;
    let admin = app.admin_token().await;
    let (status, _) = app
        .post(
            &format!("/api/v1/merchants/{}/suspend", shop.id),
            &admin,
            json!({"reason": "投诉调查"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for token in [&shop.owner_token, &shop.cashier_token] {
        let resp = app.get("/api/v1/offers", token).await;
        assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    }
    for user in ["susp-owner", "susp-cashier"] {
        let resp = app
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(login_body(user)),
            )
            .await;
        assert_problem(&resp, StatusCode::FORBIDDEN, "merchant_suspended");
        assert_eq!(resp.1["reason"], "投诉调查", "{}", resp.1);
    }
    app.post(
        &format!("/api/v1/merchants/{}/resume", shop.id),
        &admin,
        json!({}),
    )
    .await;
    app.login("susp-owner", MERCHANT_PASSWORD).await;
    app.login("susp-cashier", MERCHANT_PASSWORD).await;
}

async fn only_administrators_run_the_merchant_workflow(app: TestApp) {
    let id = app.apply_merchant(merchant_application("guard")).await;
    let shop = app.active_merchant("other").await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let path = format!("/api/v1/merchants/{id}/approve");
    for token in [&auditor, &shop.owner_token, &shop.cashier_token] {
        assert_problem(
            &app.post(&path, token, json!({})).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    let resp = app
        .request(Method::POST, &path, None, Some(json!({})))
        .await;
    assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    let resp = app.post(&path, "not-a-token", json!({})).await;
    assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn the_owner_manages_cashiers_and_a_removed_cashier_is_locked_out(app: TestApp) {
    let shop = app.active_merchant("till").await;
    let path = format!("/api/v1/merchants/{}/cashiers", shop.id);
    // A cashier cannot add cashiers.
    let resp = app
        .post(
            &path,
            &shop.cashier_token,
            json!({"username": "till-2", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_problem(&resp, StatusCode::FORBIDDEN, "forbidden");
    let resp = app
        .post(
            &path,
            &shop.owner_token,
            json!({"username": "till-cashier", "password": MERCHANT_PASSWORD}),
        )
        .await;
    assert_problem(&resp, StatusCode::CONFLICT, "conflict");
    let resp = app
        .post(
            &path,
            &shop.owner_token,
            json!({"username": "till-3", "password": "short"}),
        )
        .await;
    assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    let (status, second) = app
        .post(
            &path,
            &shop.owner_token,
            json!({"username": "till-2", "password": MERCHANT_PASSWORD, "display_name": "小王"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(
        (second["role"].as_str(), second["merchant_id"].as_i64()),
        (Some("cashier"), Some(shop.id))
    );

    let (status, list) = app.get(&path, &shop.owner_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let admin = app.admin_token().await;
    assert_eq!(app.get(&path, &admin).await.0, StatusCode::OK);
    assert_problem(
        &app.get(&path, &shop.cashier_token).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    // Removal: the cashier's session dies at once and stays dead across suspend/resume.
    let remove = format!("{path}/{}", shop.cashier_id);
    let resp = app
        .request(
            Method::DELETE,
            &remove,
            Some(shop.cashier_token.as_str()),
            None,
        )
        .await;
    assert_problem(&resp, StatusCode::FORBIDDEN, "forbidden");
    let (status, _) = app
        .request(
            Method::DELETE,
            &remove,
            Some(shop.owner_token.as_str()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_problem(
        &app.get("/api/v1/offers", &shop.cashier_token).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let resp = app
        .request(
            Method::DELETE,
            &remove,
            Some(shop.owner_token.as_str()),
            None,
        )
        .await;
    assert_problem(&resp, StatusCode::NOT_FOUND, "not_found");
    app.post(
        &format!("/api/v1/merchants/{}/suspend", shop.id),
        &admin,
        json!({"reason": "x"}),
    )
    .await;
    app.post(
        &format!("/api/v1/merchants/{}/resume", shop.id),
        &admin,
        json!({}),
    )
    .await;
    let resp = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(login_body("till-cashier")),
        )
        .await;
    assert_problem(&resp, StatusCode::FORBIDDEN, "account_inactive");
    app.login("till-2", MERCHANT_PASSWORD).await;
    let owner = app.login("till-owner", MERCHANT_PASSWORD).await;
    let (_, list) = app.get(&path, &owner).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let actions = app.audit_actions("user", shop.cashier_id).await;
    assert_eq!(actions, ["user.create", "merchant.cashier_remove"]);
}

async fn another_merchant_can_neither_see_nor_change_our_data(app: TestApp) {
    let a = app.active_merchant("alpha").await;
    let b = app.active_merchant("beta").await;
    let offer = app.active_offer(&a, offer_body("A 店九折")).await;
    let offer_id = offer["id"].as_i64().unwrap();
    let b_offer = app.active_offer(&b, offer_body("B 店九折")).await;

    for token in [&b.owner_token, &b.cashier_token] {
        // Reading: only what the public sees.
        let (status, seen) = app.get(&format!("/api/v1/merchants/{}", a.id), token).await;
        assert_eq!(status, StatusCode::OK);
        for private in [
            "bank_account",
            "bank_name",
            "contact_phone",
            "uscc",
            "status",
        ] {
            assert!(seen.get(private).is_none(), "{private} leaked: {seen}");
        }
        let forbidden: Vec<(Method, String, Option<Value>)> = vec![
            (
                Method::GET,
                format!("/api/v1/merchants/{}/cashiers", a.id),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/merchants/{}/cashiers", a.id),
                Some(json!({"username": "intruder", "password": MERCHANT_PASSWORD})),
            ),
            (
                Method::DELETE,
                format!("/api/v1/merchants/{}/cashiers/{}", a.id, a.cashier_id),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/merchants/{}/offers", a.id),
                Some(offer_body("冒名")),
            ),
            (Method::GET, format!("/api/v1/offers/{offer_id}"), None),
            (
                Method::GET,
                format!("/api/v1/offers?merchant_id={}", a.id),
                None,
            ),
            (
                Method::POST,
                format!("/api/v1/offers/{offer_id}/pause"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/offers/{offer_id}/end"),
                Some(json!({})),
            ),
            (
                Method::POST,
                format!("/api/v1/offers/{offer_id}/revise"),
                Some(offer_body("改")),
            ),
            (
                Method::POST,
                format!("/api/v1/offers/{offer_id}/approve"),
                Some(json!({})),
            ),
        ];
        for (method, path, body) in forbidden {
            let resp = app
                .request(method.clone(), &path, Some(token.as_str()), body)
                .await;
            assert_problem(&resp, StatusCode::FORBIDDEN, "forbidden");
        }
        // Their own list shows their own offers only.
        let (_, list) = app.get("/api/v1/offers", token).await;
        let ids: Vec<i64> = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_i64().unwrap())
            .collect();
        assert_eq!(ids, [b_offer["id"].as_i64().unwrap()]);
    }
    // Nothing changed at A.
    let (_, still) = app
        .get(&format!("/api/v1/offers/{offer_id}"), &a.owner_token)
        .await;
    assert_eq!(still["status"], "active");
    let (_, cashiers) = app
        .get(
            &format!("/api/v1/merchants/{}/cashiers", a.id),
            &a.owner_token,
        )
        .await;
    assert_eq!(cashiers.as_array().unwrap().len(), 1);
    app.login("alpha-cashier", MERCHANT_PASSWORD).await;
    // A's own cashier sees A's record, bank account masked; A's owner the full number.
    let (_, own) = app
        .get(&format!("/api/v1/merchants/{}", a.id), &a.cashier_token)
        .await;
    assert_eq!(own["bank_account"], "6222***********3445");
    let (_, own) = app
        .get(&format!("/api/v1/merchants/{}", a.id), &a.owner_token)
        .await;
    assert_eq!(own["bank_account"], "6222020200112233445");
    // A talent is no merchant staff.
    let talent = app.official_token(Role::Talent, "talent1").await;
    assert_problem(
        &app.get("/api/v1/offers", &talent).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

async fn the_directory_shows_only_active_merchants_and_no_private_fields(app: TestApp) {
    let live = app.active_merchant("live").await;
    app.active_offer(&live, offer_body("九折")).await;
    let gone = app.active_merchant("gone").await;
    app.apply_merchant(merchant_application("waiting")).await;
    let admin = app.admin_token().await;
    app.post(
        &format!("/api/v1/merchants/{}/suspend", gone.id),
        &admin,
        json!({"reason": "违规"}),
    )
    .await;

    let (status, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    let entry = &page["items"][0];
    assert_eq!(entry["id"].as_i64(), Some(live.id));
    assert_eq!(entry["offers"].as_array().unwrap().len(), 1);
    assert!(entry["offers"][0].get("subsidy_bp").is_none());
    let text = page.to_string();
    for private in [
        "bank_account",
        "bank_name",
        "contact_phone",
        "contact_name",
        "uscc",
        "6222",
        "13800000000",
    ] {
        assert!(!text.contains(private), "{private} in directory: {text}");
    }
    // Pending and suspended merchants are not found by id either, for the public.
    let resp = app
        .request(
            Method::GET,
            &format!("/api/v1/merchants/{}", gone.id),
            None,
            None,
        )
        .await;
    assert_problem(&resp, StatusCode::NOT_FOUND, "not_found");
    let (status, one) = app
        .request(
            Method::GET,
            &format!("/api/v1/merchants/{}", live.id),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(one.get("bank_account").is_none());
    // A bad token is refused rather than served as anonymous.
    let resp = app
        .request(Method::GET, "/api/v1/merchants", Some("expired"), None)
        .await;
    assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
    // Paused offers leave the directory; the merchant stays.
    let offer_id = entry["offers"][0]["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/offers/{offer_id}/pause"),
        &live.owner_token,
        json!({}),
    )
    .await;
    let (_, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(page["items"][0]["offers"], json!([]));
}

async fn the_directory_filters_by_category_district_tier_and_text(app: TestApp) {
    let admin = app.admin_token().await;
    for (key, category, district, tiers) in [
        ("tailor", "clothing", "船山区", vec!["A"]),
        ("noodle", "food", "射洪市", vec!["C", "E"]),
        ("hotel", "housing", "射洪市", vec!["E"]),
    ] {
        let mut body = merchant_application(key);
        body["category"] = json!(category);
        body["district"] = json!(district);
        body["address"] = json!(format!("{key} street 5"));
        let id = app.apply_merchant(body).await;
        app.post(
            &format!("/api/v1/merchants/{id}/approve"),
            &admin,
            json!({}),
        )
        .await;
        let owner = app.login(&format!("{key}-owner"), MERCHANT_PASSWORD).await;
        let mut offer = offer_body("优惠");
        offer["tiers"] = json!(tiers);
        offer["subsidy_bp"] = json!(0);
        let (status, _) = app
            .post(&format!("/api/v1/merchants/{id}/offers"), &owner, offer)
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let app_ref = &app;
    let get = |query: &'static str| async move {
        let (status, page) = app_ref
            .request(
                Method::GET,
                &format!("/api/v1/merchants?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        page
    };
    assert_eq!(names(&get("category=food").await), ["noodle 商行"]);
    assert_eq!(
        names(&get("district=%E5%B0%84%E6%B4%AA%E5%B8%82").await),
        ["hotel 商行", "noodle 商行"]
    );
    assert_eq!(names(&get("tier=C").await), ["noodle 商行"]);
    assert_eq!(
        names(&get("tier=E&district=%E5%B0%84%E6%B4%AA%E5%B8%82").await).len(),
        2
    );
    assert_eq!(names(&get("tier=B").await).len(), 0);
    assert_eq!(names(&get("q=TAILOR").await), ["tailor 商行"]);
    assert_eq!(names(&get("q=street").await).len(), 3);
    assert_eq!(names(&get("q=100%25").await).len(), 0);
    let page = get("per_page=2&page=2").await;
    assert_eq!((page["total"].as_i64(), names(&page).len()), (Some(3), 1));
    for bad in [
        "category=casino",
        "district=nowhere",
        "tier=Z",
        "per_page=500",
    ] {
        let resp = app
            .request(Method::GET, &format!("/api/v1/merchants?{bad}"), None, None)
            .await;
        assert_problem(&resp, StatusCode::UNPROCESSABLE_ENTITY, "validation");
    }
    // The tier filter also narrows the offers listed.
    let page = get("tier=E&category=food").await;
    assert_eq!(page["items"][0]["offers"][0]["tiers"], json!(["C", "E"]));
}

async fn officials_list_applications_by_status_with_masked_bank_accounts(app: TestApp) {
    let pending = app.apply_merchant(merchant_application("queue")).await;
    let shop = app.active_merchant("open").await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let (status, page) = app.get("/api/v1/merchants?status=pending", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 1);
    assert_eq!(page["items"][0]["id"].as_i64(), Some(pending));
    assert_eq!(page["items"][0]["bank_account"], "6222***********3445");
    assert_eq!(page["items"][0]["contact_phone"], "13800000000");
    let (_, all) = app.get("/api/v1/merchants?status=all", &auditor).await;
    assert_eq!(all["total"], 2);
    for token in [&shop.owner_token, &shop.cashier_token] {
        assert_problem(
            &app.get("/api/v1/merchants?status=pending", token).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        );
    }
    let resp = app
        .request(Method::GET, "/api/v1/merchants?status=pending", None, None)
        .await;
    assert_problem(&resp, StatusCode::FORBIDDEN, "forbidden");
    assert_problem(
        &app.get("/api/v1/merchants?status=sleeping", &auditor).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
}

async fn official_views_of_bank_details_are_audited(app: TestApp) {
    let id = app.apply_merchant(merchant_application("view")).await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let (status, record) = app.get(&format!("/api/v1/merchants/{id}"), &auditor).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(record["bank_account"], "6222020200112233445");
    assert_eq!(record["status"], "pending");
    assert_eq!(
        app.audit_actions("merchant", id).await,
        ["merchant.apply", "merchant.view_bank_account"]
    );
}

async fn demo_data_fills_the_directory_and_its_logins_work(app: TestApp) {
    // `demo::seed` skips databases that already have an admin (as every test app does),
    // so the merchant part is seeded directly.
    let districts = app.config.districts.clone();
    let logins = app
        .with_conn(move |conn| {
            let mut n = 0;
            let mut password = move || {
                n += 1;
                format!("demo-password-{n}")
            };
            talentcard::demo::merchants::seed(conn, &districts, &mut password).expect("demo seed")
        })
        .await;
    let (status, page) = app
        .request(Method::GET, "/api/v1/merchants", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 5);
    for entry in page["items"].as_array().unwrap() {
        assert_eq!(entry["offers"].as_array().unwrap().len(), 1, "{entry}");
    }
    for role in [Role::Merchant, Role::Cashier] {
        let (_, username, password, _) = logins.iter().find(|l| l.0 == role).expect("demo login");
        app.login(username, password).await;
    }
    let auditor = app.official_token(Role::Auditor, "auditor-x").await;
    let (_, queue) = app.get("/api/v1/merchants?status=pending", &auditor).await;
    assert_eq!(queue["total"], 1);
}

async fn the_openapi_document_lists_merchant_and_offer_routes(app: TestApp) {
    let (status, doc) = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/api/v1/merchants",
        "/api/v1/merchants/{id}",
        "/api/v1/merchants/{id}/approve",
        "/api/v1/merchants/{id}/cashiers",
        "/api/v1/merchants/{id}/cashiers/{user_id}",
        "/api/v1/merchants/{id}/offers",
        "/api/v1/offers",
        "/api/v1/offers/{id}/approve",
        "/api/v1/offers/{id}/revise",
    ] {
        assert!(paths.contains_key(path), "{path} missing from OpenAPI");
    }
}

/// A step whose `{reason}` is optional still refuses a body it cannot read, and changes
/// nothing; an empty body is fine.
async fn optional_step_bodies_are_validated_not_ignored(app: TestApp) {
    let id = app.apply_merchant(merchant_application("shop")).await;
    let admin = app.admin_token().await;
    let path = format!("{}/api/v1/merchants/{id}/approve", app.address);
    let send = |body: &'static str| {
        app.client
            .post(&path)
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let malformed = send("{\"reason\": ").await.unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    let misspelled = send("{\"reasn\": \"ok\"}").await.unwrap();
    assert_eq!(misspelled.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (_, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert_eq!(
        merchant["status"], "pending",
        "a refused request changes nothing"
    );
    assert_eq!(send("").await.unwrap().status(), StatusCode::OK);
}
