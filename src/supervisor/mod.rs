//! svc-any's own supervisor: the default backend where no init system runs (a container, a CI
//! box, a user's shell), and the keep-alive under SysV scripts.
//!
//! One supervisor process per scope (the system, or one user) keeps every service of that scope
//! running. The CLI talks to it over a Unix socket ([`protocol`]) and starts it on demand
//! ([`client`]); in a container it can be PID 1 itself (`svc-any supervisor --foreground`).
//! Everything a person may want to look at is a plain file:
//!
//! ```text
//! STATE_DIR/builtin/NAME.toml          definitions (written by install, with the marker line)
//! STATE_DIR/builtin/enabled/UNIT       a link per unit that starts with the supervisor
//! LOGS/UNIT.log[.N]                    output of each unit, each line stamped with the time it
//!                                      was read, rotated by size
//! LOGS/supervisor.log                  what the supervisor did and why
//!                                      (LOGS: /var/log/svc-any, or STATE_DIR/logs for a user)
//! RUNTIME_DIR/supervisor.sock          the control socket (0600)
//! RUNTIME_DIR/supervisor.lock          held while a supervisor runs: never two for one scope
//! RUNTIME_DIR/pids/UNIT                "PID STARTTIME" of each running unit
//! ```

// The supervisor itself is Linux only (signalfd, clone, prctl); on macOS launchd supervises.
#[cfg(target_os = "linux")]
mod child;
pub mod client;
#[cfg(target_os = "linux")]
mod clone;
#[cfg(target_os = "linux")]
mod commands;
#[cfg(target_os = "linux")]
mod control;
#[cfg(target_os = "linux")]
mod credentials;
#[cfg(target_os = "linux")]
mod daemon;
#[cfg(target_os = "linux")]
mod definitions;
#[cfg(target_os = "linux")]
mod descriptors;
#[cfg(target_os = "linux")]
mod directories;
#[cfg(target_os = "linux")]
mod environment;
#[cfg(target_os = "linux")]
mod jobs;
#[cfg(target_os = "linux")]
mod lifecycle;
#[cfg(target_os = "linux")]
mod logfile;
#[cfg(target_os = "linux")]
mod machine;
#[cfg(target_os = "linux")]
mod notify;
#[cfg(target_os = "linux")]
mod order;
#[cfg(target_os = "linux")]
mod outputs;
#[cfg(target_os = "linux")]
mod policy;
pub mod protocol;
#[cfg(target_os = "linux")]
mod readiness;
#[cfg(target_os = "linux")]
mod reload;
#[cfg(target_os = "linux")]
mod requests;
#[cfg(target_os = "linux")]
mod restarts;
#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
mod stamp;
#[cfg(target_os = "linux")]
mod startup;
#[cfg(target_os = "linux")]
mod timers;
#[cfg(target_os = "linux")]
mod unit;
#[cfg(target_os = "linux")]
mod wanted_up;

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

use crate::model::spec::{Level, Service};
use crate::system::host::SYSTEM_STATE_DIR;

#[cfg(target_os = "linux")]
pub use daemon::run;

/// How `svc-any supervisor` runs.
pub struct Options {
    pub scope: Scope,
    pub level: Level,
    /// Run attached to the terminal (a container's PID 1), logging events to stderr.
    pub foreground: bool,
    /// Start every enabled unit, as at boot (a container's entrypoint, an `@reboot` line);
    /// otherwise only the units wanted up.
    pub boot: bool,
    /// Written to (one byte) once the socket accepts, then closed: the CLI waits on it.
    pub ready_fd: Option<RawFd>,
}

/// The builtin supervisor needs Linux; elsewhere the host's own manager is the only choice.
#[cfg(not(target_os = "linux"))]
pub fn run(_opts: Options) -> anyhow::Result<i32> {
    anyhow::bail!("the builtin supervisor runs on Linux only; use the host's init system")
}

/// Where a unit's output goes: its `log.file`, else `LOGS/UNIT.log`.
pub fn log_path(scope: &Scope, key: &str, service: &Service) -> PathBuf {
    match &service.log {
        Some(l) => PathBuf::from(&l.file),
        None => scope.logs_dir().join(format!("{key}.log")),
    }
}

/// The directories of one supervisor scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
}

impl Scope {
    /// The scope a command's context acts on: the system's, or the invoking user's.
    pub fn of(ctx: &crate::system::host::Ctx) -> Scope {
        Scope {
            state_dir: ctx.state_dir(),
            runtime_dir: ctx.runtime_dir(),
        }
    }

    pub fn definitions_dir(&self) -> PathBuf {
        self.state_dir.join("builtin")
    }

    pub fn enabled_dir(&self) -> PathBuf {
        self.definitions_dir().join("enabled")
    }

    /// Output of the services: `/var/log/svc-any` for the system scope, as every other daemon's
    /// logs (so /var/lib holds only state, and uninstall leaves it as it was); beside the state
    /// for a user's scope or a relocated one.
    pub fn logs_dir(&self) -> PathBuf {
        if self.state_dir == Path::new(SYSTEM_STATE_DIR) {
            PathBuf::from("/var/log/svc-any")
        } else {
            self.state_dir.join("logs")
        }
    }

    pub fn socket_path(&self) -> PathBuf {
        self.runtime_dir.join("supervisor.sock")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.runtime_dir.join("supervisor.lock")
    }

    pub fn pids_dir(&self) -> PathBuf {
        self.runtime_dir.join("pids")
    }

    /// `RUN/up/UNIT` for each unit someone started and nobody stopped since: what a supervisor
    /// started on demand (after the last one was killed) brings back, and nothing more. It
    /// lives in the runtime directory, which a reboot empties: at boot, being enabled is what
    /// counts.
    pub fn wanted_up_dir(&self) -> PathBuf {
        self.runtime_dir.join("up")
    }

    pub fn wanted_up(&self, key: &str) -> bool {
        self.wanted_up_dir().join(key).exists()
    }

    /// A user's runtime directory holds the socket that commands the user's services: it must
    /// be the user's own, with no access for anyone else, and not a link. Refused at once,
    /// naming the directory and its owner, rather than failing later in a way that says nothing.
    pub fn check_private(&self) -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let dir = &self.runtime_dir;
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            return Ok(()); // not there yet: created 0700 by the supervisor
        };
        let me = nix::unistd::geteuid().as_raw();
        let mode = meta.mode() & 0o7777;
        if meta.file_type().is_dir() && meta.uid() == me && mode & 0o077 == 0 {
            return Ok(());
        }
        let owner = nix::unistd::User::from_uid(meta.uid().into())
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {}", meta.uid()), |u| u.name);
        anyhow::bail!(
            "{} is not yours alone ({}, owned by {owner}, mode {mode:o}): svc-any will not put \
             your supervisor's socket there; remove it, or set XDG_RUNTIME_DIR to a private \
             directory",
            dir.display(),
            if meta.file_type().is_symlink() {
                "a symbolic link"
            } else if meta.file_type().is_dir() {
                "a directory"
            } else {
                "not a directory"
            }
        )
    }
}
