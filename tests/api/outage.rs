//! The database goes away under load and comes back: every answer meanwhile is a 503
//! with `Retry-After` (never a 500), from the first request on, and service returns
//! without restarting the app. Runs on a throwaway PostgreSQL cluster the test stops.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::TestApp;
use crate::pgcluster::Cluster;

/// What the load saw: (milliseconds since start, status, had Retry-After) per answer.
type Seen = Arc<Mutex<Vec<(u128, u16, bool)>>>;

async fn load(
    app_address: String,
    token: String,
    seen: Seen,
    started: Instant,
    done: Arc<AtomicBool>,
) {
    let client = reqwest::Client::new();
    let mut n = 0u32;
    while !done.load(Ordering::Relaxed) {
        n += 1;
        // A login-protected read (the session row), readiness, and a write.
        let request = match n % 3 {
            0 => client
                .get(format!("{app_address}/api/v1/me"))
                .bearer_auth(&token),
            1 => client.get(format!("{app_address}/readyz")),
            _ => client
                .post(format!("{app_address}/api/v1/merchants/999999/suspend"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"reason": "outage drill"})),
        };
        if let Ok(res) = request.send().await {
            let retry_after = res.headers().contains_key("retry-after");
            seen.lock().unwrap().push((
                started.elapsed().as_millis(),
                res.status().as_u16(),
                retry_after,
            ));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn served_since(seen: &Seen, since: u128) -> bool {
    seen.lock()
        .unwrap()
        .iter()
        .any(|(at, status, _)| *at > since && *status == 200)
}

#[actix_web::test]
async fn a_stopped_postgresql_answers_503_from_the_first_request_and_service_returns() {
    let Some(cluster) = Cluster::create("the outage test") else {
        return;
    };
    let cluster = Arc::new(cluster);
    let app = TestApp::spawn_on_postgres(&cluster.url()).await;
    let token = app.admin_token().await;
    let started = Instant::now();
    let seen: Seen = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            actix_web::rt::spawn(load(
                app.address.clone(),
                token.clone(),
                seen.clone(),
                started,
                done.clone(),
            ))
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let stopping = started.elapsed().as_millis();
    // Off the test's runtime, so the load keeps running while PostgreSQL stops.
    let c = cluster.clone();
    actix_web::rt::task::spawn_blocking(move || c.stop())
        .await
        .unwrap();
    let stopped = started.elapsed().as_millis();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (status, body) = app
        .request(reqwest::Method::GET, "/readyz", None, None)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let restarting = started.elapsed().as_millis();
    let c = cluster.clone();
    actix_web::rt::task::spawn_blocking(move || c.start())
        .await
        .unwrap();
    // The load runs until it has been served again (or for long enough to say it was
    // not): on a busy machine a stop, a start and the pool's reconnect back-off (up to
    // half the connection wait) together take seconds, so no fixed window fits.
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !served_since(&seen, restarting) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }

    let seen = seen.lock().unwrap().clone();
    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for (_, status, _) in &seen {
        *by_status.entry(*status).or_default() += 1;
    }
    let first_after_stop = seen
        .iter()
        .find(|(at, status, _)| *at >= stopping && *status != 200 && *status != 404)
        .map(|(_, status, _)| *status);
    let back_at = seen
        .iter()
        .filter(|(at, status, _)| *at > restarting && *status == 200)
        .map(|(at, _, _)| *at)
        .next();
    println!(
        "outage: answers by status {by_status:?}; first refusal after the stop {first_after_stop:?}; \
         stop took {} ms; back {:?} ms after the restart began",
        stopped - stopping,
        back_at.map(|at| at - restarting)
    );
    assert!(
        !by_status.contains_key(&500),
        "a 500 during the outage: {by_status:?}"
    );
    assert_eq!(first_after_stop, Some(503), "{by_status:?}");
    assert!(
        seen.iter()
            .filter(|(_, status, _)| *status == 503)
            .all(|(_, _, retry_after)| *retry_after),
        "every 503 carries Retry-After"
    );
    assert!(
        back_at.is_some(),
        "service did not come back without a restart: {by_status:?}"
    );
    // And stays back: the pool holds no dead connection.
    for _ in 0..20 {
        let (status, body) = app.get("/api/v1/me", &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
