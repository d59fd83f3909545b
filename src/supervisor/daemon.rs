//! The supervisor process: one per scope, event driven, single threaded.
//!
//! Everything it waits for is a file descriptor in one `poll`: a signalfd (SIGCHLD, SIGTERM,
//! SIGINT, SIGHUP), the control socket, its clients, and an epoll set ([`super::outputs`])
//! of the pipes that carry each running service's stdout and stderr to its log file. Timers
//! (restart delays, stop timeouts) are the poll timeout; with none pending it sleeps until
//! something happens, so an idle supervisor makes no wakeups at all.
//!
//! This file is the plumbing: it turns what poll reports into calls on each unit's state
//! machine ([`super::machine`]) and carries out the answers (fork and exec through
//! [`super::child`], signals, pid files). Requests arrive through [`super::control`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fs::File;
use std::os::fd::AsFd;
use std::time::Instant;

use anyhow::Result;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal as NixSignal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::child;
use super::control::{ControlServer, Units, MAX_CLIENTS};
use super::definitions::{self, Read, Stamp};
use super::logfile::LogFile;
use super::machine::{AfterStop, Exit, Phase, Start, Stop, Timer};
use super::notify::NotifySocket;
use super::outputs::Outputs;
use super::startup;
use super::unit::{now_unix, Unit};
use super::{Options, Scope};
use crate::model::signal::Signal;
use crate::model::spec::{self, KillMode, Level, Service};
use crate::model::status::{LastExit, ServiceStatus};

/// Descriptors kept free beyond the clients' share, for what the supervisor opens for a
/// moment: a definition or a directory being read, a process being started (the write end
/// of its pipe), a pid file.
const FD_RESERVE: u64 = 16;

struct Supervisor {
    scope: Scope,
    level: Level,
    foreground: bool,
    units: BTreeMap<String, Unit>,
    /// Each definition file read, by service name: its stamp then, and the units it defined.
    files: BTreeMap<String, Known>,
    /// Units still to stop, in order, while shutting down.
    shutdown: Option<VecDeque<String>>,
    events: LogFile,
    nofile: startup::Nofile,
    /// Descriptors held whatever runs: stdio, the lock, the signalfd, the socket, the event
    /// log, /dev/null.
    base_fds: u64,
    /// The stdin of every service.
    devnull: File,
    /// The signals a service must not inherit ignored.
    ignored_signals: Vec<i32>,
    /// Low descriptors for a new process's stdio (see `child::StdioSlot`).
    stdio_slot: Option<child::StdioSlot>,
    /// Where output is read into.
    buffer: Vec<u8>,
    /// Where stamped lines are put together.
    scratch: Vec<u8>,
    /// The running units' output pipes.
    outputs: Outputs,
    /// How poll last failed, while it does.
    poll_failed: Option<Errno>,
    /// Where `type = "notify"` services say READY=1 (None: it could not be bound, which the
    /// supervisor's log says).
    notify: Option<NotifySocket>,
}

/// A definition file as last read.
struct Known {
    stamp: Stamp,
    keys: Vec<String>,
}

