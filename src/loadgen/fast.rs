//! The fast-path mix (`talentcard loadgen` without `--realistic`): one merchant, one
//! cashier, one subsidised offer, a budget without envelopes or cap, and
//! `POST /redemptions` alone — the figure BENCHMARKS.md has followed since the start.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::Datelike;
use diesel::prelude::*;
use tokio::sync::Mutex;

use super::{CodeSource, Ticker, collect, pace, percentile, realistic};
use crate::auth::password::Password;
use crate::auth::{Actor, Role};
use crate::config::Config;
use crate::db::{Db, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, Category, District, MerchantAction, NewMerchant, Uscc};
use crate::offers::{self, NewOffer, OfferAction, OfferKind};
use crate::schema::budgets;
use crate::secrets::KeySet;
use crate::tier::{Tier, TierSet};
use crate::users::{self, NewAccount, Username};

#[derive(Debug, Default)]
pub struct Report {
    pub ok: u64,
    /// Refusals: answers other than 201 that a retry cannot change.
    pub errors: u64,
    /// Every answer other than 201 by status, the 503s of a failover among them.
    pub errors_by_status: BTreeMap<u16, u64>,
    /// Requests that got no answer at all (server restarting, connection reset); the
    /// client is rebuilt after each, so a restarted server is loaded again at once.
    pub connection_errors: u64,
    /// Sends of a redemption whose answer was lost (no answer, 502/503/504), repeated
    /// with the same code and Idempotency-Key as a counter does.
    pub retried: u64,
    /// Of the acknowledged, those the server answered as a replay of the first result.
    pub replayed: u64,
    /// Redemptions still unanswered when [`RETRY_FOR`] ran out.
    pub gave_up: u64,
    pub out_of_codes: u64,
    pub elapsed: Duration,
    /// Latencies of successful redemptions, sorted.
    pub latencies: Vec<Duration>,
    /// Every redemption the server acknowledged (201), by when.
    pub acknowledged: Vec<Acknowledged>,
}

/// A redemption the server said it made: it must be in the database ever after.
#[derive(Debug, Clone)]
pub struct Acknowledged {
    pub id: i64,
    pub idempotency_key: String,
    /// Since loadgen started firing.
    pub at: Duration,
}

/// How long a redemption whose answer was lost is sent again before it is given up: a
/// failover's promotion fits well inside it (DESIGN §12), a code's window too.
pub const RETRY_FOR: Duration = Duration::from_secs(30);

impl Report {
    pub fn percentile(&self, p: f64) -> Duration {
        percentile(&self.latencies, p)
    }

    /// The longest stretch between two acknowledged redemptions: the time without
    /// service a failover cost the counters.
    pub fn longest_without_service(&self) -> Duration {
        let mut at: Vec<Duration> = self.acknowledged.iter().map(|a| a.at).collect();
        at.sort();
        at.windows(2).map(|w| w[1] - w[0]).max().unwrap_or_default()
    }

    pub fn print(&self) {
        let rate = self.ok as f64 / self.elapsed.as_secs_f64();
        println!(
            "redemptions: {} in {:.1?} = {rate:.0}/s",
            self.ok, self.elapsed
        );
        println!(
            "latency: p50 {:.1?}  p95 {:.1?}  p99 {:.1?}  p99.9 {:.1?}  max {:.1?}",
            self.percentile(0.50),
            self.percentile(0.95),
            self.percentile(0.99),
            self.percentile(0.999),
            self.latencies.last().copied().unwrap_or_default()
        );
        println!(
            "errors: {}  connection errors: {}  (out of fresh codes: {})",
            self.errors, self.connection_errors, self.out_of_codes
        );
        let by_status: Vec<String> = self
            .errors_by_status
            .iter()
            .map(|(status, n)| format!("{status}: {n}"))
            .collect();
        println!(
            "answers other than 201 by status: {{{}}}  lost answers resent: {}  replayed: {}  given up: {}",
            by_status.join(", "),
            self.retried,
            self.replayed,
            self.gave_up
        );
        println!(
            "longest without an acknowledged redemption: {:.1?}",
            self.longest_without_service()
        );
    }

