//! Bridge parameters as the kernel takes them: netplan's `stp` (on unless said otherwise), the STP
//! timers in seconds (`15`, `4s`, `500ms`) turned into the kernel's centiseconds, and the bridge
//! priority; and whether an existing bridge already has them. Pure.

use std::fmt;

use plinth_config::Duration;
use plinth_config::network::BridgeParameters;

/// A bridge's settings as the kernel reports them (timers in centiseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BridgeState {
    /// STP on.
    pub stp: bool,
    /// Forward delay.
    pub forward_delay: u32,
    /// Hello time.
    pub hello_time: u32,
    /// Max age.
    pub max_age: u32,
    /// MAC ageing time.
    pub ageing_time: u32,
    /// Bridge priority.
    pub priority: u16,
}

/// What a bridge is created or changed with; unset values stay at the kernel's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BridgeSettings {
    /// STP on (netplan's default: on).
    pub stp: bool,
    /// Forward delay, centiseconds.
    pub forward_delay: Option<u32>,
    /// Hello time, centiseconds.
    pub hello_time: Option<u32>,
    /// Max age, centiseconds.
    pub max_age: Option<u32>,
    /// MAC ageing time, centiseconds.
    pub ageing_time: Option<u32>,
    /// Bridge priority.
    pub priority: Option<u16>,
}

impl BridgeSettings {
    /// Whether `state` already has every configured value.
    pub fn holds(&self, state: &BridgeState) -> bool {
        state.stp == self.stp
            && self.forward_delay.is_none_or(|v| v == state.forward_delay)
            && self.hello_time.is_none_or(|v| v == state.hello_time)
            && self.max_age.is_none_or(|v| v == state.max_age)
            && self.ageing_time.is_none_or(|v| v == state.ageing_time)
            && self.priority.is_none_or(|v| v == state.priority)
    }
}

/// Turns netplan's bridge parameters into settings; values that cannot be applied come back as
/// warnings and are left out.
pub fn bridge_settings(
    path: &str,
    params: Option<&BridgeParameters>,
) -> (BridgeSettings, Vec<String>) {
    let mut warnings = Vec::new();
    let p = params.cloned().unwrap_or_default();
    let mut timer = |key: &str, value: Option<&String>| {
        let text = value?;
        match Duration::parse(text) {
            Ok(d) => match u32::try_from(d.get().as_millis() / 10) {
                Ok(cs) => Some(cs),
                Err(_) => {
                    warnings.push(format!(
                        "{path}.parameters.{key}: `{text}` is too long; not applied"
                    ));
                    None
                }
            },
            Err(e) => {
                warnings.push(format!("{path}.parameters.{key}: {e}; not applied"));
                None
            }
        }
    };
    let forward_delay = timer("forward-delay", p.forward_delay.as_ref());
    let hello_time = timer("hello-time", p.hello_time.as_ref());
    let max_age = timer("max-age", p.max_age.as_ref());
    let ageing_time = timer("ageing-time", p.ageing_time.as_ref());
    let priority = p.priority.and_then(|v| match u16::try_from(v) {
        Ok(v) => Some(v),
        Err(_) => {
            warnings.push(format!(
                "{path}.parameters.priority: {v} is above 65535; not applied"
            ));
            None
        }
    });
    for (key, set) in [
        ("path-cost", !p.path_cost.is_empty()),
        ("port-priority", !p.port_priority.is_empty()),
    ] {
        if set {
            warnings.push(format!(
                "{path}.parameters.{key}: per-port settings are not applied yet; the kernel default stays"
            ));
        }
    }
    let settings = BridgeSettings {
        stp: p.stp.unwrap_or(true),
        forward_delay,
        hello_time,
        max_age,
        ageing_time,
        priority,
    };
    (settings, warnings)
}

impl fmt::Display for BridgeSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stp {}", if self.stp { "on" } else { "off" })?;
        let timers = [
            ("forward_delay", self.forward_delay),
            ("hello_time", self.hello_time),
            ("max_age", self.max_age),
            ("ageing_time", self.ageing_time),
        ];
        for (key, value) in timers {
            if let Some(cs) = value {
                write!(f, " {key} {cs}cs")?;
            }
        }
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_centiseconds_and_stp_defaults_on() {
        let p = BridgeParameters {
            forward_delay: Some("4".into()),
            hello_time: Some("1500ms".into()),
            max_age: Some("12s".into()),
            priority: Some(4096),
            ..BridgeParameters::default()
        };
        let (s, warnings) = bridge_settings("bridges.br0", Some(&p));
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(
            s,
            BridgeSettings {
                stp: true,
                forward_delay: Some(400),
                hello_time: Some(150),
                max_age: Some(1200),
                ageing_time: None,
                priority: Some(4096),
            }
        );
        assert_eq!(
            s.to_string(),
            "stp on forward_delay 400cs hello_time 150cs max_age 1200cs priority 4096"
        );
        assert_eq!(bridge_settings("b", None).0.to_string(), "stp on");
    }

    #[test]
    fn holds_compares_only_what_is_configured() {
        let state = BridgeState {
            stp: true,
            forward_delay: 1500,
            hello_time: 200,
            max_age: 2000,
            ageing_time: 30000,
            priority: 32768,
        };
        let mut s = BridgeSettings {
            stp: true,
            ..BridgeSettings::default()
        };
        assert!(s.holds(&state));
        s.forward_delay = Some(400);
        assert!(!s.holds(&state));
        s.forward_delay = Some(1500);
        s.stp = false;
        assert!(!s.holds(&state));
    }

    #[test]
    fn bad_values_warn() {
        let p = BridgeParameters {
            forward_delay: Some("soon".into()),
            priority: Some(70000),
            path_cost: [("eth0".to_owned(), 10)].into(),
            ..BridgeParameters::default()
        };
        let (s, warnings) = bridge_settings("bridges.br0", Some(&p));
        assert_eq!(s.forward_delay, None);
        assert_eq!(s.priority, None);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
    }
}
