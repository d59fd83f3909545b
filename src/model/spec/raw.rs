//! The definition as serde reads it from TOML: every value keeps its byte span, so that a
//! complaint made during validation can name the file, line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

pub(super) type S<T> = Spanned<T>;

/// One service table. An unknown key is refused by serde, whose message lists the known ones:
/// did-you-mean draws its candidates from there (`location::toml_error`), so no list of keys is
/// kept by hand.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawService {
    pub(super) name: Option<S<String>>,
    pub(super) description: Option<S<String>>,
    pub(super) exec: Option<S<Vec<S<String>>>>,
    pub(super) user: Option<S<String>>,
    pub(super) group: Option<S<String>>,
    pub(super) working_dir: Option<S<String>>,
    pub(super) env: Option<BTreeMap<S<String>, S<String>>>,
    /// A path, or a list of paths each optional with a leading `-`.
    pub(super) env_file: Option<S<toml::Value>>,
    pub(super) restart: Option<S<String>>,
    pub(super) restart_delay: Option<S<toml::Value>>,
    pub(super) restart_max_delay: Option<S<toml::Value>>,
    pub(super) restart_limit: Option<S<i64>>,
    pub(super) restart_limit_interval: Option<S<toml::Value>>,
    pub(super) stop_signal: Option<S<String>>,
    pub(super) stop_timeout: Option<S<toml::Value>>,
    pub(super) reload_signal: Option<S<String>>,
    pub(super) success_exit_codes: Option<S<Vec<S<i64>>>>,
    pub(super) after: Option<S<Vec<S<String>>>>,
    pub(super) requires: Option<S<Vec<S<String>>>>,
    pub(super) limits: Option<RawLimits>,
    pub(super) log: Option<RawLog>,
    pub(super) health: Option<RawHealth>,
    pub(super) instances: Option<S<Vec<S<String>>>>,
    pub(super) level: Option<S<String>>,
    pub(super) launchd: Option<RawLaunchd>,
    pub(super) export: Option<crate::model::export::RawExport>,
    // The keys of `daemon.rs`, checked by `validate/daemon.rs`.
    #[serde(rename = "type")]
    pub(super) service_type: Option<S<String>>,
    pub(super) pid_file: Option<S<String>>,
    pub(super) remain_after_exit: Option<S<bool>>,
    /// Each a list of commands: an argv list, or `{ exec = [...], may_fail, privileged }`.
    pub(super) pre_start: Option<S<Vec<S<toml::Value>>>>,
    pub(super) post_start: Option<S<Vec<S<toml::Value>>>>,
    pub(super) stop_exec: Option<S<Vec<S<toml::Value>>>>,
    pub(super) post_stop: Option<S<Vec<S<toml::Value>>>>,
    pub(super) reload_exec: Option<S<Vec<S<toml::Value>>>>,
    /// Each a name or a list of names.
    pub(super) runtime_dir: Option<S<toml::Value>>,
    pub(super) state_dir: Option<S<toml::Value>>,
    pub(super) logs_dir: Option<S<toml::Value>>,
    pub(super) config_dir: Option<S<toml::Value>>,
    /// Octal, as a string ("0755") or a TOML octal integer (0o755).
    pub(super) runtime_dir_mode: Option<S<toml::Value>>,
    pub(super) state_dir_mode: Option<S<toml::Value>>,
    pub(super) logs_dir_mode: Option<S<toml::Value>>,
    pub(super) config_dir_mode: Option<S<toml::Value>>,
    pub(super) exec_expand: Option<S<bool>>,
    pub(super) kill_mode: Option<S<String>>,
    pub(super) restart_prevent_exit_codes: Option<S<Vec<S<i64>>>>,
    pub(super) wants: Option<S<Vec<S<String>>>>,
    pub(super) before: Option<S<Vec<S<String>>>>,
    pub(super) part_of: Option<S<Vec<S<String>>>>,
    pub(super) binds_to: Option<S<Vec<S<String>>>>,
    pub(super) conflicts: Option<S<Vec<S<String>>>>,
    pub(super) documentation: Option<S<Vec<S<String>>>>,
    pub(super) aliases: Option<S<Vec<S<String>>>>,
    pub(super) umask: Option<S<toml::Value>>,
    pub(super) supplementary_groups: Option<S<Vec<S<String>>>>,
    pub(super) no_new_privileges: Option<S<bool>>,
    pub(super) capabilities: Option<S<Vec<S<String>>>>,
    pub(super) private_tmp: Option<S<bool>>,
    pub(super) private_devices: Option<S<bool>>,
    /// `true`, `false`, `"full"` or `"strict"`.
    pub(super) protect_system: Option<S<toml::Value>>,
    /// `true`, `false`, `"read-only"` or `"tmpfs"`.
    pub(super) protect_home: Option<S<toml::Value>>,
    pub(super) read_only_paths: Option<S<Vec<S<String>>>>,
    pub(super) read_write_paths: Option<S<Vec<S<String>>>>,
    pub(super) condition_path_exists: Option<S<Vec<S<String>>>>,
    pub(super) credentials: Option<BTreeMap<S<String>, S<String>>>,
    /// `[systemd]`: `Key = "value"` (or a list, one line each) carried into `[Service]`;
    /// `[systemd.unit]` and `[systemd.install]` into those sections.
    pub(super) systemd: Option<S<toml::Table>>,
    pub(super) not_carried: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLaunchd {
    pub(super) label_prefix: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) nofile: Option<S<toml::Value>>,
    pub(super) nproc: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) file: Option<S<String>>,
    pub(super) max_size: Option<S<toml::Value>>,
    pub(super) keep: Option<S<i64>>,
    pub(super) stderr: Option<S<String>>,
    pub(super) timestamps: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHealth {
    pub(super) tcp: Option<S<String>>,
    pub(super) http: Option<S<String>>,
    pub(super) exec: Option<S<Vec<S<String>>>>,
    pub(super) timeout: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProject {
    pub(super) services: BTreeMap<String, RawService>,
    #[serde(default)]
    pub(super) groups: BTreeMap<String, S<Vec<S<String>>>>,
}
