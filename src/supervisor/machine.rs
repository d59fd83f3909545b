//! The life of one supervised unit as a pure state machine.
//!
//! It decides what happens when a unit is started, when its process ends, when it is asked to
//! stop and when one of its timers is due; the supervisor (`lifecycle.rs`, driven by the poll loop in
//! `daemon.rs`) carries the decisions out. Nothing here touches a process, a descriptor or the clock: the time comes in as an
//! argument, so every rule of the README's restart table, the backoff and the crash-loop rule
//! can be tested exactly, in microseconds, without waiting for real processes. The backoff and
//! the crash-loop rule themselves are [`super::restarts`].

use std::time::{Duration, Instant};

use super::policy::Policy;
use super::restarts::Restarts;
use crate::model::signal::Signal;
use crate::model::spec::Restart;
use crate::model::status::{LastExit, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not running, as asked (or never started).
    Stopped,
    Running,
    /// Stop signal sent; KILL when the stop timeout is up.
    Stopping,
    /// Ended by itself; restarts when its delay is up.
    Waiting,
    /// Ended uncleanly and its policy says no restart.
    Dead,
    /// Gave up: crash loop, or it cannot be started.
    Failed,
    /// A oneshot ended cleanly with `remain_after_exit`: up, with no process, until stopped
    /// (systemd's `active (exited)`).
    Exited,
}

/// What follows once a stop is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterStop {
    Nothing,
    Start,
    /// The definition is gone: forget the unit once it has stopped.
    Remove,
}

/// The answer to a start asked for by a person (or at boot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Spawn the process now, with the crash counters fresh.
    SpawnNow,
    /// Running, or on its way up (waiting out a restart delay, or stopping to start again).
    /// Starting it again would skip the backoff and reset the count that ends a crash loop.
    AlreadyUnderway,
}

/// The answer to a stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Send `signal` to the process group now; a timer asks for KILL at `kill_at`.
    Signal { signal: Signal, kill_at: Instant },
    /// A stop is under way; what follows it is now the new stop's.
    AlreadyStopping,
    /// No process ran: it is stopped already, and `then` follows at once.
    Stopped { then: AfterStop },
}

/// What the end of the unit's process means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// It ended because it was stopped; `then` follows.
    Stopped { then: AfterStop },
    /// It ended by itself and its policy keeps it down: `stopped` if clean, else `dead`.
    NotRestarted { clean: bool },
    /// Spawn it again after `delay`: at once when zero, else when the timer says so.
    Restart { delay: Duration },
    /// A crash loop: given up, for `reason`.
    Failed { reason: String },
}

/// A timer that came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// The restart delay is over: spawn it.
    Spawn,
    /// The stop timeout is over and it still runs: KILL its process group.
    Kill,
}

/// One unit's phase, counters and timers.
#[derive(Debug, Clone)]
pub struct Machine {
    policy: Policy,
    phase: Phase,
    started: Option<Instant>,
    restarts: Restarts,
    last_exit: Option<LastExit>,
    reason: Option<String>,
    restart_at: Option<Instant>,
    kill_at: Option<Instant>,
    after_stop: AfterStop,
}

impl Machine {
    pub fn new(policy: Policy) -> Machine {
        Machine {
            policy,
            phase: Phase::Stopped,
            started: None,
            restarts: Restarts::default(),
            last_exit: None,
            reason: None,
            restart_at: None,
            kill_at: None,
            after_stop: AfterStop::Nothing,
        }
    }

