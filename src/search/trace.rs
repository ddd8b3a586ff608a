//! The trace of one redemption (DESIGN §5): from the counter to its settlement line(s),
//! their settlements, each settlement's payout, and the audit entries of all of them,
//! on one page. A redemption may appear in several settlements: its line in one that
//! was rejected (released), the one that paid it, and a reversal's negative line in a
//! later one; the trace lists every line in the order they were made.
//!
//! Names, not ids: the cashier, whoever reversed, decided or took a workflow step, and
//! every audit entry's actor. A merchant's own staff may trace their merchant's
//! redemptions too, without the audit entries, anomaly flags or officials' names.

use std::collections::{BTreeSet, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::labels;
use crate::auth::Principal;
use crate::db::DbConnection;
use crate::error::ApiResult;
use crate::redemptions::{self, RedemptionView};
use crate::schema::{
    anomaly_flag_redemptions, anomaly_flags, audit_events, audit_seals, disputes, reversals,
    settlement_lines, users,
};
use crate::settlements::Settlement;

/// Someone who took a step, by name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TracePerson {
    pub id: i64,
    /// Display name, else login name.
    pub name: String,
}

/// One redemption, traced from the counter to the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct RedemptionTrace {
    /// The redemption with its merchant, offer, card number (masked for merchant staff),
    /// the holder's masked name and the cashier's name.
    pub redemption: RedemptionView,
    pub reversal: Option<TraceReversal>,
    pub dispute: Option<TraceDispute>,
    /// Anomaly flags covering it (officials; empty for merchant staff).
    pub flags: Vec<TraceFlag>,
    /// Its settlement lines, oldest first, each with its settlement and payout.
    pub lines: Vec<TraceLine>,
    /// The audit entries of the redemption, its dispute, its flags and its settlements,
    /// in chain order (officials; null for merchant staff).
    pub audit: Option<Vec<TraceEntry>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceReversal {
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    pub reason: String,
    pub by: Option<TracePerson>,
    /// The local month the reversal counts in.
    pub period: String,
    /// The subsidy it takes back (positive; the settlement line is negative).
    pub subsidy_fen: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceDispute {
    pub id: i64,
    /// `open`, `upheld` or `dismissed`.
    pub status: String,
    pub reason: String,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<TracePerson>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub opened_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::option::serialize")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<NaiveDateTime>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceFlag {
    pub id: i64,
    pub rule: String,
    pub severity: String,
    /// `open`, `cleared` or `confirmed`.
    pub status: String,
    pub period: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceLine {
    /// `redemption`, or `reversal` (negative amounts).
    pub kind: String,
    /// False once its settlement was rejected (the line went back to the next run) or
    /// the redemption was reversed while under review.
    pub active: bool,
    pub bill_fen: i64,
    pub discount_fen: i64,
    pub subsidy_fen: i64,
    pub settlement: TraceSettlement,
}

/// A step of the settlement workflow: who took it, and when.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceStep {
    /// Null for merchant staff when an official took the step.
    pub by: Option<TracePerson>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TraceSettlement {
    pub id: i64,
    /// Local month `YYYY-MM`.
    pub period: String,
    /// 1 for the period's settlement, 2… for supplementary runs.
    pub run: i32,
    /// `draft`, `confirmed`, `verified`, `approved`, `paid` or `rejected`.
    pub status: String,
    pub line_count: i32,
    /// The settlement's total subsidy (all its lines).
    pub subsidy_fen: i64,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
    /// The merchant owner's confirmation.
    pub confirmed: Option<TraceStep>,
    /// The merchant's 发票 number for the subsidy, given at confirmation.
    pub invoice_no: Option<String>,
    /// The first official's verification.
    pub verified: Option<TraceStep>,
    /// The second official's approval.
    pub approved: Option<TraceStep>,
    pub rejected: Option<TraceStep>,
    pub rejected_reason: Option<String>,
    /// The signed audit checkpoint the approval recorded.
    pub audit_checkpoint_size: Option<i64>,
    pub payout: Option<TracePayout>,
}

/// The payout of a settlement: the bank's reference of the transfer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TracePayout {
    pub bank_reference: String,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub paid_at: NaiveDateTime,
    pub paid_by: Option<TracePerson>,
    /// The amount transferred: the settlement's subsidy.
    pub amount_fen: i64,
}

/// An audit entry of the trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceEntry {
    pub id: i64,
    /// Position in the sealed chain; null until sealed (within about a second).
    pub seq: Option<i64>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub at: NaiveDateTime,
    /// e.g. `redemption.create`, `settlement.verify`.
    pub action: String,
    pub entity_type: String,
    pub entity_id: String,
    /// The recorded actor (login name, or `system:…`).
    pub actor: String,
    /// The actor by display name, else as recorded.
    pub actor_name: String,
}

