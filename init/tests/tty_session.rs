//! Terminal sessions (the `plinth.autologin` shells) for real, on a pseudo-terminal instead of a
//! serial port: the spawn path gives the process the terminal as stdin, stdout, stderr and
//! controlling terminal in a new session, what is typed on the terminal reaches it and its exit is
//! the service's exit; the supervisor keeps such a session running (same pid) across an unload and a
//! new plan — as `plinthctl config apply` does — while the other services are stopped, and the
//! shutdown ends it with a hangup. No root needed; one test, because the reaper waits for every
//! child of the test process.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use plinth_init::boot::timeline::Timeline;
use plinth_init::pid1::reaper::Reaper;
use plinth_init::supervisor::planner;
use plinth_init::supervisor::runner::{Settings, Supervisor};
use plinth_init::supervisor::spawn::{Io, Launch, launch};
use plinth_init::supervisor::spec::{Origin, Probe, RestartPolicy, ServiceSpec};
use plinth_init::supervisor::state::{ExitOutcome, State};

const LIMIT: Duration = Duration::from_secs(20);

/// A pseudo-terminal: what the processes on it print arrives on `output`.
struct Pty {
    master: std::fs::File,
    /// The slave's path (`/dev/pts/N`).
    path: String,
    /// The slave's device number, as `/proc/PID/stat` shows the controlling terminal.
    rdev: u64,
    output: mpsc::Receiver<String>,
    seen: String,
    _slave: std::os::fd::OwnedFd,
}

impl Pty {
    fn open() -> Pty {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let path = nix::unistd::ttyname(&pty.slave)
            .expect("ttyname")
            .display()
            .to_string();
        let rdev = nix::sys::stat::fstat(&pty.slave).expect("fstat").st_rdev;
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().expect("clone");
        let (tx, output) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // EIO once no process has the slave open any more: the end.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0
                    || tx
                        .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                        .is_err()
                {
                    break;
                }
            }
        });
        Pty {
            master,
            path,
            rdev,
            output,
            seen: String::new(),
            _slave: pty.slave,
        }
    }

    fn type_line(&mut self, line: &str) {
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("write to the pty");
    }

    /// Waits until the terminal has shown `needle`.
    fn wait_for(&mut self, needle: &str) {
        let deadline = Instant::now() + LIMIT;
        while !self.seen.contains(needle) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(text) => self.seen.push_str(&text.replace('\r', "")),
                Err(_) => panic!("no `{needle}` on the terminal; it showed:\n{}", self.seen),
            }
        }
    }
}

/// `(process group, session, controlling terminal)` of `pid`, from /proc.
fn stat(pid: i32) -> (i32, i32, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_comm = &text[text.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    (
        fields[2].parse().expect("pgrp"),
        fields[3].parse().expect("session"),
        fields[4].parse::<i64>().expect("tty_nr") as u64,
    )
}

fn spec(name: &str, exec: &[&str], tty: Option<&str>) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        exec: exec.iter().map(|s| s.to_string()).collect(),
        env: BTreeMap::new(),
        after: Vec::new(),
        probe: Probe::Running,
        ready_timeout: Some(LIMIT),
        restart: RestartPolicy::Always,
        oneshot: false,
        stop_signal: if tty.is_some() {
            libc::SIGHUP
        } else {
            libc::SIGTERM
        },
        stop_timeout: Duration::from_secs(5),
        origin: Origin::Builtin,
        tty: tty.map(str::to_string),
        background: false,
    }
}

#[test]
fn terminal_sessions_own_their_terminal_and_outlive_a_plan_reload() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let reaper = Reaper::start().expect("reaper");
        let base_env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];

        // The spawn path: stdio and controlling terminal, a new session, input, exit status.
        let mut pty = Pty::open();
        let argv: Vec<String> = [
            "/bin/sh",
            "-c",
            "tty; (: </dev/tty) && echo has-ctty; echo ready; read line; echo got=$line; exit 3",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let no_env = BTreeMap::new();
        let on = |tty| Launch {
            argv: &argv,
            base_env: &base_env,
            env: &no_env,
            io: Io::Terminal(tty),
            cgroup_procs: None,
        };
        let path = pty.path.clone();
        let started = launch(&reaper, &on(&path)).expect("launch on the pty");
        assert!(
            started.stdout.is_none() && started.stderr.is_none(),
            "a session's output goes to its terminal, not to pipes"
        );
        pty.wait_for("ready");
        let (pgrp, session, tty) = stat(started.pid);
        assert_eq!(
            (pgrp, session),
            (started.pid, started.pid),
            "its own session and group"
        );
        assert_eq!(tty, pty.rdev, "the pty is its controlling terminal");
        assert!(
            pty.seen.contains(&format!("{}\n", pty.path)),
            "{}",
            pty.seen
        );
        assert!(pty.seen.contains("has-ctty"), "{}", pty.seen);
        pty.type_line("hello");
        pty.wait_for("got=hello");
        assert_eq!(started.exit.await.expect("exit"), ExitOutcome::Code(3));

        // A missing terminal is a clear error, not a panic.
        let missing = launch(&reaper, &on("/dev/plinth-no-such-tty"));
        let error = missing.expect_err("no such terminal").to_string();
        assert!(error.contains("/dev/plinth-no-such-tty"), "{error}");

        // The supervisor: the session survives an unload and a new plan; the shutdown ends it.
        let mut pty = Pty::open();
        let settings = Settings {
            backoff: Default::default(),
            ring: Default::default(),
            log_dir: None,
            log_max_bytes: 1 << 20,
            console_output: false,
            cgroups: None,
            metrics_file: None,
            base_env: base_env.clone(),
            timeline: Timeline::default(),
        };
        let (supervisor, handle) = Supervisor::new(settings, reaper.clone());
        tokio::spawn(supervisor.run());
        let shell = spec(
            "autologin-pts",
            &["/bin/sh", "-c", "echo session $$; exec sleep 1000"],
            Some(&pty.path),
        );
        let other = spec("other", &["/bin/sleep", "1000"], None);
        let plan = |specs: Vec<ServiceSpec>| {
            planner::plan(specs, &[], Default::default()).expect("a valid plan")
        };
        handle
            .load(plan(vec![shell.clone(), other.clone()]))
            .await
            .expect("load");
        pty.wait_for("session ");
        let deadline = Instant::now() + LIMIT;
        loop {
            let list = handle.list().await.expect("list");
            if list.len() == 2 && list.iter().all(|s| s.state == State::Ready) {
                break;
            }
            assert!(Instant::now() < deadline, "not both ready: {list:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status = |name: &'static str| handle.status(name);
        let pid = status("autologin-pts").await.expect("status").pid;
        assert!(pid.is_some());

        handle.unload().await.expect("unload");
        assert!(status("other").await.is_err(), "other was unloaded");
        let kept = status("autologin-pts").await.expect("the session is kept");
        assert_eq!((kept.state, kept.pid), (State::Ready, pid));

        handle
            .load(plan(vec![shell.clone()]))
            .await
            .expect("reload");
        let list = handle.list().await.expect("list");
        let names: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["autologin-pts"]);
        assert_eq!(list[0].pid, pid, "the same process, never restarted");
        assert_eq!(list[0].restarts, 0);

        handle.shutdown().await.expect("shutdown");
        let done = handle.status("autologin-pts").await.expect("status");
        assert_eq!(done.state, State::Stopped, "{done:?}");
        assert_eq!(
            done.last_exit.as_deref(),
            Some(ExitOutcome::Signal(libc::SIGHUP).to_string().as_str()),
            "ended by a hangup"
        );
    });
}
