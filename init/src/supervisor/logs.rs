//! Service output: a bounded in-memory ring of lines per service, and the splitter that cuts a byte
//! stream into lines of bounded length. Both are pure; the readers in `output.rs` feed them.

use std::collections::VecDeque;

/// Which pipe a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One captured line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Position in the service's output since PID 1 started (1 for the first line); never reused.
    pub seq: u64,
    /// Milliseconds since PID 1 started.
    pub at_ms: u64,
    /// The pipe it came from.
    pub stream: Stream,
    /// The text, without its newline.
    pub text: String,
}

/// Limits of one ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingLimits {
    /// At most this many lines.
    pub lines: usize,
    /// At most this many bytes of text in total.
    pub bytes: usize,
}

impl Default for RingLimits {
    fn default() -> Self {
        RingLimits {
            lines: 1000,
            bytes: 128 * 1024,
        }
    }
}

/// The last lines a service printed, bounded in count and bytes.
#[derive(Debug)]
pub struct LogRing {
    limits: RingLimits,
    lines: VecDeque<LogLine>,
    bytes: usize,
    next_seq: u64,
}

impl LogRing {
    /// An empty ring.
    pub fn new(limits: RingLimits) -> LogRing {
        LogRing {
            limits,
            lines: VecDeque::new(),
            bytes: 0,
            next_seq: 1,
        }
    }

    /// Appends a line, dropping the oldest ones beyond the limits; returns its sequence number.
    pub fn push(&mut self, at_ms: u64, stream: Stream, text: String) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.bytes += text.len();
        self.lines.push_back(LogLine {
            seq,
            at_ms,
            stream,
            text,
        });
        while self.lines.len() > self.limits.lines
            || (self.bytes > self.limits.bytes && self.lines.len() > 1)
        {
            if let Some(old) = self.lines.pop_front() {
                self.bytes -= old.text.len();
            }
        }
        seq
    }

    /// Lines with `seq > after`, at most the last `tail` of them (`tail == 0`: all).
    pub fn since(&self, after: u64, tail: usize) -> Vec<LogLine> {
        let newer: Vec<&LogLine> = self.lines.iter().filter(|l| l.seq > after).collect();
        let skip = if tail == 0 {
            0
        } else {
            newer.len().saturating_sub(tail)
        };
        newer.into_iter().skip(skip).cloned().collect()
    }

    /// Number of lines held.
    pub fn len(&self) -> usize {
        self.lines.len()
    }

    /// Whether it holds no line.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Bytes of text held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Cuts bytes into lines: at `\n`, or every `max` bytes when a line runs longer.
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    pending: Vec<u8>,
}

impl LineSplitter {
    /// A splitter cutting lines at `max` bytes.
    pub fn new(max: usize) -> LineSplitter {
        LineSplitter {
            max: max.max(1),
            pending: Vec::new(),
        }
    }

    /// Feeds `bytes` and returns the lines they complete (lossy UTF-8, `\r\n` trimmed).
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(self.take());
            } else {
                self.pending.push(b);
                if self.pending.len() >= self.max {
                    out.push(self.take());
                }
            }
        }
        out
    }

    /// The unfinished last line, if any (at end of stream).
    pub fn finish(&mut self) -> Option<String> {
        (!self.pending.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        if self.pending.last() == Some(&b'\r') {
            self.pending.pop();
        }
        let line = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_lines_within_its_line_limit() {
        let mut ring = LogRing::new(RingLimits {
            lines: 3,
            bytes: 1 << 20,
        });
        for i in 1..=10 {
            ring.push(i, Stream::Stdout, format!("line {i}"));
        }
        let all = ring.since(0, 0);
        assert_eq!(
            all.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(),
            ["line 8", "line 9", "line 10"]
        );
        assert_eq!(all[0].seq, 8);
        assert_eq!(ring.len(), 3);
    }

    #[test]
    fn ring_keeps_within_its_byte_limit_but_always_the_last_line() {
        let mut ring = LogRing::new(RingLimits {
            lines: 100,
            bytes: 10,
        });
        ring.push(0, Stream::Stdout, "12345".into());
        ring.push(0, Stream::Stdout, "67890".into());
        assert_eq!(ring.len(), 2);
        ring.push(0, Stream::Stderr, "x".into());
        assert_eq!(ring.len(), 2);
        assert!(ring.bytes() <= 10);
        ring.push(
            0,
            Stream::Stderr,
            "a line longer than the whole ring".into(),
        );
        assert_eq!(ring.len(), 1);
    }

    #[test]
    fn since_and_tail_select_lines() {
        let mut ring = LogRing::new(RingLimits::default());
        for i in 1..=5 {
            ring.push(0, Stream::Stdout, i.to_string());
        }
        let texts = |lines: Vec<LogLine>| lines.into_iter().map(|l| l.text).collect::<Vec<_>>();
        assert_eq!(texts(ring.since(3, 0)), ["4", "5"]);
        assert_eq!(texts(ring.since(0, 2)), ["4", "5"]);
        assert_eq!(texts(ring.since(1, 10)), ["2", "3", "4", "5"]);
        assert!(ring.since(5, 0).is_empty());
    }

    #[test]
    fn splitter_cuts_at_newlines_and_at_the_maximum() {
        let mut s = LineSplitter::new(4);
        assert_eq!(s.feed(b"ab\r\ncd"), ["ab"]);
        assert_eq!(s.feed(b"efgh\n"), ["cdef", "gh"]);
        assert_eq!(s.feed(b"tail"), ["tail"]);
        assert_eq!(s.feed(b"x"), Vec::<String>::new());
        assert_eq!(s.finish().as_deref(), Some("x"));
        assert_eq!(s.finish(), None);
        assert_eq!(LineSplitter::new(16).feed(b"\xffok\n"), ["\u{fffd}ok"]);
    }
}
