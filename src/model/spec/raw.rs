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
    pub(super) env_file: Option<S<String>>,
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
