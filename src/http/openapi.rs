//! The OpenAPI document: paths are collected from the handlers' `#[utoipa::path]`
//! annotations as routes are registered (utoipa-actix-web), so it cannot drift from
//! the code. [`standard_problems`] then adds the refusals that every operation of a kind
//! can give (they come from extractors and middleware, not from the handler), so the
//! document states every status a client can meet.

use utoipa::openapi::path::{Operation, PathItem};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "遂州英才卡 talentcard API", description = "Talent card merchant benefits platform. Money is integer fen; rates are basis points; times are RFC 3339 (Asia/Shanghai). Every refusal is an RFC 9457 `application/problem+json` document with a stable `code`."),
    modifiers(&SecuritySchemes),
    components(schemas(crate::error::Problem))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::auth::principal::SESSION_COOKIE,
            ))),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::session::REFRESH_COOKIE,
                "HttpOnly, sent only to /api/v1/auth; set at login, rotated by each renewal.",
            ))),
        );
    }
}

/// The media type of every refusal (RFC 9457).
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Operations open to any logged-in role and reading only the caller's own data: the
/// role check cannot refuse them, so they carry no 403.
const NEVER_FORBIDDEN: [(&str, &str); 1] = [("get", "/api/v1/me")];

/// Adds the refusals that come from the shared plumbing rather than from a handler, to
/// every operation they can happen on, and declares every problem body as
/// `application/problem+json`:
/// - 400 `malformed_json`, 413 `payload_too_large`, 415 `unsupported_media_type` where a
///   body is read ([`super::json_config`], [`super::OptionalJson`]);
/// - 401 `unauthorized` and 403 `forbidden` where a login is required (`Auth<R>`);
/// - 404 `not_found` where the path names a resource ([`super::path_config`]);
/// - 422 `validation` where parameters or a body are parsed;
/// - 503 `unavailable` wherever the database is used (`From<PoolError>`).
///
/// Runs on the finished document: the paths only exist once the routes are registered.
/// The districts a merchant may name come from configuration (`DISTRICTS`), so the
/// served document lists this deployment's as the enum of the application's `district`
/// and of the directory's `district` filter.
pub fn configured_districts(document: &mut serde_json::Value, districts: &[String]) {
    let choices = serde_json::json!(districts);
    if let Some(field) = document.pointer_mut("/components/schemas/Application/properties/district")
    {
        *field = serde_json::json!({
            "type": "string",
            "enum": choices,
            "description": "One of the configured districts (`DISTRICTS`)."
        });
    }
    let directory_params = document
        .pointer_mut("/paths/~1api~1v1~1merchants/get/parameters")
        .and_then(serde_json::Value::as_array_mut);
    for param in directory_params.into_iter().flatten() {
        if param["name"] == "district" {
            param["schema"]["enum"] = choices.clone();
        }
    }
}

/// Rules a request body's handler enforces across its fields, as JSON Schema keywords
/// on the body's component (`oneOf`): the derive states each field alone and has no
/// attribute for these. Each rule sits beside the body it describes.
fn cross_field_rules() -> [(&'static str, serde_json::Value); 3] {
    [
        ("Application", crate::merchants::routes::application_rules()),
        (
            "LookupTalent",
            crate::talents::routes::lookup_talent_rules(),
        ),
        ("OfferBody", crate::offers::routes::offer_body_rules()),
    ]
}

/// Adds [`cross_field_rules`] to their components. utoipa's `Object` has no field for
/// `oneOf` beside `properties`; its extensions serialise flattened into the schema, so
/// the keyword lands where JSON Schema reads it.
pub fn declare_cross_field_rules(openapi: &mut utoipa::openapi::OpenApi) {
    let Some(components) = openapi.components.as_mut() else {
        return;
    };
    for (name, rules) in cross_field_rules() {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(name) else {
            panic!("the OpenAPI document has no object schema {name} to add its rules to");
        };
        let serde_json::Value::Object(rules) = rules else {
            panic!("the rules of {name} are not a JSON object");
        };
        object
            .extensions
            .get_or_insert_with(Default::default)
            .extend(rules);
    }
}

pub fn standard_problems(openapi: &mut utoipa::openapi::OpenApi) {
    for (path, item) in openapi.paths.paths.iter_mut() {
        for (method, op) in operations_mut(item) {
            standardise(path, method, op);
        }
    }
}

fn operations_mut(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("options", item.options.as_mut()),
        ("head", item.head.as_mut()),
        ("patch", item.patch.as_mut()),
        ("trace", item.trace.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

fn standardise(path: &str, method: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|reqs| {
        reqs.iter().any(|r| {
            serde_json::to_value(r).is_ok_and(|v| v.as_object().is_some_and(|o| !o.is_empty()))
        })
    });
    let has_body = op.request_body.is_some();
    let has_params = op.parameters.as_ref().is_some_and(|p| !p.is_empty());
    let names_resource = path.contains('{');
    let uses_database = path.starts_with("/api/v1/") || path == "/readyz";

    for response in op.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            declare_problem_media_type(response);
        }
    }
    let mut add = |status: u16, wanted: bool| {
        if wanted {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert_with(|| RefOr::T(problem_response(status)));
        }
    };
    add(400, has_body);
    add(401, secured);
    add(403, secured && !NEVER_FORBIDDEN.contains(&(method, path)));
    add(404, names_resource);
    add(413, has_body);
    add(415, has_body);
    add(422, has_body || has_params);
    add(503, uses_database);
    for (status, response) in op.responses.responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
            && response.content.contains_key(PROBLEM_JSON)
        {
            response.description = describe(status.parse().unwrap_or(0)).to_owned();
        }
    }
}

