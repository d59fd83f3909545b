//! The `[Service]` section, key by key: each setting becomes the portable key that says exactly
//! the same, goes verbatim into the `[systemd]` table, or is refused with its line. The
//! `Exec*=` lines are handed to `commands`.

use super::Importer;
use crate::dialect::unit_file::{self, Setting};

impl Importer {
    pub(super) fn service(&mut self, s: &Setting) {
        let key = s.key.as_str();
        match key {
            // Still read in [Service], where they were before systemd 230 (not the `Sec` name).
            "StartLimitInterval" | "StartLimitBurst" => self.unit(s),
            "StartLimitIntervalSec" => self.lose(
                s.line,
                key,
                "systemd ignores it in [Service] (it belongs in [Unit]): move it, then import",
            ),
            "Type" => match s.value.as_str() {
                "simple" | "exec" | "notify" | "forking" | "oneshot" | "idle" => {
                    self.set("type", s.value.clone())
                }
                other => self.lose(
                    s.line,
                    key,
                    format!("Type={other} has no portable equivalent"),
                ),
            },
            "ExecStart" | "ExecStartPre" | "ExecStartPost" | "ExecStop" | "ExecStopPost"
            | "ExecReload" => {
                let target = match key {
                    "ExecStart" => "exec",
                    "ExecStartPre" => "pre_start",
                    "ExecStartPost" => "post_start",
                    "ExecStop" => "stop_exec",
                    "ExecStopPost" => "post_stop",
                    _ => "reload_exec",
                };
                if s.value.is_empty() {
                    self.commands.retain(|c| c.1 != target);
                    return;
                }
                self.exec_line(s, target);
            }
            "PIDFile" => {
                if let Some(v) = self.specifiers(s, &s.value) {
                    self.set("pid_file", v);
                }
            }
            "RemainAfterExit" => {
                if let Some(b) = self.boolean(s) {
                    self.set("remain_after_exit", b);
                }
            }
            "User" | "Group" => {
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                self.set(&key.to_ascii_lowercase(), v);
            }
            "WorkingDirectory" => match self.specifiers(s, &s.value) {
                Some(v) if v.starts_with('/') => self.set("working_dir", v),
                Some(v) => self.lose(
                    s.line,
                    key,
                    format!("`{v}`: only an absolute, required directory is portable"),
                ),
                None => {}
            },
            "Environment" => {
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                match unit_file::words(&v) {
                    Ok(words) => {
                        for w in words.into_iter().flatten() {
                            match w.split_once('=') {
                                Some((k, val)) if crate::model::spec::check_env_name(k).is_ok() => {
                                    self.env.insert(k.to_string(), val.into());
                                }
                                _ => self.lose(
                                    s.line,
                                    key,
                                    format!("`{w}` is not a portable assignment"),
                                ),
                            }
                        }
                    }
                    Err(why) => self.lose(s.line, key, why),
                }
            }
            "EnvironmentFile" => {
                if let Some(v) = self.specifiers(s, &s.value) {
                    self.env_files.push(v);
                }
            }
            "Restart" => match s.value.as_str() {
                "no" | "on-failure" | "always" | "on-abnormal" | "on-abort" => {
                    self.set("restart", s.value.clone())
                }
                other => self.lose(
                    s.line,
                    key,
                    format!("Restart={other} has no portable equivalent"),
                ),
            },
            "RestartSec" => match self.duration(s) {
                Some(Some(d)) => self.set("restart_delay", d),
                Some(None) => self.lose(s.line, key, "an infinite restart delay"),
                None => {}
            },
            "TimeoutStopSec" => match self.duration(s) {
                Some(Some(d)) if d != "0s" => self.set("stop_timeout", d),
                Some(_) => self.set("stop_timeout", "infinity"),
                None => {}
            },
            "KillSignal" => {
                let name = s.value.strip_prefix("SIG").unwrap_or(&s.value);
                match crate::model::signal::Signal::from_name(name) {
                    Some(_) => self.set("stop_signal", name),
                    None => self.lose(
                        s.line,
                        key,
                        format!("`{}` is no signal svc-any knows", s.value),
                    ),
                }
            }
            "KillMode" => match s.value.as_str() {
                "control-group" => self.set("kill_mode", "group"),
                "process" | "mixed" => self.set("kill_mode", s.value.clone()),
                other => self.lose(
                    s.line,
                    key,
                    format!("KillMode={other} has no portable equivalent"),
                ),
            },
            "SuccessExitStatus" | "RestartPreventExitStatus" => {
                let target = match key {
                    "SuccessExitStatus" => "success_exit_codes",
                    _ => "restart_prevent_exit_codes",
                };
                for word in s.value.split_whitespace() {
                    match word.parse::<u8>() {
                        Ok(code) => {
                            let list = self
                                .t
                                .entry(target)
                                .or_insert(toml::Value::Array(Vec::new()));
                            if let toml::Value::Array(a) = list {
                                a.push(i64::from(code).into());
                            }
                        }
                        // Death by the stop signal is always clean in svc-any.
                        Err(_)
                            if key == "SuccessExitStatus" && matches!(word, "SIGTERM" | "TERM") => {
                        }
                        Err(_) => self.lose(
                            s.line,
                            key,
                            format!("`{word}`: only exit codes are portable"),
                        ),
                    }
                }
            }
            "LimitNOFILE" | "LimitNPROC" => {
                let which = if key == "LimitNOFILE" {
                    "nofile"
                } else {
                    "nproc"
                };
                let value: Option<toml::Value> = match s.value.as_str() {
                    "infinity" => Some("infinity".into()),
                    v => v
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .map(toml::Value::from),
                };
                match value {
                    Some(v) => {
                        let limits = self
                            .t
                            .entry("limits")
                            .or_insert(toml::Value::Table(toml::Table::new()));
                        if let toml::Value::Table(l) = limits {
                            l.insert(which.into(), v);
                        }
                    }
                    None => self.verbatim("service", s),
                }
            }
            "RuntimeDirectory" | "StateDirectory" | "LogsDirectory" | "ConfigurationDirectory" => {
                let target = match key {
                    "RuntimeDirectory" => "runtime_dir",
                    "StateDirectory" => "state_dir",
                    "LogsDirectory" => "logs_dir",
                    _ => "config_dir",
                };
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                // systemd reads `name/` as `name`.
                let list = self
                    .t
                    .entry(target)
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.extend(
                        v.split_whitespace()
                            .map(|n| toml::Value::from(n.trim_end_matches('/'))),
                    );
                }
            }
            "RuntimeDirectoryMode"
            | "StateDirectoryMode"
            | "LogsDirectoryMode"
            | "ConfigurationDirectoryMode"
            | "UMask" => {
                let target = match key {
                    "RuntimeDirectoryMode" => "runtime_dir_mode",
                    "StateDirectoryMode" => "state_dir_mode",
                    "LogsDirectoryMode" => "logs_dir_mode",
                    "ConfigurationDirectoryMode" => "config_dir_mode",
                    _ => "umask",
                };
                match u32::from_str_radix(&s.value, 8) {
                    Ok(m) => self.set(target, format!("{m:04o}")),
                    Err(_) => self.lose(s.line, key, format!("`{}` is not an octal mode", s.value)),
                }
            }
            "SupplementaryGroups" => {
                let list = self
                    .t
                    .entry("supplementary_groups")
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.extend(s.value.split_whitespace().map(toml::Value::from));
                }
            }
            "NoNewPrivileges" | "PrivateTmp" | "PrivateDevices" => {
                let target = match key {
                    "NoNewPrivileges" => "no_new_privileges",
                    "PrivateTmp" => "private_tmp",
                    _ => "private_devices",
                };
                if let Some(b) = self.boolean(s) {
                    if b {
                        self.set(target, true);
                    } else {
                        self.t.remove(target);
                    }
                }
            }
            "ProtectSystem" | "ProtectHome" => {
                let target = if key == "ProtectSystem" {
                    "protect_system"
                } else {
                    "protect_home"
                };
                let v: Option<toml::Value> = match (key, s.value.as_str()) {
                    (_, v) if unit_file::boolean(v) == Some(true) => Some(true.into()),
                    (_, v) if unit_file::boolean(v) == Some(false) => None,
                    ("ProtectSystem", v @ ("full" | "strict")) => Some(v.into()),
                    ("ProtectHome", v @ ("read-only" | "tmpfs")) => Some(v.into()),
                    _ => {
                        self.lose(
                            s.line,
                            key,
                            format!("`{}` has no portable equivalent", s.value),
                        );
                        return;
                    }
                };
                match v {
                    Some(v) => self.set(target, v),
                    None => {
                        self.t.remove(target);
                    }
                }
            }
            "ReadOnlyPaths" | "ReadWritePaths" | "ReadWriteDirectories" => {
                let target = if key == "ReadOnlyPaths" {
                    "read_only_paths"
                } else {
                    "read_write_paths"
                };
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                if v.contains(['"', '\'', '\\', '+']) {
                    self.verbatim("service", s);
                    return;
                }
                let list = self
                    .t
                    .entry(target)
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.extend(v.split_whitespace().map(toml::Value::from));
                }
            }
            "CapabilityBoundingSet" | "AmbientCapabilities" => {
                let which = if key == "CapabilityBoundingSet" {
                    "b"
                } else {
                    "a"
                };
                self.caps_lines.push((
                    s.line,
                    if which == "b" {
                        "CapabilityBoundingSet"
                    } else {
                        "AmbientCapabilities"
                    },
                    s.value.clone(),
                ));
                let plain = !s.value.starts_with('~');
                let caps: Vec<String> = s.value.split_whitespace().map(String::from).collect();
                let slot = if which == "b" {
                    &mut self.caps_bounding
                } else {
                    &mut self.caps_ambient
                };
                match (plain, slot.as_mut()) {
                    (true, Some(list)) if !caps.is_empty() => list.extend(caps),
                    (true, _) => *slot = Some(caps),
                    (false, _) => *slot = Some(vec!["~".into()]),
                }
            }
            "StandardError" if s.value == "inherit" => {}
            // svc-any's own default: the journal.
            "StandardOutput" if s.value == "journal" => {}
            // Every command but the main one runs with full privileges: `+` on each.
            "PermissionsStartOnly" => {
                if let Some(true) = self.boolean(s) {
                    self.permissions_start_only = true;
                }
            }
            _ => self.verbatim("service", s),
        }
    }
}
