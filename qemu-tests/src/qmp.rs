//! QMP, QEMU's JSON control protocol, over a unix socket: the handshake, commands with ids, and the
//! asynchronous events (`SHUTDOWN`, `RESET`, …) kept while waiting for replies.
//!
//! The framing (one JSON object per line, classified as greeting, reply, error or event) is pure
//! and unit-tested; [`Qmp`] adds the socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// One message from QEMU.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// The greeting sent on connect.
    Greeting(Value),
    /// A successful reply.
    Return { id: Option<Value>, value: Value },
    /// A failed command.
    Error {
        id: Option<Value>,
        class: String,
        desc: String,
    },
    /// An asynchronous event.
    Event { name: String, data: Value },
}

/// Why a QMP exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("could not connect to QMP at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("QMP I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("QEMU closed the QMP socket")]
    Closed,
    #[error("QMP sent something that is not a QMP message: {0}")]
    Malformed(String),
    #[error("QMP command {command} failed: {class}: {desc}")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("no QMP event {name} within {timeout:?}")]
    EventTimeout { name: String, timeout: Duration },
}

/// Classifies one line QEMU sent.
pub fn parse(line: &str) -> Result<Message, QmpError> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| QmpError::Malformed(format!("{e}: {line}")))?;
    let id = value.get("id").cloned();
    if let Some(greeting) = value.get("QMP") {
        return Ok(Message::Greeting(greeting.clone()));
    }
    if let Some(ret) = value.get("return") {
        return Ok(Message::Return {
            id,
            value: ret.clone(),
        });
    }
    if let Some(err) = value.get("error") {
        let field = |k: &str| err.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        return Ok(Message::Error {
            id,
            class: field("class"),
            desc: field("desc"),
        });
    }
    if let Some(name) = value.get("event").and_then(Value::as_str) {
        return Ok(Message::Event {
            name: name.to_string(),
            data: value.get("data").cloned().unwrap_or(Value::Null),
        });
    }
    Err(QmpError::Malformed(line.to_string()))
}

/// The line that runs `command` with `arguments` (omitted when null) and `id`.
pub fn encode(command: &str, arguments: &Value, id: u64) -> String {
    let mut msg = json!({ "execute": command, "id": id });
    if !arguments.is_null() {
        msg["arguments"] = arguments.clone();
    }
    let mut line = msg.to_string();
    line.push('\n');
    line
}

/// The arguments of `send-key` for a key chord such as `["ctrl", "alt", "delete"]` (QKeyCode names).
pub fn send_key_arguments(keys: &[&str]) -> Value {
    let keys: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "type": "qcode", "data": k }))
        .collect();
    json!({ "keys": keys })
}

/// A QMP session.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    next_id: u64,
    /// Events received so far and not yet taken by [`Qmp::wait_event`].
    events: Vec<(String, Value)>,
}

