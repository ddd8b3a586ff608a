//! Family cards (附属卡, DESIGN §11): issued from a talent's card, at most four, each
//! with its own number, codes and (with a phone) login; they follow the principal card
//! through suspend, resume, revoke, reissue, tier change and renewal; offers say whether
//! family cards may use them.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{TestApp, assert_invalid, assert_problem, offer_body};
use crate::redemptions::{card_id, counter, mint, now, redeem};
use crate::talents::{TALENT_PASSWORD, id_number, phone, talent_with_card};

/// A family member's ID number: born 2015 (a child), distinct per `seq`.
fn member_id(seq: u32) -> String {
    let body = format!("51090220150601{seq:03}");
    let check = talentcard::talents::domain::id_check_char(body.as_bytes());
    format!("{body}{}", char::from(check))
}

async fn add(app: &TestApp, admin: &str, card_no: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/cards/{card_no}/dependents"), admin, body)
        .await
}

async fn add_member(app: &TestApp, admin: &str, card_no: &str, seq: u32, relation: &str) -> Value {
    let (status, body) = add(
        app,
        admin,
        card_no,
        json!({"name": format!("家属{seq}"), "id_number": member_id(seq), "relation": relation}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

async fn card(app: &TestApp, admin: &str, card_no: &str) -> Value {
    let (status, card) = app.get(&format!("/api/v1/cards/{card_no}"), admin).await;
    assert_eq!(status, StatusCode::OK, "{card}");
    card
}

fn no(member: &Value) -> String {
    member["card"]["card_no"].as_str().unwrap().to_owned()
}

async fn family_cards_are_issued_up_to_four_with_the_principals_tier_and_validity(app: TestApp) {
    let admin = app.admin_token().await;
    let (talent_id, card_no, talent_token) = talent_with_card(&app, 1, "B").await;
    let principal = card(&app, &admin, &card_no).await;

    // A spouse with a phone gets a login, activated by the code in the answer.
    let (status, spouse) = add(
        &app,
        &admin,
        &card_no,
        json!({"name": "配偶", "id_number": member_id(1), "relation": "spouse", "phone": "13900009991"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{spouse}");
    assert_eq!(spouse["card"]["kind"], "dependent");
    assert_eq!(spouse["card"]["principal_card_id"], principal["id"]);
    assert_eq!(spouse["card"]["tier"], "B");
    assert_eq!(spouse["card"]["valid_until"], principal["valid_until"]);
    assert_ne!(no(&spouse), card_no, "a number of its own");
    assert_eq!(spouse["member"]["principal_id"], talent_id);
    assert_eq!(spouse["member"]["relation"], "spouse");
    assert_eq!(spouse["member"]["phone_masked"], "139****9991");
    assert_eq!(spouse["username"], "13900009991");
    let code = spouse["activation"]["activation_code"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!spouse.to_string().contains(&member_id(1)), "ID masked");
    let (status, body) = app
        .activate("13900009991", &code, "spouse-password-1")
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let spouse_token = app.login("13900009991", "spouse-password-1").await;
    let (_, my_card) = app.get("/api/v1/me/card", &spouse_token).await;
    assert_eq!(my_card["card_no"], no(&spouse).as_str());
    assert_eq!(my_card["kind"], "dependent");
    let (status, codes) = app.get("/api/v1/me/codes", &spouse_token).await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes = codes
        .get("items")
        .unwrap_or(&codes)
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!codes.is_empty(), "family cards have codes of their own");
    let (_, mine) = app.get("/api/v1/me/family", &spouse_token).await;
    assert_eq!(mine["principal"]["name"], "测**");
    assert_eq!(mine["principal"]["relation"], "spouse");

    // A child and a parent without phones: no login; the printed card and a PIN serve.
    let child = add_member(&app, &admin, &card_no, 2, "child").await;
    assert_eq!(child["username"], Value::Null);
    assert!(child.get("activation").is_none());
    assert_eq!(child["member"]["phone_masked"], Value::Null);
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{}/pin", no(&child)),
            &admin,
            json!({"pin": "583920"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    add_member(&app, &admin, &card_no, 3, "parent").await;
    add_member(&app, &admin, &card_no, 4, "parent").await;

    // Four is the most.
    let fifth = add(
        &app,
        &admin,
        &card_no,
        json!({"name": "第五人", "id_number": member_id(5), "relation": "child"}),
    )
    .await;
    assert_problem(&fifth, StatusCode::CONFLICT, "dependents_limit");
    // One person, one card: the talent themself, or a member again.
    let again = add(
        &app,
        &admin,
        &card_no,
        json!({"name": "测试1", "id_number": id_number(1), "relation": "spouse"}),
    )
    .await;
    assert_eq!(again.0, StatusCode::CONFLICT, "{}", again.1);
    // A family card has no family of its own.
    let nested = add(
        &app,
        &admin,
        &no(&child),
        json!({"name": "孙辈", "id_number": member_id(6), "relation": "child"}),
    )
    .await;
    assert_problem(&nested, StatusCode::CONFLICT, "invalid_transition");

    // The talent and the office see the family.
    let (_, family) = app.get("/api/v1/me/family", &talent_token).await;
    assert_eq!(family["members"].as_array().unwrap().len(), 4, "{family}");
    assert_eq!(family["max_members"], 4);
    assert_eq!(family["members"][0]["has_login"], true);
    assert_eq!(family["members"][1]["has_login"], false);
    let (status, listed) = app
        .get(&format!("/api/v1/cards/{card_no}/dependents"), &admin)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().unwrap().len(), 4);
    // Family members are not talents of the bureau's list; they are findable.
    let (_, talents) = app.get("/api/v1/talents", &admin).await;
    assert_eq!(talents["total"], 1, "{talents}");
    // A card is not issued to a family member directly.
    let member = child["member"]["id"].as_i64().unwrap();
    let direct = app
        .post(
            &format!("/api/v1/talents/{member}/cards"),
            &admin,
            json!({}),
        )
        .await;
    assert_problem(&direct, StatusCode::CONFLICT, "invalid_transition");
}

async fn family_cards_follow_the_principal_card(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, card_no, _) = talent_with_card(&app, 1, "B").await;
    let spouse = no(&add_member(&app, &admin, &card_no, 1, "spouse").await);
    let child = no(&add_member(&app, &admin, &card_no, 2, "child").await);
    // An official suspends the child's card on its own account first.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{child}/suspend"),
            &admin,
            json!({"reason": "家长申请暂停"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{card_no}/suspend"),
            &admin,
            json!({"reason": "调查中"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(card(&app, &admin, &spouse).await["status"], "suspended");
    // While the principal is suspended no family card resumes.
    let early = app
        .post(&format!("/api/v1/cards/{spouse}/resume"), &admin, json!({}))
        .await;
    assert_problem(&early, StatusCode::CONFLICT, "invalid_transition");
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{card_no}/resume"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(card(&app, &admin, &spouse).await["status"], "active");
    let child_card = card(&app, &admin, &child).await;
    assert_eq!(
        child_card["status"], "suspended",
        "suspended on its own account, it stays so: {child_card}"
    );
    assert_eq!(child_card["status_reason"], "家长申请暂停");

    // Reissued at tier A: the family moves to the new card and takes its tier.
    let (status, reissued) = app
        .post(
            &format!("/api/v1/cards/{card_no}/reissue"),
            &admin,
            json!({"reason": "晋升", "tier": "A"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{reissued}");
    let new_no = reissued["new"]["card_no"].as_str().unwrap().to_owned();
    let new_card = card(&app, &admin, &new_no).await;
    let spouse_card = card(&app, &admin, &spouse).await;
    assert_eq!(spouse_card["principal_card_id"], new_card["id"]);
    assert_eq!(spouse_card["tier"], "A");
    assert_eq!(spouse_card["status"], "active");
    assert_eq!(card(&app, &admin, &child).await["tier"], "A");
    let (_, family) = app
        .get(&format!("/api/v1/cards/{new_no}/dependents"), &admin)
        .await;
    assert_eq!(family.as_array().unwrap().len(), 2, "{family}");
    // A family card cannot choose its own tier or validity.
    let own_tier = app
        .post(
            &format!("/api/v1/cards/{spouse}/reissue"),
            &admin,
            json!({"reason": "x", "tier": "C"}),
        )
        .await;
    assert_invalid(&own_tier, "tier");
    let own_renewal = app
        .post(
            &format!("/api/v1/cards/{spouse}/renew"),
            &admin,
            json!({"valid_until": "2040-12-31"}),
        )
        .await;
    assert_problem(&own_renewal, StatusCode::CONFLICT, "invalid_transition");
    // A lost family card is reissued under the same principal card.
    let (status, lost) = app
        .post(
            &format!("/api/v1/cards/{spouse}/reissue"),
            &admin,
            json!({"reason": "丢失"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{lost}");
    assert_eq!(lost["old"]["card_no"], spouse.as_str());
    let spouse_now = lost["new"]["card_no"].as_str().unwrap().to_owned();
    let spouse_card = card(&app, &admin, &spouse_now).await;
    assert_eq!(spouse_card["principal_card_id"], new_card["id"]);
    assert_eq!(spouse_card["valid_until"], new_card["valid_until"]);

    // Renewed: the family's validity follows.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{new_no}/renew"),
            &admin,
            json!({"valid_until": "2040-12-31"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        card(&app, &admin, &spouse_now).await["valid_until"],
        "2040-12-31"
    );
    assert_eq!(
        card(&app, &admin, &child).await["valid_until"],
        "2040-12-31"
    );

    // Revoked: so are the family cards.
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{new_no}/revoke"),
            &admin,
            json!({"reason": "离开遂州"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for member in [&spouse_now, &child] {
        let c = card(&app, &admin, member).await;
        assert_eq!(c["status"], "revoked", "{c}");
    }
    // Every step is in the audit log under the family card.
    let spouse_id = spouse_card["id"].as_i64().unwrap();
    let actions = app.audit_actions("card", spouse_id).await;
    for action in ["card.issue", "card.renew", "card.revoke"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

async fn offers_say_whether_family_cards_may_use_them(app: TestApp) {
    let c = counter(&app, "family-shop", 1, offer_body("本人专享九折")).await;
    let child = add_member(&app, &c.admin, &c.card_no, 1, "child").await;
    let child_card = card_id(&app, &c.admin, &no(&child)).await;
    let code = mint(&app, child_card, now(), 0);
    let (status, quote) = app
        .post(
            "/api/v1/redemptions/quote",
            &c.merchant.cashier_token,
            json!({"code": code, "bill_fen": 10_000}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["family_card"], true);
    assert_eq!(quote["chosen"], Value::Null);
    assert_eq!(
        quote["offers"][0]["reason"], "not_for_dependents",
        "{quote}"
    );
    let refused = redeem(
        &app,
        &c.merchant.cashier_token,
        "fam-1",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_problem(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "not_for_dependents",
    );

    // Opening it to family cards changes its money terms: a new version.
    let mut open = offer_body("全家九折");
    open["dependents"] = json!(true);
    let (status, revised) = app
        .post(
            &format!("/api/v1/offers/{}/revise", c.offer_id),
            &c.merchant.owner_token,
            open,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{revised}");
    assert_eq!(revised["dependents"], true);
    assert_eq!(revised["replaces_id"], c.offer_id);
    let (status, approved) = app
        .post(
            &format!("/api/v1/offers/{}/approve", revised["id"]),
            &c.admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    let family_offer = approved["id"].as_i64().unwrap();
    let (status, made) = redeem(
        &app,
        &c.merchant.cashier_token,
        "fam-2",
        json!({"code": code, "bill_fen": 10_000, "offer_id": family_offer}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["family_card"], true);
    assert_eq!(made["discount_fen"], 1_000);

    // The talent sees the family card's use in their history; the child has no login.
    let (_, history) = app.get("/api/v1/me/redemptions", &c.talent_token).await;
    assert_eq!(history["total"], 1, "{history}");
    assert_eq!(history["items"][0]["family_card"], true);
    assert_eq!(history["items"][0]["talent"]["masked_name"], "家**");
    let redemption = history["items"][0]["id"].as_i64().unwrap();
    let (status, _) = app
        .get(
            &format!("/api/v1/redemptions/{redemption}"),
            &c.talent_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // The talent answers for the child's card: they may dispute its use.
    let (status, dispute) = app
        .post(
            &format!("/api/v1/redemptions/{redemption}/dispute"),
            &c.talent_token,
            json!({"reason": "孩子说没有去过这家店"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{dispute}");
    let (_, disputes) = app.get("/api/v1/disputes", &c.talent_token).await;
    assert_eq!(disputes["total"], 1, "{disputes}");
    // Another talent may not see it.
    let (_, _, stranger) = talent_with_card(&app, 2, "B").await;
    let (status, _) = app
        .get(&format!("/api/v1/redemptions/{redemption}"), &stranger)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Reports split the talents' own cards from family cards.
    let (status, report) = app
        .get("/api/v1/reports/subsidies?group_by=card_kind", &c.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows"][0]["key"], "dependent", "{report}");
    assert_eq!(report["rows"][0]["count"], 1);
    assert_eq!(report["rows"][0]["label"], "附属卡");
}

async fn four_additions_at_once_make_no_fifth(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, card_no, _) = talent_with_card(&app, 1, "C").await;
    add_member(&app, &admin, &card_no, 1, "spouse").await;
    let tries = (2..=7u32).map(|seq| {
        let (app, admin, card_no) = (&app, &admin, &card_no);
        async move {
            add(
                app,
                admin,
                card_no,
                json!({"name": format!("家属{seq}"), "id_number": member_id(seq), "relation": "child"}),
            )
            .await
        }
    });
    let results = futures_util::future::join_all(tries).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    assert_eq!(created, 3, "{results:?}");
    for (status, body) in &results {
        assert!(
            *status == StatusCode::CREATED || body["code"] == "dependents_limit",
            "{status} {body}"
        );
    }
}

async fn bad_family_requests_are_refused_clearly(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, card_no, talent_token) = talent_with_card(&app, 1, "C").await;
    let path = format!("/api/v1/cards/{card_no}/dependents");
    let good = json!({"name": "家属", "id_number": member_id(1), "relation": "child"});
    for (field, value) in [
        ("id_number", json!("510902201506010000")),
        ("name", json!("")),
        ("phone", json!("12345")),
    ] {
        let mut body = good.clone();
        body[field] = value;
        assert_invalid(&app.post(&path, &admin, body).await, field);
    }
    let mut wrong_relation = good.clone();
    wrong_relation["relation"] = json!("cousin");
    let (status, body) = app.post(&path, &admin, wrong_relation).await;
    assert!(status.is_client_error(), "{status} {body}");
    let mut null_phone = good.clone();
    null_phone["phone"] = Value::Null;
    let (status, _) = app.post(&path, &admin, null_phone).await;
    assert!(status.is_client_error());
    let (status, _) = app
        .post("/api/v1/cards/123/dependents", &admin, good.clone())
        .await;
    assert!(status.is_client_error());
    // Only an administrator adds; a talent cannot add to their own card nor list others'.
    let (status, _) = app.post(&path, &talent_token, good.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.get(&path, &talent_token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Nothing half-written by the refusals.
    let (_, listed) = app.get(&path, &admin).await;
    assert_eq!(listed, json!([]));
    let phone_taken = {
        let mut body = good.clone();
        body["phone"] = json!(phone(1));
        app.post(&path, &admin, body).await
    };
    assert_eq!(phone_taken.0, StatusCode::CONFLICT, "{}", phone_taken.1);
    let _ = TALENT_PASSWORD;
}

both_backends!(
    family_cards_are_issued_up_to_four_with_the_principals_tier_and_validity,
    family_cards_follow_the_principal_card,
    offers_say_whether_family_cards_may_use_them,
    four_additions_at_once_make_no_fifth,
    bad_family_requests_are_refused_clearly,
);
