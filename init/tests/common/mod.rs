//! A fixture for the integration tests: the built `plinth-init` as a real PID 1 in new PID and mount
//! namespaces (`unshare --pid --fork --kill-child --mount --mount-proc`), in `--container` mode, with
//! a temp config and control socket, driven by the built `plinthctl` run inside the same PID
//! namespace (`nsenter --pid`, as on a node; the API authenticates by uid, so a caller outside
//! works too, which `control_peer.rs` proves).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Whether the tests can run here; says why not (`plinth_test_support::unavailable`: under CI,
/// `CI=true`, it fails instead, since a test that did not run proves nothing).
pub fn can_run() -> bool {
    let missing = if !nix::unistd::geteuid().is_root() {
        "these tests run plinth-init as PID 1 in new namespaces and need root"
    } else if Command::new("unshare").arg("--version").output().is_err()
        || Command::new("nsenter").arg("--version").output().is_err()
    {
        "unshare and nsenter (util-linux) are needed"
    } else {
        return true;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_string();
    plinth_test_support::unavailable(&test, missing);
    false
}

/// The empty scratch directory of test `name` when the tests can run here (see [`can_run`]).
pub fn prepared(name: &str) -> Option<Scratch> {
    can_run().then(|| Scratch(scratch(name)))
}

/// A test's scratch directory: removed when the test passes, kept for a look when it fails (the
/// stage-1 roots are 124 MiB each, and hundreds piled up in /tmp over a day of runs).
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("scratch kept for a look: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Everything `child` prints on stdout and stderr, collected line by line as it comes.
pub fn capture(child: &mut Child) -> Arc<Mutex<String>> {
    let console = Arc::new(Mutex::new(String::new()));
    for pipe in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let console = console.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut c = console.lock().unwrap();
                c.push_str(&line);
                c.push('\n');
            }
        });
    }
    console
}

/// Runs the built plinthctl against `socket` as uid and gid 65534 (nobody).
pub fn plinthctl_as_nobody(socket: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_plinthctl"))
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .expect("setpriv runs")
}

/// A running plinth-init.
pub struct Node {
    unshare: Child,
    /// PID 1's pid as the host sees it.
    pub host_pid: i32,
    /// The test's scratch directory.
    pub dir: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    console: Arc<Mutex<String>>,
    started: Instant,
}

/// The scratch directory of test `name`, empty.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("plinth-it-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Node {
    /// Starts plinth-init with `config` (YAML, `$D` replaced by the scratch dir) and extra flags.
    pub fn start(dir: &Path, config: &str, extra: &[&str]) -> Node {
        Node::start_with_env(dir, config, extra, &[])
    }

    /// [`Node::start`] with extra environment variables for PID 1 (`PLINTH_FAULT`).
    pub fn start_with_env(dir: &Path, config: &str, extra: &[&str], env: &[(&str, &str)]) -> Node {
        let config_path = dir.join("config.yaml");
        std::fs::write(
            &config_path,
            config.replace("$D", &dir.display().to_string()),
        )
        .unwrap();
        let socket = dir.join("control.sock");
        let mut unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--mount", "--mount-proc"])
            .arg(env!("CARGO_BIN_EXE_plinth-init"))
            .arg("--container")
            .arg("--config")
            .arg(&config_path)
            .arg("--control-socket")
            .arg(&socket)
            .args(extra)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("unshare runs");
        let console = capture(&mut unshare);
        let started = Instant::now();
        let unshare_pid = unshare.id();
        let mut host_pid = 0;
        while host_pid == 0 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "unshare never forked PID 1"
            );
            host_pid = children(unshare_pid as i32).first().copied().unwrap_or(0);
            std::thread::sleep(Duration::from_millis(10));
        }
        let node = Node {
            unshare,
            host_pid,
            dir: dir.to_path_buf(),
            socket,
            console,
            started,
        };
        node.wait_until("the control socket", Duration::from_secs(30), || {
            node.socket.exists()
        });
        node
    }

    /// What PID 1 printed so far.
    pub fn console(&self) -> String {
        self.console.lock().unwrap().clone()
    }

    /// Polls `check` every 50 ms until it holds, failing the test after `limit` with the console.
    pub fn wait_until(&self, what: &str, limit: Duration, mut check: impl FnMut() -> bool) {
        let start = Instant::now();
        while !check() {
            if start.elapsed() > limit {
                panic!(
                    "timed out after {limit:?} waiting for {what}; console:\n{}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for a console line containing `needle`.
    pub fn wait_console(&self, needle: &str, limit: Duration) {
        self.wait_until(&format!("console line `{needle}`"), limit, || {
            self.console().contains(needle)
        });
    }

    /// Runs plinthctl inside PID 1's namespace.
    pub fn ctl(&self, args: &[&str]) -> Output {
        Command::new("nsenter")
            .args(["--target", &self.host_pid.to_string(), "--pid", "--"])
            .arg(env!("CARGO_BIN_EXE_plinthctl"))
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("nsenter runs")
    }

    /// Runs plinthctl and returns its stdout, failing the test when it fails.
    pub fn ctl_ok(&self, args: &[&str]) -> String {
        let out = self.ctl(args);
        assert!(
            out.status.success(),
            "plinthctl {args:?} failed: {}\nconsole:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.console()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `plinthctl services -o json`.
    pub fn services(&self) -> Vec<Value> {
        let text = self.ctl_ok(&["services", "-o", "json"]);
        serde_json::from_str::<Value>(&text)
            .unwrap()
            .as_array()
            .cloned()
            .unwrap()
    }

    /// One service from `plinthctl status NAME -o json`.
    pub fn service(&self, name: &str) -> Value {
        serde_json::from_str(&self.ctl_ok(&["status", name, "-o", "json"])).unwrap()
    }

    /// The state of service `name`.
    pub fn state(&self, name: &str) -> String {
        self.service(name)["state"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until service `name` is in `state`.
    pub fn wait_state(&self, name: &str, state: &str, limit: Duration) {
        self.wait_until(&format!("{name} to be {state}"), limit, || {
            self.state(name) == state
        });
    }

    /// PID 1's resident set size.
    pub fn rss_bytes(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.host_pid)).unwrap_or_default();
        plinth_init::supervisor::metrics::vm_rss(&status).unwrap_or(0)
    }

    /// Time since the node was started.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Sends `signal` to PID 1.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.host_pid), signal).unwrap();
    }

    /// Waits for PID 1 (and so unshare) to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.unshare.try_wait().unwrap() {
                return status;
            }
            if start.elapsed() > limit {
                panic!(
                    "PID 1 did not exit within {limit:?}; console:\n{}",
                    self.console()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // --kill-child: PID 1 (and with it the whole namespace) dies with unshare.
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// The children of every thread of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    out
}

/// The one-letter state of a process (`Z` for a zombie), `None` once it is gone.
pub fn process_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next())
}

/// A process's command line, spaces between arguments.
pub fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            String::from_utf8_lossy(&b)
                .replace('\0', " ")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}
