//! When to try a fetch again: capped exponential backoff (the supervisor's `restart::Backoff`:
//! 1 s, 2 s, 4 s, 8 s, then 10 s) within a total budget, and which failures are worth another
//! try. Pure.

use std::time::Duration;

use crate::supervisor::restart::Backoff;

/// How long a URL source keeps trying, in total.
pub const BUDGET: Duration = Duration::from_secs(60);
/// The delays: the supervisor's restart backoff with the fetch's own bounds (`reset_after` plays
/// no part: a fetch never runs long enough to start over).
const BACKOFF: Backoff = Backoff {
    min: Duration::from_secs(1),
    max: CAP,
    reset_after: Duration::MAX,
};
/// The largest delay.
const CAP: Duration = Duration::from_secs(10);

/// The delay after failed attempt number `attempt` (1-based), capped.
pub fn delay(attempt: u32) -> Duration {
    BACKOFF.delay(attempt)
}

/// After failed attempt `attempt`, `elapsed` into the fetch: how long to wait before the next one,
/// or `None` when the budget does not leave room for it (the last wait is shortened to fit).
pub fn next(attempt: u32, elapsed: Duration, budget: Duration) -> Option<Duration> {
    let left = budget.checked_sub(elapsed)?;
    if left < Duration::from_millis(500) {
        return None;
    }
    Some(delay(attempt).min(left - Duration::from_millis(250)))
}

/// Whether an HTTP status is worth another try: server errors, 404 (a PXE server still being
/// filled), 408 and 429. Other client errors will not change.
pub fn status_retryable(status: u16) -> bool {
    status >= 500 || matches!(status, 404 | 408 | 429)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_are_capped() {
        let secs: Vec<u64> = (1..=7).map(|a| delay(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10, 10]);
        assert_eq!(delay(1000), CAP);
    }

    #[test]
    fn the_budget_bounds_the_retries() {
        let s = Duration::from_secs;
        assert_eq!(next(1, s(0), BUDGET), Some(s(1)));
        assert_eq!(next(5, s(30), BUDGET), Some(s(10)));
        assert_eq!(
            next(5, s(55), BUDGET),
            Some(Duration::from_millis(4750)),
            "the last wait fits the budget"
        );
        assert_eq!(next(5, s(60), BUDGET), None);
        assert_eq!(next(1, s(61), BUDGET), None);
        // Every schedule ends: summing the delays reaches the budget in a bounded number of tries.
        let (mut elapsed, mut attempt) = (Duration::ZERO, 1);
        while let Some(d) = next(attempt, elapsed, BUDGET) {
            elapsed += d;
            attempt += 1;
        }
        assert!(attempt < 15 && elapsed <= BUDGET, "{attempt} {elapsed:?}");
    }

    #[test]
    fn which_statuses_are_retried() {
        assert!(status_retryable(503) && status_retryable(404) && status_retryable(429));
        assert!(!status_retryable(403) && !status_retryable(400) && !status_retryable(410));
    }
}
