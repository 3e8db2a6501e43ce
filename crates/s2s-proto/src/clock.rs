//! Injected time. Every service and the validator read time through a [`Clock`], so tests can
//! move it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use time::OffsetDateTime;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, as Unix seconds.
    fn unix(&self) -> i64;

    /// Now, as a date-time (UTC).
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.unix()).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// Unix seconds as RFC 3339 in UTC (`2023-11-14T22:13:20Z`); `None` beyond the years 1–9999.
pub fn rfc3339(unix: i64) -> Option<String> {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn unix(&self) -> i64 {
        OffsetDateTime::now_utc().unix_timestamp()
    }
}

/// A clock that only moves when told to (tests, simulations). Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(unix: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(unix)))
    }
    pub fn set(&self, unix: i64) {
        self.0.store(unix, Ordering::SeqCst);
    }
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn unix(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// A clock offset from another by a fixed number of seconds (the doctor's "clock out of skew"
/// rehearsals, and `--clock-offset` in the lab).
#[derive(Debug, Clone)]
pub struct OffsetClock<C: Clock> {
    pub inner: C,
    pub offset_secs: i64,
}

impl<C: Clock> Clock for OffsetClock<C> {
    fn unix(&self) -> i64 {
        self.inner.unix().saturating_add(self.offset_secs)
    }
}

/// Shared clock handle used across services.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(1_700_000_000);
        let c2 = c.clone();
        c.advance(10);
        assert_eq!(c2.unix(), 1_700_000_010);
        c2.set(5);
        assert_eq!(c.unix(), 5);
        let o = OffsetClock {
            inner: c,
            offset_secs: -6,
        };
        assert_eq!(o.unix(), -1);
    }

    #[test]
    fn rfc3339_in_utc_or_none_out_of_range() {
        assert_eq!(rfc3339(0).as_deref(), Some("1970-01-01T00:00:00Z"));
        assert_eq!(
            rfc3339(1_700_000_000).as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(rfc3339(i64::MAX), None);
    }
}
