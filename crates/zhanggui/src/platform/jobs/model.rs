//! The rules of the job queue, pure: statuses, what a new job is, and when a failed job runs
//! again.

use std::fmt;

use serde::Serialize;

use crate::platform::clock::Millis;

/// Attempts a job gets unless it asks for another number (matches the column default).
pub const DEFAULT_MAX_ATTEMPTS: i64 = 8;
/// The delay before the first retry; each further retry doubles it.
pub const BACKOFF_BASE_MS: i64 = 1_000;
/// No retry waits longer than this.
pub const BACKOFF_CAP_MS: i64 = 3_600_000;
/// Longest error text kept in `jobs.last_error`, in bytes.
pub const MAX_ERROR_LEN: usize = 2_000;

/// Where a job is in its life.
///
/// `queued` (waiting for `run_at`) → `running` (claimed by a worker under a lease) → `done`,
/// or back to `queued` after a failed attempt, or `dead` when it failed permanently or ran
/// out of attempts. A dead job stays until someone retries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Done,
    Dead,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Queued,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Dead,
    ];

    /// The value stored in `jobs.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A job to enqueue. `NewJob::new("followers.sync", json!({...})).merchant(7)`.
#[derive(Clone, Debug, PartialEq)]
pub struct NewJob {
    /// Which handler runs it, by convention `capability.action`.
    pub kind: String,
    /// The handler's input. Handlers must be idempotent: a job may run more than once.
    pub payload: serde_json::Value,
    /// The merchant it works for; `None` for platform work.
    pub merchant_id: Option<i64>,
    /// Not before this time; `None` means as soon as possible.
    pub run_at: Option<Millis>,
    /// `None` means [`DEFAULT_MAX_ATTEMPTS`]; values below 1 count as 1.
    pub max_attempts: Option<i64>,
}

impl NewJob {
    pub fn new(kind: impl Into<String>, payload: serde_json::Value) -> NewJob {
        NewJob {
            kind: kind.into(),
            payload,
            merchant_id: None,
            run_at: None,
            max_attempts: None,
        }
    }

    pub fn merchant(mut self, merchant_id: i64) -> NewJob {
        self.merchant_id = Some(merchant_id);
        self
    }

    pub fn run_at(mut self, at: Millis) -> NewJob {
        self.run_at = Some(at);
        self
    }

    pub fn max_attempts(mut self, n: i64) -> NewJob {
        self.max_attempts = Some(n);
        self
    }

    /// When it first becomes due, given the time of enqueueing.
    pub fn due_at(&self, now: Millis) -> Millis {
        self.run_at.unwrap_or(now)
    }

    pub fn effective_max_attempts(&self) -> i64 {
        self.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS).max(1)
    }
}

/// What becomes of a job after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterFailure {
    /// Back to `queued`, due at this time.
    RetryAt(Millis),
    /// To `dead`: no more attempts.
    Dead,
}

/// The delay before retrying after failed attempt number `attempt` (1-based) of job `job_id`:
/// 1 s, 2 s, 4 s … doubling up to [`BACKOFF_CAP_MS`], minus a jitter of up to 10 % that is
/// derived from the job id and attempt, so that jobs failing together spread out while tests
/// stay deterministic. Always at least 1 ms and never more than the cap.
pub fn backoff_ms(job_id: i64, attempt: i64) -> i64 {
    let exponent = attempt.clamp(1, 32) - 1;
    // 2^22 s is far past the cap, so saturating the shift there loses nothing.
    let delay = BACKOFF_BASE_MS
        .saturating_mul(1_i64 << exponent.min(22))
        .min(BACKOFF_CAP_MS);
    let spread = (delay / 10).max(0) as u64;
    let jitter = if spread == 0 {
        0
    } else {
        // u64 → i64 is lossless here: the value is below `spread`, itself an i64.
        (mix(job_id as u64 ^ (attempt as u64).rotate_left(32)) % (spread + 1)) as i64
    };
    (delay - jitter).max(1)
}

/// Decides the fate of a job whose attempt `attempt` (of `max_attempts`) just failed at `now`.
pub fn after_failure(
    job_id: i64,
    attempt: i64,
    max_attempts: i64,
    permanent: bool,
    now: Millis,
) -> AfterFailure {
    if permanent || attempt >= max_attempts {
        AfterFailure::Dead
    } else {
        AfterFailure::RetryAt(now.saturating_add(backoff_ms(job_id, attempt)))
    }
}

