//! `try-restart` (restart only what runs) and `reset` (converge on the intended state: running
//! if enabled at boot, stopped if not), the two verbs a package upgrade and an admin tidying up
//! need, the same on every backend.

use std::time::Duration;

use anyhow::Result;

use super::control::start_and_wait;
use super::*;
use crate::backends::{running_labels, AnyBackend, Backend, Verb};
use crate::model::spec::{self, Service};
use crate::system::host::Ctx;

/// Restarts those of `names` that run (each running instance) and leaves the others stopped;
/// with `wait`, waits for each restarted one to be healthy. Returns the labels restarted.
pub fn try_restart(
    ctx: &Ctx,
    backend: &AnyBackend,
    names: &[String],
    wait: Option<Option<Duration>>,
) -> Result<Vec<String>> {
    let records = installed(ctx, names)?;
    require_live(ctx, backend)?;
    let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    let order = spec::dependency_order(&services);
    let marks: Vec<crate::system::logfiles::LogMark> = order
        .iter()
        .map(|s| crate::system::logfiles::LogMark::take(&backend.log_files(ctx, s)))
        .collect();
    let restarted = backend.try_restart(ctx, &order)?;
    for s in &order {
        let labels = labels_of(s);
        let mine: Vec<&String> = restarted.iter().filter(|l| labels.contains(l)).collect();
        if mine.is_empty() {
            ctx.say(format!("{} is not running: left stopped", s.name));
        } else {
            for label in mine {
                ctx.say(format!("restarted {label}"));
            }
        }
    }
    if let Some(limit) = wait {
        for (s, mark) in order
            .iter()
            .zip(&marks)
            .filter(|(s, _)| labels_of(s).iter().any(|l| restarted.contains(l)))
        {
            wait_ready(ctx, backend, s, limit, mark)?;
        }
    }
    Ok(restarted)
}

/// The labels of a service's units, as statuses name them: `NAME`, or `NAME@INSTANCE` each.
pub(super) fn labels_of(service: &Service) -> Vec<String> {
    service
        .instance_names()
        .into_iter()
        .map(|i| match i {
            Some(i) => format!("{}@{i}", service.name),
            None => service.name.clone(),
        })
        .collect()
}

/// What `reset` did to one service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Converged {
    Started,
    Stopped,
    AlreadyRunning,
    AlreadyStopped,
}

/// Brings each of `names` to what its boot links say: enabled and not (wholly) running →
/// started (and `wait`ed for); disabled and running → stopped; otherwise left alone.
pub fn reset(
    ctx: &Ctx,
    backend: &AnyBackend,
    names: &[String],
    wait: Option<Option<Duration>>,
) -> Result<Vec<(String, Converged)>> {
    let records = installed(ctx, names)?;
    require_live(ctx, backend)?;
    let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    let statuses = backend.status(ctx, &services)?;
    let running = running_labels(&statuses);
    let mut to_start = Vec::new();
    let mut to_stop = Vec::new();
    let mut outcome = Vec::new();
    for r in &records {
        let units: Vec<_> = statuses
            .iter()
            .filter(|s| s.name == r.service.name)
            .collect();
        let all_run = !units.is_empty() && units.iter().all(|s| running.contains(&s.label()));
        let any_runs = units.iter().any(|s| running.contains(&s.label()));
        let enabled = backend.is_enabled(ctx, &r.service, &r.enable_links);
        let what = match (enabled, all_run, any_runs) {
            (true, true, _) => Converged::AlreadyRunning,
            (true, false, _) => {
                to_start.push(&r.service);
                Converged::Started
            }
            (false, _, true) => {
                to_stop.push(&r.service);
                Converged::Stopped
            }
            (false, _, false) => Converged::AlreadyStopped,
        };
        outcome.push((r.service.name.clone(), what));
    }
    if !to_stop.is_empty() {
        let mut order = spec::dependency_order(&to_stop);
        order.reverse();
        super::stop::stop_verified(ctx, backend, &order, None)?;
    }
    if !to_start.is_empty() {
        start_and_wait(ctx, backend, Verb::Start, &to_start, wait)?;
    }
    for (name, what) in &outcome {
        match what {
            Converged::Stopped => ctx.say(format!("stopped {name} (disabled at boot)")),
            Converged::AlreadyRunning => ctx.say(format!("{name} runs, as enabled")),
            Converged::AlreadyStopped => ctx.say(format!("{name} is stopped, as disabled")),
            // start_and_wait said so
            Converged::Started => {}
        }
    }
    Ok(outcome)
}
