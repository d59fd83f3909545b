//! Running the commands around a unit's main process (`pre_start`, `post_start`,
//! `reload_exec`, `stop_exec`, `post_stop`): each as the service's user, in its directory,
//! with its environment, its output into the service's log; and what the end of a stage
//! does to the unit. Which command comes next and what each end means is decided, with no
//! process involved, in `commands.rs`; this file starts the processes and carries the
//! decisions out.

use std::os::fd::AsFd;
use std::time::Instant;

use super::child;
use super::commands::{Ended, Job, Stage, Step, START_TIMEOUT};
use super::daemon::Supervisor;
use super::descriptors::pipe;
use super::lifecycle::deliver;
use super::machine::AfterStop;
use super::unit::now_unix;
use crate::model::spec::KillMode;
use crate::model::status::LastExit;

impl Supervisor {
    /// Begins `stage`'s commands if the unit has any (true: they carry the unit on from here,
    /// even if the first cannot start).
    pub(super) fn begin_job(&mut self, key: &str, stage: Stage) -> bool {
        let Some(unit) = self.units.get_mut(key) else {
            return false;
        };
        let limit = if stage.stops() {
            unit.service.stop_wait()
        } else {
            START_TIMEOUT
        };
        let Some(job) = Job::new(stage, &unit.service.daemon, Instant::now(), limit) else {
            return false;
        };
        unit.job = Some(job);
        self.run_job(key);
        true
    }

    /// Starts the job's current command, as the service's user, in its directory, with its
    /// environment (and `MAINPID` where there is a main process to act on), its output into
    /// the service's log. One that cannot start ends at once, as a failed command.
    fn run_job(&mut self, key: &str) {
        loop {
            let inherited = child::Inherited {
                level: self.level,
                nofile: self.nofile.inherited,
                stdin: self.devnull.as_fd(),
                ignored_signals: &self.ignored_signals,
                slot: self.stdio_slot.as_ref(),
                notify_socket: None,
            };
            let Some(unit) = self.units.get_mut(key) else {
                return;
            };
            let Some(job) = &mut unit.job else {
                return;
            };
            let stage = job.stage;
            let command = job.command().clone();
            let main_pid = unit
                .pid
                .filter(|_| matches!(stage, Stage::PostStart | Stage::Reload | Stage::StopExec));
            let program = child::Program {
                argv: &command.exec,
                privileged: command.privileged,
                extra_env: main_pid
                    .map(|p| vec![("MAINPID".to_string(), p.to_string())])
                    .unwrap_or_default(),
                make_directories: matches!(stage, Stage::PreStart | Stage::PostStart),
                main: false,
                key: stage.key(),
            };
            let described = job.describe();
            let started = pipe()
                .map_err(anyhow::Error::from)
                .and_then(|(read, write)| {
                    child::spawn_program(&unit.service, key, &program, &inherited, write, None)
                        .map(|pid| (read, pid))
                });
            match started {
                Ok((read, pid)) => {
                    job.pid = Some(pid);
                    let token = self.outputs.watch(key, read.as_fd());
                    let unopened = unit.output.attach_command(read, token).err();
                    self.event(&format!("{key}: {described} started (pid {pid})"));
                    if let Some(why) = unopened {
                        self.event(&format!("{key}: {why}"));
                    }
                    return;
                }
                Err(e) => match job.on_end(Ended::NotStarted(format!("{e:#}"))) {
                    Step::Run(_) => {
                        self.told_forgiven(key);
                        continue;
                    }
                    step => return self.job_finished(key, step),
                },
            }
        }
    }

    /// A command's process ended: the next one runs, or its stage is over.
    pub(super) fn command_exited(&mut self, key: &str, how: LastExit) {
        self.drain(key);
        let Some(job) = self.units.get_mut(key).and_then(|u| u.job.as_mut()) else {
            return;
        };
        let step = job.on_exit(how);
        self.told_forgiven(key);
        match step {
            Step::Run(_) => self.run_job(key),
            step => self.job_finished(key, step),
        }
    }

    /// Says, in the supervisor's log and the service's, which `may_fail` commands failed.
    fn told_forgiven(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let forgiven = unit
            .job
            .as_mut()
            .map(|j| std::mem::take(&mut j.forgiven))
            .unwrap_or_default();
        let texts: Vec<String> = forgiven
            .into_iter()
            .map(|failure| format!("{failure}; may_fail: going on"))
            .collect();
        for text in &texts {
            unit.output.note(text);
        }
        for text in texts {
            self.event(&format!("{key}: {text}"));
        }
    }

    /// A stage's commands are over (`Step::Done`, or the failure of one): the unit goes on as
    /// the stage says (see `commands.rs`).
    fn job_finished(&mut self, key: &str, step: Step) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        let Some(job) = unit.job.take() else {
            return;
        };
        let failure = match step {
            Step::Failed(reason) => Some(reason),
            _ => None,
        };
        if let Some(reason) = &failure {
            unit.output.note(reason);
        }
        match (job.stage, failure) {
            (Stage::PreStart, _) if job.cancelled => self.stop_side(key, false),
            (Stage::PreStart, None) => self.spawn_main(key),
            (Stage::PreStart, Some(reason)) => {
                unit.machine.on_spawn_failed(reason.clone());
                unit.since = now_unix();
                self.event(&format!("{key} failed: {reason}"));
                self.stop_side(key, false);
            }
            // A oneshot's, after it ran to completion.
            (Stage::PostStart, None) if unit.pending.is_some() => self.oneshot_done(key),
            (Stage::PostStart, Some(reason)) if unit.pending.is_some() => {
                unit.machine.on_spawn_failed(reason.clone());
                unit.since = now_unix();
                self.event(&format!("{key} failed: {reason}"));
                self.stop_side(key, true);
            }
            (Stage::PostStart, None) => {
                unit.up = true;
                unit.since = now_unix();
                self.event(&format!("{key} is up (post_start done)"));
            }
            (Stage::PostStart, Some(reason)) => {
                unit.up = true;
                unit.fail_after_stop = Some(reason.clone());
                self.event(&format!("{key}: {reason}; stopping it"));
                self.stop(key, AfterStop::Nothing);
            }
            (Stage::Reload, failure) => {
                let text = match &failure {
                    None => format!("{key} reloaded"),
                    Some(reason) => format!("{key}: reload failed: {reason}"),
                };
                unit.reload_failure = failure;
                self.event(&text);
            }
            (Stage::StopExec, failure) => {
                if let Some(reason) = failure {
                    self.event(&format!("{key}: {reason}; stopping it all the same"));
                }
                self.after_stop_exec(key);
            }
            (Stage::PostStop, failure) => {
                if let Some(reason) = failure {
                    self.event(&format!("{key}: {reason}"));
                }
                self.finish_stop(key);
            }
        }
    }

    /// `stop_exec` ran: the stop signal follows if the main process still runs (with the whole
    /// stop timeout from now), else `post_stop`.
    fn after_stop_exec(&mut self, key: &str) {
        let Some(unit) = self.units.get_mut(key) else {
            return;
        };
        match unit.pid {
            Some(pid) if unit.pending.is_none() => {
                unit.machine.rearm_kill(Instant::now());
                let signal = unit.service.stop_signal;
                let to_group =
                    matches!(unit.service.daemon.kill_mode, None | Some(KillMode::Group));
                let whom = deliver(pid, &unit.groups, signal.to_nix(), to_group);
                self.event(&format!(
                    "{key} stopping: stop_exec done; SIG{} to {whom}",
                    signal.name()
                ));
            }
            _ => self.stop_side(key, false),
        }
    }
}
