//! `GET /audit/export`: the record as one self-contained file, streamed a page at a
//! time so a log of millions of entries never sits in memory.

use std::io::Write;

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use super::export::{
    End, ExportedCheckpoint, ExportedKey, FORMAT, HASH_VERSION, Header, Line, VERSION,
};
use super::{checkpoints, privacy, sealer, verify};
use crate::auth::Auth;
use crate::auth::principal::Official;
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// Bytes gathered before a chunk goes out.
const CHUNK: usize = 64 * 1024;
/// Entries read per query.
const PAGE: i64 = 10_000;

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(export);
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportQuery {
    /// Export entries 1..size (default: the latest checkpoint's size, so the file ends
    /// on a signed checkpoint).
    #[param(minimum = 0)]
    pub size: Option<i64>,
}

/// Export the audit record: entries with their hash inputs, checkpoints with
/// signatures and witnesses, the public keys (docs/audit-format.md). Verify it
/// offline with `talentcard verify-export`.
#[utoipa::path(
    tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "JSON lines (docs/audit-format.md)", content_type = "application/x-ndjson", body = String),
        (status = 409, description = "the log is shorter than its latest checkpoint", body = crate::error::Problem),
    ),
    security(("bearer" = []))
)]
#[get("/audit/export")]
pub async fn export(
    _auth: Auth<Official>,
    state: web::Data<AppState>,
    query: crate::http::Query<ExportQuery>,
) -> ApiResult<HttpResponse> {
    let requested = query.into_inner().size;
    let (secrets, config) = (state.secrets.clone(), state.config.clone());
    let (header, checkpoint_lines) = state
        .db
        .run(move |conn| prepare(conn, &secrets, &config.audit_log_origin, requested))
        .await?;
    let size = header.size;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<web::Bytes>(4);
    let db = state.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let written = db.get().map_err(anyhow::Error::from).and_then(|mut conn| {
            let mut out = std::io::BufWriter::with_capacity(CHUNK, ChannelWriter(tx));
            write(&mut conn, header, &checkpoint_lines, &mut out)?;
            out.flush()?;
            Ok(())
        });
        if let Err(e) = written {
            // The status line has gone out: the missing end line tells the verifier.
            tracing::warn!(error = %e, "audit export stopped early");
        }
    });
    let body = futures_util::stream::poll_fn(move |cx| {
        rx.poll_recv(cx)
            .map(|chunk| chunk.map(Ok::<_, actix_web::Error>))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/x-ndjson; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"audit-export-{size}.jsonl\""),
        ))
        .streaming(body))
}

/// Resolves the export's size (422 when more than is sealed) and gathers the header and
/// checkpoint lines; the entries are streamed by [`write`].
pub fn prepare(
    conn: &mut DbConnection,
    secrets: &crate::secrets::Secrets,
    origin: &str,
    requested: Option<i64>,
) -> ApiResult<(Header, Vec<Line>)> {
    let (head, _) = sealer::head(conn)?;
    let size = match requested {
        Some(size) if size < 0 => {
            return Err(ApiError::invalid_field("size", "size is 0 or more"));
        }
        Some(size) if size > head => {
            return Err(ApiError::invalid_field(
                "size",
                format!("Only {head} entries are sealed; ask for {head} or fewer."),
            ));
        }
        Some(size) => size,
        None => match checkpoints::latest(conn)? {
            None => head,
            Some(c) if c.size <= head => c.size,
            // Not silently a shorter export without the checkpoint that shows the loss.
            Some(c) => {
                return Err(ApiError::conflict(format!(
                    "The latest checkpoint covers {} entries but only {head} are sealed: \
                     entries were removed. GET /audit/verify names where.",
                    c.size
                )));
            }
        },
    };
    let lines: Vec<Line> = checkpoints::all_up_to(conn, size)?
        .into_iter()
        .map(|c| {
            Line::Checkpoint(ExportedCheckpoint {
                record: c.record(),
                reason: c.checkpoint.reason,
                signed_at: crate::time::to_local(c.checkpoint.signed_at).to_rfc3339(),
            })
        })
        .collect();
    let keys = super::checkpoint_routes::public_keys(secrets);
    let exported_key = |key_id: String, public_key: String, current: bool| ExportedKey {
        key_id,
        algorithm: "Ed25519".into(),
        public_key,
        current,
    };
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        hash_version: HASH_VERSION,
        origin: origin.to_owned(),
        size,
        exported_at: crate::time::to_local(crate::time::now()).to_rfc3339(),
        keys: std::iter::once(exported_key(keys.key_id, keys.public_key, true))
            .chain(
                keys.previous
                    .into_iter()
                    .map(|k| exported_key(k.key_id, k.public_key, false)),
            )
            .collect(),
    };
    Ok((header, lines))
}

/// Writes the export: header, checkpoints, entries 1..size a page at a time (payloads
/// holding unmasked personal data withheld), end line.
pub fn write(
    conn: &mut DbConnection,
    header: Header,
    checkpoint_lines: &[Line],
    out: &mut impl Write,
) -> anyhow::Result<()> {
    let size = header.size;
    let line = |out: &mut dyn Write, line: &Line| -> anyhow::Result<()> {
        serde_json::to_writer(&mut *out, line)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(out, &Line::Header(header))?;
    for l in checkpoint_lines {
        line(out, l)?;
    }
    let mut next = 1;
    while next <= size {
        let page = read_page(conn, next, size)?;
        if page.is_empty() {
            anyhow::bail!(
                "the chain ends at {} before the export size {size}",
                next - 1
            );
        }
        for mut entry in page {
            let holds = |p: &Option<String>| {
                p.as_deref()
                    .is_some_and(privacy::holds_unmasked_personal_data)
            };
            if holds(&entry.before_json) || holds(&entry.after_json) {
                entry.before_json = None;
                entry.after_json = None;
                entry.withheld = true;
            }
            next = entry.seq + 1;
            line(out, &Line::Entry(entry))?;
        }
    }
    line(
        out,
        &Line::End(End {
            entries: size,
            checkpoints: checkpoint_lines.len() as i64,
        }),
    )
}

fn read_page(
    conn: &mut DbConnection,
    from: i64,
    to: i64,
) -> anyhow::Result<Vec<super::chain::ChainEntry>> {
    verify::sealed_page(conn, from, to.min(from + PAGE - 1)).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Hands written bytes to the response stream; fails once the client has gone, which
/// stops the export.
struct ChannelWriter(tokio::sync::mpsc::Sender<web::Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(web::Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "client gone"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
