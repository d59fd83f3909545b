//! A unit's life around its main process: a start (its conditions, the descriptors it
//! needs, `pre_start`, then the process itself), a stop (the stop signal, or `stop_exec`
//! first), the end of the process (what the state machine says follows: a restart, a
//! failure, nothing), and the stop side after it (`stop_exec`, `post_stop`, the runtime
//! directories removed) before what waited for the stop. What each event means is decided
//! by the pure state machine in `machine.rs`; the commands run in `jobs.rs`.

use std::os::fd::AsFd;
use std::time::Instant;

use nix::sys::signal::{killpg, Signal as NixSignal};
use nix::unistd::Pid;

use super::child;
use super::commands::{Stage, START_TIMEOUT};
use super::daemon::Supervisor;
use super::descriptors::pipe;
use super::directories;
use super::machine::{AfterStop, Exit, Phase, Start, Stop};
use super::notify::NotifySocket;
use super::sandbox;
use super::unit::{now_unix, AfterJob, Forking};
use crate::model::spec::{self, KillMode};
use crate::model::status::LastExit;

impl Supervisor {
    /// A start asked for by a person or at boot: fresh crash counters, then spawn.
    pub(super) fn start(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        if unit.machine.on_start() == Start::SpawnNow {
            self.spawn(key);
        }
    }

    /// Starts a unit (from stopped, dead, failed or waiting): its conditions, then its
    /// `pre_start` commands, then its main process. While the stop side's commands of its
    /// last run still run, the start follows them.
    pub(super) fn spawn(&mut self, key: &str) {
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
        if let Some(path) = directories::unmet_condition(&unit.service) {
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
        match child::spawn(&unit.service, key, &inherited, write, errors_write) {
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

    pub(super) fn stop(&mut self, key: &str, then: AfterStop) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let was_exited = unit.machine.phase() == Phase::Exited;
        let now = Instant::now();
        match unit.machine.on_stop(now, then) {
            Stop::Signal { signal, .. } => {
                unit.cancel_moot_job("the service was stopped");
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
                        job.deadline = job.deadline.min(now + unit.service.stop_wait());
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

    pub(super) fn exited(&mut self, pid: Pid, how: LastExit) {
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
        unit.cancel_moot_job("the service ended");
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
        directories::remove_runtime_directories(&unit.service);
        if unit.service.daemon.private_tmp {
            sandbox::remove_private_tmp(key);
        }
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
