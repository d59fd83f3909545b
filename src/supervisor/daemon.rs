//! The supervisor process: one per scope, event driven, single threaded.
//!
//! Everything it waits for is a file descriptor in one `poll`: a signalfd (SIGCHLD, SIGTERM,
//! SIGINT, SIGHUP), the control socket, its clients, and one pipe per running service that
//! carries the service's stdout and stderr to its log file. Timers (restart delays, stop
//! timeouts) are the poll timeout; with none pending it sleeps until something happens, so an
//! idle supervisor makes no wakeups at all.

use std::collections::{BTreeMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, SigSet, Signal as NixSignal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::child;
use super::logfile::LogFile;
use super::protocol::{unit_key, Request, Response};
use super::{log_path, Options, Scope};
use crate::signal::Signal;
use crate::spec::{self, Level, Restart, Service};
use crate::status::{LastExit, ServiceStatus, State};

/// A run at least this long counts as stable: the next crash restarts after exactly
/// `restart_delay` again, with the backoff reset.
const STABLE_RUN: Duration = Duration::from_secs(10);
/// Default rotation of the logs svc-any keeps itself (when `log.file` is not set).
const DEFAULT_LOG_MAX: u64 = 10 << 20;
const DEFAULT_LOG_KEEP: u32 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Not running, as asked (or never started).
    Stopped,
    Running,
    /// Stop signal sent; KILL at `kill_at`.
    Stopping,
    /// Crashed; restarts at `restart_at`.
    Waiting,
    /// Exited uncleanly and its policy says no restart.
    Dead,
    /// Gave up: crash loop, or it cannot be started.
    Failed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterStop {
    Nothing,
    Start,
    /// The definition is gone: forget the unit once it has stopped.
    Remove,
}

struct Unit {
    name: String,
    instance: Option<String>,
    /// The definition with `{instance}` replaced.
    service: Service,
    enabled: bool,
    phase: Phase,
    pid: Option<Pid>,
    started: Option<Instant>,
    since: u64,
    restarts: u32,
    recent_restarts: VecDeque<Instant>,
    quick_failures: u32,
    last_exit: Option<LastExit>,
    reason: Option<String>,
    restart_at: Option<Instant>,
    kill_at: Option<Instant>,
    after_stop: AfterStop,
    output: Option<OwnedFd>,
    log: LogFile,
}

struct Client {
    stream: UnixStream,
    buffer: Vec<u8>,
    /// Answered once none of these units is stopping any more.
    waiting_for: Option<(Vec<String>, Response)>,
}

struct Supervisor {
    scope: Scope,
    level: Level,
    foreground: bool,
    units: BTreeMap<String, Unit>,
    clients: Vec<Client>,
    /// Units still to stop, in order, while shutting down.
    shutdown: Option<VecDeque<String>>,
    events: LogFile,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Reads every definition in the scope: (unit key → (name, instance, service, enabled)).
fn load_definitions(scope: &Scope) -> BTreeMap<String, (String, Option<String>, Service, bool)> {
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
                (
                    service.name.clone(),
                    instance.map(String::from),
                    service.for_instance(instance),
                    enabled,
                ),
            );
        }
    }
    out
}

impl Unit {
    fn new(
        scope: &Scope,
        name: String,
        instance: Option<String>,
        service: Service,
        enabled: bool,
    ) -> Unit {
        let key = unit_key(&name, instance.as_deref());
        let log = log_for(scope, &key, &service);
        Unit {
            name,
            instance,
            service,
            enabled,
            phase: Phase::Stopped,
            pid: None,
            started: None,
            since: now_unix(),
            restarts: 0,
            recent_restarts: VecDeque::new(),
            quick_failures: 0,
            last_exit: None,
            reason: None,
            restart_at: None,
            kill_at: None,
            after_stop: AfterStop::Nothing,
            output: None,
            log,
        }
    }

    fn key(&self) -> String {
        unit_key(&self.name, self.instance.as_deref())
    }

