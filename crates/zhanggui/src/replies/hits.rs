//! The hit counts' projection ('reply_hits' in log_projections): counts the rules' hits per
//! account, rule, keyword and merchant's day in memory as messages are logged (every 250 ms,
//! from the log's tap when it holds them), and writes the counts at the next pass (a
//! tally of thousands of rows waits longer, `Tally::flush_after_ms`) (`store::add_hits`) in
//! transactions of at most `store::HITS_PER_TRANSACTION` rows.
//!
//! Why not in the replies pass, as before: with traffic spread over 10,000 rules that pass
//! upserted thousands of rows four times a second and held SQLite's write lock ~12 ms each
//! time, which the message log's committer waited out (BENCHMARKS.md, "Reply rules", fifth
//! round). A second's counts hold each row once, and smaller transactions bound the hold.
//!
//! A flush first claims its range (cursor, T]. One interrupted between its transactions (a
//! crash, a database error) is finished by the next tally of any instance: it reads the
//! claim, counts exactly up to T again, and rows that already hold T's counts are left alone.

use std::collections::HashMap;
use std::time::Duration;

use chrono::NaiveDate;

use super::model::RouteView;
use super::store::{self, HitCount, Routed};
use crate::messages::LogTap;
use crate::messages::store as log;
use crate::platform::clock::Zone;
use crate::platform::db::Db;
use crate::platform::state::AppState;

const EVERY: Duration = Duration::from_millis(250);
/// Counts are written this long after the first of them was read, i.e. by the next pass
/// (passes come every 250 ms, a little later when the log's turn is busy): a hit is in the
/// statistics ~0.5 s after its message. At 400 ms (the second pass after) that was 0.4–0.9 s
/// under load, and a stall of half a second took it past a second (BENCHMARKS.md, callback,
/// twenty-ninth and thirty-fourth rounds); a small tally's write is a few rows...
pub const FLUSH_AFTER_MS: i64 = 200;
/// ... or, when they hold more rows than that many milliseconds, later: a millisecond per
/// row, up to this. Traffic spread over 10,000 rules made a tally of 10,000
/// rows every second, nearly one hit each, and upserting them cost PostgreSQL's backends
/// (on the callbacks' core) 10% of the callbacks (BENCHMARKS.md, "Reply rules"); waited for
/// longer, each row carries several seconds' hits in one write.
pub const MAX_FLUSH_AFTER_MS: i64 = 10_000;
/// ... or as soon as they fill this many rows (a projection catching up on a long log).
const MAX_ROWS: usize = 50_000;
const BATCH: i64 = 16_384;

/// (account, rule, keyword, the merchant's day).
type Key = (i64, i64, String, NaiveDate);

/// A hash map, not an ordered one: with hits spread over 10,000 rules every message's key
/// is out of cache, and a B-tree walk compares it with a dozen cold keys where a hash looks
/// at one or two (BENCHMARKS.md, "Reply rules", sixth round). The rows are sorted once per
/// flush instead.
type Counts = HashMap<Key, (i64, i64), foldhash::fast::RandomState>;

/// The counts read from the log past the projection's cursor and not written yet.
#[derive(Debug, Default)]
pub struct Tally {
    /// The cursor the counts start at; `None` until it is read from the database.
    from: Option<i64>,
    /// The last log id counted.
    seen: i64,
    /// (merchant, hits) by key.
    counts: Counts,
    /// When the oldest unwritten count was read.
    first_read_at: Option<i64>,
}

impl Tally {
    fn starting_at(cursor: i64) -> Tally {
        Tally {
            from: Some(cursor),
            seen: cursor,
            ..Tally::default()
        }
    }

    /// Counts the hit a logged message records, if any: a rule's, or the default reply
    /// rule's for text no rule matched.
    pub fn count(&mut self, row: &Routed<'_>, zone: &Zone) {
        let (rule_id, keyword) = match RouteView::of(row.route) {
            Some(RouteView::Rule {
                rule_id, keyword, ..
            }) => (rule_id, keyword.to_string()),
            Some(RouteView::Unmatched {
                default: Some((rule_id, _)),
            }) => (rule_id, String::new()),
            _ => return,
        };
        let day = zone.date_of(row.sent_at);
        self.counts
            .entry((row.account_id, rule_id, keyword, day))
            .or_insert((row.merchant_id, 0))
            .1 += 1;
    }

    /// The counts as rows, in key order (neighbours in the table's B-tree, written together).
    pub fn rows(&self) -> Vec<HitCount> {
        let mut keyed: Vec<_> = self.counts.iter().collect();
        keyed.sort_unstable_by_key(|(key, _)| *key);
        keyed
            .into_iter()
            .map(
                |((account_id, rule_id, keyword, day), &(merchant_id, hits))| HitCount {
                    account_id: *account_id,
                    rule_id: *rule_id,
                    keyword: keyword.clone(),
                    day: day.format("%Y-%m-%d").to_string(),
                    merchant_id,
                    hits,
                },
            )
            .collect()
    }

