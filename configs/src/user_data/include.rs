//! `#include` and `#include-once` user-data (`text/x-include-url`, `text/x-include-once-url`):
//! lines of URLs whose documents are user-data in their turn, as cloud-init's `_do_include` reads
//! them (a URL may follow `#include` on its line; `#` lines and blank lines are skipped).
//!
//! Reading stays pure: the documents are fetched by whoever reads the source (the boot, with its
//! bounded HTTP client) and handed over in [`Included`]; a URL it does not hold is asked for through
//! [`Included::take_wanted`] and, meanwhile, refused or warned about as [`Unfetched`] says.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

/// How many documents one user-data may include, in all.
pub const MAX_INCLUDES: usize = 16;

/// What to say about a URL whose document is not at hand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unfetched {
    /// An error saying why.
    Refuse(String),
    /// A warning saying why (a validator, which fetches nothing).
    Warn(String),
}

/// The documents fetched for `#include` URLs, and the URLs asked for that are not among them.
#[derive(Debug)]
pub struct Included {
    fetched: BTreeMap<String, Result<Vec<u8>, String>>,
    unfetched: Unfetched,
    wanted: Mutex<BTreeSet<String>>,
}

impl Default for Included {
    /// Nothing fetched, and an include refused: reading a file is not booting a node.
    fn default() -> Self {
        Included::new(Unfetched::Refuse(
            "includes are fetched only by a booting node while it reads its config source; put the included documents into this user-data as MIME parts (`cloud-init devel make-mime`)".to_owned(),
        ))
    }
}

impl Included {
    /// Nothing fetched yet; missing URLs are handled as `unfetched` says.
    pub fn new(unfetched: Unfetched) -> Self {
        Included {
            fetched: BTreeMap::new(),
            unfetched,
            wanted: Mutex::new(BTreeSet::new()),
        }
    }

    /// Records what fetching `url` gave: its body, or why there is none.
    pub fn insert(&mut self, url: &str, result: Result<Vec<u8>, String>) {
        self.fetched.insert(url.to_owned(), result);
    }

    /// How many URLs were fetched (or tried).
    pub fn len(&self) -> usize {
        self.fetched.len()
    }

    /// Whether nothing was fetched.
    pub fn is_empty(&self) -> bool {
        self.fetched.is_empty()
    }

    /// What fetching `url` gave, if it was fetched.
    pub fn get(&self, url: &str) -> Option<&Result<Vec<u8>, String>> {
        self.fetched.get(url)
    }

    /// How a missing URL is handled.
    pub fn unfetched(&self) -> &Unfetched {
        &self.unfetched
    }

    /// Changes how a missing URL is handled (once the network is up, or cannot be).
    pub fn set_unfetched(&mut self, unfetched: Unfetched) {
        self.unfetched = unfetched;
    }

    pub(crate) fn want(&self, url: &str) {
        self.wanted
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(url.to_owned());
    }

    /// The URLs a read asked for and did not find, since the last call.
    pub fn take_wanted(&self) -> Vec<String> {
        std::mem::take(
            &mut *self
                .wanted
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
        .into_iter()
        .collect()
    }
}

/// The URLs of an include part, each with its 1-based line.
pub fn urls(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .enumerate()
        .filter_map(|(i, line)| {
            let line = line.trim_start();
            let line = line
                .strip_prefix("#include-once")
                .or_else(|| line.strip_prefix("#include"))
                .map_or(line, str::trim_start);
            let url = line.trim();
            (!url.is_empty() && !url.starts_with('#'))
                .then(|| (u32::try_from(i + 1).unwrap_or(u32::MAX), url.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn include_lines() {
        let text = "#include http://a/one.yaml\n\n# a comment\nhttp://a/two.yaml\n  #include-once http://a/three\n";
        assert_eq!(
            urls(text),
            [
                (1, "http://a/one.yaml".to_owned()),
                (4, "http://a/two.yaml".to_owned()),
                (5, "http://a/three".to_owned())
            ]
        );
        assert!(urls("#include\n").is_empty());
        let inc = Included::default();
        inc.want("http://x");
        inc.want("http://x");
        assert_eq!(inc.take_wanted(), ["http://x"]);
        assert!(inc.take_wanted().is_empty());
    }
}
