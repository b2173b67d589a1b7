//! The effect side of a URL fetch: GETs through `crate::http::get` (connect and read timeouts),
//! redirects to other `http://` URLs followed a few times, and retries on the schedule of
//! [`super::retry`] within a budget. `file://` URLs are read from the local filesystem.

use std::time::{Duration, Instant};

use super::retry;
use crate::http::get::{GetError, get};
use crate::http::{self, Response};

/// Redirects followed per fetch.
const MAX_REDIRECTS: u32 = 5;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Worth another try (no route yet, refused, timeout, 5xx, 408, 429).
    Transient(String),
    /// Will not change (bad URL, https, 403).
    Permanent(String),
    /// The server says the file is not there (404): retried by [`fetch`] too (a PXE server still
    /// being filled), the end of the search for optional files.
    NotFound(String),
}

impl Failure {
    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Failure::Transient(m) | Failure::Permanent(m) | Failure::NotFound(m) => m,
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

/// Why a fetch with retries gave no body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// An attempt failed in a way that will not change (bad URL, https, 403, too many redirects).
    #[error("{0}")]
    Permanent(String),
    /// The budget ran out; the last attempt's failure.
    #[error("{last} (gave up after {attempts} attempts in {:.1}s)", .spent.as_secs_f64())]
    GaveUp {
        /// The last attempt's failure.
        last: Failure,
        /// Attempts made.
        attempts: u32,
        /// Time spent.
        spent: Duration,
    },
}

/// GETs `url` once (following redirects) and returns the body of a 2xx answer.
pub async fn get_once(url: &str) -> Result<Vec<u8>, Failure> {
    if let Some(path) = url.strip_prefix("file://") {
        return std::fs::read(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Failure::NotFound(format!("{url}: {e}")),
            _ => Failure::Permanent(format!("{url}: {e}")),
        });
    }
    let mut current = url.to_string();
    for _ in 0..=MAX_REDIRECTS {
        let response = request(&current).await?;
        match response.status {
            200..=299 => return Ok(response.body),
            301 | 302 | 303 | 307 | 308 => {
                let location = response.location.ok_or_else(|| {
                    Failure::Permanent(format!("{current}: redirect without a Location"))
                })?;
                current = resolve_location(&current, &location);
            }
            404 => {
                return Err(Failure::NotFound(format!(
                    "{current}: HTTP 404 {}",
                    response.reason
                )));
            }
            status => {
                let message = format!("{current}: HTTP {status} {}", response.reason);
                return Err(if retry::status_retryable(status) {
                    Failure::Transient(message)
                } else {
                    Failure::Permanent(message)
                });
            }
        }
    }
    Err(Failure::Permanent(format!(
        "{url}: more than {MAX_REDIRECTS} redirects"
    )))
}

/// An absolute `Location` as is; a path is taken relative to `base`'s host.
fn resolve_location(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_string();
    }
    match http::parse_url(base) {
        Ok(t) if location.starts_with('/') => format!("http://{}{location}", t.authority()),
        Ok(t) => {
            let dir = t.path.rsplit_once('/').map_or("", |(d, _)| d);
            format!("http://{}{dir}/{location}", t.authority())
        }
        Err(_) => location.to_string(),
    }
}

async fn request(url: &str) -> Result<Response, Failure> {
    get(url).await.map_err(|e| match e {
        GetError::Url(e) => Failure::Permanent(e.to_string()),
        GetError::Exchange(m) => Failure::Transient(m),
    })
}

/// What a fetch with retries gives.
#[derive(Debug)]
pub struct Fetched {
    /// The body.
    pub body: Vec<u8>,
    /// Attempts made.
    pub attempts: u32,
}

/// GETs `url`, retrying transient failures (and a 404) on the backoff schedule until `budget` is
/// spent; each failed attempt is reported through `say`.
pub async fn fetch(
    url: &str,
    budget: Duration,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Fetched, FetchError> {
    let started = Instant::now();
    let mut attempt = 1;
    loop {
        // The budget bounds an attempt too: a server that drips its answer must not hold the
        // boot for the whole request timeout past it.
        let left = budget.saturating_sub(started.elapsed());
        let attempt_result = tokio::time::timeout(left, get_once(url))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Transient(format!(
                    "{url}: no complete answer within the {}s budget",
                    budget.as_secs_f64()
                )))
            });
        let failure = match attempt_result {
            Ok(body) => {
                return Ok(Fetched {
                    body,
                    attempts: attempt,
                });
            }
            Err(Failure::Permanent(m)) => return Err(FetchError::Permanent(m)),
            Err(f) => f,
        };
        let Some(wait) = retry::next(attempt, started.elapsed(), budget) else {
            return Err(FetchError::GaveUp {
                last: failure,
                attempts: attempt,
                spent: started.elapsed(),
            });
        };
        say(&format!(
            "attempt {attempt} failed: {}; retrying in {:.1}s",
            failure.message(),
            wait.as_secs_f64()
        ));
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_locations() {
        assert_eq!(resolve_location("http://h:81/a/b", "/c"), "http://h:81/c");
        assert_eq!(resolve_location("http://h/a/b", "c"), "http://h:80/a/c");
        assert_eq!(resolve_location("http://h/a", "http://x/y"), "http://x/y");
    }
}
