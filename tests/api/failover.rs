//! The primary PostgreSQL dies under load and its synchronous standby is promoted
//! (DESIGN §12), deterministically: two plain clusters, the test kills one and promotes
//! the other. The app, on a multi-host URL with `target_session_attrs=read-write`,
//! follows the new primary without a restart; every redemption it acknowledged is
//! there (0 lost), none twice; during the switch it answers 503, never 500; the budget
//! and the audit chain verify afterwards.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use talentcard::loadgen::{self, Fire};
use talentcard::schema::redemptions;

use crate::helpers::TestApp;
use crate::pgcluster::Cluster;

#[actix_web::test]
async fn a_promoted_standby_has_every_acknowledged_redemption_and_the_switch_answers_503() {
    let Some(primary) = Cluster::create("the failover test") else {
        return;
    };
    let standby = primary.standby();
    primary.require_synchronous_standby();
    let url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let app = TestApp::spawn_on_postgres(&url).await;
    let (seeded, secrets) = app.loadgen_seed(300).await;
    let token = app.login(&seeded.cashier, &seeded.password).await;

    let started = Instant::now();
    let fire = loadgen::fire(Fire {
        url: app.address.clone(),
        token,
        offer_id: seeded.offer_id,
        keys: secrets.code.clone(),
        card_ids: seeded.card_ids,
        concurrency: 6,
        duration: Duration::from_secs(16),
        rate: Some(80.0),
        ticker: None,
    });
    let failover = async move {
        tokio::time::sleep(Duration::from_secs(4)).await;
        let killed_at = started.elapsed();
        let primary = actix_web::rt::task::spawn_blocking(move || {
            primary.kill();
            primary
        })
        .await
        .unwrap();
        // The app meets the dead primary and a standby that refuses writes meanwhile.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let standby = actix_web::rt::task::spawn_blocking(move || {
            standby.promote();
            standby
        })
        .await
        .unwrap();
        (killed_at, started.elapsed(), primary, standby)
    };
    let (report, (killed_at, promoted_at, _primary, _standby)) = tokio::join!(fire, failover);
    let report = report.expect("loadgen report");
    report.print();
    println!("killed at {killed_at:.1?}, promoted at {promoted_at:.1?}");

    let server_errors: Vec<_> = report
        .errors_by_status
        .iter()
        .filter(|(status, _)| **status >= 500 && **status != 503)
        .collect();
    assert!(
        server_errors.is_empty(),
        "only 503 while the primary moves: {:?}",
        report.errors_by_status
    );
    assert!(
        report.errors_by_status.get(&503).is_some_and(|n| *n > 0) || report.connection_errors > 0,
        "the switch went unnoticed: {:?}",
        report.errors_by_status
    );
    assert_eq!(report.gave_up, 0, "every lost answer was answered on retry");
    let before = report
        .acknowledged
        .iter()
        .filter(|a| a.at < killed_at)
        .count();
    let after = report
        .acknowledged
        .iter()
        .filter(|a| a.at > promoted_at + Duration::from_secs(1))
        .count();
    assert!(before > 100, "load before the kill: {before}");
    assert!(
        after > 100,
        "service came back on the new primary without a restart: {after}"
    );

    let acknowledged: Vec<i64> = report.acknowledged.iter().map(|a| a.id).collect();
    assert_eq!(
        acknowledged.iter().collect::<HashSet<_>>().len(),
        acknowledged.len(),
        "one redemption per acknowledgement"
    );
    let (kept, total, distinct_codes, reconciled, audit) = app
        .with_conn(move |conn| {
            let kept: i64 = redemptions::table
                .filter(redemptions::id.eq_any(&acknowledged))
                .count()
                .get_result(conn)
                .unwrap();
            let total: i64 = redemptions::table.count().get_result(conn).unwrap();
            let codes: Vec<(i64, i64, i32)> = redemptions::table
                .select((
                    redemptions::card_id,
                    redemptions::code_window,
                    redemptions::code_slot,
                ))
                .load(conn)
                .unwrap();
            let distinct = codes.iter().collect::<HashSet<_>>().len() as i64;
            talentcard::audit::seal_pending(conn).expect("sealing");
            let reconciled = talentcard::budgets::ledger::reconcile(conn).unwrap();
            let audit = talentcard::audit::verify(conn, &secrets).unwrap();
            (kept, total, distinct, reconciled, audit)
        })
        .await;
    assert_eq!(
        kept as usize,
        report.acknowledged.len(),
        "every acknowledged redemption is on the new primary"
    );
    assert_eq!(total, kept, "nothing unacknowledged was left behind twice");
    assert_eq!(distinct_codes, total, "no code redeemed twice");
    assert!(reconciled.ok, "the budget adds up: {reconciled:?}");
    assert!(audit.ok, "the audit chain verifies: {audit:?}");
}
