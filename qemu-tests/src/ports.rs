//! Free host TCP ports on 127.0.0.1 for QEMU's port forwards.
//!
//! The kernel picks a free ephemeral port (bind to port 0) and we release it for QEMU to bind; a
//! process-wide set keeps one process from handing the same port out twice. Another process may
//! still race for it: [`crate::vm`] retries a start whose forward could not bind.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::sync::Mutex;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A port on 127.0.0.1 that was free a moment ago and that this process has not handed out before.
pub fn free_port() -> std::io::Result<u16> {
    let mut handed = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        if handed.insert(port) {
            return Ok(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_bindable() {
        let ports: Vec<u16> = (0..20).map(|_| free_port().unwrap()).collect();
        let unique: BTreeSet<u16> = ports.iter().copied().collect();
        assert_eq!(unique.len(), ports.len());
        for port in ports.iter().take(3) {
            TcpListener::bind((Ipv4Addr::LOCALHOST, *port)).unwrap();
        }
    }
}
