//! How long a unit that keeps ending waits before each restart, and when restarting it stops:
//! the backoff and the crash-loop rule. Pure like the machine that owns it
//! ([`super::machine`]): the time comes in as an argument.
//!
//! A crash loop is caught two ways. More than `restart_limit` restarts within
//! `restart_limit_interval` is systemd's rule, but backoff spreads a loop out until it never
//! fills the window (1, 2, 4, 8 s...: never 5 in 10 s). So, as supervisord's startsecs and
//! startretries do, the unit also fails once `restart_limit` + 1 starts in a row each ended
//! before `STABLE_RUN`: the first start and `restart_limit` retries, all in vain.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::policy::Policy;
use crate::model::status::LastExit;

/// A run at least this long counts as stable: the next crash restarts after exactly
/// `restart_delay` again, with the backoff and the count of quick ends in a row reset.
pub const STABLE_RUN: Duration = Duration::from_secs(10);

/// The restarts of one unit since a person last started it.
#[derive(Debug, Clone, Default)]
pub struct Restarts {
    count: u32,
    /// When each recent restart was decided, for the `restart_limit_interval` window.
    recent: VecDeque<Instant>,
    /// Runs in a row, up to the last one, that ended before `STABLE_RUN`.
    quick_failures: u32,
}

impl Restarts {
    /// Automatic restarts since a person last started the unit.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// A start asked for by a person: a whole new allowance.
    pub fn reset(&mut self) {
        *self = Restarts::default();
    }

    /// A run of `ran` ended at `now` as `how` says, and the policy wants it restarted: the
    /// delay before the restart, or why restarting has to stop.
    pub fn after_crash(
        &mut self,
        policy: &Policy,
        ran: Duration,
        now: Instant,
        how: &LastExit,
    ) -> Result<Duration, String> {
        let interval = policy.restart_limit_interval;
        self.recent
            .retain(|t| now.saturating_duration_since(*t) < interval);
        let limit = policy.restart_limit;
        if limit > 0 && self.recent.len() as u32 >= limit {
            return Err(format!(
                "crash loop: {} restarts within {}; last: {how}",
                self.recent.len(),
                humantime::format_duration(interval)
            ));
        }
        let quick = ran < STABLE_RUN;
        let quick_before = if quick { self.quick_failures } else { 0 };
        self.quick_failures = if quick {
            quick_before.saturating_add(1)
        } else {
            0
        };
        if limit > 0 && self.quick_failures > limit {
            return Err(format!(
                "crash loop: {} starts in a row ended within {}; last: {how}",
                self.quick_failures,
                humantime::format_duration(STABLE_RUN)
            ));
        }
        let delay = backoff(policy, quick_before);
        self.recent.push_back(now);
        self.count += 1;
        Ok(delay)
    }
}

