//! The web layer's one error type. Handlers return `Result<_, AppError>`; the response carries
//! a language-neutral [`ErrorBody`] that [`localize_errors`] turns into JSON (API) or a page
//! (console) in the caller's language. Causes of internal errors are logged, never shown.

use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Serialize;

use super::i18n::{Lang, Msg};

/// One field's complaint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub msg: Msg,
}

/// The field errors of one form or JSON body, in the order found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, msg: Msg) {
        if !self.has(field) {
            self.0.push(FieldError {
                field: field.to_string(),
                msg,
            });
        }
    }

    pub fn has(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    pub fn get(&self, field: &str) -> Option<&Msg> {
        self.0.iter().find(|e| e.field == field).map(|e| &e.msg)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(value)` when no errors were found, else the errors as an [`AppError`].
    pub fn into_result<T>(self, value: T) -> Result<T, AppError> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(AppError::Validation(self))
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("validation failed")]
    Validation(FieldErrors),
    #[error("bad request: {0:?}")]
    BadRequest(Msg),
    #[error("not signed in")]
    Unauthorized,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("conflict: {0:?}")]
    Conflict(Msg),
    #[error("CSRF token missing or wrong")]
    Csrf,
    #[error("request body too large")]
    PayloadTooLarge,
    #[error("internal error: {0}")]
    Internal(String),
    /// WeChat could not be reached or failed on its side: the message says what to do.
    #[error("WeChat unavailable: {0:?}")]
    Upstream(Msg),
}

impl AppError {
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        AppError::Internal(cause.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::Csrf => StatusCode::FORBIDDEN,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    pub(crate) fn body(&self) -> ErrorBody {
        let (code, msg) = match self {
            AppError::Validation(_) => ("validation_failed", Msg::new("error.validation")),
            AppError::BadRequest(m) => ("bad_request", m.clone()),
            AppError::Unauthorized => ("unauthorized", Msg::new("error.unauthorized")),
            AppError::Forbidden => ("forbidden", Msg::new("error.forbidden")),
            AppError::NotFound => ("not_found", Msg::new("error.not_found")),
            AppError::Conflict(m) => ("conflict", m.clone()),
            AppError::Csrf => ("csrf_failed", Msg::new("error.csrf")),
            AppError::PayloadTooLarge => ("payload_too_large", Msg::new("error.too_large")),
            AppError::Internal(_) => ("internal", Msg::new("error.internal")),
            AppError::Upstream(m) => ("wechat_unavailable", m.clone()),
        };
        let fields = match self {
            AppError::Validation(f) => f.0.clone(),
            _ => vec![],
        };
        ErrorBody { code, msg, fields }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

impl From<super::db::DbError> for AppError {
    fn from(e: super::db::DbError) -> Self {
        AppError::Internal(format!("database: {e}"))
    }
}

/// What an error says, before it is put into words in the caller's language.
#[derive(Clone, Debug)]
pub struct ErrorBody {
    pub code: &'static str,
    pub msg: Msg,
    pub fields: Vec<FieldError>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiErrorEnvelope {
    pub error: ApiErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiErrorDetail {
    /// A stable snake_case code, e.g. `validation_failed`, `not_found`.
    #[schema(example = "validation_failed")]
    pub code: String,
    /// The message in the caller's language (`Accept-Language`).
    pub message: String,
    /// Per-field messages for validation errors.
    pub fields: std::collections::BTreeMap<String, String>,
}

impl ErrorBody {
    pub fn to_api(&self, lang: Lang) -> ApiErrorEnvelope {
        ApiErrorEnvelope {
            error: ApiErrorDetail {
                code: self.code.to_string(),
                message: lang.render(&self.msg),
                fields: self
                    .fields
                    .iter()
                    .map(|f| (f.field.clone(), lang.render(&f.msg)))
                    .collect(),
            },
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let status = self.status();
        let body = self.body();
        // A neutral JSON body in case the response escapes localization (it should not).
        let mut res = (status, axum::Json(body.to_api(Lang::default()))).into_response();
        res.extensions_mut().insert(body);
        res
    }
}

/// Puts error responses into the caller's words: JSON for `/api/`, a page for the console,
/// and a redirect to the login page for a console visitor who is not signed in.
pub async fn localize_errors(req: Request, next: Next) -> Response {
    let lang = Lang::from_headers(req.headers());
    let path = req.uri().path().to_string();
    let wants_json = path.starts_with("/api/")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let mut res = next.run(req).await;
    let Some(body) = res.extensions_mut().remove::<ErrorBody>() else {
        return localize_framework_rejection(res, lang, wants_json).await;
    };
    let status = res.status();
    if wants_json {
        let mut out = (status, axum::Json(body.to_api(lang))).into_response();
        copy_header(&res, &mut out, header::WWW_AUTHENTICATE);
        return out;
    }
    if status == StatusCode::UNAUTHORIZED {
        return Redirect::to(&format!("/login?next={}", url_encode(&target))).into_response();
    }
    (status, Html(error_page(lang, status, &body))).into_response()
}

/// axum answers some failures itself (unknown route, wrong method, oversized body) with
/// plain English text; give those the same shape and language as ours.
async fn localize_framework_rejection(res: Response, lang: Lang, wants_json: bool) -> Response {
    let status = res.status();
    let is_plain = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v.starts_with("text/plain"));
    let err = match status {
        StatusCode::NOT_FOUND => AppError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => AppError::BadRequest(Msg::new("error.method")),
        StatusCode::PAYLOAD_TOO_LARGE => AppError::PayloadTooLarge,
        // A form or query the extractors could not read.
        StatusCode::BAD_REQUEST
        | StatusCode::UNPROCESSABLE_ENTITY
        | StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::BadRequest(Msg::new("error.bad_form")),
        _ => return res,
    };
    if !is_plain {
        return res;
    }
    let body = err.body();
    if wants_json {
        (status, axum::Json(body.to_api(lang))).into_response()
    } else {
        (status, Html(error_page(lang, status, &body))).into_response()
    }
}

fn copy_header(from: &Response, to: &mut Response, name: header::HeaderName) {
    if let Some(v) = from.headers().get(&name) {
        to.headers_mut().insert(name, v.clone());
    }
}

fn error_page(lang: Lang, status: StatusCode, body: &ErrorBody) -> String {
    let page = crate::platform::web::ErrorPage {
        lang,
        status: status.as_u16(),
        message: lang.render(&body.msg),
        fields: body.fields.iter().map(|f| lang.render(&f.msg)).collect(),
    };
    crate::platform::web::render(&page).unwrap_or_else(|_| lang.render(&body.msg))
}

pub fn url_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
