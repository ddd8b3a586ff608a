//! Text from outside: control characters, bidi overrides and (in names) zero-width
//! characters are a 422 `validation` that names the field, on both backends, and nothing
//! is written (DESIGN §4).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    TestApp, assert_invalid, assert_problem, merchant_application, merchant_count, offer_body,
};
use crate::talents::{create_talent, id_number, phone, talent_with_card};

both_backends!(
    a_nul_in_the_login_username_is_a_validation_problem_not_a_server_error,
    the_public_directory_refuses_control_and_bidi_characters_in_its_search,
    workflow_reasons_refuse_control_characters_but_keep_newlines,
    offer_titles_refuse_control_bidi_and_zero_width_characters,
    talent_and_audit_filters_refuse_control_characters,
    names_shown_to_others_refuse_zero_width_characters,
    a_tab_in_the_idempotency_key_is_refused,
    the_openapi_document_states_the_text_rules_as_patterns,
    card_steps_refuse_control_characters_in_reasons,
);

async fn a_nul_in_the_login_username_is_a_validation_problem_not_a_server_error(app: TestApp) {
    for username in ["a\u{0}", "admin\u{202e}", "ad\u{7f}min"] {
        let resp = app
            .request(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"username": username, "password": "x"})),
            )
            .await;
        assert_invalid(&resp, "username");
    }
    // A password is only compared with a hash: anything goes, and a wrong one is a 401.
    let resp = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": "admin", "password": "a\u{0}b"})),
        )
        .await;
    assert_problem(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
}