/// Runs the supervisor until it is told to stop or has nothing left to supervise.
pub fn run(opts: Options) -> Result<i32> {
    let Some(mut claimed) = startup::claim(&opts.scope, opts.level, opts.ready_fd)? else {
        return Ok(0);
    };
    let nofile = startup::raise_nofile();
    // Taken first, so their numbers are low whatever the supervisor opens later.
    let stdio_slot = child::StdioSlot::reserve();
    let mut control = ControlServer::bind(&opts.scope)?;
    let events = LogFile::new(
        opts.scope.logs_dir().join("supervisor.log"),
        Some(1 << 20),
        1,
    );
    let devnull = File::open("/dev/null")?;
    let notify = NotifySocket::bind(&opts.scope.runtime_dir);
    let mut sup = Supervisor {
        scope: opts.scope,
        level: opts.level,
        foreground: opts.foreground,
        units: BTreeMap::new(),
        files: BTreeMap::new(),
        shutdown: None,
        events,
        nofile,
        base_fds: 0,
        devnull,
        ignored_signals: child::ignored_signals(),
        stdio_slot,
        buffer: vec![0u8; 64 * 1024],
        scratch: Vec::new(),
        outputs: Outputs::new()?,
        poll_failed: None,
        notify: None,
    };
    match notify {
        Ok(socket) => sup.notify = Some(socket),
        Err(e) => sup.event(&format!("cannot bind the readiness socket: {e}")),
    }
    sup.event(&format!(
        "supervisor {} started (open files: up to {})",
        std::process::id(),
        sup.nofile.limit
    ));
    sup.base_fds = startup::open_descriptors();
    sup.reload(&[]);
    // At boot, what is enabled starts; a supervisor started on demand (its predecessor was
    // killed, or none ran yet) brings back only what someone started and nobody stopped.
    let boot = opts.boot || opts.foreground;
    sup.forget_wanted_up_of_an_earlier_boot();
    let to_start: Vec<String> = sup
        .units
        .values()
        .filter(|u| {
            if boot {
                u.enabled
            } else {
                sup.scope.wanted_up(&u.key())
            }
        })
        .map(Unit::key)
        .collect();
    if boot {
        sup.set_wanted_up(&to_start, true);
    }
    sup.start_in_order(&to_start, true);
    if let Some(fd) = opts.ready_fd {
        startup::signal_ready(fd, b"1");
    }
    let code = sup.run_loop(&mut control, &mut claimed.signals);
    sup.cleanup();
    Ok(code)
}

/// A pipe for a service's output: the supervisor's end (read) does not block; the service's
/// end blocks, as a terminal or a file would.
fn pipe() -> nix::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
    Ok((read, write))
}

/// The file in `RUN/up/` that says during which boot its marks were made.
const BOOT_MARK: &str = ".boot";

/// This boot's identity (the kernel's random boot id).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default()
}

impl Supervisor {
    fn event(&mut self, text: &str) {
        let line = format!("{} {text}\n", now_unix());
        if self.foreground {
            eprintln!("svc-any: {text}");
        }
        let _ = self.events.write(line.as_bytes());
    }

    fn run_loop(&mut self, control: &mut ControlServer, signals: &mut SignalFd) -> i32 {
        loop {
            if self.finished(control) {
                return 0;
            }
            let deadline = self.next_deadline();
            let timeout = match deadline {
                None => PollTimeout::NONE,
                // Round up: waking a millisecond early would only loop again.
                Some(d) => {
                    let wait = d.saturating_duration_since(Instant::now());
                    PollTimeout::try_from(
                        wait.as_millis().saturating_add(1).min(i32::MAX as u128) as i32
                    )
                    .unwrap_or(PollTimeout::MAX)
                }
            };
            let poll_failed: Option<Errno>;
            let notify_ready: bool;
            let (sig_ready, listen_ready, client_ready, outputs_ready) = {
                // With every client's place taken, new ones wait in the socket's backlog.
                let accepting = if control.can_accept() {
                    PollFlags::POLLIN
                } else {
                    PollFlags::empty()
                };
                let notify_flags = match self.notify {
                    Some(_) => PollFlags::POLLIN,
                    None => PollFlags::empty(),
                };
                let mut fds = vec![
                    PollFd::new(signals.as_fd(), PollFlags::POLLIN),
                    PollFd::new(control.listener(), accepting),
                    PollFd::new(self.outputs.fd(), PollFlags::POLLIN),
                    PollFd::new(
                        match &self.notify {
                            Some(n) => n.fd(),
                            None => self.devnull.as_fd(),
                        },
                        notify_flags,
                    ),
                ];
                fds.extend(
                    control
                        .client_fds()
                        .map(|fd| PollFd::new(fd, PollFlags::POLLIN)),
                );
                let clients = fds.len() - 4;
                // Should poll itself fail (its descriptors past a limit lowered from outside),
                // exiting would take every service along: instead every descriptor is tried
                // (all are non-blocking) every 100 ms until it works again.
                let failed = match poll(&mut fds, timeout) {
                    Ok(_) | Err(Errno::EINTR) => None,
                    Err(e) => {
                        std::thread::sleep(std::time::Duration::from_millis(100));
                        Some(e)
                    }
                };
                poll_failed = failed;
                let ready =
                    |fd: &PollFd| failed.is_some() || fd.revents().is_some_and(|r| !r.is_empty());
                let client_ready: Vec<usize> =
                    (0..clients).filter(|i| ready(&fds[4 + i])).collect();
                notify_ready = self.notify.is_some() && ready(&fds[3]);
                (ready(&fds[0]), ready(&fds[1]), client_ready, ready(&fds[2]))
            };
            if notify_ready {
                self.take_readiness();
            }
            if poll_failed != self.poll_failed {
                match poll_failed {
                    Some(e) => self.event(&format!(
                        "poll failed: {e}; trying every descriptor every 100 ms until it works again"
                    )),
                    None => self.event("poll works again"),
                }
                self.poll_failed = poll_failed;
            }
            // Output first: a process's last words belong before the news of its exit.
            if poll_failed.is_some() {
                let all: Vec<String> = self
                    .units
                    .iter()
                    .filter(|(_, u)| u.has_pipes())
                    .map(|(k, _)| k.clone())
                    .collect();
                for key in all {
                    self.drain(&key);
                }
            } else if outputs_ready {
                for (token, key) in self.outputs.ready() {
                    if self.units.get(&key).is_some_and(|u| u.owns_token(token)) {
                        self.drain(&key);
                    } else {
                        // A pipe closed since: its unit restarted, or is gone.
                        self.outputs.forget(token);
                    }
                }
            }
            if sig_ready {
                self.handle_signals(signals);
            }
            // Only when one was due: looking at every unit's timers each round would cost a
            // little per unit for every request.
            if deadline.is_some_and(|d| d <= Instant::now()) {
                self.fire_timers();
            }
            if listen_ready {
                control.accept();
            }
            control.serve(&client_ready, self);
            control.answer_waiting_clients(self);
            self.advance_shutdown();
        }
    }

