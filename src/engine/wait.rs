//! `--wait`: the one health-checked start, so it means the same on every backend.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend, LogOptions, Verb};
use crate::model::spec::Service;
use crate::model::status::{ServiceStatus, State};
use crate::system::health::{self, Backoff};
use crate::system::host::Ctx;
use crate::system::logfiles::LogMark;
use crate::system::processes;
use crate::system::records;

pub const SETTLE: Duration = Duration::from_secs(1);
/// `--wait` without a number and without a health timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// What one look at the manager says about the units of the service being waited for.
enum Look {
    /// It ended and will not be ready: why.
    Ended(String),
    /// Every unit runs, with these pids.
    Running(Vec<Option<u32>>),
    /// Not (all) running yet, or the manager did not answer.
    NotYet,
}

/// Waits until `service` is healthy (the manager runs it and its health check passes) or,
/// without a check, runs and stays up for [`SETTLE`]. On timeout, or once the manager says it
/// ended and will not come back: stop it, show its last log lines, fail.
///
/// The manager is asked soon after the start and then less and less often (5 ms doubling to
/// 100 ms), which is how a crash is noticed. Once it runs, a health check of a port or a URL
/// is probed every few milliseconds (a probe program backs off as the manager's looks do),
/// and a passing probe is confirmed by one more look; without a check, the look that ends the
/// wait is made the moment [`SETTLE`] is over. So `--wait` returns within milliseconds of
/// the service being ready.
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
    let deadline = started + timeout;
    let started_at = epoch_secs();
    let mut first_seen = FirstSeen::default();
    let mut look = || -> Look {
        let Ok(statuses) = backend.status(ctx, &[service]) else {
            return Look::NotYet;
        };
        // Started by us a moment ago, so stopped, dead or failed means it ended by itself and
        // the manager will not bring it back: waiting out the timeout would change nothing.
        if let Some(s) = statuses
            .iter()
            .find(|s| matches!(s.state, State::Stopped | State::Dead | State::Failed))
        {
            return Look::Ended(match (&s.reason, &s.last_exit) {
                (Some(reason), _) => format!("{}: {reason}", s.state.as_str()),
                (None, Some(exit)) => format!("{}: {exit}", s.state.as_str()),
                (None, None) => s.state.as_str().to_string(),
            });
        }
        // It ended and the manager restarts it: not ready, and a restart will not make it so
        // in any way `--wait` could promise. Say so at once rather than wait out the timeout.
        if let Some(how) = first_seen.exited(&statuses, started_at) {
            return Look::Ended(how);
        }
        if statuses.iter().all(|s| s.state == State::Running) {
            Look::Running(statuses.iter().map(|s| s.pid).collect())
        } else {
            Look::NotYet
        }
    };
    let mut looks = Backoff::new(health::POLL_FIRST, health::POLL_MAX);
    let mut probes = service
        .health
        .as_ref()
        .map(|h| Backoff::new(health::POLL_FIRST, health::probe_ceiling(&h.check)));
    let mut next_look = started;
    let mut next_probe = started;
    // The pids of the last look if every unit ran, and since when they have been the same.
    let mut running: Option<(Vec<Option<u32>>, Instant)> = None;
    let mut ended: Option<String> = None;
    // Who answered the health check when it was not the service (a program already on the port).
    let mut squatter: Option<String> = None;
    let finished = loop {
        let now = Instant::now();
        let mut looked = false;
        if now >= next_look {
            match look() {
                Look::Ended(why) => {
                    ended = Some(why);
                    break true;
                }
                Look::Running(pids) => {
                    if running.as_ref().is_none_or(|(seen, _)| *seen != pids) {
                        running = Some((pids, now));
                    }
                }
                Look::NotYet => {
                    running = None;
                    ctx.report.waiting(
                        &service.name,
                        "the manager is starting it",
                        started.elapsed(),
                    );
                }
            }
            looked = true;
            next_look = Instant::now() + looks.pause();
        }
        if let Some((pids, since)) = &running {
            match (&service.health, probes.as_mut()) {
                // A health check that passes while the manager does not run the service would
                // be answered by something else (an old copy, another program on the port):
                // the manager is asked once more before the pass counts.
                (Some(h), Some(backoff)) if Instant::now() >= next_probe => {
                    ctx.report.waiting(
                        &service.name,
                        &format!("running; health check {}", h.check),
                        started.elapsed(),
                    );
                    let ours: Vec<u32> = pids.iter().flatten().copied().collect();
                    // Something answered; it counts only if it is the service itself, not
                    // another program already on that port.
                    let answered = health::probe(&h.check)
                        && match answered_by_someone_else(&h.check, &ours) {
                            Some(other) => {
                                squatter = Some(other);
                                false
                            }
                            None => true,
                        };
                    if answered {
                        if looked {
                            break true;
                        }
                        match look() {
                            Look::Running(now_pids) if now_pids == *pids => break true,
                            Look::Ended(why) => {
                                ended = Some(why);
                                break true;
                            }
                            _ => next_look = Instant::now(),
                        }
                    }
                    next_probe = Instant::now() + backoff.pause();
                }
                (Some(_), _) => {}
                (None, _) if looked && since.elapsed() >= SETTLE => break true,
                // The look that can end the wait comes the moment the settling time is over.
                (None, _) => {
                    if looked {
                        ctx.report.waiting(
                            &service.name,
                            &format!(
                                "running; up for {} without a restart",
                                humantime::format_duration(SETTLE)
                            ),
                            started.elapsed(),
                        );
                    }
                    next_look = next_look.min(*since + SETTLE);
                }
            }
        }
        let now = Instant::now();
        if now >= deadline {
            break false;
        }
        let mut wake = next_look.min(deadline);
        if running.is_some() && service.health.is_some() {
            wake = wake.min(next_probe);
        }
        std::thread::sleep(wake.saturating_duration_since(now));
    };
    ctx.report.waited();
    let why = match (finished, ended) {
        (true, None) => {
            if let Ok(statuses) = backend.status(ctx, &[service]) {
                super::stop::remember_running(ctx, &statuses);
            }
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
