//! Raw values to typed ones (durations, signals, paths), one group of keys per file. The order
//! of the checks below is the order of the complaints a user sees: the first one wins.

mod commands;
mod daemon;
mod dependencies;
mod directories;
mod environment;
mod health;
mod lifecycle;
mod names;
mod privileges;
mod process;
mod readiness;
mod relations;
mod resources;
mod sandbox;
mod stopping;
mod systemd_table;

use std::time::Duration;

use crate::model::error::BadInput;

use super::location::Source;
use super::model::Service;
use super::parse::ParseOptions;
use super::raw::{RawService, S};

pub use commands::check_references;
pub use health::{parse_http_url, parse_tcp_target};
pub use names::check_name;
pub use privileges::capability_number;
pub use process::{check_absolute, check_env_name, MAX_ARG_BYTES};

/// One service table, checked key by key; `fallback_name` is the file's or the table's name.
pub(super) fn validate(
    src: &Source,
    raw: RawService,
    fallback_name: Option<&str>,
    opts: &ParseOptions,
) -> Result<Service, BadInput> {
    let name = names::service_name(src, &raw.name, fallback_name)?;
    let exec = process::exec(src, &raw.exec)?;
    let level = process::level(src, &raw.level, opts)?;
    let description = process::description(src, &raw.description, &name)?;
    let instances = names::instances(src, &raw.instances, &name)?;
    let user = account(src, "user", &raw.user, opts, level, &instances)?;
    let group = account(src, "group", &raw.group, opts, level, &instances)?;
    let working_dir = process::path_key(src, "working_dir", &raw.working_dir)?;
    let (env_file, env_files) = environment::env_file(src, &raw.env_file)?;
    let env = process::env(src, &raw.env)?;
    let lifecycle::RestartAndStop {
        restart,
        restart_delay,
        restart_max_delay,
        restart_limit,
        restart_limit_interval,
        stop_signal,
        stop_timeout,
        reload_signal,
        success_exit_codes,
        stop_timeout_infinity,
    } = lifecycle::restart_and_stop(src, &raw)?;
    let after =
        dependencies::dependency_list(src, "after", &raw.after, &name, !instances.is_empty())?;
    let requires = dependencies::dependency_list(
        src,
        "requires",
        &raw.requires,
        &name,
        !instances.is_empty(),
    )?;
    let limits = resources::limits(src, &raw.limits)?;
    let log = resources::log(src, &raw.log)?;
    let health = match &raw.health {
        None => None,
        Some(h) => Some(health::health(src, h)?),
    };
    let launchd_label_prefix = names::label_prefix(src, &raw.launchd)?;
    let mut daemon = daemon::daemon(src, &raw, &name, &exec, opts, level)?;
    daemon.env_files = env_files;
    daemon.stop_timeout_infinity = stop_timeout_infinity;
    let export = match raw.export.map(|e| e.validate()).transpose() {
        Ok(export) => export,
        Err(e) => return Err(src.error(e.span, &e.key, e.message).hint(e.hint)),
    };

    let service = Service {
        name,
        description,
        exec,
        user,
        group,
        working_dir,
        env,
        env_file,
        restart,
        restart_delay,
        restart_max_delay,
        restart_limit,
        restart_limit_interval,
        stop_signal,
        stop_timeout,
        reload_signal,
        success_exit_codes,
        after,
        requires,
        limits,
        log,
        health,
        instances,
        level,
        groups: Vec::new(),
        launchd_label_prefix,
        daemon,
        source: src.path.clone(),
        export,
        env_hidden: false,
    };
    names::check_placeholders(&service)?;
    Ok(service)
}

/// `user` or `group`, which may name an account per instance (`app-{instance}`, systemd's
/// `User=app-%i`): then each instance's name is checked.
fn account(
    src: &Source,
    key: &str,
    raw: &Option<S<String>>,
    opts: &ParseOptions,
    level: super::model::Level,
    instances: &[String],
) -> Result<Option<String>, BadInput> {
    let Some(v) = raw else { return Ok(None) };
    if !v.get_ref().contains(super::model::INSTANCE_PLACEHOLDER) {
        return process::account_key(src, key, raw, opts, level);
    }
    if instances.is_empty() {
        return Err(src
            .error(
                v.span(),
                key,
                "uses {instance} but the service has no instances",
            )
            .hint("add instances = [\"1\", \"2\"], or remove {instance}"));
    }
    for i in instances {
        let one = v.get_ref().replace(super::model::INSTANCE_PLACEHOLDER, i);
        let spanned = Some(toml::Spanned::new(v.span(), one));
        process::account_key(src, key, &spanned, opts, level)?;
    }
    Ok(Some(v.get_ref().clone()))
}

/// A duration written as text with a unit; a bare number is refused, since nobody can tell
/// whether `10` meant seconds or milliseconds.
fn duration_key(
    src: &Source,
    key: &str,
    v: &Option<S<toml::Value>>,
) -> Result<Option<Duration>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let hint = "write a duration as a string with a unit: \"500ms\", \"1s\", \"2m\"";
    match v.get_ref() {
        toml::Value::String(s) => crate::model::duration::parse_duration(s)
            .map(Some)
            .map_err(|m| src.error(v.span(), key, m).hint(hint)),
        other => Err(src
            .error(
                v.span(),
                key,
                format!("expected a duration string, found {}", other.type_str()),
            )
            .hint(hint)),
    }
}
