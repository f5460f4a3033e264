//! The accounts the callback serves, kept in memory so the hot path does not read the
//! database for them. Entries are re-read after a second, so a change made through any
//! instance reaches every instance within a second or so; nothing here is state another
//! instance needs. An account's reply index is compiled again only when its
//! `replies_version` moved (every rule change bumps it), and swapped whole: a message being
//! answered keeps the index it started with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::accounts::AccountRow;
use crate::accounts::model::SecurityMode;
use crate::platform::db::Db;
use crate::replies::index::{Index, PlainReplies};

/// How long an entry (or the knowledge that a key is unknown) is trusted.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Unknown keys are remembered too (so random URLs cannot make every request a query), but
/// the map is emptied when it grows past this.
const MAX_ENTRIES: usize = 10_000;
/// Compiling an index this big frees megabytes of rows and parsed rules: give them back.
const BIG_INDEX_RULES: usize = 1_000;

/// What the callback needs of one account.
#[derive(Debug)]
pub struct CallbackAccount {
    pub account_id: i64,
    pub merchant_id: i64,
    pub endpoint: wechat::Endpoint,
    /// The welcome, the default reply and the channels' welcomes as plain texts.
    pub plain: PlainReplies,
    /// The welcome, the default reply and the hand-off reply, written once as replies.
    pub prepared_texts: super::model::PreparedTexts,
    /// The compiled reply rules, and the version of them it was compiled from.
    pub index: Arc<Index>,
    pub replies_version: i64,
}

#[derive(Clone)]
struct Entry {
    account: Option<Arc<CallbackAccount>>,
    read_at: Instant,
}

impl Entry {
    fn is_fresh(&self) -> bool {
        self.read_at.elapsed() < FRESH_FOR
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("account {account_id} has an unusable configuration: {reason}")]
    Misconfigured { account_id: i64, reason: String },
}

#[derive(Default)]
pub struct Directory {
    /// Looked up by every callback: foldhash, not SipHash (~200 instructions a lookup).
    entries: RwLock<HashMap<String, Entry, foldhash::fast::RandomState>>,
    /// One refresh of a key at a time: the others serve the entry they have meanwhile (or,
    /// with none yet, wait for it), so 64 messages arriving together do not read the
    /// account 64 times, nor compile 10,000 rules 64 times over.
    refreshing: std::sync::Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Reply indexes compiled since start (also the metric of the same name).
    compiles: std::sync::atomic::AtomicU64,
    /// The site's public URL: news replies link to our article pages.
    public_url: String,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    pub fn new(public_url: &str) -> Directory {
        Directory {
            entries: RwLock::default(),
            refreshing: std::sync::Mutex::default(),
            compiles: std::sync::atomic::AtomicU64::new(0),
            public_url: public_url.to_string(),
        }
    }

    /// The account behind a callback key, `None` if there is none.
    pub async fn get(
        &self,
        db: &Db,
        key: &str,
    ) -> Result<Option<Arc<CallbackAccount>>, DirectoryError> {
        match self.known(key) {
            Some(entry) if entry.is_fresh() => Ok(entry.account),
            // Boxed: its queries would make every callback's future (allocated and moved
            // for each request) as large as theirs, for the few requests that refresh.
            known => Box::pin(self.refresh(db, key, known)).await,
        }
    }

    /// Reads the account behind `key` again (one refresh at a time, see `refreshing`);
    /// `known` is the entry found stale or missing.
    async fn refresh(
        &self,
        db: &Db,
        key: &str,
        known: Option<Entry>,
    ) -> Result<Option<Arc<CallbackAccount>>, DirectoryError> {
        let lock = self.refresh_lock(key);
        let _refreshing = match (lock.clone().try_lock_owned(), &known) {
            (Ok(guard), _) => guard,
            (Err(_), Some(stale)) => return Ok(stale.account.clone()),
            (Err(_), None) => {
                let guard = lock.lock_owned().await;
                if let Some(entry) = self.known(key)
                    && entry.is_fresh()
                {
                    return Ok(entry.account);
                }
                guard
            }
        };
        let mut compiled_big = false;
        let account = match crate::accounts::store::by_callback_key(db, key).await? {
            Some(row) => {
                let previous = known.and_then(|e| e.account);
                let index = match previous {
                    Some(p)
                        if p.account_id == row.id && p.replies_version == row.replies_version =>
                    {
                        p.index.clone()
                    }
                    _ => {
                        metrics::counter!("zhanggui_reply_index_compiles_total").increment(1);
                        self.compiles
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let index =
                            crate::replies::compile(db, row.merchant_id, row.id, &self.public_url)
                                .await?;
                        compiled_big = index.rule_count() >= BIG_INDEX_RULES;
                        Arc::new(index)
                    }
                };
                let plain = crate::replies::plain_replies(
                    db,
                    row.id,
                    &row.welcome_text,
                    &row.default_reply_text,
                )
                .await?;
                Some(Arc::new(callback_account(&row, plain, index)?))
            }
            None => None,
        };
        self.remember(key, account.clone());
        if compiled_big {
            // Runs after this returns, when the replaced index is gone too (unless a message
            // being answered still holds it).
            crate::platform::memory::release_freed_soon();
        }
        Ok(account)
    }

    /// How many reply indexes this instance compiled.
    pub fn compiles(&self) -> u64 {
        self.compiles.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn refresh_lock(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let Ok(mut locks) = self.refreshing.lock() else {
            return Arc::default();
        };
        if locks.len() >= MAX_ENTRIES {
            locks.clear();
        }
        locks.entry(key.to_string()).or_default().clone()
    }

    /// The entry of a key, fresh or not.
    fn known(&self, key: &str) -> Option<Entry> {
        let entries = self.entries.read().ok()?;
        entries.get(key).cloned()
    }

    fn remember(&self, key: &str, account: Option<Arc<CallbackAccount>>) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                key.to_string(),
                Entry {
                    account,
                    read_at: Instant::now(),
                },
            );
        }
    }
}

fn callback_account(
    row: &AccountRow,
    plain: PlainReplies,
    index: Arc<Index>,
) -> Result<CallbackAccount, DirectoryError> {
    let mode = match row.security_mode() {
        SecurityMode::Plaintext => wechat::SecurityMode::Plaintext,
        SecurityMode::Compatible => wechat::SecurityMode::Compatible,
        SecurityMode::Safe => wechat::SecurityMode::Safe,
    };
    let endpoint = wechat::Endpoint::official_account(
        mode,
        &row.token,
        Some(&row.encoding_aes_key),
        &row.app_id,
    )
    .map_err(|e| DirectoryError::Misconfigured {
        account_id: row.id,
        reason: e.to_string(),
    })?;
    let prepared_texts = super::model::prepared_texts([
        plain.welcome_text.as_str(),
        &plain.default_reply_text,
        &index.settings.handoff_reply,
    ]);
    Ok(CallbackAccount {
        account_id: row.id,
        merchant_id: row.merchant_id,
        endpoint,
        plain,
        prepared_texts,
        index,
        replies_version: row.replies_version,
    })
}
