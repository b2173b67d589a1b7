//! Network before a URL source is fetched (udev has not run yet): load the drivers of the network
//! devices found on the PCI and virtio buses (`modprobe -b MODALIAS`), then run a oneshot DHCPv4
//! client (`dhcpcd -1 -4 -w`) on every physical ethernet in parallel, each bounded in time; those
//! without a carrier simply get no lease. The `dhcp` built-in takes over later.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::console;
use crate::pid1::reaper::Reaper;
use crate::services::dhcp::DHCPCD;
use crate::services::facts;
use crate::supervisor::spawn::launch_captured;

/// How long one interface may wait for a lease (`dhcpcd -t`).
pub const LEASE_TIMEOUT_SECS: u64 = 20;

/// Whether a device's sysfs `class` (PCI) or `device` (virtio) marks it as a network device.
pub fn is_network_device(bus: &str, class_or_device: &str) -> bool {
    let v = class_or_device.trim();
    match bus {
        "pci" => v.starts_with("0x02"),
        "virtio" => v == "0x0001",
        _ => false,
    }
}

/// The dhcpcd command line for one interface.
pub fn dhcpcd_argv(interface: &str) -> Vec<String> {
    [
        DHCPCD,
        "-1",
        "-4",
        "-w",
        "-A",
        "--nodelay",
        "-t",
        &LEASE_TIMEOUT_SECS.to_string(),
        interface,
    ]
    .iter()
    .map(ToString::to_string)
    .collect()
}

/// The modaliases of the network devices on `bus` under `sys_bus`.
fn network_modaliases(sys_bus: &Path, bus: &str) -> Vec<String> {
    let key = if bus == "pci" { "class" } else { "device" };
    let Ok(entries) = std::fs::read_dir(sys_bus.join(bus).join("devices")) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join(key)).is_ok_and(|v| is_network_device(bus, &v))
        })
        .filter_map(|e| std::fs::read_to_string(e.path().join("modalias")).ok())
        .map(|m| m.trim().to_string())
        .collect()
}

/// Runs `argv`, its output on the console as `label: line`, killed after `limit`. True on exit 0.
async fn run(reaper: &Reaper, label: &str, argv: &[String], limit: Duration) -> bool {
    let started = match launch_captured(reaper, argv) {
        Ok(s) => s,
        Err(e) => {
            let program = argv.first().map_or("the command", String::as_str);
            console::say(&format!("{label}: cannot run {program}: {e}"));
            return false;
        }
    };
    for pipe in [
        started
            .stdout
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
        started
            .stderr
            .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Send + Unpin>),
    ]
    .into_iter()
    .flatten()
    {
        let label = label.to_string();
        tokio::spawn(async move {
            let mut lines = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                console::say(&format!("{label}: {line}"));
            }
        });
    }
    match tokio::time::timeout(limit, started.exit).await {
        Ok(Ok(outcome)) => outcome.success(),
        _ => {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(started.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            console::say(&format!("{label}: killed after {}s", limit.as_secs()));
            false
        }
    }
}

/// Loads NIC drivers and gets DHCPv4 leases; returns the interfaces that got one.
pub async fn bring_up(reaper: &Reaper) -> Vec<String> {
    let sys_bus = Path::new("/sys/bus");
    for bus in ["pci", "virtio"] {
        for alias in network_modaliases(sys_bus, bus) {
            let argv = ["modprobe", "-q", "-b", alias.as_str()].map(String::from);
            run(reaper, "modprobe", &argv, Duration::from_secs(10)).await;
        }
    }
    let ethernets = facts::gather().ethernets;
    if ethernets.is_empty() {
        console::say("config: no ethernet interface to fetch the config over");
        return Vec::new();
    }
    if !Path::new(DHCPCD).exists() {
        console::say(&format!(
            "config: {DHCPCD} is not installed: no DHCP before the fetch"
        ));
        return Vec::new();
    }
    let limit = Duration::from_secs(LEASE_TIMEOUT_SECS + 5);
    let runs = ethernets.iter().map(|e| async move {
        let ok = run(
            reaper,
            &format!("dhcp {}", e.name),
            &dhcpcd_argv(&e.name),
            limit,
        )
        .await;
        ok.then(|| e.name.clone())
    });
    let leased: Vec<String> = futures_join(runs).await.into_iter().flatten().collect();
    console::say(&format!(
        "config: DHCP before the fetch: {} of {} ethernets got a lease ({})",
        leased.len(),
        ethernets.len(),
        if leased.is_empty() {
            "-".to_string()
        } else {
            leased.join(", ")
        }
    ));
    leased
}

/// Awaits every future concurrently, on the current task.
async fn futures_join<F: std::future::Future>(futures: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = futures.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_devices_by_bus() {
        assert!(is_network_device("pci", "0x020000\n"));
        assert!(!is_network_device("pci", "0x010802"));
        assert!(is_network_device("virtio", "0x0001\n"));
        assert!(!is_network_device("virtio", "0x0002"));
        assert!(!is_network_device("usb", "0x02"));
    }

    #[test]
    fn dhcpcd_is_a_bounded_oneshot_on_one_interface() {
        assert_eq!(
            dhcpcd_argv("eth0"),
            [
                DHCPCD,
                "-1",
                "-4",
                "-w",
                "-A",
                "--nodelay",
                "-t",
                "20",
                "eth0"
            ]
        );
    }

    #[tokio::test]
    async fn join_waits_for_all() {
        let out = futures_join([3u64, 1, 2].into_iter().map(|n| async move {
            tokio::time::sleep(Duration::from_millis(n * 5)).await;
            n
        }))
        .await;
        assert_eq!(out, [3, 1, 2]);
    }
}
