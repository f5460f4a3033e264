//! The menu projection: reads CLICK and VIEW events from the message log and counts taps per
//! account, button target (the key of a click button, the URL of a view button) and the
//! merchant's day ('menus' in log_projections). Runs in every instance.
//!
//! As with channel scans, counting is a sum, not a merge: a pass's counters are written in
//! ONE transaction that first moves the cursor by compare-and-set (store::apply_pass), so a
//! pass that finds the cursor moved (another instance got there first) adds nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::TimeZone;
use wechat::Message;
use wechat::message::Event;

use super::store::{self, TapCount};
use crate::messages::LogTap;
use crate::messages::store as log;
use crate::platform::db::Db;
use crate::platform::state::AppState;

/// As often as the other projections of the log: a pass must find its rows still in the
/// committer's tap (messages::tap), which holds about half a second of a busy account's
/// traffic; at 500 ms passes of this projection read the log back from the database under
/// load (BENCHMARKS.md, callback, eighteenth round).
const EVERY: Duration = Duration::from_millis(250);
/// Log rows per pass. Only CLICK and VIEW rows are read in full.
pub const BATCH: i64 = 16_384;
const KINDS: &[&str] = &["event:click", "event:view"];

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let step = project_once(&state.db, state.log.tap(), BATCH);
            match state.log.in_turn(store::PROJECTION, step).await {
                Ok(p) if p.more => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "menu projection failed; will retry");
                    break;
                }
            }
        }
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Projected {
    /// The last log id now counted, if this pass moved the cursor.
    pub upto: Option<i64>,
    pub more: bool,
    pub taps: usize,
}

/// Counts the next `batch` settled log rows (from `tap` when it holds them).
pub async fn project_once(
    db: &Db,
    tap: Option<&LogTap>,
    batch: i64,
) -> Result<Projected, sqlx::Error> {
    let cursor = log::cursor(db, store::PROJECTION).await?;
    let settled = log::settled(db).await?;
    let Some(range) = log::next_range(db, cursor, batch, settled).await? else {
        return Ok(Projected::default());
    };
    let rows = log::Stretch::new(db, tap, store::PROJECTION, range)
        .of_kinds(KINDS)
        .await?;
    let taps: Vec<Tap> = rows.iter().filter_map(Tap::of).collect();
    let mut accounts: Vec<i64> = taps.iter().map(|t| t.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let zones: HashMap<i64, (i64, chrono_tz::Tz)> = store::account_zones(db, &accounts)
        .await?
        .into_iter()
        .map(|(account, merchant, tz)| {
            let tz =
                crate::platform::clock::parse_timezone(&tz).unwrap_or(chrono_tz::Asia::Shanghai);
            (account, (merchant, tz))
        })
        .collect();
    let counts = tally(&taps, &zones);
    let moved = store::apply_pass(db, cursor, range.upto, &counts).await?;
    Ok(Projected {
        upto: moved.then_some(range.upto),
        more: moved && range.full,
        taps: if moved { taps.len() } else { 0 },
    })
}

/// One tap read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Tap {
    account_id: i64,
    kind: &'static str,
    target: String,
    sent_at: i64,
}

impl Tap {
    fn of(row: &log::LoggedMessage) -> Option<Tap> {
        let msg = Message::parse(&row.body).ok()?;
        let (kind, target) = match msg.event()? {
            Event::Click { event_key } => ("click", event_key.to_string()),
            Event::View { event_key, .. } => ("view", event_key.to_string()),
            _ => return None,
        };
        Some(Tap {
            account_id: row.account_id,
            kind,
            target,
            sent_at: row.sent_at,
        })
    }
}

fn day_of(ms: i64, tz: chrono_tz::Tz) -> String {
    match chrono::Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).format("%Y-%m-%d").to_string(),
        None => String::new(),
    }
}

/// The pass's counters per (account, kind, target, day), in key order (so concurrent passes
/// on Postgres touch rows in the same order).
fn tally(taps: &[Tap], zones: &HashMap<i64, (i64, chrono_tz::Tz)>) -> Vec<TapCount> {
    let mut out: BTreeMap<(i64, &str, String, String), TapCount> = BTreeMap::new();
    for t in taps {
        // An account deleted since it logged the row: nobody can see its numbers.
        let Some((merchant_id, tz)) = zones.get(&t.account_id) else {
            continue;
        };
        let day = day_of(t.sent_at, *tz);
        out.entry((t.account_id, t.kind, t.target.clone(), day.clone()))
            .or_insert_with(|| TapCount {
                merchant_id: *merchant_id,
                account_id: t.account_id,
                kind: t.kind.to_string(),
                target: t.target.clone(),
                day,
                clicks: 0,
            })
            .clicks += 1;
    }
    out.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_are_counted_per_target_and_merchant_day() {
        let zones = HashMap::from([(2, (1, chrono_tz::Asia::Shanghai))]);
        let day1 = 1_767_240_000_000; // 2026-01-01 04:00 UTC
        let day2 = 1_767_285_000_000; // 2026-01-01 16:30 UTC = 01-02 in Shanghai
        let tap = |kind, target: &str, at| Tap {
            account_id: 2,
            kind,
            target: target.into(),
            sent_at: at,
        };
        let taps = vec![
            tap("click", "K1", day1),
            tap("click", "K1", day1),
            tap("click", "K1", day2),
            tap("view", "https://a.com", day1),
            Tap {
                account_id: 9,
                ..tap("click", "K1", day1)
            },
        ];
        let view: Vec<_> = tally(&taps, &zones)
            .into_iter()
            .map(|c| (c.kind, c.target, c.day, c.clicks))
            .collect();
        assert_eq!(
            view,
            vec![
                ("click".into(), "K1".into(), "2026-01-01".into(), 2),
                ("click".into(), "K1".into(), "2026-01-02".into(), 1),
                (
                    "view".into(),
                    "https://a.com".into(),
                    "2026-01-01".into(),
                    1
                ),
            ]
        );
    }
}
