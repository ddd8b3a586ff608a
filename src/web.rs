//! The web frontend: plain HTML, CSS and JavaScript modules under `web/`, embedded in the
//! binary at build time (read from disk in debug builds) so one file deploys.

use actix_web::http::header;
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

async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

async fn asset(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = req.match_info().query("path");
    if path.starts_with("api/") {
        return Err(ApiError::not_found(format!("There is no GET /{path}.")));
    }
    serve(path)
}

fn serve(path: &str) -> Result<HttpResponse, ApiError> {
    let file = Assets::get(path)
        .ok_or_else(|| ApiError::not_found(format!("There is no page /{path}.")))?;
    let mime = file.metadata.mimetype();
    // Pages and the service worker must revalidate so a deploy reaches phones; the app's
    // offline copy lives in the service worker's cache, not the HTTP cache.
    let cache = if path.ends_with(".html") || path.ends_with("sw.js") || path.ends_with(".json") {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ))
        .body(file.data.into_owned()))
}
