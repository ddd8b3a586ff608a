use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem};

/// A valid resident ID number, distinct per `seq`.
pub fn id_number(seq: u32) -> String {
    let body = format!("51090219900101{seq:03}");
    let check = talentcard::talents::domain::id_check_char(body.as_bytes());
    format!("{body}{}", char::from(check))
}

pub fn phone(seq: u32) -> String {
    format!("139{seq:08}")
}

pub const TALENT_PASSWORD: &str = "talent-password-1";

pub async fn create_talent(app: &TestApp, token: &str, seq: u32, tier: &str) -> Value {
    let (status, body) = app
        .post(
            "/api/v1/talents",
            token,
            json!({"name": format!("测试{seq}"), "id_number": id_number(seq), "phone": phone(seq),
                   "employer": "遂州大学", "tier": tier, "password": TALENT_PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

/// A talent with an active card: (talent id, card number, the talent's token).
pub async fn talent_with_card(app: &TestApp, seq: u32, tier: &str) -> (i64, String, String) {
    let admin = app.admin_token().await;
    let talent = create_talent(app, &admin, seq, tier).await;
    let id = talent["id"].as_i64().unwrap();
    let (status, card) = app
        .post(&format!("/api/v1/talents/{id}/cards"), &admin, json!({}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let token = app.login(&phone(seq), TALENT_PASSWORD).await;
    (id, card["card_no"].as_str().unwrap().to_owned(), token)
}

/// One token per role (None = anonymous), for role matrices.
pub async fn role_tokens(app: &TestApp) -> Vec<(&'static str, Option<String>)> {
    let admin = app.admin_token().await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let merchant = app.official_token(Role::Merchant, "merchant1").await;
    let cashier = app.official_token(Role::Cashier, "cashier1").await;
    create_talent(app, &admin, 900, "E").await;
    let talent = app.login(&phone(900), TALENT_PASSWORD).await;
    vec![
        ("admin", Some(admin)),
        ("auditor", Some(auditor)),
        ("merchant", Some(merchant)),
        ("cashier", Some(cashier)),
        ("talent", Some(talent)),
        ("anonymous", None),
    ]
}

async fn admin_creates_a_talent_who_logs_in_with_the_phone(app: TestApp) {
    let admin = app.admin_token().await;
    let body = create_talent(&app, &admin, 1, "A").await;
    assert_eq!(body["name"], "测试1");
    assert_eq!(body["tier"], "A");
    assert_eq!(
        body["id_number_masked"],
        format!("5109**********{}", &id_number(1)[14..])
    );
    assert_eq!(body["phone_masked"], "139****0001");
    // The login name is the phone: the admin just typed it, so it is echoed once here.
    assert_eq!(body["login"]["username"], phone(1));
    assert!(body["card"].is_null());
    assert!(!body.to_string().contains(&id_number(1)[..14]));
    let token = app.login(&phone(1), TALENT_PASSWORD).await;
    let (status, own) = app
        .get(&format!("/api/v1/talents/{}", body["id"]), &token)
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert_problem(
        &app.get("/api/v1/me/card", &token).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

async fn one_talent_per_id_number_and_per_phone(app: TestApp) {
    let admin = app.admin_token().await;
    create_talent(&app, &admin, 2, "B").await;
    let same_id = json!({"name": "王二", "id_number": id_number(2), "phone": phone(3),
                         "employer": "", "tier": "B", "password": TALENT_PASSWORD});
    let resp = app.post("/api/v1/talents", &admin, same_id).await;
    assert_problem(&resp, StatusCode::CONFLICT, "conflict");
    assert!(
        resp.1["detail"].as_str().unwrap().contains("ID number"),
        "{}",
        resp.1
    );
    assert!(
        !resp.1.to_string().contains(&id_number(2)),
        "no unmasked ID in errors"
    );
    let same_phone = json!({"name": "王三", "id_number": id_number(4), "phone": phone(2),
                            "employer": "", "tier": "B", "password": TALENT_PASSWORD});
    assert_problem(
        &app.post("/api/v1/talents", &admin, same_phone).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let (_, list) = app.get("/api/v1/talents", &admin).await;
    assert_eq!(list["total"], 1, "nothing half-written: {list}");
}

async fn bad_talent_input_is_a_clear_4xx(app: TestApp) {
    let admin = app.admin_token().await;
    let good = json!({"name": "张三", "id_number": id_number(5), "phone": phone(5),
                      "employer": "x", "tier": "C", "password": TALENT_PASSWORD});
    let mut bad_check = id_number(5).into_bytes();
    bad_check[17] = if bad_check[17] == b'1' { b'2' } else { b'1' };
    for (field, value, needle) in [
        (
            "id_number",
            json!(String::from_utf8(bad_check).unwrap()),
            "check character",
        ),
        ("id_number", json!("51090219901301001X"), "birth date"),
        ("id_number", json!("123"), "18 characters"),
        ("phone", json!("12345678901"), "phone"),
        ("name", json!(""), "name"),
        ("password", json!("x"), "password"),
    ] {
        let mut body = good.clone();
        body[field] = value;
        let (status, problem) = app.post("/api/v1/talents", &admin, body).await;
        assert!(status.is_client_error(), "{field}: {status} {problem}");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains(needle),
            "{field}: {problem}"
        );
    }
    let mut body = good.clone();
    body["tier"] = json!("Z");
    let (status, _) = app.post("/api/v1/talents", &admin, body).await;
    assert!(status.is_client_error());
    let mut body = good.clone();
    body["nickname"] = json!("x");
    let (status, _) = app.post("/api/v1/talents", &admin, body).await;
    assert!(status.is_client_error(), "unknown fields refused");
    let (_, list) = app.get("/api/v1/talents", &admin).await;
    assert_eq!(list["total"], 0);
}

async fn lists_are_masked_paged_and_filtered(app: TestApp) {
    let admin = app.admin_token().await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    create_talent(&app, &admin, 11, "A").await;
    let with_card = create_talent(&app, &admin, 12, "C").await;
    create_talent(&app, &admin, 13, "C").await;
    let (status, _) = app
        .post(
            &format!("/api/v1/talents/{}/cards", with_card["id"]),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);

    let (status, page) = app.get("/api/v1/talents?per_page=2", &auditor).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let (_, page2) = app.get("/api/v1/talents?per_page=2&page=2", &auditor).await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    let (_, all) = app.get("/api/v1/talents", &admin).await;
    let text = all.to_string();
    for seq in [11, 12, 13] {
        assert!(!text.contains(&id_number(seq)), "unmasked ID in list");
        assert!(!text.contains(&phone(seq)), "unmasked phone in list");
    }
    for (query, expected) in [
        ("tier=C", 2),
        ("tier=A", 1),
        ("name=%E6%B5%8B%E8%AF%9512", 1),
        ("employer=%E9%81%82%E5%B7%9E", 3),
        ("employer=nowhere", 0),
        ("card_status=active", 1),
        ("card_status=none", 2),
        ("card_status=revoked", 0),
    ] {
        let (status, page) = app.get(&format!("/api/v1/talents?{query}"), &admin).await;
        assert_eq!(status, StatusCode::OK, "{query}: {page}");
        assert_eq!(page["total"], expected, "{query}: {page}");
    }
    let (_, active) = app.get("/api/v1/talents?card_status=active", &admin).await;
    assert_eq!(active["items"][0]["card"]["status"], "active");
    assert_problem(
        &app.get("/api/v1/talents?card_status=lost", &admin).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation",
    );
    // Exact search through the blind index, by ID number or phone.
    let (status, found) = app
        .post(
            "/api/v1/talents/lookup",
            &auditor,
            json!({"id_number": id_number(12)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["id"], with_card["id"]);
    let (_, found) = app
        .post(
            "/api/v1/talents/lookup",
            &admin,
            json!({"phone": phone(13)}),
        )
        .await;
    assert_eq!(found["name"], "测试13");
    assert_problem(
        &app.post(
            "/api/v1/talents/lookup",
            &admin,
            json!({"phone": phone(99)}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

async fn only_an_admin_sees_unmasked_pii_and_each_view_is_audited(app: TestApp) {
    let admin = app.admin_token().await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let talent = create_talent(&app, &admin, 21, "B").await;
    let path = format!("/api/v1/talents/{}/pii", talent["id"]);
    let (status, pii) = app.get(&path, &admin).await;
    assert_eq!(status, StatusCode::OK, "{pii}");
    assert_eq!(pii["id_number"], id_number(21));
    assert_eq!(pii["phone"], phone(21));
    assert_problem(
        &app.get(&path, &auditor).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let own = app.login(&phone(21), TALENT_PASSWORD).await;
    assert_problem(
        &app.get(&path, &own).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    let (_, events) = app
        .get("/api/v1/audit/events?action=talent.pii_view", &admin)
        .await;
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(events["items"][0]["actor"], "admin");
    assert_eq!(events["items"][0]["entity_id"], talent["id"].to_string());
    // Nothing in the whole audit log carries the unmasked values.
    let (_, all) = app.get("/api/v1/audit/events?per_page=200", &admin).await;
    let text = all.to_string();
    assert!(
        !text.contains(&id_number(21)) && !text.contains(&phone(21)[3..]),
        "{text}"
    );
    let (_, created) = app
        .get("/api/v1/audit/events?action=talent.create", &admin)
        .await;
    assert_eq!(created["total"], 1);
}

async fn talent_endpoints_enforce_roles(app: TestApp) {
    let tokens = role_tokens(&app).await;
    let admin = tokens[0].1.clone().unwrap();
    let other = create_talent(&app, &admin, 31, "D").await;
    let other_id = other["id"].as_i64().unwrap();
    let mut seq = 40;
    for (role, token) in &tokens {
        seq += 1;
        let create = json!({"name": "甲", "id_number": id_number(seq), "phone": phone(seq),
                            "employer": "", "tier": "E", "password": TALENT_PASSWORD});
        let cases: [(Method, String, Option<Value>, &[&str]); 4] = [
            (
                Method::POST,
                "/api/v1/talents".into(),
                Some(create),
                &["admin"],
            ),
            (
                Method::GET,
                "/api/v1/talents".into(),
                None,
                &["admin", "auditor"],
            ),
            (
                Method::GET,
                format!("/api/v1/talents/{other_id}"),
                None,
                &["admin", "auditor"],
            ),
            (
                Method::GET,
                format!("/api/v1/talents/{other_id}/pii"),
                None,
                &["admin"],
            ),
        ];
        for (method, path, body, allowed) in cases {
            let (status, resp) = app
                .request(method.clone(), &path, token.as_deref(), body)
                .await;
            let expected = if allowed.contains(role) {
                status.is_success()
            } else if token.is_none() {
                status == StatusCode::UNAUTHORIZED
            } else {
                status == StatusCode::FORBIDDEN
            };
            assert!(expected, "{role} {method} {path}: {status} {resp}");
        }
        let lookup = app
            .request(
                Method::POST,
                "/api/v1/talents/lookup",
                token.as_deref(),
                Some(json!({"phone": phone(31)})),
            )
            .await;
        assert_eq!(
            lookup.0.is_success(),
            ["admin", "auditor"].contains(role),
            "{role} lookup: {:?}",
            lookup
        );
    }
}

both_backends!(
    admin_creates_a_talent_who_logs_in_with_the_phone,
    one_talent_per_id_number_and_per_phone,
    bad_talent_input_is_a_clear_4xx,
    lists_are_masked_paged_and_filtered,
    only_an_admin_sees_unmasked_pii_and_each_view_is_audited,
    talent_endpoints_enforce_roles,
);
