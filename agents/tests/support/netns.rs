//! A network namespace for one test, with veth pairs of known MACs, deleted on drop whatever the
//! test's outcome; and `ip -j` queries inside it.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why the namespace tests cannot run here, if they cannot.
pub fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        return Some("not root: network namespaces need CAP_SYS_ADMIN".into());
    }
    match Command::new("ip").arg("-V").output() {
        Ok(o) if o.status.success() => None,
        _ => Some("`ip` (iproute2) is not installed".into()),
    }
}

/// A named network namespace, removed on drop.
pub struct Netns {
    /// Its name under /run/netns.
    pub name: String,
    /// A scratch directory for the test's files, removed on drop.
    pub dir: PathBuf,
}

impl Netns {
    /// Creates a namespace named after the test, with `lo` up.
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("plinth-{tag}-{}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name, dir };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// Adds a veth pair: `name` with `mac` (left down, to be configured) and its peer `peer`, up.
    pub fn veth(&self, name: &str, mac: &str, peer: &str) {
        self.ip(&[
            "link", "add", name, "address", mac, "type", "veth", "peer", "name", peer,
        ]);
        self.ip(&["link", "set", peer, "up"]);
    }

    /// Runs `ip -n NS ARGS`, which must succeed; returns stdout.
    pub fn ip(&self, args: &[&str]) -> String {
        let out = run_ok(Command::new("ip").args(["-n", &self.name]).args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `ip -j -n NS ARGS` parsed.
    pub fn json(&self, args: &[&str]) -> Vec<Value> {
        let text = self.ip(&[&["-j"], args].concat());
        let text = if text.trim().is_empty() { "[]" } else { &text };
        serde_json::from_str(text).unwrap_or_else(|e| panic!("ip -j {args:?}: {e}: {text}"))
    }

    /// A command run inside the namespace (`ip netns exec NS PROGRAM`).
    pub fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
