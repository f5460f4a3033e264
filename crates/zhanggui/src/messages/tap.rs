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
use std::time::{Duration, Instant};

use super::store::{LogRange, LogRow, LoggedMessage, ROWS_BETWEEN_YIELDS, SenderSummary};

/// Memory the held rows may take, counted as their structs and their strings' capacities.
/// A row keeps only what projections read (no reply, no dedup key, and the body of events
/// and locations only: `keeps_body_of`): a follower's text about 0.3 KB, an event 0.6 KB.
/// At the load of `bench/callback.sh` (texts) this is ~29,000 rows, half a second of
/// traffic: more than a projection falls behind between two of its passes (250 ms), so none
/// reads the log back from the database (each such read copied ~3,000 pages out of the
/// kernel). Held by row count (16,384) with the texts' bodies, it took about as much.
const HELD_BYTES: usize = 8 << 20;
/// Past [`HELD_BYTES`] the tap keeps the rows a projection of this instance has yet to read,
/// up to this. A stall of a second on a saturated core (a checkpoint, the host) set every
/// projection ~70,000 rows back, past the 8 MiB; each then read the log back from the
/// database, 16,384 rows at a time through SQL that offers the core every 200 µs, and the
/// callbacks took the rest: they stayed 1–1.6 s behind, and the follower index, whose turns
/// came behind those reads, ended runs 5–6 s behind (BENCHMARKS.md, callback, thirtieth
/// round). At ~0.25 KB a text's row this holds ~130,000 rows, two seconds of that traffic,
/// and only while a projection is that far behind.
const MAX_HELD_BYTES: usize = 32 << 20;
/// The most batches a commit's rows let go of below `MAX_HELD_BYTES`: one more than they
/// add, so rows kept for a projection go at about a commit's worth a commit.
const DROPPED_PER_PUSH: usize = 2;
/// A reader that has not read for this long keeps no rows: its projection stopped, or has
/// nothing to read.
const READER_FORGOTTEN_AFTER: Duration = Duration::from_secs(5);

/// Whether the tap keeps a row's body. Projections read bodies of events and locations only
/// (follows, scans, menu clicks, where a follower is); what followers write (texts, images,
/// voices …) is kept without its body, about half of such a row's memory. A projection
/// asking for other kinds in full reads the database (`TapRows::of_kinds`).
pub fn keeps_body_of(kind: &str) -> bool {
    kind.starts_with("event:") || kind == "location"
}

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
    /// What the batches take (`held_bytes`), together.
    bytes: usize,
    /// Where each projection of this instance last started reading (`LogTap::reading`).
    readers: Vec<Reader>,
}

/// A projection's last read: it has folded in every row up to `after_id`.
#[derive(Debug)]
struct Reader {
    name: &'static str,
    after_id: i64,
    at: Instant,
}

/// What one batch takes in memory, roughly: the rows and their strings.
fn held_bytes(batch: &[Tapped]) -> usize {
    let strings = |r: &LogRow| {
        r.openid.capacity()
            + r.kind.capacity()
            + r.body.capacity()
            + r.route.capacity()
            + r.unmatched_text.as_ref().map_or(0, String::capacity)
    };
    batch
        .iter()
        .map(|t| std::mem::size_of::<Tapped>() + strings(&t.row))
        .sum()
}

impl Run {
    fn first_id(&self) -> Option<i64> {
        self.batches.front().and_then(|b| b.first()).map(|t| t.id)
    }

    fn last_id(&self) -> Option<i64> {
        self.batches.back().and_then(|b| b.last()).map(|t| t.id)
    }

    fn push(&mut self, batch: Vec<Tapped>, now: Instant) {
        if batch.is_empty() {
            return;
        }
        self.bytes += held_bytes(&batch);
        self.batches.push_back(Arc::new(batch));
        let mut dropped = 0;
        while self.batches.len() > 1 && self.over_budget(now, dropped) {
            if let Some(old) = self.batches.pop_front() {
                self.bytes -= held_bytes(&old);
                dropped += 1;
            }
        }
    }