    /// READY=1 from a unit's process, or one it started (a script's `systemd-notify`): the
    /// unit is up. From anyone else it means nothing.
    fn take_readiness(&mut self) {
        let Some(socket) = &self.notify else {
            return;
        };
        for sender in socket.ready_senders() {
            let key = self.units.iter().find_map(|(key, u)| {
                let pid = u.pid?.as_raw() as u32;
                (u.awaiting_ready && crate::system::processes::descends_from(sender, pid))
                    .then(|| key.clone())
            });
            if let Some(key) = key {
                if let Some(unit) = self.units.get_mut(&key) {
                    unit.awaiting_ready = false;
                    unit.since = now_unix();
                }
                self.event(&format!("{key} is ready (READY=1 from pid {sender})"));
            }
        }
    }

    /// Forgets a unit whose definition is gone (it has stopped).
    fn remove_unit(&mut self, key: &str) {
        if let Some(unit) = self.units.remove(key) {
            for stream in unit.streams() {
                self.outputs.forget(stream.token);
            }
        }
    }

    /// Copies what `key`'s process wrote into its log; a pipe that ends leaves the watch.
    fn drain(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        unit.drain_output(&mut self.buffer, &mut self.scratch);
        for stream in unit.streams().filter(|s| s.pipe.is_none()) {
            self.outputs.forget(stream.token);
        }
    }

