//! One supervised unit as the supervisor holds it: its definition, its state machine, and the
//! process and output pipe that go with them. The decisions are the machine's
//! ([`super::machine`]); this is what the poll loop needs to carry them out and to report.

use std::os::fd::OwnedFd;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::definitions::Definition;
use super::logfile::LogFile;
use super::machine::{Machine, Phase};
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
    /// Its token in the supervisor's epoll set (see `outputs.rs`).
    pub output_token: u64,
    pub log: LogFile,
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
            output_token: 0,
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
    /// Once it is closed and no process runs or is coming, the log file is closed too.
    pub fn drain_output(&mut self, buffer: &mut [u8]) {
        while let Some(fd) = &self.output {
            match nix::unistd::read(fd, buffer) {
                Ok(0) => self.output = None,
                Ok(n) => {
                    let _ = self.log.write(&buffer[..n]);
                }
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => continue,
                Err(_) => self.output = None,
            }
        }
        self.release_if_idle();
    }

    /// Closes the log of a unit that has no process and none coming (stopped, dead or
    /// failed): it holds no descriptor. One waiting to restart keeps it.
    pub fn release_if_idle(&mut self) {
        if self.output.is_none()
            && matches!(
                self.machine.phase(),
                Phase::Stopped | Phase::Dead | Phase::Failed
            )
        {
            self.log.close();
        }
    }

    /// The descriptors this unit holds: its output pipe and its log file, while open.
    pub fn descriptors(&self) -> u64 {
        u64::from(self.output.is_some()) + u64::from(self.log.is_open())
    }
}
