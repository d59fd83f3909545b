//! The service definition: TOML in, a validated [`Service`] out.
//!
//! Parsing happens in two steps. Serde reads the file into the `Raw*` types of `raw.rs`, which
//! keep the byte span of every value, so that every later complaint can name the file, line,
//! column and key (`location.rs`). Then `validate/` turns the raw values into the typed ones of
//! `model.rs` (durations, signals, paths), one group of keys per file, and `deps.rs` checks the
//! graph the dependencies draw across the file. Nothing that fails here ever reaches a backend,
//! and nothing is written before this succeeds.
//!
//! Everything a caller needs is re-exported here: `crate::model::spec::X` is the only path to use.

mod daemon;
mod deps;
mod location;
mod model;
mod parse;
mod raw;
mod validate;

pub use daemon::{
    Command, Daemon, DirKind, Directories, EnvFile, KillMode, NotCarried, ProtectHome,
    ProtectSystem, ServiceType, SystemdExtras, Used,
};
pub use deps::{
    dependency_order, host_services_after, refuse_systemd_units,
    refuse_systemd_units_but_after_services, Dependency, Facility,
};
pub use location::{did_you_mean, place_in_definition, Source};
pub use model::{
    defaults, hidden_value, Health, HealthCheck, Level, Limit, Limits, LogSpec, Project, Restart,
    Service, HIDDEN, INSTANCE_PLACEHOLDER, STOP_FOREVER,
};
pub use parse::{parse, AccountDb, ParseOptions};
pub use validate::{
    capability_number, check_absolute, check_env_name, check_name, check_references,
    parse_http_url, parse_tcp_target, MAX_ARG_BYTES,
};

/// A definition's text parsed as a system-level file named `test.toml`, for unit tests: the
/// project, or the bad input a test expects.
#[cfg(test)]
pub fn parse_test_text(
    text: &str,
    name: Option<&str>,
) -> Result<Project, crate::model::error::BadInput> {
    let src = Source {
        label: "test.toml".into(),
        text,
        path: None,
    };
    let opts = ParseOptions {
        default_level: Level::System,
        forced_level: None,
        accounts: None,
    };
    parse(&src, name, &opts)
}

/// The one service named `name` of a definition's text (see `parse_test_text`).
#[cfg(test)]
pub fn test_service(text: &str, name: &str) -> Service {
    parse_test_text(text, Some(name))
        .unwrap()
        .services
        .remove(name)
        .unwrap()
}
