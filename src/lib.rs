//! svc-any: one service definition, every init system.
//!
//! The crate is built in layers, each importing only the ones below it:
//!
//! | layer | what it holds |
//! |---|---|
//! | [`model`] | the definition ([`model::spec`]), durations, signals, the status model, exit-code classes |
//! | [`dialect`] | one escaper per dialect of the emitted files, and the template renderer |
//! | [`system`] | the host: context, detection, atomic files, boot links, logs, records, health probes |
//! | [`supervisor`] | svc-any's own supervisor, for hosts with no init system and for SysV |
//! | [`backends`] | one module per init system behind one trait |
//! | [`engine`] | install, uninstall, control, wait and status, the same for every backend |
//! | [`export`] | the same definition as Kubernetes manifests or a compose file (engine level) |
//! | [`manager`] | the library's face: [`Manager`] detects the host's init and drives the engine |
//! | [`cli`] | the command line: parse, resolve, run |
//!
//! The library prints nothing: what a verb has to say goes to the
//! [`Reporter`] of its [`Ctx`](system::host::Ctx).

pub mod model;

pub mod dialect;

pub mod system;

pub mod supervisor;

#[path = "../backends/mod.rs"]
pub mod backends;

pub mod engine;

pub mod export;

pub mod manager;

pub mod cli;

pub use manager::{parse_definitions, quick_definition, Manager};
pub use model::spec::{Level, Service};
pub use model::status::{ServiceStatus, State};
pub use system::report::{Reporter, Silent};
