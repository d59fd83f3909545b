//! The life of one supervised unit as a pure state machine.
//!
//! It decides what happens when a unit is started, when its process ends, when it is asked to
//! stop and when one of its timers is due; the poll loop (`daemon.rs`) carries the decisions
//! out. Nothing here touches a process, a descriptor or the clock: the time comes in as an
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
mod tests {
    use super::*;
    use crate::supervisor::restarts::STABLE_RUN;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);

    fn policy(restart: Restart) -> Policy {
        Policy {
            restart,
            restart_delay: SEC,
            restart_max_delay: 60 * SEC,
            restart_limit: 5,
            restart_limit_interval: 10 * SEC,
            stop_signal: Signal::TERM,
            stop_timeout: 10 * SEC,
            success_exit_codes: vec![3],
            restart_prevent_exit_codes: vec![42],
            oneshot: false,
            remain_after_exit: false,
        }
    }

    fn exited(code: i32) -> LastExit {
        LastExit::Exited { code }
    }

    fn killed(signal: &str) -> LastExit {
        LastExit::Killed {
            signal: signal.into(),
        }
    }

    fn int() -> Signal {
        Signal::from_name("INT").unwrap()
    }

    fn stopped(then: AfterStop) -> Exit {
        Exit::Stopped { then }
    }

    /// A unit and the time of its world, driven the way the poll loop drives it.
    struct Run {
        unit: Machine,
        now: Instant,
    }

    impl Run {
        /// Started by a person, and spawned.
        fn new(policy: Policy) -> Run {
            let mut run = Run {
                unit: Machine::new(policy),
                now: Instant::now(),
            };
            assert_eq!(run.unit.on_start(), Start::SpawnNow);
            run.unit.on_spawned(run.now);
            run
        }

        /// The process lives `ran`, then ends as `how` says.
        fn ends_after(&mut self, ran: Duration, how: LastExit) -> Exit {
            self.now += ran;
            self.unit.on_exit(how, self.now)
        }

        /// The process lives `ran` and ends as `how` says; it must be restarted, and is,
        /// exactly when its timer comes due. Returns the delay.
        fn restarts_after(&mut self, ran: Duration, how: LastExit) -> Duration {
            let exit = self.ends_after(ran, how);
            let Exit::Restart { delay } = exit else {
                panic!("not restarted: {exit:?}");
            };
            assert_eq!(self.unit.state(), State::Starting);
            if !delay.is_zero() {
                let due = self.now + delay;
                assert_eq!(self.unit.next_deadline(), Some(due));
                assert_eq!(self.unit.on_timer(due - MS), None, "a timer fired early");
                self.now = due;
                assert_eq!(self.unit.on_timer(self.now), Some(Timer::Spawn));
            }
            assert_eq!(self.unit.next_deadline(), None);
            assert!(self.unit.can_spawn());
            self.unit.on_spawned(self.now);
            delay
        }

        /// Quick crashes, one after another; the delays they were restarted after.
        fn crash_quickly(&mut self, times: usize) -> Vec<Duration> {
            (0..times)
                .map(|_| self.restarts_after(100 * MS, exited(1)))
                .collect()
        }
    }

    /// The README's restart table, row by row and column by column.
    #[test]
    fn the_restart_table() {
        let (restarted, clean, dead) = (State::Starting, State::Stopped, State::Dead);
        let columns = [killed("KILL"), exited(0), exited(1), exited(3)];
        let rows = [
            (Restart::No, [dead, clean, dead, clean]),
            (Restart::OnFailure, [restarted, clean, restarted, clean]),
            (Restart::Always, [restarted; 4]),
        ];
        for (restart, outcomes) in rows {
            for (how, want) in columns.iter().zip(outcomes) {
                let mut run = Run::new(policy(restart));
                let exit = run.ends_after(SEC, how.clone());
                let context = format!("restart = {restart:?}, {how}: {exit:?}");
                assert_eq!(run.unit.state(), want, "{context}");
                let reason = (want != clean).then(|| how.to_string());
                assert_eq!(run.unit.reason(), reason.as_deref(), "{context}");
                assert_eq!(run.unit.last_exit(), Some(how), "{context}");
                assert_eq!(run.unit.restarts(), u32::from(want == restarted));
            }
        }
    }

    /// systemd's RestartPreventExitStatus=: an exit listed there is never restarted, whatever
    /// the policy; on-abnormal and on-abort restart after a death by a signal only.
    #[test]
    fn a_preventing_exit_stays_down_and_abnormal_means_a_signal() {
        for restart in [Restart::Always, Restart::OnFailure] {
            let mut run = Run::new(policy(restart));
            let exit = run.ends_after(SEC, exited(42));
            assert_eq!(exit, Exit::NotRestarted { clean: false }, "{restart:?}");
            assert_eq!(run.unit.state(), State::Dead);
        }
        for restart in [Restart::OnAbnormal, Restart::OnAbort] {
            let mut run = Run::new(policy(restart));
            assert_eq!(run.restarts_after(SEC, killed("KILL")), SEC);
            for how in [exited(1), exited(0)] {
                let mut run = Run::new(policy(restart));
                let exit = run.ends_after(SEC, how.clone());
                assert!(
                    matches!(exit, Exit::NotRestarted { .. }),
                    "{restart:?} {how}"
                );
            }
        }
    }

    #[test]
    fn death_by_the_stop_signal_or_exit_128_plus_it_is_a_clean_stop() {
        for (stop_signal, how) in [
            (Signal::TERM, killed("TERM")),
            (Signal::TERM, exited(143)),
            (int(), killed("INT")),
            (int(), exited(130)),
        ] {
            let mut run = Run::new(Policy {
                stop_signal,
                ..policy(Restart::OnFailure)
            });
            let exit = run.ends_after(SEC, how.clone());
            assert_eq!(exit, Exit::NotRestarted { clean: true }, "{how}");
            assert_eq!(run.unit.state(), State::Stopped);
        }
        // Another stop signal's death is a crash like any other.
        for how in [killed("TERM"), exited(143)] {
            let mut run = Run::new(Policy {
                stop_signal: int(),
                ..policy(Restart::OnFailure)
            });
            run.restarts_after(SEC, how);
        }
    }

    #[test]
    fn a_stop_signals_then_kills_after_the_stop_timeout() {
        let mut run = Run::new(Policy {
            stop_signal: int(),
            stop_timeout: 3 * SEC,
            ..policy(Restart::Always)
        });
        run.now += SEC;
        let kill_at = run.now + 3 * SEC;
        let stop = run.unit.on_stop(run.now, AfterStop::Nothing);
        let signal = int();
        assert_eq!(stop, Stop::Signal { signal, kill_at });
        assert_eq!(run.unit.state(), State::Running, "it runs until it ends");
        assert!(!run.unit.can_spawn());
        assert_eq!(run.unit.next_deadline(), Some(kill_at));
        assert_eq!(run.unit.on_timer(kill_at - MS), None);
        assert_eq!(run.unit.on_timer(kill_at), Some(Timer::Kill));
        assert_eq!(run.unit.on_timer(kill_at + SEC), None, "KILL is sent once");
        assert_eq!(run.unit.next_deadline(), None);
        // Killed, yet stopped as asked: neither a crash nor a restart.
        let exit = run.ends_after(3 * SEC + MS, killed("KILL"));
        assert_eq!(exit, stopped(AfterStop::Nothing));
        assert_eq!(run.unit.state(), State::Stopped);
        assert_eq!(run.unit.reason(), None);
        assert_eq!(run.unit.restarts(), 0);
    }

    #[test]
    fn a_process_that_stops_in_time_is_not_killed() {
        let mut run = Run::new(policy(Restart::Always));
        let Stop::Signal { kill_at, .. } = run.unit.on_stop(run.now, AfterStop::Remove) else {
            panic!("a running unit is signalled");
        };
        let exit = run.ends_after(SEC, exited(1));
        assert_eq!(exit, stopped(AfterStop::Remove));
        assert_eq!(run.unit.on_timer(kill_at), None);
        assert_eq!(run.unit.last_exit(), Some(&exited(1)));
    }

    #[test]
    fn stopping_a_unit_that_waits_to_restart_cancels_the_restart() {
        let mut run = Run::new(policy(Restart::Always));
        let exit = run.ends_after(SEC, exited(1));
        assert!(matches!(exit, Exit::Restart { .. }));
        let stop = run.unit.on_stop(run.now, AfterStop::Nothing);
        assert_eq!(
            stop,
            Stop::Stopped {
                then: AfterStop::Nothing
            }
        );
        assert_eq!(run.unit.state(), State::Stopped);
        assert_eq!(run.unit.next_deadline(), None);
        assert_eq!(run.unit.on_timer(run.now + 60 * SEC), None);
    }

    #[test]
    fn a_start_while_stopping_follows_the_stop_and_a_later_stop_replaces_it() {
        let mut run = Run::new(policy(Restart::No));
        run.unit.on_stop(run.now, AfterStop::Nothing);
        assert_eq!(run.unit.on_start(), Start::AlreadyUnderway);
        let exit = run.ends_after(SEC, killed("TERM"));
        assert_eq!(exit, stopped(AfterStop::Start));

        let mut run = Run::new(policy(Restart::No));
        run.unit.on_stop(run.now, AfterStop::Start);
        let stop = run.unit.on_stop(run.now, AfterStop::Nothing);
        assert_eq!(stop, Stop::AlreadyStopping);
        let exit = run.ends_after(SEC, killed("TERM"));
        assert_eq!(exit, stopped(AfterStop::Nothing));
    }

    #[test]
    fn a_start_while_running_or_waiting_changes_nothing() {
        let mut run = Run::new(policy(Restart::Always));
        assert_eq!(run.unit.on_start(), Start::AlreadyUnderway);
        run.crash_quickly(2);
        let exit = run.ends_after(100 * MS, exited(1));
        assert_eq!(exit, Exit::Restart { delay: 4 * SEC });
        assert_eq!(run.unit.on_start(), Start::AlreadyUnderway);
        assert_eq!(run.unit.restarts(), 3, "the count goes on");
        let backoff = Some(run.now + 4 * SEC);
        assert_eq!(run.unit.next_deadline(), backoff, "and the backoff");
    }

    #[test]
    fn the_first_restart_waits_exactly_restart_delay() {
        let mut run = Run::new(Policy {
            restart_delay: 300 * MS,
            ..policy(Restart::Always)
        });
        assert_eq!(run.restarts_after(MS, killed("KILL")), 300 * MS);
    }

    #[test]
    fn quick_crashes_back_off_to_the_ceiling_and_a_stable_run_resets_it_exactly() {
        let mut run = Run::new(Policy {
            restart_delay: 300 * MS,
            restart_max_delay: 2 * SEC,
            restart_limit: 0,
            ..policy(Restart::OnFailure)
        });
        let backing_off = [300 * MS, 600 * MS, 1200 * MS, 2 * SEC, 2 * SEC];
        assert_eq!(run.crash_quickly(5), backing_off);
        let after_stable = run.restarts_after(STABLE_RUN, killed("KILL"));
        assert_eq!(after_stable, 300 * MS);
        // A new streak; one moment short of stable is quick.
        let streak: Vec<Duration> = (0..2)
            .map(|_| run.restarts_after(STABLE_RUN - MS, killed("KILL")))
            .collect();
        assert_eq!(streak, [300 * MS, 600 * MS]);
        assert_eq!(run.unit.restarts(), 8);
    }

    /// `svc-any install crash -- /bin/sh -c 'echo boom; exit 1'`, with every default.
    #[test]
    fn a_crash_loop_backs_off_then_fails_with_the_reason() {
        let mut run = Run::new(policy(Restart::OnFailure));
        assert_eq!(run.crash_quickly(5), [1, 2, 4, 8, 16].map(|s| s * SEC));
        let exit = run.ends_after(100 * MS, exited(1));
        let reason = "crash loop: 6 starts in a row ended within 10s; last: exited with 1";
        assert_eq!(
            exit,
            Exit::Failed {
                reason: reason.into()
            }
        );
        assert_eq!(run.unit.state(), State::Failed);
        assert_eq!(run.unit.reason(), Some(reason));
        assert_eq!(run.unit.next_deadline(), None, "no restart pending");
        assert_eq!(run.unit.restarts(), 5);
    }

    #[test]
    fn a_start_after_failing_begins_with_fresh_counters() {
        let mut run = Run::new(Policy {
            restart_delay: Duration::ZERO,
            ..policy(Restart::Always)
        });
        run.crash_quickly(5);
        let exit = run.ends_after(100 * MS, exited(1));
        assert!(matches!(exit, Exit::Failed { .. }), "{exit:?}");
        assert_eq!(run.unit.on_start(), Start::SpawnNow);
        assert_eq!(run.unit.restarts(), 0);
        assert_eq!(run.unit.reason(), None);
        run.unit.on_spawned(run.now);
        assert_eq!(run.crash_quickly(5).len(), 5, "a whole new allowance");
    }

    #[test]
    fn a_spawn_that_fails_leaves_it_failed_with_the_reason() {
        let mut unit = Machine::new(policy(Restart::Always));
        assert_eq!(unit.on_start(), Start::SpawnNow);
        unit.on_spawn_failed("no user `nobody2`".into());
        assert_eq!(unit.state(), State::Failed);
        assert_eq!(unit.reason(), Some("no user `nobody2`"));
        assert_eq!(unit.next_deadline(), None);
    }

    /// A oneshot's clean end is its success: never restarted, whatever `restart` says; with
    /// remain_after_exit it stays up with no process until stopped. A failure follows the
    /// policy as any process's does.
    #[test]
    fn a_oneshot_that_succeeds_is_done_and_one_that_fails_follows_the_policy() {
        let oneshot = |remain_after_exit| Policy {
            oneshot: true,
            remain_after_exit,
            ..policy(Restart::Always)
        };
        let mut run = Run::new(oneshot(false));
        assert_eq!(
            run.ends_after(SEC, exited(0)),
            Exit::NotRestarted { clean: true }
        );
        assert_eq!(run.unit.state(), State::Stopped);
        assert_eq!(run.unit.next_deadline(), None);

        let mut run = Run::new(oneshot(true));
        run.ends_after(SEC, exited(0));
        assert_eq!(run.unit.phase(), Phase::Exited);
        assert_eq!(run.unit.state(), State::Running);
        assert!(!run.unit.has_process());
        assert_eq!(run.unit.on_start(), Start::AlreadyUnderway, "it is up");
        assert_eq!(
            run.unit.on_stop(run.now, AfterStop::Start),
            Stop::Stopped {
                then: AfterStop::Start
            },
            "nothing to signal"
        );
        assert_eq!(run.unit.state(), State::Stopped);

        let mut run = Run::new(oneshot(true));
        assert_eq!(run.restarts_after(SEC, exited(1)), SEC);
        let mut run = Run::new(Policy {
            restart: Restart::No,
            ..oneshot(true)
        });
        run.ends_after(SEC, exited(1));
        assert_eq!(run.unit.state(), State::Dead);
    }

    /// stop_exec ran first: the stop signal gets the whole stop timeout from when it is sent.
    #[test]
    fn the_kill_timer_starts_again_when_the_stop_signal_is_sent_late() {
        let mut run = Run::new(policy(Restart::Always));
        let Stop::Signal { kill_at, .. } = run.unit.on_stop(run.now, AfterStop::Nothing) else {
            panic!("a running unit is signalled");
        };
        run.now += 4 * SEC;
        let later = run.unit.rearm_kill(run.now);
        assert_eq!(later, Some(kill_at + 4 * SEC));
        assert_eq!(run.unit.on_timer(kill_at), None);
        assert_eq!(run.unit.on_timer(kill_at + 4 * SEC), Some(Timer::Kill));
        let mut idle = Machine::new(policy(Restart::Always));
        assert_eq!(idle.rearm_kill(run.now), None, "nothing is stopping");
    }

    #[test]
    fn a_changed_policy_rules_the_next_exit() {
        let mut run = Run::new(policy(Restart::Always));
        run.unit.set_policy(policy(Restart::No));
        let exit = run.ends_after(SEC, exited(1));
        assert_eq!(exit, Exit::NotRestarted { clean: false });
    }
}
