//! The service supervisor: plans services from the config, starts them in dependency order once what
//! they come after is ready, probes readiness, restarts with backoff, captures output, writes
//! metrics, and stops everything in reverse order. Pure decisions (`planner`, `graph`, `state`,
//! `restart`, `logs`, `metrics` rendering) are separate from the effects (`spawn`, `output`,
//! `probe`, `cgroup`, `log_file`, `runner`).

pub mod cgroup;
pub mod console_budget;
pub mod effects;
pub mod graph;
pub mod handle;
pub mod lifecycle;
pub mod log_file;
pub mod logs;
pub mod machine;
#[cfg(test)]
mod machine_tests;
pub mod metrics;
pub mod order;
pub mod output;
pub mod planner;
pub mod probe;
pub mod restart;
pub mod runner;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod types;

pub use handle::{ControlError, Handle};
pub use runner::{ServiceStatus, Settings, Supervisor};
