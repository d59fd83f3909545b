//! Becoming the one supervisor of a scope, before the poll loop runs: shed what the starting
//! process inherited, take the scope's lock, route signals to a signalfd, adopt orphans, and
//! clear away what a supervisor killed with -9 left behind.

use std::fs::File;
use std::io::Write;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::PermissionsExt;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{killpg, SigSet, Signal as NixSignal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::Scope;
use crate::model::spec::Level;

/// What the supervisor of a scope holds for its whole life.
pub struct Claimed {
    /// Never two supervisors for one scope: released only when the process ends.
    _lock: Flock<File>,
    /// SIGCHLD, SIGTERM, SIGINT and SIGHUP, as something poll can wait on.
    pub signals: SignalFd,
}

/// Makes this process the supervisor of `scope`. `None`: another one already is, and the CLI
/// waiting on `ready_fd` has been told to talk to it.
pub fn claim(scope: &Scope, level: Level, ready_fd: Option<RawFd>) -> Result<Option<Claimed>> {
    close_inherited(ready_fd);
    if let Some(fd) = ready_fd {
        // Services started before readiness is signalled must not inherit it.
        // SAFETY: fcntl on a descriptor number this process owns; no memory is involved.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) };
    }
    let private = level == Level::User;
    if private {
        scope.check_private()?;
    }
    std::fs::create_dir_all(&scope.runtime_dir)
        .with_context(|| format!("creating {}", scope.runtime_dir.display()))?;
    std::fs::set_permissions(
        &scope.runtime_dir,
        std::fs::Permissions::from_mode(if private { 0o700 } else { 0o755 }),
    )?;
    std::fs::create_dir_all(scope.pids_dir())?;

    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(scope.lock_path())
        .context("opening the supervisor lock")?;
    let lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => {
            // Another supervisor for this scope won the race: it serves the socket.
            if let Some(fd) = ready_fd {
                signal_ready(fd, b"1");
            }
            return Ok(None);
        }
        Err((_, e)) => bail!("locking {}: {e}", scope.lock_path().display()),
    };

    let mut mask = SigSet::empty();
    for sig in [
        NixSignal::SIGCHLD,
        NixSignal::SIGTERM,
        NixSignal::SIGINT,
        NixSignal::SIGHUP,
    ] {
        mask.add(sig);
    }
    mask.thread_block().context("blocking signals")?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    // Orphans of services (double-forked daemons) come to us, and we reap them.
    nix::sys::prctl::set_child_subreaper(true).context("becoming a subreaper")?;

    kill_leftovers(scope);
    Ok(Some(Claimed {
        _lock: lock,
        signals,
    }))
}

/// The open-file limit of a supervisor.
pub struct Nofile {
    /// What the supervisor may hold now.
    pub limit: u64,
    /// (soft, hard) as it was started with: what its services get back.
    pub inherited: (u64, u64),
}

/// Raises the soft limit of open files to the hard one. A supervisor holds two descriptors
/// per running service, and the common soft limit (1024) would stop it at about 500; the
/// hard limit is what the system allows this process, and raising to it needs no privilege.
pub fn raise_nofile() -> Nofile {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap_or((1024, 1024));
    let limit = if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
        hard
    } else {
        soft
    };
    Nofile {
        limit,
        inherited: (soft, hard),
    }
}

/// How many descriptors this process has open now.
pub fn open_descriptors() -> u64 {
    // The listing holds one of its own while it runs.
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1) as u64)
}

/// Tells the CLI that started us (and waits on the pipe) that the socket accepts.
pub fn signal_ready(fd: RawFd, message: &[u8]) {
    // SAFETY: the descriptor was handed to us for this one write and is not used elsewhere.
    let mut pipe = unsafe { File::from_raw_fd(fd) };
    let _ = pipe.write_all(message);
}

/// Closes every descriptor this process inherited except stdio and `keep`: a supervisor
/// started from a test harness or a shell must not hold their pipes open.
fn close_inherited(keep: Option<RawFd>) {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<RawFd> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|fd| *fd > 2 && Some(*fd) != keep)
        .collect();
    for fd in fds {
        // The directory's own descriptor is among them and already gone: EBADF is fine.
        let _ = nix::unistd::close(fd);
    }
}

/// Kills the process groups a previous supervisor of this scope left behind (it was killed
/// before its services' death signal could matter, or they escaped it: a forking service's
/// daemon, which is not the supervisor's child from birth, never has that signal).
fn kill_leftovers(scope: &Scope) {
    let Ok(entries) = std::fs::read_dir(scope.pids_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let mut words = text.split_whitespace();
        let (Some(pid), Some(start)) = (
            words.next().and_then(|p| p.parse().ok()),
            words.next().and_then(|s| s.parse().ok()),
        ) else {
            let _ = std::fs::remove_file(entry.path());
            continue;
        };
        let pid = Pid::from_raw(pid);
        if crate::system::processes::start_time(pid.as_raw() as u32) == Some(start) {
            let _ = killpg(pid, NixSignal::SIGKILL);
            // A forking service's daemon has no death signal from the supervisor and need not
            // lead a group of its own.
            let _ = nix::sys::signal::kill(pid, NixSignal::SIGKILL);
        }
        let _ = std::fs::remove_file(entry.path());
    }
}
