//! How much of a service's output reaches the console: a token bucket per service (a burst, then a
//! steady rate), so a chatty service cannot hold PID 1 on a slow serial console. Lines over budget
//! still go to the ring and the log file; the console says how many it skipped. Pure: time is given.

use std::time::Instant;

/// Console lines per second a service may print once its burst is spent.
pub const RATE: f64 = 100.0;
/// Lines a service may print at once.
pub const BURST: f64 = 500.0;

/// What to do with one line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mirror {
    /// Print it.
    Print,
    /// Print it, after a note that this many lines were skipped before it.
    PrintAfterSkipping(u64),
    /// Skip it: the first line over budget, so say that the console output pauses.
    StartSkipping,
    /// Skip it.
    Skip,
}

/// One service's console budget.
#[derive(Clone, Debug)]
pub struct ConsoleBudget {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    skipped: u64,
}

impl ConsoleBudget {
    /// A full bucket at `now`.
    pub fn new(rate: f64, burst: f64, now: Instant) -> ConsoleBudget {
        ConsoleBudget {
            rate,
            burst,
            tokens: burst,
            last: now,
            skipped: 0,
        }
    }

    /// Decides for one line at `now`.
    pub fn take(&mut self, now: Instant) -> Mirror {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens < 1.0 {
            self.skipped += 1;
            return if self.skipped == 1 {
                Mirror::StartSkipping
            } else {
                Mirror::Skip
            };
        }
        self.tokens -= 1.0;
        match std::mem::take(&mut self.skipped) {
            0 => Mirror::Print,
            n => Mirror::PrintAfterSkipping(n),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate_then_a_note_of_what_was_skipped() {
        let t0 = Instant::now();
        let mut budget = ConsoleBudget::new(10.0, 3.0, t0);
        let first: Vec<Mirror> = (0..5).map(|_| budget.take(t0)).collect();
        assert_eq!(
            first,
            [
                Mirror::Print,
                Mirror::Print,
                Mirror::Print,
                Mirror::StartSkipping,
                Mirror::Skip
            ]
        );
        // 0.1 s at 10 lines/s buys one line, which says two were skipped.
        assert_eq!(
            budget.take(t0 + Duration::from_millis(100)),
            Mirror::PrintAfterSkipping(2)
        );
        assert_eq!(
            budget.take(t0 + Duration::from_millis(100)),
            Mirror::StartSkipping
        );
        // A long quiet spell refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        let refilled: Vec<Mirror> = (0..4).map(|_| budget.take(later)).collect();
        assert_eq!(
            refilled,
            [
                Mirror::PrintAfterSkipping(1),
                Mirror::Print,
                Mirror::Print,
                Mirror::StartSkipping
            ]
        );
    }
}
