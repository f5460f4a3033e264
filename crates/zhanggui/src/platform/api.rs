//! The JSON API's shared conventions (DESIGN.md "The JSON API"): body extraction with
//! localized errors, list pagination with opaque cursors, and the OpenAPI document.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::error::AppError;
use super::i18n::Msg;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

/// A JSON body whose rejections (malformed JSON, missing fields, too large) become our
/// localized errors instead of axum's English text.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::MissingJsonContentType(_)) => {
                Err(AppError::BadRequest(Msg::new("error.json_content_type")))
            }
            Err(JsonRejection::JsonDataError(e)) => Err(AppError::BadRequest(
                Msg::new("error.json_shape").arg("detail", e.body_text()),
            )),
            Err(JsonRejection::JsonSyntaxError(_)) => {
                Err(AppError::BadRequest(Msg::new("error.json_syntax")))
            }
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(AppError::PayloadTooLarge)
            }
            Err(e) => Err(AppError::BadRequest(
                Msg::new("error.json_shape").arg("detail", e.body_text()),
            )),
        }
    }
}

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size, 1 to 500 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// (id after which to start, page size), or a localized complaint about the parameters.
    pub fn window(&self) -> Result<(i64, i64), AppError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            let mut f = super::error::FieldErrors::default();
            f.add(
                "limit",
                Msg::new("error.range").arg("min", 1).arg("max", MAX_LIMIT),
            );
            return Err(AppError::Validation(f));
        }
        let after = match &self.cursor {
            None => 0,
            Some(c) => decode_cursor(c).ok_or_else(|| {
                let mut f = super::error::FieldErrors::default();
                f.add("cursor", Msg::new("error.bad_cursor"));
                AppError::Validation(f)
            })?,
        };
        Ok((after, limit))
    }
}

pub fn encode_cursor(id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("id:{id}"))
}

fn decode_cursor(c: &str) -> Option<i64> {
    let raw = URL_SAFE_NO_PAD.decode(c).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("id:")?
        .parse()
        .ok()
}

/// One page of a list: `{"items": [...], "next_cursor": "..." | null}`.
#[derive(Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page from rows fetched with `limit` and their ids.
    pub fn of(items: Vec<T>, limit: i64, id_of: impl Fn(&T) -> i64) -> Page<T> {
        let next_cursor = if items.len() as i64 == limit {
            items.last().map(|i| encode_cursor(id_of(i)))
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

/// Every capability's JSON endpoints, with the OpenAPI document generated from them.
pub fn router() -> utoipa_axum::router::OpenApiRouter<super::state::AppState> {
    utoipa_axum::router::OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::accounts::routes::api())
        .merge(crate::merchants::routes::api())
        .merge(crate::apikeys::routes::api())
        .merge(crate::platform::jobs::routes::api())
        .merge(crate::dashboard::routes::api())
        .merge(crate::messages::routes::api())
        .merge(crate::segments::routes::api())
        .merge(crate::followers::csv::routes::api())
        .merge(crate::channels::routes::api())
        .merge(crate::menus::routes::api())
        .merge(crate::library::routes::api())
        .merge(crate::replies::routes::api())
        .merge(crate::flows::routes::api())
        .merge(crate::tags::routes::api())
        .merge(crate::followers::sync::routes::api())
        .merge(crate::followers::routes::api())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Zhanggui API",
        description = "Everything the Zhanggui console does, as JSON. Authenticate with a \
            merchant API key (`Authorization: Bearer zg_...`, created in the console under \
            API 密钥) or a console session cookie plus the `X-CSRF-Token` header for writes. \
            Errors are `{\"error\": {\"code\", \"message\", \"fields\"}}` in the language of \
            `Accept-Language` (zh-CN by default, en).",
        version = "1"
    ),
    modifiers(&SecuritySchemes),
    security(("api_key" = []), ("session" = [])),
    components(schemas(super::error::ApiErrorEnvelope))
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("zg_...")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("zg_session"))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        assert_eq!(decode_cursor(&encode_cursor(42)), Some(42));
        assert_eq!(decode_cursor("garbage!"), None);
        let q = ListQuery {
            limit: Some(501),
            cursor: None,
        };
        assert!(q.window().is_err());
        let q = ListQuery {
            limit: None,
            cursor: Some(encode_cursor(7)),
        };
        assert_eq!(q.window().ok(), Some((7, DEFAULT_LIMIT)));
    }

    #[test]
    fn a_full_page_has_a_next_cursor() {
        let p = Page::of(vec![1i64, 2], 2, |i| *i);
        assert_eq!(p.next_cursor, Some(encode_cursor(2)));
        let p = Page::of(vec![1i64], 2, |i| *i);
        assert_eq!(p.next_cursor, None);
    }
}
