//! `--wait`: the one health-checked start, so it means the same on every backend.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend, LogOptions, Verb};
use crate::model::spec::Service;
use crate::model::status::State;
use crate::system::health;
use crate::system::host::Ctx;

pub const SETTLE: Duration = Duration::from_secs(1);
/// `--wait` without a number and without a health timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// Waits until `service` is healthy (the manager runs it and its health check passes) or,
/// without a check, runs and stays up for [`SETTLE`]. On timeout, or once the manager says it
/// ended and will not come back: stop it, show its last log lines, fail.
pub fn wait_ready(
    ctx: &Ctx,
    backend: &AnyBackend,
    service: &Service,
    limit: Option<Duration>,
) -> Result<()> {
    let timeout = limit
        .or(service.health.as_ref().map(|h| h.timeout))
        .unwrap_or(DEFAULT_WAIT);
    let started = Instant::now();
    let mut stable_since: Option<(Vec<Option<u32>>, Instant)> = None;
    let mut ended: Option<String> = None;
    let finished = health::wait_until(timeout, || {
        let Ok(statuses) = backend.status(ctx, &[service]) else {
            return false;
        };
        // Started by us a moment ago, so stopped, dead or failed means it ended by itself and
        // the manager will not bring it back: waiting out the timeout would change nothing.
        if let Some(s) = statuses
            .iter()
            .find(|s| matches!(s.state, State::Stopped | State::Dead | State::Failed))
        {
            ended = Some(match (&s.reason, &s.last_exit) {
                (Some(reason), _) => format!("{}: {reason}", s.state.as_str()),
                (None, Some(exit)) => format!("{}: {}", s.state.as_str(), describe_exit(exit)),
                (None, None) => s.state.as_str().to_string(),
            });
            return true;
        }
        if !statuses.iter().all(|s| s.state == State::Running) {
            stable_since = None;
            return false;
        }
        // A health check that passes while the manager does not run the service would be
        // answered by something else (an old copy, another program on the port).
        if let Some(h) = &service.health {
            return health::probe(&h.check);
        }
        let pids: Vec<Option<u32>> = statuses.iter().map(|s| s.pid).collect();
        match &stable_since {
            Some((seen, since)) if *seen == pids => since.elapsed() >= SETTLE,
            _ => {
                stable_since = Some((pids, Instant::now()));
                false
            }
        }
    });
    let why = match (finished, ended) {
        (true, None) => {
            ctx.say(format!(
                "{} is {} ({:.1}s)",
                service.name,
                if service.health.is_some() {
                    "healthy"
                } else {
                    "up"
                },
                started.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        (_, Some(ended)) => format!("ended before it became ready ({ended})"),
        (false, None) => format!(
            "did not become ready within {}",
            humantime::format_duration(timeout)
        ),
    };
    ctx.warn(format!("{} {why}; its last log lines:", service.name));
    let _ = backend.logs(
        ctx,
        service,
        LogOptions {
            follow: false,
            lines: 20,
        },
    );
    let _ = backend.control(ctx, Verb::Stop, &[service]);
    bail!("{} {why}; stopped it", service.name)
}

pub(super) fn describe_exit(exit: &crate::model::status::LastExit) -> String {
    match exit {
        crate::model::status::LastExit::Exited { code } => format!("exited with {code}"),
        crate::model::status::LastExit::Killed { signal } => format!("killed by SIG{signal}"),
    }
}
