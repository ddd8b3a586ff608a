//! Sales as a real counter makes them (`loadgen --realistic`): each one a
//! `POST /redemptions/quote` and then, with the offer the quote chose, a
//! `POST /redemptions` with an Idempotency-Key, from a cashier of the merchant selling.
//!
//! The mix, by sale number n: merchant n mod M, its cashiers in turn; bills ¥10–¥310;
//! 1 % of codes expired (a phone that lost its clock); 5 % of sales where the cashier
//! picks the merchant's first offer by hand (so tier, minimum-spend and limit refusals
//! happen as they do at real counters); 4 % by regulars — two cards per merchant that
//! come back — who run into per-card limits. Refusals are counted by their problem code.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::bail;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::{CodeSource, Ticker, collect, pace, percentile};
use crate::codes::{self, CodeId};
use crate::secrets::KeySet;

/// A merchant as the sales see it: its cashiers' tokens, its first offer, its regulars.
pub struct Counter {
    pub tokens: Vec<String>,
    pub first_offer: i64,
    pub regulars: Vec<i64>,
}

/// Codes of the regulars' own cards (kept out of the general [`CodeSource`]): one per
/// (card, window, slot), at most ten a minute per card.
struct RegularCodes {
    keys: KeySet,
    used: std::sync::Mutex<HashMap<i64, (i64, i64)>>,
}

impl RegularCodes {
    fn next(&self, card_id: i64) -> Option<String> {
        let window = codes::window_of(crate::time::now());
        let slot = {
            let mut used = self.used.lock().expect("not poisoned");
            let entry = used.entry(card_id).or_insert((window, 0));
            if entry.0 != window {
                *entry = (window, 0);
            }
            entry.1 += 1;
            entry.1 - 1
        };
        (slot < codes::SLOTS_PER_WINDOW)
            .then(|| {
                codes::encode(
                    &self.keys,
                    &CodeId {
                        card_id,
                        window,
                        slot,
                    },
                )
                .ok()
            })
            .flatten()
    }
}

#[derive(Debug, Default)]
pub struct SalesReport {
    /// Sales that ended in a redemption.
    pub sales: u64,
    /// Sales refused, by problem code (a quote with no offer counts its first reason).
    pub refused: BTreeMap<String, u64>,
    /// 5xx answers and requests with no answer, by kind.
    pub errors: BTreeMap<String, u64>,
    pub quote: Vec<Duration>,
    pub redeem: Vec<Duration>,
    pub sale: Vec<Duration>,
    pub out_of_codes: u64,
    pub elapsed: Duration,
}

impl SalesReport {
    fn merge(&mut self, other: SalesReport) {
        self.sales += other.sales;
        self.out_of_codes += other.out_of_codes;
        for (k, v) in other.refused {
            *self.refused.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
        self.quote.extend(other.quote);
        self.redeem.extend(other.redeem);
        self.sale.extend(other.sale);
    }

    pub fn print(&self) {
        let secs = self.elapsed.as_secs_f64();
        let refused: u64 = self.refused.values().sum();
        println!(
            "sales: {} redeemed in {:.1?} = {:.0} sales/s = {:.0} redemptions/s; {refused} refused ({:.1} %)",
            self.sales,
            self.elapsed,
            self.sales as f64 / secs,
            self.sales as f64 / secs,
            100.0 * refused as f64 / (refused + self.sales).max(1) as f64,
        );
        for (name, latencies) in [
            ("quote", &self.quote),
            ("redeem", &self.redeem),
            ("sale (both)", &self.sale),
        ] {
            println!(
                "{name:>12}: n {}  p50 {:.1?}  p95 {:.1?}  p99 {:.1?}  p99.9 {:.1?}  max {:.1?}",
                latencies.len(),
                percentile(latencies, 0.50),
                percentile(latencies, 0.95),
                percentile(latencies, 0.99),
                percentile(latencies, 0.999),
                latencies.last().copied().unwrap_or_default()
            );
        }
        println!("refused by code: {:?}", self.refused);
        println!(
            "errors: {:?}  (out of fresh codes: {})",
            self.errors, self.out_of_codes
        );
    }
}

/// What one request came to.
enum Answer {
    Ok(Value),
    Refused(String),
    Error(String),
}

async fn send(
    client: &awc::Client,
    url: &str,
    token: &str,
    key: Option<&str>,
    body: &Value,
) -> Answer {
    let mut request = client.post(url).bearer_auth(token);
    if let Some(key) = key {
        request = request.insert_header(("Idempotency-Key", key));
    }
    match request.send_json(body).await {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().limit(1 << 20).await.unwrap_or(Value::Null);
            match status {
                200 | 201 => Answer::Ok(body),
                400..=499 => Answer::Refused(
                    body["code"]
                        .as_str()
                        .map_or_else(|| format!("http {status}"), str::to_owned),
                ),
                _ => Answer::Error(format!("http {status}")),
            }
        }
        Err(e) => Answer::Error(format!("no answer ({e})")),
    }
}

