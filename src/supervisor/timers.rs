//! The supervisor's timers, all of them the poll loop's timeout: a unit's restart delay and
//! stop timeout (its state machine's deadlines), the time a command of its has left, and
//! the next look at a forking service's pid file. With none pending the loop sleeps until
//! something happens.

use std::time::Instant;

use nix::sys::signal::{killpg, Signal as NixSignal};
use nix::unistd::Pid;

use super::daemon::Supervisor;
use super::lifecycle::deliver;
use super::machine::Timer;
use super::unit::Forking;
use crate::model::spec::KillMode;

impl Supervisor {
    pub(super) fn next_deadline(&self) -> Option<Instant> {
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

    pub(super) fn fire_timers(&mut self) {
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
}
