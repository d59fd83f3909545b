//! One supervised unit as the supervisor holds it: its definition, its state machine, and the
//! process and output pipe that go with them. The decisions are the machine's
//! ([`super::machine`]); this is what the poll loop needs to carry them out and to report.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::os::fd::OwnedFd;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::unistd::Pid;

use super::logfile::LogFile;
use super::machine::Machine;
use super::policy::Policy;
use super::protocol::unit_key;
use super::{log_path, Scope};
use crate::model::spec::Service;
use crate::model::status::ServiceStatus;

/// Default rotation of the logs svc-any keeps itself (when `log.file` is not set).
const DEFAULT_LOG_MAX: u64 = 10 << 20;
const DEFAULT_LOG_KEEP: u32 = 5;

pub struct Unit {
    pub name: String,
    pub instance: Option<String>,
    /// The definition with `{instance}` replaced.
    pub service: Service,
    pub enabled: bool,
    pub machine: Machine,
    /// Set exactly while the machine is running or stopping.
    pub pid: Option<Pid>,
    /// When it entered its current state, seconds since the epoch, for `status`.
    pub since: u64,
    /// The read end of the pipe that carries the process's stdout and stderr.
    pub output: Option<OwnedFd>,
    pub log: LogFile,
}

/// One unit as its definition file describes it.
pub struct Definition {
    pub name: String,
    pub instance: Option<String>,
    pub service: Service,
    pub enabled: bool,
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads every definition in the scope, by unit key (`NAME` or `NAME@INSTANCE`).
pub fn load_definitions(scope: &Scope) -> BTreeMap<String, Definition> {
    let mut out = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(scope.definitions_dir()) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let service: Service = match std::fs::read_to_string(&path)
            .map_err(anyhow::Error::from)
            .and_then(|t| Ok(toml::from_str(&t)?))
        {
            Ok(s) => s,
            Err(e) => {
                eprintln!("svc-any supervisor: ignoring {}: {e:#}", path.display());
                continue;
            }
        };
        for instance in service.instance_names() {
            let key = unit_key(&service.name, instance);
            let enabled = scope.enabled_dir().join(&key).exists();
            out.insert(
                key,
                Definition {
                    name: service.name.clone(),
                    instance: instance.map(String::from),
                    service: service.for_instance(instance),
                    enabled,
                },
            );
        }
    }
    out
}

fn log_for(scope: &Scope, key: &str, service: &Service) -> LogFile {
    let (max, keep) = match &service.log {
        Some(l) => (l.max_size, l.keep),
        None => (Some(DEFAULT_LOG_MAX), DEFAULT_LOG_KEEP),
    };
    LogFile::new(log_path(scope, key, service), max, keep)
}

impl Unit {
    pub fn new(scope: &Scope, definition: Definition) -> Unit {
        let Definition {
            name,
            instance,
            service,
            enabled,
        } = definition;
        let key = unit_key(&name, instance.as_deref());
        Unit {
            log: log_for(scope, &key, &service),
            machine: Machine::new(Policy::of(&service)),
            name,
            instance,
            service,
            enabled,
            pid: None,
            since: now_unix(),
            output: None,
        }
    }

    pub fn key(&self) -> String {
        unit_key(&self.name, self.instance.as_deref())
    }

    /// Takes a re-read definition: a changed one rules from its next start (and its next
    /// exit), while the running process keeps what it was started with.
    pub fn redefine(&mut self, scope: &Scope, definition: Definition) {
        self.enabled = definition.enabled;
        if self.service != definition.service {
            self.log = log_for(scope, &self.key(), &definition.service);
            self.machine.set_policy(Policy::of(&definition.service));
            self.service = definition.service;
        }
    }

    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            name: self.name.clone(),
            instance: self.instance.clone(),
            backend: "builtin".into(),
            unit: self.key(),
            state: self.machine.state(),
            pid: self.pid.map(|p| p.as_raw() as u32),
            since: Some(self.since),
            restarts: Some(self.machine.restarts()),
            last_exit: self.machine.last_exit().cloned(),
            enabled: Some(self.enabled),
            reason: self.machine.reason().map(String::from),
        }
    }

    /// Copies whatever the process wrote into its log, until the pipe is empty or closed.
    pub fn drain_output(&mut self, buffer: &mut [u8]) {
        let Some(fd) = &self.output else { return };
        let mut file = std::fs::File::from(fd.try_clone().expect("dup of a pipe"));
        loop {
            match file.read(buffer) {
                Ok(0) => {
                    self.output = None;
                    return;
                }
                Ok(n) => {
                    let _ = self.log.write(&buffer[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.output = None;
                    return;
                }
            }
        }
    }
}
