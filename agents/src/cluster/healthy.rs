//! `plinth-agent cluster healthy`: the readiness probe of the apiserver. Its port accepts
//! connections long before it serves (under emulation, a minute before), so PID 1's TCP probe
//! would call it ready too early; PID 1 itself speaks no TLS. This GETs `/readyz` with the
//! kubeconfig's identity, again every second, for a few seconds, and exits 0 once it answers
//! `ok`: one process per probe attempt (PID 1 runs it as an `Exec` probe and tries again when it
//! exits 1), not one per second.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use tokio::time::Instant;

/// How long one run keeps asking; under PID 1's five-second limit for an attempt.
pub const DEFAULT_FOR: Duration = Duration::from_secs(4);

/// Asks `path` of the kubeconfig's server until it answers `ok` or `for_` has passed.
pub fn run(kubeconfig: &Path, path: &str, for_: Duration) -> anyhow::Result<()> {
    let runtime = super::client::runtime()?;
    runtime.block_on(async {
        let deadline = Instant::now() + for_;
        let client = super::client::client(kubeconfig).await?;
        loop {
            let request = http::Request::get(path)
                .body(Vec::new())
                .context("building the request")?;
            let left = deadline.saturating_duration_since(Instant::now());
            let last = match tokio::time::timeout(left, client.request_text(request)).await {
                Ok(Ok(text)) if text.trim() == "ok" => return Ok(()),
                Ok(Ok(text)) => text.trim().to_owned(),
                Ok(Err(e)) => e.to_string(),
                Err(_) => "no answer".to_owned(),
            };
            if Instant::now() + Duration::from_secs(1) >= deadline {
                anyhow::bail!("{path}: not ready: {last}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}
