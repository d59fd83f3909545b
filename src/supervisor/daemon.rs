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

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::fd::AsFd;
use std::time::Instant;

use anyhow::Result;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{killpg, Signal as NixSignal};
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::child;
use super::commands::{Stage, START_TIMEOUT};
use super::control::ControlServer;
use super::definitions::Stamp;
use super::descriptors::pipe;
use super::logfile::LogFile;
use super::machine::{AfterStop, Exit, Phase, Start, Stop, Timer};
use super::notify::NotifySocket;
use super::outputs::Outputs;
use super::startup;
use super::unit::{now_unix, AfterJob, Forking, Unit};
use super::{Options, Scope};
use crate::model::signal::Signal;
use crate::model::spec::{self, KillMode, Level};
use crate::model::status::LastExit;

/// How often a forking service's pid file is looked at while its daemon is awaited.
const PID_FILE_LOOK: std::time::Duration = std::time::Duration::from_millis(20);

pub(super) struct Supervisor {
    pub(super) scope: Scope,
    pub(super) level: Level,
    pub(super) foreground: bool,
    pub(super) units: BTreeMap<String, Unit>,
    /// Each definition file read, by service name: its stamp then, and the units it defined.
    pub(super) files: BTreeMap<String, Known>,
    /// Units still to stop, in order, while shutting down.
    pub(super) shutdown: Option<VecDeque<String>>,
    pub(super) events: LogFile,
    pub(super) nofile: startup::Nofile,
    /// Descriptors held whatever runs: stdio, the lock, the signalfd, the socket, the event
    /// log, /dev/null.
    pub(super) base_fds: u64,
    /// The stdin of every service.
    pub(super) devnull: File,
    /// The signals a service must not inherit ignored.
    pub(super) ignored_signals: Vec<i32>,
    /// Low descriptors for a new process's stdio (see `child::StdioSlot`).
    pub(super) stdio_slot: Option<child::StdioSlot>,
    /// Where output is read into.
    pub(super) buffer: Vec<u8>,
    /// Where stamped lines are put together.
    pub(super) scratch: Vec<u8>,
    /// The running units' output pipes.
    pub(super) outputs: Outputs,
    /// How poll last failed, while it does.
    pub(super) poll_failed: Option<Errno>,
    /// Where `type = "notify"` services say READY=1 (None: it could not be bound, which the
    /// supervisor's log says).
    pub(super) notify: Option<NotifySocket>,
}

