//! Import endpoints (admin): check or import a spreadsheet, follow the job, take the
//! letters once, run a failed job again, suspend the talents the bureau's list left out,
//! and a template to fill in.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::NaiveDateTime;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use super::job::{self, Job, Runner};
use super::plan::{self, ImportReport, MissingTalent, Options};
use crate::auth::Auth;
use crate::auth::principal::Admin;
use crate::error::{ApiError, ApiResult};
use crate::spreadsheet::{Spreadsheet, formats, header_row, off_the_worker, response, xlsx_error};
use crate::state::AppState;
use crate::talents::PiiVault;

/// Uploads up to 20 MiB (DESIGN §4): a 10 000-row XLSX is well under 1 MiB.
pub const UPLOAD_LIMIT: usize = 20 * 1024 * 1024;

/// Content types a raw upload may carry; browsers send files as multipart.
const RAW_TYPES: [&str; 6] = [
    crate::spreadsheet::XLSX_MIME,
    "application/vnd.ms-excel",
    "text/csv",
    "text/plain",
    "application/csv",
    "application/octet-stream",
];

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(import_template)
        .service(import_talents)
        .service(import_job)
        .service(retry_import)
        .service(import_letters)
        .service(suspend_missing);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ImportQuery {
    /// Check the file and answer the report; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Apply changed names, phones (the login follows), employers and tiers of talents
    /// already registered; without it they are only reported.
    #[serde(default)]
    pub update_existing: bool,
    /// Import the valid rows of a file that has invalid ones.
    #[serde(default)]
    pub skip_invalid: bool,
    /// Also list the talents of the file's tiers who are missing from it.
    #[serde(default)]
    pub sync: bool,
}

/// The answer to an import: the job to follow.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportStarted {
    pub job_id: String,
}

/// An import job as the page follows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportJobView {
    pub job_id: String,
    /// `running`, `done` or `failed` (a failed job can run again: `POST …/retry`).
    pub status: String,
    /// Rows written so far, of `total` to write.
    pub processed: i64,
    pub total: i64,
    /// Talents registered (each with a card and an activation code).
    pub created: i64,
    /// Registered talents whose details were changed.
    pub updated: i64,
    #[schema(value_type = ImportReport)]
    pub report: serde_json::Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Where the admin who ran the import takes the activation letters, once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letters_url: Option<String>,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub letters_expire_at: NaiveDateTime,
    #[serde(serialize_with = "crate::time::rfc3339_local::serialize")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: NaiveDateTime,
}

fn view(job: &Job, user_id: i64, now: NaiveDateTime) -> ApiResult<ImportJobView> {
    Ok(ImportJobView {
        job_id: job.id.clone(),
        status: job.status_at(now).to_owned(),
        processed: job.processed,
        total: job.total,
        created: job.created,
        updated: job.updated,
        report: job::report_of(job)?,
        failure: job.failure_at(now),
        letters_url: job
            .letters_waiting(user_id, now)
            .then(|| format!("/api/v1/talents/import/{}/letters", job.id)),
        letters_expire_at: job.letters_expire_at,
        created_at: job.created_at,
    })
}

fn runner(state: &AppState) -> Runner {
    Runner {
        db: state.db.clone(),
        vault: Arc::new(PiiVault::new(&state.secrets)),
        activation_key: state.secrets.activation_key(),
        card_validity_years: state.config.card_validity_years,
    }
}

fn too_large() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!(
            "The file is larger than {} MiB.",
            UPLOAD_LIMIT / 1024 / 1024
        ),
    )
}

