//! Reports read from the standby when `REPLICA_DATABASE_URL` names one, and from the
//! primary when the standby is gone (DESIGN §12). The standby's replay is paused, so a
//! report that still lacks the newest redemptions can only have come from it.

use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use talentcard::loadgen::{self, Fire};

use crate::helpers::TestApp;
use crate::pgcluster::Cluster;

/// Redemptions counted by the report and by its spreadsheet (the total row).
async fn reported(app: &TestApp, token: &str) -> (i64, i64) {
    let (status, report) = app
        .get("/api/v1/reports/subsidies?group_by=category", token)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let res = app
        .client
        .get(format!(
            "{}/api/v1/reports/subsidies/export?group_by=category",
            app.address
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let total_row = sheet
        .rows()
        .rfind(|row| matches!(row.get(1), Some(Data::Float(_))))
        .expect("a total row");
    let Some(Data::Float(exported)) = total_row.get(1) else {
        unreachable!()
    };
    (report["total"]["count"].as_i64().unwrap(), *exported as i64)
}

/// Redemptions made through the app; how many.
async fn redeem(fire: Fire) -> i64 {
    let report = loadgen::fire(fire).await.expect("loadgen");
    assert!(report.ok > 0 && report.errors == 0, "{report:?}");
    report.ok as i64
}

#[actix_web::test]
async fn reports_read_from_the_standby_and_from_the_primary_when_it_is_gone() {
    let Some(primary) = Cluster::create("the replica reports test") else {
        return;
    };
    let standby = primary.standby();
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres", primary.port);
    // libpq prefers the standby and takes the primary when no standby answers; the app
    // falls back to the primary too when the replica's pool cannot reach it.
    let replica = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=prefer-standby",
        standby.port, primary.port
    );
    let app = TestApp::spawn_on_postgres_with(&url, |config| {
        config.replica_database_url = Some(talentcard::db::DatabaseUrl::parse(&replica).unwrap());
    })
    .await;
    let admin = app.admin_token().await;
    let (seeded, secrets) = app.loadgen_seed(100).await;
    let token = app.login(&seeded.cashier, &seeded.password).await;
    // Each round its own cards: a round's codes start again at the window's first slot.
    let (round1, round2) = seeded.card_ids.split_at(50);
    let fire = |cards: &[i64]| Fire {
        url: app.address.clone(),
        token: token.clone(),
        offer_id: seeded.offer_id,
        keys: secrets.code.clone(),
        card_ids: cards.to_vec(),
        concurrency: 2,
        duration: Duration::from_millis(700),
        rate: Some(30.0),
        ticker: None,
    };
    let first = redeem(fire(round1)).await;
    // The standby has replayed everything the primary wrote so far.
    let written = primary.sql("SELECT pg_current_wal_lsn()");
    for _ in 0..100 {
        if standby.sql(&format!("SELECT pg_last_wal_replay_lsn() >= '{written}'")) == "t" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(reported(&app, &admin).await, (first, first));

    // An instance whose URL finds only the standby is not ready: it takes no writes.
    let on_standby = talentcard::db::Db::connect(
        &talentcard::db::DatabaseUrl::parse(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            standby.port
        ))
        .unwrap(),
        1,
        false,
    )
    .unwrap();
    let not_ready = on_standby.ping().await.expect_err("a standby is not ready");
    assert_eq!(
        actix_web::ResponseError::status_code(&not_ready).as_u16(),
        503
    );

    standby.sql("SELECT pg_wal_replay_pause()");
    let second = redeem(fire(round2)).await;
    assert_eq!(
        reported(&app, &admin).await,
        (first, first),
        "the report and the export read the paused standby, without the {second} newest"
    );

    let standby = actix_web::rt::task::spawn_blocking(move || {
        standby.stop();
        standby
    })
    .await
    .unwrap();
    assert_eq!(
        reported(&app, &admin).await,
        (first + second, first + second),
        "with the standby gone, the primary answers"
    );
    drop(standby);
}
