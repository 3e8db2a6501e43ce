//! Rate limiting of authentication failures (spec/security.md J18: token spraying).
//!
//! Failures are counted per source address and per partner application in fixed windows. A key
//! over its budget is refused before any token work is done (HTTP 429 with `Retry-After`, and
//! `x-ms-diagnostics` naming the throttle). Only failures count, so valid callers are never slowed
//! by their own traffic, and a spraying source does not affect callers from other addresses.

use std::collections::HashMap;
use std::sync::Mutex;

/// Failures allowed per key per window.
pub const DEFAULT_MAX_FAILURES: u32 = 50;
/// Window length, seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 60;
/// Most keys tracked; beyond that, expired windows are dropped first, then everything.
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct FailureLimiter {
    max: u32,
    window: i64,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl FailureLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        FailureLimiter {
            max,
            window: window.max(1),
            counts: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until `key` may try again, if it is over its budget now.
    pub fn blocked(&self, key: &str, now: i64) -> Option<u64> {
        let c = self.counts.lock().ok()?;
        let (start, n) = *c.get(key)?;
        (now < start + self.window && n >= self.max)
            .then(|| (start + self.window - now).max(1) as u64)
    }

    pub fn failure(&self, key: &str, now: i64) {
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        if c.len() >= MAX_KEYS && !c.contains_key(key) {
            let window = self.window;
            c.retain(|_, (s, _)| now < *s + window);
            if c.len() >= MAX_KEYS {
                c.clear();
            }
        }
        let e = c.entry(key.to_owned()).or_insert((now, 0));
        if now >= e.0 + self.window {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_budget_until_window_ends() {
        let l = FailureLimiter::new(3, 60);
        for _ in 0..2 {
            l.failure("ip:1", 100);
        }
        assert_eq!(l.blocked("ip:1", 100), None);
        l.failure("ip:1", 100);
        assert_eq!(l.blocked("ip:1", 110), Some(50));
        assert_eq!(l.blocked("ip:2", 110), None, "other sources unaffected");
        assert_eq!(l.blocked("ip:1", 160), None, "a new window");
        l.failure("ip:1", 160);
        assert_eq!(l.blocked("ip:1", 161), None);
    }
}