/// The uploaded file: the raw body, or the multipart field `file`.
async fn upload(req: &HttpRequest, mut payload: web::Payload) -> ApiResult<Vec<u8>> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > UPLOAD_LIMIT + 64 * 1024) {
        return Err(too_large());
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    // The bytes arrived; they are not a form or a file this import reads.
    let unreadable = |e: &dyn std::fmt::Display| {
        ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "file_unreadable",
            format!("The upload could not be read: {e}"),
        )
    };
    if mime == "multipart/form-data" {
        let mut parts = actix_multipart::Multipart::new(req.headers(), payload);
        while let Some(part) = parts.next().await {
            let mut part = part.map_err(|e| unreadable(&e))?;
            let is_file = part.name() == Some("file");
            let mut bytes = Vec::new();
            while let Some(chunk) = part.next().await {
                let chunk = chunk.map_err(|e| unreadable(&e))?;
                if bytes.len() + chunk.len() > UPLOAD_LIMIT {
                    return Err(too_large());
                }
                if is_file {
                    bytes.extend_from_slice(&chunk);
                }
            }
            if is_file {
                return Ok(bytes);
            }
        }
        return Err(ApiError::invalid_field(
            "file",
            "the form has no field named file",
        ));
    }
    if !RAW_TYPES.contains(&mime.as_str()) {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the spreadsheet as XLSX or CSV (its own content type or application/octet-stream), or as the multipart field file.",
        ));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        if bytes.len() + chunk.len() > UPLOAD_LIMIT {
            return Err(too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Import talents from a spreadsheet (DESIGN §10). With `dry_run=true` the answer is
/// the row-by-row report and nothing is written; otherwise the whole file is checked
/// first, then a job writes it in batches (202 with the job to follow).
#[utoipa::path(
    tag = "talents",
    params(ImportQuery),
    request_body(
        description = "XLSX or CSV (UTF-8 with or without BOM, GB18030) with a header row: 姓名, 身份证号, 手机号, 工作单位, 人才层次, optional 有效期至; raw with its content type, or the multipart field `file`. At most 20 MiB.",
        content(
            (RawFile = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            (RawFile = "text/csv"),
            (RawFile = "application/octet-stream"),
            (UploadForm = "multipart/form-data")
        )
    ),
    responses(
        (status = 200, description = "The report of a dry run", body = ImportReport),
        (status = 202, description = "The import runs as a job", body = ImportStarted),
        (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem),
        (status = 422, description = "The file cannot be read, its header is not understood, or rows are invalid and skip_invalid is not set", body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/talents/import")]
pub async fn import_talents(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    query: crate::http::Query<ImportQuery>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    let query = query.into_inner();
    let options = Options {
        update_existing: query.update_existing,
        skip_invalid: query.skip_invalid,
        sync: query.sync,
    };
    let bytes = upload(&req, payload).await?;
    let file_sha256 = hex::encode(Sha256::digest(&bytes));
    let now = crate::time::now();
    let vault = Arc::new(PiiVault::new(&state.secrets));
    let checking = vault.clone();
    let plan = state
        .db
        .run(move |conn| plan::check(conn, &checking, &bytes, options, now))
        .await?;
    if query.dry_run {
        return Ok(HttpResponse::Ok().json(plan.report));
    }
    if let Some(problem) = plan.report.header_problems.first() {
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "import_invalid",
            format!(
                "The header row is not understood ({} {}): check the file with dry_run=true.",
                problem.code, problem.header
            ),
        ));
    }
    if !plan.report.errors.is_empty() && !options.skip_invalid {
        let rows = plan.report.rows - plan.report.ok;
        return Err(ApiError::new(
            actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
            "import_invalid",
            format!(
                "{rows} of {} rows have errors, so nothing was written: see them with dry_run=true, correct the file, or import the valid rows with skip_invalid=true.",
                plan.report.rows
            ),
        ));
    }
    let actor = auth.actor();
    let creator = actor.clone();
    let job_id = state
        .db
        .write(move |conn| job::create(conn, &vault, &creator, &plan, options, &file_sha256, now))
        .await?;
    actix_web::rt::spawn(job::run(runner(&state), actor, job_id.clone()));
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/talents/import/{job_id}")))
        .json(ImportStarted { job_id }))
}

/// The spreadsheet's bytes as the request body.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub struct RawFile(Vec<u8>);

/// A browser's upload: the spreadsheet as the field `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// An import job's progress, report and letters link.
#[utoipa::path(
    tag = "talents",
    params(("job_id" = String, Path, description = "As answered by the import")),
    responses((status = 200, body = ImportJobView), (status = 404, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[get("/talents/import/{job_id}")]
pub async fn import_job(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<web::Json<ImportJobView>> {
    let id = path.into_inner();
    let user_id = auth.0.user_id;
    let now = crate::time::now();
    let found = state.db.run(move |conn| job::find(conn, &id)).await?;
    Ok(web::Json(view(&found, user_id, now)?))
}

/// Run a failed import again: it continues after the last batch written.
#[utoipa::path(
    tag = "talents",
    params(("job_id" = String, Path)),
    responses((status = 202, body = ImportStarted), (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem)),
    security(("bearer" = []))
)]
#[post("/talents/import/{job_id}/retry")]
pub async fn retry_import(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let now = crate::time::now();
    let actor = auth.actor();
    let claimed = id.clone();
    let audit_actor = actor.clone();
    state
        .db
        .write(move |conn| {
            job::claim_for_retry(conn, &claimed, now)?;
            crate::audit::record(
                conn,
                &audit_actor,
                "talent.import_retry",
                "import_job",
                &claimed,
                None::<&()>,
                None::<&()>,
            )
        })
        .await?;
    actix_web::rt::spawn(job::run(runner(&state), actor, id.clone()));
    Ok(HttpResponse::Accepted()
        .insert_header((header::LOCATION, format!("/api/v1/talents/import/{id}")))
        .json(ImportStarted { job_id: id }))
}

/// The activation letters (XLSX: a list, and sheets to print one letter per page).
/// Once, for the admin who ran the import, within 24 hours; then they are deleted.
#[utoipa::path(
    tag = "talents",
    params(("job_id" = String, Path)),
    responses(
        (status = 200, description = "XLSX", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem),
        (status = 410, description = "Already taken or expired", body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[get("/talents/import/{job_id}/letters")]
pub async fn import_letters(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let actor = auth.actor();
    let vault = PiiVault::new(&state.secrets);
    let now = crate::time::now();
    let letters = state
        .db
        .write(move |conn| job::take_letters(conn, &vault, &actor, &id, now))
        .await?;
    let sheet = off_the_worker(move || super::letters::spreadsheet(&letters)).await?;
    let day = crate::time::to_local(now).format("%Y%m%d");
    Ok(response(sheet, &format!("activation-letters-{day}.xlsx")))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendMissing {
    /// The talents of the job's `missing` list to suspend, as confirmed by the official.
    /// At most 1 000 a request: a longer list goes in several.
    #[schema(min_items = 1, max_items = 1000)]
    pub talent_ids: Vec<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuspendedMissing {
    /// The cards suspended.
    pub suspended: Vec<MissingTalent>,
}

/// Suspend the live cards of talents the bureau's list left out (an import run with
/// `sync=true`), in one confirmed step. Only talents of the job's `missing` list.
#[utoipa::path(
    tag = "talents",
    params(("job_id" = String, Path)),
    request_body = SuspendMissing,
    responses(
        (status = 200, body = SuspendedMissing),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem),
        (status = 422, body = crate::error::Problem)
    ),
    security(("bearer" = []))
)]
#[post("/talents/import/{job_id}/suspend-missing")]
pub async fn suspend_missing(
    auth: Auth<Admin>,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: crate::http::Json<SuspendMissing>,
) -> ApiResult<web::Json<SuspendedMissing>> {
    let id = path.into_inner();
    let wanted = body.into_inner().talent_ids;
    if wanted.is_empty() || wanted.len() > 1_000 {
        return Err(ApiError::invalid_field(
            "talent_ids",
            "talent_ids must list 1 to 1000 talents",
        ));
    }
    let actor = auth.actor();
    let now = crate::time::now();
    let suspended = state
        .db
        .write(move |conn| super::sync::suspend_missing(conn, &actor, &id, &wanted, now))
        .await?;
    Ok(web::Json(SuspendedMissing { suspended }))
}

/// An empty import sheet with the expected headers and the ID and phone columns
/// formatted as text (so Excel keeps all 18 digits), and a second sheet saying how to
/// fill it in. No example row: a template uploaded as it is must import nobody.
#[utoipa::path(
    tag = "talents",
    responses((status = 200, description = "XLSX", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")),
    security(("bearer" = []))
)]
#[get("/talents/import/template")]
pub async fn import_template(_auth: Auth<Admin>) -> ApiResult<HttpResponse> {
    let sheet = off_the_worker(template).await?;
    Ok(response(sheet, "talent-import-template.xlsx"))
}

fn template() -> ApiResult<Spreadsheet> {
    use rust_xlsxwriter::{Format, Workbook, Worksheet, XlsxError};
    let out = Spreadsheet::create()?;
    let mut book = Workbook::new();
    let f = formats();
    let text = Format::new().set_num_format("@");
    let list = |ws: &mut Worksheet| -> Result<(), XlsxError> {
        ws.set_name("人才名单")?;
        header_row(
            ws,
            0,
            &[
                "姓名",
                "身份证号",
                "手机号",
                "工作单位",
                "人才层次",
                "有效期至",
            ],
            &f,
        )?;
        for (col, width) in [(0, 12), (1, 22), (2, 16), (3, 28), (4, 10), (5, 14)] {
            ws.set_column_width(col, width)?;
        }
        for col in [1, 2, 5] {
            ws.set_column_format(col, &text)?;
        }
        Ok(())
    };
    let help = |ws: &mut Worksheet| -> Result<(), XlsxError> {
        ws.set_name("填写说明")?;
        ws.set_column_width(0, 100)?;
        for (row, line) in [
            "每行一位人才，从第 2 行起填写；第 1 行的表头不要改。",
            "姓名、身份证号、手机号、人才层次必填；工作单位、有效期至可空（空则按默认有效期发卡）。",
            "身份证号、手机号两列已设为“文本”格式，请保持，否则 Excel 会把 18 位号码变成 5.10903E+17 并丢掉末几位。",
            "人才层次填 A–E，或 顶尖、领军、拔尖、骨干、青年。",
            "有效期至写成 2028-12-31。",
            "手机号就是人才的登录名；导入后每人得到一个激活码，用它设置自己的密码。",
        ]
        .iter()
        .enumerate()
        {
            ws.write_string(row as u32, 0, *line)?;
        }
        Ok(())
    };
    list(book.add_worksheet()).map_err(xlsx_error)?;
    help(book.add_worksheet()).map_err(xlsx_error)?;
    Spreadsheet::finish(&mut book, out)
}
