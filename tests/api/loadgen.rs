//! `talentcard loadgen` keeps loading a server that restarts under it: connection
//! errors are counted apart and the client reconnects.

use std::time::{Duration, Instant};

use diesel::{QueryDsl, RunQueryDsl};
use talentcard::db::Db;
use talentcard::loadgen;
use talentcard::secrets::Secrets;
use talentcard::startup::Application;

use crate::helpers::{Backend, TestApp};

async fn redemption_count(db: &Db) -> i64 {
    let db = db.clone();
    actix_web::web::block(move || {
        let mut conn = db.get().expect("connection");
        talentcard::schema::redemptions::table
            .count()
            .get_result::<i64>(&mut conn)
            .expect("count")
    })
    .await
    .unwrap()
}

#[actix_web::test]
async fn loadgen_reconnects_after_the_server_restarts() {
    let app = TestApp::spawn(Backend::Sqlite).await.expect("SQLite app");
    let (seeded, secrets) = app.loadgen_seed(200).await;
    let token = app.login(&seeded.cashier, &seeded.password).await;
    let base_url = format!("http://127.0.0.1:{}", app.port);
    let fire = loadgen::fire(loadgen::Fire {
        url: base_url,
        token,
        offer_id: seeded.offer_id,
        keys: secrets.code.clone(),
        card_ids: seeded.card_ids,
        concurrency: 4,
        duration: Duration::from_secs(4),
        rate: Some(200.0),
        ticker: None,
    });
    let restart = async {
        tokio::time::sleep(Duration::from_millis(1200)).await;
        app.stop().await;
        let mut config = app.config.clone();
        config.bind = format!("127.0.0.1:{}", app.port);
        let db = Db::connect(&config.database_url, config.db_pool_size, true).expect("database");
        let secrets = Secrets::load(&config.secret_key_file).expect("secrets");
        let restarted = Application::build_with(config, db.clone(), secrets).expect("restart");
        let before_restart = redemption_count(&db).await;
        actix_web::rt::spawn(restarted.run_until_stopped());
        (db, before_restart, Instant::now())
    };
    let (report, (db, before_restart, restarted_at)) = tokio::join!(fire, restart);
    let report = report.expect("loadgen report");
    let after = redemption_count(&db).await;
    println!(
        "loadgen across a restart: {} ok, {} refused, {} connection errors; {} redemptions in the {:.1?} after the restart",
        report.ok,
        report.errors,
        report.connection_errors,
        after - before_restart,
        restarted_at.elapsed()
    );
    assert!(report.connection_errors > 0, "the restart went unnoticed");
    assert!(
        after - before_restart > 50,
        "loadgen stopped loading after the restart: {} redemptions",
        after - before_restart
    );
}

/// The realistic mix (DESIGN §7) works end to end on both backends: a city seeded in a
/// few statements, every cashier logged in, sales as quote then redeem, and refusals
/// counted by their problem code — expired codes among them — with no server errors.
async fn the_realistic_mix_sells_and_counts_refusals_by_code(app: TestApp) {
    let secrets = Secrets::load(&app.config.secret_key_file).expect("secrets");
    let options = loadgen::Options {
        url: format!("http://127.0.0.1:{}", app.port),
        cards: 400,
        concurrency: 4,
        duration: Duration::from_secs(3),
        rate: Some(120.0),
        realistic: true,
        merchants: 12,
        per_second: false,
        acknowledged: None,
    };
    let report = loadgen::realistic_mix(app.config.clone(), secrets, &options)
        .await
        .expect("the realistic mix ran");
    report.print();
    assert!(report.sales > 100, "{report:?}");
    assert!(
        report.errors.is_empty(),
        "no server errors: {:?}",
        report.errors
    );
    assert!(
        report.refused.contains_key("code_expired"),
        "one code in a hundred is expired: {:?}",
        report.refused
    );
    let refused: u64 = report.refused.values().sum();
    assert_eq!(
        report.quote.len() as u64,
        report.sales + refused,
        "every attempt was quoted once and ended in a sale or a refusal"
    );
    // What the report counts is in the database: one redemption per sale.
    let admin = app.admin_token().await;
    let (_, ledger) = app.get("/api/v1/redemptions?per_page=1", &admin).await;
    assert_eq!(ledger["total"].as_u64(), Some(report.sales), "{ledger}");
    let (_, envelopes) = app
        .get(
            &format!(
                "/api/v1/budgets/{}",
                chrono::Datelike::year(&talentcard::time::to_local(talentcard::time::now()))
            ),
            &admin,
        )
        .await;
    assert!(
        envelopes.to_string().contains("food"),
        "the mix runs with category envelopes: {envelopes}"
    );
}

crate::both_backends!(the_realistic_mix_sells_and_counts_refusals_by_code);
