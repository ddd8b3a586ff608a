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

/// The request span of every log line: the route *pattern* (`/api/v1/cards/{card_no}`)
/// and the names of the query parameters, never their values or the raw path — those
/// carry card numbers, talent names and phone numbers (`?name=`, `?card_no=`, `?q=`).
pub struct RedactedRootSpan;

impl tracing_actix_web::RootSpanBuilder for RedactedRootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        // Inside the macro, the fields are worked out only when the span is enabled:
        // finding the route pattern matches the path against every route again.
        tracing::info_span!(
            "request",
            http.method = %request.method(),
            http.target = %redacted_target(
                &request.match_pattern().unwrap_or_else(|| "unmatched".to_owned()),
                request.query_string()
            ),
            http.client_ip = %request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
            http.status_code = tracing::field::Empty,
            request_id = %request
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string())
                .unwrap_or_default(),
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(response) => response.status(),
            Err(error) => error.as_response_error().status_code(),
        };
        span.record("http.status_code", status.as_u16());
    }
}

/// `route?name=…&page=…`: which parameters came, not what they said.
fn redacted_target(route: &str, query: &str) -> String {
    let names: Vec<&str> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map_or(pair, |(name, _)| name))
        .collect();
    if names.is_empty() {
        return route.to_owned();
    }
    let query: Vec<String> = names
        .iter()
        .map(|name| {
            // A name is client input too: keep it short and printable.
            let name: String = name
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || "_-[].%".contains(*c))
                .take(32)
                .collect();
            format!("{name}=…")
        })
        .collect();
    format!("{route}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use actix_web::test as actix_test;
    use actix_web::{App, HttpResponse, web};
    use tracing_actix_web::TracingLogger;

    use super::{RedactedRootSpan, redacted_target};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn targets_keep_parameter_names_only() {
        assert_eq!(redacted_target("/api/v1/talents", ""), "/api/v1/talents");
        assert_eq!(
            redacted_target("/api/v1/talents", "name=%E5%BC%A0%E4%B8%89&page=2"),
            "/api/v1/talents?name=…&page=…"
        );
        assert_eq!(
            redacted_target("/x", "flag&card_no=123"),
            "/x?flag=…&card_no=…"
        );
    }

    #[actix_web::test]
    async fn request_logs_carry_no_query_values_or_path_ids() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let app = actix_test::init_service(
            App::new()
                .wrap(TracingLogger::<RedactedRootSpan>::new())
                .route(
                    "/api/v1/cards/{card_no}",
                    web::get().to(|| async {
                        tracing::warn!("something worth logging");
                        HttpResponse::Ok().finish()
                    }),
                ),
        )
        .await;
        let req = actix_test::TestRequest::get()
            .uri("/api/v1/cards/88880000123?name=%E5%BC%A0%E4%B8%89&card_no=88880000123")
            .to_request();
        actix_test::call_service(&app, req).await;
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert!(log.contains("something worth logging"), "{log}");
        assert!(
            log.contains("/api/v1/cards/{card_no}?name=…&card_no=…"),
            "{log}"
        );
        assert!(!log.contains("88880000123"), "card number logged: {log}");
        assert!(!log.contains("%E5%BC%A0"), "name logged: {log}");
    }
}
