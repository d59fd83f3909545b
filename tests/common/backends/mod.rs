//! The adapters: one file per backend, each all that the conformance scenarios need to know
//! of it (tests/common/backend.rs says what that is).

pub mod builtin;
pub mod daemontools;
pub mod openrc;
pub mod run_dir;
pub mod runit;
pub mod s6;
pub mod supervisord;
pub mod systemd;
pub mod sysv;
