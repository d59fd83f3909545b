//! `stop` that verifies, as the daemontools seed's `svcstop` did: the service's processes are
//! gone afterwards. A manager that lost track of its service (OpenRC's supervise-daemon killed,
//! say) reports it stopped while it still serves; svc-any then stops what is left itself, with
//! the service's stop signal and KILL after its stop timeout, and fails naming any pid that
//! survives. Only a process seen running the service's program before the stop is ever
//! signalled: a pid alone could name anything by then.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use nix::sys::signal::Signal as NixSignal;

use crate::backends::{AnyBackend, Backend, Verb};
use crate::model::spec::Service;
use crate::system::host::Ctx;
use crate::system::processes::Process;
use crate::system::records;

/// How long after the manager's stop returned (plus the stop timeout) its processes may take to
/// be reaped before svc-any steps in.
const GRACE: Duration = Duration::from_secs(2);

/// Stops `order` (dependants first) through the manager, then makes sure every process the
/// manager reported for them is gone. `limit` replaces each service's stop timeout.
pub fn stop_verified(
    ctx: &Ctx,
    backend: &AnyBackend,
    order: &[&Service],
    limit: Option<Duration>,
) -> Result<()> {
    // What runs now, by pid and start time; a status that cannot be read verifies nothing,
    // but must not stop the stop. And what svc-any saw run each service before, which a
    // manager that lost track of it (its supervisor killed) no longer names.
    let mut before: Vec<(String, Process, &Service)> = backend
        .status(ctx, order)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|s| {
            let service = order.iter().find(|o| o.name == s.name)?;
            let process = Process::of(s.pid?).filter(|p| p.runs(&service.exec[0]))?;
            Some((s.label(), process, *service))
        })
        .collect();
    for service in order {
        for seen in records::remembered_running(ctx, &service.name) {
            let process = Process {
                pid: seen.pid,
                start_time: seen.start_time,
            };
            let known = before.iter().any(|(_, p, _)| p.pid == seen.pid);
            if !known && process.alive() && process.runs(&service.exec[0]) {
                before.push((seen.label, process, *service));
            }
        }
    }
    // With a limit, the manager's own stop (which waits out each stop_timeout) may outlast it:
    // once the limit passes, whatever still runs is killed, and the manager's stop then ends.
    std::thread::scope(|scope| {
        let stopping = scope.spawn(|| backend.control(ctx, Verb::Stop, order));
        if let Some(limit) = limit {
            let deadline = Instant::now() + limit;
            while !stopping.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !stopping.is_finished() {
                for (label, process, _) in before.iter().filter(|(_, p, _)| p.alive()) {
                    ctx.warn(format!(
                        "warning: {label}: still running after --wait={}; sending SIGKILL to pid {}",
                        limit.as_secs_f64(),
                        process.pid
                    ));
                    let _ = process.signal(NixSignal::SIGKILL);
                }
            }
        }
        stopping.join().expect("the stop thread does not panic")
    })?;
    let mut survivors = Vec::new();
    for (label, process, service) in before {
        let timeout = limit.unwrap_or(service.stop_timeout);
        if gone_within(&process, timeout + GRACE) {
            continue;
        }
        ctx.warn(format!(
            "warning: {label}: the manager reports it stopped, but its process {} still runs; \
             stopping it with SIG{} (KILL after {})",
            process.pid,
            service.stop_signal.name(),
            humantime::format_duration(timeout)
        ));
        let _ = process.signal(service.stop_signal.to_nix());
        if gone_within(&process, timeout) {
            continue;
        }
        let _ = process.signal(NixSignal::SIGKILL);
        if !gone_within(&process, GRACE) {
            survivors.push(format!("{label} (pid {})", process.pid));
        }
    }
    if survivors.is_empty() {
        for service in order {
            records::forget_running(ctx, &service.name);
        }
    } else {
        bail!(
            "still running after stop and SIGKILL: {}",
            survivors.join(", ")
        );
    }
    Ok(())
}

fn gone_within(process: &Process, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        if !process.alive() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Remembers, per service, the processes `statuses` show running (see
/// [`records::remember_running`]): what `stop` verifies even once the manager lost them.
///
/// What was remembered before and still runs stays remembered: the new look may come after
/// the manager lost a process (a killed runsv's replacement starts a second copy).
pub(super) fn remember_running(ctx: &Ctx, statuses: &[crate::model::status::ServiceStatus]) {
    let mut by_service: std::collections::BTreeMap<&str, Vec<records::Seen>> = Default::default();
    for s in statuses {
        let Some(process) = s.pid.and_then(Process::of) else {
            continue;
        };
        if s.state == crate::model::status::State::Running {
            by_service.entry(&s.name).or_default().push(records::Seen {
                label: s.label(),
                pid: process.pid,
                start_time: process.start_time,
            });
        }
    }
    for (name, mut seen) in by_service {
        for old in records::remembered_running(ctx, name) {
            let process = Process {
                pid: old.pid,
                start_time: old.start_time,
            };
            if process.alive() && !seen.iter().any(|s| s.pid == old.pid) {
                seen.push(old);
            }
        }
        records::remember_running(ctx, name, &seen);
    }
}

/// With the manager not running at all: stops, as `stop_verified` would, the processes svc-any
/// last saw run `order`'s services (each with its stop signal, KILL after its stop timeout).
/// Whether there were any; an error names what survived.
pub(super) fn stop_lost(ctx: &Ctx, backend: &AnyBackend, order: &[&Service]) -> Result<bool> {
    let mut found = false;
    let mut survivors = Vec::new();
    for service in order {
        for seen in records::remembered_running(ctx, &service.name) {
            let process = Process {
                pid: seen.pid,
                start_time: seen.start_time,
            };
            if !process.alive() || !process.runs(&service.exec[0]) {
                continue;
            }
            found = true;
            ctx.warn(format!(
                "warning: {} is not running here, but pid {} of {} is: stopping it with SIG{} \
                 (KILL after {})",
                backend.name(),
                process.pid,
                seen.label,
                service.stop_signal.name(),
                humantime::format_duration(service.stop_timeout)
            ));
            let _ = process.signal(service.stop_signal.to_nix());
            if gone_within(&process, service.stop_timeout) {
                continue;
            }
            let _ = process.signal(NixSignal::SIGKILL);
            if !gone_within(&process, GRACE) {
                survivors.push(format!("{} (pid {})", seen.label, process.pid));
            }
        }
    }
    if !survivors.is_empty() {
        bail!(
            "still running after stop and SIGKILL: {}",
            survivors.join(", ")
        );
    }
    if found {
        for service in order {
            records::forget_running(ctx, &service.name);
        }
    }
    Ok(found)
}
