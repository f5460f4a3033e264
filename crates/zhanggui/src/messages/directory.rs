//! The accounts the callback serves, kept in memory so the hot path does not read the
//! database for them. Entries are re-read after a short time, so a change made through any
//! instance reaches every instance within seconds; nothing here is state another instance
//! needs.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::model::BasicReplies;
use crate::accounts::AccountRow;
use crate::accounts::model::SecurityMode;
use crate::platform::db::Db;

/// How long an entry (or the knowledge that a key is unknown) is trusted.
const FRESH_FOR: Duration = Duration::from_secs(2);
/// Unknown keys are remembered too (so random URLs cannot make every request a query), but
/// the map is emptied when it grows past this.
const MAX_ENTRIES: usize = 10_000;

/// What the callback needs of one account.
#[derive(Debug)]
pub struct CallbackAccount {
    pub account_id: i64,
    pub merchant_id: i64,
    pub endpoint: wechat::Endpoint,
    pub replies: BasicReplies,
}

#[derive(Clone)]
struct Entry {
    account: Option<Arc<CallbackAccount>>,
    read_at: Instant,
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
    entries: RwLock<HashMap<String, Entry>>,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory").finish_non_exhaustive()
    }
}

impl Directory {
    /// The account behind a callback key, `None` if there is none.
    pub async fn get(
        &self,
        db: &Db,
        key: &str,
    ) -> Result<Option<Arc<CallbackAccount>>, DirectoryError> {
        if let Some(entry) = self.fresh(key) {
            return Ok(entry.account);
        }
        let account = match crate::accounts::store::by_callback_key(db, key).await? {
            Some(row) => {
                let mut account = callback_account(&row)?;
                account.replies.channel_welcomes = crate::channels::store::welcomes(db, row.id)
                    .await?
                    .into_iter()
                    .collect();
                Some(Arc::new(account))
            }
            None => None,
        };
        self.remember(key, account.clone());
        Ok(account)
    }

    fn fresh(&self, key: &str) -> Option<Entry> {
        let entries = self.entries.read().ok()?;
        entries
            .get(key)
            .filter(|e| e.read_at.elapsed() < FRESH_FOR)
            .cloned()
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

fn callback_account(row: &AccountRow) -> Result<CallbackAccount, DirectoryError> {
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
    Ok(CallbackAccount {
        account_id: row.id,
        merchant_id: row.merchant_id,
        endpoint,
        replies: BasicReplies {
            welcome_text: row.welcome_text.clone(),
            default_reply_text: row.default_reply_text.clone(),
            channel_welcomes: Default::default(),
        },
    })
}
