//! The hook where modules answer messages (PRODUCT.md C3–C16: member card, lucky wheel,
//! booking, … each a module). A module claims a message from memory, then answers it, and may
//! do I/O while answering. The callback gives it a budget well under WeChat's 5 s; past it the
//! follower gets `success` now and the module's answer later, by customer-service message
//! ([`super::late`]). So a module's `answer` must be idempotent: the late path computes it
//! again in a job.
//!
//! A module is started by a reply rule whose reply names it (replies/), or by a trigger of
//! its own registered here (the exact text of a message), which comes before every rule.

use std::sync::{Arc, RwLock};

use wechat::{Message, MessageBody, ReplyBody};

use crate::platform::db::Db;

/// What a module knows of the message it answers.
#[derive(Clone, Debug)]
pub struct ModuleCall {
    pub db: Db,
    pub merchant_id: i64,
    pub account_id: i64,
    pub openid: String,
    /// The inbound message as WeChat sent it (decrypted XML).
    pub xml: String,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ModuleError(pub String);

#[async_trait::async_trait]
pub trait Module: Send + Sync {
    /// A stable name: late answers find their module by it after a restart.
    fn name(&self) -> &'static str;
    /// The answer to the message, or `None` for no answer. May take time; must be idempotent.
    async fn answer(&self, call: &ModuleCall) -> Result<Option<ReplyBody<'static>>, ModuleError>;
}

/// What makes a message a module's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A text message whose content is exactly this (after trimming).
    TextEquals(String),
}

impl Trigger {
    fn fires_on(&self, msg: &Message<'_>) -> bool {
        match (self, &msg.body) {
            (Trigger::TextEquals(want), MessageBody::Text(t)) => t.content.trim() == want,
            _ => false,
        }
    }
}

/// A module and what triggers it.
type Entry = (Trigger, Arc<dyn Module>);

/// The modules of this process. Cheap to clone; shared by every request.
#[derive(Clone, Default)]
pub struct Modules {
    entries: Arc<RwLock<Vec<Entry>>>,
}

impl std::fmt::Debug for Modules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Modules").finish_non_exhaustive()
    }
}

impl Modules {
    pub fn register(&self, trigger: Trigger, module: Arc<dyn Module>) {
        let mut entries = match self.entries.write() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries.push((trigger, module));
    }

    /// The module that answers `msg`, if any (the first registered wins).
    pub fn claiming(&self, msg: &Message<'_>) -> Option<Arc<dyn Module>> {
        let entries = match self.entries.read() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries
            .iter()
            .find(|(trigger, _)| trigger.fires_on(msg))
            .map(|(_, module)| module.clone())
    }

    /// The names of the registered modules, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let entries = match self.entries.read() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut names: Vec<&'static str> = entries.iter().map(|(_, m)| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        names
    }

    pub fn by_name(&self, name: &str) -> Option<Arc<dyn Module>> {
        let entries = match self.entries.read() {
            Ok(e) => e,
            Err(poisoned) => poisoned.into_inner(),
        };
        entries
            .iter()
            .find(|(_, module)| module.name() == name)
            .map(|(_, module)| module.clone())
    }
}
