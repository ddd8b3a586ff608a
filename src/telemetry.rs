//! Structured logging. `RUST_LOG` (or `LOG_LEVEL`) sets the filter, `LOG_FORMAT=json`
//! switches to JSON lines. Request bodies are never logged: they carry passwords and
//! personal data.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = std::env::var("RUST_LOG")
        .or_else(|_| std::env::var("LOG_LEVEL"))
        .unwrap_or_else(|_| "info".into());
    let filter = EnvFilter::try_new(&filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if std::env::var("LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
    // Already initialised (tests start several apps in one process): keep the first.
    let _ = result;
}
