//! The validated definition: what every backend renders and the supervisor runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::signal::Signal;

use super::daemon::Daemon;
use super::deps::Dependency;

/// A stop that never ends in KILL: a hundred years.
pub const STOP_FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Where a service runs: the system manager, or the invoking user's own manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    System,
    User,
}

/// When the manager brings a dead process back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    #[serde(rename = "no")]
    No,
    #[serde(rename = "on-failure")]
    OnFailure,
    #[serde(rename = "always")]
    Always,
    /// After death by a signal other than a clean one, or a timeout (systemd's meaning).
    #[serde(rename = "on-abnormal")]
    OnAbnormal,
    /// After death by a signal other than a clean one.
    #[serde(rename = "on-abort")]
    OnAbort,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
            Restart::OnAbnormal => "on-abnormal",
            Restart::OnAbort => "on-abort",
        }
    }
}

/// A resource limit: a number, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    Value(u64),
    Infinity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub nofile: Option<Limit>,
    pub nproc: Option<Limit>,
}

/// Where stdout and stderr go when not to the manager's own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSpec {
    pub file: String,
    /// Rotate when the file grows past this many bytes.
    pub max_size: Option<u64>,
    /// Rotated files to keep.
    pub keep: u32,
    /// Where stderr goes instead, kept apart from stdout (`log.file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr: Option<String>,
    /// Whether svc-any's supervisor starts each line with the time it read it; as written
    /// (None: yes). Only the supervisor stamps: a `true` written out is refused where another
    /// manager writes the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamps: Option<bool>,
}

impl LogSpec {
    /// Whether svc-any's supervisor stamps the lines it writes to these files.
    pub fn stamped(&self) -> bool {
        self.timestamps != Some(false)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    /// `host:port` that must accept a TCP connection.
    Tcp(String),
    /// `http://host[:port]/path` that must answer 2xx or 3xx.
    Http(String),
    /// A program that must exit 0.
    Exec(Vec<String>),
}

impl std::fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HealthCheck::Tcp(target) => write!(f, "tcp {target}"),
            HealthCheck::Http(url) => write!(f, "http {url}"),
            HealthCheck::Exec(argv) => write!(f, "exec {}", argv.join(" ")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub check: HealthCheck,
    #[serde(with = "crate::model::duration::serde_text")]
    pub timeout: Duration,
}

/// One validated service definition. Every string in here is exactly what the process must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub description: String,
    pub exec: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub restart: Restart,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_delay: Duration,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_max_delay: Duration,
    /// More than this many automatic restarts within `restart_limit_interval` is a crash loop:
    /// the service is left `failed`. 0 never gives up.
    pub restart_limit: u32,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_limit_interval: Duration,
    pub stop_signal: Signal,
    #[serde(with = "crate::model::duration::serde_text")]
    pub stop_timeout: Duration,
    pub reload_signal: Option<Signal>,
    pub success_exit_codes: Vec<u8>,
    /// Ordering: started after these, wherever the manager can express it.
    pub after: Vec<Dependency>,
    /// Hard dependencies: ordered like `after`, and on systemd also pulled in and stopped with.
    pub requires: Vec<Dependency>,
    pub limits: Limits,
    pub log: Option<LogSpec>,
    pub health: Option<Health>,
    pub instances: Vec<String>,
    pub level: Level,
    /// The `[groups]` of its file that list it (systemd: `PartOf=GROUP.target`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// launchd's labels are reverse-DNS: `PREFIX.NAME` (default `org.svc-any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launchd_label_prefix: Option<String>,
    /// What real daemons need beyond one foreground process (`daemon.rs`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub daemon: Daemon,
    /// The file it was read from, for the marker line; `None` for the quick form.
    pub source: Option<PathBuf>,
    /// `[export]`: what only a container needs (`svc-any export`); every backend ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<crate::model::export::Export>,
    /// The `env` values are not the real ones but [`HIDDEN`]: they live in a file the caller
    /// may not read (another user's record), so only the names are known. Such a definition is
    /// for printing (`render`, `show`, `--dry-run`); install and the records refuse to write it.
    /// Never serialized: a file that holds it says `(hidden)` and nothing more.
    #[serde(skip)]
    pub env_hidden: bool,
}

fn is_default(d: &Daemon) -> bool {
    *d == Daemon::default()
}

/// The placeholder replaced by the instance name in every string of an instanced service.
pub const INSTANCE_PLACEHOLDER: &str = "{instance}";

/// What an `env` value reads as for a caller who may not read the file it lives in.
pub const HIDDEN: &str = "(hidden)";

/// The stand-in for `value` where it is hidden: [`HIDDEN`], or, for a value that names
/// `{instance}`, `(hidden:{instance})`, so that a masked render still has the files one per
/// instance that the real one has (systemd's `NAME@I.env`), and says whose value it is.
pub fn hidden_value(value: &str) -> String {
    if value.contains(INSTANCE_PLACEHOLDER) {
        format!("(hidden:{INSTANCE_PLACEHOLDER})")
    } else {
        HIDDEN.to_string()
    }
}

impl Service {
    /// This definition with every `env` value replaced by its [`hidden_value`], for a caller who
    /// may see the names but not the values. Without `env` nothing is hidden.
    pub fn with_env_hidden(&self) -> Service {
        let mut out = self.clone();
        out.env = self
            .env
            .iter()
            .map(|(k, v)| (k.clone(), hidden_value(v)))
            .collect();
        out.env_hidden = !out.env.is_empty();
        out
    }

