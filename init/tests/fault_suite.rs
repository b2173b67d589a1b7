//! The fault suite of issue 14: PID 1 as a real PID 1 in a PID namespace (and its URL client)
//! under a crash loop, bad input and load. Each test prints its figures (`FIGURE ...` lines, also
//! appended to the file `PLINTH_FAULT_REPORT` names). `cargo xtask test` runs the short form;
//! `cargo xtask faults` sets `PLINTH_FAULT_SCALE=long` (10 minutes of crash loop, 300 mutated
//! configs, 500 services) and prints the figures.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use common::{Node, prepared};

/// Whether the long form was asked for.
fn long() -> bool {
    std::env::var("PLINTH_FAULT_SCALE").as_deref() == Ok("long")
}

/// Says a figure on stderr and appends it to the report file, if any.
fn figure(line: &str) {
    eprintln!("FIGURE {line}");
    if let Ok(path) = std::env::var("PLINTH_FAULT_REPORT")
        && let Ok(mut file) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = writeln!(file, "{line}");
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

#[test]
fn crash_loop_pid1_stays_up_flat_capped_and_bounded() {
    let Some(dir) = prepared("fault-crash") else {
        return;
    };
    let run_for = if long() {
        Duration::from_secs(600)
    } else {
        Duration::from_secs(15)
    };
    let logs = dir.join("logs");
    let node = Node::start(
        &dir,
        r#"#cloud-config
plinth:
  services:
    - name: crasher
      exec: [sh, -c, "echo crashing with a line of output to keep; exit 3"]
    - name: steady
      exec: [sleep, infinity]
"#,
        &[
            "--backoff-min",
            "10ms",
            "--backoff-max",
            "300ms",
            "--log-dir",
            logs.to_str().unwrap(),
            "--log-max-bytes",
            "4096",
            "--log-ring-lines",
            "50",
            "--quiet-services",
        ],
    );
    node.wait_console("plinth: ready in", Duration::from_secs(60));
    node.wait_until("a few crashes", Duration::from_secs(30), || {
        node.service("crasher")["restarts"].as_u64().unwrap_or(0) >= 3
    });
    let rss_first = node.rss_bytes();
    let started = Instant::now();
    let mut rss_max = rss_first;
    while started.elapsed() < run_for {
        std::thread::sleep(Duration::from_millis(500));
        rss_max = rss_max.max(node.rss_bytes());
        assert!(
            common::process_state(node.host_pid).is_some_and(|s| s != 'Z'),
            "PID 1 died"
        );
    }
    let rss_last = node.rss_bytes();
    let crasher = node.service("crasher");
    let restarts = crasher["restarts"].as_u64().unwrap();
    assert_eq!(node.state("steady"), "ready", "the other service stayed up");
    let console = node.console();
    let delays: Vec<f64> = console
        .lines()
        .filter(|l| l.contains("service crasher: backoff"))
        .filter_map(|l| l.rsplit_once("restarting in ")?.1.strip_suffix("ms"))
        .filter_map(|ms| ms.parse::<f64>().ok())
        .collect();
    let max_delay = delays.iter().copied().fold(0.0, f64::max);
    assert!(
        max_delay <= 300.0,
        "a backoff above the 300ms cap: {max_delay}ms"
    );
    let ring = node.ctl_ok(&["logs", "crasher"]).lines().count();
    assert!(ring <= 50, "the ring holds {ring} lines, more than 50");
    let log_bytes: u64 = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("crasher"))
        .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    assert!(
        log_bytes <= 3 * 4096,
        "crasher's log files hold {log_bytes} bytes"
    );
    assert!(
        rss_last <= rss_first + 2 * 1024 * 1024,
        "PID 1's RSS grew from {rss_first} to {rss_last}"
    );
    figure(&format!(
        "crash loop: {restarts} restarts in {:.0}s; PID 1 alive; RSS first {:.2} MiB, last {:.2} MiB, max {:.2} MiB; backoff max {max_delay:.0}ms (cap 300ms); ring {ring} lines (limit 50); log files {log_bytes} bytes (rotation at 4096)",
        started.elapsed().as_secs_f64(),
        mib(rss_first),
        mib(rss_last),
        mib(rss_max),
    ));
}

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// `text` with one mutation: a line deleted, duplicated or re-indented, a value replaced by another
/// type, a cut, or junk inserted.
fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        return String::new();
    }
    let at = rng.below(lines.len());
    match rng.below(6) {
        0 => {
            lines.remove(at);
        }
        1 => {
            let line = lines[at].clone();
            lines.insert(at, line);
        }
        2 => lines[at] = format!("  {}", lines[at]),
        3 => {
            if let Some((key, _)) = lines[at].split_once(':') {
                let value = ["7", "[x, y]", "{}", "\"\"", "-1", "yes", "~", "&a *a"][rng.below(8)];
                lines[at] = format!("{key}: {value}");
            }
        }
        4 => {
            let all = lines.join("\n");
            let cut = rng.below(all.len());
            let cut = (0..=cut)
                .rev()
                .find(|i| all.is_char_boundary(*i))
                .unwrap_or(0);
            return all[..cut].to_string();
        }
        _ => {
            let junk = [
                "\t", "- ", ": :", "!!binary", "\u{feff}", "%YAML 9", "{{", "'",
            ][rng.below(8)];
            lines.insert(at, junk.to_string());
        }
    }
    lines.join("\n") + "\n"
}

