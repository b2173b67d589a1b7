//! Shared helpers of the agent tests.
#![allow(dead_code)]

pub mod control_plane;
pub mod kernel_model;
pub mod netns;
