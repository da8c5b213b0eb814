//! Rate limits: a token bucket per caller (a client, an institution, a patient) and per address
//! for the routes that need no credentials (`POST /auth/token`, 利用申請). Beyond the limit a
//! request is refused at once with the time after which it would pass (429 + `Retry-After`).
//! Each process keeps its own buckets: with N hub processes a caller gets at most N times the
//! limit (docs/security.md).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept before the full ones are forgotten.
const MAX_BUCKETS: usize = 100_000;

/// A token bucket per key: `per_second` requests on average, bursts of up to twice that.
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `per_second` = 0: no limit.
    pub fn new(per_second: u32) -> RateLimiter {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(per_second) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn per_second(&self) -> u32 {
        self.per_second as u32
    }

    /// Takes one request from `key`'s bucket; `Err(seconds)`: refused, retry after that many
    /// whole seconds (at least 1).
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let Ok(mut b) = self.buckets.lock() else {
            return Ok(());
        };
        if b.len() >= MAX_BUCKETS && !b.contains_key(key) {
            let (rate, burst) = (self.per_second, self.burst);
            b.retain(|_, (tokens, at)| {
                *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst
            });
            if b.len() >= MAX_BUCKETS {
                b.clear();
            }
        }
        let (tokens, at) = b.entry(key.to_string()).or_insert((self.burst, now));
        let refilled = (*tokens
            + now.saturating_duration_since(*at).as_secs_f64() * self.per_second)
            .min(self.burst);
        *at = now;
        if refilled >= 1.0 {
            *tokens = refilled - 1.0;
            Ok(())
        } else {
            *tokens = refilled;
            Err(((1.0 - refilled) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// The hub's limits.
pub struct Limits {
    /// Per authenticated caller.
    pub caller: RateLimiter,
    /// Per client address, on the routes without credentials.
    pub anonymous: RateLimiter,
}

/// Default requests per second per caller (bursts of twice as many).
pub const DEFAULT_CALLER_RATE: u32 = 1000;
/// Default requests per second per address on the token endpoint and 利用申請.
pub const DEFAULT_ANONYMOUS_RATE: u32 = 100;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            caller: RateLimiter::new(DEFAULT_CALLER_RATE),
            anonymous: RateLimiter::new(DEFAULT_ANONYMOUS_RATE),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_then_refuses_then_recovers() {
        let l = RateLimiter::new(5);
        let t0 = Instant::now();
        for i in 0..10 {
            assert_eq!(l.check_at("a", t0), Ok(()), "burst request {i}");
        }
        let wait = l.check_at("a", t0).unwrap_err();
        assert_eq!(wait, 1);
        // Another key has its own bucket.
        assert_eq!(l.check_at("b", t0), Ok(()));
        // After the retry time, a request passes again; the bucket refills at 5/s.
        let t1 = t0 + Duration::from_secs(wait);
        for _ in 0..5 {
            assert_eq!(l.check_at("a", t1), Ok(()));
        }
        assert!(l.check_at("a", t1).is_err());
        // Never above the burst.
        let t2 = t1 + Duration::from_secs(3600);
        let passed = (0..100).filter(|_| l.check_at("a", t2).is_ok()).count();
        assert_eq!(passed, 10);
    }

    #[test]
    fn zero_is_unlimited() {
        let l = RateLimiter::new(0);
        assert!((0..10_000).all(|_| l.check("x").is_ok()));
    }
}
