//! The service's one clock: every business date ("today") and every timestamp ("now") the
//! service records comes from here, never from the system clock directly.
//!
//! In production it is the system clock. Tests start it at a fixed instant and may move it
//! forward or back; it keeps ticking from wherever it is set, so timestamps of one test still
//! follow each other.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use time::{Date, Duration, OffsetDateTime};

/// A clock shared by the application state, the request contexts and the background jobs.
/// Cloning shares it: moving one clone moves them all.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    /// Microseconds added to the system clock.
    offset_us: Arc<AtomicI64>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock that reads `at` now and ticks from there.
    pub fn starting_at(at: OffsetDateTime) -> Clock {
        let clock = Clock::default();
        clock.set(at);
        clock
    }

    /// The current instant, at the database's precision (microseconds), so that a view
    /// built in memory equals the same row read back.
    pub fn now(&self) -> OffsetDateTime {
        let offset = Duration::microseconds(self.offset_us.load(Ordering::Relaxed));
        truncate(OffsetDateTime::now_utc() + offset)
    }

    /// Today's date (UTC).
    pub fn today(&self) -> Date {
        self.now().date()
    }

    /// Moves the clock so that it reads `at` now.
    pub fn set(&self, at: OffsetDateTime) {
        let offset = at - OffsetDateTime::now_utc();
        self.offset_us
            .store(offset.whole_microseconds() as i64, Ordering::Relaxed);
    }

    /// Moves the clock forward (or back, for a negative duration).
    pub fn advance(&self, by: Duration) {
        self.offset_us
            .fetch_add(by.whole_microseconds() as i64, Ordering::Relaxed);
    }
}

fn truncate(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .expect("a valid nanosecond")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_clock_set_to_an_instant_reads_it_and_keeps_ticking() {
        let clock = Clock::starting_at(datetime!(2031-03-15 09:00 UTC));
        let first = clock.now();
        assert!(first >= datetime!(2031-03-15 09:00 UTC));
        assert!(first < datetime!(2031-03-15 09:01 UTC));
        assert!(clock.now() >= first);
        assert_eq!(clock.today(), time::macros::date!(2031 - 03 - 15));
    }

    #[test]
    fn clones_share_the_clock_and_moving_one_moves_all() {
        let clock = Clock::starting_at(datetime!(2026-11-25 12:00 UTC));
        let shared = clock.clone();
        clock.advance(Duration::days(40));
        assert_eq!(shared.today(), time::macros::date!(2027 - 01 - 04));
        shared.set(datetime!(2026-01-01 00:00:30 UTC));
        assert_eq!(clock.today(), time::macros::date!(2026 - 01 - 01));
    }

    #[test]
    fn the_system_clock_is_the_system_time_at_microseconds() {
        let now = Clock::system().now();
        assert_eq!(now.nanosecond() % 1_000, 0);
        assert!((OffsetDateTime::now_utc() - now).abs() < Duration::seconds(5));
    }
}
