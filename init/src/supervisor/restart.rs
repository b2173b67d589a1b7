//! Restart backoff: capped exponential delays that reset once a service has stayed up for a while.

use std::time::Duration;

/// The backoff settings shared by every service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The delay before the first restart.
    pub min: Duration,
    /// The cap.
    pub max: Duration,
    /// A run at least this long resets the delay to `min`.
    pub reset_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            min: Duration::from_millis(200),
            max: Duration::from_secs(30),
            reset_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before restart number `failures` in a row (1 for the first): `min · 2^(failures-1)`,
    /// capped at `max`.
    pub fn delay(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(32);
        let factor = 1u64 << exponent;
        let millis = u64::try_from(self.min.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_mul(factor);
        Duration::from_millis(millis).min(self.max)
    }

    /// The count of failures in a row after a run that lasted `uptime`: a long run starts over at 1.
    pub fn next_failures(&self, failures: u32, uptime: Duration) -> u32 {
        if uptime >= self.reset_after {
            1
        } else {
            failures.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backoff() -> Backoff {
        Backoff {
            min: Duration::from_millis(100),
            max: Duration::from_secs(2),
            reset_after: Duration::from_secs(10),
        }
    }

    #[test]
    fn delays_double_and_are_capped() {
        let b = backoff();
        let delays: Vec<u128> = (1..=7).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(delays, vec![100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(2));
        assert_eq!(b.delay(0), Duration::from_millis(100));
    }

    #[test]
    fn a_long_run_resets_the_count() {
        let b = backoff();
        assert_eq!(b.next_failures(5, Duration::from_secs(1)), 6);
        assert_eq!(b.next_failures(5, Duration::from_secs(10)), 1);
        assert_eq!(b.next_failures(u32::MAX, Duration::ZERO), u32::MAX);
    }

    #[test]
    fn a_zero_minimum_never_waits() {
        let b = Backoff {
            min: Duration::ZERO,
            ..backoff()
        };
        assert_eq!(b.delay(30), Duration::ZERO);
    }
}
