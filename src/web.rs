//! The web frontend: plain HTML, CSS and JavaScript modules under `web/`, embedded in the
//! binary at build time (read from disk in debug builds) so one file deploys.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "web/"]
struct Assets;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(index))
        .route("/{path:.*}", web::get().to(asset));
}

async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html", StatusCode::OK)
}

async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.match_info().query("path");
    if path.starts_with("api/") {
        return Err(ApiError::not_found(format!("There is no GET /{path}.")));
    }
    if PAGES.contains(&path) {
        return serve(&req, "index.html", StatusCode::OK);
    }
    if Assets::get(path).is_none() && is_page_path(path) {
        // A person typed or followed a page address that does not exist: they get the
        // app, which says so in their language, not a JSON problem (still a 404).
        return serve(&req, "index.html", StatusCode::NOT_FOUND);
    }
    serve(&req, path, StatusCode::OK)
}

/// Page addresses besides `/` that the app shows (`web/js/app.js` routes them by path):
/// the public merchant application form, linked from the login page.
const PAGES: &[&str] = &["apply"];

/// A page address rather than a file: no extension in its last segment.
fn is_page_path(path: &str) -> bool {
    !path.rsplit('/').next().unwrap_or_default().contains('.')
}

fn serve(req: &HttpRequest, path: &str, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(path)
        .ok_or_else(|| ApiError::not_found(format!("There is no page /{path}.")))?;
    let mime = file.metadata.mimetype();
    // Everything revalidates (cheaply, by ETag): the page and its JavaScript modules must
    // come from the same deploy, or a new page would run against a stale module. The
    // app's offline copy lives in the service worker's cache, not the HTTP cache.
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if matches && status == StatusCode::OK {
        HttpResponse::NotModified()
    } else {
        HttpResponse::build(status)
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        // Page URLs can carry a card number or a search: never pass them on in a Referer.
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if matches && status == StatusCode::OK {
        return Ok(response.finish());
    }
    Ok(response
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ))
        .body(file.data.into_owned()))
}
