//! chrony's config from the machine config: the servers of cloud-init's `ntp.servers` and
//! `plinth.time.servers`, the pools of `ntp.pools`, and how long the boot waits for a first sync
//! (`plinth.time.boot_timeout`, 30 s by default). With no server or pool in the config, the servers
//! come from DHCP: the file then reads `sourcedir /run/chrony-dhcp`, where the image's dhcpcd hook
//! (`/usr/lib/dhcpcd/dhcpcd-hooks/60-plinth-chrony`) keeps one `<interface>.dhcp[6].sources` file
//! per lease, with a `server X iburst` line per NTP server of the lease (none when the lease names
//! none), and runs `chronyc reload sources` when one changes. Servers in the config take precedence:
//! with any, DHCP's are not read. `ntp.enabled: false` turns time sync off altogether.
//!
//! Pure: the config text, chronyd's and chronyc's arguments, and what the hook's files say about
//! DHCP time ([`dhcp_time`]); the `time` phase writes the file and does the waiting.

use std::time::Duration;

use plinth_config::MachineConfig;

/// chronyd.
pub const CHRONYD: &str = "/usr/sbin/chronyd";
/// The generated config (on /run: it is rebuilt every boot from the machine config).
pub const CONF: &str = "/run/plinth/chrony.conf";
/// chrony's drift file directory (on the state partition).
pub const STATE_DIR: &str = "/var/lib/chrony";
/// The default wait for a first sync.
pub const DEFAULT_BOOT_TIMEOUT: Duration = Duration::from_secs(30);
/// chronyc, which the wait for a DHCP-fed first sync uses.
pub const CHRONYC: &str = "/usr/bin/chronyc";
/// Where the dhcpcd hook writes the NTP servers of each lease (chrony's `sourcedir`).
pub const DHCP_SOURCES_DIR: &str = "/run/chrony-dhcp";
/// The directory of chronyd's command socket (`chronyd.sock`), through which chronyc talks to it.
pub const SOCKET_DIR: &str = "/run/chrony";

/// What time sync the config asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimePlan {
    /// `server` lines' hosts.
    pub servers: Vec<String>,
    /// `pool` lines' hosts.
    pub pools: Vec<String>,
    /// How long the boot waits for a first sync.
    pub boot_timeout: Duration,
}

impl TimePlan {
    /// Whether the config names any source; when not, the sources come from DHCP.
    pub fn has_sources(&self) -> bool {
        !self.servers.is_empty() || !self.pools.is_empty()
    }
}

/// The time plan of `config`, or `None` when `ntp.enabled` is false.
pub fn plan(config: &MachineConfig) -> Option<TimePlan> {
    let ntp = config.ntp.clone().unwrap_or_default();
    if ntp.enabled == Some(false) {
        return None;
    }
    let mut servers: Vec<String> = Vec::new();
    for s in ntp.servers.iter().chain(&config.plinth.time.servers) {
        if !servers.contains(s) {
            servers.push(s.clone());
        }
    }
    Some(TimePlan {
        servers,
        pools: ntp.pools,
        boot_timeout: config
            .plinth
            .time
            .boot_timeout
            .map_or(DEFAULT_BOOT_TIMEOUT, |d| d.get()),
    })
}

/// The text of chrony.conf for `plan`.
pub fn conf(plan: &TimePlan) -> String {
    let mut out =
        String::from("# Written by plinth-init from the machine config (ntp, plinth.time).\n");
    for server in &plan.servers {
        out.push_str(&format!("server {server} iburst\n"));
    }
    for pool in &plan.pools {
        out.push_str(&format!("pool {pool} iburst\n"));
    }
    if !plan.has_sources() {
        out.push_str(&format!(
            "# No server in the config: those of the DHCP leases (dhcpcd hook 60-plinth-chrony).\n\
             sourcedir {DHCP_SOURCES_DIR}\n"
        ));
    }
    out.push_str(&format!(
        "driftfile {STATE_DIR}/chrony.drift\n\
         # Step the clock on the first updates: a node may boot far off.\n\
         makestep 1.0 3\n\
         rtcsync\n\
         # No NTP server and no remote command port; chronyc talks over the local socket.\n\
         cmdport 0\n"
    ));
    out
}

/// What the DHCP leases have brought chrony so far, from the hook's files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpTime {
    /// No lease yet (no file).
    NoLease,
    /// Leases came, and none names an NTP server.
    NoServers,
    /// This many servers, over every lease.
    Servers(usize),
}

