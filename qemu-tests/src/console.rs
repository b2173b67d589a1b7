//! The serial console as the harness sees it: every line with the time it started to arrive
//! (measured from QEMU's start), kept in memory for waiting and matching, and written to a log file
//! as it arrives (`[   12.345] text`), so a failed test can be read afterwards.
//!
//! A reader thread owns the pipe; tests call [`Console::wait_for`] with a regex and a timeout and
//! get the matching line back, or an error carrying the console's tail.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use regex::Regex;

/// One console line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// Index in the console, from 0.
    pub index: usize,
    /// When its first byte arrived, since QEMU started.
    pub at: Duration,
    /// The text without line ending or terminal escape sequences.
    pub text: String,
}

/// Why waiting for a line failed.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    #[error("no console line matched /{pattern}/ within {timeout:?}; last lines:\n{tail}")]
    Timeout {
        pattern: String,
        timeout: Duration,
        tail: String,
    },
    #[error("QEMU closed the console before a line matched /{pattern}/; last lines:\n{tail}")]
    Closed { pattern: String, tail: String },
    #[error("the boot cannot get there: {line:?}; last lines:\n{tail}")]
    Hopeless { line: String, tail: String },
    #[error("/{pattern}/ is not a regular expression: {reason}")]
    Pattern { pattern: String, reason: String },
}

#[derive(Default)]
struct State {
    lines: Vec<Line>,
    /// The line being received: its start time and bytes so far.
    partial: Option<(Duration, Vec<u8>)>,
    closed: bool,
}

/// Splits a byte stream into lines, remembering when each line began.
#[derive(Default)]
struct Splitter {
    state: State,
}

impl Splitter {
    /// Feeds bytes received at `now`; returns the lines completed by them.
    fn feed(&mut self, bytes: &[u8], now: Duration) -> Vec<Line> {
        let mut done = Vec::new();
        for &b in bytes {
            let (_, buf) = self.state.partial.get_or_insert_with(|| (now, Vec::new()));
            if b == b'\n' {
                let (at, buf) = self.state.partial.take().expect("just inserted");
                let line = Line {
                    index: self.state.lines.len(),
                    at,
                    text: clean(&buf),
                };
                self.state.lines.push(line.clone());
                done.push(line);
            } else {
                buf.push(b);
            }
        }
        done
    }

    /// Ends the stream: a trailing partial line becomes a line.
    fn close(&mut self) -> Option<Line> {
        self.state.closed = true;
        let (at, buf) = self.state.partial.take()?;
        let line = Line {
            index: self.state.lines.len(),
            at,
            text: clean(&buf),
        };
        self.state.lines.push(line.clone());
        Some(line)
    }
}

