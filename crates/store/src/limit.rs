//! Rate limiting of authentication failures (spec/security.md J18: token spraying, credential
//! guessing), shared by Exchange's EWS (per source address and per partner application) and the
//! token service's token endpoint (per source address).
//!
//! Failures are counted per key in fixed windows. A key over its budget is refused before any
//! token or credential work is done (the services answer HTTP 429 with `Retry-After`). Only
//! failures count, so valid callers are never slowed by their own traffic, and a spraying source
//! does not affect callers from other addresses.

use std::collections::HashMap;
use std::sync::Mutex;

/// The source a peer address counts as: the address for IPv4 (and IPv4-mapped IPv6), the /64
/// network for IPv6, since one host commonly holds a whole /64 and could otherwise spread its
/// failures over as many addresses as it likes.
pub fn source_of(ip: std::net::IpAddr) -> String {
    let mut out = String::new();
    write_source(&mut out, ip);
    out
}

/// The failure-budget key of a peer address: `ip:` and [`source_of`], built in one allocation
/// (it is built for every request).
pub fn source_key(ip: std::net::IpAddr) -> String {
    let mut key = String::with_capacity(48);
    key.push_str("ip:");
    write_source(&mut key, ip);
    key
}

fn write_source(out: &mut String, ip: std::net::IpAddr) {
    use std::fmt::Write as _;
    // writing into a String cannot fail
    let _ = match ip.to_canonical() {
        std::net::IpAddr::V4(v4) => {
            // dotted decimal by hand: `Ipv4Addr`'s `Display` (which supports padding) was most of
            // the cost of this key, built for every request
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                if octet >= 100 {
                    out.push(char::from(b'0' + octet / 100));
                }
                if octet >= 10 {
                    out.push(char::from(b'0' + octet / 10 % 10));
                }
                out.push(char::from(b'0' + octet % 10));
            }
            Ok(())
        }
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
            write!(out, "{net}/64")
        }
    };
}

/// Failures allowed per key per window.
pub const DEFAULT_MAX_FAILURES: u32 = 50;
/// Window length, seconds.
pub const DEFAULT_WINDOW_SECS: i64 = 60;
/// Most keys tracked. When full, expired windows are dropped first, then keys under their
/// budget; a key over its budget is never forgotten before its window ends (a sprayer with many
/// addresses must not be able to lift a block by flooding the table).
const MAX_KEYS: usize = 100_000;

#[derive(Debug)]
pub struct FailureLimiter {
    max: u32,
    window: i64,
    capacity: usize,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl FailureLimiter {
    pub fn new(max: u32, window: i64) -> Self {
        Self::with_capacity(max, window, MAX_KEYS)
    }

    /// [`FailureLimiter::new`] tracking at most `capacity` keys.
    pub fn with_capacity(max: u32, window: i64, capacity: usize) -> Self {
        FailureLimiter {
            max,
            window: window.max(1),
            capacity: capacity.max(1),
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
        if c.len() >= self.capacity && !c.contains_key(key) {
            let (window, max) = (self.window, self.max);
            c.retain(|_, (s, _)| now < *s + window);
            if c.len() >= self.capacity {
                c.retain(|_, (_, n)| *n >= max);
            }
            if c.len() >= self.capacity {
                // every tracked key is blocked: this one goes uncounted rather than free another
                return;
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

    /// Regression: with the table full, every count was cleared, so flooding it from many
    /// addresses lifted an existing block.
    #[test]
    fn a_full_table_never_lifts_a_block() {
        let l = FailureLimiter::with_capacity(2, 60, 4);
        l.failure("app:victim", 100);
        l.failure("app:victim", 100);
        assert!(l.blocked("app:victim", 100).is_some());
        for i in 0..100 {
            l.failure(&format!("ip:{i}"), 101);
        }
        assert!(l.blocked("app:victim", 110).is_some(), "still blocked");
        // keys under their budget were dropped to make room; the newest are counted
        assert!(l.counts.lock().unwrap().len() <= 4);
        l.failure("ip:new", 111);
        l.failure("ip:new", 111);
        assert!(l.blocked("ip:new", 111).is_some());
        // expired windows go first
        l.failure("ip:later", 200);
        assert!(l.blocked("app:victim", 200).is_none());
    }

    #[test]
    fn sources_group_an_ipv6_host_by_its_64() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(source_of(ip("192.0.2.7")), "192.0.2.7");
        assert_eq!(source_of(ip("::ffff:192.0.2.7")), "192.0.2.7");
        assert_eq!(
            source_of(ip("2001:db8:1:2:aaaa::1")),
            source_of(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_eq!(source_of(ip("2001:db8:1:2::1")), "2001:db8:1:2::/64");
        assert_ne!(
            source_of(ip("2001:db8:1:2::1")),
            source_of(ip("2001:db8:1:3::1"))
        );
        // the services' key is the same source behind `ip:`
        for a in [
            "192.0.2.7",
            "::ffff:192.0.2.7",
            "2001:db8:1:2:aaaa::1",
            "::1",
        ] {
            assert_eq!(source_key(ip(a)), format!("ip:{}", source_of(ip(a))));
        }
    }

    /// The hand-written dotted decimal says what `Ipv4Addr`'s `Display` says, for every octet
    /// value in every position.
    #[test]
    fn ipv4_sources_read_as_std_writes_them() {
        for v in 0..=255u8 {
            for a in [
                [v, 0, 0, 0],
                [1, v, 2, 3],
                [10, 0, v, 9],
                [127, 0, 0, v],
                [v; 4],
            ] {
                let addr = std::net::Ipv4Addr::from(a);
                assert_eq!(source_of(addr.into()), addr.to_string());
            }
        }
    }
}
