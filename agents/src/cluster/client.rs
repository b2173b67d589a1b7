//! The Kubernetes client of the cluster agents (kube-rs over rustls with ring, from a kubeconfig
//! file) and their patience: which API errors are worth retrying, and a bounded exponential
//! backoff around a step.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::time::Instant;

/// The first pause between tries of a step; doubled each time up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(250);
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The kubeconfig's client configuration (its current context).
pub async fn config(kubeconfig: &Path) -> anyhow::Result<Config> {
    let file = Kubeconfig::read_from(kubeconfig)
        .with_context(|| format!("reading {}", kubeconfig.display()))?;
    let mut config = Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("the client configuration of {}", kubeconfig.display()))?;
    config.connect_timeout = Some(Duration::from_secs(5));
    config.read_timeout = Some(Duration::from_secs(60));
    config.write_timeout = Some(Duration::from_secs(30));
    Ok(config)
}

/// A client from a kubeconfig file.
pub async fn client(kubeconfig: &Path) -> anyhow::Result<Client> {
    Client::try_from(config(kubeconfig).await?).context("making the Kubernetes client")
}

/// The HTTP status of an API error (`None` for transport errors).
pub fn status(error: &kube::Error) -> Option<u16> {
    match error {
        kube::Error::Api(status) => Some(status.code),
        _ => None,
    }
}

/// Whether retrying may help: the apiserver unreachable or still starting (transport errors,
/// 5xx, 429), or a write that lost a race (409 conflict / already exists, 404 of an object being
/// recreated). Authentication, authorization and invalid objects (401, 403, 400, 422) are not.
pub fn transient(error: &kube::Error) -> bool {
    match status(error) {
        Some(code) => matches!(code, 404 | 409 | 429 | 500..=599),
        None => !matches!(
            error,
            kube::Error::SerdeError(_) | kube::Error::BuildRequest(_) | kube::Error::InferConfig(_)
        ),
    }
}

/// Runs `step` until it succeeds, pausing with exponential backoff after each transient error,
/// until `deadline` (the last try is at the deadline); a permanent error, or a transient one at
/// the deadline, is returned.
pub async fn retry<T, F, Fut>(what: &str, deadline: Instant, mut step: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = MIN_BACKOFF;
    let mut tries = 0u32;
    loop {
        tries += 1;
        match step().await {
            Ok(value) => return Ok(value),
            Err(e) if transient(&e) && Instant::now() < deadline => {
                if tries == 1 || tries.is_power_of_two() {
                    eprintln!("{what}: {e}; retrying");
                }
                // The last pause is cut short: one more try at the deadline.
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(Instant::now())))
                    .await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                return Err(anyhow::Error::new(e)).with_context(|| {
                    format!("{what} (after {tries} {})", plural(tries, "try", "tries"))
                });
            }
        }
    }
}

fn plural(n: u32, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// A current-thread tokio runtime for a command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("x", "y").with_code(code),
        ))
    }

    #[test]
    fn which_errors_are_retried() {
        for code in [404, 409, 429, 500, 503, 504] {
            assert!(transient(&api(code)), "{code}");
        }
        for code in [400, 401, 403, 405, 422] {
            assert!(!transient(&api(code)), "{code}");
        }
    }

    #[test]
    fn retries_until_success_or_a_permanent_error() {
        let rt = runtime().unwrap();
        rt.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut n = 0;
            let got = retry("step", deadline, || {
                n += 1;
                let n = n;
                async move { if n < 3 { Err(api(503)) } else { Ok(n) } }
            })
            .await
            .unwrap();
            assert_eq!(got, 3);
            let mut n = 0;
            let err = retry("step", deadline, || {
                n += 1;
                async { Err::<(), _>(api(403)) }
            })
            .await
            .unwrap_err();
            assert_eq!(n, 1);
            assert!(format!("{err:#}").contains("after 1 try"), "{err:#}");
            let past = Instant::now();
            let err = retry("step", past, || async { Err::<(), _>(api(503)) })
                .await
                .unwrap_err();
            assert!(format!("{err:#}").contains("step"));
        });
    }
}