    fn status(&self) -> ServiceStatus {
        let state = match self.phase {
            Phase::Running | Phase::Stopping => State::Running,
            Phase::Waiting => State::Starting,
            Phase::Stopped => State::Stopped,
            Phase::Dead => State::Dead,
            Phase::Failed => State::Failed,
        };
        ServiceStatus {
            name: self.name.clone(),
            instance: self.instance.clone(),
            backend: "builtin".into(),
            unit: self.key(),
            state,
            pid: self.pid.map(|p| p.as_raw() as u32),
            since: Some(self.since),
            restarts: Some(self.restarts),
            last_exit: self.last_exit.clone(),
            enabled: Some(self.enabled),
            reason: self.reason.clone(),
        }
    }
}

fn log_for(scope: &Scope, key: &str, service: &Service) -> LogFile {
    let (max, keep) = match &service.log {
        Some(l) => (l.max_size, l.keep),
        None => (Some(DEFAULT_LOG_MAX), DEFAULT_LOG_KEEP),
    };
    LogFile::new(log_path(scope, key, service), max, keep)
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

/// Runs the supervisor until it is told to stop or has nothing left to supervise.
pub fn run(opts: Options) -> Result<i32> {
    close_inherited(opts.ready_fd);
    if let Some(fd) = opts.ready_fd {
        // Services started before readiness is signalled must not inherit it.
        // SAFETY: fcntl on a descriptor number this process owns; no memory is involved.
        unsafe { nix::libc::fcntl(fd, nix::libc::F_SETFD, nix::libc::FD_CLOEXEC) };
    }
    let scope = opts.scope;
    let private = opts.level == Level::User;
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
    let _lock = match Flock::lock(lock_file, FlockArg::LockExclusiveNonblock) {
        Ok(lock) => lock,
        Err((_, Errno::EWOULDBLOCK)) => {
            // Another supervisor for this scope won the race: it serves the socket.
            if let Some(fd) = opts.ready_fd {
                signal_ready(fd, b"1");
            }
            return Ok(0);
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
    let mut signals = SignalFd::with_flags(&mask, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
    // Orphans of services (double-forked daemons) come to us, and we reap them.
    nix::sys::prctl::set_child_subreaper(true).context("becoming a subreaper")?;

    kill_leftovers(&scope);

    let socket = scope.socket_path();
    let _ = std::fs::remove_file(&socket);
    let listener =
        UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;

    let events = LogFile::new(scope.logs_dir().join("supervisor.log"), Some(1 << 20), 1);
    let mut sup = Supervisor {
        scope,
        level: opts.level,
        foreground: opts.foreground,
        units: BTreeMap::new(),
        clients: Vec::new(),
        shutdown: None,
        events,
    };
    sup.event(&format!("supervisor {} started", std::process::id()));
    sup.reload();
    let enabled: Vec<String> = sup
        .units
        .values()
        .filter(|u| u.enabled)
        .map(Unit::key)
        .collect();
    sup.start_in_order(&enabled, true);
    if let Some(fd) = opts.ready_fd {
        signal_ready(fd, b"1");
    }
    let code = sup.run_loop(&listener, &mut signals);
    sup.cleanup();
    Ok(code)
}

fn signal_ready(fd: RawFd, message: &[u8]) {
    // SAFETY: the descriptor was handed to us for this one write and is not used elsewhere.
    let mut pipe = unsafe { std::fs::File::from_raw_fd(fd) };
    let _ = pipe.write_all(message);
}

/// Kills the process groups a previous supervisor of this scope left behind (it was killed
/// before its services' death signal could matter, or they escaped it).
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
        if child::start_time(pid) == Some(start) {
            let _ = killpg(pid, NixSignal::SIGKILL);
        }
        let _ = std::fs::remove_file(entry.path());
    }
}

impl Supervisor {
    fn event(&mut self, text: &str) {
        let line = format!("{} {text}\n", now_unix());
        if self.foreground {
            eprintln!("svc-any: {text}");
        }
        let _ = self.events.write(line.as_bytes());
    }

    fn run_loop(&mut self, listener: &UnixListener, signals: &mut SignalFd) -> i32 {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            if self.finished() {
                return 0;
            }
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            let (sig_ready, listen_ready, client_ready, output_ready) = {
                let mut fds = vec![
                    PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                    PollFd::new(listener.as_fd(), PollFlags::POLLIN),
                ];
                for c in &self.clients {
                    fds.push(PollFd::new(c.stream.as_fd(), PollFlags::POLLIN));
                }
                let output_keys: Vec<String> = self
                    .units
                    .iter()
                    .filter(|(_, u)| u.output.is_some())
                    .map(|(k, _)| k.clone())
                    .collect();
                for k in &output_keys {
                    fds.push(PollFd::new(
                        self.units[k].output.as_ref().expect("filtered").as_fd(),
                        PollFlags::POLLIN,
                    ));
                }
                let timeout = match timeout {
                    None => PollTimeout::NONE,
                    // Round up: waking a millisecond early would only loop again.
                    Some(d) => PollTimeout::try_from(
                        d.as_millis().saturating_add(1).min(i32::MAX as u128) as i32,
                    )
                    .unwrap_or(PollTimeout::MAX),
                };
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => {}
                    Err(e) => {
                        self.event(&format!("poll failed: {e}"));
                        return 1;
                    }
                }
                let ready = |fd: &PollFd| fd.revents().is_some_and(|r| !r.is_empty());
                let clients: Vec<usize> = (0..self.clients.len())
                    .filter(|i| ready(&fds[2 + i]))
                    .collect();
                let base = 2 + self.clients.len();
                let outputs: Vec<String> = output_keys
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| ready(&fds[base + i]))
                    .map(|(_, k)| k.clone())
                    .collect();
                (ready(&fds[0]), ready(&fds[1]), clients, outputs)
            };
            // Output first: a process's last words belong before the news of its exit.
            for key in output_ready {
                self.drain_output(&key, &mut buffer);
            }
            if sig_ready {
                self.handle_signals(signals);
            }
            self.fire_timers();
            if listen_ready {
                self.accept(listener);
            }
            for i in client_ready.into_iter().rev() {
                self.read_client(i);
            }
            self.answer_waiting_clients();
            self.advance_shutdown();
        }
    }

    /// Nothing left to do: shutting down with every unit stopped, or no definitions at all.
    fn finished(&self) -> bool {
        let idle = self
            .units
            .values()
            .all(|u| !matches!(u.phase, Phase::Running | Phase::Stopping));
        match &self.shutdown {
            Some(queue) => {
                queue.is_empty() && idle && self.clients.iter().all(|c| c.waiting_for.is_none())
            }
            None => false,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.units
            .values()
            .flat_map(|u| [u.restart_at, u.kill_at])
            .flatten()
            .min()
    }

    fn handle_signals(&mut self, signals: &mut SignalFd) {
        while let Ok(Some(info)) = signals.read_signal() {
            match NixSignal::try_from(info.ssi_signo as i32) {
                Ok(NixSignal::SIGCHLD) => self.reap(),
                Ok(NixSignal::SIGTERM) | Ok(NixSignal::SIGINT) => {
                    self.event("asked to stop: stopping every service");
                    self.begin_shutdown();
                }
                Ok(NixSignal::SIGHUP) => self.reload(),
                _ => {}
            }
        }
    }

    /// Collects every exited child: our services, and orphans adopted as subreaper.
    fn reap(&mut self) {
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => self.exited(pid, LastExit::Exited { code }),
                Ok(WaitStatus::Signaled(pid, sig, _)) => {
                    let name = Signal::from_name(&(sig as i32).to_string())
                        .map_or(sig.as_str().trim_start_matches("SIG").to_string(), |s| {
                            s.name().to_string()
                        });
                    self.exited(pid, LastExit::Killed { signal: name })
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn exited(&mut self, pid: Pid, how: LastExit) {
        let Some(key) = self
            .units
            .iter()
            .find(|(_, u)| u.pid == Some(pid))
            .map(|(k, _)| k.clone())
        else {
            return; // an adopted orphan: reaped, nothing else to do
        };
        let _ = std::fs::remove_file(self.scope.pids_dir().join(&key));
        // Whatever else ran in its process group goes with it, as with a cgroup.
        let _ = killpg(pid, NixSignal::SIGKILL);
        let now = Instant::now();
        let unit = self.units.get_mut(&key).expect("found above");
        unit.pid = None;
        unit.kill_at = None;
        unit.last_exit = Some(how.clone());
        unit.since = now_unix();
        let ran = unit.started.map_or(Duration::ZERO, |s| now - s);
        let described = how.to_string();
        if unit.phase == Phase::Stopping {
            unit.phase = Phase::Stopped;
            unit.reason = None;
            let after = std::mem::replace(&mut unit.after_stop, AfterStop::Nothing);
            self.event(&format!("{key} stopped ({described})"));
            match after {
                AfterStop::Start => self.spawn(&key),
                AfterStop::Remove => {
                    self.units.remove(&key);
                }
                AfterStop::Nothing => {}
            }
            return;
        }
        let clean = how.is_clean(unit.service.stop_signal, &unit.service.success_exit_codes);
        let restart = match unit.service.restart {
            Restart::Always => true,
            Restart::OnFailure => !clean,
            Restart::No => false,
        };
        if !restart {
            unit.phase = if clean { Phase::Stopped } else { Phase::Dead };
            unit.reason = (!clean).then(|| described.clone());
            let text = format!(
                "{key} {described}; not restarted (restart = \"{}\")",
                unit.service.restart.as_str()
            );
            self.event(&text);
            return;
        }
        let interval = unit.service.restart_limit_interval;
        unit.recent_restarts
            .retain(|t| now.duration_since(*t) < interval);
        let limit = unit.service.restart_limit;
        if limit > 0 && unit.recent_restarts.len() as u32 >= limit {
            unit.phase = Phase::Failed;
            unit.restart_at = None;
            let reason = format!(
                "crash loop: {} restarts within {}, last {described}",
                unit.recent_restarts.len(),
                humantime::format_duration(interval)
            );
            unit.reason = Some(reason.clone());
            self.event(&format!("{key} failed: {reason}"));
            return;
        }
        if ran >= STABLE_RUN {
            unit.quick_failures = 0;
        }
        let delay = backoff(&unit.service, unit.quick_failures);
        if ran < STABLE_RUN {
            unit.quick_failures = unit.quick_failures.saturating_add(1);
        }
        unit.recent_restarts.push_back(now);
        unit.restarts += 1;
        unit.reason = Some(described.clone());
        unit.phase = Phase::Waiting;
        if delay.is_zero() {
            self.event(&format!("{key} {described}; restarting"));
            self.spawn(&key);
        } else {
            unit.restart_at = Some(now + delay);
            self.event(&format!(
                "{key} {described}; restarting in {}",
                humantime::format_duration(delay)
            ));
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| u.restart_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(u) = self.units.get_mut(&key) {
                u.restart_at = None;
            }
            self.spawn(&key);
        }
        let overdue: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| u.kill_at.is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in overdue {
            let unit = self.units.get_mut(&key).expect("listed");
            unit.kill_at = None;
            if let Some(pid) = unit.pid {
                let _ = killpg(pid, NixSignal::SIGKILL);
                self.event(&format!(
                    "{key} did not stop in time: SIGKILL to its process group"
                ));
            }
        }
    }

    /// Starts a unit now (from Stopped, Dead, Failed or Waiting).
    fn spawn(&mut self, key: &str) {
        let level = self.level;
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if matches!(unit.phase, Phase::Running | Phase::Stopping) {
            return;
        }
        unit.restart_at = None;
        let (read, write) = match nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK) {
            Ok(p) => p,
            Err(e) => {
                unit.phase = Phase::Failed;
                unit.reason = Some(format!("cannot make a pipe: {e}"));
                return;
            }
        };
        // The service's end must block, as a terminal or a file would.
        let _ = nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()));
        match child::spawn(&unit.service, level, write) {
            Ok(pid) => {
                unit.pid = Some(pid);
                unit.phase = Phase::Running;
                unit.started = Some(Instant::now());
                unit.since = now_unix();
                unit.output = Some(read);
                let _ = unit.log.touch();
                if let Some(start) = child::start_time(pid) {
                    let _ =
                        std::fs::write(self.scope.pids_dir().join(key), format!("{pid} {start}\n"));
                }
                self.event(&format!("{key} started (pid {pid})"));
            }
            Err(e) => {
                unit.phase = Phase::Failed;
                unit.reason = Some(format!("{e:#}"));
                let text = format!("{key} failed: {e:#}");
                let _ = unit.log.write(format!("svc-any: {text}\n").as_bytes());
                self.event(&text);
            }
        }
    }

    /// A manual start: fresh counters, then spawn. A unit waiting out its restart delay is
    /// already on its way up: starting it again would skip the backoff and reset the count
    /// that ends a crash loop.
    fn start(&mut self, key: &str) {
        if let Some(u) = self.units.get_mut(key) {
            if u.phase == Phase::Waiting {
                return;
            }
            if matches!(u.phase, Phase::Running | Phase::Stopping) {
                if u.phase == Phase::Stopping {
                    u.after_stop = AfterStop::Start;
                }
                return;
            }
            u.restarts = 0;
            u.quick_failures = 0;
            u.recent_restarts.clear();
            u.reason = None;
        }
        self.spawn(key);
    }

    fn stop(&mut self, key: &str, then: AfterStop) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        match (unit.phase, unit.pid) {
            (Phase::Running, Some(pid)) => {
                let signal = unit.service.stop_signal.to_nix();
                unit.phase = Phase::Stopping;
                unit.after_stop = then;
                unit.kill_at = Some(Instant::now() + unit.service.stop_timeout);
                let _ = killpg(pid, signal);
                let text = format!(
                    "{key} stopping: SIG{} to its process group",
                    unit.service.stop_signal.name()
                );
                self.event(&text);
            }
            (Phase::Stopping, _) => unit.after_stop = then,
            _ => {
                unit.restart_at = None;
                unit.phase = Phase::Stopped;
                unit.since = now_unix();
                match then {
                    AfterStop::Start => self.start(key),
                    AfterStop::Remove => {
                        self.units.remove(key);
                    }
                    AfterStop::Nothing => {}
                }
            }
        }
    }

    /// Starts units so that each comes after what it depends on.
    fn start_in_order(&mut self, keys: &[String], only_stopped: bool) {
        let services: Vec<(String, Service)> = keys
            .iter()
            .filter_map(|k| self.units.get(k).map(|u| (k.clone(), u.service.clone())))
            .collect();
        let refs: Vec<&Service> = services.iter().map(|(_, s)| s).collect();
        let mut ordered: Vec<String> = Vec::new();
        for s in spec::dependency_order(&refs) {
            for (k, svc) in &services {
                if std::ptr::eq(svc, s) {
                    ordered.push(k.clone());
                }
            }
        }
        for key in ordered {
            if only_stopped
                && self
                    .units
                    .get(&key)
                    .is_some_and(|u| u.phase != Phase::Stopped)
            {
                continue;
            }
            self.start(&key);
        }
    }

    fn begin_shutdown(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        let running: Vec<(String, Service)> = self
            .units
            .iter()
            .filter(|(_, u)| matches!(u.phase, Phase::Running | Phase::Stopping | Phase::Waiting))
            .map(|(k, u)| (k.clone(), u.service.clone()))
            .collect();
        let refs: Vec<&Service> = running.iter().map(|(_, s)| s).collect();
        let mut order: Vec<String> = Vec::new();
        for s in spec::dependency_order(&refs).into_iter().rev() {
            for (k, svc) in &running {
                if std::ptr::eq(svc, s) {
                    order.push(k.clone());
                }
            }
        }
        self.shutdown = Some(order.into());
    }

    /// Stops the next unit of the shutdown order once the previous one is down: dependants
    /// stop before what they depend on.
    fn advance_shutdown(&mut self) {
        loop {
            if self.units.values().any(|u| u.phase == Phase::Stopping) {
                return;
            }
            let Some(next) = self.shutdown.as_mut().and_then(|q| q.pop_front()) else {
                return;
            };
            self.stop(&next, AfterStop::Nothing);
        }
    }

    fn drain_output(&mut self, key: &str, buffer: &mut [u8]) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let Some(fd) = &unit.output else { return };
        let mut file = std::fs::File::from(fd.try_clone().expect("dup of a pipe"));
        loop {
            match file.read(buffer) {
                Ok(0) => {
                    unit.output = None;
                    return;
                }
                Ok(n) => {
                    let _ = unit.log.write(&buffer[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => {
                    unit.output = None;
                    return;
                }
            }
        }
    }

    fn accept(&mut self, listener: &UnixListener) {
        while let Ok((stream, _)) = listener.accept() {
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                buffer: Vec::new(),
                waiting_for: None,
            });
        }
    }

    fn read_client(&mut self, index: usize) {
        let line = match read_request_line(&mut self.clients[index]) {
            ReadOutcome::Pending => return,
            ReadOutcome::Closed => {
                if self.clients[index].waiting_for.is_none() {
                    self.clients.remove(index);
                }
                return;
            }
            ReadOutcome::Line(line) => line,
        };
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                let client = self.clients.remove(index);
                respond(client.stream, &Response::error(format!("bad request: {e}")));
                return;
            }
        };
        match self.handle(request) {
            Handled::Now(response) => {
                let client = self.clients.remove(index);
                respond(client.stream, &response);
            }
            Handled::WhenStopped(keys) => {
                self.clients[index].waiting_for = Some((keys, Response::ok(Vec::new())));
            }
        }
    }

    fn answer_waiting_clients(&mut self) {
        let mut i = 0;
        while i < self.clients.len() {
            let done = match &self.clients[i].waiting_for {
                Some((keys, _)) => keys
                    .iter()
                    .all(|k| self.units.get(k).is_none_or(|u| u.phase != Phase::Stopping)),
                None => false,
            };
            if done {
                let client = self.clients.remove(i);
                let (keys, _) = client.waiting_for.expect("checked");
                let statuses = keys
                    .iter()
                    .filter_map(|k| self.units.get(k).map(Unit::status))
                    .collect();
                respond(client.stream, &Response::ok(statuses));
            } else {
                i += 1;
            }
        }
    }

    fn unknown(&self, keys: &[String]) -> Option<String> {
        keys.iter()
            .find(|k| !self.units.contains_key(*k))
            .map(|k| format!("no unit `{k}` is defined here"))
    }

    fn handle(&mut self, request: Request) -> Handled {
        match request {
            Request::Ping => Handled::Now(Response::ok(Vec::new())),
            Request::Reload => {
                self.reload();
                Handled::Now(Response::ok(Vec::new()))
            }
            Request::Status { units } => {
                if let Some(e) = self.unknown(&units) {
                    return Handled::Now(Response::error(e));
                }
                let list = if units.is_empty() {
                    self.units.values().map(Unit::status).collect()
                } else {
                    units.iter().map(|k| self.units[k].status()).collect()
                };
                Handled::Now(Response::ok(list))
            }
            Request::Start { units } => {
                if let Some(e) = self.unknown(&units) {
                    return Handled::Now(Response::error(e));
                }
                self.start_in_order(&units, false);
                let statuses: Vec<ServiceStatus> =
                    units.iter().map(|k| self.units[k].status()).collect();
                let failed: Vec<String> = statuses
                    .iter()
                    .filter(|s| s.state == State::Failed)
                    .map(|s| format!("{}: {}", s.unit, s.reason.clone().unwrap_or_default()))
                    .collect();
                if failed.is_empty() {
                    Handled::Now(Response::ok(statuses))
                } else {
                    Handled::Now(Response {
                        ok: false,
                        error: Some(failed.join("; ")),
                        units: statuses,
                    })
                }
            }
            Request::Stop { units } => {
                if let Some(e) = self.unknown(&units) {
                    return Handled::Now(Response::error(e));
                }
                for k in &units {
                    self.stop(k, AfterStop::Nothing);
                }
                Handled::WhenStopped(units)
            }
            Request::Restart { units } => {
                if let Some(e) = self.unknown(&units) {
                    return Handled::Now(Response::error(e));
                }
                for k in &units {
                    if self.units[k].phase == Phase::Running {
                        self.stop(k, AfterStop::Start);
                    } else {
                        self.start(k);
                    }
                }
                Handled::WhenStopped(units)
            }
            Request::Signal { units, signal } => {
                if let Some(e) = self.unknown(&units) {
                    return Handled::Now(Response::error(e));
                }
                let Some(sig) = Signal::from_name(&signal) else {
                    return Handled::Now(Response::error(format!("unknown signal {signal}")));
                };
                for k in &units {
                    if let Some(pid) = self.units[k].pid {
                        let _ = nix::sys::signal::kill(pid, sig.to_nix());
                    }
                }
                Handled::Now(Response::ok(
                    units.iter().map(|k| self.units[k].status()).collect(),
                ))
            }
            Request::Shutdown => {
                self.begin_shutdown();
                let keys = self.units.keys().cloned().collect();
                Handled::WhenStopped(keys)
            }
        }
    }

    /// Re-reads the definitions: new units appear stopped, changed ones take effect at their
    /// next start, removed ones are stopped and forgotten. With none left, the supervisor ends.
    fn reload(&mut self) {
        let defined = load_definitions(&self.scope);
        let gone: Vec<String> = self
            .units
            .keys()
            .filter(|k| !defined.contains_key(*k))
            .cloned()
            .collect();
        for key in gone {
            self.stop(&key, AfterStop::Remove);
        }
        for (key, (name, instance, service, enabled)) in defined {
            match self.units.get_mut(&key) {
                Some(unit) => {
                    unit.enabled = enabled;
                    if unit.service != service {
                        unit.log = log_for(&self.scope, &key, &service);
                        unit.service = service;
                    }
                }
                None => {
                    let unit = Unit::new(&self.scope, name, instance, service, enabled);
                    self.units.insert(key, unit);
                }
            }
        }
        if self.units.is_empty() && !self.foreground {
            // Nothing to supervise: leave no process and no runtime files behind.
            self.shutdown.get_or_insert_with(VecDeque::new);
        }
    }

    fn cleanup(&mut self) {
        self.event(&format!("supervisor {} exits", std::process::id()));
        let _ = std::fs::remove_file(self.scope.socket_path());
        let _ = std::fs::remove_dir(self.scope.pids_dir());
        let _ = std::fs::remove_file(self.scope.lock_path());
        let _ = std::fs::remove_dir(&self.scope.runtime_dir);
    }
}

