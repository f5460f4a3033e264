//! Fault knobs per app: added latency, errors at a rate per endpoint (45009, -1, HTTP 5xx),
//! and forced token expiry — so that the product's retries, back-off and token refresh can
//! be tried against something that misbehaves on purpose. Settable from the sandbox page and
//! from tests (`PUT /api/apps/{app_id}/faults`).

use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};

use crate::Sandbox;
use crate::error::WxError;
use crate::registry::StoreError;

const KIND: &str = "faults";
const KEY: &str = "settings";
/// Added latency is capped so a typo cannot hang a test for an hour.
pub const MAX_LATENCY_MS: u64 = 30_000;

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct Faults {
    /// Added before every API answer of this app, in milliseconds.
    #[serde(default)]
    pub latency_ms: u64,
    #[serde(default)]
    pub errors: Vec<ErrorRule>,
}

/// Fail calls to `endpoint` (a WeChat path such as `/cgi-bin/menu/create`, or `*` for all)
/// at `rate` (0.0–1.0), with `errcode` in WeChat's JSON or, when `http_status` is set, with
/// that HTTP status and no JSON.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, utoipa::ToSchema)]
pub struct ErrorRule {
    pub endpoint: String,
    pub rate: f64,
    #[serde(default)]
    pub errcode: Option<i64>,
    #[serde(default)]
    pub http_status: Option<u16>,
}

impl Faults {
    /// Why these settings cannot be taken, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.latency_ms > MAX_LATENCY_MS {
            return Some(format!("latency_ms must be at most {MAX_LATENCY_MS}"));
        }
        for r in &self.errors {
            if !(0.0..=1.0).contains(&r.rate) || r.rate.is_nan() {
                return Some(format!("rate of {} must be within 0..=1", r.endpoint));
            }
            if r.errcode.is_none() && r.http_status.is_none() {
                return Some(format!("{}: give errcode or http_status", r.endpoint));
            }
            if let Some(s) = r.http_status
                && !(400..=599).contains(&s)
            {
                return Some(format!("{}: http_status must be 4xx or 5xx", r.endpoint));
            }
            if r.endpoint != "*" && !r.endpoint.starts_with('/') {
                return Some(format!("{}: endpoint is a path or *", r.endpoint));
            }
        }
        None
    }

    /// The error a call to `path` gets this time, drawn at each rule's rate.
    pub fn error_for(&self, path: &str, draw: impl Fn() -> f64) -> Option<WxError> {
        let rule = self
            .errors
            .iter()
            .find(|r| r.endpoint == "*" || r.endpoint == path)?;
        if draw() >= rule.rate {
            return None;
        }
        Some(match rule.http_status {
            Some(s) => WxError::new(-1, "system error")
                .with_status(StatusCode::from_u16(s).unwrap_or(StatusCode::BAD_GATEWAY)),
            None => {
                let code = rule.errcode.unwrap_or(-1);
                WxError::new(code, errmsg_of(code))
            }
        })
    }
}

/// WeChat's message for the codes a fault is likely to use.
fn errmsg_of(code: i64) -> &'static str {
    match code {
        -1 => "system error",
        45009 => "reach max api daily quota limit",
        45011 => "api minute-quota reach limit",
        40001 => "invalid credential, access_token is invalid or not latest",
        42001 => "access_token expired",
        48001 => "api unauthorized",
        _ => "injected by the sandbox",
    }
}

pub async fn load(sb: &Sandbox, app_id: &str) -> Result<Faults, StoreError> {
    Ok(sb.docs.get(app_id, KIND, KEY).await?.unwrap_or_default())
}

pub async fn save(sb: &Sandbox, app_id: &str, faults: &Faults) -> Result<(), StoreError> {
    sb.docs.set(app_id, KIND, KEY, faults).await
}

/// Applies the app's knobs to one call of `path`: waits the added latency, then fails the
/// call when a rule says so.
pub async fn apply(sb: &Sandbox, app_id: &str, path: &str) -> Result<(), WxError> {
    let faults = load(sb, app_id).await?;
    if faults.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(faults.latency_ms.min(MAX_LATENCY_MS))).await;
    }
    match faults.error_for(path, rand::random::<f64>) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_at_their_rate_on_their_endpoint() {
        let f = Faults {
            latency_ms: 0,
            errors: vec![ErrorRule {
                endpoint: "/cgi-bin/menu/create".into(),
                rate: 0.5,
                errcode: Some(45009),
                http_status: None,
            }],
        };
        assert_eq!(f.problem(), None);
        assert_eq!(
            f.error_for("/cgi-bin/menu/create", || 0.1)
                .map(|e| e.errcode),
            Some(45009)
        );
        assert!(f.error_for("/cgi-bin/menu/create", || 0.9).is_none());
        assert!(f.error_for("/cgi-bin/menu/get", || 0.0).is_none());
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = Faults {
            latency_ms: MAX_LATENCY_MS + 1,
            errors: vec![],
        };
        assert!(bad.problem().is_some());
        let bad = Faults {
            latency_ms: 0,
            errors: vec![ErrorRule {
                endpoint: "*".into(),
                rate: 2.0,
                errcode: Some(-1),
                http_status: None,
            }],
        };
        assert!(bad.problem().is_some());
    }
}