/// What the hook's files (their contents) say: each lease has a file, each of its NTP servers a
/// `server` line.
pub fn dhcp_time(files: &[String]) -> DhcpTime {
    if files.is_empty() {
        return DhcpTime::NoLease;
    }
    let servers = files
        .iter()
        .flat_map(|f| f.lines())
        .filter(|l| l.split_whitespace().next() == Some("server"))
        .count();
    match servers {
        0 => DhcpTime::NoServers,
        n => DhcpTime::Servers(n),
    }
}

/// The arguments of `chronyc waitsync` checking every second until the clock is synced, at most
/// `timeout` (whole seconds, at least one check): `waitsync <tries> 0 0 1`, no limit on the
/// remaining correction or skew.
pub fn waitsync_args(timeout: Duration) -> Vec<String> {
    let tries = timeout.as_secs_f64().ceil().max(1.0) as u64;
    ["waitsync", &tries.to_string(), "0", "0", "1"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_config::config;

    #[test]
    fn servers_come_from_ntp_and_plinth_time_once_each() {
        let plan = plan(&config(
            "ntp:\n  servers: [ntp1.example, ntp2.example]\n  pools: [pool.example]\nplinth:\n  time:\n    servers: [ntp2.example, 10.0.0.1]\n    boot_timeout: 5s\n",
        ))
        .unwrap();
        assert_eq!(plan.servers, ["ntp1.example", "ntp2.example", "10.0.0.1"]);
        assert_eq!(plan.boot_timeout, Duration::from_secs(5));
        let text = conf(&plan);
        assert!(text.contains("server ntp1.example iburst\n"), "{text}");
        assert!(text.contains("server 10.0.0.1 iburst\n"), "{text}");
        assert!(text.contains("pool pool.example iburst\n"), "{text}");
        assert!(
            text.contains("driftfile /var/lib/chrony/chrony.drift\n"),
            "{text}"
        );
    }

    #[test]
    fn servers_in_the_config_leave_dhcp_out() {
        let plan = plan(&config("ntp:\n  pools: [pool.example]\n")).unwrap();
        assert!(!conf(&plan).contains("sourcedir"), "{}", conf(&plan));
    }

    #[test]
    fn no_servers_means_dhcp_sources_and_the_default_timeout() {
        let plan = plan(&MachineConfig::default()).unwrap();
        assert!(!plan.has_sources());
        assert_eq!(plan.boot_timeout, DEFAULT_BOOT_TIMEOUT);
        let text = conf(&plan);
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("server ") || l.starts_with("pool ")),
            "{text}"
        );
        assert!(text.contains("\nsourcedir /run/chrony-dhcp\n"), "{text}");
    }

    #[test]
    fn the_hooks_files_tell_whether_dhcp_brought_servers() {
        assert_eq!(dhcp_time(&[]), DhcpTime::NoLease);
        let empty = "# NTP servers of the dhcp lease of eno1 (dhcpcd hook 60-plinth-chrony)\n";
        assert_eq!(dhcp_time(&[empty.to_string()]), DhcpTime::NoServers);
        let two = format!("{empty}server 10.0.0.1 iburst\nserver 10.0.0.2 iburst\n");
        assert_eq!(dhcp_time(&[empty.to_string(), two]), DhcpTime::Servers(2));
        // A comment that mentions a server is not one.
        assert_eq!(
            dhcp_time(&["# server 10.0.0.9 was here\n".to_string()]),
            DhcpTime::NoServers
        );
    }

    #[test]
    fn the_dhcp_wait_is_bounded() {
        assert_eq!(
            waitsync_args(Duration::from_secs(30)),
            ["waitsync", "30", "0", "0", "1"]
        );
        assert_eq!(waitsync_args(Duration::from_millis(200))[1], "1");
    }

    #[test]
    fn ntp_disabled_turns_time_sync_off() {
        assert_eq!(
            plan(&config("ntp:\n  enabled: false\n  servers: [a]\n")),
            None
        );
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            /// Any lease files the hook (or anyone) left: a count no larger than their lines.
            #[test]
            fn any_lease_files_are_counted_without_a_panic(
                files in prop::collection::vec("((server|pool) [ -~]{0,30}\n|[\\PC]{0,40}\n){0,8}", 0..4),
            ) {
                let lines = files.iter().map(|f| f.lines().count()).sum::<usize>();
                match dhcp_time(&files) {
                    DhcpTime::NoLease => prop_assert!(files.is_empty()),
                    DhcpTime::NoServers => {}
                    DhcpTime::Servers(n) => prop_assert!(n <= lines),
                }
            }
        }
    }
}