/// Shortens an error message to at most [`MAX_ERROR_LEN`] bytes, on a character boundary.
pub fn clip_error(message: &str) -> String {
    if message.len() <= MAX_ERROR_LEN {
        return message.to_string();
    }
    let mut end = MAX_ERROR_LEN - '…'.len_utf8();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &message[..end])
}

/// splitmix64's finaliser: a well-spread hash of one word.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for st in JobStatus::ALL {
            assert_eq!(JobStatus::parse(st.as_str()), Some(st));
            assert_eq!(st.to_string(), st.as_str());
        }
        assert_eq!(JobStatus::parse("Queued"), None);
        assert_eq!(JobStatus::parse(""), None);
    }

    #[test]
    fn backoff_doubles_with_at_most_ten_percent_off() {
        for job_id in [1, 2, 3, 99, 123_456_789, i64::MAX] {
            for attempt in 1..=12 {
                let nominal = (1_000_i64 << (attempt - 1)).min(BACKOFF_CAP_MS);
                let d = backoff_ms(job_id, attempt);
                assert!(
                    d <= nominal,
                    "job {job_id} attempt {attempt}: {d} > {nominal}"
                );
                assert!(
                    d >= nominal - nominal / 10,
                    "job {job_id} attempt {attempt}: {d} too short"
                );
            }
        }
    }

    #[test]
    fn backoff_is_capped_at_an_hour() {
        // 2^12 s passes the hour, so from the 13th attempt on the delay is the cap.
        assert!(backoff_ms(42, 12) < BACKOFF_CAP_MS - BACKOFF_CAP_MS / 10);
        for attempt in [13, 20, 40, 63, 64, 1_000, i64::MAX] {
            let d = backoff_ms(42, attempt);
            assert!((BACKOFF_CAP_MS - BACKOFF_CAP_MS / 10..=BACKOFF_CAP_MS).contains(&d));
        }
    }

    #[test]
    fn backoff_is_deterministic_and_spread() {
        assert_eq!(backoff_ms(7, 3), backoff_ms(7, 3));
        let distinct: std::collections::HashSet<i64> =
            (1..=50).map(|id| backoff_ms(id, 10)).collect();
        assert!(
            distinct.len() > 40,
            "jitter should spread jobs: {distinct:?}"
        );
    }

    #[test]
    fn odd_attempt_numbers_are_safe() {
        assert!(backoff_ms(1, 0) >= 900);
        assert!(backoff_ms(1, -5) >= 900);
        assert!(backoff_ms(-1, 1) >= 900);
    }

    #[test]
    fn failure_retries_until_the_last_attempt() {
        let now = 1_000_000;
        match after_failure(5, 1, 3, false, now) {
            AfterFailure::RetryAt(t) => assert_eq!(t, now + backoff_ms(5, 1)),
            AfterFailure::Dead => panic!("first failure of three should retry"),
        }
        assert!(matches!(
            after_failure(5, 2, 3, false, now),
            AfterFailure::RetryAt(_)
        ));
        assert_eq!(after_failure(5, 3, 3, false, now), AfterFailure::Dead);
        assert_eq!(after_failure(5, 4, 3, false, now), AfterFailure::Dead);
    }

    #[test]
    fn permanent_failure_is_dead_at_once() {
        assert_eq!(after_failure(5, 1, 8, true, 0), AfterFailure::Dead);
    }

    #[test]
    fn new_job_defaults() {
        let j = NewJob::new("x.y", serde_json::json!({"a": 1}));
        assert_eq!(j.due_at(10), 10);
        assert_eq!(j.effective_max_attempts(), DEFAULT_MAX_ATTEMPTS);
        let j = j.merchant(3).run_at(99).max_attempts(0);
        assert_eq!(j.merchant_id, Some(3));
        assert_eq!(j.due_at(10), 99);
        assert_eq!(j.effective_max_attempts(), 1);
    }

    #[test]
    fn long_errors_are_clipped_on_a_char_boundary() {
        assert_eq!(clip_error("short"), "short");
        let long = "错".repeat(MAX_ERROR_LEN);
        let clipped = clip_error(&long);
        assert!(clipped.len() <= MAX_ERROR_LEN);
        assert!(clipped.ends_with('…'));
        let exact = "a".repeat(MAX_ERROR_LEN);
        assert_eq!(clip_error(&exact), exact);
    }
}
