//! The target of a command: which root, which level, whether a manager is there to talk to.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use anyhow::{Context as _, Result};

use crate::dialect::render::Renderer;
use crate::model::manager_version::ManagerVersion;
use crate::model::spec::Level;
use crate::system::process;
use crate::system::report::Reporter;

/// Everything a backend needs to know about where it acts.
pub struct Ctx {
    /// `/` normally; `--root DIR` for an image or package build.
    pub root: PathBuf,
    pub level: Level,
    /// A running manager svc-any may talk to. False under `--root` and in a chroot: files and
    /// boot links are written, nothing is started, reloaded or asked.
    pub live: bool,
    /// Why not live, for messages ("chroot", "--root").
    pub offline_reason: Option<String>,
    pub renderer: Renderer,
    /// The invoking user's home (user level paths).
    pub home: PathBuf,
    /// Where probes of the running host read (`/`; tests point it at a fake host).
    pub probe_root: PathBuf,
    /// Where what the library has to say goes.
    pub report: Arc<dyn Reporter>,
    /// The manager version to write for (`render --for systemd@257`), asking no one; None:
    /// the tree's or the running manager's (`crate::system::version`).
    pub target: Option<ManagerVersion>,
}

impl Ctx {
    /// Where a path of the target system is on this machine.
    pub fn on_target(&self, path: &Path) -> PathBuf {
        match path.strip_prefix("/") {
            Ok(rel) => self.root.join(rel),
            Err(_) => self.root.join(path),
        }
    }

    /// Where svc-any keeps its records (and the builtin supervisor its definitions and logs):
    /// `/var/lib/svc-any` for the system, `$XDG_STATE_HOME/svc-any` (`~/.local/state/svc-any`)
    /// for a user. `SVC_ANY_STATE_DIR` replaces both (tests run isolated scopes with it).
    pub fn state_dir(&self) -> PathBuf {
        state_dir(self.level, &self.home)
    }

    /// Where the builtin supervisor keeps its socket, lock and pid files: `/run/svc-any`, or
    /// `$XDG_RUNTIME_DIR/svc-any` for a user (without one, `STATE_DIR/run`: private, never a
    /// name in a shared directory that another user could take first).
    /// `SVC_ANY_RUNTIME_DIR` replaces both.
    pub fn runtime_dir(&self) -> PathBuf {
        runtime_dir(self.level, &self.home)
    }

    /// `$XDG_CONFIG_HOME` or `~/.config`.
    pub fn user_config_dir(&self) -> PathBuf {
        xdg_dir("XDG_CONFIG_HOME", &self.home, ".config")
    }

    /// Tells the reporter what a verb did.
    pub fn say(&self, line: impl AsRef<str>) {
        self.report.say(line.as_ref());
    }

    /// Tells the reporter what went wrong without failing the command.
    pub fn warn(&self, line: impl AsRef<str>) {
        self.report.warn(line.as_ref());
    }

    /// Runs a manager tool and returns its stdout (see [`process::output`]), telling the
    /// reporter first which command runs.
    pub fn run(&self, cmd: &mut Command) -> Result<String> {
        self.report.command(&process::describe(cmd));
        process::output(cmd)
    }

    /// Runs a tool attached to the terminal (`logs -f`) and returns its exit code.
    pub fn run_attached(&self, cmd: &mut Command) -> Result<i32> {
        self.report.command(&process::describe(cmd));
        process::interactive(cmd)
    }
}

/// See [`Ctx::state_dir`]; also for the supervisor, which has no render context.
pub fn state_dir(level: Level, home: &Path) -> PathBuf {
    if let Some(dir) = absolute_env("SVC_ANY_STATE_DIR") {
        return dir;
    }
    match level {
        Level::System => PathBuf::from(SYSTEM_STATE_DIR),
        Level::User => xdg_dir("XDG_STATE_HOME", home, ".local/state").join("svc-any"),
    }
}

/// The system scope's state directory.
pub const SYSTEM_STATE_DIR: &str = "/var/lib/svc-any";

/// See [`Ctx::runtime_dir`].
pub fn runtime_dir(level: Level, home: &Path) -> PathBuf {
    if let Some(dir) = absolute_env("SVC_ANY_RUNTIME_DIR") {
        return dir;
    }
    match level {
        Level::System => PathBuf::from("/run/svc-any"),
        Level::User => match absolute_env("XDG_RUNTIME_DIR") {
            Some(dir) => dir.join("svc-any"),
            None => xdg_dir("XDG_STATE_HOME", home, ".local/state").join("svc-any/run"),
        },
    }
}

fn absolute_env(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

fn xdg_dir(var: &str, home: &Path, fallback: &str) -> PathBuf {
    match std::env::var_os(var).map(PathBuf::from) {
        Some(p) if p.is_absolute() => p,
        _ => home.join(fallback),
    }
}

/// The invoking user's home directory: `$HOME`, else the passwd entry.
pub fn home_dir() -> Result<PathBuf> {
    if let Some(home) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let uid = nix::unistd::geteuid();
    let user = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .with_context(|| format!("no home directory for uid {uid}: set HOME"))?;
    Ok(user.dir)
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
