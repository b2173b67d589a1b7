//! Policy routing rules (`routing-policy`): what each asks the kernel for, and whether it is
//! already there. Rules are global, not per device, so equal rules from several devices are one.
//! Pure.

use std::fmt;

use plinth_config::network::RoutingPolicy;

use super::cidr::{Cidr, CidrError};
use super::state::MAIN_TABLE;

/// One rule: a selector and the table to look up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// IPv6 rule.
    pub v6: bool,
    /// Source prefix.
    pub from: Option<Cidr>,
    /// Destination prefix.
    pub to: Option<Cidr>,
    /// Table to look up.
    pub table: u32,
    /// Priority; when none the kernel picks one, and any priority matches.
    pub priority: Option<u32>,
    /// Firewall mark.
    pub mark: Option<u32>,
    /// Type of service.
    pub tos: Option<u8>,
}

/// One rule as the kernel lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleEntry {
    /// IPv6 rule.
    pub v6: bool,
    /// Source prefix.
    pub from: Option<Cidr>,
    /// Destination prefix.
    pub to: Option<Cidr>,
    /// Table looked up.
    pub table: u32,
    /// Priority.
    pub priority: u32,
    /// Firewall mark (0: none).
    pub mark: u32,
    /// Type of service (0: any).
    pub tos: u8,
}

impl RuleSpec {
    /// Whether `entry` is this rule.
    pub fn is(&self, entry: &RuleEntry) -> bool {
        entry.v6 == self.v6
            && entry.from == self.from
            && entry.to == self.to
            && entry.table == self.table
            && self.priority.is_none_or(|p| p == entry.priority)
            && entry.mark == self.mark.unwrap_or(0)
            && entry.tos == self.tos.unwrap_or(0)
    }
}

/// Why a `routing-policy` entry cannot be a rule.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// `from` or `to` is not a prefix.
    #[error(transparent)]
    Prefix(#[from] CidrError),
    /// Neither `from` nor `to`.
    #[error("a rule needs `from` or `to`")]
    NoSelector,
    /// `from` and `to` of different families.
    #[error("`from` and `to` are not of the same IP family")]
    MixedFamilies,
}

/// One `routing-policy` entry as a rule.
pub fn rule_spec(policy: &RoutingPolicy) -> Result<RuleSpec, RuleError> {
    let parse = |text: &Option<String>| -> Result<Option<Cidr>, CidrError> {
        match text.as_deref() {
            None => Ok(None),
            Some(t) => Cidr::parse_destination(t, t.contains(':')).map(Some),
        }
    };
    let from = parse(&policy.from)?;
    let to = parse(&policy.to)?;
    let v6 = match (from, to) {
        (None, None) => return Err(RuleError::NoSelector),
        (Some(a), Some(b)) if a.is_v6() != b.is_v6() => {
            return Err(RuleError::MixedFamilies);
        }
        (Some(c), _) | (None, Some(c)) => c.is_v6(),
    };
    Ok(RuleSpec {
        v6,
        from,
        to,
        table: policy.table.unwrap_or(MAIN_TABLE),
        priority: policy.priority,
        mark: policy.mark,
        tos: policy.type_of_service,
    })
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(from) = self.from {
            write!(f, "from {from}")?;
            sep = " ";
        }
        if let Some(to) = self.to {
            write!(f, "{sep}to {to}")?;
        }
        if let Some(m) = self.mark {
            write!(f, " fwmark {m}")?;
        }
        if let Some(t) = self.tos {
            write!(f, " tos {t}")?;
        }
        write!(f, " table {}", self.table)?;
        if let Some(p) = self.priority {
            write!(f, " priority {p}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(from: Option<&str>, to: Option<&str>, table: Option<u32>) -> RoutingPolicy {
        RoutingPolicy {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            table,
            ..RoutingPolicy::default()
        }
    }

    #[test]
    fn policies_become_rules() {
        let r = rule_spec(&policy(Some("192.168.3.0/24"), None, Some(101))).unwrap();
        assert_eq!(r.to_string(), "from 192.168.3.0/24 table 101");
        assert!(!r.v6);
        let r = rule_spec(&policy(None, Some("2001:db8::/32"), None)).unwrap();
        assert_eq!(r.to_string(), "to 2001:db8::/32 table 254");
        assert!(r.v6);
        assert!(rule_spec(&policy(None, None, Some(1))).is_err());
        assert!(rule_spec(&policy(Some("10.0.0.0/8"), Some("::/0"), None)).is_err());
    }

    #[test]
    fn a_rule_without_priority_matches_whatever_the_kernel_chose() {
        let spec = rule_spec(&policy(Some("10.1.0.0/16"), None, Some(100))).unwrap();
        let mut entry = RuleEntry {
            v6: false,
            from: spec.from,
            to: None,
            table: 100,
            priority: 32765,
            mark: 0,
            tos: 0,
        };
        assert!(spec.is(&entry));
        entry.table = 101;
        assert!(!spec.is(&entry));
        let pinned = RuleSpec {
            priority: Some(100),
            ..spec
        };
        entry.table = 100;
        assert!(!pinned.is(&entry));
    }
}
