//! The storage agent: prepares the disks of `plinth.storage` — the Longhorn disk, LVM volume
//! groups — and the host around them (lvm.conf, kernel modules, configfs, multipath.conf),
//! never changing a disk that holds data unless its own entry says `wipe: true`.
//!
//! Pure decisions — what each disk is ([`disk`]), which disk a selector names ([`select`]), what
//! to do ([`plan`], [`action`]), the host's files and modules ([`host`]), the report and metrics
//! ([`report`]) — are separate from the effects: reading the machine ([`observe`]), performing
//! operations ([`apply`]) and the command around them ([`run`]).

pub mod action;
pub mod apply;
pub mod cli;
pub mod disk;
pub mod host;
pub mod observe;
pub mod plan;
pub mod report;
pub mod run;
pub mod select;

pub use plan::{Plan, Verdict, plan};