    /// How long counts wait to be written: `FLUSH_AFTER_MS`, a millisecond a row for large
    /// tallies.
    fn flush_after_ms(&self) -> i64 {
        i64::try_from(self.counts.len())
            .unwrap_or(i64::MAX)
            .clamp(FLUSH_AFTER_MS, MAX_FLUSH_AFTER_MS)
    }

    /// Whether to write now: an interrupted flush as soon as its whole range is counted
    /// again; otherwise `flush_after_ms` after the first unwritten count, or when they are
    /// many.
    fn is_due(&self, now: i64, finishing: Option<i64>) -> bool {
        match finishing {
            Some(to) => self.seen == to,
            None => {
                self.seen > self.from.unwrap_or(self.seen)
                    && (self.counts.len() >= MAX_ROWS
                        || self
                            .first_read_at
                            .is_some_and(|at| now - at >= self.flush_after_ms()))
            }
        }
    }
}

/// What a step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Step {
    /// Where the cursor moved to, when the counts were written.
    pub flushed: Option<i64>,
    /// Whether the log holds more rows to read now.
    pub more: bool,
}

/// Runs until the task is aborted.
pub async fn run(state: AppState) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tally = Tally::default();
    loop {
        tick.tick().await;
        loop {
            let now = state.clock.now_ms();
            let step = tally_once(&state.db, state.log.tap(), &mut tally, now, BATCH);
            match state.log.in_turn(store::HITS, step).await {
                Ok(step) if step.more => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "reply hit counts failed; will retry");
                    break;
                }
            }
        }
    }
}

/// Counts the next `batch` settled log rows (from `tap` when it holds them) and writes the
/// counts when they are due: `FLUSH_AFTER_MS` after the step that read the first of them,
/// or when finishing an interrupted flush. A tally that finds the cursor moved (another
/// instance wrote those counts) starts again from it.
pub async fn tally_once(
    db: &Db,
    tap: Option<&LogTap>,
    tally: &mut Tally,
    now: i64,
    batch: i64,
) -> Result<Step, sqlx::Error> {
    let (cursor, flushing) = store::hits_cursor(db).await?;
    let finishing = flushing.filter(|&to| to > cursor);
    // Counts that start elsewhere, or that went past the end of a flush another instance
    // claimed (and may never finish), cannot be written: count again from the cursor.
    if tally.from != Some(cursor) || finishing.is_some_and(|to| tally.seen > to) {
        *tally = Tally::starting_at(cursor);
    }
    let mut more = false;
    if finishing.is_none_or(|to| tally.seen < to) {
        // An interrupted flush's rows were settled when they were first counted. Asked
        // again, the log may answer that nothing is settled for now (a writer holds it back),
        // which is not the "nothing left" that ends the flush below.
        let settled = match finishing {
            Some(to) => log::Settled::UpTo(to),
            None => log::settled(db).await?,
        };
        match log::next_range(db, tally.seen, batch, settled).await? {
            Some(mut range) => {
                // Read up to the flush's end (never past it): finish it now rather than at
                // the next tick.
                if finishing == Some(range.upto) {
                    range.full = true;
                }
                more = range.full;
                count_range(db, tap, tally, range).await?;
                tally.seen = range.upto;
                tally.first_read_at.get_or_insert(now);
            }
            // The rows of the interrupted flush are gone (pruned): nothing left to count.
            None => {
                if let Some(to) = finishing {
                    tally.seen = to;
                }
            }
        }
    }
    if !tally.is_due(now, finishing) {
        return Ok(Step {
            flushed: None,
            more,
        });
    }
    let to = tally.seen;
    match flush(db, cursor, to, &tally.rows()).await {
        Ok(true) => {
            *tally = Tally::starting_at(to);
            Ok(Step {
                flushed: Some(to),
                more,
            })
        }
        Ok(false) => {
            // Another instance wrote or claimed these counts: start again from the database.
            *tally = Tally::default();
            Ok(Step::default())
        }
        Err(e) => {
            *tally = Tally::default();
            Err(e)
        }
    }
}

