//! Time. Stored as i64 epoch milliseconds UTC; shown in the merchant's time zone.
//! Tests inject a [`Clock`] to move time without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> Millis {
        system_now_ms() + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward; for tests.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The system's time in epoch milliseconds, read as it is: chrono's `Utc::now()` works out a
/// calendar date on the way, which every callback paid for nothing.
fn system_now_ms() -> Millis {
    let millis = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(after) => millis(after),
        Err(before) => -millis(before.duration()),
    }
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

pub fn parse_timezone(name: &str) -> Option<Tz> {
    name.parse::<Tz>().ok()
}

/// "2026-11-23 21:38" in the given zone, for pages.
pub fn format_local(ms: Millis, tz: Tz) -> String {
    let mut out = String::with_capacity(16);
    push_local(&mut out, ms, tz);
    out
}

/// [`format_local`] appended to `out` (an export writes three per follower). Plain integer
/// formatting: a strftime pattern would be parsed again on every call.
pub fn push_local(out: &mut String, ms: Millis, tz: Tz) {
    use std::fmt::Write;
    if let Some(t) = Utc.timestamp_millis_opt(ms).single() {
        let l = t.with_timezone(&tz);
        let _ = write!(
            out,
            "{:04}-{:02}-{:02} {:02}:{:02}",
            l.year(),
            l.month(),
            l.day(),
            l.hour(),
            l.minute()
        );
    }
}

/// RFC 3339 with the zone's offset, for the JSON API.
pub fn rfc3339(ms: Millis, tz: Tz) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.with_timezone(&tz).to_rfc3339(),
        None => String::new(),
    }
}

pub fn utc(ms: Millis) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_the_system_time_in_epoch_milliseconds() {
        let before = Utc::now().timestamp_millis();
        let now = Clock::default().now_ms();
        let after = Utc::now().timestamp_millis();
        assert!(
            (before..=after).contains(&now),
            "{before} <= {now} <= {after}"
        );
    }

    #[test]
    fn shanghai_is_eight_hours_ahead() {
        let tz = parse_timezone(DEFAULT_TIMEZONE).expect("zone");
        assert_eq!(format_local(0, tz), "1970-01-01 08:00");
        // 2026-12-01 23:59:59.999 UTC is the next morning in Shanghai.
        assert_eq!(format_local(1_796_169_599_999, tz), "2026-12-02 07:59");
        let ny = parse_timezone("America/New_York").expect("zone");
        assert_eq!(format_local(1_796_169_599_999, ny), "2026-12-01 18:59");
        assert_eq!(rfc3339(0, tz), "1970-01-01T08:00:00+08:00");
    }

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let c = Clock::default();
        let before = c.now_ms();
        c.clone().advance(60_000);
        assert!(c.now_ms() >= before + 60_000);
    }
}
