//! Readers of a service's stdout and stderr: each line goes to the service's ring, to its log file
//! when there is one, and to the console with the service's name (within the service's
//! [`ConsoleBudget`]).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt};

use super::console_budget::{ConsoleBudget, Mirror};
use super::log_file::RotatingFile;
use super::logs::{LineSplitter, LogRing, Stream};
use crate::console;

/// Lines longer than this are cut.
pub const MAX_LINE: usize = 4096;

/// Where a service's lines go.
#[derive(Clone, Debug)]
pub struct Sinks {
    /// The service name (console prefix).
    pub name: Arc<str>,
    /// Its in-memory ring.
    pub ring: Arc<Mutex<LogRing>>,
    /// Its log file, when /var is writable.
    pub file: Option<Arc<Mutex<RotatingFile>>>,
    /// Mirror to the console, within this budget (`None`: not at all).
    pub console: Option<Arc<Mutex<ConsoleBudget>>>,
}

impl Sinks {
    fn line(&self, stream: Stream, text: String) {
        if let Some(budget) = &self.console {
            let decision = budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(std::time::Instant::now());
            match decision {
                Mirror::Print => console::service_output(&self.name, &text),
                Mirror::PrintAfterSkipping(n) => {
                    console::service_output(
                        &self.name,
                        &format!(
                            "... {n} lines not shown here (plinthctl logs {})",
                            self.name
                        ),
                    );
                    console::service_output(&self.name, &text);
                }
                Mirror::StartSkipping => console::service_output(
                    &self.name,
                    &format!(
                        "... too chatty for the console, pausing (plinthctl logs {})",
                        self.name
                    ),
                ),
                Mirror::Skip => {}
            }
        }
        if let Some(file) = &self.file {
            file.lock()
                .unwrap_or_else(|e| e.into_inner())
                .write_line(&text);
        }
        let at_ms = u64::try_from(console::uptime().as_millis()).unwrap_or(u64::MAX);
        self.ring
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(at_ms, stream, text);
    }
}

/// Reads `pipe` to its end in a task of its own.
pub fn spawn_reader<R>(pipe: R, stream: Stream, sinks: Sinks)
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut pipe = pipe;
        let mut splitter = LineSplitter::new(MAX_LINE);
        let mut buf = vec![0u8; 1024];
        loop {
            match pipe.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    for line in splitter.feed(buf.get(..n).unwrap_or_default()) {
                        sinks.line(stream, line);
                    }
                }
            }
        }
        if let Some(line) = splitter.finish() {
            sinks.line(stream, line);
        }
    });
}