/// Text of a console line: lossy UTF-8, carriage returns and ANSI/VT100 escape sequences removed
/// (firmware paints the screen with them), other control characters dropped.
pub fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => match chars.peek() {
                // CSI: ESC [ parameters… final byte in @..~
                Some('[') => {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // Two-character sequences (ESC c, ESC =, ESC ( B …).
                Some('(') | Some(')') => {
                    chars.next();
                    chars.next();
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// The captured console of one QEMU process.
#[derive(Clone)]
pub struct Console {
    shared: Arc<(Mutex<Splitter>, Condvar)>,
    log: PathBuf,
}

impl Console {
    /// Starts a thread reading `source` until EOF, writing every line to `log` (created anew).
    /// `echo` also copies each line to stderr (for `--no-capture` debugging).
    pub fn capture(
        source: impl Read + Send + 'static,
        started: Instant,
        log: &Path,
        echo: bool,
    ) -> std::io::Result<(Self, JoinHandle<()>)> {
        let mut file = File::create(log)?;
        let shared: Arc<(Mutex<Splitter>, Condvar)> = Arc::default();
        let console = Self {
            shared: shared.clone(),
            log: log.to_path_buf(),
        };
        let handle = std::thread::spawn(move || {
            let mut source = source;
            let mut buf = [0u8; 4096];
            let write = |file: &mut File, line: &Line| {
                let _ = writeln!(file, "{}", format_line(line));
                if echo {
                    eprintln!("{}", format_line(line));
                }
            };
            loop {
                let n = match source.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                let now = started.elapsed();
                let (lock, cvar) = &*shared;
                let done = lock_ignoring_poison(lock).feed(&buf[..n], now);
                cvar.notify_all();
                for line in &done {
                    write(&mut file, line);
                }
            }
            let (lock, cvar) = &*shared;
            let last = lock_ignoring_poison(lock).close();
            cvar.notify_all();
            if let Some(line) = last {
                write(&mut file, &line);
            }
            let _ = file.flush();
        });
        Ok((console, handle))
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The number of complete lines so far: pass it to [`Console::wait_for_after`] to match only
    /// what comes next.
    pub fn mark(&self) -> usize {
        lock_ignoring_poison(&self.shared.0).state.lines.len()
    }

    /// All complete lines so far.
    pub fn lines(&self) -> Vec<Line> {
        lock_ignoring_poison(&self.shared.0).state.lines.clone()
    }

    /// The texts of the complete lines so far that match `pattern`.
    pub fn matching(&self, pattern: &Regex) -> Vec<String> {
        lock_ignoring_poison(&self.shared.0)
            .state
            .lines
            .iter()
            .filter(|l| pattern.is_match(&l.text))
            .map(|l| l.text.clone())
            .collect()
    }

    /// What follows `marker` on each complete line that holds it, in order: how a test reads
    /// what its guest's `runcmd` echoed (`[runcmd.1] KEY value`).
    pub fn after(&self, marker: &str) -> Vec<String> {
        lock_ignoring_poison(&self.shared.0)
            .state
            .lines
            .iter()
            .filter_map(|l| l.text.split_once(marker).map(|(_, rest)| rest.to_string()))
            .collect()
    }

    /// The first line matching `pattern`, waiting up to `timeout` for it.
    pub fn wait_for(&self, pattern: &Regex, timeout: Duration) -> Result<Line, WaitError> {
        self.wait_for_after(0, pattern, timeout)
    }

    /// When (since QEMU started) the first line matching the regular expression `pattern` came,
    /// waiting up to `timeout` for it.
    pub fn arrival(&self, pattern: &str, timeout: Duration) -> Result<Duration, WaitError> {
        let regex = Regex::new(pattern).map_err(|e| WaitError::Pattern {
            pattern: pattern.to_owned(),
            reason: e.to_string(),
        })?;
        Ok(self.wait_for(&regex, timeout)?.at)
    }

    /// The first line at index `from` or later matching `pattern`, waiting up to `timeout`.
    /// Only complete lines match: a line still arriving could match with half its value.
    pub fn wait_for_after(
        &self,
        from: usize,
        pattern: &Regex,
        timeout: Duration,
    ) -> Result<Line, WaitError> {
        let deadline = Instant::now() + timeout;
        let (lock, cvar) = &*self.shared;
        let mut guard = lock_ignoring_poison(lock);
        let mut next = from;
        loop {
            let state = &guard.state;
            if let Some(line) = state.lines[next.min(state.lines.len())..]
                .iter()
                .find(|l| pattern.is_match(&l.text))
            {
                return Ok(line.clone());
            }
            next = state.lines.len().max(from);
            if state.closed {
                return Err(WaitError::Closed {
                    pattern: pattern.to_string(),
                    tail: tail(&state.lines, 40),
                });
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitError::Timeout {
                    pattern: pattern.to_string(),
                    timeout,
                    tail: tail(&state.lines, 40),
                });
            }
            guard = cvar
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// The last `n` lines, formatted as in the log.
    pub fn tail(&self, n: usize) -> String {
        tail(&lock_ignoring_poison(&self.shared.0).state.lines, n)
    }
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A line as the log shows it.
pub fn format_line(line: &Line) -> String {
    format!("[{:9.3}] {}", line.at.as_secs_f64(), line.text)
}

fn tail(lines: &[Line], n: usize) -> String {
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(format_line)
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_keep_the_time_their_first_byte_arrived() {
        let mut s = Splitter::default();
        assert!(s.feed(b"Linux ver", Duration::from_millis(100)).is_empty());
        let done = s.feed(b"sion 6.12\r\nplinth: st", Duration::from_millis(300));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].text, "Linux version 6.12");
        assert_eq!(done[0].at, Duration::from_millis(100));
        let done = s.feed(b"age 1\n", Duration::from_millis(400));
        assert_eq!(done[0].text, "plinth: stage 1");
        assert_eq!(done[0].at, Duration::from_millis(300));
        assert_eq!(done[0].index, 1);
    }

    #[test]
    fn a_trailing_partial_line_is_kept_at_close() {
        let mut s = Splitter::default();
        s.feed(b"login: ", Duration::ZERO);
        let last = s.close().unwrap();
        assert_eq!(last.text, "login: ");
        assert!(s.state.closed);
        assert!(s.close().is_none());
    }

    #[test]
    fn escape_sequences_and_control_characters_are_removed() {
        assert_eq!(
            clean(b"\x1b[2J\x1b[01;01H\x1b[=3h\x1b[2J\x1b[01;01HBdsDxe: loading Boot0001\r"),
            "BdsDxe: loading Boot0001"
        );
        assert_eq!(clean(b"\x1b(Bplain\x07 text\tend"), "plain text end");
        assert_eq!(clean(b"caf\xc3\xa9 \xff"), "caf\u{e9} \u{fffd}");
    }

    /// A console fed `bytes`, logging to `<name>.log` (one file per test: tests run in parallel
    /// processes, which share thread ids).
    fn console_from(name: &str, bytes: &'static [u8]) -> Console {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-console");
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join(format!("{name}.log"));
        let (console, handle) = Console::capture(bytes, Instant::now(), &log, false).unwrap();
        handle.join().unwrap();
        console
    }

    #[test]
    fn wait_for_returns_the_first_matching_line() {
        let console = console_from(
            "first-match",
            b"a\nplinth: ready in 7.25s\nplinth: ready in 9.00s\n",
        );
        let re = Regex::new(r"plinth: ready in (\d+\.\d+)s").unwrap();
        let line = console.wait_for(&re, Duration::from_secs(1)).unwrap();
        assert_eq!(line.index, 1);
        assert_eq!(line.text, "plinth: ready in 7.25s");
        let again = console
            .wait_for_after(line.index + 1, &re, Duration::from_secs(1))
            .unwrap();
        assert_eq!(again.text, "plinth: ready in 9.00s");
        let log = std::fs::read_to_string(console.log_path()).unwrap();
        assert!(log.contains("] plinth: ready in 7.25s\n"), "{log}");
    }

    #[test]
    fn wait_for_fails_at_once_when_the_console_closed() {
        let console = console_from("closed", b"Kernel panic - not syncing\n");
        let started = Instant::now();
        let err = console
            .wait_for(&Regex::new("ready").unwrap(), Duration::from_secs(30))
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5));
        match err {
            WaitError::Closed { tail, .. } => assert!(tail.contains("Kernel panic")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn wait_for_times_out_on_an_open_console() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-console");
        std::fs::create_dir_all(&dir).unwrap();
        let (console, handle) =
            Console::capture(reader, Instant::now(), &dir.join("open.log"), false).unwrap();
        writer.write_all(b"booting\n").unwrap();
        let err = console
            .wait_for(&Regex::new("ready").unwrap(), Duration::from_millis(200))
            .unwrap_err();
        assert!(matches!(err, WaitError::Timeout { .. }), "{err}");
        writer.write_all(b"plinth: ready in 1.00s\n").unwrap();
        let line = console
            .wait_for(&Regex::new("ready").unwrap(), Duration::from_secs(5))
            .unwrap();
        assert_eq!(line.index, 1);
        drop(writer);
        handle.join().unwrap();
    }
}
