//! Where the sandbox keeps what WeChat would know.
//!
//! The emulated WeChat holds many small kinds of state (tokens, menus, tags, followers,
//! QR tickets, media, mass jobs, inboxes, quotas). Rather than a storage method per kind, the
//! [`Registry`] is a document store: JSON documents addressed by (app, kind, key), each with a
//! version for compare-and-swap. The product implements it on its database (so that every
//! instance and the CLI see the same WeChat); [`MemoryRegistry`] serves unit tests.
//!
//! Keys of one kind list in byte order, so modules that page (`next_openid`) or keep a
//! sequence (an inbox) choose keys that sort the way they need.

pub mod conformance;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// An app as WeChat knows it: what the merchant pasted into WeChat's developer settings, and
/// what WeChat knows of the account itself.
#[derive(Clone)]
pub struct SandboxApp {
    pub app_id: String,
    pub app_secret: String,
    pub token: String,
    pub encoding_aes_key: String,
    /// `plaintext`, `compatible` or `safe`.
    pub security_mode: String,
    /// Where WeChat delivers this app's messages.
    pub callback_url: String,
    /// `subscription` or `service`.
    pub kind: String,
    /// Whether WeChat verified the account (微信认证).
    pub verified: bool,
}

impl std::fmt::Debug for SandboxApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxApp")
            .field("app_id", &self.app_id)
            .field("security_mode", &self.security_mode)
            .field("callback_url", &self.callback_url)
            .field("kind", &self.kind)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

impl SandboxApp {
    /// The account's original id (`gh_…`), as `ToUserName` of every message.
    pub fn original_id(&self) -> String {
        let tail: String = self.app_id.chars().skip(2).take(12).collect();
        format!("gh_{tail}")
    }

    pub fn is_service(&self) -> bool {
        self.kind == "service"
    }
}

/// A stored document and the version it was read at.
#[derive(Clone, Debug, PartialEq)]
pub struct Doc {
    pub value: Value,
    pub version: i64,
}

/// What a write expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Only if no document has this key.
    Absent,
    /// Only if the document is still at this version.
    Version(i64),
    /// Whatever is there.
    Any,
}

/// A storage failure; its text goes to logs, never to the caller.
#[derive(Clone, Debug, thiserror::Error)]
#[error("sandbox storage: {0}")]
pub struct StoreError(pub String);

/// Documents scoped to no app (tokens are looked up by their own value).
pub const GLOBAL: &str = "";