impl Qmp {
    /// Connects to `path`, retrying until `timeout` (QEMU creates the socket shortly after it
    /// starts), and completes the capabilities handshake.
    pub fn connect(path: &Path, timeout: Duration) -> Result<Self, QmpError> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(source) => {
                    return Err(QmpError::Connect {
                        path: path.display().to_string(),
                        source,
                    });
                }
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut qmp = Self {
            reader: BufReader::new(stream.try_clone()?),
            writer: stream,
            next_id: 1,
            events: Vec::new(),
        };
        match qmp.read()? {
            Message::Greeting(_) => {}
            other => {
                return Err(QmpError::Malformed(format!(
                    "expected greeting, got {other:?}"
                )));
            }
        }
        qmp.execute("qmp_capabilities", &Value::Null)?;
        Ok(qmp)
    }

    fn read(&mut self) -> Result<Message, QmpError> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(QmpError::Closed);
        }
        parse(line.trim_end())
    }

    /// Runs `command` and returns its `return` value.
    pub fn execute(&mut self, command: &str, arguments: &Value) -> Result<Value, QmpError> {
        let id = self.next_id;
        self.next_id += 1;
        self.writer
            .write_all(encode(command, arguments, id).as_bytes())?;
        loop {
            match self.read()? {
                Message::Return {
                    id: Some(got),
                    value,
                } if got == json!(id) => return Ok(value),
                Message::Error {
                    id: Some(got),
                    class,
                    desc,
                } if got == json!(id) => {
                    return Err(QmpError::Command {
                        command: command.to_string(),
                        class,
                        desc,
                    });
                }
                Message::Event { name, data } => self.events.push((name, data)),
                _ => {}
            }
        }
    }

    /// Presses the ACPI power button.
    pub fn system_powerdown(&mut self) -> Result<(), QmpError> {
        self.execute("system_powerdown", &Value::Null).map(drop)
    }

    /// Presses ctrl-alt-delete on the emulated keyboard.
    pub fn ctrl_alt_delete(&mut self) -> Result<(), QmpError> {
        self.execute("send-key", &send_key_arguments(&["ctrl", "alt", "delete"]))
            .map(drop)
    }

    /// Ends QEMU at once. QEMU may close the socket before replying; both count as done.
    pub fn quit(&mut self) -> Result<(), QmpError> {
        match self.execute("quit", &Value::Null) {
            Ok(_) | Err(QmpError::Closed) => Ok(()),
            Err(QmpError::Io(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Waits up to `timeout` for event `name` and returns its data (events that came earlier,
    /// while waiting for a reply, count).
    pub fn wait_event(&mut self, name: &str, timeout: Duration) -> Result<Value, QmpError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.events.iter().position(|(n, _)| n == name) {
                return Ok(self.events.remove(pos).1);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(QmpError::EventTimeout {
                    name: name.to_string(),
                    timeout,
                });
            }
            self.reader.get_ref().set_read_timeout(Some(left))?;
            let message = self.read();
            self.reader
                .get_ref()
                .set_read_timeout(Some(Duration::from_secs(30)))?;
            match message {
                Ok(Message::Event { name, data }) => self.events.push((name, data)),
                Ok(_) => {}
                Err(QmpError::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_classified() {
        let greeting = r#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}}, "capabilities": ["oob"]}}"#;
        assert!(matches!(parse(greeting).unwrap(), Message::Greeting(_)));
        assert_eq!(
            parse(r#"{"return": {}, "id": 3}"#).unwrap(),
            Message::Return {
                id: Some(json!(3)),
                value: json!({})
            }
        );
        assert_eq!(
            parse(r#"{"id": 4, "error": {"class": "CommandNotFound", "desc": "The command nope has not been found"}}"#)
                .unwrap(),
            Message::Error {
                id: Some(json!(4)),
                class: "CommandNotFound".into(),
                desc: "The command nope has not been found".into()
            }
        );
        assert_eq!(
            parse(r#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#)
                .unwrap(),
            Message::Event {
                name: "SHUTDOWN".into(),
                data: json!({"guest": true, "reason": "guest-shutdown"})
            }
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(parse("not json"), Err(QmpError::Malformed(_))));
        assert!(matches!(
            parse(r#"{"what": 1}"#),
            Err(QmpError::Malformed(_))
        ));
    }

    #[test]
    fn commands_are_one_json_line_with_an_id() {
        assert_eq!(
            encode("qmp_capabilities", &Value::Null, 1),
            "{\"execute\":\"qmp_capabilities\",\"id\":1}\n"
        );
        let line = encode(
            "send-key",
            &send_key_arguments(&["ctrl", "alt", "delete"]),
            7,
        );
        let back: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(back["id"], 7);
        assert_eq!(
            back["arguments"]["keys"][2],
            json!({"type": "qcode", "data": "delete"})
        );
        assert!(line.ends_with('\n') && !line.trim_end().contains('\n'));
    }

    /// The client against a scripted peer on a socketpair: events that arrive before a reply are
    /// kept for `wait_event`, and replies are matched by id.
    #[test]
    fn replies_match_ids_and_events_are_kept() {
        let dir = crate::paths::target_dir()
            .join("qemu-tests")
            .join("unit-qmp");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("qmp.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let peer = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut out = stream.try_clone().unwrap();
            let mut lines = BufReader::new(stream).lines();
            writeln!(out, r#"{{"QMP": {{"version": {{}}, "capabilities": []}}}}"#).unwrap();
            let caps: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
            assert_eq!(caps["execute"], "qmp_capabilities");
            writeln!(out, r#"{{"return": {{}}, "id": {}}}"#, caps["id"]).unwrap();
            let cmd: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
            assert_eq!(cmd["execute"], "system_powerdown");
            writeln!(out, r#"{{"event": "POWERDOWN", "data": {{}}}}"#).unwrap();
            writeln!(out, r#"{{"return": {{}}, "id": 999}}"#).unwrap();
            writeln!(out, r#"{{"return": {{}}, "id": {}}}"#, cmd["id"]).unwrap();
            writeln!(
                out,
                r#"{{"event": "SHUTDOWN", "data": {{"reason": "guest-shutdown"}}}}"#
            )
            .unwrap();
        });
        let mut qmp = Qmp::connect(&path, Duration::from_secs(5)).unwrap();
        qmp.system_powerdown().unwrap();
        qmp.wait_event("POWERDOWN", Duration::from_secs(5)).unwrap();
        let data = qmp.wait_event("SHUTDOWN", Duration::from_secs(5)).unwrap();
        assert_eq!(data["reason"], "guest-shutdown");
        assert!(matches!(
            qmp.wait_event("RESET", Duration::from_millis(100)),
            Err(QmpError::EventTimeout { .. } | QmpError::Closed)
        ));
        peer.join().unwrap();
    }
}
