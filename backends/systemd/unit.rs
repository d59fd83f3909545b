//! The systemd unit file: the context its template is rendered with, and the lines of the keys
//! the template does not name one by one (`daemon_lines`), each a definition key mapped to its
//! setting and its value escaped by [`crate::dialect::escape::systemd`]. The secrets of `env`
//! go to a file of their own (`secret_env`), since every local user may read a unit.
//!
//! Kept apart from the control code in `mod.rs`: this is the whole of what a definition means
//! as a unit, and it is pure (reads nothing but the systemd version, writes nothing).

use anyhow::Result;

use super::{wanted_by, Systemd};
use crate::dialect::escape::{systemd as esc, Unrepresentable};
use crate::dialect::render::{self, FileSpec};
use crate::model::duration::seconds_text;
use crate::model::error::{bad, BadInput};
use crate::model::spec::{
    Command as SpecCommand, Dependency, DirKind, Facility, KillMode, Limit, ProtectHome,
    ProtectSystem, Service, INSTANCE_PLACEHOLDER,
};
use crate::system::host::Ctx;
use crate::system::version;

/// A dependency as a unit name: svc-any names get `.service`, systemd's own units pass through,
/// a facility is its target (or socket).
fn dependency_unit(dep: &Dependency) -> String {
    match dep {
        Dependency::Service(name) => format!("{name}.service"),
        Dependency::Native(unit) => unit.clone(),
        Dependency::Facility(f) => f.systemd_unit().to_string(),
    }
}

/// One `Exec*=` value: `-` for may-fail, `+` for privileged, then the escaped line.
fn command_line(command: &SpecCommand, expand: bool) -> Result<String, Unrepresentable> {
    let line = match expand {
        true => esc::exec_line_expanding(&command.exec)?,
        false => esc::exec_line(&command.exec)?,
    };
    let mut prefix = String::new();
    if command.may_fail {
        prefix.push('-');
    }
    if command.privileged {
        prefix.push('+');
    }
    Ok(prefix + &line)
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Value(n) => n.to_string(),
        Limit::Infinity => "infinity".into(),
    }
}

/// Maps an escaper's refusal to bad input naming the key.
fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("systemd cannot carry it in a unit file; change the value")
    }
}

/// Where a service's `env` values go, and the `EnvironmentFile=` line that reads them: a file
/// in svc-any's state directory that only its owner reads (0600), since the unit itself is
/// readable by every local user and the values may be secrets. Values that name the instance
/// get a file per instance (an environment file has no `%i`); its path has one instead.
pub(super) fn secret_env(ctx: &Ctx, service: &Service) -> Result<Option<(String, Vec<FileSpec>)>> {
    if service.env.is_empty() {
        return Ok(None);
    }
    let dir = ctx.state_dir().join("env");
    let per_instance = !service.instances.is_empty()
        && service
            .env
            .values()
            .any(|v| v.contains(INSTANCE_PLACEHOLDER));
    let mut files = Vec::new();
    let instances: Vec<Option<&str>> = match per_instance {
        true => service.instance_names(),
        false => vec![None],
    };
    for instance in instances {
        let mut content = format!(
            "{}\n# The environment of {}: only its owner may read it.\n",
            render::marker_line("#", &service.name, service.source.as_deref()),
            service.name
        );
        for (k, v) in &service.env {
            let v = match instance {
                Some(i) => v.replace(INSTANCE_PLACEHOLDER, i),
                None => v.clone(),
            };
            content.push_str(&esc::env_file_line(k, &v).map_err(field(&format!("env.{k}")))?);
        }
        let file = match instance {
            Some(i) => format!("{}@{i}.env", service.name),
            None => format!("{}.env", service.name),
        };
        files.push(FileSpec {
            path: dir.join(file),
            mode: 0o600,
            content,
        });
    }
    let path = match per_instance {
        true => dir.join(format!("{}@{INSTANCE_PLACEHOLDER}.env", service.name)),
        false => dir.join(format!("{}.env", service.name)),
    };
    let path = esc::raw_value(&path.display().to_string()).map_err(field("env"))?;
    let line = format!(
        "EnvironmentFile={}",
        path.replace(INSTANCE_PLACEHOLDER, "%i")
    );
    Ok(Some((line, files)))
}

