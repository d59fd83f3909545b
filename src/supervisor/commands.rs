//! The commands around a unit's main process (`pre_start`, `post_start`, `reload_exec`,
//! `stop_exec`, `post_stop`): one stage's run of them, one command at a time, in order, and
//! what the end of each means, as systemd has it.
//!
//! - A command that fails (a non-zero exit, a death by a signal, a program that cannot be
//!   started, or no end within the stage's time) ends the stage: the commands after it do not
//!   run, and the stage has failed, naming the command and how it ended.
//! - One marked `may_fail` (systemd's `-`) fails without failing the stage: its failure is
//!   only told, and the next command runs. A timeout is never forgiven.
//!
//! What a stage's failure does to the unit is the supervisor's (`jobs.rs`): a failed
//! `pre_start` fails the start and the main process never runs; a failed `post_start` stops
//! the main process and fails the unit; a failed `reload_exec` fails the reload and nothing
//! else; the stop side goes on to the stop signal, or to what follows the stop.
//!
//! Nothing here touches a process or the clock: the pid and the deadline are plain values the
//! loop sets and reads.

use std::time::{Duration, Instant};

use nix::unistd::Pid;

use crate::model::spec::{Command, Daemon};
use crate::model::status::LastExit;

/// How long the commands of a start (each of `pre_start` and `post_start`, and a forking
/// service's wait for its pid file) or of a reload may take: systemd's default
/// `TimeoutStartSec=`. svc-any has no key for it yet. The stop side's are bounded by the
/// service's `stop_timeout`.
pub const START_TIMEOUT: Duration = Duration::from_secs(90);

/// When a list of commands runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Before the main process; a failure fails the start.
    PreStart,
    /// Once the main process is up; a failure stops it and fails the unit.
    PostStart,
    /// Instead of the reload signal.
    Reload,
    /// Before the stop signal, and after the main process ended by itself.
    StopExec,
    /// Once the main process is gone, however it ended.
    PostStop,
}

impl Stage {
    /// The definition's key.
    pub fn key(self) -> &'static str {
        match self {
            Stage::PreStart => "pre_start",
            Stage::PostStart => "post_start",
            Stage::Reload => "reload_exec",
            Stage::StopExec => "stop_exec",
            Stage::PostStop => "post_stop",
        }
    }

    /// The stage's commands in a definition.
    pub fn commands(self, daemon: &Daemon) -> &[Command] {
        match self {
            Stage::PreStart => &daemon.pre_start,
            Stage::PostStart => &daemon.post_start,
            Stage::Reload => &daemon.reload_exec,
            Stage::StopExec => &daemon.stop_exec,
            Stage::PostStop => &daemon.post_stop,
        }
    }

    /// Whether it belongs to a stop: what a stop request waits for, and what a crash runs.
    pub fn stops(self) -> bool {
        matches!(self, Stage::StopExec | Stage::PostStop)
    }
}

/// What follows the end of one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run the next command (its index in the stage).
    Run(usize),
    /// Every command ran (a `may_fail` one may have failed; the log says so).
    Done,
    /// A command that may not fail failed: the rest do not run. The reason names it.
    Failed(String),
}

/// How one command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It ran and ended so.
    Exit(LastExit),
    /// It could not be started (the reason says why: no such program, no such user...).
    NotStarted(String),
    /// The stage's time ran out; it was killed.
    TimedOut(Duration),
}

/// One stage's run of commands.
#[derive(Debug, Clone)]
pub struct Job {
    pub stage: Stage,
    commands: Vec<Command>,
    /// The command running now (or about to).
    index: usize,
    /// Its process, while it runs.
    pub pid: Option<Pid>,
    /// How long the stage may take, and when that is up.
    pub limit: Duration,
    pub deadline: Instant,
    /// Given when the deadline passed, so that its end reads as a timeout.
    pub timed_out: bool,
    /// A `may_fail` command's failure, for the log.
    pub forgiven: Vec<String>,
    /// A stop came while it ran (a `pre_start`): what it was for is not to follow.
    pub cancelled: bool,
}

impl Job {
    /// The stage's commands in `daemon`, begun at `now`, to end within `limit`; none when it
    /// has no commands.
    pub fn new(stage: Stage, daemon: &Daemon, now: Instant, limit: Duration) -> Option<Job> {
        let commands = stage.commands(daemon).to_vec();
        (!commands.is_empty()).then_some(Job {
            stage,
            commands,
            index: 0,
            pid: None,
            limit,
            deadline: now + limit,
            timed_out: false,
            forgiven: Vec::new(),
            cancelled: false,
        })
    }

