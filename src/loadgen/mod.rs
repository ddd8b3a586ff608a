//! `talentcard loadgen`: fires real HTTP redemptions at a running server and reports
//! throughput, latency percentiles and errors (DESIGN §7; figures in BENCHMARKS.md).
//!
//! It seeds its own scratch data straight into the server's database (same
//! `DATABASE_URL` and `SECRET_KEY_FILE`). Codes are minted with the server's code key
//! exactly as a phone would show them, so every request is a genuine, fresh, single-use
//! code: (card, window, slot) never repeats. Two mixes:
//! - the fast path (default): one merchant, one cashier, one subsidised offer, a budget
//!   without envelopes or cap, `POST /redemptions` alone;
//! - `--realistic` ([`realistic`], [`sales`]): 200 merchants, their cashiers and offers of
//!   six shapes, category envelopes and a merchant cap, each sale a quote then a redeem.
//!
//! `--per-second` prints a line per second (throughput and the worst latency in it), to
//! line stalls up with what else ran at that moment.

pub mod fast;
pub mod realistic;
pub mod sales;

pub use fast::{Acknowledged, Fire, Report, Seeded, fire, seed};

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::auth::password::Password;
use crate::codes::{self, CodeId};
use crate::config::Config;
use crate::db::Db;
use crate::error::ApiError;
use crate::secrets::{KeySet, Secrets};
use crate::users;

/// Hands out codes no other request has used: per window, slot-major over the cards.
struct CodeSource {
    keys: KeySet,
    card_ids: Vec<i64>,
    state: std::sync::Mutex<(i64, u64)>,
}

impl CodeSource {
    fn new(keys: KeySet, card_ids: Vec<i64>) -> Self {
        CodeSource {
            keys,
            card_ids,
            state: std::sync::Mutex::new((0, 0)),
        }
    }

    /// Some card of the source, by number.
    fn card_for(&self, n: u64) -> i64 {
        self.card_ids[(n % self.card_ids.len() as u64) as usize]
    }

    fn next(&self) -> Option<String> {
        let window = codes::window_of(crate::time::now());
        let n = {
            let mut state = self.state.lock().expect("not poisoned");
            if state.0 != window {
                *state = (window, 0);
            }
            state.1 += 1;
            state.1 - 1
        };
        let cards = self.card_ids.len() as u64;
        let slot = (n / cards) as i64;
        if slot >= codes::SLOTS_PER_WINDOW {
            return None;
        }
        let id = CodeId {
            card_id: self.card_ids[(n % cards) as usize],
            window,
            slot,
        };
        codes::encode(&self.keys, &id).ok()
    }
}

/// Open-loop pacing: request `n` is due `n / rate` seconds after `started`.
async fn pace(n: u64, rate: Option<f64>, started: Instant) {
    if let Some(rate) = rate {
        let due = Duration::from_secs_f64(n as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            actix_web::rt::time::sleep(wait).await;
        }
    }
}

/// The `p` quantile of sorted latencies (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// A line per second while a run lasts: completed work and the worst latencies in that
/// second, so a stall shows when it happened rather than only in the tail.
#[derive(Default)]
pub struct Ticker {
    done: AtomicU64,
    worst_us: AtomicU64,
    worst_quote_us: AtomicU64,
    worst_redeem_us: AtomicU64,
}

impl Ticker {
    /// A completed sale (or a redemption in the fast mix) and its redeem's latency.
    pub fn sale(&self, whole: Duration, redeem: Duration) {
        self.done.fetch_add(1, Ordering::Relaxed);
        self.worst_us
            .fetch_max(whole.as_micros() as u64, Ordering::Relaxed);
        self.worst_redeem_us
            .fetch_max(redeem.as_micros() as u64, Ordering::Relaxed);
    }

    pub fn quote(&self, took: Duration) {
        self.worst_quote_us
            .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
    }