/// Native backoff on systemd >= 254: from `RestartSec=` to `RestartMaxDelaySec=` in as many
/// steps as svc-any's doubling takes (systemd grows the delay geometrically between the two,
/// which is the same curve). Older versions get nothing: their fixed `RestartSec=` is the
/// documented fallback.
fn backoff_lines(service: &Service, version: Option<u32>) -> Vec<String> {
    let (delay, max) = (service.restart_delay, service.restart_max_delay);
    if version.is_none_or(|v| v < 254) || delay.is_zero() || max <= delay {
        return Vec::new();
    }
    let steps = (max.as_secs_f64() / delay.as_secs_f64())
        .log2()
        .ceil()
        .max(1.0) as u32;
    vec![
        format!("RestartSteps={steps}"),
        format!("RestartMaxDelaySec={}", seconds_text(max)),
    ]
}

/// Replaces `{instance}` with systemd's `%i` (after escaping, which leaves braces alone).
fn with_instance(service: &Service, text: String) -> String {
    if service.instances.is_empty() {
        text
    } else {
        text.replace(INSTANCE_PLACEHOLDER, "%i")
    }
}

impl Systemd {
    pub(super) fn context(&self, ctx: &Ctx, service: &Service) -> Result<tera::Context> {
        let inst = |text: String| with_instance(service, text);
        let mut c = render::context(service);
        c.insert(
            "description",
            &inst(esc::raw_value(&service.description).map_err(field("description"))?),
        );
        let deps = |list: &[Dependency]| {
            list.iter()
                .map(|d| inst(dependency_unit(d)))
                .collect::<Vec<_>>()
        };
        let mut after = deps(&service.after);
        // A hard dependency is also started first, as on every other backend.
        after.extend(
            deps(&service.requires)
                .into_iter()
                .filter(|d| !after.contains(d))
                .collect::<Vec<_>>(),
        );
        c.insert("after", &after);
        c.insert("requires", &deps(&service.requires));
        let part_of: Vec<String> = service
            .groups
            .iter()
            .map(|g| format!("{g}.target"))
            .collect();
        c.insert("part_of", &part_of);
        let exec_start = match service.daemon.exec_expand {
            true => esc::exec_line_expanding(&service.exec),
            false => esc::exec_line(&service.exec),
        };
        c.insert("exec_start", &inst(exec_start.map_err(field("exec"))?));
        c.insert(
            "service_type",
            service.daemon.service_type.map_or("exec", |t| t.as_str()),
        );
        // Without the `:` prefix on purpose: $MAINPID must be expanded here.
        let reload = service
            .reload_signal
            .map(|s| format!("/bin/kill -s {} $MAINPID", s.name()));
        c.insert("exec_reload", &reload);
        c.insert("user", &service.user.clone().map(inst));
        c.insert("group", &service.group.clone().map(inst));
        let working_directory = match &service.working_dir {
            Some(d) => Some(inst(esc::raw_value(d).map_err(field("working_dir"))?)),
            None => None,
        };
        c.insert("working_directory", &working_directory);
        // `env` values are not in the unit, which every local user may read: see `secret_env`.
        c.insert("environment", &Vec::<String>::new());
        let environment_file = match &service.env_file {
            Some(f) => Some(inst(esc::raw_value(f).map_err(field("env_file"))?)),
            None => None,
        };
        c.insert("environment_file", &environment_file);
        // systemd counts starts, the first included; svc-any counts automatic restarts.
        // StartLimitIntervalSec=0 turns the limit off, as restart_limit = 0 means.
        let (interval, burst) = match service.restart_limit {
            0 => ("0".to_string(), 1),
            n => (seconds_text(service.restart_limit_interval), n + 1),
        };
        c.insert("start_limit_interval_sec", &interval);
        c.insert("start_limit_burst", &burst);
        c.insert("restart", service.restart.as_str());
        let (unit_lines, mut service_lines, install_lines) = self.daemon_lines(service)?;
        service_lines.extend(backoff_lines(service, version::systemd(ctx)));
        // Last of the environment files, so that `env` wins over `env_file`, as everywhere.
        service_lines.extend(secret_env(ctx, service)?.map(|(line, _)| line));
        c.insert("unit_lines", &unit_lines);
        c.insert("service_lines", &service_lines);
        c.insert("install_lines", &install_lines);
        c.insert("restart_sec", &seconds_text(service.restart_delay));
        c.insert("kill_signal", &service.stop_signal.sig_name());
        let timeout_stop = match service.daemon.stop_timeout_infinity {
            true => "infinity".to_string(),
            false => seconds_text(service.stop_timeout),
        };
        c.insert("timeout_stop_sec", &timeout_stop);
        let mut success: Vec<String> = service
            .clean_exit_codes()
            .iter()
            .map(|c| c.to_string())
            .collect();
        success.push(service.stop_signal.sig_name());
        c.insert("success_exit_status", &success.join(" "));
        c.insert("limit_nofile", &service.limits.nofile.map(limit_text));
        c.insert("limit_nproc", &service.limits.nproc.map(limit_text));
        let standard_output = match &service.log {
            Some(log) => Some(format!(
                "append:{}",
                inst(esc::raw_value(&log.file).map_err(field("log.file"))?)
            )),
            None => None,
        };
        c.insert("standard_output", &standard_output);
        let standard_error = match service.log.as_ref().and_then(|l| l.stderr.as_ref()) {
            Some(file) => format!(
                "append:{}",
                inst(esc::raw_value(file).map_err(field("log.stderr"))?)
            ),
            None => "inherit".to_string(),
        };
        c.insert("standard_error", &standard_error);
        c.insert("wanted_by", wanted_by(ctx));
        Ok(c)
    }