async fn count_range(
    db: &Db,
    tap: Option<&LogTap>,
    tally: &mut Tally,
    range: log::LogRange,
) -> Result<(), sqlx::Error> {
    let read = store::RoutedRange::load(db, tap, store::HITS, range).await?;
    let rows = read.rows();
    let zones = super::jobs::zones_of(db, &rows).await?;
    let shanghai = Zone::new(chrono_tz::Asia::Shanghai);
    for slice in rows.chunks(log::ROWS_BETWEEN_YIELDS) {
        for row in slice {
            tally.count(row, zones.get(&row.account_id).unwrap_or(&shanghai));
        }
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// Writes the counts of (`from`, `to`] part by part, the last part moving the cursor.
async fn flush(db: &Db, from: i64, to: i64, rows: &[HitCount]) -> Result<bool, sqlx::Error> {
    let parts: Vec<&[HitCount]> = if rows.is_empty() {
        vec![&[]]
    } else {
        rows.chunks(store::HITS_PER_TRANSACTION).collect()
    };
    for (i, part) in parts.iter().enumerate() {
        if !store::add_hits(db, from, to, part, i + 1 == parts.len()).await? {
            return Ok(false);
        }
    }
    metrics::counter!("zhanggui_reply_hit_flushes_total").increment(1);
    metrics::histogram!("zhanggui_reply_hit_flush_rows").record(rows.len() as f64);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routed(id: i64, route: &str) -> Routed<'_> {
        Routed {
            id,
            merchant_id: 1,
            account_id: 2,
            openid: "o1",
            sent_at: 1_764_547_200_000, // 2025-12-01 08:00 in Shanghai, 00:00 UTC
            body: "",
            route,
            text: None,
        }
    }

    #[test]
    fn hits_are_counted_per_rule_keyword_and_local_day() {
        let mut tally = Tally::starting_at(0);
        let shanghai = Zone::new(chrono_tz::Asia::Shanghai);
        for (id, route) in [
            (1, "rule:7:0:价格"),
            (2, "rule:7:0:价格"),
            (3, "rule:7:1:价钱"),
            (4, "unmatched:9:0"),
            (5, "unmatched"),
            (6, "handoff"),
            (7, ""),
        ] {
            tally.count(&routed(id, route), &shanghai);
        }
        tally.count(
            &routed(8, "rule:7:0:价格"),
            &Zone::new(chrono_tz::America::New_York),
        );
        let rows = tally.rows();
        let got: Vec<(i64, &str, &str, i64)> = rows
            .iter()
            .map(|h| (h.rule_id, h.keyword.as_str(), h.day.as_str(), h.hits))
            .collect();
        assert_eq!(
            got,
            [
                (7, "价格", "2025-11-30", 1),
                (7, "价格", "2025-12-01", 2),
                (7, "价钱", "2025-12-01", 1),
                (9, "", "2025-12-01", 1),
            ]
        );
    }

    #[test]
    fn counts_are_due_a_moment_after_the_first_or_when_finishing_a_claimed_range() {
        let mut tally = Tally::starting_at(10);
        assert!(!tally.is_due(5_000, None), "nothing read");
        tally.seen = 20;
        tally.first_read_at = Some(1_000);
        assert!(!tally.is_due(1_000 + FLUSH_AFTER_MS - 1, None));
        assert!(tally.is_due(1_000 + FLUSH_AFTER_MS, None));
        let next_pass = 1_000 + i64::try_from(EVERY.as_millis()).expect("ms");
        assert!(
            tally.is_due(next_pass, None),
            "a small tally is written by the pass after the one that read it"
        );
        assert!(
            !tally.is_due(1_000, Some(30)),
            "the claimed range is not read yet"
        );
        tally.seen = 30;
        assert!(tally.is_due(1_000, Some(30)));
    }

    #[test]
    fn a_tally_of_many_rows_waits_a_millisecond_a_row_up_to_ten_seconds() {
        let mut tally = Tally::starting_at(0);
        let shanghai = Zone::new(chrono_tz::Asia::Shanghai);
        let spread = |tally: &mut Tally, rules: i64| {
            for rule in 0..rules {
                let route = format!("rule:{rule}:0:k");
                tally.count(&routed(rule + 1, &route), &shanghai);
            }
            tally.seen = rules;
            tally.first_read_at = Some(0);
        };
        spread(&mut tally, FLUSH_AFTER_MS / 2);
        assert!(!tally.is_due(FLUSH_AFTER_MS - 1, None));
        assert!(
            tally.is_due(FLUSH_AFTER_MS, None),
            "a small tally waits FLUSH_AFTER_MS"
        );
        spread(&mut tally, 4_000);
        assert!(!tally.is_due(3_999, None));
        assert!(tally.is_due(4_000, None));
        spread(&mut tally, 30_000);
        assert!(!tally.is_due(MAX_FLUSH_AFTER_MS - 1, None));
        assert!(
            tally.is_due(MAX_FLUSH_AFTER_MS, None),
            "never more than ten seconds"
        );
    }
}
