//! `plinth.kernel`: extra modules and sysctls, on top of the Genestack defaults in [`crate::kernel`];
//! kernel arguments (PCI passthrough, hugepages) for boot paths whose command line Plinth writes; and
//! what a compute node expects of nested virtualization.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Kernel settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Kernel {
    /// Modules to load besides the defaults. A name mapped to `false` (in the mapping form) skips a
    /// default module; the list form only adds.
    #[serde(default, skip_serializing_if = "Modules::is_empty")]
    pub modules: Modules,
    /// Sysctls to set besides the defaults; `null` or `false` switches a default off.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, SysctlValue>,
    /// Extra kernel arguments, such as `intel_iommu=on iommu=pt` for PCI passthrough. They reach the
    /// kernel only where the boot's command line is not fixed: the BIOS (syslinux) and PXE boots. A
    /// UEFI boot runs the signed UKI, whose command line is built into it: there these arguments
    /// are not applied, and a compute node's check reports each one missing from /proc/cmdline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cmdline: Vec<String>,
    /// Hugepages reserved at boot, as kernel arguments (`hugepagesz=1G hugepages=16`). The default
    /// page size stays the kernel's (2M), so the sysctl `vm.nr_hugepages` keeps counting 2M pages.
    /// Same boot paths as `cmdline`; a compute node's check compares them with what the kernel
    /// reserved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hugepages: Vec<Hugepages>,
    /// KVM's nested virtualization: the `nested` parameter kvm_intel or kvm_amd is loaded with
    /// (`nested=1` or `nested=0`), which a compute node's check then verifies. Unset: the kernel's
    /// default (on, in Debian's), only reported. Changed by `plinthctl config apply`, the module is
    /// loaded again if no VM holds it, else the change applies at the next boot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nested_virtualization: Option<bool>,
}

/// Hugepages of one size reserved at boot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hugepages {
    /// The page size: `2M` or `1G`.
    pub size: HugepageSize,
    /// How many pages of that size.
    pub count: u32,
}

/// An x86-64 hugepage size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum HugepageSize {
    /// 2 MiB pages.
    #[serde(rename = "2M")]
    TwoMiB,
    /// 1 GiB pages.
    #[serde(rename = "1G")]
    OneGiB,
}

impl HugepageSize {
    /// The size as the kernel's arguments spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            HugepageSize::TwoMiB => "2M",
            HugepageSize::OneGiB => "1G",
        }
    }

    /// The size in KiB, as sysfs names it (`hugepages-2048kB`).
    pub fn kib(self) -> u64 {
        match self {
            HugepageSize::TwoMiB => 2048,
            HugepageSize::OneGiB => 1024 * 1024,
        }
    }
}

impl Kernel {
    /// The kernel arguments this config adds: `hugepagesz=`/`hugepages=` for each hugepage size,
    /// then `cmdline` as written. No `default_hugepagesz`: with it, `vm.nr_hugepages` would count
    /// pages of that size (1024 of them 1G each would ask for a terabyte).
    pub fn boot_args(&self) -> Vec<String> {
        let mut args = Vec::new();
        for h in &self.hugepages {
            args.push(format!("hugepagesz={}", h.size.as_str()));
            args.push(format!("hugepages={}", h.count));
        }
        args.extend(self.cmdline.iter().cloned());
        args
    }
}

/// Extra modules: a list of names, or a mapping of name to on/off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Modules {
    /// Names to load.
    List(Vec<String>),
    /// Name → load (`true`) or skip (`false`).
    Map(BTreeMap<String, bool>),
    /// Nothing extra.
    #[default]
    #[serde(skip)]
    None,
}

impl Modules {
    /// Whether nothing is configured.
    pub fn is_empty(&self) -> bool {
        match self {
            Modules::List(l) => l.is_empty(),
            Modules::Map(m) => m.is_empty(),
            Modules::None => true,
        }
    }

    /// `(name, load)` pairs.
    pub fn entries(&self) -> Vec<(String, bool)> {
        match self {
            Modules::List(l) => l.iter().map(|m| (m.clone(), true)).collect(),
            Modules::Map(m) => m.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            Modules::None => Vec::new(),
        }
    }
}

/// A sysctl value, or "off" (`null`/`false`) to drop a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SysctlValue {
    /// Write this value.
    Set(String),
    /// Do not set this sysctl (switches a default off).
    Off,
}

impl Serialize for SysctlValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SysctlValue::Set(v) => s.serialize_str(v),
            SysctlValue::Off => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for SysctlValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SysctlValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a sysctl value (number or string), or null/false to switch a default off",
                )
            }
            fn visit_unit<E: de::Error>(self) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Off)
            }
            fn visit_none<E: de::Error>(self) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Off)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<SysctlValue, E> {
                Ok(if v {
                    SysctlValue::Set("1".to_owned())
                } else {
                    SysctlValue::Off
                })
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<SysctlValue, E> {
                Ok(SysctlValue::Set(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for SysctlValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SysctlValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The value to write; null or false switches a Genestack default off.",
            "type": ["string", "number", "boolean", "null"]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hugepages_come_first_then_the_operators_arguments() {
        let k: Kernel = serde_saphyr::from_str(
            "cmdline: [intel_iommu=on, iommu=pt]\nhugepages:\n  - {size: 1G, count: 4}\n  - {size: 2M, count: 512}\n",
        )
        .unwrap();
        assert_eq!(
            k.boot_args(),
            [
                "hugepagesz=1G",
                "hugepages=4",
                "hugepagesz=2M",
                "hugepages=512",
                "intel_iommu=on",
                "iommu=pt"
            ]
        );
        assert_eq!(HugepageSize::OneGiB.kib(), 1_048_576);
        assert!(Kernel::default().boot_args().is_empty());
    }

    #[test]
    fn an_unknown_hugepage_size_is_refused() {
        let err = serde_saphyr::from_str::<Kernel>("hugepages: [{size: 4M, count: 1}]\n");
        assert!(err.is_err());
    }
}
