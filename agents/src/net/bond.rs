//! Bond parameters as the kernel takes them: netplan's strings (`active-backup`, `fast`, `layer3+4`,
//! `100` milliseconds) turned into typed settings. Pure; the netlink encoding is in [`super::apply`].

use std::fmt;

use plinth_config::network::BondParameters;

/// Bonding mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BondMode {
    /// `balance-rr`
    BalanceRr,
    /// `active-backup`
    ActiveBackup,
    /// `balance-xor`
    BalanceXor,
    /// `broadcast`
    Broadcast,
    /// `802.3ad` (LACP)
    Lacp,
    /// `balance-tlb`
    BalanceTlb,
    /// `balance-alb`
    BalanceAlb,
}

/// LACP rate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LacpRate {
    /// Every 30 seconds.
    Slow,
    /// Every second.
    Fast,
}

/// Transmit hash policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashPolicy {
    /// `layer2`
    Layer2,
    /// `layer3+4`
    Layer34,
    /// `layer2+3`
    Layer23,
    /// `encap2+3`
    Encap23,
    /// `encap3+4`
    Encap34,
}

/// What a new bond is created with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BondSettings {
    /// Mode (the kernel's default is balance-rr).
    pub mode: Option<BondMode>,
    /// MII link monitoring interval, milliseconds.
    pub miimon: Option<u32>,
    /// LACP rate (802.3ad).
    pub lacp_rate: Option<LacpRate>,
    /// Transmit hash policy.
    pub hash_policy: Option<HashPolicy>,
    /// Preferred member (final interface name).
    pub primary: Option<String>,
    /// Delay before enabling a member, milliseconds.
    pub up_delay: Option<u32>,
    /// Delay before disabling a member, milliseconds.
    pub down_delay: Option<u32>,
    /// Minimum number of members up.
    pub min_links: Option<u32>,
}

/// A bond's parameters as the kernel reports them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BondState {
    /// Mode (none: a value this agent does not know).
    pub mode: Option<BondMode>,
    /// MII monitoring interval, milliseconds.
    pub miimon: u32,
    /// LACP rate.
    pub lacp_rate: Option<LacpRate>,
    /// Transmit hash policy.
    pub hash_policy: Option<HashPolicy>,
    /// Primary member's name.
    pub primary: Option<String>,
    /// Up delay, milliseconds.
    pub up_delay: u32,
    /// Down delay, milliseconds.
    pub down_delay: u32,
    /// Minimum members up.
    pub min_links: u32,
}