/// The delay before restart number `quick_failures + 1` of a crash streak: `restart_delay`,
/// doubled for every quick crash before it, at most `restart_max_delay`.
fn backoff(policy: &Policy, quick_failures: u32) -> Duration {
    let factor = 1u32.checked_shl(quick_failures.min(31)).unwrap_or(u32::MAX);
    policy
        .restart_delay
        .saturating_mul(factor)
        .min(policy.restart_max_delay.max(policy.restart_delay))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::signal::Signal;
    use crate::model::spec::Restart;

    const MS: Duration = Duration::from_millis(1);
    const SEC: Duration = Duration::from_secs(1);
    const QUICK: Duration = Duration::from_millis(100);

    fn policy(delay: Duration, max_delay: Duration, limit: u32, interval: Duration) -> Policy {
        Policy {
            restart: Restart::Always,
            restart_delay: delay,
            restart_max_delay: max_delay,
            restart_limit: limit,
            restart_limit_interval: interval,
            stop_signal: Signal::TERM,
            stop_timeout: 10 * SEC,
            success_exit_codes: Vec::new(),
            restart_prevent_exit_codes: Vec::new(),
            oneshot: false,
            remain_after_exit: false,
        }
    }

    const EXIT_1: LastExit = LastExit::Exited { code: 1 };

    /// Runs that each last `ran` and end, restarted after the delay they are given: those
    /// delays, until restarting stops (then `Err` is the last item).
    fn crashes(
        policy: &Policy,
        restarts: &mut Restarts,
        now: &mut Instant,
        runs: &[Duration],
    ) -> Vec<Result<Duration, String>> {
        let mut out = Vec::new();
        for ran in runs {
            *now += *ran;
            let verdict = restarts.after_crash(policy, *ran, *now, &EXIT_1);
            out.push(verdict.clone());
            match verdict {
                Ok(delay) => *now += delay,
                Err(_) => break,
            }
        }
        out
    }

    fn delays(policy: &Policy, runs: &[Duration]) -> Vec<Result<Duration, String>> {
        crashes(policy, &mut Restarts::default(), &mut Instant::now(), runs)
    }

    #[test]
    fn backoff_doubles_from_the_delay_up_to_the_ceiling() {
        let p = policy(500 * MS, 3 * SEC, 0, 10 * SEC);
        let want = [500 * MS, SEC, 2 * SEC, 3 * SEC, 3 * SEC, 3 * SEC].map(Ok);
        assert_eq!(delays(&p, &[QUICK; 6]), want);
    }

    #[test]
    fn a_zero_delay_stays_zero() {
        let p = policy(Duration::ZERO, 60 * SEC, 0, 10 * SEC);
        assert!(delays(&p, &[QUICK; 40])
            .iter()
            .all(|d| *d == Ok(Duration::ZERO)));
    }

    #[test]
    fn a_stable_run_restarts_after_exactly_restart_delay_and_resets_the_backoff() {
        let p = policy(300 * MS, 60 * SEC, 0, 10 * SEC);
        let runs = [QUICK, QUICK, QUICK, STABLE_RUN, STABLE_RUN - MS, QUICK];
        let want = [300, 600, 1200, 300, 300, 600].map(|ms| Ok(ms * MS));
        assert_eq!(delays(&p, &runs), want);
    }

    #[test]
    fn more_than_restart_limit_restarts_within_the_interval_is_a_crash_loop() {
        let p = policy(100 * MS, 400 * MS, 5, 60 * SEC);
        let mut want = [100, 200, 400, 400, 400].map(|ms| Ok(ms * MS)).to_vec();
        want.push(Err(
            "crash loop: 5 restarts within 1m; last: exited with 1".into()
        ));
        assert_eq!(delays(&p, &[QUICK; 7]), want);
    }

    #[test]
    fn starts_that_keep_ending_quickly_are_a_crash_loop_however_far_backoff_spreads_them() {
        // The defaults: 1 s doubling, at most 5 restarts within 10 s. Backoff alone keeps
        // fewer than 5 restarts in any 10 s, so the window never fills.
        let p = policy(SEC, 60 * SEC, 5, 10 * SEC);
        let mut want = [1, 2, 4, 8, 16].map(|s| Ok(s * SEC)).to_vec();
        let reason = "crash loop: 6 starts in a row ended within 10s; last: exited with 1";
        want.push(Err(reason.into()));
        assert_eq!(delays(&p, &[QUICK; 8]), want);
    }

    #[test]
    fn a_stable_run_starts_the_count_of_quick_ends_afresh() {
        let p = policy(SEC, 60 * SEC, 5, 10 * SEC);
        let runs = [[QUICK; 5].as_slice(), &[STABLE_RUN], &[QUICK; 6]].concat();
        let verdicts = delays(&p, &runs);
        assert_eq!(verdicts.len(), 12);
        assert!(verdicts[..11].iter().all(Result::is_ok), "{verdicts:?}");
        assert!(verdicts[11].as_ref().is_err_and(|e| e.contains("6 starts")));
    }

    #[test]
    fn restart_limit_0_never_gives_up() {
        for delay in [Duration::ZERO, SEC] {
            let p = policy(delay, 60 * SEC, 0, 10 * SEC);
            assert!(delays(&p, &[QUICK; 100]).iter().all(Result::is_ok));
        }
    }

    #[test]
    fn restarts_that_left_the_interval_do_not_count() {
        let p = policy(Duration::ZERO, 60 * SEC, 5, 10 * SEC);
        assert!(delays(&p, &[STABLE_RUN; 50]).iter().all(Result::is_ok));
    }

    #[test]
    fn a_reset_gives_a_whole_new_allowance() {
        let p = policy(Duration::ZERO, 60 * SEC, 5, 10 * SEC);
        let (mut restarts, mut now) = (Restarts::default(), Instant::now());
        let verdicts = crashes(&p, &mut restarts, &mut now, &[QUICK; 6]);
        assert!(verdicts.last().unwrap().is_err());
        assert_eq!(restarts.count(), 5);
        restarts.reset();
        assert_eq!(restarts.count(), 0);
        let verdicts = crashes(&p, &mut restarts, &mut now, &[QUICK; 5]);
        assert!(verdicts.iter().all(Result::is_ok));
    }
}
