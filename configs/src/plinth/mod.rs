//! Plinth's own settings: everything under the `plinth:` key of the machine config.

pub mod services;