enum ReadOutcome {
    /// No complete line yet.
    Pending,
    /// The client hung up (or misbehaved).
    Closed,
    Line(Vec<u8>),
}

/// Reads what a client sent; one request is one line, at most 1 MiB.
fn read_request_line(client: &mut Client) -> ReadOutcome {
    let mut chunk = [0u8; 4096];
    loop {
        match client.stream.read(&mut chunk) {
            Ok(0) => return ReadOutcome::Closed,
            Ok(n) => client.buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return ReadOutcome::Closed,
        }
        if client.buffer.len() > 1 << 20 {
            return ReadOutcome::Closed;
        }
    }
    if client.waiting_for.is_some() {
        return ReadOutcome::Pending;
    }
    match client.buffer.iter().position(|b| *b == b'\n') {
        Some(end) => {
            let line = client.buffer[..end].to_vec();
            client.buffer.clear();
            ReadOutcome::Line(line)
        }
        None => ReadOutcome::Pending,
    }
}

enum Handled {
    Now(Response),
    /// Answer once none of these units is stopping.
    WhenStopped(Vec<String>),
}

fn respond(mut stream: UnixStream, response: &Response) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut line = serde_json::to_vec(response).expect("plain data");
    line.push(b'\n');
    let _ = stream.write_all(&line);
}