/// A problem body declared as `application/json` becomes `application/problem+json`,
/// the media type the handlers send.
fn declare_problem_media_type(response: &mut Response) {
    let is_problem = |c: &utoipa::openapi::Content| matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    if let Some(content) = response.content.get("application/json")
        && is_problem(content)
        && let Some(content) = response.content.shift_remove("application/json")
    {
        response.content.insert(PROBLEM_JSON.to_owned(), content);
    }
}

fn problem_response(status: u16) -> Response {
    ResponseBuilder::new()
        .description(describe(status))
        .content(
            PROBLEM_JSON,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

fn describe(status: u16) -> &'static str {
    match status {
        400 => "`malformed_json`: the body is not valid JSON",
        401 => "`unauthorized`: no valid access token, or the session has ended",
        403 => "`forbidden`: the caller's role or scope does not allow this",
        404 => "`not_found`: no such resource, or not visible to the caller",
        409 => "`conflict` or `invalid_transition`: not possible in the current state",
        413 => "`payload_too_large`: the body exceeds the route's limit",
        415 => "`unsupported_media_type`: send the body as `application/json`",
        422 => "`validation`: a parameter or field is out of range or malformed",
        429 => "`too_many_requests`: retry later",
        503 => "`unavailable`: the database is unreachable or busy; retry",
        _ => "a problem document",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::to_value(crate::startup::openapi_document()).unwrap()
    }

    #[test]
    fn bodies_carry_their_cross_field_rules() {
        let doc = document();
        for (name, rules) in super::cross_field_rules() {
            let schema = &doc["components"]["schemas"][name];
            assert_eq!(schema["oneOf"], rules["oneOf"], "{name}");
            assert!(
                schema["properties"].is_object(),
                "{name} keeps its properties"
            );
        }
    }

    #[test]
    fn each_step_documents_the_reason_it_reads() {
        let doc = document();
        let body = |path: &str| doc["paths"][path]["post"]["requestBody"].clone();
        for path in [
            "/api/v1/merchants/{id}/reject",
            "/api/v1/merchants/{id}/suspend",
            "/api/v1/offers/{id}/reject",
            "/api/v1/cards/{card_no}/suspend",
            "/api/v1/cards/{card_no}/revoke",
            "/api/v1/redemptions/{id}/reverse",
            "/api/v1/redemptions/{id}/dispute",
        ] {
            let body = body(path);
            assert_eq!(body["required"], true, "{path}: {body}");
            assert_eq!(
                body["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/RequiredReason",
                "{path}"
            );
        }
        for path in [
            "/api/v1/merchants/{id}/approve",
            "/api/v1/merchants/{id}/resume",
            "/api/v1/offers/{id}/approve",
            "/api/v1/offers/{id}/pause",
            "/api/v1/offers/{id}/resume",
            "/api/v1/offers/{id}/end",
            "/api/v1/cards/{card_no}/resume",
        ] {
            let body = body(path);
            assert_ne!(body["required"], true, "{path}: {body}");
            assert!(
                body.to_string()
                    .contains("\"#/components/schemas/OptionalReason\""),
                "{path}: {body}"
            );
        }
        let schemas = &doc["components"]["schemas"];
        assert_eq!(
            schemas["RequiredReason"]["required"],
            serde_json::json!(["reason"])
        );
        assert!(schemas["OptionalReason"]["required"].is_null());
    }

    #[test]
    fn the_directory_tier_filter_states_the_tier_parser() {
        let doc = document();
        let params = doc["paths"]["/api/v1/merchants"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let tier = params.iter().find(|p| p["name"] == "tier").unwrap();
        assert_eq!(
            tier["schema"]["pattern"],
            crate::tier::tier_letter_query_pattern()
        );
    }
}
