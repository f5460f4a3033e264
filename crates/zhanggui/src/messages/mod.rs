//! Messages (消息): WeChat's callbacks for each account, the durable message log they are
//! answered from, and the live messages page.

pub mod checkpoints;
pub mod directory;
pub mod late;
pub mod model;
pub mod modules;
pub mod routes;
pub mod settled;
pub mod sqlite_log;
pub mod store;
pub mod tap;
pub mod writer;

pub use checkpoints::WalLimit;
pub use store::{LogRow, Logged};
pub use tap::LogTap;
pub use writer::{LogError, LogWriter};

use crate::platform::clock::Millis;
use crate::platform::db::Db;
use model::BasicReplies;

/// Sets the gauges of how far each projection of the log is behind it at `now`, for
/// `/metrics`: the rows past its cursor, and how long the oldest of them has waited. What
/// derives from the log is meant to follow it within a second (issue 3); these show whether
/// it does, under load too. With the committer's tap, what its rows take in memory: past
/// 8 MiB, rows kept for a projection that fell behind (tap.rs).
pub async fn record_projection_gauges(
    db: &Db,
    tap: Option<&LogTap>,
    now: Millis,
) -> Result<(), sqlx::Error> {
    if let Some(tap) = tap {
        metrics::gauge!("zhanggui_log_tap_held_bytes").set(tap.held_bytes() as f64);
    }
    for lag in store::projection_lags(db).await? {
        let waited_ms = lag
            .oldest_received_at
            .map_or(0, |at| now.saturating_sub(at).max(0));
        let projection = [("projection", lag.name)];
        metrics::gauge!("zhanggui_log_projection_behind_rows", &projection).set(lag.rows as f64);
        metrics::gauge!("zhanggui_log_projection_behind_seconds", &projection)
            .set(waited_ms as f64 / 1000.0);
    }
    Ok(())
}

/// Logs messages as if the callback had received each at its time, with the dedup key and the
/// reply the callback would have logged (the demo's history). Messages already logged are
/// left alone, so running it twice changes nothing.
pub async fn log_as_received(
    db: &Db,
    merchant_id: i64,
    account_id: i64,
    replies: &BasicReplies,
    messages: &[(String, Millis)],
) -> Result<usize, sqlx::Error> {
    const BATCH: usize = 200;
    let mut logged = 0;
    for chunk in messages.chunks(BATCH) {
        let rows: Vec<LogRow> = chunk
            .iter()
            .filter_map(|(xml, received_at)| {
                let msg = wechat::Message::parse(xml).ok()?;
                let answer = model::basic_answer(&msg, replies);
                Some(LogRow {
                    merchant_id,
                    account_id,
                    dedup_key: msg.dedup_key(),
                    openid: msg.from_user_name.to_string(),
                    kind: model::kind_of(&msg),
                    sent_at: msg.create_time.saturating_mul(1000),
                    received_at: *received_at,
                    body: xml.clone(),
                    reply: model::reply_xml(&msg, answer, received_at / 1000),
                    route: String::new(),
                    unmatched_text: None,
                })
            })
            .collect();
        logged += store::append_batch(db, &rows)
            .await?
            .iter()
            .filter(|l| matches!(l, Logged::New(_)))
            .count();
    }
    Ok(logged)
}
