//! The dialects of the emitted files: one escaper per dialect, and the template renderer; and
//! systemd's own readings that svc-any's supervisor stands in for where systemd does not run
//! (environment files, `exec_expand`'s variable references).
//!
//! A backend turns a definition's values into safe words of its dialect here and lays them out
//! with its template; nothing here knows which manager runs or touches the disk.

pub mod env_file;
pub mod escape;
pub mod exec_expand;
pub mod render;
pub mod run_dir;
pub mod unit_file;
