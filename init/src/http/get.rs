//! One HTTP GET over a tokio `TcpStream`: connect within [`CONNECT_TIMEOUT`], send the request of
//! [`super::request`], read until [`super::parse_response`] has the whole answer, within
//! [`REQUEST_TIMEOUT`]. No redirects, no retries: the config fetch adds those
//! (`boot::url::client`); a readiness probe wants only the status (`supervisor::probe`).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Parse, Response};

/// How long one connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one whole request may take once connected.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Why a GET gave no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// The URL is not one PID 1 can fetch (https, no host, a bad port): it will not change.
    #[error(transparent)]
    Url(#[from] super::UrlError),
    /// No connection, no complete answer in time, or a malformed one: it may change.
    #[error("{0}")]
    Exchange(String),
}

/// GETs `url` once; any status is a response.
pub async fn get(url: &str) -> Result<Response, GetError> {
    let target = super::parse_url(url)?;
    let authority = target.authority();
    let mut stream = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(&authority))
        .await
        .map_err(|_| {
            GetError::Exchange(format!(
                "{url}: no connection to {authority} within {}s",
                CONNECT_TIMEOUT.as_secs()
            ))
        })?
        .map_err(|e| GetError::Exchange(format!("{url}: cannot connect to {authority}: {e}")))?;
    let exchange = async {
        stream.write_all(&super::request(&target)).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).await?;
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
            match super::parse_response(&buf, n == 0) {
                Ok(Parse::Done(response)) => return Ok::<_, std::io::Error>(Ok(response)),
                Ok(Parse::Incomplete) => {}
                Err(e) => return Ok(Err(e)),
            }
        }
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
        Err(_) => Err(GetError::Exchange(format!(
            "{url}: no complete answer within {}s",
            REQUEST_TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(GetError::Exchange(format!("{url}: {e}"))),
        Ok(Ok(Err(e))) => Err(GetError::Exchange(format!("{url}: bad response: {e}"))),
        Ok(Ok(Ok(response))) => Ok(response),
    }
}
