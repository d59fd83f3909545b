//! What a definition says about restarting, giving up and stopping: all the state machine needs
//! of it.

use std::time::Duration;

use crate::model::signal::Signal;
use crate::model::spec::{Restart, Service, ServiceType};

/// The parts of a definition that decide when a unit restarts, gives up, and is killed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub restart: Restart,
    pub restart_delay: Duration,
    pub restart_max_delay: Duration,
    pub restart_limit: u32,
    pub restart_limit_interval: Duration,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    pub success_exit_codes: Vec<u8>,
    /// Exit codes after which the unit is never restarted, whatever `restart` says.
    pub restart_prevent_exit_codes: Vec<u8>,
    /// `type = "oneshot"`: the process runs to completion, and a clean end is its success,
    /// never restarted.
    pub oneshot: bool,
    /// With `oneshot`: after a clean end the unit stays up (running, no process) until stopped.
    pub remain_after_exit: bool,
}

impl Policy {
    pub fn of(service: &Service) -> Policy {
        Policy {
            restart: service.restart,
            restart_delay: service.restart_delay,
            restart_max_delay: service.restart_max_delay,
            restart_limit: service.restart_limit,
            restart_limit_interval: service.restart_limit_interval,
            stop_signal: service.stop_signal,
            stop_timeout: service.stop_wait(),
            success_exit_codes: service.success_exit_codes.clone(),
            restart_prevent_exit_codes: service.daemon.restart_prevent_exit_codes.clone(),
            oneshot: service.daemon.service_type == Some(ServiceType::Oneshot),
            remain_after_exit: service.daemon.remain_after_exit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::spec::{test_service, STOP_FOREVER};

    #[test]
    fn an_infinite_stop_timeout_arms_no_kill_a_stop_outlives() {
        let forever = test_service(
            "exec = [\"/bin/true\"]\nstop_timeout = \"infinity\"\n",
            "forever",
        );
        assert_eq!(Policy::of(&forever).stop_timeout, STOP_FOREVER);
        let ten = test_service("exec = [\"/bin/true\"]\n", "ten");
        assert_eq!(Policy::of(&ten).stop_timeout, Duration::from_secs(10));
    }
}
