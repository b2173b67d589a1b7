//! `#include` URLs in user-data, fetched with the same bounded client as a config URL: a source is
//! read, the URLs it asks for are fetched, and it is read again, for a few rounds (an included
//! document may include more). The network is brought up for them when the source is local (a
//! seed); when no interface gets a lease the include is refused, saying so.

use std::time::Duration;

use plinth_config::user_data::include::{Included, Unfetched};

use super::client;
use crate::console;
use crate::pid1::reaper::Reaper;

/// How long one included document may take to fetch, retries included.
pub const BUDGET: Duration = Duration::from_secs(30);
/// How many rounds of includes (an include in an included document is one more round).
pub const MAX_ROUNDS: usize = 4;

/// Whether the network is up for fetching, and how to bring it up when it is not.
#[derive(Debug)]
pub struct Network<'a> {
    reaper: Option<&'a Reaper>,
    up: bool,
}

impl<'a> Network<'a> {
    /// Up already (a URL source brought it up).
    pub fn up() -> Self {
        Network {
            reaper: None,
            up: true,
        }
    }

    /// Not up; brought up with `reaper` (DHCP, as for a config URL) when an include needs it.
    pub fn down(reaper: &'a Reaper) -> Self {
        Network {
            reaper: Some(reaper),
            up: false,
        }
    }

    /// Not up, and not to be brought up (a container, a test).
    pub fn none() -> Self {
        Network {
            reaper: None,
            up: false,
        }
    }
}

/// Why an include cannot be fetched when no interface has an address.
const NO_NETWORK: &str = "no network is up to fetch it (no interface got a DHCP lease); put the included documents into the user-data as MIME parts, or serve the whole user-data by URL";

fn say(line: &str) {
    console::say(&format!("config: {line}"));
}

/// Reads a source with `read` until it asks for no URL it lacks, fetching what each read asked
/// for; the last read's result is returned.
pub async fn read_with_includes<T>(read: impl Fn(&Included) -> T, net: &mut Network<'_>) -> T {
    let mut included = Included::new(Unfetched::Refuse(NO_NETWORK.to_owned()));
    let mut result = read(&included);
    for _ in 0..MAX_ROUNDS {
        let wanted = included.take_wanted();
        if wanted.is_empty() {
            break;
        }
        if !net.up
            && let Some(reaper) = net.reaper
        {
            say("bringing the network up for the user-data's #include");
            net.up = !super::early_dhcp::bring_up(reaper).await.is_empty();
        }
        for url in wanted {
            let body = if net.up || url.starts_with("file://") {
                say(&format!("fetching #include {url}"));
                let fetched = client::fetch(&url, BUDGET, &say).await.map(|f| f.body);
                match &fetched {
                    Ok(body) => say(&format!("fetched #include {url} ({} bytes)", body.len())),
                    Err(why) => say(&format!("cannot fetch #include {url}: {why}")),
                }
                fetched.map_err(|why| format!("cannot fetch: {why}"))
            } else {
                Err(NO_NETWORK.to_owned())
            };
            included.insert(&url, body);
        }
        result = read(&included);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn includes_are_fetched_round_by_round() {
        let dir = std::env::temp_dir().join(format!("plinth-include-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let second = dir.join("second.yaml");
        std::fs::write(&second, "#cloud-config\nhostname: second\n").unwrap();
        let first = dir.join("first");
        std::fs::write(
            &first,
            format!(
                "#include file://{}\n#cloud-config-not-a-url\n",
                second.display()
            ),
        )
        .unwrap();
        let top = format!("#include\nfile://{}\n", first.display());
        let parsed = read_with_includes(
            |inc| plinth_config::parse_with("user-data", &top, inc),
            &mut Network::none(),
        )
        .await
        .unwrap();
        assert_eq!(parsed.config.hostname.as_deref(), Some("second"));

        let remote = "#include http://192.0.2.1/x.yaml\n";
        let err = read_with_includes(
            |inc| plinth_config::parse_with("user-data", remote, inc),
            &mut Network::none(),
        )
        .await
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("user-data:1:1: error: `#include` http://192.0.2.1/x.yaml: no network is up to fetch it"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
