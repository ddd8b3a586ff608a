//! The import proper: a job that writes a checked plan in batches, each batch one short
//! transaction (counters wait on it ~tens of milliseconds at most, SQLite too), with its
//! progress, created/updated counts and activation letters committed together — so a job
//! that stopped halfway (a crash, a database restart) runs again from the next batch.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use super::plan::{Action, MissingTalent, Options, Plan, Step};
use crate::audit;
use crate::auth::Actor;
use crate::db::{Db, DbConnection};
use crate::error::{ApiError, ApiResult};
use crate::schema::{import_jobs, import_letters};
use crate::talents::PiiVault;

/// Associated data of the sealed plan and letters: neither opens as the other.
const STEPS_PURPOSE: &[u8] = b"import.steps";
const LETTERS_PURPOSE: &[u8] = b"import.letters";
/// How long the letters wait for the admin who ran the import (DESIGN §10).
pub const LETTERS_HOURS: i64 = 24;
/// A running job moves its heartbeat with every batch; one silent this long stopped.
const STALE_AFTER_SECONDS: i64 = 60;
/// What one batch may hold the write lock for; the batch size follows from it.
const BATCH_TARGET: StdDuration = StdDuration::from_millis(40);
const MAX_BATCH: usize = 400;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = import_jobs)]
pub struct Job {
    pub id: String,
    pub created_by: i64,
    pub status: String,
    pub options: String,
    pub total: i64,
    pub processed: i64,
    pub created: i64,
    pub updated: i64,
    pub report: String,
    pub failure: Option<String>,
    pub heartbeat_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub finished_at: Option<NaiveDateTime>,
    pub letters_expire_at: NaiveDateTime,
    pub letters_taken_at: Option<NaiveDateTime>,
}

impl Job {
    /// `running`, `done` or `failed`; a running job whose heartbeat stopped is failed.
    pub fn status_at(&self, now: NaiveDateTime) -> &str {
        if self.status == "running" && self.is_stale(now) {
            "failed"
        } else {
            &self.status
        }
    }

    fn is_stale(&self, now: NaiveDateTime) -> bool {
        now - self.heartbeat_at > Duration::seconds(STALE_AFTER_SECONDS)
    }

    pub fn failure_at(&self, now: NaiveDateTime) -> Option<String> {
        if self.status == "running" && self.is_stale(now) {
            Some("The import stopped (the server was restarted or lost the database); run it again to continue.".into())
        } else {
            self.failure.clone()
        }
    }

    /// Whether `user_id` can still take the activation letters.
    pub fn letters_waiting(&self, user_id: i64, now: NaiveDateTime) -> bool {
        self.created_by == user_id
            && self.created > 0
            && self.letters_taken_at.is_none()
            && now < self.letters_expire_at
            && self.status_at(now) != "running"
    }
}

/// One activation letter: what the talent needs to sign in for the first time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Letter {
    pub row: u32,
    pub name: String,
    pub id_number_masked: String,
    /// The login name.
    pub phone: String,
    pub card_no: String,
    pub tier: String,
    pub activation_code: String,
    pub activation_expires_at: NaiveDateTime,
}