    /// A changed definition: it rules from the next decision on, as the process already
    /// running keeps what it was started with.
    pub fn set_policy(&mut self, policy: Policy) {
        self.policy = policy;
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The phase in the words of the status model: stopping still runs, waiting is starting.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::Running | Phase::Stopping | Phase::Exited => State::Running,
            Phase::Waiting => State::Starting,
            Phase::Stopped => State::Stopped,
            Phase::Dead => State::Dead,
            Phase::Failed => State::Failed,
        }
    }

    /// Automatic restarts since a person last started it.
    pub fn restarts(&self) -> u32 {
        self.restarts.count()
    }

    pub fn last_exit(&self) -> Option<&LastExit> {
        self.last_exit.as_ref()
    }

    /// Why it is not running as it should (or why it was last restarted).
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    /// The earliest pending timer: the poll loop sleeps until then.
    pub fn next_deadline(&self) -> Option<Instant> {
        [self.restart_at, self.kill_at].into_iter().flatten().min()
    }

    /// A process may be spawned: none runs, and none is on its way out.
    pub fn can_spawn(&self) -> bool {
        !self.has_process()
    }

    /// A process runs (or is on its way out after a stop signal).
    pub fn has_process(&self) -> bool {
        matches!(self.phase, Phase::Running | Phase::Stopping)
    }

    pub fn on_start(&mut self) -> Start {
        match self.phase {
            Phase::Running | Phase::Waiting | Phase::Exited => Start::AlreadyUnderway,
            Phase::Stopping => {
                self.after_stop = AfterStop::Start;
                Start::AlreadyUnderway
            }
            Phase::Stopped | Phase::Dead | Phase::Failed => {
                self.restarts.reset();
                self.reason = None;
                Start::SpawnNow
            }
        }
    }

    /// The process was spawned at `now`.
    pub fn on_spawned(&mut self, now: Instant) {
        self.phase = Phase::Running;
        self.started = Some(now);
        self.restart_at = None;
    }

    /// No process could be spawned: nothing will change that without a person.
    /// A start skipped because a condition of the definition was not met: stopped, not
    /// failed, as systemd has it, with the reason.
    pub fn on_condition_unmet(&mut self, reason: String) {
        self.phase = Phase::Stopped;
        self.restart_at = None;
        self.reason = Some(reason);
    }

    pub fn on_spawn_failed(&mut self, reason: String) {
        self.phase = Phase::Failed;
        self.restart_at = None;
        self.reason = Some(reason);
    }

    pub fn on_stop(&mut self, now: Instant, then: AfterStop) -> Stop {
        match self.phase {
            Phase::Running => {
                let kill_at = now + self.policy.stop_timeout;
                self.phase = Phase::Stopping;
                self.after_stop = then;
                self.kill_at = Some(kill_at);
                Stop::Signal {
                    signal: self.policy.stop_signal,
                    kill_at,
                }
            }
            Phase::Stopping => {
                self.after_stop = then;
                Stop::AlreadyStopping
            }
            Phase::Stopped | Phase::Waiting | Phase::Dead | Phase::Failed | Phase::Exited => {
                self.restart_at = None;
                self.phase = Phase::Stopped;
                Stop::Stopped { then }
            }
        }
    }

    /// The stop signal goes out only now, at `now` (the `stop_exec` commands ran first): the
    /// process gets the whole stop timeout from here. Returns when KILL follows.
    pub fn rearm_kill(&mut self, now: Instant) -> Option<Instant> {
        if self.phase != Phase::Stopping {
            return None;
        }
        self.kill_at = Some(now + self.policy.stop_timeout);
        self.kill_at
    }

    /// The unit's process ended at `now`, as `how` says.
    pub fn on_exit(&mut self, how: LastExit, now: Instant) -> Exit {
        self.kill_at = None;
        let ran = self
            .started
            .map_or(Duration::ZERO, |s| now.saturating_duration_since(s));
        let described = how.to_string();
        let clean = how.is_clean(self.policy.stop_signal, &self.policy.success_exit_codes);
        self.last_exit = Some(how.clone());
        if self.phase == Phase::Stopping {
            self.phase = Phase::Stopped;
            self.reason = None;
            let then = std::mem::replace(&mut self.after_stop, AfterStop::Nothing);
            return Exit::Stopped { then };
        }
        // A oneshot that ran to completion did its work: never run again by itself.
        if self.policy.oneshot && clean {
            self.reason = None;
            self.phase = if self.policy.remain_after_exit {
                Phase::Exited
            } else {
                Phase::Stopped
            };
            return Exit::NotRestarted { clean: true };
        }
        let prevented = matches!(how, LastExit::Exited { code }
            if u8::try_from(code).is_ok_and(|c| self.policy.restart_prevent_exit_codes.contains(&c)));
        let restart = !prevented
            && match self.policy.restart {
                Restart::Always => true,
                Restart::OnFailure => !clean,
                Restart::No => false,
                // An uncaught signal; systemd's on-abnormal adds watchdog and timeouts, which
                // this supervisor does not have, so the two mean the same here.
                Restart::OnAbnormal | Restart::OnAbort => {
                    !clean && matches!(how, LastExit::Killed { .. })
                }
            };
        if !restart {
            self.phase = if clean { Phase::Stopped } else { Phase::Dead };
            self.reason = (!clean).then_some(described);
            return Exit::NotRestarted { clean };
        }
        match self.restarts.after_crash(&self.policy, ran, now, &how) {
            Ok(delay) => {
                self.reason = Some(described);
                self.phase = Phase::Waiting;
                self.restart_at = (!delay.is_zero()).then(|| now + delay);
                Exit::Restart { delay }
            }
            Err(reason) => self.give_up(reason),
        }
    }

    fn give_up(&mut self, reason: String) -> Exit {
        self.phase = Phase::Failed;
        self.restart_at = None;
        self.reason = Some(reason.clone());
        Exit::Failed { reason }
    }

    /// The timer that is due at `now`, if any; it fires once.
    pub fn on_timer(&mut self, now: Instant) -> Option<Timer> {
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            return Some(Timer::Spawn);
        }
        if self.kill_at.is_some_and(|t| t <= now) {
            self.kill_at = None;
            return Some(Timer::Kill);
        }
        None
    }
}

#[cfg(test)]
mod tests;