    fn add(&mut self, other: Report) {
        self.ok += other.ok;
        self.errors += other.errors;
        for (status, n) in other.errors_by_status {
            *self.errors_by_status.entry(status).or_default() += n;
        }
        self.connection_errors += other.connection_errors;
        self.retried += other.retried;
        self.replayed += other.replayed;
        self.gave_up += other.gave_up;
        self.out_of_codes += other.out_of_codes;
        self.latencies.extend(other.latencies);
        self.acknowledged.extend(other.acknowledged);
    }
}

/// What [`fire`] loads a server with.
pub struct Fire {
    pub url: String,
    pub token: String,
    pub offer_id: i64,
    pub keys: KeySet,
    pub card_ids: Vec<i64>,
    pub concurrency: usize,
    pub duration: Duration,
    /// Requests per second in total; as fast as possible without.
    pub rate: Option<f64>,
    pub ticker: Option<Arc<Ticker>>,
}

/// Fires redemptions with `concurrency` workers for `duration`. A redemption whose answer
/// was lost is sent again with the same code and key until it is answered, as the
/// counter page does, so what the server acknowledged can be checked against what it
/// kept (the failover drill).
pub async fn fire(fire: Fire) -> anyhow::Result<Report> {
    if fire.card_ids.is_empty() {
        bail!("no cards to redeem with");
    }
    let source = Arc::new(CodeSource::new(fire.keys, fire.card_ids));
    let report = Arc::new(Mutex::new(Report::default()));
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let url = format!("{}/api/v1/redemptions", fire.url.trim_end_matches('/'));
    let (duration, rate, offer_id) = (fire.duration, fire.rate, fire.offer_id);
    let mut workers = Vec::new();
    for _ in 0..fire.concurrency {
        let (source, report, sequence, url, token, ticker) = (
            source.clone(),
            report.clone(),
            sequence.clone(),
            url.clone(),
            fire.token.clone(),
            fire.ticker.clone(),
        );
        workers.push(actix_web::rt::spawn(async move {
            let new_client = || {
                awc::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .finish()
            };
            let mut client = new_client();
            let mut local = Report::default();
            while started.elapsed() < duration {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                pace(n, rate, started).await;
                let Some(code) = source.next() else {
                    local.out_of_codes += 1;
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let key = format!("loadgen-{n}-{}", uuid::Uuid::new_v4());
                let body =
                    serde_json::json!({"code": code, "bill_fen": 12_800, "offer_id": offer_id});
                let first_sent = Instant::now();
                loop {
                    let sent = Instant::now();
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .insert_header(("Idempotency-Key", key.as_str()))
                        .send_json(&body)
                        .await;
                    let lost = match response {
                        Ok(mut r) if r.status().as_u16() == 201 => {
                            let took = sent.elapsed();
                            let answer: serde_json::Value = r.json().await.unwrap_or_default();
                            local.ok += 1;
                            local.replayed +=
                                u64::from(r.headers().contains_key("idempotent-replayed"));
                            local.latencies.push(took);
                            local.acknowledged.push(Acknowledged {
                                id: answer["id"].as_i64().unwrap_or_default(),
                                idempotency_key: key.clone(),
                                at: started.elapsed(),
                            });
                            if let Some(t) = &ticker {
                                t.sale(took, took);
                            }
                            false
                        }
                        Ok(mut r) => {
                            let status = r.status().as_u16();
                            *local.errors_by_status.entry(status).or_default() += 1;
                            let body = r.body().await.unwrap_or_default();
                            let lost = matches!(status, 502..=504);
                            if !lost {
                                if local.errors < 3 {
                                    eprintln!(
                                        "refused {status}: {}",
                                        String::from_utf8_lossy(&body)
                                    );
                                }
                                local.errors += 1;
                            }
                            lost
                        }
                        Err(e) => {
                            if local.connection_errors < 3 {
                                eprintln!("request failed: {e}");
                            }
                            local.connection_errors += 1;
                            // awc's connector stays "disconnected" once its server went
                            // away; only a new client connects again.
                            client = new_client();
                            true
                        }
                    };
                    if !lost {
                        break;
                    }
                    if first_sent.elapsed() >= RETRY_FOR {
                        local.gave_up += 1;
                        break;
                    }
                    // The pause keeps a worker from spinning while the service is away.
                    actix_web::rt::time::sleep(Duration::from_millis(100)).await;
                    local.retried += 1;
                }
            }
            report.lock().await.add(local);
        }));
    }
    let mut report = collect(workers, report).await?;
    report.elapsed = started.elapsed();
    report.latencies.sort();
    report.acknowledged.sort_by_key(|a| a.at);
    Ok(report)
}

/// What the seeding made: who redeems, which offer, which cards.
pub struct Seeded {
    pub cashier: String,
    pub password: String,
    pub offer_id: i64,
    pub card_ids: Vec<i64>,
}

/// Seeds a merchant with a cashier and a live subsidised offer (through the same module
/// functions the API uses), a budget large enough for any run, and `cards` talents with
/// active cards (set-based, [`realistic::seed_cards`]: seconds, not minutes).
pub fn seed(config: &Config, cards: usize) -> anyhow::Result<Seeded> {
    let db = Db::migrate_and_connect(
        &config.database_url,
        config.migration_database_url.as_ref(),
        2,
    )?;
    let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
    let run = hex::encode(crate::secrets::random_bytes::<3>());
    let actor = Actor::system("loadgen");
    let now = crate::time::now();
    let api = |e: ApiError| anyhow::anyhow!("{}", e.problem().detail);
    let password = format!(
        "loadgen-{}",
        hex::encode(crate::secrets::random_bytes::<6>())
    );
    // One argon2 hash shared by every seeded account: hashing 20 000 would take minutes.
    let hash = users::hash_password(&Password::parse(&password).map_err(api)?).map_err(api)?;
    let uscc_body = format!(
        "9151090{:010}",
        u64::from_str_radix(&run, 16)? % 10_000_000_000
    );
    let uscc = Uscc::parse(&format!(
        "{uscc_body}{}",
        Uscc::check_char(&uscc_body).context("uscc")?
    ))
    .map_err(api)?;
    let cashier = format!("loadgen-{run}-cashier");
    let offer_id = write_tx(&mut conn, |conn| -> ApiResult<i64> {
        let merchant = merchants::apply(
            conn,
            &actor,
            NewMerchant {
                name: format!("压测商户 {run}"),
                uscc,
                category: Category::Food,
                district: District::parse(&config.districts[0], &config.districts)?,
                address: "遂州大道1号".into(),
                coordinates: None,
                contact_name: "压测".into(),
                contact_phone: "13800000000".into(),
                bank_name: "遂州银行".into(),
                bank_account: "6222000000000000".into(),
                owner_username: Username::parse(&format!("loadgen-{run}-owner"))?,
                owner_password_hash: hash.clone(),
            },
        )?;
        merchants::transition(conn, &actor, merchant.id, MerchantAction::Approve, None)?;
        users::create(
            conn,
            &actor,
            NewAccount {
                username: &Username::parse(&cashier)?,
                password_hash: hash.clone(),
                role: Role::Cashier,
                display_name: "",
                merchant_id: Some(merchant.id),
                talent_id: None,
                active: true,
            },
        )?;
        let offer = offers::create(
            conn,
            &actor,
            merchant.id,
            NewOffer {
                title: "压测九折".into(),
                kind: OfferKind::Percent,
                percent_bp: Some(1_000),
                amount_fen: None,
                min_spend_fen: 0,
                max_discount_fen: Some(5_000),
                tiers: TierSet::new(&Tier::ALL)?,
                per_card_daily: None,
                per_card_monthly: None,
                valid_from: None,
                valid_until: None,
                subsidy_bp: 5_000,
                dependents: false,
            },
            None,
        )?;
        offers::transition(conn, &actor, offer.id, OfferAction::Approve, None)?;
        let year = crate::time::to_local(now).year();
        let raised = diesel::update(budgets::table.find(year))
            .set(budgets::total_fen.eq(budgets::total_fen + 1_000_000_000_000))
            .execute(conn)?;
        if raised == 0 {
            diesel::insert_into(budgets::table)
                .values((
                    budgets::year.eq(year),
                    budgets::total_fen.eq(1_000_000_000_000),
                    budgets::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        crate::budgets::slots::prime_year(conn, year)?;
        Ok(offer.id)
    })
    .map_err(api)?;
    let card_ids = realistic::seed_cards(&mut conn, &run, cards as i64)?;
    crate::audit::seal_pending(&mut conn).map_err(api)?;
    Ok(Seeded {
        cashier,
        password,
        offer_id,
        card_ids,
    })
}