    /// Nothing left to do: shutting down with every unit stopped, or no definitions at all.
    fn finished(&self, control: &ControlServer) -> bool {
        let idle = self
            .units
            .values()
            .all(|u| !matches!(u.machine.phase(), Phase::Running | Phase::Stopping));
        match &self.shutdown {
            Some(queue) => queue.is_empty() && idle && !control.has_waiting_clients(),
            None => false,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.units
            .values()
            .filter_map(|u| u.machine.next_deadline())
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
                Ok(NixSignal::SIGHUP) => self.reload(&[]),
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
        let now = Instant::now();
        let unit = self.units.get_mut(&key).expect("found above");
        // Whatever else ran in its process group goes with it, as with a cgroup; with
        // kill_mode = "process" it is left alone, as systemd leaves it.
        if unit.service.daemon.kill_mode != Some(KillMode::Process) {
            let _ = killpg(pid, NixSignal::SIGKILL);
        }
        unit.pid = None;
        unit.awaiting_ready = false;
        unit.since = now_unix();
        // Its last words, before a new process takes the pipe's place.
        unit.drain_output(&mut self.buffer, &mut self.scratch);
        for stream in unit.streams().filter(|s| s.pipe.is_none()) {
            self.outputs.forget(stream.token);
        }
        let described = how.to_string();
        let restart = unit.service.restart.as_str();
        let exit = unit.machine.on_exit(how, now);
        unit.release_if_idle();
        child::remove_runtime_directories(&unit.service);
        match exit {
            Exit::Stopped { then } => {
                self.event(&format!("{key} stopped ({described})"));
                match then {
                    AfterStop::Start => self.spawn(&key),
                    AfterStop::Remove => {
                        self.remove_unit(&key);
                    }
                    AfterStop::Nothing => {}
                }
            }
            Exit::NotRestarted { .. } => self.event(&format!(
                "{key} {described}; not restarted (restart = \"{restart}\")"
            )),
            Exit::Failed { reason } => self.event(&format!("{key} failed: {reason}")),
            Exit::Restart { delay } if delay.is_zero() => {
                self.event(&format!("{key} {described}; restarting"));
                self.spawn(&key);
            }
            Exit::Restart { delay } => self.event(&format!(
                "{key} {described}; restarting in {}",
                humantime::format_duration(delay)
            )),
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        let due: Vec<(String, Timer)> = self
            .units
            .iter_mut()
            .filter_map(|(k, u)| Some((k.clone(), u.machine.on_timer(now)?)))
            .collect();
        for (key, timer) in due {
            match timer {
                Timer::Spawn => self.spawn(&key),
                Timer::Kill => {
                    if let Some(unit) = self.units.get(&key) {
                        if let Some(pid) = unit.pid {
                            let whom = deliver(
                                pid,
                                NixSignal::SIGKILL,
                                unit.service.daemon.kill_mode != Some(KillMode::Process),
                            );
                            self.event(&format!("{key} did not stop in time: SIGKILL to {whom}"));
                        }
                    }
                }
            }
        }
    }

    /// Descriptors in use: what the supervisor holds whatever runs, what each unit holds, and
    /// room for every client the socket may serve at once.
    fn descriptors_in_use(&self) -> u64 {
        self.base_fds + MAX_CLIENTS as u64 + self.units.values().map(Unit::descriptors).sum::<u64>()
    }

    /// Why `key` cannot have a process now without breaking the others, if it cannot: the
    /// descriptors it would hold (its pipes, its log files) would leave too few free for
    /// what keeps the supervisor going (reading definitions, answering the socket).
    fn no_room_for(&self, key: &str) -> Option<String> {
        let unit = self.units.get(key)?;
        let needed = unit.descriptors_to_start();
        let in_use = self.descriptors_in_use();
        (in_use + needed + FD_RESERVE > self.nofile.limit).then(|| {
            format!(
                "not started: the supervisor has {in_use} of its {} file descriptors in use or set aside, \
                 and a running service holds 2 (4 with log.stderr); stop other services, or raise the \
                 hard limit on open files (ulimit -Hn) of whatever starts the supervisor",
                self.nofile.limit
            )
        })
    }

    /// Starts a unit's process now (from stopped, dead, failed or waiting).
    fn spawn(&mut self, key: &str) {
        if self
            .units
            .get(key)
            .is_none_or(|unit| !unit.machine.can_spawn())
        {
            return;
        }
        if let Some(path) = self
            .units
            .get(key)
            .and_then(|unit| child::unmet_condition(&unit.service))
        {
            let unit = self.units.get_mut(key).expect("checked above");
            let reason = format!("not started: a condition was not met ({path})");
            unit.machine.on_condition_unmet(reason.clone());
            unit.since = now_unix();
            self.event(&format!("{key} {reason}"));
            return;
        }
        if let Some(reason) = self.no_room_for(key) {
            let unit = self.units.get_mut(key).expect("checked above");
            unit.machine.on_spawn_failed(reason.clone());
            unit.since = now_unix();
            self.event(&format!("{key} {reason}"));
            return;
        }
        let inherited = child::Inherited {
            level: self.level,
            nofile: self.nofile.inherited,
            stdin: self.devnull.as_fd(),
            ignored_signals: &self.ignored_signals,
            slot: self.stdio_slot.as_ref(),
            notify_socket: self.notify.as_ref().map(NotifySocket::path),
        };
        let unit = self.units.get_mut(key).expect("checked above");
        let apart = unit.errors_apart();
        let pipes = pipe().and_then(|out| Ok((out, if apart { Some(pipe()?) } else { None })));
        let ((read, write), errors) = match pipes {
            Ok(p) => p,
            Err(e) => {
                unit.machine
                    .on_spawn_failed(format!("cannot make a pipe: {e}"));
                return;
            }
        };
        let (errors_read, errors_write) = errors.unzip();
        match child::spawn(&unit.service, &inherited, write, errors_write) {
            Ok(pid) => {
                unit.pid = Some(pid);
                unit.awaiting_ready =
                    unit.service.daemon.service_type == Some(spec::ServiceType::Notify);
                unit.machine.on_spawned(Instant::now());
                unit.since = now_unix();
                // An old pipe still open is held by something the process left behind.
                for stream in unit.streams().filter(|s| s.pipe.is_some()) {
                    self.outputs.forget(stream.token);
                }
                if !apart {
                    unit.errors = None;
                }
                let token = self.outputs.watch(key, read.as_fd());
                let mut unopened = Vec::new();
                unopened.extend(unit.output.attach(read, token).err());
                if let (Some(read), Some(stream)) = (errors_read, unit.errors.as_mut()) {
                    let token = self.outputs.watch(key, read.as_fd());
                    unopened.extend(stream.attach(read, token).err());
                }
                if let Some(start) = crate::system::processes::start_time(pid.as_raw() as u32) {
                    let _ =
                        std::fs::write(self.scope.pids_dir().join(key), format!("{pid} {start}\n"));
                }
                self.event(&format!("{key} started (pid {pid})"));
                for why in unopened {
                    self.event(&format!("{key}: {why}"));
                }
            }
            Err(e) => {
                unit.machine.on_spawn_failed(format!("{e:#}"));
                let text = format!("{key} failed: {e:#}");
                unit.output.note(&text);
                unit.output.log.close();
                self.event(&text);
            }
        }
    }

    /// A start asked for by a person or at boot: fresh crash counters, then spawn.
    fn start(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if unit.machine.on_start() == Start::SpawnNow {
            self.spawn(key);
        }
    }

    fn stop(&mut self, key: &str, then: AfterStop) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        match unit.machine.on_stop(Instant::now(), then) {
            Stop::Signal { signal, .. } => {
                // kill_mode: the group by default; the main process only for "process" and
                // "mixed" (whose KILL, if it comes to that, goes to the group).
                let to_group =
                    matches!(unit.service.daemon.kill_mode, None | Some(KillMode::Group));
                let whom = match unit.pid {
                    Some(pid) => deliver(pid, signal.to_nix(), to_group),
                    None => "nothing",
                };
                let text = format!("{key} stopping: SIG{} to {whom}", signal.name());
                self.event(&text);
            }
            Stop::AlreadyStopping => {}
            Stop::Stopped { then } => {
                unit.since = now_unix();
                match then {
                    AfterStop::Start => self.start(key),
                    AfterStop::Remove => {
                        self.remove_unit(key);
                    }
                    AfterStop::Nothing => {}
                }
            }
        }
    }

    /// The keys among `keys` (of units that exist), so that each comes after what it depends
    /// on.
    fn in_dependency_order(&self, keys: &[String]) -> Vec<String> {
        // One copy per key, so each placed service points back at exactly one key even when a
        // request names a unit twice.
        let services: Vec<(&String, Service)> = keys
            .iter()
            .filter_map(|k| self.units.get(k).map(|u| (k, u.service.clone())))
            .collect();
        let refs: Vec<&Service> = services.iter().map(|(_, s)| s).collect();
        let mut ordered: Vec<String> = Vec::new();
        for s in spec::dependency_order(&refs) {
            for (k, svc) in &services {
                if std::ptr::eq(svc, s) {
                    ordered.push((*k).clone());
                }
            }
        }
        ordered
    }

    /// Starts units so that each comes after what it depends on.
    fn start_in_order(&mut self, keys: &[String], only_stopped: bool) {
        for key in self.in_dependency_order(keys) {
            if only_stopped
                && self
                    .units
                    .get(&key)
                    .is_some_and(|u| u.machine.phase() != Phase::Stopped)
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
        let up: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| {
                matches!(
                    u.machine.phase(),
                    Phase::Running | Phase::Stopping | Phase::Waiting
                )
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut order = self.in_dependency_order(&up);
        order.reverse();
        self.shutdown = Some(order.into());
    }

    /// Stops the next unit of the shutdown order once the previous one is down: dependants
    /// stop before what they depend on.
    fn advance_shutdown(&mut self) {
        loop {
            if self
                .units
                .values()
                .any(|u| u.machine.phase() == Phase::Stopping)
            {
                return;
            }
            let Some(next) = self.shutdown.as_mut().and_then(|q| q.pop_front()) else {
                return;
            };
            self.stop(&next, AfterStop::Nothing);
        }
    }

    /// Re-reads definitions (see [`definitions`]): those of `services`, or with none named
    /// every file that changed since it was last read. New units appear stopped, changed ones
    /// take effect at their next start, the units of a file that is gone are stopped and
    /// forgotten, and those of a file that cannot be read stay as they were. With none left,
    /// the supervisor ends.
    fn reload(&mut self, services: &[String]) {
        if services.is_empty() {
            self.reload_all();
        } else {
            for name in services {
                self.reload_service(name, None);
            }
        }
        if self.units.is_empty() && !self.foreground {
            // Nothing to supervise: leave no process and no runtime files behind.
            self.shutdown.get_or_insert_with(VecDeque::new);
        }
    }

    /// A user's runtime directory may live on disk (no `XDG_RUNTIME_DIR`), where a reboot
    /// does not empty it: marks made during another boot mean nothing now.
    fn forget_wanted_up_of_an_earlier_boot(&self) {
        let dir = self.scope.wanted_up_dir();
        let recorded = std::fs::read_to_string(dir.join(BOOT_MARK)).unwrap_or_default();
        if dir.exists() && recorded != boot_id() {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    fn reload_all(&mut self) {
        let names = match definitions::list(&self.scope) {
            Ok(names) => names,
            Err(e) => {
                self.event(&format!(
                    "cannot list {}: {e}; every unit stays as it was",
                    self.scope.definitions_dir().display()
                ));
                return;
            }
        };
        // Without a complete list of boot links, each unit's is looked at by itself.
        let enabled = definitions::enabled_keys(&self.scope).ok();
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|name| !names.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            self.forget_service(&name);
        }
        for name in &names {
            let unchanged = match (self.files.get(name), definitions::stamp(&self.scope, name)) {
                (Some(known), Ok(Some(now))) => known.stamp == now,
                _ => false,
            };
            if !unchanged {
                self.reload_service(name, enabled.as_ref());
                continue;
            }
            let keys = self.files[name].keys.clone();
            for key in keys {
                let on = match &enabled {
                    Some(set) => set.contains(&key),
                    None => definitions::is_enabled(&self.scope, &key),
                };
                if let Some(unit) = self.units.get_mut(&key) {
                    unit.enabled = on;
                }
            }
        }
    }

    /// Reads service `name`'s file again; `enabled` is the set of boot links if known.
    fn reload_service(&mut self, name: &str, enabled: Option<&BTreeSet<String>>) {
        let scope = self.scope.clone();
        let is_enabled = |key: &str| match enabled {
            Some(set) => set.contains(key),
            None => definitions::is_enabled(&scope, key),
        };
        match definitions::read(&self.scope, name, &is_enabled) {
            Read::Gone => self.forget_service(name),
            Read::Unreadable(why) => {
                self.event(&format!("cannot read {why}; its units stay as they were"))
            }
            Read::Defined(stamp, units) => {
                let keys: Vec<String> = units.iter().map(|(k, _)| k.clone()).collect();
                let before = self.files.insert(
                    name.to_string(),
                    Known {
                        stamp,
                        keys: keys.clone(),
                    },
                );
                let dropped: Vec<String> = before
                    .map(|k| k.keys)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| !keys.contains(k))
                    .collect();
                self.remove_units(&dropped);
                for (key, definition) in units {
                    match self.units.get_mut(&key) {
                        Some(unit) => unit.redefine(&self.scope, definition),
                        None => {
                            let unit = Unit::new(&self.scope, definition);
                            self.units.insert(key, unit);
                        }
                    }
                }
            }
        }
    }

    /// The definition of `name` is gone: its units stop and are forgotten.
    fn forget_service(&mut self, name: &str) {
        let keys = self.files.remove(name).map(|k| k.keys).unwrap_or_default();
        self.remove_units(&keys);
    }

    fn remove_units(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, false);
        for key in keys {
            self.stop(key, AfterStop::Remove);
        }
    }

    /// Remembers that `keys` were asked to run (or to stop), for a supervisor started after
    /// this one (see [`Scope::wanted_up_dir`]).
    fn set_wanted_up(&self, keys: &[String], up: bool) {
        let dir = self.scope.wanted_up_dir();
        if up && !dir.exists() {
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(BOOT_MARK), boot_id());
        }
        for key in keys {
            if up {
                let _ = std::fs::write(dir.join(key), b"");
            } else {
                let _ = std::fs::remove_file(dir.join(key));
            }
        }
        let only_the_mark = std::fs::read_dir(&dir)
            .map(|entries| entries.flatten().all(|e| e.file_name() == BOOT_MARK))
            .unwrap_or(false);
        if !up && only_the_mark {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    fn cleanup(&mut self) {
        // Its file goes with it, before the runtime directory is removed.
        self.notify = None;
        self.event(&format!("supervisor {} exits", std::process::id()));
        let _ = std::fs::remove_file(self.scope.socket_path());
        let _ = std::fs::remove_dir(self.scope.pids_dir());
        let up = self.scope.wanted_up_dir();
        let _ = std::fs::remove_file(up.join(BOOT_MARK));
        if std::fs::remove_dir(&up).is_err() {
            // Marks stay for the next supervisor: put this boot's mark back.
            let _ = std::fs::write(up.join(BOOT_MARK), boot_id());
        }
        let _ = std::fs::remove_file(self.scope.lock_path());
        let _ = std::fs::remove_dir(&self.scope.runtime_dir);
    }
}

impl Units for Supervisor {
    fn exists(&self, key: &str) -> bool {
        self.units.contains_key(key)
    }

    fn stopping(&self, key: &str) -> bool {
        self.units
            .get(key)
            .is_some_and(|u| u.machine.phase() == Phase::Stopping)
    }

    fn statuses(&self, keys: &[String]) -> Vec<ServiceStatus> {
        keys.iter()
            .filter_map(|k| self.units.get(k).map(Unit::status))
            .collect()
    }

    fn all_statuses(&self) -> Vec<ServiceStatus> {
        self.units.values().map(Unit::status).collect()
    }

    fn start(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, true);
        self.start_in_order(keys, false);
    }

    fn stop(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, false);
        for key in keys {
            Supervisor::stop(self, key, AfterStop::Nothing);
        }
    }

    fn restart(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, true);
        for key in keys {
            if self.units[key].machine.phase() == Phase::Running {
                Supervisor::stop(self, key, AfterStop::Start);
            } else {
                Supervisor::start(self, key);
            }
        }
    }

    fn signal(&mut self, keys: &[String], signal: Signal) {
        for pid in keys.iter().filter_map(|k| self.units[k].pid) {
            let _ = nix::sys::signal::kill(pid, signal.to_nix());
        }
    }

    fn reload(&mut self, services: &[String]) {
        Supervisor::reload(self, services);
    }

    fn shutdown(&mut self) -> Vec<String> {
        self.begin_shutdown();
        self.units.keys().cloned().collect()
    }
}

/// Sends `signal` to `pid`'s process group, or to `pid` alone; says which.
fn deliver(pid: Pid, signal: NixSignal, to_group: bool) -> &'static str {
    if to_group {
        let _ = killpg(pid, signal);
        "its process group"
    } else {
        let _ = nix::sys::signal::kill(pid, signal);
        "its main process"
    }
}
