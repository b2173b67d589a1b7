//! The loopback interface: the kernel creates `lo` down, and without it nothing on the node can
//! reach 127.0.0.1 (readiness probes included), so PID 1 brings it up before any service starts.

use std::io;
use std::os::fd::AsRawFd;

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socket};

// glibc declares ioctl requests as c_ulong and musl as c_int: `libc::Ioctl` is whichever applies.
#[allow(clippy::unnecessary_cast)]
const GET_FLAGS: libc::Ioctl = libc::SIOCGIFFLAGS as libc::Ioctl;
#[allow(clippy::unnecessary_cast)]
const SET_FLAGS: libc::Ioctl = libc::SIOCSIFFLAGS as libc::Ioctl;

/// Sets `IFF_UP` on `lo` (a no-op when it is up already).
pub fn up() -> io::Result<()> {
    let socket = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    // SAFETY: `ifreq` is plain old data; all-zero is a valid value.
    let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in request.ifr_name.iter_mut().zip(b"lo\0") {
        *dst = *src as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS reads the name and writes the flags of a valid `ifreq` we own.
    if unsafe { libc::ioctl(socket.as_raw_fd(), GET_FLAGS, &mut request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: after SIOCGIFFLAGS the union holds the flags.
    let flags = unsafe { request.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(());
    }
    request.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    // SAFETY: SIOCSIFFLAGS reads a valid `ifreq` we own.
    if unsafe { libc::ioctl(socket.as_raw_fd(), SET_FLAGS, &request) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brings_lo_up_in_a_fresh_network_namespace() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: needs root for a network namespace");
            return;
        }
        // A thread of our own, moved into a new network namespace, where `lo` starts down.
        std::thread::spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            assert!(
                std::net::TcpStream::connect(listener.local_addr().unwrap()).is_err(),
                "lo is up already"
            );
            drop(listener);
            up().unwrap();
            up().unwrap();
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        })
        .join()
        .unwrap();
    }
}
