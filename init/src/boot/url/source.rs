//! A config from the network: `plinth.config=URL` (one `#cloud-config` document, its SHA-256 checked
//! when `plinth.config.sha256=` is given) or `ds=nocloud;s=URL/` (a NoCloud seed: `user-data` and
//! `meta-data` under that prefix, `network-config` and `vendor-data` when the server has them).
//! The network is brought up first (see [`super::network`]); what was fetched, or why not, is said
//! on the console. A source that cannot be reached within the budget is skipped (the next source
//! decides); one that answers with the wrong checksum or an invalid config stops the boot.

use std::time::Duration;

use plinth_config::sources::nocloud::{self, SeedFiles};
use plinth_config::sources::text_of;

use super::checksum;
use super::client::{self, Failure};
use crate::console;

/// What a URL source gave.
#[derive(Debug)]
pub enum Outcome {
    /// The config text was read: its parse result, how to name it, and the meta-data instance-id.
    Parsed {
        /// `plinth.config=URL` or `NoCloud seed URL`.
        label: String,
        /// The parsed config.
        parsed: Box<plinth_config::Parsed>,
        /// The instance-id of the seed's meta-data.
        instance_id: Option<String>,
    },
    /// Nothing could be fetched (said on the console): try the next source.
    Unreachable,
}

/// Why a fetched source is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The checksum differs.
    #[error(transparent)]
    Mismatch(#[from] checksum::Mismatch),
    /// The text does not parse or validate; every diagnostic.
    #[error("{0}")]
    Invalid(String),
    /// The server refused for good (403, https, bad URL).
    #[error(transparent)]
    Refused(client::FetchError),
}

fn say(line: &str) {
    console::say(&format!("config: {line}"));
}

/// Fetches `plinth.config=url`, checks `sha256`, and parses it.
pub async fn config_url(
    url: &str,
    sha256: Option<&str>,
    budget: Duration,
) -> Result<Outcome, SourceError> {
    say(&format!("fetching plinth.config={url}"));
    let fetched = match client::fetch(url, budget, &say).await {
        Ok(f) => f,
        Err(why) if is_permanent(url) => return Err(SourceError::Refused(why)),
        Err(why) => {
            say(&format!(
                "cannot fetch {url}: {why}; trying the next source"
            ));
            return Ok(Outcome::Unreachable);
        }
    };
    let sum = checksum::sha256_hex(&fetched.body);
    say(&format!(
        "fetched {url} ({} bytes, sha256 {sum}, {} attempt{}){}",
        fetched.body.len(),
        fetched.attempts,
        if fetched.attempts == 1 { "" } else { "s" },
        if sha256.is_some() {
            ", checksum given"
        } else {
            ", no checksum given"
        }
    ));
    checksum::verify(url, sha256, &sum)?;
    let text = text_of(url, &fetched.body).map_err(|d| SourceError::Invalid(d.to_string()))?;
    let parsed = super::include::read_with_includes(
        |inc| plinth_config::parse_with(url, &text, inc),
        &mut super::include::Network::up(),
    )
    .await
    .map_err(|d| SourceError::Invalid(d.to_string()))?;
    Ok(Outcome::Parsed {
        label: format!("plinth.config={url}"),
        parsed: Box::new(parsed),
        instance_id: None,
    })
}

/// Whether fetching `url` can never work (a scheme PID 1 does not speak).
fn is_permanent(url: &str) -> bool {
    crate::http::parse_url(url).is_err() && !url.starts_with("file://")
}

/// Fetches the NoCloud seed under `seed_from` (ending in `/`) and reads it as cloud-init would;
/// `local_hostname` (the command line's `h=`) names the node when neither user-data nor meta-data do.
pub async fn nocloud_url(
    seed_from: &str,
    local_hostname: Option<&str>,
    budget: Duration,
) -> Result<Outcome, SourceError> {
    say(&format!("fetching the NoCloud seed {seed_from}"));
    let mut files = SeedFiles::default();
    for (name, slot) in [
        ("user-data", &mut files.user_data),
        ("meta-data", &mut files.meta_data),
    ] {
        let url = format!("{seed_from}{name}");
        match client::fetch(&url, budget, &say).await {
            Ok(f) => {
                say(&format!(
                    "fetched {url} ({} bytes, sha256 {})",
                    f.body.len(),
                    checksum::sha256_hex(&f.body)
                ));
                *slot =
                    Some(text_of(&url, &f.body).map_err(|d| SourceError::Invalid(d.to_string()))?);
            }
            Err(why) if is_permanent(&url) => return Err(SourceError::Refused(why)),
            Err(why) => {
                say(&format!(
                    "cannot fetch {url}: {why}; trying the next source"
                ));
                return Ok(Outcome::Unreachable);
            }
        }
    }
    for (name, slot) in [
        ("network-config", &mut files.network_config),
        ("vendor-data", &mut files.vendor_data),
    ] {
        let url = format!("{seed_from}{name}");
        match client::get_once(&url).await {
            Ok(body) => {
                say(&format!("fetched {url} ({} bytes)", body.len()));
                *slot =
                    Some(text_of(&url, &body).map_err(|d| SourceError::Invalid(d.to_string()))?);
            }
            Err(Failure::NotFound(_)) => {}
            Err(f) => say(&format!("optional {url} not read: {}", f.message())),
        }
    }
    let base = seed_from.trim_end_matches('/');
    let mut parsed = super::include::read_with_includes(
        |inc| nocloud::from_files_with(base, &files, inc),
        &mut super::include::Network::up(),
    )
    .await
    .map_err(|d| SourceError::Invalid(d.to_string()))?;
    if parsed.config.hostname.is_none()
        && let Some(name) = local_hostname
    {
        if let Some(problem) = plinth_config::validate::hostname::hostname_problem(name) {
            return Err(SourceError::Invalid(format!(
                "kernel command line: ds=nocloud h={name}: {problem}"
            )));
        }
        parsed.config.hostname = Some(name.to_string());
    }
    let instance_id = files
        .meta_data
        .as_deref()
        .and_then(|t| nocloud::parse_meta_data("meta-data", t).ok())
        .and_then(|m| m.instance_id);
    Ok(Outcome::Parsed {
        label: format!("NoCloud seed {seed_from}"),
        parsed: Box::new(parsed),
        instance_id,
    })
}