async fn the_public_directory_refuses_control_and_bidi_characters_in_its_search(app: TestApp) {
    for query in [
        "q=a%00b",
        "q=%E2%80%AEevil",
        "q=%E2%81%A6x",
        "district=%7F",
        "category=food%0A",
    ] {
        let resp = app
            .request(
                Method::GET,
                &format!("/api/v1/merchants?{query}"),
                None,
                None,
            )
            .await;
        let field = query.split('=').next().unwrap();
        assert_invalid(&resp, field);
    }
    // Ordinary text still searches.
    let (status, page) = app
        .request(Method::GET, "/api/v1/merchants?q=%E5%95%86", None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
}

async fn workflow_reasons_refuse_control_characters_but_keep_newlines(app: TestApp) {
    let admin = app.admin_token().await;
    let id = app.apply_merchant(merchant_application("reasons")).await;
    for step in ["approve", "reject", "suspend"] {
        for reason in ["bad\u{0}reason", "bad\u{202d}reason", "carriage\rreturn"] {
            let resp = app
                .post(
                    &format!("/api/v1/merchants/{id}/{step}"),
                    &admin,
                    json!({"reason": reason}),
                )
                .await;
            assert_invalid(&resp, "reason");
        }
    }
    // Nothing half-written: no step recorded, still pending.
    assert_eq!(app.audit_actions("merchant", id).await, ["merchant.apply"]);
    let (status, merchant) = app.get(&format!("/api/v1/merchants/{id}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{merchant}");
    assert_eq!(merchant["status"], "pending");

    // A reason is a note: tabs and newlines are fine.
    let (status, merchant) = app
        .post(
            &format!("/api/v1/merchants/{id}/reject"),
            &admin,
            json!({"reason": "licence unreadable:\n\t- page 2 missing"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merchant}");
    assert_eq!(merchant["status"], "rejected");
}

async fn offer_titles_refuse_control_bidi_and_zero_width_characters(app: TestApp) {
    let shop = app.active_merchant("titles").await;
    for title in [
        "10% off\u{0}",
        "\u{202e}ffo %01",
        "10%\u{200b} off",
        "\u{feff}sale",
    ] {
        let resp = app
            .post(
                &format!("/api/v1/merchants/{}/offers", shop.id),
                &shop.owner_token,
                offer_body(title),
            )
            .await;
        assert_invalid(&resp, "title");
    }
    let mut body = offer_body("ok");
    body["tiers"] = json!(["A", "B\u{0}"]);
    let resp = app
        .post(
            &format!("/api/v1/merchants/{}/offers", shop.id),
            &shop.owner_token,
            body,
        )
        .await;
    assert_invalid(&resp, "tiers");
    let (status, page) = app
        .get(
            &format!("/api/v1/offers?merchant_id={}", shop.id),
            &shop.owner_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 0, "no offer may be written: {page}");
}

async fn talent_and_audit_filters_refuse_control_characters(app: TestApp) {
    let admin = app.admin_token().await;
    for (path, field) in [
        ("/api/v1/talents?name=%E5%BC%A0%00", "name"),
        ("/api/v1/talents?employer=%E2%80%AB", "employer"),
        ("/api/v1/talents?card_status=active%01", "card_status"),
        ("/api/v1/audit/events?actor=admin%00", "actor"),
        ("/api/v1/audit/events?action=card.%E2%81%A9", "action"),
        ("/api/v1/audit/events?entity_id=1%1F", "entity_id"),
        ("/api/v1/redemptions?card_no=1%00", "card_no"),
        ("/api/v1/settlements?period=2026-11%00", "period"),
    ] {
        let resp = app.get(path, &admin).await;
        assert_invalid(&resp, field);
    }
}

async fn names_shown_to_others_refuse_zero_width_characters(app: TestApp) {
    let before = merchant_count(&app).await;
    for name in [
        "遂州\u{200b}老火锅",
        "Shop\u{200d}",
        "\u{2060}Shop",
        "Shop\u{0}",
    ] {
        let mut application = merchant_application("zw");
        application["name"] = json!(name);
        let resp = app
            .request(Method::POST, "/api/v1/merchants", None, Some(application))
            .await;
        assert_invalid(&resp, "name");
    }
    assert_eq!(
        merchant_count(&app).await,
        before,
        "no merchant may be written"
    );

    let admin = app.admin_token().await;
    for name in ["张\u{200c}三", "\u{202e}三张"] {
        let resp = app
            .post(
                "/api/v1/talents",
                &admin,
                json!({"name": name, "id_number": id_number(7), "phone": phone(7),
                       "employer": "遂州大学", "tier": "C", "password": "talent-password-1"}),
            )
            .await;
        assert_invalid(&resp, "name");
    }
    // The refused talent was not written: the same person registers fine afterwards.
    create_talent(&app, &admin, 7, "C").await;
}

async fn a_tab_in_the_idempotency_key_is_refused(app: TestApp) {
    let shop = app.active_merchant("idem").await;
    let res = app
        .client
        .post(format!("{}/api/v1/redemptions", app.address))
        .bearer_auth(&shop.cashier_token)
        .header("Idempotency-Key", "key\twith-tab")
        .json(&json!({"code": "12345678901234567", "bill_fen": 1000, "offer_id": 1}))
        .send()
        .await
        .expect("request sent");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = res.json().await.expect("problem body");
    assert_eq!(body["code"], "validation", "{body}");
    assert_eq!(body["field"], "Idempotency-Key", "{body}");
}

async fn the_openapi_document_states_the_text_rules_as_patterns(app: TestApp) {
    let (status, doc) = app
        .request(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let schemas = &doc["components"]["schemas"];
    // A text field states the rule as a pattern, either through the text type's own
    // component or inline where the field adds lengths or a non-blank rule.
    let pattern_of = |schema: &str, property: &str| -> String {
        let field = &schemas[schema]["properties"][property];
        let field = match field["$ref"].as_str() {
            Some(r) => &schemas[r.trim_start_matches("#/components/schemas/")],
            None => field,
        };
        field["pattern"].as_str().unwrap_or_default().to_owned()
    };
    for (schema, property) in [
        ("Application", "contact_name"),
        ("Application", "address"),
        ("RequiredReason", "reason"),
        ("OptionalReason", "reason"),
        ("CreateTalent", "employer"),
    ] {
        let pattern = pattern_of(schema, property);
        assert!(
            pattern.contains(r"\u0000-"),
            "{schema}.{property}: {pattern:?}"
        );
    }
    // Names shown to others also refuse zero-width characters.
    for (schema, property) in [
        ("Application", "name"),
        ("CreateTalent", "name"),
        ("OfferBody", "title"),
    ] {
        let pattern = pattern_of(schema, property);
        assert!(
            pattern.contains(r"\u0000-") && pattern.contains(r"\u200B"),
            "{schema}.{property}: {pattern:?}"
        );
    }
    // Identifiers state the characters they allow, which leaves the others out.
    for (schema, property) in [
        ("Application", "uscc"),
        ("Application", "bank_account"),
        ("CreateTalent", "id_number"),
        ("CreateTalent", "phone"),
    ] {
        let pattern = pattern_of(schema, property);
        assert!(
            pattern.contains("[0-9") && !pattern.contains("[^"),
            "{schema}.{property}: {pattern:?}"
        );
    }
    assert!(schemas["Problem"]["properties"]["field"].is_object());
    // Query parameters carry the pattern inline (parameters do not register components).
    let params = doc["paths"]["/api/v1/merchants"]["get"]["parameters"]
        .as_array()
        .expect("directory parameters");
    let q = params.iter().find(|p| p["name"] == "q").expect("q");
    assert!(q.to_string().contains("pattern"), "{q}");
    // Every reference resolves.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(schemas[name].is_object(), "dangling $ref to {name}");
    }
}

async fn card_steps_refuse_control_characters_in_reasons(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, card_no, _) = talent_with_card(&app, 11, "B").await;
    for step in ["suspend", "revoke", "reissue"] {
        let resp = app
            .post(
                &format!("/api/v1/cards/{card_no}/{step}"),
                &admin,
                json!({"reason": "lost\u{0}phone"}),
            )
            .await;
        assert_invalid(&resp, "reason");
    }
    let (status, card) = app.get(&format!("/api/v1/cards/{card_no}"), &admin).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    assert_eq!(card["status"], "active", "nothing half-written: {card}");
    let resp = app.get("/api/v1/cards/1234%00", &admin).await;
    assert_invalid(&resp, "card_no");
}
