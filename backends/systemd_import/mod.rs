//! `svc-any import`: a systemd unit to a definition, setting by setting, or refused with every
//! setting it cannot carry and its line.
//!
//! A setting becomes a portable key where one says exactly the same; systemd's defaults that
//! differ from svc-any's (`Type=simple`, `Restart=no`, `RestartSec=100ms`,
//! `TimeoutStopSec=90s`, `StartLimitBurst=5`) are written out, so the definition renders back
//! to the same unit. A `[Service]` or `[Unit]` setting no portable key says goes into the
//! `[systemd]` table verbatim; what neither can carry (`@`, `!`, `!!` before a command, a
//! template unit, a specifier with no portable meaning) is refused.
//!
//! The import reads the unit with the shared unit-file parser and hands each setting to the
//! module of its section; what is only known at the end (commands, capabilities, defaults)
//! is assembled last:
//! - `specifiers`: the `%` specifiers a value may hold, and which of them are portable;
//! - `unit_and_install`: `[Unit]` (description, dependencies, start limits) and `[Install]`;
//! - `service_section`: `[Service]`, key by key;
//! - `commands`: the `Exec*=` lines, their prefixes (`-`, `+`, `:`, refused `@`, `!`, `!!`) and
//!   `$` expansion;
//! - `assemble`: the definition made from all of it, with systemd's defaults written out.

mod assemble;
mod commands;
mod service_section;
mod specifiers;
mod unit_and_install;

use std::collections::BTreeMap;

use crate::dialect::unit_file::{self, Setting};

/// One setting that cannot be carried: its line, key and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub line: usize,
    pub key: String,
    pub why: String,
}

/// What an import gives: the definition as a TOML table, the notes that say where it differs
/// from the unit without losing meaning, and whether it needed a `[systemd]` table.
#[derive(Debug, Clone)]
pub struct Imported {
    pub name: String,
    pub table: toml::Table,
    pub notes: Vec<String>,
    pub portable: bool,
}

/// Imports the unit `file_name` (`ssh.service`) whose text is `text`. A template unit
/// (`NAME@.service`) needs the instance names svc-any is to run: `instances`.
pub fn import(file_name: &str, text: &str, instances: &[String]) -> Result<Imported, Vec<Loss>> {
    let mut i = Importer::new(file_name);
    i.instances = instances.to_vec();
    let settings = match unit_file::parse(text) {
        Ok(s) => s,
        Err((line, why)) => {
            return Err(vec![Loss {
                line,
                key: String::new(),
                why,
            }])
        }
    };
    if let Some(stem) = i.name.strip_suffix('@') {
        i.name = stem.to_string();
        if instances.is_empty() {
            i.lose(
                1,
                "",
                "a template unit: svc-any needs the instance names (import --instances A,B)",
            );
        } else {
            let list = instances
                .iter()
                .map(|n| toml::Value::from(n.as_str()))
                .collect();
            i.t.insert("instances".into(), toml::Value::Array(list));
        }
    } else if !instances.is_empty() {
        i.lose(1, "", "--instances is for a template unit (NAME@.service)");
    }
    for s in &settings {
        i.setting(s);
    }
    i.finish()
}

