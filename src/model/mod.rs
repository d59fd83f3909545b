//! The model: what a definition says and what a status means, with no I/O.
//!
//! Everything above reads these types; nothing here reads a file, runs a program or prints.

pub mod duration;
pub mod error;
pub mod export;
pub mod manager_version;
pub mod signal;
pub mod spec;
pub mod status;
