//! What real daemons need beyond one foreground process: readiness (`type`), commands around
//! the main one, directories the manager makes, least privilege, conditions, more kinds of
//! dependency, and the `[systemd]` table for what no portable key says.
//!
//! These keys live in [`Daemon`], one field of [`super::Service`], so that a definition without
//! them serializes exactly as before (the builtin supervisor's files, install records).
//! [`Daemon::used`] lists the keys a definition sets; each backend says in one place which of
//! them it carries (`backends/carried.rs`), and refuses or warns about the rest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::deps::Dependency;

/// How the manager knows the service is up (systemd's `Type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceType {
    /// Up as soon as the process is forked.
    Simple,
    /// Up once the program is exec'd (what svc-any renders when `type` is absent).
    Exec,
    /// Up when the process says so (sd_notify `READY=1`).
    Notify,
    /// Up when the started process exits, leaving a daemon behind (`pid_file` names it).
    Forking,
    /// Runs to completion; "up" once it exited 0.
    Oneshot,
    /// As `simple`, started once the manager's queue of boot jobs is empty.
    Idle,
}

impl ServiceType {
    pub fn as_str(self) -> &'static str {
        match self {
            ServiceType::Simple => "simple",
            ServiceType::Exec => "exec",
            ServiceType::Notify => "notify",
            ServiceType::Forking => "forking",
            ServiceType::Oneshot => "oneshot",
            ServiceType::Idle => "idle",
        }
    }

    pub const NAMES: &'static [&'static str] =
        &["simple", "exec", "notify", "forking", "oneshot", "idle"];

    pub fn from_name(name: &str) -> Option<ServiceType> {
        Some(match name {
            "simple" => ServiceType::Simple,
            "exec" => ServiceType::Exec,
            "notify" => ServiceType::Notify,
            "forking" => ServiceType::Forking,
            "oneshot" => ServiceType::Oneshot,
            "idle" => ServiceType::Idle,
            _ => return None,
        })
    }
}

/// One command run around the main one: its argv, exact bytes (or systemd's variable
/// references, with `exec_expand`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Command {
    pub exec: Vec<String>,
    /// A failure (non-zero exit, or the program missing) does not fail the service.
    #[serde(default, skip_serializing_if = "is_false")]
    pub may_fail: bool,
    /// Runs as root with no sandboxing, whatever `user` says (systemd's `+` prefix).
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
}

/// One environment file of a list: `env_file = ["-/etc/default/ssh", "/etc/app.env"]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFile {
    pub path: String,
    /// A missing file is skipped (systemd's leading `-`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
}

/// Which processes the stop signal goes to (systemd's `KillMode=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KillMode {
    /// Every process of the service (systemd `control-group`).
    Group,
    /// The main process only; the rest are left running.
    Process,
    /// The stop signal to the main process, then KILL to every process left.
    Mixed,
}

impl KillMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KillMode::Group => "group",
            KillMode::Process => "process",
            KillMode::Mixed => "mixed",
        }
    }
}

/// Directories the manager makes before the start, owned by the service's user: names relative
/// to the base the kind says (`/run`, `/var/lib`, `/var/log`, `/etc`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directories {
    pub names: Vec<String>,
    /// Octal permission bits; systemd's default is 0755.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
}

/// The kinds of [`Directories`], with the base each is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirKind {
    Runtime,
    State,
    Logs,
    Config,
}

impl DirKind {
    pub const ALL: [DirKind; 4] = [
        DirKind::Runtime,
        DirKind::State,
        DirKind::Logs,
        DirKind::Config,
    ];

    /// The definition's key (`runtime_dir`); the mode's is this with `_mode`.
    pub fn key(self) -> &'static str {
        match self {
            DirKind::Runtime => "runtime_dir",
            DirKind::State => "state_dir",
            DirKind::Logs => "logs_dir",
            DirKind::Config => "config_dir",
        }
    }

    /// Where the names are (system level).
    pub fn base(self) -> &'static str {
        match self {
            DirKind::Runtime => "/run",
            DirKind::State => "/var/lib",
            DirKind::Logs => "/var/log",
            DirKind::Config => "/etc",
        }
    }

    /// systemd's setting (`RuntimeDirectory`).
    pub fn systemd(self) -> &'static str {
        match self {
            DirKind::Runtime => "RuntimeDirectory",
            DirKind::State => "StateDirectory",
            DirKind::Logs => "LogsDirectory",
            DirKind::Config => "ConfigurationDirectory",
        }
    }
}