#[test]
fn mutated_example_configs_end_in_ready_or_maintenance_never_a_panic() {
    let Some(dir) = prepared("fault-mutated") else {
        return;
    };
    let count = if long() { 300 } else { 12 };
    let examples_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/examples");
    let mut examples: Vec<String> = std::fs::read_dir(&examples_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        // Services run for real (in the test's own network and filesystem): any command becomes
        // a harmless one; the parser and the boot are what is under test.
        .map(|t| {
            t.lines()
                .map(|l| match l.split_once("exec:") {
                    Some((indent, _)) => format!("{indent}exec: [sleep, \"3600\"]"),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    examples.sort();
    assert!(!examples.is_empty());
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut ready, mut maintenance, mut slowest) = (0, 0, Duration::ZERO);
    for i in 0..count {
        let base = &examples[rng.below(examples.len())];
        let mut text = mutate(base, &mut rng);
        if rng.below(3) == 0 {
            text = mutate(&text, &mut rng);
        }
        let case = dir.join(format!("case{i}"));
        std::fs::create_dir_all(&case).unwrap();
        let started = Instant::now();
        // A oneshot now sleeps instead of finishing: its ready timeout ends each run, and the
        // settle limit the boot (a oneshot restarted on failure never comes to rest).
        let node = Node::start(
            &case,
            &text,
            &[
                "--quiet-services",
                "--ready-timeout",
                "3s",
                "--settle-timeout",
                "15s",
            ],
        );
        node.wait_until(
            &format!("case {i} to end in ready or maintenance"),
            Duration::from_secs(60),
            || {
                let c = node.console();
                c.contains("plinth: ready in") || c.contains("MAINTENANCE MODE")
            },
        );
        slowest = slowest.max(started.elapsed());
        let console = node.console();
        assert!(
            !console.contains("PANIC"),
            "case {i} panicked PID 1:\n{text}\n---\n{console}"
        );
        if console.contains("MAINTENANCE MODE") {
            maintenance += 1;
        } else {
            ready += 1;
        }
    }
    figure(&format!(
        "bad input: {count} mutated example configs: {ready} ready, {maintenance} maintenance mode, 0 panics; slowest to settle {:.2}s",
        slowest.as_secs_f64()
    ));
}

/// How a hostile server answers a connection.
type Answer = fn(&mut std::net::TcpStream);

/// A server that answers every connection with `answer`, run on its own thread.
fn hostile(answer: Answer) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/config.yaml", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = stream.read(&mut buf);
                answer(&mut stream);
            });
        }
    });
    url
}