#[async_trait::async_trait]
pub trait Registry: Send + Sync {
    async fn app(&self, app_id: &str) -> Result<Option<SandboxApp>, StoreError>;
    async fn get(&self, app_id: &str, kind: &str, key: &str) -> Result<Option<Doc>, StoreError>;
    /// Writes `value` when `expect` holds; `false` when it did not (someone wrote first).
    async fn put(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<bool, StoreError>;
    /// Inserts many new documents at once, leaving existing keys untouched; returns how many
    /// were new. Bulk creation of followers goes through here.
    async fn insert_many(
        &self,
        app_id: &str,
        kind: &str,
        docs: &[(String, Value)],
    ) -> Result<u64, StoreError>;
    async fn delete(&self, app_id: &str, kind: &str, key: &str) -> Result<bool, StoreError>;
    /// Documents of a kind with keys after `after`, in key order.
    async fn list(
        &self,
        app_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError>;
    /// The most recently created documents of a kind, newest first.
    async fn newest(
        &self,
        app_id: &str,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError>;
    async fn count(&self, app_id: &str, kind: &str) -> Result<u64, StoreError>;
}

pub type SharedRegistry = Arc<dyn Registry>;

/// Typed access over a [`Registry`]: read, write and read-modify-write documents as Rust
/// values. Modules use this rather than raw JSON.
#[derive(Clone)]
pub struct Docs {
    registry: SharedRegistry,
}

/// How often a read-modify-write retries when others keep writing the same document.
const MAX_CAS_ATTEMPTS: usize = 16;

impl Docs {
    pub fn new(registry: SharedRegistry) -> Docs {
        Docs { registry }
    }

    pub fn registry(&self) -> &SharedRegistry {
        &self.registry
    }

    pub async fn app(&self, app_id: &str) -> Result<Option<SandboxApp>, StoreError> {
        self.registry.app(app_id).await
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        match self.registry.get(app_id, kind, key).await? {
            Some(doc) => decode(kind, key, doc.value).map(Some),
            None => Ok(None),
        }
    }

    pub async fn set<T: Serialize>(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let value = encode(value)?;
        self.registry
            .put(app_id, kind, key, &value, Expect::Any)
            .await
            .map(|_| ())
    }

    /// Creates the document unless the key exists; `false` when it did.
    pub async fn create<T: Serialize>(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        value: &T,
    ) -> Result<bool, StoreError> {
        let value = encode(value)?;
        self.registry
            .put(app_id, kind, key, &value, Expect::Absent)
            .await
    }

    pub async fn delete(&self, app_id: &str, kind: &str, key: &str) -> Result<bool, StoreError> {
        self.registry.delete(app_id, kind, key).await
    }

    /// Read-modify-write with compare-and-swap: `change` sees the current value (or `None`)
    /// and returns the new value and a result, or an error that leaves the document as it
    /// was. Retried when another writer got there first.
    pub async fn update<T, R, E, F>(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        mut change: F,
    ) -> Result<Result<R, E>, StoreError>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(Option<T>) -> Result<(T, R), E>,
    {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.registry.get(app_id, kind, key).await?;
            let (expect, value) = match current {
                Some(doc) => (
                    Expect::Version(doc.version),
                    Some(decode::<T>(kind, key, doc.value)?),
                ),
                None => (Expect::Absent, None),
            };
            let (next, result) = match change(value) {
                Ok(done) => done,
                Err(e) => return Ok(Err(e)),
            };
            let next = encode(&next)?;
            if self.registry.put(app_id, kind, key, &next, expect).await? {
                return Ok(Ok(result));
            }
        }
        Err(StoreError(format!(
            "{kind}/{key}: gave up after {MAX_CAS_ATTEMPTS} conflicting writes"
        )))
    }

    pub async fn list<T: DeserializeOwned>(
        &self,
        app_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.registry
            .list(app_id, kind, after, limit)
            .await?
            .into_iter()
            .map(|(k, doc)| decode(kind, &k, doc.value).map(|v| (k, v)))
            .collect()
    }

    /// Every document of a kind, in key order, read in pages.
    pub async fn all<T: DeserializeOwned>(
        &self,
        app_id: &str,
        kind: &str,
    ) -> Result<Vec<(String, T)>, StoreError> {
        const PAGE: usize = 1000;
        let mut out: Vec<(String, T)> = Vec::new();
        loop {
            let after = out.last().map(|(k, _)| k.clone());
            let page = self.list(app_id, kind, after.as_deref(), PAGE).await?;
            let done = page.len() < PAGE;
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    pub async fn newest<T: DeserializeOwned>(
        &self,
        app_id: &str,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<(String, T)>, StoreError> {
        self.registry
            .newest(app_id, kind, limit)
            .await?
            .into_iter()
            .map(|(k, doc)| decode(kind, &k, doc.value).map(|v| (k, v)))
            .collect()
    }

    pub async fn count(&self, app_id: &str, kind: &str) -> Result<u64, StoreError> {
        self.registry.count(app_id, kind).await
    }

    pub async fn insert_many<T: Serialize>(
        &self,
        app_id: &str,
        kind: &str,
        docs: &[(String, T)],
    ) -> Result<u64, StoreError> {
        let docs = docs
            .iter()
            .map(|(k, v)| encode(v).map(|v| (k.clone(), v)))
            .collect::<Result<Vec<_>, _>>()?;
        self.registry.insert_many(app_id, kind, &docs).await
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError(format!("encode: {e}")))
}

fn decode<T: DeserializeOwned>(kind: &str, key: &str, value: Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError(format!("decode {kind}/{key}: {e}")))
}

/// An in-memory registry for unit tests and throwaway sandboxes.
#[derive(Default)]
pub struct MemoryRegistry {
    inner: Mutex<Memory>,
}

/// One stored document: value, version, creation sequence.
type Stored = (Value, i64, u64);

#[derive(Default)]
struct Memory {
    apps: HashMap<String, SandboxApp>,
    /// (app, kind) → key → (value, version, creation sequence)
    docs: HashMap<(String, String), BTreeMap<String, Stored>>,
    sequence: u64,
}

impl MemoryRegistry {
    pub fn new() -> MemoryRegistry {
        MemoryRegistry::default()
    }

    pub fn add_app(&self, app: SandboxApp) {
        if let Ok(mut m) = self.inner.lock() {
            m.apps.insert(app.app_id.clone(), app);
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Memory) -> R) -> Result<R, StoreError> {
        let mut m = self
            .inner
            .lock()
            .map_err(|_| StoreError("memory registry poisoned".into()))?;
        Ok(f(&mut m))
    }
}

fn scope(app_id: &str, kind: &str) -> (String, String) {
    (app_id.to_string(), kind.to_string())
}

#[async_trait::async_trait]
impl Registry for MemoryRegistry {
    async fn app(&self, app_id: &str) -> Result<Option<SandboxApp>, StoreError> {
        self.with(|m| m.apps.get(app_id).cloned())
    }

    async fn get(&self, app_id: &str, kind: &str, key: &str) -> Result<Option<Doc>, StoreError> {
        self.with(|m| {
            m.docs
                .get(&scope(app_id, kind))
                .and_then(|d| d.get(key))
                .map(|(value, version, _)| Doc {
                    value: value.clone(),
                    version: *version,
                })
        })
    }

    async fn put(
        &self,
        app_id: &str,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<bool, StoreError> {
        self.with(|m| {
            m.sequence += 1;
            let sequence = m.sequence;
            let docs = m.docs.entry(scope(app_id, kind)).or_default();
            let current = docs.get(key).map(|(_, v, s)| (*v, *s));
            let allowed = match (expect, current) {
                (Expect::Any, _) => true,
                (Expect::Absent, None) => true,
                (Expect::Version(want), Some((have, _))) => want == have,
                _ => false,
            };
            if allowed {
                let (version, created) = current.map_or((1, sequence), |(v, s)| (v + 1, s));
                docs.insert(key.to_string(), (value.clone(), version, created));
            }
            allowed
        })
    }

    async fn insert_many(
        &self,
        app_id: &str,
        kind: &str,
        new_docs: &[(String, Value)],
    ) -> Result<u64, StoreError> {
        self.with(|m| {
            let mut added = 0;
            for (key, value) in new_docs {
                m.sequence += 1;
                let sequence = m.sequence;
                let docs = m.docs.entry(scope(app_id, kind)).or_default();
                if !docs.contains_key(key) {
                    docs.insert(key.clone(), (value.clone(), 1, sequence));
                    added += 1;
                }
            }
            added
        })
    }

    async fn delete(&self, app_id: &str, kind: &str, key: &str) -> Result<bool, StoreError> {
        self.with(|m| {
            m.docs
                .get_mut(&scope(app_id, kind))
                .and_then(|d| d.remove(key))
                .is_some()
        })
    }

    async fn list(
        &self,
        app_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError> {
        self.with(|m| {
            let Some(docs) = m.docs.get(&scope(app_id, kind)) else {
                return vec![];
            };
            docs.iter()
                .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
                .take(limit)
                .map(|(k, (value, version, _))| {
                    (
                        k.clone(),
                        Doc {
                            value: value.clone(),
                            version: *version,
                        },
                    )
                })
                .collect()
        })
    }

    async fn newest(
        &self,
        app_id: &str,
        kind: &str,
        limit: usize,
    ) -> Result<Vec<(String, Doc)>, StoreError> {
        self.with(|m| {
            let Some(docs) = m.docs.get(&scope(app_id, kind)) else {
                return vec![];
            };
            let mut all: Vec<_> = docs.iter().collect();
            all.sort_by_key(|(_, (_, _, created))| std::cmp::Reverse(*created));
            all.into_iter()
                .take(limit)
                .map(|(k, (value, version, _))| {
                    (
                        k.clone(),
                        Doc {
                            value: value.clone(),
                            version: *version,
                        },
                    )
                })
                .collect()
        })
    }

    async fn count(&self, app_id: &str, kind: &str) -> Result<u64, StoreError> {
        self.with(|m| {
            m.docs
                .get(&scope(app_id, kind))
                .map_or(0, |d| d.len() as u64)
        })
    }
}