/// Records the job and its sealed plan; the caller starts [`run`].
pub fn create(
    conn: &mut DbConnection,
    vault: &PiiVault,
    actor: &Actor,
    plan: &Plan,
    options: Options,
    file_sha256: &str,
    now: NaiveDateTime,
) -> ApiResult<String> {
    let created_by = actor
        .user_id
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("an import needs a signed-in admin")))?;
    let id = uuid::Uuid::new_v4().to_string();
    let steps = serde_json::to_vec(&plan.steps).map_err(ApiError::internal)?;
    let report = serde_json::to_string(&plan.report).map_err(ApiError::internal)?;
    diesel::insert_into(import_jobs::table)
        .values((
            import_jobs::id.eq(&id),
            import_jobs::created_by.eq(created_by),
            import_jobs::status.eq("running"),
            import_jobs::options.eq(serde_json::to_string(&options).map_err(ApiError::internal)?),
            import_jobs::total.eq(plan.steps.len() as i64),
            import_jobs::processed.eq(0),
            import_jobs::created.eq(0),
            import_jobs::updated.eq(0),
            import_jobs::report.eq(report),
            import_jobs::steps_sealed.eq(Some(vault.seal(STEPS_PURPOSE, &steps)?)),
            import_jobs::heartbeat_at.eq(now),
            import_jobs::created_at.eq(now),
            import_jobs::letters_expire_at.eq(now + Duration::hours(LETTERS_HOURS)),
        ))
        .execute(conn)?;
    audit::record(
        conn,
        actor,
        "talent.import",
        "import_job",
        &id,
        None::<&()>,
        Some(&serde_json::json!({
            "file_sha256": file_sha256,
            "format": plan.report.format,
            "rows": plan.report.rows,
            "new": plan.report.new,
            "changed": plan.report.changed.len(),
            "errors": plan.report.errors.len(),
            "options": options,
        })),
    )?;
    Ok(id)
}

pub fn find(conn: &mut DbConnection, id: &str) -> ApiResult<Job> {
    import_jobs::table
        .find(id)
        .select(Job::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ApiError::not_found(format!("No import job {id}.")))
}

/// The report as the check wrote it.
pub fn report_of(job: &Job) -> ApiResult<serde_json::Value> {
    serde_json::from_str(&job.report).map_err(ApiError::internal)
}

/// The talents the check listed as missing (`sync=true`), if it listed any.
pub fn missing_of(job: &Job) -> ApiResult<Option<Vec<MissingTalent>>> {
    match report_of(job)?.get("missing") {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(list) => serde_json::from_value(list.clone())
            .map(Some)
            .map_err(ApiError::internal),
    }
}

