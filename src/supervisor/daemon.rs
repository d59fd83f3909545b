//! The supervisor process: one per scope, event driven, single threaded.
//!
//! Everything it waits for is a file descriptor in one `poll`: a signalfd (SIGCHLD, SIGTERM,
//! SIGINT, SIGHUP), the control socket, its clients, and an epoll set ([`super::outputs`])
//! of the pipes that carry each running service's stdout and stderr to its log file. Timers
//! (restart delays, stop timeouts) are the poll timeout; with none pending it sleeps until
//! something happens, so an idle supervisor makes no wakeups at all.
//!
//! This file is the loop and what it holds: the [`Supervisor`], its start ([`run`]) and end,
//! the poll, signals, reaping, copying output to the logs and the supervisor's own log. What
//! the loop hands on lives beside it, each an `impl Supervisor` of its own:
//!
//! - `lifecycle.rs`: a unit's start, stop, the end of its main process and the stop side;
//!   each event's meaning comes from the unit's pure state machine ([`super::machine`]), the
//!   process from [`super::child`];
//! - `jobs.rs`: the commands around the main process (`pre_start`... `post_stop`);
//! - `readiness.rs`: when a unit is up (READY=1, a forking service's pid file);
//! - `timers.rs`: the deadlines behind the poll timeout;
//! - `order.rs`: dependency order, and shutting down in reverse;
//! - `reload.rs`: definition files into units; `wanted_up.rs`: what comes back after a
//!   supervisor restart; `descriptors.rs`: pipes and the descriptor budget;
//! - `requests.rs`: what each request of [`super::control`] does.

use std::collections::{BTreeMap, VecDeque};
use std::fs::File;
use std::os::fd::AsFd;
use std::time::Instant;

use anyhow::Result;
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::Signal as NixSignal;
use nix::sys::signalfd::SignalFd;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::clone;
use super::control::ControlServer;
use super::definitions::Stamp;
use super::logfile::LogFile;
use super::machine::Phase;
use super::notify::NotifySocket;
use super::outputs::Outputs;
use super::startup;
use super::unit::{now_unix, Unit};
use super::{Options, Scope};
use crate::model::signal::Signal;
use crate::model::spec::Level;
use crate::model::status::LastExit;

pub(super) struct Supervisor {
    pub(super) scope: Scope,
    pub(super) level: Level,
    pub(super) foreground: bool,
    pub(super) units: BTreeMap<String, Unit>,
    /// Each definition file read, by service name: its stamp then, and the units it defined.
    pub(super) files: BTreeMap<String, Known>,
    /// Units still to stop, in order, while shutting down.
    pub(super) shutdown: Option<VecDeque<String>>,
    events: LogFile,
    pub(super) nofile: startup::Nofile,
    /// Descriptors held whatever runs: stdio, the lock, the signalfd, the socket, the event
    /// log, /dev/null.
    pub(super) base_fds: u64,
    /// The stdin of every service.
    pub(super) devnull: File,
    /// The signals a service must not inherit ignored.
    pub(super) ignored_signals: Vec<i32>,
    /// Low descriptors for a new process's stdio (see `clone::StdioSlot`).
    pub(super) stdio_slot: Option<clone::StdioSlot>,
    /// Where output is read into.
    buffer: Vec<u8>,
    /// Where stamped lines are put together.
    scratch: Vec<u8>,
    /// The running units' output pipes.
    pub(super) outputs: Outputs,
    /// How poll last failed, while it does.
    poll_failed: Option<Errno>,
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
    let stdio_slot = clone::StdioSlot::reserve();
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
        ignored_signals: clone::ignored_signals(),
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
    // At boot an enabled unit pulls in what it wants, enabled or not; on demand the marks
    // already name what was pulled in (and stopped since, if someone stopped it).
    let to_start = if boot {
        sup.with_wanted(&to_start)
    } else {
        to_start
    };
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
