//! The holder is told of every use (DESIGN §11): each redemption is posted to the
//! message gateway's webhook — signed, retried after a failure, delivered once. The
//! gateway here is a small receiver the test starts on loopback, failing its first call.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, offer_body};
use crate::redemptions::{counter, mint, now, redeem};
use crate::talents::phone;

#[derive(Default)]
struct Received {
    /// Every call: (Idempotency-Key, signature, body, answered status).
    calls: Vec<(String, String, Vec<u8>, u16)>,
}

/// A gateway on loopback that answers 500 to its first call and 200 after.
async fn gateway() -> (String, Arc<Mutex<Received>>, actix_web::dev::ServerHandle) {
    let received = Arc::new(Mutex::new(Received::default()));
    let shared = received.clone();
    let server = HttpServer::new(move || {
        let shared = shared.clone();
        App::new().default_service(web::to(move |req: HttpRequest, body: web::Bytes| {
            let shared = shared.clone();
            async move {
                let header = |name: &str| {
                    req.headers()
                        .get(name)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let mut seen = shared.lock().unwrap();
                let status = if seen.calls.is_empty() { 500 } else { 200 };
                seen.calls.push((
                    header("Idempotency-Key"),
                    header("X-Talentcard-Signature"),
                    body.to_vec(),
                    status,
                ));
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let port = server.addrs()[0].port();
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    (format!("http://127.0.0.1:{port}/notify"), received, handle)
}

async fn every_redemption_reaches_the_gateway_once(backend: Backend) {
    let (url, received, gateway) = gateway().await;
    let Some(app) = TestApp::spawn_with(backend, |config| {
        config.notify_webhook_url = Some(url.clone());
    })
    .await
    else {
        return;
    };
    let c = counter(&app, "notify", 31, offer_body("九折")).await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, receipt) = redeem(
        &app,
        &c.merchant.cashier_token,
        "notify-1",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{receipt}");
    // At once in the talent's own history.
    let (_, mine) = app.get("/api/v1/me/redemptions", &c.talent_token).await;
    assert_eq!(mine["items"][0]["id"], receipt["id"]);

    // The first post fails, the retry (a second later) is taken.
    let mut delivered = false;
    for _ in 0..100 {
        if received.lock().unwrap().calls.iter().any(|c| c.3 == 200) {
            delivered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(delivered, "the gateway got the notification within 10 s");
    // Nothing more comes: delivered once.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let calls = received.lock().unwrap().calls.clone();
    assert_eq!(calls.len(), 2, "one failed attempt, one delivery");
    assert_eq!(calls[0].0, calls[1].0, "the retry is the same notification");
    let (key, signature, body, _) = &calls[1];
    assert_eq!(
        signature,
        &talentcard::notify::signature(&app.state.secrets.webhook_key(), body),
        "signed with the deployment's webhook key"
    );
    let notice: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(notice["id"].to_string(), *key);
    assert_eq!(notice["redemption_id"], receipt["id"]);
    assert_eq!(
        notice["phone"],
        phone(31),
        "the SMS goes to the holder's phone"
    );
    assert_eq!(notice["paid_fen"], 9_000);
    assert_eq!(notice["by_pin"], false);
    assert_eq!(notice["card_last4"], &c.card_no[8..]);
    let text = notice["text"].as_str().unwrap();
    assert!(
        text.contains("notify 商行") && text.contains("实付90.00元"),
        "{text}"
    );
    let (attempts, delivered_at) = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use talentcard::schema::notifications as n;
            n::table
                .select((n::attempts, n::delivered_at.is_not_null()))
                .first::<(i32, bool)>(conn)
                .unwrap()
        })
        .await;
    assert_eq!((attempts, delivered_at), (2, true));
    gateway.stop(false).await;
    app.stop().await;
}

#[actix_web::test]
async fn every_redemption_reaches_the_gateway_once_sqlite() {
    every_redemption_reaches_the_gateway_once(Backend::Sqlite).await;
}

#[actix_web::test]
async fn every_redemption_reaches_the_gateway_once_postgres() {
    every_redemption_reaches_the_gateway_once(Backend::Postgres).await;
}