    /// The lines of the keys of `daemon.rs` (and the env files of a list), by section, each
    /// `Setting=value` with the value escaped for its dialect.
    #[allow(clippy::type_complexity)]
    pub(super) fn daemon_lines(
        &self,
        service: &Service,
    ) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        let d = &service.daemon;
        let inst = |text: String| with_instance(service, text);
        let (mut unit, mut svc, mut install) = (Vec::new(), Vec::new(), Vec::new());
        for uri in &d.documentation {
            unit.push(format!(
                "Documentation={}",
                esc::raw_value(uri).map_err(field("documentation"))?
            ));
        }
        // network-online.target is passive: ordering after it means something only once it is
        // pulled in (not so for `before`, `conflicts`...).
        let wants_online = service
            .dependencies()
            .any(|(_, dep)| *dep == Dependency::Facility(Facility::NetworkOnline))
            && !d
                .wants
                .contains(&Dependency::Facility(Facility::NetworkOnline));
        if wants_online {
            unit.push("Wants=network-online.target".to_string());
        }
        for (key, list) in d.dependency_lists() {
            let setting = match key {
                "wants" => "Wants",
                "before" => "Before",
                "part_of" => "PartOf",
                "binds_to" => "BindsTo",
                _ => "Conflicts",
            };
            for dep in list {
                unit.push(format!("{setting}={}", inst(dependency_unit(dep))));
            }
        }
        for (name, path) in &d.credentials {
            svc.push(format!(
                "LoadCredential={name}:{}",
                inst(esc::path_word(path).map_err(field("credentials"))?)
            ));
        }
        for path in &d.condition_path_exists {
            let key = "condition_path_exists";
            unit.push(format!(
                "ConditionPathExists={}",
                inst(esc::raw_value(path).map_err(field(key))?)
            ));
        }
        for (k, v) in &d.systemd.unit {
            unit.push(format!("{k}={v}"));
        }
        if let Some(p) = &d.pid_file {
            svc.push(format!(
                "PIDFile={}",
                inst(esc::raw_value(p).map_err(field("pid_file"))?)
            ));
        }
        if d.remain_after_exit {
            svc.push("RemainAfterExit=yes".to_string());
        }
        for (key, setting, list) in [
            ("pre_start", "ExecStartPre", &d.pre_start),
            ("post_start", "ExecStartPost", &d.post_start),
            ("reload_exec", "ExecReload", &d.reload_exec),
            ("stop_exec", "ExecStop", &d.stop_exec),
            ("post_stop", "ExecStopPost", &d.post_stop),
        ] {
            for (i, command) in list.iter().enumerate() {
                let line =
                    command_line(command, d.exec_expand).map_err(field(&format!("{key}[{i}]")))?;
                svc.push(format!("{setting}={}", inst(line)));
            }
        }
        for f in &d.env_files {
            let path = inst(esc::raw_value(&f.path).map_err(field("env_file"))?);
            let dash = if f.optional { "-" } else { "" };
            svc.push(format!("EnvironmentFile={dash}{path}"));
        }
        for kind in DirKind::ALL {
            if let Some(dirs) = d.directories(kind) {
                let names: Vec<String> = dirs.names.iter().map(|n| inst(n.clone())).collect();
                svc.push(format!("{}={}", kind.systemd(), names.join(" ")));
                if let Some(mode) = dirs.mode {
                    svc.push(format!("{}Mode={mode:04o}", kind.systemd()));
                }
            }
        }
        if let Some(k) = d.kill_mode {
            let mode = match k {
                KillMode::Group => "control-group",
                KillMode::Process => "process",
                KillMode::Mixed => "mixed",
            };
            svc.push(format!("KillMode={mode}"));
        }
        if !d.restart_prevent_exit_codes.is_empty() {
            let codes: Vec<String> = d
                .restart_prevent_exit_codes
                .iter()
                .map(u8::to_string)
                .collect();
            svc.push(format!("RestartPreventExitStatus={}", codes.join(" ")));
        }
        if let Some(u) = d.umask {
            svc.push(format!("UMask={u:04o}"));
        }
        if !d.supplementary_groups.is_empty() {
            svc.push(format!(
                "SupplementaryGroups={}",
                d.supplementary_groups.join(" ")
            ));
        }
        if d.no_new_privileges {
            svc.push("NoNewPrivileges=yes".to_string());
        }
        if let Some(caps) = &d.capabilities {
            svc.push(format!("CapabilityBoundingSet={}", caps.join(" ")));
            svc.push(format!("AmbientCapabilities={}", caps.join(" ")));
        }
        if d.private_tmp {
            svc.push("PrivateTmp=yes".to_string());
        }
        if d.private_devices {
            svc.push("PrivateDevices=yes".to_string());
        }
        if let Some(p) = d.protect_system {
            let v = match p {
                ProtectSystem::Yes => "yes",
                ProtectSystem::Full => "full",
                ProtectSystem::Strict => "strict",
            };
            svc.push(format!("ProtectSystem={v}"));
        }
        if let Some(p) = d.protect_home {
            let v = match p {
                ProtectHome::Yes => "yes",
                ProtectHome::ReadOnly => "read-only",
                ProtectHome::Tmpfs => "tmpfs",
            };
            svc.push(format!("ProtectHome={v}"));
        }
        for (key, setting, list) in [
            ("read_only_paths", "ReadOnlyPaths", &d.read_only_paths),
            ("read_write_paths", "ReadWritePaths", &d.read_write_paths),
        ] {
            for p in list {
                let (dash, path) = match p.strip_prefix('-') {
                    Some(rest) => ("-", rest),
                    None => ("", p.as_str()),
                };
                svc.push(format!(
                    "{setting}={dash}{}",
                    inst(esc::path_word(path).map_err(field(key))?)
                ));
            }
        }
        for (k, v) in &d.systemd.service {
            svc.push(format!("{k}={v}"));
        }
        for alias in &d.aliases {
            let suffix = if service.instances.is_empty() {
                ""
            } else {
                "@"
            };
            install.push(format!("Alias={alias}{suffix}.service"));
        }
        for (k, v) in &d.systemd.install {
            install.push(format!("{k}={v}"));
        }
        Ok((unit, svc, install))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_become_unit_names() {
        let unit = |entry: &str| dependency_unit(&Dependency::parse(entry).unwrap());
        assert_eq!(unit("db"), "db.service");
        assert_eq!(unit("network-online.target"), "network-online.target");
        assert_eq!(unit("com.example.api"), "com.example.api.service");
        // Every unit type is systemd's own, the rarer ones too.
        assert_eq!(unit("dev-sda1.device"), "dev-sda1.device");
        assert_eq!(unit("home.automount"), "home.automount");
    }
}