#[test]
fn hostile_config_servers_give_a_clear_error_in_bounded_time() {
    use plinth_init::boot::url::source::{self, Outcome};

    let servers: [(&str, Answer); 7] = [
        ("short body", |s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n#cloud-config\n");
        }),
        ("huge length", |s| {
            let _ = s.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n#cloud-config\n",
            );
        }),
        ("endless body", |s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n#cloud-config\n");
            let line = [b'#'; 4096];
            while s.write_all(&line).is_ok() {}
        }),
        ("endless chunks", |s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            while s.write_all(b"1000\r\n").is_ok() && s.write_all(&[b'#'; 4096]).is_ok() {
                let _ = s.write_all(b"\r\n");
            }
        }),
        ("huge headers", |s| {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n");
            while s
                .write_all(b"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")
                .is_ok()
            {}
        }),
        ("slow drip", |s| {
            for b in b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n#cloud-config\n" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }),
        ("redirect loop", |s| {
            let _ = s.write_all(
                b"HTTP/1.1 302 Found\r\nLocation: /config.yaml\r\nContent-Length: 0\r\n\r\n",
            );
        }),
    ];
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let budget = Duration::from_secs(3);
    let mut lines = Vec::new();
    for (name, answer) in servers {
        let url = hostile(answer);
        let started = Instant::now();
        let outcome = runtime.block_on(source::config_url(&url, None, budget));
        let took = started.elapsed();
        let said = match outcome {
            Ok(Outcome::Parsed { .. }) => {
                panic!("{name}: a config was taken from a hostile server")
            }
            Ok(Outcome::Unreachable) => "unreachable, next source".to_string(),
            Err(e) => format!("refused: {e}"),
        };
        // The budget bounds the whole fetch, a slow attempt included.
        assert!(
            took < budget + Duration::from_secs(2),
            "{name}: {took:?} with a budget of {budget:?}"
        );
        lines.push(format!("{name}: {said} after {:.1}s", took.as_secs_f64()));
    }
    figure(&format!(
        "hostile config servers (budget {}s): {}",
        budget.as_secs(),
        lines.join("; ")
    ));
}

#[test]
fn many_services_and_a_hammered_api_answer_within_bounds() {
    let Some(dir) = prepared("fault-load") else {
        return;
    };
    let (services, clients, calls) = if long() { (500, 8, 100) } else { (60, 4, 15) };
    let mut config = String::from(
        "#cloud-config\nplinth:\n  services:\n    - name: flood\n      exec: [sh, -c, \"while :; do echo flooding the log with a line of text; done\"]\n",
    );
    for i in 0..services {
        config.push_str(&format!(
            "    - name: s{i:03}\n      exec: [sleep, infinity]\n"
        ));
    }
    let started = Instant::now();
    let mut node = Node::start(
        &dir,
        &config,
        &["--quiet-services", "--log-ring-lines", "200"],
    );
    node.wait_console("plinth: ready in", Duration::from_secs(300));
    let to_ready = started.elapsed();
    let rss_before = node.rss_bytes();
    let node_ref = &node;
    let mut latencies: Vec<Duration> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    for k in 0..calls {
                        let args: &[&str] = match (c + k) % 3 {
                            0 => &["services", "-o", "json"],
                            1 => &["status", "s001", "-o", "json"],
                            _ => &["logs", "flood", "--tail", "20"],
                        };
                        let t = Instant::now();
                        node_ref.ctl_ok(args);
                        mine.push(t.elapsed());
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    let rss_after = node.rss_bytes();
    assert!(
        at(1.0) < Duration::from_secs(10),
        "a call took {:?}",
        at(1.0)
    );
    assert!(
        rss_after < rss_before + 16 * 1024 * 1024,
        "RSS grew from {rss_before} to {rss_after}"
    );
    let stopping = Instant::now();
    node.signal(nix::sys::signal::Signal::SIGTERM);
    assert!(node.wait_exit(Duration::from_secs(120)).success());
    figure(&format!(
        "load: {services} services + a log flood ready in {:.2}s; {} plinthctl calls from {clients} clients: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms (each a process start); RSS {:.2} -> {:.2} MiB; all stopped in {:.2}s",
        to_ready.as_secs_f64(),
        latencies.len(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
        mib(rss_before),
        mib(rss_after),
        stopping.elapsed().as_secs_f64(),
    ));
}