/// A definition file as last read.
pub(super) struct Known {
    pub(super) stamp: Stamp,
    pub(super) keys: Vec<String>,
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

impl Supervisor {
    pub(super) fn event(&mut self, text: &str) {
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
    /// unit is up, and its `post_start` runs. From anyone else it means nothing.
    ///
    /// A sender that has already exited (`systemd-notify` sends and quits, and its shell may
    /// reap it before the message is read) has no lineage left to check; it counts for the one
    /// unit waiting for READY=1 whose process runs as the sender's user, as such a process could
    /// signal the service anyway. With two such units it is ambiguous and counts for neither.
    fn take_readiness(&mut self) {
        let Some(socket) = &self.notify else {
            return;
        };
        for sender in socket.ready_senders() {
            let awaiting = || {
                self.units
                    .iter()
                    .filter(|(_, u)| u.awaiting_ready)
                    .filter_map(|(key, u)| Some((key, u.pid?.as_raw() as u32)))
            };
            let mut key = awaiting()
                .find(|(_, pid)| crate::system::processes::descends_from(sender.pid, *pid))
                .map(|(key, _)| key.clone());
            let gone = crate::system::processes::Process::of(sender.pid).is_none();
            if key.is_none() && gone {
                let same_user: Vec<&String> = awaiting()
                    .filter(|(_, pid)| crate::system::processes::owner(*pid) == Some(sender.uid))
                    .map(|(key, _)| key)
                    .collect();
                if let [only] = same_user[..] {
                    key = Some(only.clone());
                }
            }
            if let Some(key) = key {
                if let Some(unit) = self.units.get_mut(&key) {
                    unit.awaiting_ready = false;
                    unit.since = now_unix();
                }
                self.event(&format!("{key} is ready (READY=1 from pid {})", sender.pid));
                self.begin_post_start(&key);
            }
        }
    }

    /// Copies what `key`'s process and command wrote into its log; a pipe that ends leaves
    /// the watch.
    pub(super) fn drain(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let open = |unit: &Unit| -> Vec<u64> { unit.streams().flat_map(|s| s.tokens()).collect() };
        let before = open(unit);
        unit.drain_output(&mut self.buffer, &mut self.scratch);
        let after = open(unit);
        for token in before.into_iter().filter(|t| !after.contains(t)) {
            self.outputs.forget(token);
        }
    }

    /// Nothing left to do: shutting down with every unit stopped, or no definitions at all.
    fn finished(&self, control: &ControlServer) -> bool {
        let idle = self.units.values().all(|u| {
            !matches!(u.machine.phase(), Phase::Running | Phase::Stopping) && u.job.is_none()
        });
        match &self.shutdown {
            Some(queue) => queue.is_empty() && idle && !control.has_waiting_clients(),
            None => false,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.units
            .values()
            .filter_map(|u| {
                let job = u
                    .job
                    .as_ref()
                    .filter(|j| j.pid.is_some() && !j.timed_out)
                    .map(|j| j.deadline);
                let look = match u.forking {
                    Forking::PidFile { next_look, .. } => Some(next_look),
                    _ => None,
                };
                [u.machine.next_deadline(), job, look]
                    .into_iter()
                    .flatten()
                    .min()
            })
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

    /// Collects every exited child: our services, their commands, and orphans adopted as
    /// subreaper (among them a forking service's daemon, once its parent exits).
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
        let command_of = self
            .units
            .iter()
            .find(|(_, u)| u.job.as_ref().is_some_and(|j| j.pid == Some(pid)))
            .map(|(k, _)| k.clone());
        if let Some(key) = command_of {
            self.command_exited(&key, how);
            return;
        }
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
        // type = "forking": the process started exited 0, leaving its daemon behind (ours now,
        // as the subreaper of everything the service starts): its pid is in the pid file.
        if unit.forking == Forking::Parent {
            unit.forking = Forking::No;
            let done = how == LastExit::Exited { code: 0 };
            if done && unit.machine.phase() == Phase::Running {
                unit.pid = None;
                unit.forking = Forking::PidFile {
                    deadline: now + START_TIMEOUT,
                    next_look: now,
                };
                self.event(&format!(
                    "{key}: the process started exited 0; looking for its daemon's pid in its pid_file"
                ));
                self.look_for_pid(&key);
                return;
            }
        }
        // Whatever else ran in its process group goes with it, as with a cgroup; with
        // kill_mode = "process" it is left alone, as systemd leaves it.
        let groups = std::mem::take(&mut unit.groups);
        if unit.service.daemon.kill_mode != Some(KillMode::Process) {
            for group in groups {
                let _ = killpg(group, NixSignal::SIGKILL);
            }
        }
        unit.pid = None;
        unit.awaiting_ready = false;
        unit.since = now_unix();
        // Its last words, before a new process takes the pipe's place.
        self.drain(&key);
        let unit = self.units.get_mut(&key).expect("found above");
        let described = how.to_string();
        let restart = unit.service.restart.as_str();
        let oneshot = unit.oneshot();
        let exit = unit.machine.on_exit(how, now);
        unit.release_if_idle();
        let text = match &exit {
            Exit::Stopped { .. } => format!("{key} stopped ({described})"),
            Exit::NotRestarted { clean: true } if oneshot => {
                format!("{key} ran to completion ({described})")
            }
            Exit::NotRestarted { .. } => {
                format!("{key} {described}; not restarted (restart = \"{restart}\")")
            }
            Exit::Failed { reason } => format!("{key} failed: {reason}"),
            Exit::Restart { delay } if delay.is_zero() => format!("{key} {described}; restarting"),
            Exit::Restart { delay } => format!(
                "{key} {described}; restarting in {}",
                humantime::format_duration(*delay)
            ),
        };
        self.event(&text);
        self.after_main_exit(&key, exit);
    }

    /// What follows the end of the main process: a oneshot's `post_start` once it ran to
    /// completion; otherwise the stop side's commands (`stop_exec`, when the start was complete
    /// and no stop had run it already; then `post_stop`), and then `exit` is carried out.
    fn after_main_exit(&mut self, key: &str, exit: Exit) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let was_up = std::mem::take(&mut unit.up);
        // A reload or a post_start still running has nothing left to act on.
        let moot = unit
            .job
            .take_if(|j| matches!(j.stage, Stage::Reload | Stage::PostStart));
        if let Some(job) = moot {
            if let Some(pid) = job.pid {
                let _ = killpg(pid, NixSignal::SIGKILL);
            }
            if job.stage == Stage::Reload {
                unit.reload_failure = Some(format!(
                    "{} did not finish: the service ended",
                    job.describe()
                ));
            }
        }
        let stopped = matches!(exit, Exit::Stopped { .. });
        let oneshot_done = unit.oneshot() && exit == Exit::NotRestarted { clean: true };
        unit.pending = Some(exit);
        if unit.job.is_some() {
            // A stop's stop_exec still runs: post_stop follows it.
            return;
        }
        if oneshot_done {
            if !self.begin_job(key, Stage::PostStart) {
                self.oneshot_done(key);
            }
            return;
        }
        self.stop_side(key, was_up && !stopped);
    }

    /// A oneshot ran to completion, and its `post_start` too: with remain_after_exit it is up
    /// until stopped; otherwise its stop side runs now, as systemd's does.
    pub(super) fn oneshot_done(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if unit.machine.phase() == Phase::Exited {
            unit.up = true;
            unit.pending = None;
            unit.release_if_idle();
        } else {
            self.stop_side(key, true);
        }
    }

    /// The stop side: `stop_exec` (with `with_stop_exec`), then `post_stop`, then what is
    /// pending.
    pub(super) fn stop_side(&mut self, key: &str, with_stop_exec: bool) {
        if with_stop_exec && self.begin_job(key, Stage::StopExec) {
            return;
        }
        if self.begin_job(key, Stage::PostStop) {
            return;
        }
        self.finish_stop(key);
    }

    /// The stop side is over: the runtime directories go (as systemd removes them once the
    /// unit is down), and what waited for it follows.
    pub(super) fn finish_stop(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        child::remove_runtime_directories(&unit.service);
        let mut pending = unit.pending.take();
        if let Some(reason) = unit.fail_after_stop.take() {
            unit.machine.on_spawn_failed(reason);
            pending = None;
        }
        unit.release_if_idle();
        let after = std::mem::take(&mut unit.after_job);
        match pending {
            Some(Exit::Stopped {
                then: AfterStop::Remove,
            }) => return self.remove_unit(key),
            Some(Exit::Stopped {
                then: AfterStop::Start,
            }) => self.spawn(key),
            Some(Exit::Restart { delay }) if delay.is_zero() => self.spawn(key),
            _ => {}
        }
        match after {
            AfterJob::Spawn => self.spawn(key),
            AfterJob::Remove => self.remove_unit(key),
            AfterJob::Nothing => {}
        }
    }

    /// `post_start` once the main process is up (spawned; ready, for notify; known by its pid
    /// file, for forking); up at once without it.
    fn begin_post_start(&mut self, key: &str) {
        if !self.begin_job(key, Stage::PostStart) {
            if let Some(unit) = self.units.get_mut(key) {
                unit.up = true;
            }
        }
    }

    /// A forking service's daemon: its pid, read from `pid_file`, once a process the
    /// supervisor adopted (its parent exited) and no other unit's; the start fails when none
    /// is found in time.
    fn look_for_pid(&mut self, key: &str) {
        let now = Instant::now();
        let Some(unit) = self.units.get(key) else {
            return;
        };
        let Forking::PidFile { deadline, .. } = unit.forking else {
            return;
        };
        let path = unit.service.daemon.pid_file.clone().unwrap_or_default();
        let found = daemon_pid(&path).and_then(|pid| {
            let other = self
                .units
                .iter()
                .find(|(k, u)| k.as_str() != key && u.pid == Some(pid));
            match other {
                Some((k, _)) => Err(format!("{path} names pid {pid}, which is {k}'s")),
                None => Ok(pid),
            }
        });
        let unit = self.units.get_mut(key).expect("found above");
        match found {
            Ok(pid) => {
                unit.forking = Forking::No;
                unit.pid = Some(pid);
                // The daemon's own process group, if it made one (a daemon calls setsid);
                // never the supervisor's.
                let own = nix::unistd::getpgrp();
                unit.groups = nix::unistd::getpgid(Some(pid))
                    .ok()
                    .filter(|g| *g != own && g.as_raw() > 1)
                    .into_iter()
                    .collect();
                if let Some(start) = crate::system::processes::start_time(pid.as_raw() as u32) {
                    let _ =
                        std::fs::write(self.scope.pids_dir().join(key), format!("{pid} {start}\n"));
                }
                unit.since = now_unix();
                self.event(&format!("{key}: its daemon is pid {pid} (from {path})"));
                self.begin_post_start(key);
            }
            Err(why) if now >= deadline => {
                let reason = format!(
                    "type = forking: no daemon within {}: {why}",
                    humantime::format_duration(START_TIMEOUT)
                );
                unit.forking = Forking::No;
                unit.groups.clear();
                unit.machine.on_spawn_failed(reason.clone());
                unit.since = now_unix();
                unit.output.note(&reason);
                self.event(&format!("{key} failed: {reason}"));
                self.stop_side(key, false);
            }
            Err(_) => {
                unit.forking = Forking::PidFile {
                    deadline,
                    next_look: now + PID_FILE_LOOK,
                };
            }
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
                                &unit.groups,
                                NixSignal::SIGKILL,
                                unit.service.daemon.kill_mode != Some(KillMode::Process),
                            );
                            self.event(&format!("{key} did not stop in time: SIGKILL to {whom}"));
                        }
                    }
                }
            }
        }
        // Commands past their stage's time: KILL (their end then reads as a timeout).
        let overdue: Vec<(String, Pid, String)> = self
            .units
            .iter_mut()
            .filter_map(|(k, u)| {
                let job = u.job.as_mut()?;
                let pid = job.pid?;
                (!job.timed_out && job.deadline <= now).then(|| {
                    job.timed_out = true;
                    (k.clone(), pid, job.describe())
                })
            })
            .collect();
        for (key, pid, described) in overdue {
            let _ = killpg(pid, NixSignal::SIGKILL);
            self.event(&format!("{key}: {described} ran out of time: SIGKILL"));
        }
        let looks: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| matches!(u.forking, Forking::PidFile { next_look, .. } if next_look <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in looks {
            self.look_for_pid(&key);
        }
    }

    /// Starts a unit (from stopped, dead, failed or waiting): its conditions, then its
    /// `pre_start` commands, then its main process. While the stop side's commands of its
    /// last run still run, the start follows them.
    fn spawn(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if !unit.machine.can_spawn() {
            return;
        }
        if let Some(job) = &unit.job {
            if job.stage.stops() {
                unit.after_job = AfterJob::Spawn;
            }
            // Or a start (its pre_start) is under way already.
            return;
        }
        if let Some(path) = child::unmet_condition(&unit.service) {
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
        if !self.begin_job(key, Stage::PreStart) {
            self.spawn_main(key);
        }
    }

    /// Starts a unit's main process now.
    pub(super) fn spawn_main(&mut self, key: &str) {
        let inherited = child::Inherited {
            level: self.level,
            nofile: self.nofile.inherited,
            stdin: self.devnull.as_fd(),
            ignored_signals: &self.ignored_signals,
            slot: self.stdio_slot.as_ref(),
            notify_socket: self.notify.as_ref().map(NotifySocket::path),
        };
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
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
                unit.groups = vec![pid];
                let kind = unit.service.daemon.service_type;
                unit.awaiting_ready = kind == Some(spec::ServiceType::Notify);
                unit.forking = if kind == Some(spec::ServiceType::Forking) {
                    Forking::Parent
                } else {
                    Forking::No
                };
                let up_now = !unit.awaiting_ready
                    && kind != Some(spec::ServiceType::Forking)
                    && kind != Some(spec::ServiceType::Oneshot);
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
                if up_now {
                    self.begin_post_start(key);
                }
            }
            Err(e) => {
                unit.machine.on_spawn_failed(format!("{e:#}"));
                let text = format!("{key} failed: {e:#}");
                unit.output.note(&text);
                self.event(&text);
                self.stop_side(key, false);
            }
        }
    }

    /// A start asked for by a person or at boot: fresh crash counters, then spawn.
    pub(super) fn start(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if unit.machine.on_start() == Start::SpawnNow {
            self.spawn(key);
        }
    }

    pub(super) fn stop(&mut self, key: &str, then: AfterStop) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let was_exited = unit.machine.phase() == Phase::Exited;
        let now = Instant::now();
        match unit.machine.on_stop(now, then) {
            Stop::Signal { signal, .. } => {
                // A reload or a post_start still running is moot now.
                let moot = unit
                    .job
                    .take_if(|j| matches!(j.stage, Stage::Reload | Stage::PostStart));
                if let Some(job) = moot {
                    if let Some(pid) = job.pid {
                        let _ = killpg(pid, NixSignal::SIGKILL);
                    }
                    if job.stage == Stage::Reload {
                        unit.reload_failure = Some(format!(
                            "{} did not finish: the service was stopped",
                            job.describe()
                        ));
                    }
                }
                if unit.pid.is_none() {
                    // A forking service between its parent's exit and its pid file: nothing
                    // runs that svc-any knows of.
                    unit.forking = Forking::No;
                    let exit = unit.machine.on_exit(LastExit::Exited { code: 0 }, now);
                    self.event(&format!("{key} stopped before its daemon was known"));
                    return self.after_main_exit(key, exit);
                }
                if unit.up && self.begin_job(key, Stage::StopExec) {
                    self.event(&format!("{key} stopping: stop_exec first"));
                    return;
                }
                let unit = self.units.get_mut(key).expect("checked above");
                // kill_mode: the group by default; the main process only for "process" and
                // "mixed" (whose KILL, if it comes to that, goes to the group).
                let to_group =
                    matches!(unit.service.daemon.kill_mode, None | Some(KillMode::Group));
                let whom = match unit.pid {
                    Some(pid) => deliver(pid, &unit.groups, signal.to_nix(), to_group),
                    None => "nothing",
                };
                let text = format!("{key} stopping: SIG{} to {whom}", signal.name());
                self.event(&text);
            }
            Stop::AlreadyStopping => {}
            Stop::Stopped { then } => {
                unit.since = now_unix();
                let after = match then {
                    AfterStop::Nothing => AfterJob::Nothing,
                    AfterStop::Start => AfterJob::Spawn,
                    AfterStop::Remove => AfterJob::Remove,
                };
                if let Some(job) = &mut unit.job {
                    if job.stage == Stage::PreStart && !job.cancelled {
                        // A start under way: its command is stopped, and the main process
                        // never runs.
                        job.cancelled = true;
                        job.deadline = job.deadline.min(now + unit.service.stop_timeout);
                        if let Some(pid) = job.pid {
                            let _ = killpg(pid, unit.service.stop_signal.to_nix());
                        }
                    }
                    unit.after_job = after;
                    return;
                }
                if was_exited {
                    // A oneshot up with no process: its stop is its stop side.
                    unit.pending = Some(Exit::Stopped { then });
                    let up = std::mem::take(&mut unit.up);
                    return self.stop_side(key, up);
                }
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

    fn cleanup(&mut self) {
        // Its file goes with it, before the runtime directory is removed.
        self.notify = None;
        self.event(&format!("supervisor {} exits", std::process::id()));
        let _ = std::fs::remove_file(self.scope.socket_path());
        let _ = std::fs::remove_dir(self.scope.pids_dir());
        self.leave_wanted_up();
        let _ = std::fs::remove_file(self.scope.lock_path());
        let _ = std::fs::remove_dir(&self.scope.runtime_dir);
    }
}

/// Sends `signal` to the unit's process groups (its main process's, and a forking daemon's
/// own), or to its main process `pid` alone; says which.
pub(super) fn deliver(pid: Pid, groups: &[Pid], signal: NixSignal, to_group: bool) -> &'static str {
    if to_group && !groups.is_empty() {
        for group in groups {
            let _ = killpg(*group, signal);
        }
        "its process group"
    } else {
        let _ = nix::sys::signal::kill(pid, signal);
        "its main process"
    }
}

/// The daemon a forking service's `pid_file` names, once it is a process the supervisor
/// adopted: its parent exited and it is the supervisor's child now (the supervisor is the
/// subreaper of all it starts). A pid file can be written by the service's own user: a pid
/// of anything else (init, another user's process, the supervisor) is never taken.
fn daemon_pid(path: &str) -> Result<Pid, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let pid: i32 = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("{path} holds no pid"))?;
    let me = std::process::id();
    match crate::system::processes::parent(pid as u32) {
        Some(parent) if parent == me => Ok(Pid::from_raw(pid)),
        Some(parent) => Err(format!(
            "{path} names pid {pid}, whose parent is {parent}, not svc-any's supervisor"
        )),
        None => Err(format!("{path} names pid {pid}, which does not run")),
    }
}
