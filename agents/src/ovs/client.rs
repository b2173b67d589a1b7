//! An OVSDB client (RFC 7047) over a unix socket: JSON-RPC 1.0 requests written as JSON texts,
//! replies read from the stream as they come, the server's `echo` keep-alives answered on the way.
//! Synchronous: the agent runs one transaction at a time.

use std::io::{BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

/// How long a reply may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why talking to the database failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing accepts connections on the socket.
    #[error("cannot connect to {path}: {source}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing failed.
    #[error("OVSDB connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not JSON, or closed the connection.
    #[error("OVSDB protocol: {0}")]
    Protocol(String),
    /// The server answered the request with an error.
    #[error("OVSDB {method}: {error}")]
    Rpc {
        /// The method called.
        method: String,
        /// The server's error.
        error: Value,
    },
    /// An operation of a transaction failed (the transaction was not committed).
    #[error("OVSDB transaction failed: {0}")]
    Transaction(String),
}

/// A connection to an OVSDB server.
pub struct Client {
    writer: UnixStream,
    reader: serde_json::StreamDeserializer<
        'static,
        serde_json::de::IoRead<BufReader<UnixStream>>,
        Value,
    >,
    next_id: u64,
}

impl Client {
    /// Connects to the server's unix socket.
    pub fn connect(path: &Path) -> Result<Self, ClientError> {
        let stream = UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let reader = serde_json::Deserializer::from_reader(BufReader::new(stream.try_clone()?))
            .into_iter::<Value>();
        Ok(Client {
            writer: stream,
            reader,
            next_id: 0,
        })
    }

    fn send(&mut self, message: &Value) -> Result<(), ClientError> {
        let text = serde_json::to_vec(message).map_err(|e| ClientError::Protocol(e.to_string()))?;
        self.writer.write_all(&text)?;
        Ok(())
    }

    /// Calls `method` and returns its result; answers the server's `echo` requests meanwhile and
    /// skips notifications.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, ClientError> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        loop {
            let message = match self.reader.next() {
                Some(Ok(m)) => m,
                Some(Err(e)) if e.is_io() => return Err(ClientError::Io(e.into())),
                Some(Err(e)) => return Err(ClientError::Protocol(e.to_string())),
                None => {
                    return Err(ClientError::Protocol(
                        "the server closed the connection".into(),
                    ));
                }
            };
            if message["method"] == "echo" && !message["id"].is_null() {
                let reply =
                    json!({"result": message["params"], "error": null, "id": message["id"]});
                self.send(&reply)?;
                continue;
            }
            if message["id"] != json!(id) {
                continue;
            }
            if !message["error"].is_null() {
                return Err(ClientError::Rpc {
                    method: method.to_owned(),
                    error: message["error"].clone(),
                });
            }
            return Ok(message["result"].clone());
        }
    }

    /// Runs `ops` as one transaction on `db`; returns each operation's result, or the first
    /// operation error (nothing is committed then).
    pub fn transact(&mut self, db: &str, ops: &[Value]) -> Result<Vec<Value>, ClientError> {
        let mut params = vec![json!(db)];
        params.extend(ops.iter().cloned());
        let result = self.call("transact", Value::Array(params))?;
        let results = result
            .as_array()
            .cloned()
            .ok_or_else(|| ClientError::Protocol(format!("transact answered {result}")))?;
        if let Some((i, failed)) = results
            .iter()
            .enumerate()
            .find(|(_, r)| !r["error"].is_null())
        {
            let op = ops
                .get(i)
                .map_or_else(|| "the commit".to_owned(), |o| o.to_string());
            return Err(ClientError::Transaction(format!(
                "{}: {} (operation {i}: {op})",
                failed["error"].as_str().unwrap_or("error"),
                failed["details"].as_str().unwrap_or_default()
            )));
        }
        Ok(results)
    }
}
