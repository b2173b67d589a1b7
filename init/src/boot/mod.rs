//! The boot of stage 2 as data: named phases run in order, each timed and logged, whose bodies are
//! plain functions in `phases/`. A failed phase stops the sequence and leaves the node up in
//! maintenance mode (control API and console working), never takes PID 1 down.

pub mod apply;
pub mod bounded;
pub mod config_source;
pub mod context;
pub mod kept_config;
pub mod maintenance;
pub mod media;
pub mod media_drivers;
pub mod phases;
pub mod sequence;
pub mod superseded;
pub mod timeline;
pub mod unapplied;
pub mod url;

pub use context::BootContext;
pub use sequence::{PhaseError, SEQUENCE};