/// Fires sales with `concurrency` workers for `duration`, paced to `rate` sales per
/// second in total when given.
#[allow(clippy::too_many_arguments)]
pub async fn fire(
    base_url: &str,
    counters: Vec<Counter>,
    keys: KeySet,
    card_ids: Vec<i64>,
    concurrency: usize,
    duration: Duration,
    rate: Option<f64>,
    ticker: Option<Arc<Ticker>>,
) -> anyhow::Result<SalesReport> {
    if counters.is_empty() || card_ids.is_empty() {
        bail!("no merchants or cards to sell with");
    }
    let source = Arc::new(CodeSource::new(keys.clone(), card_ids.clone()));
    let regulars = Arc::new(RegularCodes {
        keys: keys.clone(),
        used: std::sync::Mutex::new(HashMap::new()),
    });
    let counters = Arc::new(counters);
    let report = Arc::new(Mutex::new(SalesReport::default()));
    let sequence = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let base = base_url.trim_end_matches('/').to_owned();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (source, regulars, counters, report, sequence, base, keys, ticker) = (
            source.clone(),
            regulars.clone(),
            counters.clone(),
            report.clone(),
            sequence.clone(),
            base.clone(),
            keys.clone(),
            ticker.clone(),
        );
        workers.push(actix_web::rt::spawn(async move {
            let new_client = || {
                awc::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .finish()
            };
            let mut client = new_client();
            let (quote_url, redeem_url) = (
                format!("{base}/api/v1/redemptions/quote"),
                format!("{base}/api/v1/redemptions"),
            );
            let mut local = SalesReport::default();
            while started.elapsed() < duration {
                let n = sequence.fetch_add(1, Ordering::Relaxed);
                pace(n, rate, started).await;
                let at = n % counters.len() as u64;
                let counter = &counters[at as usize];
                // The merchant's own count of sales picks its cashier and the kind of
                // sale, so every merchant sees every kind; offset per merchant, so the
                // kinds are spread over the run rather than every merchant's first sale
                // being an expired code and its next four a regular's.
                let round = n / counters.len() as u64;
                let kind = (round + at * 37) % 100;
                let token = &counter.tokens[round as usize % counter.tokens.len()];
                let code = match kind {
                    // A code from half an hour ago: the counter says it has expired.
                    0 => expired_code(&keys, &source, n),
                    1..=4 if !counter.regulars.is_empty() => regulars
                        .next(counter.regulars[(round / 100) as usize % counter.regulars.len()]),
                    _ => source.next(),
                };
                let Some(code) = code else {
                    local.out_of_codes += 1;
                    actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let bill = 1_000 + (n * 7_883) % 30_000;
                let picked = (kind % 20 == 7).then_some(counter.first_offer);
                let mut quote_body = json!({"code": code, "bill_fen": bill});
                if let Some(offer) = picked {
                    quote_body["offer_id"] = json!(offer);
                }
                let sale_started = Instant::now();
                let quote = send(&client, &quote_url, token, None, &quote_body).await;
                let quoted = sale_started.elapsed();
                local.quote.push(quoted);
                if let Some(t) = &ticker {
                    t.quote(quoted);
                }
                let chosen = match quote {
                    Answer::Ok(q) => match q["chosen"]["offer_id"].as_i64() {
                        Some(offer) => offer,
                        None => {
                            let reason = q["offers"]
                                .as_array()
                                .and_then(|offers| {
                                    offers
                                        .iter()
                                        .find(|o| picked.is_none_or(|p| o["offer_id"] == p))
                                })
                                .and_then(|o| o["reason"].as_str())
                                .unwrap_or("no_offer")
                                .to_owned();
                            *local.refused.entry(reason).or_default() += 1;
                            continue;
                        }
                    },
                    Answer::Refused(code) => {
                        *local.refused.entry(code).or_default() += 1;
                        continue;
                    }
                    Answer::Error(kind) => {
                        note_error(&mut local, &kind, "quote");
                        if kind.starts_with("no answer") {
                            client = new_client();
                            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                        }
                        continue;
                    }
                };
                let redeem_started = Instant::now();
                let key = format!("loadgen-{n}-{}", uuid::Uuid::new_v4());
                let body = json!({"code": code, "bill_fen": bill, "offer_id": chosen});
                let redeemed = send(&client, &redeem_url, token, Some(&key), &body).await;
                let took = redeem_started.elapsed();
                local.redeem.push(took);
                match redeemed {
                    Answer::Ok(_) => {
                        local.sales += 1;
                        let sale = sale_started.elapsed();
                        local.sale.push(sale);
                        if let Some(t) = &ticker {
                            t.sale(sale, took);
                        }
                    }
                    Answer::Refused(code) => *local.refused.entry(code).or_default() += 1,
                    Answer::Error(kind) => {
                        note_error(&mut local, &kind, "redeem");
                        if kind.starts_with("no answer") {
                            client = new_client();
                        }
                    }
                }
            }
            report.lock().await.merge(local);
        }));
    }
    let mut report = collect(workers, report).await?;
    report.elapsed = started.elapsed();
    report.quote.sort();
    report.redeem.sort();
    report.sale.sort();
    Ok(report)
}

fn note_error(report: &mut SalesReport, kind: &str, endpoint: &str) {
    let seen: u64 = report.errors.values().sum();
    if seen < 3 {
        eprintln!("{endpoint}: {kind}");
    }
    let kind = kind.split(" (").next().unwrap_or(kind);
    *report
        .errors
        .entry(format!("{endpoint}: {kind}"))
        .or_default() += 1;
}

/// A genuine code of some card from 30 minutes ago.
fn expired_code(keys: &KeySet, source: &CodeSource, n: u64) -> Option<String> {
    let card_id = source.card_for(n);
    let id = CodeId {
        card_id,
        window: codes::window_of(crate::time::now()) - 30,
        slot: (n / 100 % codes::SLOTS_PER_WINDOW as u64) as i64,
    };
    codes::encode(keys, &id).ok()
}