/// Claims a failed (or stopped) job to run it again; refused while it runs or when done.
pub fn claim_for_retry(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> ApiResult<Job> {
    let job = find(conn, id)?;
    if job.status_at(now) != "failed" {
        return Err(ApiError::invalid_transition(format!(
            "The import is {}; only a failed import runs again.",
            job.status_at(now)
        )));
    }
    let claimed = diesel::update(
        import_jobs::table
            .find(id)
            .filter(import_jobs::heartbeat_at.eq(job.heartbeat_at))
            .filter(import_jobs::steps_sealed.is_not_null()),
    )
    .set((
        import_jobs::status.eq("running"),
        import_jobs::failure.eq(None::<String>),
        import_jobs::heartbeat_at.eq(now),
    ))
    .execute(conn)?;
    if claimed != 1 {
        return Err(ApiError::invalid_transition(
            "The import was started again meanwhile, or its plan has been deleted (after 24 hours); import the file again.",
        ));
    }
    find(conn, id)
}

/// What the job runner needs from the application.
#[derive(Clone)]
pub struct Runner {
    pub db: Db,
    pub vault: Arc<PiiVault>,
    pub activation_key: [u8; 32],
    pub card_validity_years: u32,
}

/// Runs the job from where it stands until done or failed. Never panics the caller:
/// failures are recorded on the job.
pub async fn run(runner: Runner, actor: Actor, job_id: String) {
    if let Err(e) = run_batches(&runner, &actor, &job_id).await {
        tracing::warn!(job = %job_id, error = %e, "talent import failed");
        let message = e.to_string();
        let id = job_id.clone();
        let marked = runner
            .db
            .write(move |conn| {
                diesel::update(import_jobs::table.find(&id))
                    .set((
                        import_jobs::status.eq("failed"),
                        import_jobs::failure.eq(message),
                        import_jobs::finished_at.eq(crate::time::now()),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await;
        if let Err(e) = marked {
            // The heartbeat stops all the same, so the job reads as failed in a minute.
            tracing::warn!(job = %job_id, error = %e, "could not record the failure");
        }
    }
}

async fn run_batches(runner: &Runner, actor: &Actor, job_id: &str) -> ApiResult<()> {
    let vault = runner.vault.clone();
    let id = job_id.to_owned();
    let (job, steps) = runner
        .db
        .run(move |conn| {
            let job = find(conn, &id)?;
            let sealed: Option<Vec<u8>> = import_jobs::table
                .find(&id)
                .select(import_jobs::steps_sealed)
                .first(conn)?;
            let sealed = sealed.ok_or_else(|| {
                ApiError::invalid_transition("The import's plan is gone; import the file again.")
            })?;
            let steps: Vec<Step> = serde_json::from_slice(&vault.open(STEPS_PURPOSE, &sealed)?)
                .map_err(ApiError::internal)?;
            Ok((job, steps))
        })
        .await?;
    let steps = Arc::new(steps);
    let mut at = job.processed as usize;
    let mut size = 20usize;
    while at < steps.len() {
        let end = (at + size).min(steps.len());
        let started = Instant::now();
        let runner_ = runner.clone();
        let actor_ = actor.clone();
        let id = job_id.to_owned();
        let steps_ = steps.clone();
        runner
            .db
            .write(move |conn| write_batch(conn, &runner_, &actor_, &id, &steps_, at, end))
            .await
            .map_err(|e| match e {
                ApiError::Problem { detail, .. } => ApiError::conflict(format!(
                    "Rows {}–{}: {detail}",
                    steps[at].talent.row,
                    steps[end - 1].talent.row
                )),
                other => other,
            })?;
        let took = started.elapsed();
        // Aim each batch at the target from the last one's pace.
        let per_row = took.as_secs_f64() / (end - at) as f64;
        size = ((BATCH_TARGET.as_secs_f64() / per_row.max(1e-6)) as usize).clamp(1, MAX_BATCH);
        at = end;
        // Let the counters' writes in between batches.
        tokio::task::yield_now().await;
    }
    let id = job_id.to_owned();
    let actor = actor.clone();
    runner
        .db
        .write(move |conn| {
            let now = crate::time::now();
            diesel::update(import_jobs::table.find(&id))
                .set((
                    import_jobs::status.eq("done"),
                    import_jobs::finished_at.eq(now),
                    import_jobs::heartbeat_at.eq(now),
                    import_jobs::steps_sealed.eq(None::<Vec<u8>>),
                ))
                .execute(conn)?;
            let job = find(conn, &id)?;
            audit::record(
                conn,
                &actor,
                "talent.import_done",
                "import_job",
                &id,
                None::<&()>,
                Some(&serde_json::json!({"created": job.created, "updated": job.updated})),
            )
        })
        .await
}

/// Writes `steps[from..to]` with the job's progress and the batch's letters.
fn write_batch(
    conn: &mut DbConnection,
    runner: &Runner,
    actor: &Actor,
    job_id: &str,
    steps: &[Step],
    from: usize,
    to: usize,
) -> ApiResult<()> {
    let now = crate::time::now();
    let job = find(conn, job_id)?;
    if job.processed as usize != from || job.status != "running" {
        return Err(ApiError::conflict(
            "The import was changed by another run of it; it continues there.",
        ));
    }
    let batch = &steps[from..to];
    let letters = super::write::register(conn, runner, actor, batch, now)?;
    let created = letters.len() as i64;
    let mut updated = 0i64;
    for step in batch {
        if let Action::Update { talent_id } = step.action
            && super::write::update(conn, &runner.vault, actor, talent_id, step, now)?
        {
            updated += 1;
        }
    }
    if !letters.is_empty() {
        let json = serde_json::to_vec(&letters).map_err(ApiError::internal)?;
        diesel::insert_into(import_letters::table)
            .values((
                import_letters::job_id.eq(job_id),
                import_letters::batch.eq(from as i64),
                import_letters::sealed.eq(runner.vault.seal(LETTERS_PURPOSE, &json)?),
            ))
            .execute(conn)?;
    }
    diesel::update(import_jobs::table.find(job_id))
        .set((
            import_jobs::processed.eq(to as i64),
            import_jobs::created.eq(import_jobs::created + created),
            import_jobs::updated.eq(import_jobs::updated + updated),
            import_jobs::heartbeat_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the job's activation letters: once, by the admin who ran the import, within
/// 24 hours. They are deleted as they are taken.
pub fn take_letters(
    conn: &mut DbConnection,
    vault: &PiiVault,
    actor: &Actor,
    job_id: &str,
    now: NaiveDateTime,
) -> ApiResult<Vec<Letter>> {
    let job = find(conn, job_id)?;
    if Some(job.created_by) != actor.user_id {
        return Err(ApiError::forbidden(
            "Only the admin who ran the import can take its activation letters.",
        ));
    }
    if job.status_at(now) == "running" {
        return Err(ApiError::invalid_transition(
            "The import is still running; the letters follow when it is done.",
        ));
    }
    let gone =
        |detail: String| ApiError::new(actix_web::http::StatusCode::GONE, "letters_gone", detail);
    if let Some(at) = job.letters_taken_at {
        return Err(gone(format!(
            "The letters were downloaded at {}; re-issue a talent's code if one is lost.",
            crate::time::to_local(at).format("%Y-%m-%d %H:%M")
        )));
    }
    if now >= job.letters_expire_at || job.created == 0 {
        return Err(gone(
            "The letters are no longer kept (24 hours after the import); re-issue the talents' codes instead.".into(),
        ));
    }
    let taken = diesel::update(
        import_jobs::table
            .find(job_id)
            .filter(import_jobs::letters_taken_at.is_null()),
    )
    .set(import_jobs::letters_taken_at.eq(now))
    .execute(conn)?;
    if taken != 1 {
        return Err(gone("The letters were downloaded meanwhile.".into()));
    }
    let sealed: Vec<Vec<u8>> = import_letters::table
        .filter(import_letters::job_id.eq(job_id))
        .order(import_letters::batch)
        .select(import_letters::sealed)
        .load(conn)?;
    diesel::delete(import_letters::table.filter(import_letters::job_id.eq(job_id)))
        .execute(conn)?;
    let mut letters = Vec::new();
    for batch in sealed {
        let mut part: Vec<Letter> = serde_json::from_slice(&vault.open(LETTERS_PURPOSE, &batch)?)
            .map_err(ApiError::internal)?;
        letters.append(&mut part);
    }
    audit::record(
        conn,
        actor,
        "talent.import_letters",
        "import_job",
        job_id,
        None::<&()>,
        Some(&serde_json::json!({"letters": letters.len()})),
    )?;
    Ok(letters)
}

/// Deletes letters nobody took within 24 hours, and the sealed plans of jobs that
/// failed more than 24 hours ago (they can no longer run again).
pub fn purge(conn: &mut DbConnection, now: NaiveDateTime) -> ApiResult<usize> {
    let expired = import_jobs::table
        .filter(import_jobs::letters_expire_at.le(now))
        .select(import_jobs::id);
    let letters =
        diesel::delete(import_letters::table.filter(import_letters::job_id.eq_any(expired)))
            .execute(conn)?;
    let plans = diesel::update(
        import_jobs::table
            .filter(import_jobs::letters_expire_at.le(now))
            .filter(import_jobs::steps_sealed.is_not_null()),
    )
    .set(import_jobs::steps_sealed.eq(None::<Vec<u8>>))
    .execute(conn)?;
    Ok(letters + plans)
}

/// Purges every ten minutes.
pub fn spawn_purge(db: Db) {
    actix_web::rt::spawn(async move {
        let mut ticker = actix_web::rt::time::interval(StdDuration::from_secs(600));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match db.write(|conn| purge(conn, crate::time::now())).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired import letters and plans deleted"),
                Err(e) => tracing::warn!(error = %e, "purging import letters failed; will retry"),
            }
        }
    });
}
