//! How a joining node's `cluster-prep` is doing, kept in `<run dir>/join.json` for
//! `plinthctl cluster` and said on the console once per change: the step it is at, and, while it
//! retries, the kind of trouble (`unreachable`, `bad-signature`, …) with a one-line reason that
//! never holds a secret. Pure but for [`JoinState::write`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file under the run directory.
pub const FILE: &str = "join.json";

/// Why `join.json` cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum JoinStateError {
    /// The file is there but cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not what `cluster-prep` writes.
    #[error("{}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Why.
        source: serde_json::Error,
    },
}

/// A joiner's progress.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinState {
    /// The step: `discovery`, `control-plane-certificates`, `etcd-member`, `joined`.
    pub step: String,
    /// The endpoint joined.
    pub endpoint: String,
    /// The trouble the last try met (`unreachable`, `no-signature`, …); `None` once it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trouble: Option<String>,
    /// Its reason, one line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Tries of this step so far.
    pub tries: u32,
}

/// The steps.
pub const DISCOVERY: &str = "discovery";
pub const CERTIFICATES: &str = "control-plane-certificates";
pub const ETCD_MEMBER: &str = "etcd-member";
pub const JOINED: &str = "joined";

impl JoinState {
    /// At `step` of joining `endpoint`, no try yet.
    pub fn at(step: &str, endpoint: &str) -> Self {
        Self {
            step: step.to_owned(),
            endpoint: endpoint.to_owned(),
            ..Self::default()
        }
    }

    /// A failed try with `trouble` and `reason`: the console line to print when this is new
    /// (another trouble or reason than the last try's), else `None`.
    pub fn failed(&mut self, trouble: &str, reason: &str) -> Option<String> {
        self.tries += 1;
        let new =
            self.trouble.as_deref() != Some(trouble) || self.reason.as_deref() != Some(reason);
        self.trouble = Some(trouble.to_owned());
        self.reason = Some(reason.to_owned());
        new.then(|| {
            format!(
                "cluster join: {} of {}: {reason}; retrying with backoff",
                self.step, self.endpoint
            )
        })
    }

    /// Whether the node has joined.
    pub fn joined(&self) -> bool {
        self.step == JOINED
    }

    /// Writes the state to `<run_dir>/join.json` (0644: nothing secret in it).
    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string(self).map_err(std::io::Error::other)? + "\n";
        crate::pki::store::replace(&run_dir.join(FILE), text.as_bytes(), 0o644)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }

    /// Reads `<run_dir>/join.json`; `None` when there is none.
    pub fn read(run_dir: &Path) -> Result<Option<Self>, JoinStateError> {
        let path = run_dir.join(FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|source| JoinStateError::Json { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(JoinStateError::Read { path, source }),
        }
    }
}

/// The pause before try `tries + 1` of a step: 1 s doubling to 15 s, so a cluster that comes up
/// is found within seconds and one that does not is asked about four times a minute.
pub fn backoff(tries: u32) -> std::time::Duration {
    let seconds = 1u64 << tries.saturating_sub(1).min(4);
    std::time::Duration::from_secs(seconds.min(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trouble_is_said_once_until_it_changes() {
        let mut state = JoinState::at(DISCOVERY, "https://10.0.0.1:6443");
        let first = state.failed("unreachable", "connection refused").unwrap();
        assert_eq!(
            first,
            "cluster join: discovery of https://10.0.0.1:6443: connection refused; retrying with backoff"
        );
        assert_eq!(state.failed("unreachable", "connection refused"), None);
        assert!(state.failed("no-signature", "no JWS").is_some());
        assert_eq!(state.tries, 3);
        assert!(!state.joined());
        assert!(JoinState::at(JOINED, "x").joined());
    }

    #[test]
    fn backoff_doubles_to_fifteen_seconds() {
        let s: Vec<u64> = (1..=7).map(|t| backoff(t).as_secs()).collect();
        assert_eq!(s, [1, 2, 4, 8, 15, 15, 15]);
    }

    #[test]
    fn it_reads_back() {
        let dir = std::env::temp_dir().join(format!("plinth-join-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(JoinState::read(&dir).unwrap(), None);
        let mut state = JoinState::at(ETCD_MEMBER, "https://10.0.0.1:6443");
        state.failed("etcd", "too many learner members in cluster");
        state.write(&dir).unwrap();
        assert_eq!(JoinState::read(&dir).unwrap(), Some(state));
        std::fs::write(dir.join(FILE), "{}").unwrap();
        let e = JoinState::read(&dir).unwrap_err();
        assert!(matches!(e, JoinStateError::Json { .. }), "{e:?}");
        assert!(
            e.to_string()
                .starts_with(&format!("{}: missing field", dir.join(FILE).display())),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
