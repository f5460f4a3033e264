//! The followers projection: reads the message log in id order and folds every message into
//! its sender's follower row. Runs in every instance; one at a time holds the cursor.

use std::collections::HashMap;
use std::time::Duration;

use wechat::Message;
use wechat::message::Event;

use super::model::{Follower, Observation};
use super::store;
use crate::messages::store::{LoggedMessage, read_after};
use crate::platform::db::{Db, Dialect};
use crate::platform::state::AppState;

pub const PROJECTION: &str = "followers";
const EVERY: Duration = Duration::from_millis(250);
const BATCH: i64 = 1000;

/// On Postgres, log rows get their ids before their transaction commits, so a row may become
/// visible after a higher id. Rows younger than this are left for the next pass, so the
/// cursor never steps over a row still being committed. SQLite commits one writer at a time,
/// in id order, and needs no wait.
fn settle_ms(dialect: Dialect) -> i64 {
    match dialect {
        Dialect::Sqlite => 0,
        Dialect::Postgres => 1_000,
    }
}

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            match project_once(&state.db, state.clock.now_ms()).await {
                Ok(n) if n as i64 == BATCH => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "followers projection failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Folds the next batch of settled log rows into followers; returns how many rows it read.
pub async fn project_once(db: &Db, now: i64) -> Result<usize, sqlx::Error> {
    let mut tx = db.begin().await?;
    let Some(cursor) = store::lock_cursor(&mut tx, PROJECTION).await? else {
        tx.rollback().await?;
        return Ok(0);
    };
    let settle = settle_ms(tx.dialect());
    let rows: Vec<LoggedMessage> = read_after(&mut tx, cursor, BATCH)
        .await?
        .into_iter()
        .take_while(|r| settle == 0 || r.received_at < now - settle)
        .collect();
    let Some(last) = rows.last().map(|r| r.id) else {
        tx.rollback().await?;
        return Ok(0);
    };
    let mut touched: HashMap<(i64, String), Follower> = HashMap::new();
    for row in &rows {
        let key = (row.account_id, row.openid.clone());
        let follower = match touched.remove(&key) {
            Some(f) => f,
            None => store::get_in(&mut tx, row.account_id, &row.openid)
                .await?
                .unwrap_or_else(|| {
                    Follower::new(row.merchant_id, row.account_id, &row.openid, row.sent_at)
                }),
        };
        let mut follower = follower;
        follower.merge(row.sent_at, &observe(&row.body));
        touched.insert(key, follower);
    }
    for f in touched.values() {
        store::upsert(&mut tx, f).await?;
    }
    store::set_cursor(&mut tx, PROJECTION, last).await?;
    tx.commit().await?;
    Ok(rows.len())
}

/// What a logged message says about its sender. A body that no longer parses (it parsed
/// when it was logged) still counts as an interaction.
pub fn observe(body: &str) -> Observation {
    let Ok(msg) = Message::parse(body) else {
        return Observation::Interaction;
    };
    match msg.event() {
        Some(Event::Subscribe { .. }) => Observation::Follow {
            scene: msg.event().and_then(|e| e.qr_scene()).map(str::to_string),
        },
        Some(Event::Unsubscribe) => Observation::Unfollow,
        Some(Event::Location {
            latitude,
            longitude,
            ..
        }) => Observation::Location {
            latitude: *latitude,
            longitude: *longitude,
        },
        _ => match &msg.body {
            wechat::MessageBody::Location(l) => Observation::Location {
                latitude: l.latitude,
                longitude: l.longitude,
            },
            _ => Observation::Interaction,
        },
    }
}
