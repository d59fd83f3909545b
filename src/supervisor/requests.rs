//! What each request of the control server ([`super::control`]) does to the units: the
//! supervisor's side of the [`Units`] trait, one verb each (start, stop, restart, signal,
//! reload a unit, reload definitions, shut down, and the status questions).
//!
//! Each verb only sets things in motion (a start, a stop, a reload's commands); the poll
//! loop ([`super::daemon`]) carries them on, and the server answers a client once the units
//! it waits for are no longer busy.

use super::commands::Stage;
use super::control::Units;
use super::daemon::Supervisor;
use super::machine::{AfterStop, Phase};
use super::unit::Unit;
use crate::model::signal::Signal;
use crate::model::status::ServiceStatus;

impl Units for Supervisor {
    fn exists(&self, key: &str) -> bool {
        self.units.contains_key(key)
    }

    fn busy(&self, key: &str) -> bool {
        self.units.get(key).is_some_and(Unit::busy)
    }

    fn reload_failures(&self, keys: &[String]) -> Vec<(String, String)> {
        keys.iter()
            .filter_map(|k| Some((k.clone(), self.units.get(k)?.reload_failure.clone()?)))
            .collect()
    }

    fn statuses(&self, keys: &[String]) -> Vec<ServiceStatus> {
        keys.iter()
            .filter_map(|k| self.units.get(k).map(Unit::status))
            .collect()
    }

    fn all_statuses(&self) -> Vec<ServiceStatus> {
        self.units.values().map(Unit::status).collect()
    }

    fn start(&mut self, keys: &[String]) {
        // What they want comes up with them, and back with a supervisor started on demand.
        let keys = self.with_wanted(keys);
        self.set_wanted_up(&keys, true);
        self.start_in_order(&keys, false);
    }

    fn stop(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, false);
        for key in keys {
            Supervisor::stop(self, key, AfterStop::Nothing);
        }
    }

    fn restart(&mut self, keys: &[String]) {
        // A restart starts what they want and is not up, as a start does (systemd's too).
        let wanted: Vec<String> = self
            .with_wanted(keys)
            .into_iter()
            .filter(|k| !keys.contains(k))
            .collect();
        self.set_wanted_up(&wanted, true);
        self.start_in_order(&wanted, false);
        self.set_wanted_up(keys, true);
        for key in keys {
            if matches!(
                self.units[key].machine.phase(),
                Phase::Running | Phase::Exited
            ) {
                Supervisor::stop(self, key, AfterStop::Start);
            } else {
                Supervisor::start(self, key);
            }
        }
    }

    fn signal(&mut self, keys: &[String], signal: Signal) {
        for pid in keys.iter().filter_map(|k| self.units[k].pid) {
            let _ = nix::sys::signal::kill(pid, signal.to_nix());
        }
    }

    fn reload_units(&mut self, keys: &[String]) {
        for key in keys {
            let Some(unit) = self.units.get_mut(key) else {
                continue;
            };
            if unit.service.daemon.reload_exec.is_empty() {
                unit.reload_failure = None;
                match (unit.service.reload_signal, unit.pid) {
                    (Some(signal), Some(pid)) => {
                        let _ = nix::sys::signal::kill(pid, signal.to_nix());
                    }
                    _ => unit.reload_failure = Some("nothing to reload: it does not run".into()),
                }
                continue;
            }
            let up = unit.up && matches!(unit.machine.phase(), Phase::Running | Phase::Exited);
            unit.reload_failure = if !up {
                Some("nothing to reload: it is not up".into())
            } else {
                unit.job.as_ref().map(|job| {
                    format!("busy running {}: try again once it is done", job.describe())
                })
            };
            if unit.reload_failure.is_none() {
                self.begin_job(key, Stage::Reload);
            }
        }
    }

    fn reload(&mut self, services: &[String]) {
        Supervisor::reload(self, services);
    }

    fn shutdown(&mut self) -> Vec<String> {
        self.begin_shutdown();
        self.units.keys().cloned().collect()
    }
}