impl BondSettings {
    /// The configured values `state` does not have yet (empty when it holds them all).
    pub fn diff(&self, state: &BondState) -> BondSettings {
        fn differ<T: PartialEq + Clone>(want: &Option<T>, have: T) -> Option<T> {
            want.clone().filter(|w| *w != have)
        }
        BondSettings {
            mode: self.mode.filter(|m| state.mode != Some(*m)),
            miimon: differ(&self.miimon, state.miimon),
            lacp_rate: self.lacp_rate.filter(|r| state.lacp_rate != Some(*r)),
            hash_policy: self.hash_policy.filter(|h| state.hash_policy != Some(*h)),
            primary: self
                .primary
                .clone()
                .filter(|p| state.primary.as_deref() != Some(p.as_str())),
            up_delay: differ(&self.up_delay, state.up_delay),
            down_delay: differ(&self.down_delay, state.down_delay),
            min_links: differ(&self.min_links, state.min_links),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == BondSettings::default()
    }
}

const MODES: &[(&str, BondMode)] = &[
    ("balance-rr", BondMode::BalanceRr),
    ("active-backup", BondMode::ActiveBackup),
    ("balance-xor", BondMode::BalanceXor),
    ("broadcast", BondMode::Broadcast),
    ("802.3ad", BondMode::Lacp),
    ("balance-tlb", BondMode::BalanceTlb),
    ("balance-alb", BondMode::BalanceAlb),
];

const POLICIES: &[(&str, HashPolicy)] = &[
    ("layer2", HashPolicy::Layer2),
    ("layer3+4", HashPolicy::Layer34),
    ("layer2+3", HashPolicy::Layer23),
    ("encap2+3", HashPolicy::Encap23),
    ("encap3+4", HashPolicy::Encap34),
];

/// Turns netplan's bond parameters into settings; `resolve` maps the `primary` config id to its
/// final name. Values that cannot be applied come back as warnings and are left out.
pub fn bond_settings(
    path: &str,
    params: Option<&BondParameters>,
    resolve: impl Fn(&str) -> String,
) -> (BondSettings, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(p) = params else {
        return (BondSettings::default(), warnings);
    };
    let mut warn = |key: &str, value: &str, why: &str| {
        warnings.push(format!(
            "{path}.parameters.{key}: `{value}` {why}; left at the kernel default"
        ));
    };
    let mode = p.mode.as_deref().and_then(|m| {
        let found = lookup(MODES, m);
        if found.is_none() {
            warn("mode", m, "is not a Linux bonding mode");
        }
        found
    });
    let lacp_rate = p.lacp_rate.as_deref().and_then(|r| match r {
        "slow" => Some(LacpRate::Slow),
        "fast" => Some(LacpRate::Fast),
        other => {
            warn("lacp-rate", other, "is neither slow nor fast");
            None
        }
    });
    let hash_policy = p.transmit_hash_policy.as_deref().and_then(|h| {
        let found = lookup(POLICIES, h);
        if found.is_none() {
            warn("transmit-hash-policy", h, "is not a Linux hash policy");
        }
        found
    });
    let mut millis = |key: &str, value: Option<&String>| {
        value.and_then(|v| {
            let ms = parse_millis(v);
            if ms.is_none() {
                warn(key, v, "is not a duration in milliseconds");
            }
            ms
        })
    };
    let miimon = millis("mii-monitor-interval", p.mii_monitor_interval.as_ref());
    let up_delay = millis("up-delay", p.up_delay.as_ref());
    let down_delay = millis("down-delay", p.down_delay.as_ref());
    // The kernel refuses (EACCES, "mode dependency failed") options its mode does not use, which
    // would fail the whole bond: leave them out with a warning instead.
    let effective = mode.unwrap_or(BondMode::BalanceRr);
    let mut primary = p.primary.as_deref().map(resolve);
    if let Some(name) = &primary
        && !matches!(
            effective,
            BondMode::ActiveBackup | BondMode::BalanceTlb | BondMode::BalanceAlb
        )
    {
        warn(
            "primary",
            name,
            "applies only to active-backup, balance-tlb and balance-alb bonds",
        );
        primary = None;
    }
    let lacp_rate = lacp_rate.filter(|_| {
        let ok = effective == BondMode::Lacp;
        if !ok {
            warn(
                "lacp-rate",
                p.lacp_rate.as_deref().unwrap_or_default(),
                "applies only to 802.3ad bonds",
            );
        }
        ok
    });
    let settings = BondSettings {
        mode,
        miimon,
        lacp_rate,
        hash_policy,
        primary,
        up_delay,
        down_delay,
        min_links: p.min_links,
    };
    (settings, warnings)
}

/// netplan durations for bonds: a bare number is milliseconds; `ms` and `s` suffixes are accepted.
pub fn parse_millis(text: &str) -> Option<u32> {
    let t = text.trim();
    if let Some(ms) = t.strip_suffix("ms") {
        return ms.trim().parse().ok();
    }
    if let Some(s) = t.strip_suffix('s') {
        return s.trim().parse::<u32>().ok()?.checked_mul(1000);
    }
    t.parse().ok()
}

fn lookup<T: Copy>(table: &[(&str, T)], key: &str) -> Option<T> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn name_of<T: Copy + PartialEq>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(k, _)| k)
}