    /// The command to run now.
    pub fn command(&self) -> &Command {
        &self.commands[self.index]
    }

    /// `pre_start[1] (/usr/sbin/nginx -t -q)`: how the log and the status name it.
    pub fn describe(&self) -> String {
        format!(
            "{}[{}] ({})",
            self.stage.key(),
            self.index,
            self.command().exec.join(" ")
        )
    }

    /// The command that ran ended as `how` (the loop reaped it): a timeout if it was killed
    /// for running past the deadline.
    pub fn on_exit(&mut self, how: LastExit) -> Step {
        let ended = if self.timed_out {
            Ended::TimedOut(self.limit)
        } else {
            Ended::Exit(how)
        };
        self.on_end(ended)
    }

    /// The command ended as `ended`: the next one, the stage's end, or its failure.
    pub fn on_end(&mut self, ended: Ended) -> Step {
        self.pid = None;
        self.timed_out = false;
        let failure = match &ended {
            Ended::Exit(LastExit::Exited { code: 0 }) => None,
            Ended::Exit(how) => Some(how.to_string()),
            Ended::NotStarted(why) => Some(format!("could not be started: {why}")),
            Ended::TimedOut(limit) => Some(format!(
                "did not finish within {}, and was killed",
                humantime::format_duration(*limit)
            )),
        };
        if let Some(how) = failure {
            let said = format!("{} {how}", self.describe());
            let forgiven = self.command().may_fail && !matches!(ended, Ended::TimedOut(_));
            if !forgiven {
                return Step::Failed(said);
            }
            self.forgiven.push(said);
        }
        self.index += 1;
        if self.index < self.commands.len() {
            Step::Run(self.index)
        } else {
            Step::Done
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(argv: &[&str], may_fail: bool) -> Command {
        Command {
            exec: argv.iter().map(|a| a.to_string()).collect(),
            may_fail,
            privileged: false,
        }
    }

    fn job(commands: Vec<Command>) -> Job {
        let daemon = Daemon {
            pre_start: commands,
            ..Daemon::default()
        };
        Job::new(Stage::PreStart, &daemon, Instant::now(), START_TIMEOUT).expect("commands")
    }

    const OK: Ended = Ended::Exit(LastExit::Exited { code: 0 });

    #[test]
    fn commands_run_in_order_until_one_fails() {
        let mut j = job(vec![
            command(&["/bin/a"], false),
            command(&["/bin/b", "-x"], false),
            command(&["/bin/c"], false),
        ]);
        assert_eq!(j.describe(), "pre_start[0] (/bin/a)");
        assert_eq!(j.on_end(OK), Step::Run(1));
        assert_eq!(j.command().exec, ["/bin/b", "-x"]);
        assert_eq!(
            j.on_end(Ended::Exit(LastExit::Exited { code: 3 })),
            Step::Failed("pre_start[1] (/bin/b -x) exited with 3".into())
        );
    }

    #[test]
    fn a_may_fail_command_is_forgiven_but_not_its_timeout() {
        let mut j = job(vec![
            command(&["/bin/a"], true),
            command(&["/bin/b"], true),
            command(&["/bin/c"], true),
        ]);
        let killed = LastExit::Killed {
            signal: "KILL".into(),
        };
        assert_eq!(j.on_end(Ended::Exit(killed)), Step::Run(1));
        assert_eq!(
            j.on_end(Ended::NotStarted("no such file".into())),
            Step::Run(2)
        );
        assert_eq!(
            j.forgiven,
            [
                "pre_start[0] (/bin/a) killed by SIGKILL",
                "pre_start[1] (/bin/b) could not be started: no such file"
            ]
        );
        j.timed_out = true;
        assert_eq!(
            j.on_exit(LastExit::Killed {
                signal: "KILL".into()
            }),
            Step::Failed(
                "pre_start[2] (/bin/c) did not finish within 1m 30s, and was killed".into()
            )
        );
    }

    #[test]
    fn the_last_success_ends_the_stage() {
        let mut j = job(vec![command(&["/bin/a"], false)]);
        assert_eq!(j.on_end(OK), Step::Done);
        let daemon = Daemon::default();
        assert!(Job::new(Stage::PostStop, &daemon, Instant::now(), START_TIMEOUT).is_none());
    }
}