struct Importer {
    name: String,
    unit_name: String,
    t: toml::Table,
    instances: Vec<String>,
    systemd: BTreeMap<&'static str, toml::Table>,
    losses: Vec<Loss>,
    notes: Vec<String>,
    /// Exec lines kept until the end, when it is known whether any needs expansion.
    commands: Vec<(usize, &'static str, String, Vec<String>, bool)>,
    deps: BTreeMap<&'static str, Vec<String>>,
    caps_bounding: Option<Vec<String>>,
    caps_ambient: Option<Vec<String>>,
    caps_lines: Vec<(usize, &'static str, String)>,
    wanted_by: Vec<String>,
    permissions_start_only: bool,
    env_files: Vec<String>,
    env: toml::Table,
}

impl Importer {
    fn new(file_name: &str) -> Importer {
        let name = file_name
            .strip_suffix(".service")
            .unwrap_or(file_name)
            .to_string();
        Importer {
            name,
            unit_name: file_name.to_string(),
            t: toml::Table::new(),
            instances: Vec::new(),
            systemd: BTreeMap::new(),
            losses: Vec::new(),
            notes: Vec::new(),
            commands: Vec::new(),
            deps: BTreeMap::new(),
            caps_bounding: None,
            caps_ambient: None,
            caps_lines: Vec::new(),
            wanted_by: Vec::new(),
            permissions_start_only: false,
            env_files: Vec::new(),
            env: toml::Table::new(),
        }
    }

    fn lose(&mut self, line: usize, key: &str, why: impl Into<String>) {
        self.losses.push(Loss {
            line,
            key: key.to_string(),
            why: why.into(),
        });
    }

    fn set(&mut self, key: &str, value: impl Into<toml::Value>) {
        self.t.insert(key.to_string(), value.into());
    }

    fn verbatim(&mut self, section: &'static str, s: &Setting) {
        let table = self.systemd.entry(section).or_default();
        match table.get_mut(&s.key) {
            Some(toml::Value::Array(a)) => a.push(s.value.clone().into()),
            Some(other) => {
                let first = other.clone();
                *other = toml::Value::Array(vec![first, s.value.clone().into()]);
            }
            None => {
                table.insert(s.key.clone(), s.value.clone().into());
            }
        }
    }

    fn boolean(&mut self, s: &Setting) -> Option<bool> {
        let b = unit_file::boolean(&s.value);
        if b.is_none() {
            self.lose(s.line, &s.key, format!("`{}` is not a boolean", s.value));
        }
        b
    }

    fn duration(&mut self, s: &Setting) -> Option<Option<String>> {
        match unit_file::time_span(&s.value) {
            Ok(d) => Some(d.map(|d| humantime::format_duration(d).to_string())),
            Err(why) => {
                self.lose(s.line, &s.key, why);
                None
            }
        }
    }

    fn setting(&mut self, s: &Setting) {
        match s.section.as_str() {
            "Unit" => self.unit(s),
            "Service" => self.service(s),
            "Install" => self.install(s),
            other => self.lose(
                s.line,
                &s.key,
                format!("a section [{other}] svc-any does not carry"),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SSH: &str = "[Unit]\nDescription=OpenBSD Secure Shell server\nDocumentation=man:sshd(8) man:sshd_config(5)\nAfter=network.target auditd.service\nConditionPathExists=!/etc/ssh/sshd_not_to_be_run\n\n[Service]\nEnvironmentFile=-/etc/default/ssh\nExecStartPre=/usr/sbin/sshd -t\nExecStart=/usr/sbin/sshd -D $SSHD_OPTS\nExecReload=/usr/sbin/sshd -t\nExecReload=/bin/kill -HUP $MAINPID\nKillMode=process\nRestart=on-failure\nRestartPreventExitStatus=255\nType=notify\nRuntimeDirectory=sshd\nRuntimeDirectoryMode=0755\n\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n";

    #[test]
    fn debians_ssh_unit_imports_portably() {
        let i = import("ssh.service", SSH, &[]).unwrap();
        assert!(i.portable);
        let t = &i.table;
        assert_eq!(t["type"].as_str(), Some("notify"));
        assert_eq!(
            t["exec"],
            toml::Value::Array(vec![
                "/usr/sbin/sshd".into(),
                "-D".into(),
                "$SSHD_OPTS".into()
            ])
        );
        assert_eq!(t["exec_expand"].as_bool(), Some(true));
        assert_eq!(
            t["env_file"],
            toml::Value::Array(vec!["-/etc/default/ssh".into()])
        );
        assert_eq!(
            t["after"],
            toml::Value::Array(vec!["$network".into(), "auditd.service".into()])
        );
        assert_eq!(t["kill_mode"].as_str(), Some("process"));
        assert_eq!(t["aliases"], toml::Value::Array(vec!["sshd".into()]));
        assert_eq!(t["reload_exec"].as_array().unwrap().len(), 2);
        assert_eq!(t["restart_delay"].as_str(), Some("100ms"));
        assert_eq!(t["runtime_dir_mode"].as_str(), Some("0755"));
    }
    #[test]
    fn unknown_settings_go_verbatim_into_the_systemd_table() {
        let unit = "[Unit]\nDefaultDependencies=no\n[Service]\nExecStart=/bin/true\nProtectClock=yes\nSystemCallFilter=@system-service\nSystemCallFilter=~@privileged\n[Install]\nWantedBy=multi-user.target\n";
        let i = import("v.service", unit, &[]).unwrap();
        assert!(!i.portable);
        let sd = i.table["systemd"].as_table().unwrap();
        assert_eq!(sd["ProtectClock"].as_str(), Some("yes"));
        assert_eq!(
            sd["SystemCallFilter"],
            toml::Value::Array(vec!["@system-service".into(), "~@privileged".into()])
        );
        assert_eq!(sd["unit"]["DefaultDependencies"].as_str(), Some("no"));
    }
}
