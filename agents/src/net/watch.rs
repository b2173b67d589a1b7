//! Staying up: after the first pass, listen for netlink link notifications and run another pass
//! whenever a link index appears that was not there before (a NIC whose driver loaded late, a
//! hot-plugged device). Bursts are coalesced by a short settle delay.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use rtnetlink::packet_core::NetlinkPayload;
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::{Handle, MulticastGroup};

use super::run::{NetError, NetOptions, Wanted, pass, report};

/// How long to wait after a new link before planning, so that a burst gives one pass.
pub const SETTLE: Duration = Duration::from_millis(300);

/// Runs a pass each time new links appear; returns only when the notification socket fails.
pub async fn watch(wanted: &Wanted, handle: &Handle, opts: &NetOptions) -> Result<(), NetError> {
    let (connection, _, mut messages) =
        rtnetlink::new_multicast_connection(&[MulticastGroup::Link])
            .map_err(NetError::Connection)?;
    tokio::spawn(connection);
    let mut known: BTreeSet<u32> = current_indexes(handle).await;
    println!("net: watching for new links");
    while let Some((message, _)) = messages.next().await {
        if !is_new_link(&message.payload, &known) {
            continue;
        }
        tokio::time::sleep(SETTLE).await;
        while messages.next().now_or_never().flatten().is_some() {}
        // Taken before the pass: a link that appears during it still triggers the next pass
        // (links the pass itself creates cost one extra pass that plans nothing).
        known = current_indexes(handle).await;
        match pass(wanted, handle, opts).await {
            Ok(p) => report(&p, false),
            // The agent stays up: the next link event or a restart by PID 1 tries again.
            Err(e) => eprintln!("net: error: {e}"),
        }
    }
    Err(NetError::Connection(std::io::Error::other(
        "the netlink notification socket closed",
    )))
}

fn is_new_link(payload: &NetlinkPayload<RouteNetlinkMessage>, known: &BTreeSet<u32>) -> bool {
    matches!(payload, NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(m)) if !known.contains(&m.header.index))
}

async fn current_indexes(handle: &Handle) -> BTreeSet<u32> {
    use futures_util::TryStreamExt;
    handle
        .link()
        .get()
        .execute()
        .map_ok(|m| m.header.index)
        .try_collect()
        .await
        .unwrap_or_default()
}
