//! Shared helpers of the agent tests.
#![allow(dead_code)]

pub mod kernel_model;
pub mod netns;
