//! Who may use the control API: root, told by the uid the kernel gives for the socket's peer
//! (SO_PEERCRED), and nothing else of it. zbus's own unix-stream server also looks the peer's pid
//! up, which fails for a caller in a PID namespace the server cannot see (a privileged pod with
//! the host's /run/plinth mounted, or the host calling PID 1 of a container); so a connection is
//! checked here and handed to zbus as a [`PeerSocket`] that reports the uid alone, which the
//! `EXTERNAL` handshake then compares with the uid the client claims.

use std::io;
use std::os::fd::OwnedFd;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use zbus::connection::socket::{ReadHalf, Socket, Split, WriteHalf};
use zbus::export::async_trait::async_trait;
use zbus::fdo::ConnectionCredentials;

/// Whether a peer with `uid` may use the control API.
pub fn allowed(uid: u32) -> bool {
    uid == 0
}

/// The uid of `stream`'s peer, as the kernel recorded it at connect time.
pub fn uid_of(stream: &UnixStream) -> io::Result<u32> {
    getsockopt(stream, PeerCredentials)
        .map(|c| c.uid())
        .map_err(io::Error::from)
}

/// A control connection whose peer's uid is known.
#[derive(Debug)]
pub struct PeerSocket {
    stream: UnixStream,
    uid: u32,
}

impl PeerSocket {
    /// `stream`, whose peer has `uid`.
    pub fn new(stream: UnixStream, uid: u32) -> PeerSocket {
        PeerSocket { stream, uid }
    }
}

impl Socket for PeerSocket {
    type ReadHalf = Reader;
    type WriteHalf = Writer;

    fn split(self) -> Split<Reader, Writer> {
        let (read, write) = self.stream.into_split();
        Split::new(
            Reader {
                read,
                uid: self.uid,
            },
            Writer(write),
        )
    }
}

/// The receiving half.
#[derive(Debug)]
pub struct Reader {
    read: OwnedReadHalf,
    uid: u32,
}

#[async_trait]
impl ReadHalf for Reader {
    async fn recvmsg(&mut self, buffer: &mut [u8]) -> io::Result<(usize, Vec<OwnedFd>)> {
        // The API passes no file descriptors.
        Ok((self.read.read(buffer).await?, Vec::new()))
    }

    async fn peer_credentials(&mut self) -> io::Result<ConnectionCredentials> {
        Ok(ConnectionCredentials::default().set_unix_user_id(self.uid))
    }
}

/// The sending half.
#[derive(Debug)]
pub struct Writer(OwnedWriteHalf);

#[async_trait]
impl WriteHalf for Writer {
    async fn sendmsg(
        &mut self,
        buffer: &[u8],
        fds: &[std::os::fd::BorrowedFd<'_>],
    ) -> io::Result<usize> {
        if !fds.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the control API passes no file descriptors",
            ));
        }
        self.0.write(buffer).await
    }

    async fn close(&mut self) -> io::Result<()> {
        self.0.shutdown().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_root_may() {
        assert!(allowed(0));
        assert!(!allowed(1000));
        assert!(!allowed(65534));
    }

    #[tokio::test]
    async fn the_uid_is_the_kernels_for_the_peer() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert_eq!(uid_of(&a).unwrap(), nix::unistd::geteuid().as_raw());
    }
}
