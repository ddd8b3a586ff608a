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
    let secrets = Secrets::load(&app.config.secret_key_file).expect("secrets");
    let config = app.config.clone();
    let seeded = actix_web::web::block({
        let secrets = Secrets::load(&config.secret_key_file).expect("secrets");
        move || loadgen::seed(&config, &secrets, 200)
    })
    .await
    .unwrap()
    .expect("seeded");
    let token = app.login(&seeded.cashier, &seeded.password).await;
    let base_url = format!("http://127.0.0.1:{}", app.port);
    let fire = loadgen::fire(
        &base_url,
        &token,
        seeded.offer_id,
        secrets.code.clone(),
        seeded.card_ids,
        4,
        Duration::from_secs(4),
        Some(200.0),
    );
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
