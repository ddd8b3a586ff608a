//! The OpenAPI document: paths are collected from the handlers' `#[utoipa::path]`
//! annotations as routes are registered (utoipa-actix-web), so it cannot drift from
//! the code.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "遂州英才卡 talentcard API", description = "Talent card merchant benefits platform. Money is integer fen; rates are basis points; times are RFC 3339 (Asia/Shanghai)."),
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
    }
}