    /// Exit codes that mean "stopped cleanly": 128 + the stop signal, plus the configured ones.
    /// A JVM (or a shell with a TERM trap) exits 143 when stopped with SIGTERM; without this the
    /// manager would call a clean stop a failure.
    pub fn clean_exit_codes(&self) -> Vec<u8> {
        let mut codes: BTreeSet<u8> = self.success_exit_codes.iter().copied().collect();
        codes.insert(self.stop_signal.exit_code());
        codes.into_iter().collect()
    }

    /// How long a stop waits for the process before KILL: `stop_timeout`, or with
    /// `stop_timeout = "infinity"` [`STOP_FOREVER`], which no stop outlives (and clocks can add
    /// without overflowing, as they cannot `Duration::MAX`).
    pub fn stop_wait(&self) -> Duration {
        if self.daemon.stop_timeout_infinity {
            STOP_FOREVER
        } else {
            self.stop_timeout
        }
    }

    /// The definition one instance runs with: `{instance}` replaced in every string the process
    /// sees (argv, environment, directory, env_file, log file).
    pub fn for_instance(&self, instance: Option<&str>) -> Service {
        let Some(i) = instance else {
            return self.clone();
        };
        let sub = |s: &String| s.replace(INSTANCE_PLACEHOLDER, i);
        let mut out = self.clone();
        out.exec = self.exec.iter().map(sub).collect();
        out.env = self.env.iter().map(|(k, v)| (k.clone(), sub(v))).collect();
        out.working_dir = self.working_dir.as_ref().map(sub);
        out.user = self.user.as_ref().map(sub);
        out.group = self.group.as_ref().map(sub);
        out.env_file = self.env_file.as_ref().map(sub);
        if let Some(log) = &mut out.log {
            log.file = sub(&log.file);
            log.stderr = log.stderr.as_ref().map(sub);
        }
        let d = &mut out.daemon;
        for list in [
            &mut d.pre_start,
            &mut d.post_start,
            &mut d.stop_exec,
            &mut d.post_stop,
            &mut d.reload_exec,
        ] {
            for c in list.iter_mut() {
                c.exec = c.exec.iter().map(sub).collect();
            }
        }
        d.pid_file = d.pid_file.as_ref().map(sub);
        for f in &mut d.env_files {
            f.path = sub(&f.path);
        }
        for dirs in [
            &mut d.runtime_dir,
            &mut d.state_dir,
            &mut d.logs_dir,
            &mut d.config_dir,
        ]
        .into_iter()
        .flatten()
        {
            dirs.names = dirs.names.iter().map(sub).collect();
        }
        for list in [
            &mut d.read_only_paths,
            &mut d.read_write_paths,
            &mut d.condition_path_exists,
        ] {
            *list = list.iter().map(sub).collect();
        }
        out
    }

    /// Every dependency of every kind, keyed as [`Service::dependencies`] keys them.
    pub fn all_dependencies(&self) -> impl Iterator<Item = (String, &Dependency)> {
        self.dependencies()
            .chain(
                self.daemon
                    .dependency_lists()
                    .into_iter()
                    .flat_map(|(key, list)| {
                        list.iter()
                            .enumerate()
                            .map(move |(i, dep)| (format!("{key}[{i}]"), dep))
                    }),
            )
    }

    /// Every dependency with the key that locates it in the file (`requires[0]`, `after[2]`),
    /// `requires` first.
    pub fn dependencies(&self) -> impl Iterator<Item = (String, &Dependency)> {
        fn keyed<'a>(
            key: &'static str,
            list: &'a [Dependency],
        ) -> impl Iterator<Item = (String, &'a Dependency)> {
            list.iter()
                .enumerate()
                .map(move |(i, dep)| (format!("{key}[{i}]"), dep))
        }
        keyed("requires", &self.requires).chain(keyed("after", &self.after))
    }

    /// Each unit a manager runs for this service: its instance (if any) and its name, `NAME`
    /// or `NAME{separator}INSTANCE` (`@` for most managers, `.` for OpenRC's).
    pub fn units(&self, separator: char) -> Vec<(Option<String>, String)> {
        self.instance_names()
            .into_iter()
            .map(|i| match i {
                Some(i) => (Some(i.to_string()), format!("{}{separator}{i}", self.name)),
                None => (None, self.name.clone()),
            })
            .collect()
    }

    /// The instance names, or a single `None` for a service without instances.
    pub fn instance_names(&self) -> Vec<Option<&str>> {
        if self.instances.is_empty() {
            vec![None]
        } else {
            self.instances.iter().map(|i| Some(i.as_str())).collect()
        }
    }
}

/// A file's worth of services, and the groups it declares.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub services: BTreeMap<String, Service>,
    pub groups: BTreeMap<String, Vec<String>>,
}

/// The defaults that apply where a key is absent.
pub mod defaults {
    use std::time::Duration;
    pub const RESTART_DELAY: Duration = Duration::from_secs(1);
    pub const RESTART_MAX_DELAY: Duration = Duration::from_secs(60);
    /// systemd's own defaults (StartLimitBurst=5 in StartLimitIntervalSec=10s), on every backend.
    pub const RESTART_LIMIT: u32 = 5;
    pub const RESTART_LIMIT_INTERVAL: Duration = Duration::from_secs(10);
    pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
    pub const LOG_KEEP: u32 = 5;
}
