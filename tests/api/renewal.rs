//! Renewing cards (DESIGN §10): the list of cards that run out soon, its spreadsheet,
//! and `POST /cards/{no}/renew` — audited, the number and the codes unchanged.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{Datelike, Duration};
use diesel::prelude::*;
use reqwest::StatusCode;
use serde_json::json;
use talentcard::schema::cards;

use crate::both_backends;
use crate::helpers::{TestApp, assert_invalid, assert_problem};
use crate::talents::talent_with_card;

fn today() -> chrono::NaiveDate {
    talentcard::time::to_local(talentcard::time::now()).date_naive()
}

/// Makes `card_no` run out at the end of the local day `days` from today.
async fn expire_in(app: &TestApp, card_no: &str, days: i64) {
    let card_no = card_no.to_owned();
    let at = talentcard::cards::expiry_of(today() + Duration::days(days));
    app.with_conn(move |conn| {
        diesel::update(cards::table.filter(cards::card_no.eq(card_no)))
            .set(cards::expires_at.eq(at))
            .execute(conn)
            .unwrap();
    })
    .await;
}

async fn cards_running_out_are_listed_and_renewed(app: TestApp) {
    let admin = app.admin_token().await;
    let (_, soon, talent) = talent_with_card(&app, 501, "A").await;
    let (_, later, _) = talent_with_card(&app, 502, "B").await;
    let (_, far, _) = talent_with_card(&app, 503, "C").await;
    expire_in(&app, &soon, 10).await;
    expire_in(&app, &later, 40).await;
    expire_in(&app, &far, 400).await;

    let (status, list) = app
        .get("/api/v1/cards?expiring_within_days=60", &admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let numbers: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["card_no"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, [soon.as_str(), later.as_str()], "soonest first");
    assert_eq!(list["total"], 2);
    assert_invalid(
        &app.get("/api/v1/cards?expiring_within_days=0", &admin)
            .await,
        "expiring_within_days",
    );

    // The same list as a spreadsheet, numbers as text.
    let res = app
        .client
        .get(format!(
            "{}/api/v1/cards/expiring/export?expiring_within_days=60",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
    let rows: Vec<Vec<Data>> = book
        .worksheet_range("待续期")
        .unwrap()
        .rows()
        .map(|r| r.to_vec())
        .collect();
    assert_eq!(rows[2][0], Data::String(soon.clone()));
    assert_eq!(
        rows[2][4],
        Data::Float(11.0),
        "ten days after today, and today"
    );
    assert_eq!(rows.len(), 4, "title, header, two cards: {rows:?}");

    // Renewed: the same number, a later last day, audited; the talent's codes still work.
    let new_last = chrono::NaiveDate::from_ymd_opt(today().year() + 3, 6, 30).unwrap();
    let (status, renewed) = app
        .post(
            &format!("/api/v1/cards/{soon}/renew"),
            &admin,
            json!({"valid_until": new_last.to_string()}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    assert_eq!(renewed["card_no"], soon);
    assert_eq!(renewed["valid_until"], new_last.to_string());
    let (_, list) = app
        .get("/api/v1/cards?expiring_within_days=60", &admin)
        .await;
    assert_eq!(list["total"], 1, "no longer running out: {list}");
    let (status, codes) = app.get("/api/v1/me/codes", &talent).await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let card_id = renewed["id"].as_i64().unwrap();
    assert!(
        app.audit_actions("card", card_id)
            .await
            .contains(&"card.renew".to_owned())
    );

    // Not earlier than it already runs, not for a revoked card, not by anyone else.
    assert_invalid(
        &app.post(
            &format!("/api/v1/cards/{later}/renew"),
            &admin,
            json!({"valid_until": today().to_string()}),
        )
        .await,
        "valid_until",
    );
    let (status, _) = app
        .post(
            &format!("/api/v1/cards/{far}/revoke"),
            &admin,
            json!({"reason": "离开遂州"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{far}/renew"),
            &admin,
            json!({"valid_until": new_last.to_string()}),
        )
        .await,
        StatusCode::CONFLICT,
        "invalid_transition",
    );
    assert_problem(
        &app.post(
            &format!("/api/v1/cards/{later}/renew"),
            &talent,
            json!({"valid_until": new_last.to_string()}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

both_backends!(cards_running_out_are_listed_and_renewed);
