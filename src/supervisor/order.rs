//! Dependency order: units start after what they depend on (at boot, and for a request naming
//! several), and a shutdown stops them in the reverse order, one at a time, each once the
//! one before is down. What the order is comes from [`spec::dependency_order`], the same
//! for every backend. A start also pulls in what the units started want ([`with_wanted`]).
//!
//! [`with_wanted`]: Supervisor::with_wanted

use super::daemon::Supervisor;
use super::machine::{AfterStop, Phase};
use super::unit::Unit;
use crate::model::spec::{self, Dependency, Service};

impl Supervisor {
    /// `keys` and every unit they want, and what those want in turn (systemd's `Wants=`): a
    /// service's `wants` names a service this supervisor knows (each of its instances), which
    /// starts along with it, ordered only if `after` names it too. Whether the wanted one
    /// starts, fails or is not installed at all does not touch the start of the wanting one:
    /// a request answers for the units it named. A facility wanted is reached already (see
    /// backends/builtin.rs `carries`): nothing to start.
    pub(super) fn with_wanted(&mut self, keys: &[String]) -> Vec<String> {
        let mut out: Vec<String> = keys.to_vec();
        let mut missing = Vec::new();
        let mut next = 0;
        while next < out.len() {
            let Some(unit) = self.units.get(&out[next]) else {
                next += 1;
                continue;
            };
            let by = out[next].clone();
            for name in unit
                .service
                .daemon
                .wants
                .iter()
                .filter_map(Dependency::service)
            {
                let wanted: Vec<String> = self
                    .units
                    .values()
                    .filter(|u| {
                        u.name == name || u.service.daemon.aliases.iter().any(|a| a == name)
                    })
                    .map(|u| u.key())
                    .collect();
                if wanted.is_empty() {
                    missing.push(format!(
                        "{by} wants {name}, which is not installed: started without it"
                    ));
                }
                for key in wanted {
                    if !out.contains(&key) {
                        out.push(key);
                    }
                }
            }
            next += 1;
        }
        for text in missing {
            self.event(&text);
        }
        out
    }

    /// The keys among `keys` (of units that exist), so that each comes after what it depends
    /// on.
    fn in_dependency_order(&self, keys: &[String]) -> Vec<String> {
        // One copy per key, so each placed service points back at exactly one key even when a
        // request names a unit twice.
        let services: Vec<(&String, Service)> = keys
            .iter()
            .filter_map(|k| self.units.get(k).map(|u| (k, u.service.clone())))
            .collect();
        let refs: Vec<&Service> = services.iter().map(|(_, s)| s).collect();
        let mut ordered: Vec<String> = Vec::new();
        for s in spec::dependency_order(&refs) {
            for (k, svc) in &services {
                if std::ptr::eq(svc, s) {
                    ordered.push((*k).clone());
                }
            }
        }
        ordered
    }

    /// Starts units so that each comes after what it depends on.
    pub(super) fn start_in_order(&mut self, keys: &[String], only_stopped: bool) {
        for key in self.in_dependency_order(keys) {
            if only_stopped
                && self
                    .units
                    .get(&key)
                    .is_some_and(|u| u.machine.phase() != Phase::Stopped)
            {
                continue;
            }
            self.start(&key);
        }
    }

    pub(super) fn begin_shutdown(&mut self) {
        if self.shutdown.is_some() {
            return;
        }
        let up: Vec<String> = self
            .units
            .iter()
            .filter(|(_, u)| {
                u.job.is_some()
                    || matches!(
                        u.machine.phase(),
                        Phase::Running | Phase::Stopping | Phase::Waiting | Phase::Exited
                    )
            })
            .map(|(k, _)| k.clone())
            .collect();
        let mut order = self.in_dependency_order(&up);
        order.reverse();
        self.shutdown = Some(order.into());
    }

    /// Stops the next unit of the shutdown order once the previous one is down: dependants
    /// stop before what they depend on.
    pub(super) fn advance_shutdown(&mut self) {
        loop {
            let stopping = |u: &Unit| {
                u.machine.phase() == Phase::Stopping
                    || u.job
                        .as_ref()
                        .is_some_and(|j| j.stage.stops() || j.cancelled)
            };
            if self.units.values().any(stopping) {
                return;
            }
            let Some(next) = self.shutdown.as_mut().and_then(|q| q.pop_front()) else {
                return;
            };
            self.stop(&next, AfterStop::Nothing);
        }
    }
}