/// `protect_system`: how much of the OS the service sees read-only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtectSystem {
    /// `/usr` and the boot loader (`true`).
    Yes,
    /// Also `/etc`.
    Full,
    /// Everything but `/dev`, `/proc`, `/sys` and `read_write_paths`.
    Strict,
}

/// `protect_home`: what the service sees of `/home`, `/root` and `/run/user`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ProtectHome {
    /// Nothing (`true`): empty and inaccessible.
    Yes,
    ReadOnly,
    /// Empty tmpfs mounts.
    Tmpfs,
}

/// Whether a key a backend cannot carry is refused (the default) or only warned about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NotCarried {
    #[default]
    Refuse,
    Warn,
}

/// The `[systemd]` table: lines carried verbatim, by section. Keys svc-any maps from a portable
/// key are refused there at validation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemdExtras {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unit: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub install: Vec<(String, String)>,
}

impl SystemdExtras {
    pub fn is_empty(&self) -> bool {
        self.unit.is_empty() && self.service.is_empty() && self.install.is_empty()
    }
}

/// The keys of this module, validated. Every default is "not set": a backend renders nothing
/// for it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Daemon {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub service_type: Option<ServiceType>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub remain_after_exit: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pre_start: Vec<Command>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Command>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_exec: Vec<Command>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_stop: Vec<Command>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reload_exec: Vec<Command>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_dir: Option<Directories>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<Directories>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_dir: Option<Directories>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_dir: Option<Directories>,
    /// `env_file` as a list (several files, or optional ones), read in order; a single required
    /// file stays in [`super::Service::env_file`], which every backend carries.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub env_files: Vec<EnvFile>,
    /// `exec` and the commands use systemd's variable references: an argument that is exactly
    /// `$NAME` becomes the variable's words, `${NAME}` inside an argument its exact value, `$$`
    /// a `$`.
    #[serde(skip_serializing_if = "is_false")]
    pub exec_expand: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_mode: Option<KillMode>,
    /// `stop_timeout = "infinity"`: never KILL (the service's own `stop_timeout` is then unused).
    #[serde(skip_serializing_if = "is_false")]
    pub stop_timeout_infinity: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restart_prevent_exit_codes: Vec<u8>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wants: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub part_of: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub binds_to: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Dependency>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documentation: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub umask: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub supplementary_groups: Vec<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub no_new_privileges: bool,
    /// Bounding and ambient set; `Some([])` drops every capability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<Vec<String>>,
    #[serde(skip_serializing_if = "is_false")]
    pub private_tmp: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub private_devices: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_system: Option<ProtectSystem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protect_home: Option<ProtectHome>,
    /// Absolute paths; a leading `-` means "ignore if missing", as systemd writes it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_only_paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_write_paths: Vec<String>,
    /// Absolute paths that must exist (or, with a leading `!`, must not) for a start to run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub condition_path_exists: Vec<String>,
    /// Secrets passed as files, not through the environment: NAME -> the absolute path the
    /// manager reads (as root) and hands the service in `$CREDENTIALS_DIRECTORY/NAME`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "SystemdExtras::is_empty")]
    pub systemd: SystemdExtras,
    #[serde(skip_serializing_if = "is_refuse")]
    pub not_carried: NotCarried,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_refuse(n: &NotCarried) -> bool {
    *n == NotCarried::Refuse
}

/// One key (or one value of a key) a definition uses, as a backend's check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Used {
    /// The key as the definition writes it: `pre_start`, `type`, `after`.
    pub key: &'static str,
    /// What of it, where the value decides: `type = "notify"`, `after: $network-online`.
    pub value: Option<String>,
}

impl Used {
    fn key(key: &'static str) -> Used {
        Used { key, value: None }
    }

