//! `[systemd]`, `[systemd.unit]` and `[systemd.install]`: settings carried verbatim into the
//! unit, checked so that each is one line of a real setting name and says nothing a portable
//! key (or svc-any itself) already writes.

use crate::model::error::{bad, BadInput};

use super::super::daemon::{Daemon, SystemdExtras};
use super::super::location::Source;
use super::super::raw::{RawService, S};

/// Settings svc-any writes itself on every unit: `[systemd]` may not repeat them.
const ALWAYS_WRITTEN: &[&str] = &[
    "Description",
    "StartLimitIntervalSec",
    "StartLimitBurst",
    "Type",
    "ExecStart",
    "Restart",
    "RestartSec",
    "KillSignal",
    "TimeoutStopSec",
    "SuccessExitStatus",
    "WantedBy",
];

/// Settings a portable key writes, by key: `[systemd]` may use them only while that key is unset.
fn written_by_key(d: &Daemon, raw: &RawService) -> Vec<(&'static str, &'static [&'static str])> {
    let mut out: Vec<(&'static str, &'static [&'static str])> = Vec::new();
    let mut when = |set: bool, key: &'static str, settings: &'static [&'static str]| {
        if set {
            out.push((key, settings));
        }
    };
    when(d.pid_file.is_some(), "pid_file", &["PIDFile"]);
    when(
        d.remain_after_exit,
        "remain_after_exit",
        &["RemainAfterExit"],
    );
    when(!d.pre_start.is_empty(), "pre_start", &["ExecStartPre"]);
    when(!d.post_start.is_empty(), "post_start", &["ExecStartPost"]);
    when(!d.stop_exec.is_empty(), "stop_exec", &["ExecStop"]);
    when(!d.post_stop.is_empty(), "post_stop", &["ExecStopPost"]);
    when(
        !d.reload_exec.is_empty() || raw.reload_signal.is_some(),
        "reload_exec",
        &["ExecReload"],
    );
    when(
        d.runtime_dir.is_some(),
        "runtime_dir",
        &["RuntimeDirectory", "RuntimeDirectoryMode"],
    );
    when(
        d.state_dir.is_some(),
        "state_dir",
        &["StateDirectory", "StateDirectoryMode"],
    );
    when(
        d.logs_dir.is_some(),
        "logs_dir",
        &["LogsDirectory", "LogsDirectoryMode"],
    );
    when(
        d.config_dir.is_some(),
        "config_dir",
        &["ConfigurationDirectory", "ConfigurationDirectoryMode"],
    );
    when(d.kill_mode.is_some(), "kill_mode", &["KillMode"]);
    when(
        !d.restart_prevent_exit_codes.is_empty(),
        "restart_prevent_exit_codes",
        &["RestartPreventExitStatus"],
    );
    when(raw.user.is_some(), "user", &["User"]);
    when(raw.group.is_some(), "group", &["Group"]);
    when(
        raw.working_dir.is_some(),
        "working_dir",
        &["WorkingDirectory"],
    );
    when(raw.env.is_some(), "env", &["Environment"]);
    when(raw.env_file.is_some(), "env_file", &["EnvironmentFile"]);
    when(
        raw.log.is_some(),
        "log",
        &["StandardOutput", "StandardError"],
    );
    when(
        raw.limits.as_ref().is_some_and(|l| l.nofile.is_some()),
        "limits.nofile",
        &["LimitNOFILE"],
    );
    when(
        raw.limits.as_ref().is_some_and(|l| l.nproc.is_some()),
        "limits.nproc",
        &["LimitNPROC"],
    );
    when(d.umask.is_some(), "umask", &["UMask"]);
    when(
        !d.supplementary_groups.is_empty(),
        "supplementary_groups",
        &["SupplementaryGroups"],
    );
    when(
        d.no_new_privileges,
        "no_new_privileges",
        &["NoNewPrivileges"],
    );
    when(
        d.capabilities.is_some(),
        "capabilities",
        &["CapabilityBoundingSet", "AmbientCapabilities"],
    );
    when(d.private_tmp, "private_tmp", &["PrivateTmp"]);
    when(d.private_devices, "private_devices", &["PrivateDevices"]);
    when(
        d.protect_system.is_some(),
        "protect_system",
        &["ProtectSystem"],
    );
    when(d.protect_home.is_some(), "protect_home", &["ProtectHome"]);
    when(
        !d.read_only_paths.is_empty(),
        "read_only_paths",
        &["ReadOnlyPaths"],
    );
    when(
        !d.read_write_paths.is_empty(),
        "read_write_paths",
        &["ReadWritePaths"],
    );
    when(
        !d.credentials.is_empty(),
        "credentials",
        &["LoadCredential"],
    );
    when(
        !d.condition_path_exists.is_empty(),
        "condition_path_exists",
        &["ConditionPathExists"],
    );
    when(
        !d.documentation.is_empty(),
        "documentation",
        &["Documentation"],
    );
    when(!d.aliases.is_empty(), "aliases", &["Alias"]);
    when(
        raw.after.is_some() || raw.requires.is_some(),
        "after/requires",
        &[],
    );
    out
}

/// `[systemd]`: lines carried verbatim. A key must look like a systemd setting, a value fit on
/// one line, and nothing may say again what svc-any writes itself.
pub(super) fn systemd_table(
    src: &Source,
    table: &S<toml::Table>,
    d: &Daemon,
    raw: &RawService,
) -> Result<SystemdExtras, BadInput> {
    let mut out = SystemdExtras::default();
    let by_key = written_by_key(d, raw);
    let located = |key: &str, message: String| -> BadInput {
        let full = format!("systemd.{key}");
        let at = src
            .locate_key(&full)
            .unwrap_or_else(|| src.locate(table.span().start));
        bad(message).at(at).key(full)
    };
    let lines = |section: &str,
                 t: &toml::Table,
                 into: &mut Vec<(String, String)>|
     -> Result<(), BadInput> {
        for (k, v) in t {
            let path = match section {
                "service" => k.clone(),
                s => format!("{s}.{k}"),
            };
            let setting_ok = k.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && k.chars().all(|c| c.is_ascii_alphanumeric());
            if !setting_ok {
                return Err(located(&path, format!("`{k}` is not a systemd setting name"))
                    .hint("settings are written as systemd writes them: ProtectKernelTunables = \"yes\""));
            }
            if section == "install" && k == "Also" {
                let values: Vec<&str> = match v {
                    toml::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                let bad_unit = values.iter().flat_map(|v| v.split_whitespace()).find(|u| {
                    !matches!(
                        super::super::deps::Dependency::parse(u),
                        Ok(super::super::deps::Dependency::Native(_))
                    )
                });
                if let Some(u) = bad_unit {
                    return Err(located(&path, format!("`{u}` is not a systemd unit name for Also="))
                        .hint("Also = [\"NAME.socket\"]: units svc-any enables with this one through systemctl"));
                }
            }
            let further_target = section == "install" && k == "WantedBy";
            if further_target {
                let values = match v {
                    toml::Value::Array(a) => {
                        a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>()
                    }
                    other => other.as_str().into_iter().collect(),
                };
                if let Some(t) = values.iter().find(|t| {
                    !t.ends_with(".target")
                        || t.contains(char::is_whitespace)
                        || **t == "multi-user.target"
                }) {
                    return Err(located(&path, format!("`{t}`: svc-any enables in multi-user.target itself; further WantedBy= are single .target names"))
                        .hint("WantedBy = [\"printer.target\"]"));
                }
            } else if ALWAYS_WRITTEN.contains(&k.as_str()) {
                return Err(located(&path, format!("svc-any writes `{k}=` itself"))
                    .hint("use the portable key for it (see the README's systemd table)"));
            }
            if let Some((key, _)) = by_key.iter().find(|(_, s)| s.contains(&k.as_str())) {
                return Err(
                    located(&path, format!("`{key}` already writes `{k}=`")).hint(format!(
                        "keep one: the portable `{key}`, or drop it for `[systemd] {k}`"
                    )),
                );
            }
            if matches!(
                k.as_str(),
                "After" | "Requires" | "Wants" | "Before" | "PartOf" | "BindsTo" | "Conflicts"
            ) {
                return Err(located(&path, format!("`{k}=` is a dependency"))
                    .hint("use the portable keys after, requires, wants, before, part_of, binds_to, conflicts"));
            }
            let values: Vec<String> = match v {
                toml::Value::Array(a) => a.iter().map(scalar).collect::<Option<_>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                located(
                    &path,
                    "a value is a string, number, boolean or a list of them".into(),
                )
            })?;
            for value in values {
                if value.contains(['\n', '\r', '\0']) || value.ends_with('\\') {
                    return Err(located(
                        &path,
                        "a value must fit on one line and not end in `\\`".into(),
                    ));
                }
                into.push((k.clone(), value));
            }
        }
        Ok(())
    };
    let mut service = toml::Table::new();
    for (k, v) in table.get_ref() {
        match (k.as_str(), v) {
            ("unit", toml::Value::Table(t)) => lines("unit", t, &mut out.unit)?,
            ("install", toml::Value::Table(t)) => lines("install", t, &mut out.install)?,
            _ => {
                service.insert(k.clone(), v.clone());
            }
        }
    }
    lines("service", &service, &mut out.service)?;
    Ok(out)
}

/// A TOML scalar as systemd text (booleans as `yes`/`no`).
fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(if *b { "yes" } else { "no" }.into()),
        _ => None,
    }
}
