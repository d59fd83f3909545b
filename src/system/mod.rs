//! Access to the host: the command's context, detection of the init system, files written
//! atomically, boot links, log files, manager tools, accounts, install records, health probes,
//! Debian's policy layer, what the packaging hooks remember.
//!
//! Backends and the engine reach the machine through these; none of it knows a backend.

pub mod accounts;
pub mod bootlinks;
pub mod crashpoint;
pub mod detect;
pub mod files;
pub mod health;
pub mod host;
pub mod logfiles;
pub mod packages;
pub mod policy;
pub mod process;
pub mod processes;
pub mod records;
pub mod report;
pub mod since;
pub mod supervise;
pub mod version;
