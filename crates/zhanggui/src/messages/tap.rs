//! The newest stretch of the message log, kept in memory by the committer that wrote it, so
//! that the projections (followers, channels, menus, replies) fold new rows without reading
//! them back from the database.
//!
//! Why: on a SQLite file every projection used to read each new stretch of the log itself,
//! and in WAL mode a connection's page cache is emptied whenever another connection writes,
//! so each of them copied the same pages out of the kernel again, and every row crossed sqlx's
//! thread boundary (BENCHMARKS.md, "Reads served from memory").
//!
//! What makes it safe: the tap only answers for a range of ids it holds *every* row of. The
//! committer publishes each commit's new rows with their ids; the rows of one SQLite
//! transaction get consecutive ids, and a run of batches is only extended by a batch that
//! starts right after it. Anything else (a row written by another connection, such as the
//! demo's history, or a commit whose outcome was unknown) breaks the run, and the tap starts a
//! new one. A projection whose range is not wholly inside the run reads the database, as
//! before: after a restart, when it fell behind, and on PostgreSQL (which has no tap).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use super::store::{LogRange, LogRow, LoggedMessage, SenderSummary};

/// Rows held at most. At the load of `bench/callback.sh` this is about half a second of
/// traffic, more than a projection falls behind between two passes; each row keeps only what
/// projections read (the reply and the dedup key are dropped), about 0.5 KB.
const HELD_ROWS: usize = 16_384;

/// A committed row of the log and its id.
#[derive(Clone, Debug)]
pub struct Tapped {
    pub id: i64,
    pub row: LogRow,
}

/// The newest committed rows of this instance's committer; cheap to share.
#[derive(Debug, Default)]
pub struct LogTap {
    run: Mutex<Run>,
}

/// Rows of consecutive ids, in batches as committed.
#[derive(Debug, Default)]
struct Run {
    batches: VecDeque<Arc<Vec<Tapped>>>,
    rows: usize,
}

impl Run {
    fn first_id(&self) -> Option<i64> {
        self.batches.front().and_then(|b| b.first()).map(|t| t.id)
    }

    fn last_id(&self) -> Option<i64> {
        self.batches.back().and_then(|b| b.last()).map(|t| t.id)
    }

    fn push(&mut self, batch: Vec<Tapped>) {
        if batch.is_empty() {
            return;
        }
        self.rows += batch.len();
        self.batches.push_back(Arc::new(batch));
        while self.rows > HELD_ROWS && self.batches.len() > 1 {
            if let Some(old) = self.batches.pop_front() {
                self.rows -= old.len();
            }
        }
    }

    fn restart(&mut self) {
        self.batches.clear();
        self.rows = 0;
    }
}

impl LogTap {
    pub fn new() -> LogTap {
        LogTap::default()
    }

    /// Takes the new rows of one commit, in id order. A row whose id does not follow the
    /// previous one starts a new run: the rows in between are not ours to vouch for.
    pub fn publish(&self, rows: impl IntoIterator<Item = Tapped>) {
        let mut run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        let mut batch: Vec<Tapped> = Vec::new();
        let mut expected = run.last_id().map(|id| id + 1);
        for mut t in rows {
            if expected.is_some_and(|e| e != t.id) {
                batch.clear();
                run.restart();
            }
            expected = Some(t.id + 1);
            // Projections never read these; freeing them now keeps the tap small.
            t.row.reply = String::new();
            t.row.dedup_key = String::new();
            batch.push(t);
        }
        run.push(batch);
    }

    /// Every row of `range`, if the tap holds them all.
    pub fn covering(&self, range: LogRange) -> Option<TapRows> {
        let run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        let (first, last) = (run.first_id()?, run.last_id()?);
        if range.after_id + 1 < first || range.upto > last || range.upto <= range.after_id {
            return None;
        }
        let batches = run
            .batches
            .iter()
            .filter(|b| {
                let (Some(lo), Some(hi)) = (b.first(), b.last()) else {
                    return false;
                };
                hi.id > range.after_id && lo.id <= range.upto
            })
            .cloned()
            .collect();
        Some(TapRows { range, batches })
    }
}

/// The rows of one range, taken from the tap (shared, not copied).
#[derive(Debug)]
pub struct TapRows {
    range: LogRange,
    batches: Vec<Arc<Vec<Tapped>>>,
}

impl TapRows {
    /// The rows in id order.
    pub fn iter(&self) -> impl Iterator<Item = &Tapped> {
        let LogRange { after_id, upto, .. } = self.range;
        self.batches
            .iter()
            .flat_map(|b| b.iter())
            .filter(move |t| t.id > after_id && t.id <= upto)
    }