    /// Prints a line each second until `duration` is over.
    pub async fn print_every_second(self: Arc<Self>, duration: Duration) {
        let started = Instant::now();
        let mut second = 0;
        while started.elapsed() < duration {
            second += 1;
            let next = Duration::from_secs(second);
            if let Some(wait) = next.checked_sub(started.elapsed()) {
                actix_web::rt::time::sleep(wait).await;
            }
            let ms = |a: &AtomicU64| a.swap(0, Ordering::Relaxed) as f64 / 1000.0;
            println!(
                "{second:>4}s {:>6}/s  worst: whole {:>7.1} ms  quote {:>7.1} ms  redeem {:>7.1} ms",
                self.done.swap(0, Ordering::Relaxed),
                ms(&self.worst_us),
                ms(&self.worst_quote_us),
                ms(&self.worst_redeem_us),
            );
        }
    }
}

/// Waits for every worker and hands back the report they added to.
async fn collect<R>(
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
    report: Arc<tokio::sync::Mutex<R>>,
) -> anyhow::Result<R> {
    for w in workers {
        w.await.context("worker")?;
    }
    Ok(Arc::try_unwrap(report)
        .map_err(|_| anyhow::anyhow!("workers still running"))?
        .into_inner())
}

/// What `talentcard loadgen` runs.
pub struct Options {
    pub url: String,
    pub cards: usize,
    pub concurrency: usize,
    pub duration: Duration,
    pub rate: Option<f64>,
    /// The realistic counter mix instead of the fast path.
    pub realistic: bool,
    /// Merchants of the realistic mix.
    pub merchants: usize,
    pub per_second: bool,
    /// Fast mix: write every acknowledged redemption here (`id<TAB>idempotency key`),
    /// for the failover drill to look each one up afterwards.
    pub acknowledged: Option<std::path::PathBuf>,
}

/// Logs `username` in and returns its access token.
async fn login(
    client: &awc::Client,
    url: &str,
    username: &str,
    password: &str,
) -> anyhow::Result<String> {
    let mut res = client
        .post(format!("{}/api/v1/auth/login", url.trim_end_matches('/')))
        .send_json(&serde_json::json!({"username": username, "password": password}))
        .await
        .map_err(|e| anyhow::anyhow!("login request: {e}"))?;
    let body: serde_json::Value = res
        .json()
        .await
        .map_err(|e| anyhow::anyhow!("login answer: {e}"))?;
    Ok(body["access_token"]
        .as_str()
        .with_context(|| format!("login of {username} refused: {body}"))?
        .to_owned())
}

/// `talentcard loadgen`: seed, log in, fire, report.
pub fn run(config: &Config, options: Options) -> anyhow::Result<()> {
    if options.cards == 0 || options.concurrency == 0 {
        bail!("cards and concurrency must be at least 1");
    }
    let secrets = Secrets::load(&config.secret_key_file).context(
        "the server's secrets file (SECRET_KEY_FILE / DATA_DIR) is needed to mint codes",
    )?;
    if options.realistic {
        if options.acknowledged.is_some() {
            bail!("--acknowledged is for the fast mix (the failover drill), not --realistic");
        }
        return run_realistic(config, &secrets, options);
    }
    let started = Instant::now();
    let seeded = seed(config, options.cards)?;
    println!(
        "seeded {} cards in {:.1?}",
        seeded.card_ids.len(),
        started.elapsed()
    );
    actix_web::rt::System::new().block_on(async {
        let client = awc::Client::default();
        let token = login(&client, &options.url, &seeded.cashier, &seeded.password).await?;
        let ticker = options.per_second.then(|| Arc::new(Ticker::default()));
        println!("firing for {:?}", options.duration);
        if let Some(t) = &ticker {
            actix_web::rt::spawn(t.clone().print_every_second(options.duration));
        }
        let report = fire(Fire {
            url: options.url.clone(),
            token,
            offer_id: seeded.offer_id,
            keys: secrets.code.clone(),
            card_ids: seeded.card_ids,
            concurrency: options.concurrency,
            duration: options.duration,
            rate: options.rate,
            ticker,
        })
        .await?;
        if let Some(path) = &options.acknowledged {
            write_acknowledged(path, &report.acknowledged)?;
        }
        report.print();
        Ok(())
    })
}

