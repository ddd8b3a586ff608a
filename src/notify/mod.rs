//! The holder is told of every use of their card (DESIGN §11). Every redemption shows at
//! once in the talent's history (`GET /me/redemptions`); where a message gateway is
//! configured (`NOTIFY_WEBHOOK_URL`), each one is also posted to it, for the SMS or
//! WeChat template service the deployment runs.
//!
//! The outbox is filled from the redemptions themselves rather than by the redemption's
//! own transaction, which stays the one statement it is on the hot path: redemptions are
//! never deleted, and only a running instance makes them, so a scan of the last hour by
//! every running notifier sees each one. `UNIQUE (redemption_id)` makes it one
//! notification per redemption whatever instances scan; a notification is marked
//! delivered only when the gateway answered 2xx, and retried with backoff until then
//! (never lost). Each post carries the notification's id as `Idempotency-Key`, so a
//! gateway that saw it already (our mark lost in a crash) can drop the repeat.

use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::db::{Db, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::schema::{cards, merchants, notifications, redemptions, talents};
use crate::talents::{Field, PiiVault};

/// How far back a scan looks for redemptions without a notification.
const SCAN_BACK: Duration = Duration::hours(1);
/// The longest wait between two attempts of one notification.
const MAX_BACKOFF_SECS: i64 = 3600;
/// Notifications posted per round.
const BATCH: i64 = 50;

/// Creates the notifications of recent redemptions that have none. Returns how many.
/// A family member without a phone is told through their principal talent.
pub fn scan(conn: &mut DbConnection, now: NaiveDateTime) -> ApiResult<usize> {
    Ok(diesel::sql_query(
        "INSERT INTO notifications (redemption_id, talent_id, created_at, attempts, next_attempt_at) \
         SELECT r.id, CASE WHEN t.phone_index IS NULL THEN t.principal_id ELSE t.id END, $1, 0, $1 \
         FROM redemptions r JOIN talents t ON t.id = r.talent_id \
         WHERE r.created_at > $2 \
           AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.redemption_id = r.id) \
         ON CONFLICT (redemption_id) DO NOTHING",
    )
    .bind::<diesel::sql_types::Timestamp, _>(now)
    .bind::<diesel::sql_types::Timestamp, _>(now - SCAN_BACK)
    .execute(conn)?)
}

/// What the gateway receives: enough to send the holder a message.
#[derive(Debug, Serialize)]
pub struct Notice {
    /// The notification's id; also sent as `Idempotency-Key`.
    pub id: i64,
    pub kind: &'static str,
    pub redemption_id: i64,
    pub talent_id: i64,
    /// The recipient's mobile number, for the SMS.
    pub phone: String,
    pub name: String,
    /// The card's holder, when that is a family member told through their principal.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_member: Option<String>,
    /// The card's last four digits.
    pub card_last4: String,
    pub merchant: String,
    pub paid_fen: i64,
    pub discount_fen: i64,
    pub by_pin: bool,
    /// RFC 3339, Asia/Shanghai.
    pub at: String,
    /// The message in Chinese, ready for a template that takes one text.
    pub text: String,
}

/// A notification due, with what its notice says.
#[derive(Queryable)]
struct DueRow {
    id: i64,
    redemption_id: i64,
    talent_id: i64,
    name: String,
    phone_enc: Option<String>,
    holder_id: i64,
    holder_name: String,
    paid_fen: i64,
    discount_fen: i64,
    code_window: i64,
    at: NaiveDateTime,
    merchant: String,
    card_no: String,
}

/// Notifications due now, oldest first, as notices.
fn due(conn: &mut DbConnection, vault: &PiiVault, now: NaiveDateTime) -> ApiResult<Vec<Notice>> {
    let holders = diesel::alias!(talents as holders);
    let rows: Vec<DueRow> = notifications::table
        .inner_join(redemptions::table.on(redemptions::id.eq(notifications::redemption_id)))
        .inner_join(talents::table.on(talents::id.eq(notifications::talent_id)))
        .inner_join(holders.on(holders.field(talents::id).eq(redemptions::talent_id)))
        .inner_join(merchants::table.on(merchants::id.eq(redemptions::merchant_id)))
        .inner_join(cards::table.on(cards::id.eq(redemptions::card_id)))
        .filter(notifications::delivered_at.is_null())
        .filter(notifications::next_attempt_at.le(now))
        .order(notifications::id)
        .limit(BATCH)
        .select((
            notifications::id,
            redemptions::id,
            talents::id,
            talents::name,
            talents::phone_enc,
            holders.field(talents::id),
            holders.field(talents::name),
            redemptions::paid_fen,
            redemptions::discount_fen,
            redemptions::code_window,
            redemptions::created_at,
            merchants::name,
            cards::card_no,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|row| {
            let last4 = row.card_no[row.card_no.len().saturating_sub(4)..].to_owned();
            let local = crate::time::to_local(row.at);
            let by_pin = row.code_window < 0;
            let family_member = (row.holder_id != row.talent_id)
                .then(|| crate::talents::mask_name(&row.holder_name));
            let whose = match &family_member {
                Some(member) => format!("您家人{member}的附属卡（尾号{last4}）"),
                None => format!("您尾号{last4}的英才卡"),
            };
            let text = format!(
                "【遂州英才卡】{whose}于{}在{}{}使用，实付{:.2}元，优惠{:.2}元。如非本人使用，请立即在英才卡页面提出异议或致电人才办。",
                local.format("%m月%d日%H:%M"),
                row.merchant,
                if by_pin { "凭实体卡密码" } else { "" },
                row.paid_fen as f64 / 100.0,
                row.discount_fen as f64 / 100.0,
            );
            Ok(Notice {
                id: row.id,
                kind: "redemption",
                redemption_id: row.redemption_id,
                talent_id: row.talent_id,
                // Notifications go to a holder with a phone, or to their principal.
                phone: vault.decrypt(
                    Field::Phone,
                    row.phone_enc.as_deref().ok_or_else(|| {
                        ApiError::internal(anyhow::anyhow!(
                            "notification {} is for talent {} who has no phone",
                            row.id,
                            row.talent_id
                        ))
                    })?,
                )?,
                name: row.name,
                family_member,
                card_last4: last4,
                merchant: row.merchant,
                paid_fen: row.paid_fen,
                discount_fen: row.discount_fen,
                by_pin,
                at: local.to_rfc3339_opts(chrono::SecondsFormat::Secs, false),
                text,
            })
        })
        .collect()
}

/// `sha256=` and the hex HMAC-SHA256 of the body under the webhook key.
pub fn signature(key: &[u8; 32], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn delivered(conn: &mut DbConnection, id: i64, now: NaiveDateTime) -> ApiResult<()> {
    diesel::update(notifications::table.find(id))
        .set((
            notifications::delivered_at.eq(now),
            notifications::attempts.eq(notifications::attempts + 1),
            notifications::last_error.eq(None::<String>),
        ))
        .execute(conn)?;
    Ok(())
}

/// Records a failed attempt; the next waits 2^attempts seconds, at most an hour.
fn failed(conn: &mut DbConnection, id: i64, error: String, now: NaiveDateTime) -> ApiResult<()> {
    let attempts: i32 = notifications::table
        .find(id)
        .select(notifications::attempts)
        .first(conn)?;
    let wait = 2i64
        .saturating_pow(attempts.clamp(0, 20) as u32)
        .min(MAX_BACKOFF_SECS);
    diesel::update(notifications::table.find(id))
        .set((
            notifications::attempts.eq(attempts + 1),
            notifications::next_attempt_at.eq(now + Duration::seconds(wait)),
            notifications::last_error.eq(Some(error)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Scans and delivers every second while the server runs.
pub fn spawn(db: Db, secrets: std::sync::Arc<crate::secrets::Secrets>, url: String) {
    actix_web::rt::spawn(async move {
        let vault = std::sync::Arc::new(PiiVault::new(&secrets));
        let key = secrets.webhook_key();
        let client = awc::Client::builder()
            .timeout(StdDuration::from_secs(10))
            .finish();
        let mut ticker = actix_web::rt::time::interval(StdDuration::from_secs(1));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = round(&db, &vault, &key, &client, &url).await {
                tracing::warn!(error = %e, "notifications: a round failed; will retry");
            }
        }
    });
}

async fn round(
    db: &Db,
    vault: &std::sync::Arc<PiiVault>,
    key: &[u8; 32],
    client: &awc::Client,
    url: &str,
) -> ApiResult<()> {
    let reading = vault.clone();
    let notices = db
        .write(move |conn| {
            let now = crate::time::now();
            scan(conn, now)?;
            due(conn, &reading, now)
        })
        .await?;
    for notice in notices {
        let body = serde_json::to_vec(&notice).map_err(ApiError::internal)?;
        let sent = client
            .post(url)
            .insert_header(("content-type", "application/json"))
            .insert_header(("Idempotency-Key", notice.id.to_string()))
            .insert_header(("X-Talentcard-Event", notice.kind))
            .insert_header(("X-Talentcard-Signature", signature(key, &body)))
            .send_body(body)
            .await;
        let outcome = match sent {
            Ok(res) if res.status().is_success() => Ok(()),
            Ok(res) => Err(format!("the gateway answered {}", res.status())),
            Err(e) => Err(format!("the gateway could not be reached: {e}")),
        };
        let id = notice.id;
        db.write(move |conn| {
            let now = crate::time::now();
            match outcome {
                Ok(()) => delivered(conn, id, now),
                Err(error) => failed(conn, id, error, now),
            }
        })
        .await?;
    }
    Ok(())
}
