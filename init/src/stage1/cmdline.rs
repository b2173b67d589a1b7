//! The kernel command line as stage 1 reads it: which root slot to boot and how long to wait
//! for devices. Pure parsing; unknown words are ignored (they belong to the kernel or stage 2).
#![deny(clippy::arithmetic_side_effects)]

use std::time::Duration;

/// A root slot of the disk layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    A,
    B,
}

impl Slot {
    /// The GPT partition name of this slot.
    pub fn partition_name(self) -> &'static str {
        match self {
            Slot::A => "plinth-root-a",
            Slot::B => "plinth-root-b",
        }
    }
}

/// What stage 1 takes from `/proc/cmdline`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage1Args {
    /// `plinth.slot=a|b`, default a.
    pub slot: Slot,
    /// `plinth.rootwait=SECONDS`: how long to wait for the root device, default 30.
    pub root_wait: Duration,
    /// `plinth.state=ram`: never touch a disk for state (keep it in memory).
    pub state_in_ram: bool,
    /// Words stage 1 did not understand although they start with `plinth.`, to warn about.
    pub unknown: Vec<String>,
}

impl Default for Stage1Args {
    fn default() -> Self {
        Self {
            slot: Slot::A,
            root_wait: Duration::from_secs(30),
            state_in_ram: false,
            unknown: Vec::new(),
        }
    }
}

/// Parses the command line; invalid values of known keys are reported in `unknown`.
pub fn parse(cmdline: &str) -> Stage1Args {
    let mut args = Stage1Args::default();
    for word in cmdline.split_whitespace() {
        let (key, value) = word.split_once('=').unwrap_or((word, ""));
        match (key, value) {
            ("plinth.slot", "a" | "A") => args.slot = Slot::A,
            ("plinth.slot", "b" | "B") => args.slot = Slot::B,
            ("plinth.rootwait", secs) if secs.parse::<u64>().is_ok() => {
                args.root_wait = Duration::from_secs(secs.parse().unwrap_or(30));
            }
            ("plinth.state", "ram") => args.state_in_ram = true,
            ("plinth.state", "auto") => args.state_in_ram = false,
            ("plinth.slot" | "plinth.rootwait" | "plinth.state", _) => {
                args.unknown.push(word.to_string());
            }
            _ => {}
        }
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_slot_a() {
        assert_eq!(parse("console=ttyS0 quiet"), Stage1Args::default());
    }

    #[test]
    fn reads_slot_wait_and_state() {
        let args = parse("console=ttyS0 plinth.slot=b plinth.rootwait=5 plinth.state=ram");
        assert_eq!(args.slot, Slot::B);
        assert_eq!(args.root_wait, Duration::from_secs(5));
        assert!(args.state_in_ram);
        assert_eq!(args.slot.partition_name(), "plinth-root-b");
    }

    #[test]
    fn bad_values_are_reported_and_keep_defaults() {
        let args = parse("plinth.slot=c plinth.rootwait=soon plinth.config=http://x/y");
        assert_eq!(args.slot, Slot::A);
        assert_eq!(args.root_wait, Duration::from_secs(30));
        assert_eq!(args.unknown, ["plinth.slot=c", "plinth.rootwait=soon"]);
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            /// Any command line: defaults kept for what is not valid, every invalid `plinth.`
            /// word of stage 1's reported, no panic.
            #[test]
            fn any_command_line_parses(words in prop::collection::vec(
                prop_oneof![
                    "plinth\\.(slot|rootwait|state)=[ -~&&[^ ]]{0,25}",
                    "plinth\\.rootwait=[0-9]{1,30}",
                    "[ -~&&[^ ]]{0,20}",
                ],
                0..12,
            )) {
                let line = words.join(" ");
                let args = parse(&line);
                prop_assert!(args.unknown.len() <= words.len());
                for word in &args.unknown {
                    prop_assert!(word.starts_with("plinth."));
                }
                let _ = crate::pid1::fault::from_cmdline(&line);
                let _ = crate::stage1::guard::reboot_delay(&line);
            }
        }
    }
}