/// The delay before restart number `quick_failures + 1` of a crash streak: `restart_delay`,
/// doubled for every quick crash before it, at most `restart_max_delay`.
pub fn backoff(service: &Service, quick_failures: u32) -> Duration {
    let factor = 1u32.checked_shl(quick_failures.min(31)).unwrap_or(u32::MAX);
    service
        .restart_delay
        .saturating_mul(factor)
        .min(service.restart_max_delay.max(service.restart_delay))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(delay_ms: u64, max_ms: u64) -> Service {
        let src = crate::spec::Source {
            label: "t".into(),
            text: "exec = [\"/bin/true\"]\n",
            path: None,
        };
        let opts = crate::spec::ParseOptions {
            default_level: Level::System,
            forced_level: None,
            accounts: None,
        };
        let mut s = crate::spec::parse(&src, Some("t"), &opts)
            .unwrap()
            .services
            .remove("t")
            .unwrap();
        s.restart_delay = Duration::from_millis(delay_ms);
        s.restart_max_delay = Duration::from_millis(max_ms);
        s
    }

    #[test]
    fn backoff_doubles_from_the_delay_up_to_the_ceiling() {
        let s = service(500, 3000);
        let delays: Vec<u128> = (0..5).map(|n| backoff(&s, n).as_millis()).collect();
        assert_eq!(delays, [500, 1000, 2000, 3000, 3000]);
    }

    #[test]
    fn a_zero_delay_stays_zero() {
        let s = service(0, 60_000);
        assert!((0..40).all(|n| backoff(&s, n).is_zero()));
    }
}