fn write_acknowledged(path: &std::path::Path, acknowledged: &[Acknowledged]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for a in acknowledged {
        writeln!(out, "{}\t{}", a.id, a.idempotency_key)?;
    }
    out.flush()?;
    Ok(())
}

/// The realistic mix from the command line: run it and print the report.
fn run_realistic(config: &Config, secrets: &Secrets, options: Options) -> anyhow::Result<()> {
    let (config, secrets) = (config.clone(), secrets.clone());
    actix_web::rt::System::new().block_on(async move {
        let report = realistic_mix(config, secrets, &options).await?;
        report.print();
        Ok(())
    })
}

/// The realistic mix: seeds the city into the server's database, logs every cashier in,
/// fires the sales and returns their report.
pub async fn realistic_mix(
    config: Config,
    secrets: Secrets,
    options: &Options,
) -> anyhow::Result<sales::SalesReport> {
    let started = Instant::now();
    let password = format!(
        "loadgen-{}",
        hex::encode(crate::secrets::random_bytes::<6>())
    );
    let (merchants, cards) = (options.merchants as i64, options.cards as i64);
    let seeded = {
        let password = password.clone();
        actix_web::web::block(move || -> anyhow::Result<realistic::Seeded> {
            let db = Db::migrate_and_connect(
                &config.database_url,
                config.migration_database_url.as_ref(),
                2,
            )?;
            let mut conn = db.get().map_err(|e| anyhow::anyhow!("{e}"))?;
            let api = |e: ApiError| anyhow::anyhow!("{}", e.problem().detail);
            let hash =
                users::hash_password(&Password::parse(&password).map_err(api)?).map_err(api)?;
            let run = hex::encode(crate::secrets::random_bytes::<3>());
            realistic::seed(&mut conn, &run, &config.districts, merchants, cards, &hash)
        })
        .await??
    };
    println!(
        "seeded {} merchants, {} cashiers, {} offers, {} cards in {:.1?}",
        seeded.merchants.len(),
        seeded
            .merchants
            .iter()
            .map(|m| m.cashiers.len())
            .sum::<usize>(),
        seeded
            .merchants
            .iter()
            .map(|m| m.offers.len())
            .sum::<usize>(),
        seeded.card_ids.len(),
        started.elapsed()
    );
    // Two regulars per merchant, kept out of the general pool of codes.
    let regular_count = (2 * seeded.merchants.len()).min(seeded.card_ids.len() / 2);
    let (general, regular) = seeded
        .card_ids
        .split_at(seeded.card_ids.len() - regular_count);
    let logged_in = Instant::now();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let names: Vec<&String> = seeded
        .merchants
        .iter()
        .flat_map(|m| m.cashiers.iter())
        .collect();
    // Each login hashes a password on the server: a few at a time.
    let mut tokens = HashMap::new();
    for chunk in names.chunks(8) {
        let logins = chunk
            .iter()
            .map(|name| login(&client, &options.url, name, &password));
        for (name, token) in chunk
            .iter()
            .zip(futures_util::future::join_all(logins).await)
        {
            tokens.insert((*name).clone(), token?);
        }
    }
    println!(
        "logged {} cashiers in in {:.1?}",
        tokens.len(),
        logged_in.elapsed()
    );
    let counters = seeded
        .merchants
        .iter()
        .enumerate()
        .map(|(i, m)| sales::Counter {
            tokens: m.cashiers.iter().map(|c| tokens[c].clone()).collect(),
            first_offer: m.offers[0],
            regulars: regular.iter().skip(2 * i).take(2).copied().collect(),
        })
        .collect();
    let ticker = options.per_second.then(|| Arc::new(Ticker::default()));
    println!("firing for {:?}", options.duration);
    if let Some(t) = &ticker {
        actix_web::rt::spawn(t.clone().print_every_second(options.duration));
    }
    sales::fire(
        &options.url,
        counters,
        secrets.code.clone(),
        general.to_vec(),
        options.concurrency,
        options.duration,
        options.rate,
        ticker,
    )
    .await
}