    /// What `store::senders` reads from the database, from memory (in no particular order).
    pub fn senders(&self, kinds: &[&str]) -> Vec<SenderSummary> {
        // foldhash, not SipHash: every row of a pass is looked up here, on the callbacks'
        // thread, and openids come from WeChat (signed), not from whoever sends requests.
        let mut by_sender: HashMap<(i64, i64, &str), SenderSummary, foldhash::fast::RandomState> =
            HashMap::default();
        for t in self.iter() {
            let r = &t.row;
            let of_kinds = kinds.contains(&r.kind.as_str());
            by_sender
                .entry((r.merchant_id, r.account_id, r.openid.as_str()))
                .and_modify(|s| {
                    s.first_at = s.first_at.min(r.sent_at);
                    s.last_at = s.last_at.max(r.sent_at);
                    s.first_id = s.first_id.min(t.id);
                    s.last_id = s.last_id.max(t.id);
                    s.of_kinds |= of_kinds;
                })
                .or_insert_with(|| SenderSummary {
                    merchant_id: r.merchant_id,
                    account_id: r.account_id,
                    openid: r.openid.clone(),
                    first_at: r.sent_at,
                    last_at: r.sent_at,
                    first_id: t.id,
                    last_id: t.id,
                    of_kinds,
                });
        }
        by_sender.into_values().collect()
    }

    /// What `store::of_kinds` reads from the database, from memory (in id order).
    pub fn of_kinds(&self, kinds: &[&str]) -> Vec<LoggedMessage> {
        self.iter()
            .filter(|t| kinds.contains(&t.row.kind.as_str()))
            .map(|t| LoggedMessage {
                id: t.id,
                account_id: t.row.account_id,
                openid: t.row.openid.clone(),
                kind: t.row.kind.clone(),
                sent_at: t.row.sent_at,
                body: t.row.body.clone(),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tapped(id: i64) -> Tapped {
        Tapped {
            id,
            row: LogRow {
                merchant_id: 1,
                account_id: 2,
                dedup_key: format!("k{id}"),
                openid: "o".into(),
                kind: "text".into(),
                sent_at: id,
                received_at: id,
                body: "<xml/>".into(),
                reply: "success".into(),
                route: String::new(),
                unmatched_text: None,
            },
        }
    }

    fn range(after_id: i64, upto: i64) -> LogRange {
        LogRange {
            after_id,
            upto,
            full: false,
        }
    }

    fn ids(tap: &LogTap, after_id: i64, upto: i64) -> Option<Vec<i64>> {
        tap.covering(range(after_id, upto))
            .map(|rows| rows.iter().map(|t| t.id).collect())
    }

    #[test]
    fn answers_only_for_ranges_it_holds_every_row_of() {
        let tap = LogTap::new();
        assert_eq!(ids(&tap, 0, 1), None);
        tap.publish((1..=3).map(tapped));
        tap.publish((4..=6).map(tapped));
        assert_eq!(ids(&tap, 0, 6), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(ids(&tap, 2, 5), Some(vec![3, 4, 5]));
        assert_eq!(ids(&tap, 5, 7), None, "row 7 is not held");
        assert_eq!(ids(&tap, 6, 6), None, "an empty range is not a read");
    }

    #[test]
    fn a_row_written_elsewhere_starts_a_new_run() {
        let tap = LogTap::new();
        tap.publish((1..=3).map(tapped));
        // Row 4 came from another connection: the tap cannot vouch for it.
        tap.publish((5..=6).map(tapped));
        assert_eq!(ids(&tap, 0, 3), None);
        assert_eq!(ids(&tap, 3, 6), None);
        assert_eq!(ids(&tap, 4, 6), Some(vec![5, 6]));
        // A gap inside one batch, too.
        tap.publish([7, 9, 10].map(tapped));
        assert_eq!(ids(&tap, 4, 7), None);
        assert_eq!(ids(&tap, 8, 10), Some(vec![9, 10]));
    }

    #[test]
    fn keeps_the_newest_rows_only_and_drops_what_projections_never_read() {
        let tap = LogTap::new();
        let per_batch = 1_000;
        for b in 0..(HELD_ROWS as i64 / per_batch + 3) {
            tap.publish((b * per_batch + 1..=(b + 1) * per_batch).map(tapped));
        }
        assert_eq!(ids(&tap, 0, 10), None, "the oldest rows were let go");
        let run = tap.run.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(run.rows <= HELD_ROWS);
        let newest = run.batches.back().and_then(|b| b.last()).cloned();
        drop(run);
        let newest = newest.map(|t| t.row);
        assert_eq!(newest.as_ref().map(|r| r.reply.as_str()), Some(""));
        assert_eq!(newest.as_ref().map(|r| r.dedup_key.as_str()), Some(""));
        assert_eq!(newest.map(|r| r.body), Some("<xml/>".to_string()));
    }
}
