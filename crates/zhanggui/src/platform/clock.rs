//! Time. Stored as i64 epoch milliseconds UTC; shown in the merchant's time zone.
//! Tests inject a [`Clock`] to move time without sleeping.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};
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

/// A time zone that remembers the wall-clock time of the last second it was asked about.
/// Each answer otherwise takes a search of the zone's transitions and two calendar
/// conversions (~200 instructions); a callback asks for its local time when rules have
/// schedules, and the hit counts for each row's day, and the instants of a second's
/// callbacks, or of a pass's rows, mostly fall in the same second (BENCHMARKS.md, callback,
/// thirty-second round).
pub struct Zone {
    tz: Tz,
    /// The last second asked about (Unix time) and its wall-clock time. Shared between
    /// threads; one that finds it taken works the time out itself.
    last: Mutex<Option<(i64, NaiveDateTime)>>,
}

impl Zone {
    pub fn new(tz: Tz) -> Zone {
        Zone {
            tz,
            last: Mutex::new(None),
        }
    }

    /// The zone's wall-clock time at `ms`; the Unix epoch's for an instant chrono cannot
    /// hold.
    pub fn local(&self, ms: Millis) -> NaiveDateTime {
        let second = ms.div_euclid(1000);
        let at_second = match self.last.try_lock() {
            Ok(mut last) => match *last {
                Some((s, at)) if s == second => at,
                _ => {
                    let at = self.local_at_second(second);
                    *last = Some((second, at));
                    at
                }
            },
            Err(_) => self.local_at_second(second),
        };
        // Within a second only the fraction differs: chrono counts no leap seconds here.
        let nanos = u32::try_from(ms.rem_euclid(1000) * 1_000_000).unwrap_or(0);
        at_second.with_nanosecond(nanos).unwrap_or(at_second)
    }

    /// The zone's date at `ms`.
    pub fn date_of(&self, ms: Millis) -> NaiveDate {
        self.local(ms).date()
    }

    fn local_at_second(&self, second: i64) -> NaiveDateTime {
        let utc = DateTime::from_timestamp(second, 0)
            .unwrap_or_default()
            .naive_utc();
        self.tz.from_utc_datetime(&utc).naive_local()
    }
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

    /// Every instant of a day either side of New York's and Sydney's changes of offset (and
    /// around the epoch), asked in order as a pass's rows come and out of order, reads as
    /// chrono-tz reads it.
    #[test]
    fn a_zone_remembering_its_last_second_tells_the_time_chrono_tz_tells() {
        let instants = |around: i64| {
            (-86_400_i64..86_400)
                .step_by(599)
                .flat_map(move |s| [around + s * 1000, around + s * 1000 + 999])
        };
        let changes = [
            // 2026-03-08 07:00 UTC, New York's clocks go forward; 2026-11-01 06:00 back.
            1_772_953_200_000,
            1_793_512_800_000,
            // 2026-04-04 16:00 UTC, Sydney's go back.
            1_775_318_400_000,
            0,
            -1,
        ];
        for name in [
            "America/New_York",
            "Australia/Sydney",
            "Asia/Shanghai",
            "UTC",
        ] {
            let tz = parse_timezone(name).expect("zone");
            let zone = Zone::new(tz);
            let mut asked: Vec<i64> = changes.iter().flat_map(|&c| instants(c)).collect();
            let reversed: Vec<i64> = asked.iter().rev().copied().collect();
            asked.extend(reversed);
            for ms in asked {
                let expected = Utc
                    .timestamp_millis_opt(ms)
                    .single()
                    .expect("instant")
                    .with_timezone(&tz)
                    .naive_local();
                assert_eq!(zone.local(ms), expected, "{name} at {ms}");
                assert_eq!(zone.date_of(ms), expected.date(), "{name} at {ms}");
            }
        }
    }

    #[test]
    fn advancing_a_clone_moves_the_original() {
        let c = Clock::default();
        let before = c.now_ms();
        c.clone().advance(60_000);
        assert!(c.now_ms() >= before + 60_000);
    }
}