/// Who a person may be shown as to `viewer`: officials see everyone; merchant staff
/// see people of their own merchant only.
struct People {
    by_id: HashMap<i64, (String, Option<i64>)>,
    official_viewer: bool,
    merchant_id: i64,
}

impl People {
    fn load(
        conn: &mut DbConnection,
        ids: &BTreeSet<i64>,
        official_viewer: bool,
        merchant_id: i64,
    ) -> ApiResult<Self> {
        let ids: Vec<i64> = ids.iter().copied().collect();
        let by_id = users::table
            .filter(users::id.eq_any(&ids))
            .select((
                users::id,
                users::username,
                users::display_name,
                users::merchant_id,
            ))
            .load::<(i64, String, String, Option<i64>)>(conn)?
            .into_iter()
            .map(|(id, u, d, m)| (id, (labels::person_name(&u, &d), m)))
            .collect();
        Ok(People {
            by_id,
            official_viewer,
            merchant_id,
        })
    }

    fn person(&self, id: Option<i64>) -> Option<TracePerson> {
        let id = id?;
        let (name, merchant) = self.by_id.get(&id)?;
        (self.official_viewer || *merchant == Some(self.merchant_id)).then(|| TracePerson {
            id,
            name: name.clone(),
        })
    }

    fn step(&self, by: Option<i64>, at: Option<NaiveDateTime>) -> Option<TraceStep> {
        at.map(|at| TraceStep {
            by: self.person(by),
            at,
        })
    }
}

type ReversalRow = (NaiveDateTime, String, i64, String, i64);
type DisputeRow = (
    i64,
    String,
    String,
    Option<String>,
    Option<i64>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);
type LineRow = (i64, String, bool, i64, i64, i64);

/// The trace of redemption `id` for `viewer`, who must be an official or staff of its
/// merchant (403 otherwise; 404 when there is no such redemption).
pub fn trace(conn: &mut DbConnection, viewer: &Principal, id: i64) -> ApiResult<RedemptionTrace> {
    let r = redemptions::get(conn, id)?;
    viewer.ensure_can_view_merchant(r.merchant_id)?;
    let official = viewer.is_official();
    let mut views = redemptions::views(conn, std::slice::from_ref(&r), !official)?;
    redemptions::name_cashiers(conn, &mut views)?;
    let redemption = views.remove(0);

    let reversal: Option<ReversalRow> = reversals::table
        .filter(reversals::redemption_id.eq(id))
        .select((
            reversals::created_at,
            reversals::reason,
            reversals::actor_id,
            reversals::period,
            reversals::subsidy_fen,
        ))
        .first(conn)
        .optional()?;
    let dispute: Option<DisputeRow> = disputes::table
        .filter(disputes::redemption_id.eq(id))
        .select((
            disputes::id,
            disputes::status,
            disputes::reason,
            disputes::resolution_note,
            disputes::resolved_by,
            disputes::created_at,
            disputes::resolved_at,
        ))
        .first(conn)
        .optional()?;
    let flags: Vec<TraceFlag> = if official {
        anomaly_flag_redemptions::table
            .inner_join(anomaly_flags::table)
            .filter(anomaly_flag_redemptions::redemption_id.eq(id))
            .order(anomaly_flags::id)
            .select((
                anomaly_flags::id,
                anomaly_flags::rule,
                anomaly_flags::severity,
                anomaly_flags::status,
                anomaly_flags::period,
            ))
            .load::<(i64, String, String, String, String)>(conn)?
            .into_iter()
            .map(|(id, rule, severity, status, period)| TraceFlag {
                id,
                rule,
                severity,
                status,
                period,
            })
            .collect()
    } else {
        Vec::new()
    };
    let lines: Vec<LineRow> = settlement_lines::table
        .filter(settlement_lines::redemption_id.eq(id))
        .order(settlement_lines::id)
        .select((
            settlement_lines::settlement_id,
            settlement_lines::kind,
            settlement_lines::active,
            settlement_lines::bill_fen,
            settlement_lines::discount_fen,
            settlement_lines::subsidy_fen,
        ))
        .load(conn)?;
    let settlement_ids: Vec<i64> = lines.iter().map(|l| l.0).collect();
    let settlements: HashMap<i64, Settlement> = crate::schema::settlements::table
        .filter(crate::schema::settlements::id.eq_any(&settlement_ids))
        .select(Settlement::as_select())
        .load::<Settlement>(conn)?
        .into_iter()
        .map(|s| (s.id, s))
        .collect();

    let mut people: BTreeSet<i64> = BTreeSet::from([r.cashier_id]);
    people.extend(reversal.as_ref().map(|v| v.2));
    people.extend(dispute.as_ref().and_then(|d| d.4));
    for s in settlements.values() {
        people.extend(
            [
                s.confirmed_by,
                s.verified_by,
                s.approved_by,
                s.paid_by,
                s.rejected_by,
            ]
            .into_iter()
            .flatten(),
        );
    }
    let people = People::load(conn, &people, official, r.merchant_id)?;

    let settlement_view = |s: &Settlement| TraceSettlement {
        id: s.id,
        period: s.period.clone(),
        run: s.run,
        status: s.status.clone(),
        line_count: s.line_count,
        subsidy_fen: s.subsidy_fen,
        created_at: s.created_at,
        confirmed: people.step(s.confirmed_by, s.confirmed_at),
        invoice_no: s.invoice_no.clone(),
        verified: people.step(s.verified_by, s.verified_at),
        approved: people.step(s.approved_by, s.approved_at),
        rejected: people.step(s.rejected_by, s.rejected_at),
        rejected_reason: s.rejected_reason.clone(),
        audit_checkpoint_size: s.audit_checkpoint_size,
        payout: match (&s.bank_reference, s.paid_at) {
            (Some(reference), Some(paid_at)) if s.status == "paid" => Some(TracePayout {
                bank_reference: reference.clone(),
                paid_at,
                paid_by: people.person(s.paid_by),
                amount_fen: s.subsidy_fen,
            }),
            _ => None,
        },
    };
    let lines: Vec<TraceLine> = lines
        .iter()
        .filter_map(|(sid, kind, active, bill, discount, subsidy)| {
            settlements.get(sid).map(|s| TraceLine {
                kind: kind.clone(),
                active: *active,
                bill_fen: *bill,
                discount_fen: *discount,
                subsidy_fen: *subsidy,
                settlement: settlement_view(s),
            })
        })
        .collect();

    let audit = if official {
        let mut settlement_keys: Vec<String> = settlement_ids.iter().map(i64::to_string).collect();
        settlement_keys.sort();
        settlement_keys.dedup();
        let flag_keys: Vec<String> = flags.iter().map(|f| f.id.to_string()).collect();
        let dispute_key: Vec<String> = dispute.iter().map(|d| d.0.to_string()).collect();
        Some(entries(
            conn,
            &id.to_string(),
            &settlement_keys,
            &dispute_key,
            &flag_keys,
        )?)
    } else {
        None
    };

    Ok(RedemptionTrace {
        redemption,
        reversal: reversal.map(|(at, reason, actor, period, subsidy)| TraceReversal {
            at,
            reason,
            by: people.person(Some(actor)),
            period,
            subsidy_fen: subsidy,
        }),
        dispute: dispute.map(
            |(id, status, reason, note, resolved_by, opened_at, resolved_at)| TraceDispute {
                id,
                status,
                reason,
                resolution_note: note,
                resolved_by: people.person(resolved_by),
                opened_at,
                resolved_at,
            },
        ),
        flags,
        lines,
        audit,
    })
}

