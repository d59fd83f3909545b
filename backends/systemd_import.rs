//! `svc-any import`: a systemd unit to a definition, setting by setting, or refused with every
//! setting it cannot carry and its line.
//!
//! A setting becomes a portable key where one says exactly the same; systemd's defaults that
//! differ from svc-any's (`Type=simple`, `Restart=no`, `RestartSec=100ms`,
//! `TimeoutStopSec=90s`, `StartLimitBurst=5`) are written out, so the definition renders back
//! to the same unit. A `[Service]` or `[Unit]` setting no portable key says goes into the
//! `[systemd]` table verbatim; what neither can carry (`@`, `!`, `!!` before a command, a
//! template unit, a specifier with no portable meaning) is refused.

use std::collections::BTreeMap;

use crate::dialect::unit_file::{self, Setting};
use crate::model::spec::{check_references, Facility};

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

    /// Resolves the specifiers svc-any can say (`%%`, `%n`, `%N`, `%p`, `%t`, `%S`, `%C`,
    /// `%L`, `%E`); any other is a loss.
    fn specifiers(&mut self, s: &Setting, value: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(x @ ('n' | 'N')) if !self.instances.is_empty() => {
                    out.push_str(&format!("{}@{{instance}}", self.name));
                    if x == 'n' {
                        out.push_str(".service");
                    }
                }
                Some('n') => out.push_str(&self.unit_name),
                Some('N') => out.push_str(self.unit_name.trim_end_matches(".service")),
                Some('p') | Some('P') => out.push_str(&self.name),
                // The instance: `{instance}`, which svc-any writes back as `%i`. `%I`, the
                // unescaped instance, is the same for names without `-` (systemd's escape
                // of `/`).
                Some('i') if !self.instances.is_empty() => out.push_str("{instance}"),
                Some('I')
                    if !self.instances.is_empty()
                        && !self.instances.iter().any(|n| n.contains('-')) =>
                {
                    out.push_str("{instance}")
                }
                Some('t') => out.push_str("/run"),
                Some('S') => out.push_str("/var/lib"),
                Some('C') => out.push_str("/var/cache"),
                Some('L') => out.push_str("/var/log"),
                Some('E') => out.push_str("/etc"),
                other => {
                    let spec = other.map_or("%".to_string(), |o| format!("%{o}"));
                    self.lose(
                        s.line,
                        &s.key,
                        format!("the specifier `{spec}` has no portable meaning"),
                    );
                    return None;
                }
            }
        }
        Some(out)
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

    fn unit(&mut self, s: &Setting) {
        match s.key.as_str() {
            "Description" => {
                if let Some(v) = self.specifiers(s, &s.value) {
                    self.set("description", v);
                }
            }
            "Documentation" => {
                let list = self
                    .t
                    .entry("documentation")
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.extend(s.value.split_whitespace().map(toml::Value::from));
                }
            }
            "After" | "Requires" | "Wants" | "Before" | "PartOf" | "BindsTo" | "Conflicts" => {
                let key = match s.key.as_str() {
                    "After" => "after",
                    "Requires" => "requires",
                    "Wants" => "wants",
                    "Before" => "before",
                    "PartOf" => "part_of",
                    "BindsTo" => "binds_to",
                    _ => "conflicts",
                };
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                for unit in v.split_whitespace() {
                    let entry = match facility_of(unit) {
                        Some(f) => format!("${}", f.name()),
                        None => unit.to_string(),
                    };
                    if crate::model::spec::Dependency::parse(&entry).is_err() {
                        self.lose(
                            s.line,
                            &s.key,
                            format!("`{unit}` is no unit name svc-any can carry"),
                        );
                        continue;
                    }
                    let list = self.deps.entry(key).or_default();
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
            "ConditionPathExists" => {
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                if v.starts_with('|') {
                    self.verbatim("unit", s);
                    return;
                }
                let list = self
                    .t
                    .entry("condition_path_exists")
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.push(v.into());
                }
            }
            "StartLimitIntervalSec" | "StartLimitInterval" => {
                if let Some(d) = self.duration(s) {
                    match d.as_deref() {
                        None | Some("0s") => self.set("restart_limit", 0),
                        Some(d) => self.set("restart_limit_interval", d),
                    }
                }
            }
            "StartLimitBurst" => match s.value.parse::<i64>() {
                Ok(n) if n >= 1 => self.set("restart_limit", n - 1),
                _ => self.lose(
                    s.line,
                    &s.key,
                    "svc-any's restart_limit counts restarts: a burst below 1 has no meaning",
                ),
            },
            _ => self.verbatim("unit", s),
        }
    }

    fn install(&mut self, s: &Setting) {
        match s.key.as_str() {
            "WantedBy" => self
                .wanted_by
                .extend(s.value.split_whitespace().map(String::from)),
            "Alias" => {
                for a in s.value.split_whitespace() {
                    match a.strip_suffix(".service") {
                        Some(name) if crate::model::spec::check_name(name).is_ok() => {
                            let list = self
                                .t
                                .entry("aliases")
                                .or_insert(toml::Value::Array(Vec::new()));
                            if let toml::Value::Array(l) = list {
                                l.push(name.into());
                            }
                        }
                        _ => self.lose(
                            s.line,
                            &s.key,
                            format!("`{a}` is not an alias svc-any can make"),
                        ),
                    }
                }
            }
            _ => self.verbatim("install", s),
        }
    }

    fn service(&mut self, s: &Setting) {
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

    fn exec_line(&mut self, s: &Setting, target: &'static str) {
        let Some(v) = self.specifiers(s, &s.value) else {
            return;
        };
        let mut rest = v.as_str();
        let (mut may_fail, mut privileged, mut no_expand) = (false, false, false);
        loop {
            if let Some(r) = rest.strip_prefix("!!") {
                self.lose(s.line, &s.key, "the `!!` prefix (privileges kept where ambient capabilities are missing) has no portable equivalent");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('!') {
                self.lose(s.line, &s.key, "the `!` prefix (run as root while User= sets up the rest) has no portable equivalent");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('@') {
                self.lose(
                    s.line,
                    &s.key,
                    "the `@` prefix (an argv[0] other than the program) has no portable equivalent",
                );
                rest = r;
            } else if let Some(r) = rest.strip_prefix('-') {
                may_fail = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix('+') {
                privileged = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix(':') {
                no_expand = true;
                rest = r;
            } else {
                break;
            }
        }
        let words = match unit_file::words(rest) {
            Ok(w) => w,
            Err(why) => return self.lose(s.line, &s.key, why),
        };
        let Some(argv) = words.into_iter().collect::<Option<Vec<String>>>() else {
            return self.lose(
                s.line,
                &s.key,
                "several commands on one line (`;`) have no portable equivalent",
            );
        };
        if argv.is_empty() {
            return self.lose(s.line, &s.key, "an empty command");
        }
        if target == "exec" {
            if may_fail {
                self.lose(s.line, &s.key, "the `-` prefix on the main command (any exit is success) has no portable equivalent");
            }
            if privileged {
                self.lose(
                    s.line,
                    &s.key,
                    "the `+` prefix on the main command has no portable equivalent",
                );
            }
            if self.commands.iter().any(|c| c.1 == "exec") {
                self.lose(
                    s.line,
                    &s.key,
                    "several ExecStart= lines have no portable equivalent",
                );
            }
        }
        let flags = (may_fail, privileged);
        let marker = if flags.0 { "-" } else { "" }.to_string() + if flags.1 { "+" } else { "" };
        self.commands
            .push((s.line, target, marker, argv, no_expand));
    }

    fn finish(mut self) -> Result<Imported, Vec<Loss>> {
        let t = &mut self.t;
        // systemd's defaults where they differ from svc-any's.
        t.entry("type").or_insert("simple".into());
        t.entry("restart").or_insert("no".into());
        t.entry("restart_delay").or_insert("100ms".into());
        t.entry("stop_timeout").or_insert("1m 30s".into());
        if !t.contains_key("restart_limit") {
            t.insert("restart_limit".into(), 4.into());
        }
        let stop = t
            .get("stop_signal")
            .and_then(|v| v.as_str())
            .unwrap_or("TERM")
            .to_string();
        if let Some(toml::Value::Array(codes)) = t.get_mut("success_exit_codes") {
            // 128 + the stop signal is clean in svc-any anyway.
            if let Some(sig) = crate::model::signal::Signal::from_name(&stop) {
                codes.retain(|c| c.as_integer() != Some(i64::from(sig.exit_code())));
            }
            if codes.is_empty() {
                t.remove("success_exit_codes");
            }
        }
        if !self.env.is_empty() {
            t.insert(
                "env".into(),
                toml::Value::Table(std::mem::take(&mut self.env)),
            );
        }
        match self.env_files.as_slice() {
            [] => {}
            [one] if !one.starts_with('-') => {
                t.insert("env_file".into(), one.clone().into());
            }
            many => {
                t.insert(
                    "env_file".into(),
                    toml::Value::Array(many.iter().map(|f| f.clone().into()).collect()),
                );
            }
        }
        // Capabilities: portable when the bounding and ambient sets are the same plain list.
        match (&self.caps_bounding, &self.caps_ambient) {
            (None, None) => {}
            (Some(b), Some(a)) if b == a && !b.iter().any(|c| c == "~") => {
                t.insert(
                    "capabilities".into(),
                    toml::Value::Array(b.iter().map(|c| c.clone().into()).collect()),
                );
            }
            // An empty bounding set leaves no capability to be ambient: the same as `[]`.
            (Some(b), None) if b.is_empty() => {
                t.insert("capabilities".into(), toml::Value::Array(Vec::new()));
            }
            // A root service has every capability of its bounding set already: the ambient
            // set svc-any adds changes nothing.
            (Some(b), None) if !b.iter().any(|c| c == "~") && !t.contains_key("user") => {
                t.insert(
                    "capabilities".into(),
                    toml::Value::Array(b.iter().map(|c| c.clone().into()).collect()),
                );
                self.notes.push("AmbientCapabilities= is set to the bounding set, which changes nothing for a root service".into());
            }
            _ => {
                for (_, key, value) in &self.caps_lines {
                    let table = self.systemd.entry("service").or_default();
                    push_verbatim(table, key, value);
                }
            }
        }
        // Dependencies; svc-any orders after what it requires, and pulls in network-online.
        for (key, list) in &self.deps {
            t.insert(
                (*key).into(),
                toml::Value::Array(list.iter().map(|d| d.clone().into()).collect()),
            );
        }
        let after = self.deps.get("after").cloned().unwrap_or_default();
        for r in self.deps.get("requires").into_iter().flatten() {
            if !after.contains(r) {
                self.notes.push(format!(
                    "svc-any orders after what it requires: After={} is added",
                    unit_of(r)
                ));
            }
        }
        if after
            .iter()
            .chain(self.deps.get("requires").into_iter().flatten())
            .any(|d| d == "$network-online")
            && !self
                .deps
                .get("wants")
                .is_some_and(|w| w.iter().any(|d| d == "$network-online"))
        {
            self.notes.push(
                "network-online.target is pulled in (Wants=), as systemd advises for After=".into(),
            );
        }
        // svc-any always enables in multi-user.target; further targets go into [systemd.install].
        let multi_user = "multi-user.target".to_string();
        match self.wanted_by.as_slice() {
            [] => self.notes.push("a unit without WantedBy= is enabled in multi-user.target by `svc-any install`; use --no-enable to leave it off".into()),
            all if all.contains(&multi_user) => {
                for other in all.iter().filter(|t| **t != multi_user) {
                    let table = self.systemd.entry("install").or_default();
                    push_verbatim(table, "WantedBy", other);
                }
            }
            other => self.losses.push(Loss {
                line: 0,
                key: "WantedBy".into(),
                why: format!("svc-any enables system services in multi-user.target, not only {}", other.join(" ")),
            }),
        }
        // Commands: with systemd's expansion where any line without `:` uses a `$`.
        let expand = self
            .commands
            .iter()
            .any(|(_, _, _, argv, no_expand)| !no_expand && argv.iter().any(|a| a.contains('$')));
        if expand {
            t.insert("exec_expand".into(), true.into());
        }
        let commands = std::mem::take(&mut self.commands);
        for (line, target, mut marker, argv, no_expand) in commands {
            if self.permissions_start_only && target != "exec" && !marker.contains('+') {
                marker.push('+');
            }
            let argv = match expand {
                false => argv,
                true => match expanded(argv, no_expand) {
                    Ok(a) => a,
                    Err(why) => {
                        self.lose(line, &format!("Exec ({target})"), why);
                        continue;
                    }
                },
            };
            let t = &mut self.t;
            let words = toml::Value::Array(argv.iter().map(|a| a.clone().into()).collect());
            if target == "exec" {
                t.insert("exec".into(), words);
                continue;
            }
            let item = if marker.is_empty() {
                words
            } else {
                let mut c = toml::Table::new();
                c.insert("exec".into(), words);
                if marker.contains('-') {
                    c.insert("may_fail".into(), true.into());
                }
                if marker.contains('+') {
                    c.insert("privileged".into(), true.into());
                }
                toml::Value::Table(c)
            };
            let list = t.entry(target).or_insert(toml::Value::Array(Vec::new()));
            if let toml::Value::Array(a) = list {
                a.push(item);
            }
        }
        if !self.t.contains_key("exec") && !self.losses.iter().any(|l| l.key == "ExecStart") {
            self.losses.push(Loss {
                line: 0,
                key: "ExecStart".into(),
                why: "no ExecStart=: svc-any runs a program".into(),
            });
        }
        let portable = self.systemd.is_empty();
        if !portable {
            let mut st = self.systemd.remove("service").unwrap_or_default();
            for section in ["unit", "install"] {
                if let Some(sub) = self.systemd.remove(section) {
                    st.insert(section.into(), toml::Value::Table(sub));
                }
            }
            self.t.insert("systemd".into(), toml::Value::Table(st));
        }
        if !self.losses.is_empty() {
            self.losses.sort_by_key(|l| l.line);
            return Err(self.losses);
        }
        Ok(Imported {
            name: self.name,
            table: self.t,
            notes: self.notes,
            portable,
        })
    }
}

fn push_verbatim(table: &mut toml::Table, key: &str, value: &str) {
    match table.get_mut(key) {
        Some(toml::Value::Array(a)) => a.push(value.into()),
        Some(other) => {
            let first = other.clone();
            *other = toml::Value::Array(vec![first, value.into()]);
        }
        None => {
            table.insert(key.into(), value.into());
        }
    }
}

fn unit_of(dep: &str) -> String {
    match dep.strip_prefix('$') {
        Some(f) => facility_by_name(f).map_or(dep.to_string(), |f| f.systemd_unit().to_string()),
        None if dep.contains('.') => dep.to_string(),
        None => format!("{dep}.service"),
    }
}

fn facility_of(unit: &str) -> Option<Facility> {
    Facility::ALL.into_iter().find(|f| f.systemd_unit() == unit)
}

fn facility_by_name(name: &str) -> Option<Facility> {
    Facility::ALL.into_iter().find(|f| f.name() == name)
}

/// The words of a command for a definition with `exec_expand`: from a `:` line every `$` is
/// doubled (it was literal); otherwise a `$` systemd leaves alone (inside a word, not `${`) is
/// doubled, and the references stay.
fn expanded(argv: Vec<String>, no_expand: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, word) in argv.into_iter().enumerate() {
        if no_expand || i == 0 {
            if i == 0 && word.contains('$') {
                return Err("a `$` in the program path of a line with variable references".into());
            }
            out.push(word.replace('$', "$$"));
            continue;
        }
        let whole = word.starts_with('$') && !word[1..].starts_with(['{', '$']);
        let w = if whole {
            word
        } else {
            let mut w = String::new();
            let mut rest = word.as_str();
            while let Some(p) = rest.find('$') {
                w.push_str(&rest[..p]);
                let after = &rest[p + 1..];
                if let Some(tail) = after.strip_prefix('$') {
                    w.push_str("$$");
                    rest = tail;
                } else if after.starts_with('{') {
                    let end = after.find('}').map_or(after.len(), |e| e + 1);
                    w.push('$');
                    w.push_str(&after[..end]);
                    rest = &after[end..];
                } else if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    // `--port=$PORT`: literal to systemd, written `$$` so no one reads it as a
                    // reference (systemctl show then prints `$$`; the process gets `$`).
                    w.push_str("$$");
                    rest = after;
                } else {
                    // `$(`, `$!`: literal to systemd, and to svc-any's check.
                    w.push('$');
                    rest = after;
                }
            }
            w.push_str(rest);
            w
        };
        check_references(&w).map_err(|m| format!("{m} (systemd reads it so)"))?;
        out.push(w);
    }
    Ok(out)
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
    fn a_prefix_without_a_portable_meaning_is_refused_with_its_line() {
        let unit = "[Service]\nUser=_chrony\nExecStart=!/usr/sbin/chronyd $DAEMON_OPTS\nExecStartPre=@/bin/true true-ish\n[Install]\nWantedBy=multi-user.target\n";
        let losses = import("chrony.service", unit, &[]).unwrap_err();
        assert_eq!(losses.len(), 2, "{losses:?}");
        assert_eq!((losses[0].line, losses[0].key.as_str()), (3, "ExecStart"));
        assert!(losses[0].why.contains("`!`"));
        assert_eq!(losses[1].line, 4);
        assert!(losses[1].why.contains("`@`"));
    }

    #[test]
    fn every_prefix_is_carried_or_refused_by_its_meaning() {
        let unit = "[Service]\nExecStart=:/bin/echo $HOME 100%%\nExecStartPre=-+/bin/true\nExecStopPost=+-:/bin/echo $X\n[Install]\nWantedBy=multi-user.target\n";
        let i = import("p.service", unit, &[]).unwrap();
        // `:` lines are exact bytes: with no expanding line, no exec_expand.
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec!["/bin/echo".into(), "$HOME".into(), "100%".into()])
        );
        assert!(!i.table.contains_key("exec_expand"));
        let pre = &i.table["pre_start"].as_array().unwrap()[0];
        assert_eq!(pre["may_fail"].as_bool(), Some(true));
        assert_eq!(pre["privileged"].as_bool(), Some(true));
        for bad in ["!!/bin/true", "-/bin/true"] {
            let u = format!("[Service]\nExecStart={bad}\n[Install]\nWantedBy=multi-user.target\n");
            assert!(import("p.service", &u, &[]).is_err(), "{bad}");
        }
        // Mixed: the `:` line's `$` is doubled once another line expands.
        let unit = "[Service]\nExecStart=:/bin/echo $HOME\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/echo a$b\n[Install]\nWantedBy=multi-user.target\n";
        let i = import("p.service", unit, &[]).unwrap();
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec!["/bin/echo".into(), "$$HOME".into()])
        );
        assert_eq!(
            i.table["stop_exec"].as_array().unwrap()[0],
            toml::Value::Array(vec!["/bin/echo".into(), "a$$b".into()])
        );
    }

    #[test]
    fn a_template_imports_with_the_instances_it_is_given() {
        let unit = "[Unit]\nDescription=Worker %i of %n\n[Service]\nExecStart=/usr/bin/worker --id %I\n[Install]\nWantedBy=multi-user.target\n";
        let losses = import("worker@.service", unit, &[]).unwrap_err();
        assert!(
            losses.iter().any(|l| l.why.contains("--instances")),
            "{losses:?}"
        );
        let i = import("worker@.service", unit, &["1".into(), "2".into()]).unwrap();
        assert_eq!(i.name, "worker");
        assert_eq!(
            i.table["instances"],
            toml::Value::Array(vec!["1".into(), "2".into()])
        );
        assert_eq!(
            i.table["description"].as_str(),
            Some("Worker {instance} of worker@{instance}.service")
        );
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec![
                "/usr/bin/worker".into(),
                "--id".into(),
                "{instance}".into()
            ])
        );
        // `worker.service` is another unit than the instances `worker@1.service`.
        let part = unit.replace("[Service]", "PartOf=worker.service\n[Service]");
        let i = import("worker@.service", &part, &["1".into()]).unwrap();
        assert_eq!(
            i.table["part_of"],
            toml::Value::Array(vec!["worker.service".into()])
        );
        // `%I` unescapes `-` to `/`: not the same as `{instance}` for such a name.
        assert!(import("worker@.service", unit, &["a-b".into()]).is_err());
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
