//! A sandbox on an in-memory registry with a clock the test moves, driven through its real
//! router (no sockets): the harness every endpoint group's tests use.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use sandbox::{MemoryRegistry, Sandbox, SandboxApp};
use serde_json::Value;
use tower::ServiceExt;

/// 2026-11-30 12:00:00 UTC, a Monday afternoon in Beijing.
pub const START_MS: i64 = 1_796_011_200_000;

pub struct Wx {
    pub sandbox: Sandbox,
    pub registry: Arc<MemoryRegistry>,
    router: Router,
    now: Arc<AtomicI64>,
    tokens: Mutex<HashMap<String, String>>,
}

/// An app of the given kind and verification, registered with the sandbox.
pub fn app(app_id: &str, kind: &str, verified: bool) -> SandboxApp {
    SandboxApp {
        app_id: app_id.into(),
        app_secret: format!("secret-of-{app_id}"),
        token: "token".into(),
        encoding_aes_key: "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into(),
        security_mode: "plaintext".into(),
        // Nothing listens here: deliveries fail fast, which tests of pushes may rely on.
        callback_url: "http://127.0.0.1:9/wx/none".into(),
        kind: kind.into(),
        verified,
    }
}

impl Wx {
    /// A sandbox knowing a verified service account `wxservice`, a verified subscription
    /// account `wxsubscribe`, an unverified service account `wxunverifiedsvc` and an
    /// unverified subscription (personal) account `wxpersonal`.
    pub fn new() -> Wx {
        let registry = Arc::new(MemoryRegistry::new());
        registry.add_app(app("wxservice", "service", true));
        registry.add_app(app("wxsubscribe", "subscription", true));
        registry.add_app(app("wxunverifiedsvc", "service", false));
        registry.add_app(app("wxpersonal", "subscription", false));
        let now = Arc::new(AtomicI64::new(START_MS));
        let clock_now = now.clone();
        let sandbox = Sandbox::new(registry.clone())
            .with_clock(Arc::new(move || clock_now.load(Ordering::Relaxed)));
        let router = sandbox::api_router(sandbox.clone());
        Wx {
            sandbox,
            registry,
            router,
            now,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    pub fn advance_ms(&self, ms: i64) {
        self.now.fetch_add(ms, Ordering::Relaxed);
    }

    pub fn now_ms(&self) -> i64 {
        self.now.load(Ordering::Relaxed)
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let res = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router answers");
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
            .await
            .expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    pub async fn get(&self, path_and_query: &str) -> (StatusCode, Value) {
        let req = Request::get(path_and_query)
            .body(Body::empty())
            .expect("request");
        self.send(req).await
    }

    pub async fn post(&self, path_and_query: &str, body: &Value) -> (StatusCode, Value) {
        self.post_raw(path_and_query, body.to_string().into_bytes())
            .await
    }

    pub async fn post_raw(&self, path_and_query: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let req = Request::post(path_and_query)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("request");
        self.send(req).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (StatusCode, Value) {
        let req = Request::put(path)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.send(req).await
    }

    /// A fresh access token of `app_id` from `/cgi-bin/token`.
    pub async fn token(&self, app_id: &str) -> String {
        let (_, v) = self
            .get(&format!(
                "/cgi-bin/token?grant_type=client_credential&appid={app_id}&secret=secret-of-{app_id}"
            ))
            .await;
        v["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token for {app_id}: {v}"))
            .to_string()
    }

    /// The app's token, fetched once and kept (as the product's token cache does).
    pub async fn cached_token(&self, app_id: &str) -> String {
        let cached = self.tokens.lock().expect("tokens").get(app_id).cloned();
        match cached {
            Some(t) => t,
            None => {
                let t = self.token(app_id).await;
                self.tokens
                    .lock()
                    .expect("tokens")
                    .insert(app_id.to_string(), t.clone());
                t
            }
        }
    }

    /// `path` called as `app_id` with its cached token: GET when `body` is None, else POST.
    pub async fn call(&self, app_id: &str, path: &str, body: Option<&Value>) -> Value {
        let token = self.cached_token(app_id).await;
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{path}{sep}access_token={token}");
        match body {
            Some(b) => self.post(&url, b).await.1,
            None => self.get(&url).await.1,
        }
    }

    /// Simulated followers of `app_id` (already following).
    pub async fn followers(&self, app_id: &str, count: usize) -> Vec<String> {
        let (status, v) = self
            .post(
                &format!("/api/apps/{app_id}/followers"),
                &serde_json::json!({ "count": count }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        serde_json::from_value(v["openids"].clone()).expect("openids")
    }
}

/// The errcode of a WeChat answer (0 when it has none, as successful answers often do).
pub fn errcode(v: &Value) -> i64 {
    v["errcode"].as_i64().unwrap_or(0)
}
