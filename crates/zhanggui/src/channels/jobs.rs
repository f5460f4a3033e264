//! The channel projection: reads follows and scans from the message log and counts them per
//! channel scene and day ('channels' in log_projections), and tags whoever scans a channel
//! that tags. Runs in every instance.
//!
//! Unlike the followers projection, counting is not a merge: adding a pass twice would
//! count it twice. So a pass's counters, tags and jobs are written in one transaction that
//! first moves the cursor by compare-and-set (store::apply_pass); a pass that finds the
//! cursor moved (another instance got there first) writes nothing.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use wechat::Message;

use super::model::{ScanKind, day_of, scan_of};
use super::store::{self, DayCount, TagOnScan};
use crate::messages::LogTap;
use crate::messages::store as log;
use crate::platform::db::Db;
use crate::platform::state::AppState;

/// As often as the other projections of the log: a pass must find its rows still in the
/// committer's tap (messages::tap), which holds about half a second of a busy account's
/// traffic; at 500 ms passes of this projection read the log back from the database under
/// load (BENCHMARKS.md, callback, eighteenth round).
const EVERY: Duration = Duration::from_millis(250);
/// Log rows per pass. Only follows and scans are read in full, a small share of the log.
pub const BATCH: i64 = 16_384;
const KINDS: &[&str] = &["event:subscribe", "event:scan"];
/// WeChat's limit of tags on one follower.
pub const MAX_TAGS_PER_FOLLOWER: i64 = 20;

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        loop {
            let now = state.clock.now_ms();
            let step = project_once(&state.db, state.log.tap(), now, BATCH);
            match state.log.in_turn(store::PROJECTION, step).await {
                Ok(p) if p.more => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "channel projection failed; will retry");
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
    pub scans: usize,
    pub tagged: usize,
}

/// Counts the next `batch` settled log rows (from `tap` when it holds them).
pub async fn project_once(
    db: &Db,
    tap: Option<&LogTap>,
    now: i64,
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
    let scans: Vec<Scan> = rows.iter().filter_map(Scan::of).collect();
    let mut accounts: Vec<i64> = scans.iter().map(|s| s.account_id).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let zones = zones(db, &accounts).await?;
    let tagging: HashMap<(i64, String), i64> = store::tagging_channels(db, &accounts)
        .await?
        .into_iter()
        .map(|(account, scene, tag)| ((account, scene), tag))
        .collect();
    let (counts, tags) = tally(&scans, &zones, &tagging);
    let applied = store::apply_pass(
        db,
        cursor,
        range.upto,
        &counts,
        &tags,
        MAX_TAGS_PER_FOLLOWER,
        now,
    )
    .await?;
    Ok(Projected {
        upto: applied.moved.then_some(range.upto),
        more: applied.moved && range.full,
        scans: if applied.moved { scans.len() } else { 0 },
        tagged: applied.tagged,
    })
}

/// One scan read from the log.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Scan {
    account_id: i64,
    openid: String,
    scene: String,
    kind: ScanKind,
    sent_at: i64,
}

impl Scan {
    fn of(row: &log::LoggedMessage) -> Option<Scan> {
        let msg = Message::parse(&row.body).ok()?;
        let (scene, kind) = scan_of(&msg)?;
        Some(Scan {
            account_id: row.account_id,
            openid: row.openid.clone(),
            scene: scene.to_string(),
            kind,
            sent_at: row.sent_at,
        })
    }
}

/// account id → (merchant id, merchant's zone).
async fn zones(
    db: &Db,
    accounts: &[i64],
) -> Result<HashMap<i64, (i64, chrono_tz::Tz)>, sqlx::Error> {
    Ok(store::account_zones(db, accounts)
        .await?
        .into_iter()
        .map(|(account, merchant, tz)| {
            let tz =
                crate::platform::clock::parse_timezone(&tz).unwrap_or(chrono_tz::Asia::Shanghai);
            (account, (merchant, tz))
        })
        .collect())
}

/// The pass's counters per (account, scene, day) and the tags to apply, in key order (so
/// concurrent passes on Postgres touch rows in the same order).
fn tally(
    scans: &[Scan],
    zones: &HashMap<i64, (i64, chrono_tz::Tz)>,
    tagging: &HashMap<(i64, String), i64>,
) -> (Vec<DayCount>, Vec<TagOnScan>) {
    let mut days: BTreeMap<(i64, String, String), DayCount> = BTreeMap::new();
    let mut tags: BTreeMap<(i64, String, i64), TagOnScan> = BTreeMap::new();
    for s in scans {
        // An account deleted since it logged the row: nobody can see its numbers.
        let Some((merchant_id, tz)) = zones.get(&s.account_id) else {
            continue;
        };
        let day = day_of(s.sent_at, *tz);
        let c = days
            .entry((s.account_id, s.scene.clone(), day.clone()))
            .or_insert_with(|| DayCount {
                merchant_id: *merchant_id,
                account_id: s.account_id,
                scene: s.scene.clone(),
                day,
                ..DayCount::default()
            });
        match s.kind {
            ScanKind::NewFollow => c.new_follows += 1,
            ScanKind::Rescan => c.rescans += 1,
        }
        if let Some(tag_id) = tagging.get(&(s.account_id, s.scene.clone())) {
            tags.entry((s.account_id, s.openid.clone(), *tag_id))
                .or_insert_with(|| TagOnScan {
                    merchant_id: *merchant_id,
                    account_id: s.account_id,
                    openid: s.openid.clone(),
                    tag_id: *tag_id,
                });
        }
    }
    (days.into_values().collect(), tags.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(openid: &str, scene: &str, kind: ScanKind, sent_at: i64) -> Scan {
        Scan {
            account_id: 2,
            openid: openid.into(),
            scene: scene.into(),
            kind,
            sent_at,
        }
    }

    #[test]
    fn scans_are_counted_per_scene_and_merchant_day_and_tag_once() {
        let zones = HashMap::from([(2, (1, chrono_tz::Asia::Shanghai))]);
        let tagging = HashMap::from([((2, "poster".to_string()), 9)]);
        // 16:30 UTC is the next day in Shanghai.
        let day1 = 1_767_240_000_000; // 2026-01-01 04:00 UTC
        let day2 = 1_767_285_000_000; // 2026-01-01 16:30 UTC
        let scans = vec![
            scan("oA", "poster", ScanKind::NewFollow, day1),
            scan("oA", "poster", ScanKind::Rescan, day2),
            scan("oB", "poster", ScanKind::Rescan, day2),
            scan("oB", "7", ScanKind::NewFollow, day2),
        ];
        let (counts, tags) = tally(&scans, &zones, &tagging);
        let view: Vec<_> = counts
            .iter()
            .map(|c| (c.scene.as_str(), c.day.as_str(), c.new_follows, c.rescans))
            .collect();
        assert_eq!(
            view,
            vec![
                ("7", "2026-01-02", 1, 0),
                ("poster", "2026-01-01", 1, 0),
                ("poster", "2026-01-02", 0, 2),
            ]
        );
        let tagged: Vec<_> = tags.iter().map(|t| t.openid.as_str()).collect();
        assert_eq!(tagged, vec!["oA", "oB"]);
        assert!(tags.iter().all(|t| t.tag_id == 9 && t.merchant_id == 1));
    }
}