/// The most audit entries a trace lists (a settlement has a handful of its own).
const MAX_ENTRIES: i64 = 500;

/// The audit entries of the redemption, its settlements, dispute and flags, in the
/// order they were written, with their actors by name and their chain positions.
fn entries(
    conn: &mut DbConnection,
    redemption: &str,
    settlements: &[String],
    dispute: &[String],
    flags: &[String],
) -> ApiResult<Vec<TraceEntry>> {
    use audit_events as a;
    let rows: Vec<crate::audit::AuditEvent> = a::table
        .filter(
            a::entity_type
                .eq("redemption")
                .and(a::entity_id.eq(redemption))
                .or(a::entity_type
                    .eq("settlement")
                    .and(a::entity_id.eq_any(settlements)))
                .or(a::entity_type
                    .eq("dispute")
                    .and(a::entity_id.eq_any(dispute)))
                .or(a::entity_type
                    .eq("anomaly_flag")
                    .and(a::entity_id.eq_any(flags))),
        )
        .order(a::id)
        .limit(MAX_ENTRIES)
        .select(crate::audit::AuditEvent::as_select())
        .load(conn)?;
    let ids: Vec<i64> = rows.iter().map(|e| e.id).collect();
    let seqs: HashMap<i64, i64> = audit_seals::table
        .filter(audit_seals::event_id.eq_any(&ids))
        .select((audit_seals::event_id, audit_seals::seq))
        .load::<(i64, i64)>(conn)?
        .into_iter()
        .collect();
    let actors: Vec<i64> = rows.iter().filter_map(|e| e.actor_id).collect();
    let names = labels::user_names(conn, &actors)?;
    Ok(rows
        .into_iter()
        .map(|e| TraceEntry {
            seq: seqs.get(&e.id).copied(),
            actor_name: labels::actor_name(&names, e.actor_id, &e.actor),
            id: e.id,
            at: e.at,
            action: e.action,
            entity_type: e.entity_type,
            entity_id: e.entity_id,
            actor: e.actor,
        })
        .collect())
}
