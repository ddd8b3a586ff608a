//! XLSX files that open correctly in Chinese Excel, streamed (DESIGN §4): text is UTF-8
//! inside (no encoding guesswork), amounts are numbers in 元 with two decimals, never
//! text.
//!
//! A worksheet is written in rust_xlsxwriter's constant-memory mode, each row going to a
//! temporary file as the next begins, and the finished file is zipped into another
//! unnamed temporary file that the response reads a chunk at a time: a sheet of tens of
//! thousands of rows never sits in memory as cells, XML or zip. (XLSX is a zip whose
//! directory is written last with seeks back, so the file cannot go to the client while
//! it is being written.) Both temporary files live in the system temporary directory
//! (`TMPDIR`) and are gone when dropped. The settlement statement, the payout batch and
//! the subsidy report are written with these pieces.

use std::fs::File;
use std::io::{Read, Seek};

use actix_web::body::SizedStream;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use rust_xlsxwriter::{Format, FormatAlign, Workbook, Worksheet, XlsxError};

use crate::error::{ApiError, ApiResult};

pub const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub fn yuan(fen: i64) -> f64 {
    // Display only: fen → 元. Exact for every amount below 2^53 fen.
    fen as f64 / 100.0
}

pub struct Formats {
    pub money: Format,
    pub bold: Format,
    pub bold_money: Format,
    pub header: Format,
}

pub fn formats() -> Formats {
    Formats {
        money: Format::new().set_num_format("#,##0.00"),
        bold: Format::new().set_bold(),
        bold_money: Format::new().set_bold().set_num_format("#,##0.00"),
        header: Format::new()
            .set_bold()
            .set_align(FormatAlign::Center)
            .set_background_color(0xE8EEF7),
    }
}

pub fn header_row(
    ws: &mut Worksheet,
    row: u32,
    titles: &[&str],
    f: &Formats,
) -> Result<(), XlsxError> {
    for (col, title) in titles.iter().enumerate() {
        ws.write_string_with_format(row, col as u16, *title, &f.header)?;
    }
    Ok(())
}

pub fn xlsx_error(e: XlsxError) -> ApiError {
    ApiError::internal(anyhow::anyhow!("writing spreadsheet: {e}"))
}

fn temp_error(e: std::io::Error) -> ApiError {
    ApiError::internal(anyhow::anyhow!(
        "spreadsheet temporary file (TMPDIR {}): {e}",
        std::env::temp_dir().display()
    ))
}

/// Bytes read from the finished file per chunk of the response.
pub const CHUNK: usize = 64 * 1024;

/// A finished spreadsheet in an unnamed temporary file, to be streamed.
pub struct Spreadsheet {
    pub(crate) file: File,
    pub(crate) len: u64,
}

impl Spreadsheet {
    /// Opens the file the workbook will be zipped into. First, so that a temporary
    /// directory that cannot be written is a clean error: rust_xlsxwriter creates its
    /// row files in the same directory and panics when it cannot.
    pub fn create() -> ApiResult<File> {
        tempfile::tempfile().map_err(temp_error)
    }

    /// Zips `book` into `file` and rewinds it for reading.
    pub fn finish(book: &mut Workbook, mut file: File) -> ApiResult<Self> {
        book.save_to_writer(&mut file).map_err(xlsx_error)?;
        let len = file.stream_position().map_err(temp_error)?;
        file.rewind().map_err(temp_error)?;
        Ok(Spreadsheet { file, len })
    }

    /// The response body: the file read a chunk at a time on the blocking pool, which
    /// holds a thread only while a chunk is read (a slow client holds none), with its
    /// length as `Content-Length`.
    pub fn into_body(
        self,
    ) -> SizedStream<impl futures_util::Stream<Item = Result<web::Bytes, actix_web::Error>>> {
        let chunks = futures_util::stream::unfold(Some(self.file), |file| async move {
            let mut file = file?;
            let read = web::block(move || {
                let mut buf = vec![0; CHUNK];
                let n = file.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((file, buf))
            })
            .await;
            match read {
                Ok(Ok((_, buf))) if buf.is_empty() => None,
                Ok(Ok((file, buf))) => Some((Ok(web::Bytes::from(buf)), Some(file))),
                // The status line has gone out: ending the body short tells the client.
                Ok(Err(e)) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
                Err(e) => Some((Err(actix_web::error::ErrorInternalServerError(e)), None)),
            }
        });
        SizedStream::new(self.len, chunks)
    }

    /// The whole file, for tests.
    #[cfg(test)]
    pub fn into_bytes(mut self) -> Vec<u8> {
        let mut bytes = Vec::new();
        self.file.read_to_end(&mut bytes).unwrap();
        assert_eq!(bytes.len() as u64, self.len);
        bytes
    }
}

/// Builds a spreadsheet on the blocking pool: writing one is file work, not for the
/// async workers.
pub async fn off_the_worker(
    build: impl FnOnce() -> ApiResult<Spreadsheet> + Send + 'static,
) -> ApiResult<Spreadsheet> {
    web::block(build)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("spreadsheet task failed: {e}")))?
}

/// Streams the finished file ([`Spreadsheet::into_body`]), with its length, as a
/// download named `filename`.
pub fn response(sheet: Spreadsheet, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, XLSX_MIME))
        .insert_header((
            header::CONTENT_DISPOSITION,
            // RFC 6266: ASCII fallback plus the UTF-8 name for browsers that take it.
            format!("attachment; filename=\"{filename}\"; filename*=UTF-8''{filename}"),
        ))
        .body(sheet.into_body())
}
