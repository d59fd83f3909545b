//! The state machine's rules, each tested with instants it is handed and no process: every
//! row of the restart table, what a preventing exit and a clean stop mean, stop escalation to
//! KILL, starts and stops that cross each other, the backoff, the crash-loop rule and oneshots.

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
