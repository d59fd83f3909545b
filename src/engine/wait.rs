//! `--wait`: the one health-checked start, so it means the same on every backend.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend, LogOptions, Verb};
use crate::model::spec::Service;
use crate::model::status::{ServiceStatus, State};
use crate::system::health;
use crate::system::host::Ctx;
use crate::system::logfiles::LogMark;
use crate::system::processes;
use crate::system::records;

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
    mark: &LogMark,
) -> Result<()> {
    let timeout = limit
        .or(service.health.as_ref().map(|h| h.timeout))
        .unwrap_or(DEFAULT_WAIT);
    let started = Instant::now();
    let started_at = epoch_secs();
    let mut stable_since: Option<(Vec<Option<u32>>, Instant)> = None;
    let mut ended: Option<String> = None;
    let mut first_seen = FirstSeen::default();
    let mut squatter: Option<String> = None;
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
                (None, Some(exit)) => format!("{}: {exit}", s.state.as_str()),
                (None, None) => s.state.as_str().to_string(),
            });
            return true;
        }
        // It ended and the manager restarts it: not ready, and a restart will not make it so
        // in any way `--wait` could promise. Say so at once rather than wait out the timeout.
        if let Some(how) = first_seen.exited(&statuses, started_at) {
            ended = Some(how);
            return true;
        }
        if !statuses.iter().all(|s| s.state == State::Running) {
            stable_since = None;
            ctx.report.waiting(
                &service.name,
                "the manager is starting it",
                started.elapsed(),
            );
            return false;
        }
        // A health check that passes while the manager does not run the service would be
        // answered by something else (an old copy, another program on the port).
        if let Some(h) = &service.health {
            ctx.report.waiting(
                &service.name,
                &format!("running; health check {}", h.check),
                started.elapsed(),
            );
            if !health::probe(&h.check) {
                return false;
            }
            // Something answered; it counts only if it is the service itself, not another
            // program already on that port.
            let pids: Vec<u32> = statuses.iter().filter_map(|s| s.pid).collect();
            match answered_by_someone_else(&h.check, &pids) {
                Some(other) => {
                    squatter = Some(other);
                    return false;
                }
                None => return true,
            }
        }
        ctx.report.waiting(
            &service.name,
            &format!(
                "running; up for {} without a restart",
                humantime::format_duration(SETTLE)
            ),
            started.elapsed(),
        );
        let pids: Vec<Option<u32>> = statuses.iter().map(|s| s.pid).collect();
        match &stable_since {
            Some((seen, since)) if *seen == pids => since.elapsed() >= SETTLE,
            _ => {
                stable_since = Some((pids, Instant::now()));
                false
            }
        }
    });
    ctx.report.waited();
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
            "did not become ready within {}{}",
            humantime::format_duration(timeout),
            squatter
                .as_ref()
                .map(|who| format!(" (its health check was answered by {who})"))
                .unwrap_or_default()
        ),
    };
    ctx.warn(format!("{} {why}; its last log lines:", service.name));
    if let Err(e) = records::save_failure(ctx, &service.name, &why) {
        ctx.warn(format!("warning: cannot remember the failure: {e:#}"));
    }
    if mark.has_files() {
        for line in mark.lines_since(20) {
            ctx.report.output(&line);
        }
    } else {
        let _ = backend.logs(
            ctx,
            service,
            LogOptions {
                follow: false,
                lines: 20,
                since: Some(mark.since),
            },
        );
    }
    let _ = backend.control(ctx, Verb::Stop, &[service]);
    bail!("{} {why}; stopped it", service.name)
}

/// Who answers the check, when it is someone other than the service's processes (`pids`, and
/// their descendants): "pid 123 (nginx), which is not web's". `None` when it is the service,
/// or when nobody can tell (a remote address, a listener this user may not see).
fn answered_by_someone_else(
    check: &crate::model::spec::HealthCheck,
    pids: &[u32],
) -> Option<String> {
    let port = health::local_port(check)?;
    let owners = health::listeners(port);
    if owners.is_empty() || pids.is_empty() {
        return None;
    }
    let ours = |owner: &u32| pids.iter().any(|p| processes::descends_from(*owner, *p));
    if owners.iter().any(ours) {
        return None;
    }
    let owner = owners[0];
    Some(format!(
        "pid {owner} ({}) on port {port}, which is not one of the service's processes",
        processes::command_name(owner)
    ))
}

fn epoch_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// What each unit looked like when `--wait` first saw it, to tell a crash that the manager
/// already restarted (a new pid, a higher restart count) from a unit still starting.
#[derive(Default)]
struct FirstSeen {
    units: std::collections::BTreeMap<String, (Option<u32>, Option<u32>)>,
}

impl FirstSeen {
    /// How a unit ended since the start, if one did: a new pid after a running one, more
    /// restarts than at first sight, or waiting for its restart with an exit recorded since the
    /// start (`since` is in whole seconds, as managers report it).
    fn exited(&mut self, statuses: &[ServiceStatus], started_at: u64) -> Option<String> {
        for s in statuses {
            let exit = s.last_exit.as_ref().map(ToString::to_string);
            let how = || exit.clone().unwrap_or_else(|| "exited".into());
            let seen = self
                .units
                .entry(s.label())
                .or_insert((s.pid.filter(|_| s.state == State::Running), s.restarts));
            let crashed_before_first_look = s.state == State::Starting
                && s.last_exit.is_some()
                && s.since.is_some_and(|t| t >= started_at);
            let new_pid = matches!((seen.0, s.pid), (Some(a), Some(b)) if a != b)
                || (seen.0.is_some() && s.state == State::Starting);
            let restarted = matches!((seen.1, s.restarts), (Some(a), Some(b)) if b > a);
            if crashed_before_first_look || new_pid || restarted {
                return Some(format!("{} and is being restarted", how()));
            }
            if seen.0.is_none() && s.state == State::Running {
                seen.0 = s.pid;
            }
        }
        None
    }
}