impl fmt::Display for BondSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(m) = self.mode {
            write!(f, " mode {}", name_of(MODES, m))?;
        }
        if let Some(v) = self.miimon {
            write!(f, " miimon {v}")?;
        }
        if let Some(r) = self.lacp_rate {
            let r = if r == LacpRate::Fast { "fast" } else { "slow" };
            write!(f, " lacp_rate {r}")?;
        }
        if let Some(h) = self.hash_policy {
            write!(f, " xmit_hash_policy {}", name_of(POLICIES, h))?;
        }
        if let Some(p) = &self.primary {
            write!(f, " primary {p}")?;
        }
        if let Some(v) = self.up_delay {
            write!(f, " updelay {v}")?;
        }
        if let Some(v) = self.down_delay {
            write!(f, " downdelay {v}")?;
        }
        if let Some(v) = self.min_links {
            write!(f, " min_links {v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netplan_strings_become_settings() {
        let p = BondParameters {
            mode: Some("802.3ad".into()),
            mii_monitor_interval: Some("100".into()),
            lacp_rate: Some("fast".into()),
            transmit_hash_policy: Some("layer3+4".into()),
            primary: Some("nic1".into()),
            up_delay: Some("2s".into()),
            down_delay: Some("200ms".into()),
            ..BondParameters::default()
        };
        let (s, warnings) = bond_settings("bonds.bond0", Some(&p), |id| format!("{id}-final"));
        assert_eq!(
            warnings.len(),
            1,
            "primary is not for 802.3ad: {warnings:?}"
        );
        assert_eq!(
            s,
            BondSettings {
                mode: Some(BondMode::Lacp),
                miimon: Some(100),
                lacp_rate: Some(LacpRate::Fast),
                hash_policy: Some(HashPolicy::Layer34),
                primary: None,
                up_delay: Some(2000),
                down_delay: Some(200),
                min_links: None,
            }
        );
        assert_eq!(
            s.to_string(),
            " mode 802.3ad miimon 100 lacp_rate fast xmit_hash_policy layer3+4 updelay 2000 downdelay 200"
        );
    }

    #[test]
    fn diff_keeps_only_what_the_bond_lacks() {
        let want = BondSettings {
            mode: Some(BondMode::ActiveBackup),
            miimon: Some(100),
            primary: Some("lan1".into()),
            ..BondSettings::default()
        };
        // A bond the bonding module made on load (max_bonds=1): balance-rr, no monitoring.
        let fresh = BondState {
            mode: Some(BondMode::BalanceRr),
            ..BondState::default()
        };
        assert_eq!(want.diff(&fresh), want);
        let done = BondState {
            mode: Some(BondMode::ActiveBackup),
            miimon: 100,
            primary: Some("lan1".into()),
            ..BondState::default()
        };
        assert!(want.diff(&done).is_empty());
        let drifted = BondState { miimon: 50, ..done };
        assert_eq!(
            want.diff(&drifted),
            BondSettings {
                miimon: Some(100),
                ..BondSettings::default()
            }
        );
    }

    #[test]
    fn options_the_mode_does_not_take_are_left_out() {
        let p = BondParameters {
            mode: Some("balance-xor".into()),
            primary: Some("eth0".into()),
            lacp_rate: Some("fast".into()),
            transmit_hash_policy: Some("layer2+3".into()),
            ..BondParameters::default()
        };
        let (s, warnings) = bond_settings("bonds.b", Some(&p), str::to_owned);
        assert_eq!(s.primary, None);
        assert_eq!(s.lacp_rate, None);
        assert_eq!(s.hash_policy, Some(HashPolicy::Layer23));
        assert_eq!(
            warnings,
            [
                "bonds.b.parameters.primary: `eth0` applies only to active-backup, balance-tlb and balance-alb bonds; left at the kernel default",
                "bonds.b.parameters.lacp-rate: `fast` applies only to 802.3ad bonds; left at the kernel default",
            ]
        );
    }

    #[test]
    fn unknown_values_warn_and_are_left_out() {
        let p = BondParameters {
            mode: Some("balance-tcp".into()),
            lacp_rate: Some("sometimes".into()),
            mii_monitor_interval: Some("soon".into()),
            ..BondParameters::default()
        };
        let (s, warnings) = bond_settings("bonds.b", Some(&p), str::to_owned);
        assert_eq!(s, BondSettings::default());
        assert_eq!(warnings.len(), 3);
        assert!(warnings[0].starts_with("bonds.b.parameters.mode: `balance-tcp`"));
    }
}