    fn value(key: &'static str, value: impl Into<String>) -> Used {
        Used {
            key,
            value: Some(value.into()),
        }
    }

    /// `pre_start`, or `type = "notify"`: how warnings and refusals name it.
    pub fn describe(&self) -> String {
        match &self.value {
            None => self.key.to_string(),
            Some(v) => format!("{} = {v}", self.key),
        }
    }
}

impl Daemon {
    /// The commands by key, in the order they run.
    pub fn commands(&self) -> [(&'static str, &Vec<Command>); 5] {
        [
            ("pre_start", &self.pre_start),
            ("post_start", &self.post_start),
            ("reload_exec", &self.reload_exec),
            ("stop_exec", &self.stop_exec),
            ("post_stop", &self.post_stop),
        ]
    }

    pub fn directories(&self, kind: DirKind) -> Option<&Directories> {
        match kind {
            DirKind::Runtime => self.runtime_dir.as_ref(),
            DirKind::State => self.state_dir.as_ref(),
            DirKind::Logs => self.logs_dir.as_ref(),
            DirKind::Config => self.config_dir.as_ref(),
        }
    }

    /// The extra dependency lists by key.
    pub fn dependency_lists(&self) -> [(&'static str, &Vec<Dependency>); 5] {
        [
            ("wants", &self.wants),
            ("before", &self.before),
            ("part_of", &self.part_of),
            ("binds_to", &self.binds_to),
            ("conflicts", &self.conflicts),
        ]
    }

    /// Every key of this module the definition sets, with the value where one value is carried
    /// and another not (`type`, `stop_timeout`).
    pub fn used(&self) -> Vec<Used> {
        let mut out = Vec::new();
        if let Some(t) = self.service_type {
            out.push(Used::value("type", format!("\"{}\"", t.as_str())));
        }
        if self.pid_file.is_some() {
            out.push(Used::key("pid_file"));
        }
        if self.remain_after_exit {
            out.push(Used::key("remain_after_exit"));
        }
        for (key, list) in self.commands() {
            if !list.is_empty() {
                out.push(Used::key(key));
            }
        }
        if !self.env_files.is_empty() {
            out.push(Used::value("env_file", "[list]"));
        }
        for kind in DirKind::ALL {
            if let Some(d) = self.directories(kind) {
                out.push(Used::key(kind.key()));
                if d.mode.is_some() {
                    out.push(Used::key(match kind {
                        DirKind::Runtime => "runtime_dir_mode",
                        DirKind::State => "state_dir_mode",
                        DirKind::Logs => "logs_dir_mode",
                        DirKind::Config => "config_dir_mode",
                    }));
                }
            }
        }
        let flags: [(&'static str, bool); 6] = [
            ("exec_expand", self.exec_expand),
            ("no_new_privileges", self.no_new_privileges),
            ("private_tmp", self.private_tmp),
            ("private_devices", self.private_devices),
            (
                "restart_prevent_exit_codes",
                !self.restart_prevent_exit_codes.is_empty(),
            ),
            (
                "supplementary_groups",
                !self.supplementary_groups.is_empty(),
            ),
        ];
        for (key, set) in flags {
            if set {
                out.push(Used::key(key));
            }
        }
        if let Some(k) = self.kill_mode {
            out.push(Used::value("kill_mode", format!("\"{}\"", k.as_str())));
        }
        if self.stop_timeout_infinity {
            out.push(Used::value("stop_timeout", "\"infinity\""));
        }
        for (key, list) in self.dependency_lists() {
            if !list.is_empty() {
                out.push(Used::key(key));
            }
        }
        let lists: [(&'static str, bool); 6] = [
            ("documentation", !self.documentation.is_empty()),
            ("aliases", !self.aliases.is_empty()),
            ("read_only_paths", !self.read_only_paths.is_empty()),
            ("read_write_paths", !self.read_write_paths.is_empty()),
            (
                "condition_path_exists",
                !self.condition_path_exists.is_empty(),
            ),
            ("credentials", !self.credentials.is_empty()),
        ];
        for (key, set) in lists {
            if set {
                out.push(Used::key(key));
            }
        }
        if self.umask.is_some() {
            out.push(Used::key("umask"));
        }
        if self.capabilities.is_some() {
            out.push(Used::key("capabilities"));
        }
        if self.protect_system.is_some() {
            out.push(Used::key("protect_system"));
        }
        if self.protect_home.is_some() {
            out.push(Used::key("protect_home"));
        }
        if !self.systemd.is_empty() {
            out.push(Used::key("systemd"));
        }
        out
    }

    /// Unsets `key` (as the `key` of a [`Used`] names it), for a backend that does not carry it when the
    /// definition says `not_carried = "warn"`.
    pub fn drop_key(&mut self, key: &str) {
        let d = Daemon::default();
        match key {
            "type" => self.service_type = None,
            "pid_file" => self.pid_file = None,
            "remain_after_exit" => self.remain_after_exit = false,
            "pre_start" => self.pre_start.clear(),
            "post_start" => self.post_start.clear(),
            "stop_exec" => self.stop_exec.clear(),
            "post_stop" => self.post_stop.clear(),
            "reload_exec" => self.reload_exec.clear(),
            "runtime_dir" => self.runtime_dir = None,
            "state_dir" => self.state_dir = None,
            "logs_dir" => self.logs_dir = None,
            "config_dir" => self.config_dir = None,
            "runtime_dir_mode" => drop_mode(&mut self.runtime_dir),
            "state_dir_mode" => drop_mode(&mut self.state_dir),
            "logs_dir_mode" => drop_mode(&mut self.logs_dir),
            "config_dir_mode" => drop_mode(&mut self.config_dir),
            "env_file" => self.env_files.clear(),
            "exec_expand" => self.exec_expand = false,
            "kill_mode" => self.kill_mode = None,
            "stop_timeout" => self.stop_timeout_infinity = false,
            "restart_prevent_exit_codes" => self.restart_prevent_exit_codes.clear(),
            "wants" => self.wants.clear(),
            "before" => self.before.clear(),
            "part_of" => self.part_of.clear(),
            "binds_to" => self.binds_to.clear(),
            "conflicts" => self.conflicts.clear(),
            "documentation" => self.documentation.clear(),
            "aliases" => self.aliases.clear(),
            "umask" => self.umask = None,
            "supplementary_groups" => self.supplementary_groups.clear(),
            "no_new_privileges" => self.no_new_privileges = false,
            "capabilities" => self.capabilities = None,
            "private_tmp" => self.private_tmp = false,
            "private_devices" => self.private_devices = false,
            "protect_system" => self.protect_system = None,
            "protect_home" => self.protect_home = None,
            "read_only_paths" => self.read_only_paths.clear(),
            "read_write_paths" => self.read_write_paths.clear(),
            "condition_path_exists" => self.condition_path_exists.clear(),
            "credentials" => self.credentials.clear(),
            "systemd" => self.systemd = d.systemd,
            _ => {}
        }
    }
}

fn drop_mode(dirs: &mut Option<Directories>) {
    if let Some(d) = dirs {
        d.mode = None;
    }
}

/// A `{instance}`-free copy of every string in `daemon` that a process or manager sees, with
/// the key that locates it, for the placeholder check.
pub(super) fn strings(daemon: &Daemon) -> Vec<(String, &str)> {
    let mut out: Vec<(String, &str)> = Vec::new();
    for (key, list) in daemon.commands() {
        for (i, c) in list.iter().enumerate() {
            for (j, a) in c.exec.iter().enumerate() {
                out.push((format!("{key}[{i}][{j}]"), a));
            }
        }
    }
    for f in &daemon.env_files {
        out.push(("env_file".into(), &f.path));
    }
    if let Some(p) = &daemon.pid_file {
        out.push(("pid_file".into(), p));
    }
    for kind in DirKind::ALL {
        for n in daemon.directories(kind).iter().flat_map(|d| &d.names) {
            out.push((kind.key().into(), n));
        }
    }
    for (key, list) in [
        ("read_only_paths", &daemon.read_only_paths),
        ("read_write_paths", &daemon.read_write_paths),
        ("condition_path_exists", &daemon.condition_path_exists),
    ] {
        for p in list {
            out.push((key.into(), p));
        }
    }
    out
}