    /// Whether the oldest batch goes, `dropped` having gone already with this push: past
    /// `MAX_HELD_BYTES` always; past `HELD_BYTES` once every projection that read lately
    /// has read it, and at most `DROPPED_PER_PUSH`: rows kept for a projection are let go
    /// over the next commits, not freed all at once inside one of them (tens of thousands
    /// of rows, milliseconds that every callback of the commit would wait out).
    fn over_budget(&self, now: Instant, dropped: usize) -> bool {
        if self.bytes > MAX_HELD_BYTES {
            return true;
        }
        if dropped >= DROPPED_PER_PUSH {
            return false;
        }
        let Some(oldest_last_id) = self.batches.front().and_then(|b| b.last()).map(|t| t.id) else {
            return false;
        };
        self.bytes > HELD_BYTES
            && self
                .readers
                .iter()
                .filter(|r| now.duration_since(r.at) < READER_FORGOTTEN_AFTER)
                .all(|r| r.after_id >= oldest_last_id)
    }

    fn restart(&mut self) {
        self.batches.clear();
        self.bytes = 0;
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
            if !keeps_body_of(&t.row.kind) {
                t.row.body = String::new();
            }
            batch.push(t);
        }
        run.push(batch, Instant::now());
    }

    /// The span of `limit` ids after `after_id`, when the tap knows a committed row past
    /// its end, so that the span is full and more follow: what `store::next_range` would
    /// answer with a query of `MAX(id)`, known here without one. `None` when the tap cannot
    /// tell (it holds no row past the span): then ask the database.
    pub fn full_span(&self, after_id: i64, limit: i64) -> Option<LogRange> {
        let run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        let upto = after_id.checked_add(limit)?;
        (limit > 0 && run.last_id()? > upto).then_some(LogRange {
            after_id,
            upto,
            full: true,
        })
    }

    /// The id of the newest row the tap holds: how far the log has come, as far as this
    /// instance's committer knows.
    pub fn newest_id(&self) -> Option<i64> {
        self.run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_id()
    }

    /// Notes that the projection `name` has folded in every row up to `after_id` and reads
    /// on from there: until it has read them (or stopped reading), rows past it are kept up
    /// to `MAX_HELD_BYTES`.
    pub fn reading(&self, name: &'static str, after_id: i64) {
        let mut run = self.run.lock().unwrap_or_else(PoisonError::into_inner);
        let at = Instant::now();
        match run.readers.iter_mut().find(|r| r.name == name) {
            Some(reader) => {
                reader.after_id = after_id;
                reader.at = at;
            }
            None => run.readers.push(Reader { name, after_id, at }),
        }
    }

    /// What the held rows take, counted as [`HELD_BYTES`] counts them.
    pub fn held_bytes(&self) -> usize {
        self.run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
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

    /// How many rows the range can hold at most: one an id, and no more than its batches.
    pub fn most(&self) -> usize {
        let LogRange { after_id, upto, .. } = self.range;
        let ids = usize::try_from(upto - after_id).unwrap_or(0);
        ids.min(self.batches.iter().map(|b| b.len()).sum())
    }

    /// What `store::senders` reads from the database, from memory (in no particular order).
    /// Runs on the callbacks' thread, so it lets them run every `ROWS_BETWEEN_YIELDS` rows:
    /// the 16,384 rows of a followers pass, summed up in one go, were a millisecond and more
    /// that every callback in flight waited out, four times a second (BENCHMARKS.md,
    /// callback, twenty-third round).
    pub async fn senders(&self, kinds: &[&str]) -> Vec<SenderSummary> {
        // foldhash, not SipHash: every row of a pass is looked up here, on the callbacks'
        // thread, and openids come from WeChat (signed), not from whoever sends requests.
        let mut by_sender: HashMap<(i64, i64, &str), SenderSummary, foldhash::fast::RandomState> =
            HashMap::default();
        for (n, t) in self.iter().enumerate() {
            if n > 0 && n % ROWS_BETWEEN_YIELDS == 0 {
                tokio::task::yield_now().await;
            }
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

    /// What `store::of_kinds` reads from the database, from memory (in id order); `None`
    /// when the tap keeps no body for one of `kinds` (`keeps_body_of`).
    pub fn of_kinds(&self, kinds: &[&str]) -> Option<Vec<LoggedMessage>> {
        if !kinds.iter().all(|k| keeps_body_of(k)) {
            return None;
        }
        let rows = self
            .iter()
            .filter(|t| kinds.contains(&t.row.kind.as_str()))
            .map(|t| LoggedMessage {
                id: t.id,
                account_id: t.row.account_id,
                openid: t.row.openid.clone(),
                kind: t.row.kind.clone(),
                sent_at: t.row.sent_at,
                body: t.row.body.clone(),
            })
            .collect();
        Some(rows)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A follower's text as committed under `id`, with what the tap drops still in it.
    pub(crate) fn tapped(id: i64) -> Tapped {
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

    /// A full span is known only when a held row lies past it: a span ending at the newest
    /// row might be the last, and past it the database may hold rows the tap never saw.
    #[test]
    fn knows_a_span_full_only_when_a_row_past_it_is_held() {
        let tap = LogTap::new();
        assert_eq!(tap.full_span(0, 4), None);
        tap.publish((1..=10).map(tapped));
        let full = |after_id, upto| {
            Some(LogRange {
                after_id,
                upto,
                full: true,
            })
        };
        assert_eq!(tap.full_span(0, 4), full(0, 4));
        assert_eq!(tap.full_span(5, 4), full(5, 9));
        assert_eq!(tap.full_span(6, 4), None, "row 10 may be the last");
        assert_eq!(tap.full_span(12, 4), None);
        assert_eq!(tap.full_span(0, 0), None);
        assert_eq!(tap.full_span(i64::MAX - 1, 4), None);
    }

    /// Summing up a followers pass's rows runs on the callbacks' thread: it must let other
    /// tasks run every `ROWS_BETWEEN_YIELDS` rows, and still count every row.
    #[tokio::test(flavor = "current_thread")]
    async fn summing_up_senders_lets_other_tasks_run_as_it_goes() {
        let tap = LogTap::new();
        let rows = 4 * ROWS_BETWEEN_YIELDS as i64;
        tap.publish((1..=rows).map(|id| {
            let mut t = tapped(id);
            t.row.openid = format!("o{}", id % 7);
            t
        }));
        let turns = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = turns.clone();
        let other = tokio::spawn(async move {
            loop {
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        });
        let Some(held) = tap.covering(range(0, rows)) else {
            panic!("the tap holds the rows")
        };
        let senders = held.senders(&[]).await;
        let turns_meanwhile = turns.load(std::sync::atomic::Ordering::Relaxed);
        other.abort();
        assert_eq!(senders.len(), 7);
        assert_eq!(senders.iter().map(|s| s.first_id).min(), Some(1));
        assert_eq!(senders.iter().map(|s| s.last_id).max(), Some(rows));
        assert!(
            turns_meanwhile >= 3,
            "the other task ran {turns_meanwhile} times while {rows} rows were summed up"
        );
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
        let batch_bytes = held_bytes(&(1..=per_batch).map(tapped).collect::<Vec<_>>());
        let batches = (HELD_BYTES / batch_bytes) as i64 + 3;
        for b in 0..batches {
            tap.publish((b * per_batch + 1..=(b + 1) * per_batch).map(tapped));
        }
        assert_eq!(ids(&tap, 0, 10), None, "the oldest rows were let go");
        let newest = batches * per_batch;
        assert!(ids(&tap, newest - 2 * per_batch, newest).is_some());
        let run = tap.run.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(run.bytes <= HELD_BYTES);
        let kept: usize = run.batches.iter().map(|b| held_bytes(b)).sum();
        assert_eq!(run.bytes, kept, "what is counted is what is held");
        let newest = run.batches.back().and_then(|b| b.last()).cloned();
        drop(run);
        let newest = newest.map(|t| t.row);
        assert_eq!(newest.as_ref().map(|r| r.reply.as_str()), Some(""));
        assert_eq!(newest.as_ref().map(|r| r.dedup_key.as_str()), Some(""));
        assert_eq!(newest.map(|r| r.body), Some(String::new()), "a text's body");
    }

    /// Batches of `per_batch` rows from `first_id` on, more than `bytes` of them together;
    /// the id of the last row published.
    fn publish_past(tap: &LogTap, first_id: i64, per_batch: i64, bytes: usize) -> i64 {
        let batch_bytes = held_bytes(&(0..per_batch).map(tapped).collect::<Vec<_>>());
        let batches = (bytes / batch_bytes) as i64 + 2;
        let last = first_id + batches * per_batch - 1;
        for b in 0..batches {
            let from = first_id + b * per_batch;
            tap.publish((from..from + per_batch).map(tapped));
        }
        last
    }

    #[test]
    fn rows_a_projection_has_yet_to_read_are_kept_up_to_the_most_the_tap_holds() {
        let tap = LogTap::new();
        tap.reading("followers", 0);
        tap.reading("channels", 0);
        let newest = publish_past(&tap, 1, 1_000, HELD_BYTES + (4 << 20));
        assert_eq!(
            ids(&tap, 0, 10),
            Some((1..=10).collect()),
            "nobody read them yet"
        );
        tap.reading("channels", newest);
        tap.publish([tapped(newest + 1)]);
        assert!(
            ids(&tap, 0, 10).is_some(),
            "followers still reads from row 1"
        );
        let newest = publish_past(&tap, newest + 2, 1_000, MAX_HELD_BYTES);
        assert!(tap.held_bytes() <= MAX_HELD_BYTES, "{}", tap.held_bytes());
        assert_eq!(ids(&tap, 0, 10), None, "the most is the most");
        tap.reading("followers", newest - 10);
        tap.reading("channels", newest);
        let before = tap.held_bytes();
        tap.publish([tapped(newest + 1)]);
        let one_batch = held_bytes(&(0..1_000).map(tapped).collect::<Vec<_>>());
        assert!(
            tap.held_bytes() + 3 * one_batch > before,
            "two batches at most go with one commit"
        );
        for id in newest + 2..newest + 200 {
            tap.publish([tapped(id)]);
        }
        assert!(tap.held_bytes() <= HELD_BYTES, "every projection read on");
        assert!(ids(&tap, newest - 10, newest + 199).is_some());
    }

    #[test]
    fn a_projection_that_stopped_reading_keeps_no_rows() {
        let tap = LogTap::new();
        tap.reading("menus", 0);
        let newest = publish_past(&tap, 1, 1_000, HELD_BYTES);
        let mut run = tap.run.lock().unwrap_or_else(PoisonError::into_inner);
        let later = Instant::now() + READER_FORGOTTEN_AFTER;
        run.push(vec![tapped(newest + 1)], later);
        assert!(run.bytes <= HELD_BYTES, "{}", run.bytes);
    }

    #[test]
    fn keeps_the_bodies_of_events_and_locations_only_and_reads_only_those_in_full() {
        let tap = LogTap::new();
        let of_kind = |id: i64, kind: &str| {
            let mut t = tapped(id);
            t.row.kind = kind.to_string();
            t.row.body = format!("<xml>{kind}</xml>");
            t
        };
        tap.publish([
            of_kind(1, "text"),
            of_kind(2, "event:subscribe"),
            of_kind(3, "location"),
            of_kind(4, "image"),
            of_kind(5, "event:click"),
        ]);
        let rows = tap.covering(range(0, 5)).expect("held");
        let bodies = |kinds: &[&str]| {
            rows.of_kinds(kinds)
                .map(|r| r.into_iter().map(|m| (m.id, m.body)).collect::<Vec<_>>())
        };
        assert_eq!(
            bodies(&["event:subscribe", "location"]),
            Some(vec![
                (2, "<xml>event:subscribe</xml>".to_string()),
                (3, "<xml>location</xml>".to_string()),
            ])
        );
        assert_eq!(bodies(&["event:scan"]), Some(vec![]));
        assert_eq!(bodies(&["text"]), None, "texts are read from the database");
        assert_eq!(bodies(&["event:click", "image"]), None);
        let held: Vec<(i64, String)> = rows.iter().map(|t| (t.id, t.row.body.clone())).collect();
        assert_eq!(held[0], (1, String::new()));
        assert_eq!(held[3], (4, String::new()));
    }
}
