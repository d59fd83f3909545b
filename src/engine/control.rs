//! start / stop / restart / reload, enable / disable, and status: one manager call for all the
//! services named.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;

use super::*;
use crate::backends::{AnyBackend, Backend, Verb};
use crate::model::error::bad;
use crate::model::spec::{self, Service};
use crate::model::status::{ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::logfiles::LogMark;
use crate::system::records::{self, Record};

/// start / stop / restart / reload, then `--wait` for start and restart.
pub fn control(
    ctx: &Ctx,
    backend: &AnyBackend,
    verb: Verb,
    names: &[String],
    wait: Option<Option<Duration>>,
) -> Result<()> {
    let records = installed(ctx, names)?;
    if verb == Verb::Reload {
        let cannot = |s: &crate::model::spec::Service| {
            s.reload_signal.is_none() && s.daemon.reload_exec.is_empty()
        };
        if let Some(r) = records.iter().find(|r| cannot(&r.service)) {
            return Err(bad(format!(
                "`{}` has no reload_signal or reload_exec, so it cannot be reloaded",
                r.service.name
            ))
            .key("reload_signal")
            .hint("add reload_signal = \"HUP\" (or reload_exec) to the definition, or use restart")
            .into());
        }
    }
    let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    if verb == Verb::Stop && !ctx.live && ctx.root == std::path::Path::new("/") {
        // The manager itself is gone (supervisord killed): what svc-any saw run the services
        // may still serve, and stopping them is still what was asked.
        let mut order = spec::dependency_order(&services);
        order.reverse();
        if super::stop::stop_lost(ctx, backend, &order)? {
            for s in order {
                ctx.say(format!("stopped {}", s.name));
            }
            return Ok(());
        }
    }
    require_live(ctx, backend)?;
    match verb {
        Verb::Start | Verb::Restart => start_and_wait(ctx, backend, verb, &services, wait),
        Verb::Stop => {
            let mut order = spec::dependency_order(&services);
            order.reverse();
            super::stop::stop_verified(ctx, backend, &order, wait.flatten())?;
            for s in order {
                ctx.say(format!("stopped {}", s.name));
            }
            Ok(())
        }
        Verb::Reload => {
            let marks: Vec<LogMark> = services
                .iter()
                .map(|s| LogMark::take(&backend.log_files(ctx, s)))
                .collect();
            backend.control(ctx, Verb::Reload, &services)?;
            for s in &services {
                ctx.say(format!("reloaded {}", s.name));
            }
            // The manager cannot tell when a reload is done; what can be checked is that the
            // service still runs, and passes its health check, afterwards.
            if let Some(limit) = wait {
                for (s, mark) in services.iter().zip(&marks) {
                    wait_ready(ctx, backend, s, limit, mark)?;
                }
            }
            Ok(())
        }
    }
}

pub(super) fn start_and_wait(
    ctx: &Ctx,
    backend: &AnyBackend,
    verb: Verb,
    services: &[&Service],
    wait: Option<Option<Duration>>,
) -> Result<()> {
    start_and_wait_from(ctx, backend, verb, services, wait, &[])
}

/// [`start_and_wait`], with the log marks taken `earlier` for some services: before the
/// manager loaded them, where loading may start them already (supervisord starts an
/// `autostart` program as it adds it), so that what they said since is still shown.
pub(super) fn start_and_wait_from(
    ctx: &Ctx,
    backend: &AnyBackend,
    verb: Verb,
    services: &[&Service],
    wait: Option<Option<Duration>>,
    earlier: &[(String, LogMark)],
) -> Result<()> {
    let order = spec::dependency_order(services);
    for s in &order {
        let alongside: Vec<&str> = order.iter().map(|o| o.name.as_str()).collect();
        if let Some(problem) = super::preflight::missing(ctx, s, &alongside)
            .into_iter()
            .next()
        {
            let at = s
                .source
                .as_ref()
                .map_or_else(|| s.name.clone(), |p| p.display().to_string());
            return Err(problem.at(at).into());
        }
    }
    for s in &order {
        records::clear_failure(ctx, &s.name)?;
    }
    let marks: Vec<LogMark> = order
        .iter()
        .map(|s| match earlier.iter().find(|(name, _)| *name == s.name) {
            Some((_, mark)) => mark.clone(),
            None => LogMark::take(&backend.log_files(ctx, s)),
        })
        .collect();
    backend.control(ctx, verb, &order)?;
    for s in &order {
        ctx.say(format!(
            "{} {}",
            if verb == Verb::Start {
                "started"
            } else {
                "restarted"
            },
            s.name
        ));
    }
    if let Some(limit) = wait {
        for (s, mark) in order.iter().zip(&marks) {
            wait_ready(ctx, backend, s, limit, mark)?;
        }
    }
    Ok(())
}

/// enable / disable: boot links only, as `systemctl enable` without `--now`.
pub fn set_enabled(ctx: &Ctx, backend: &AnyBackend, names: &[String], enable: bool) -> Result<()> {
    let records = installed(ctx, names)?;
    let mut changed = false;
    let services: Vec<String> = records.iter().map(|r| r.service.name.clone()).collect();
    let tx = crate::system::files::Transaction::begin();
    for mut r in records {
        changed |= if enable {
            backend.enable(ctx, &r.service, &r.enable_links)?
        } else {
            backend.disable(ctx, &r.service, &r.enable_links)?
        };
        if r.enabled != enable {
            r.enabled = enable;
            records::save(ctx, &r)?;
        }
        if !changed {
            ctx.say(format!(
                "{} is already {}",
                r.service.name,
                if enable { "enabled" } else { "disabled" }
            ));
        }
    }
    tx.finish()?;
    if changed && ctx.live {
        let names: Vec<&str> = services.iter().map(String::as_str).collect();
        backend.reload_definitions(ctx, &names)?;
    }
    Ok(())
}

/// Status of `names`, or of every installed service when none are named; the manager is asked
/// once for all of them.
pub fn status(ctx: &Ctx, backend: &AnyBackend, names: &[String]) -> Result<Vec<ServiceStatus>> {
    status_as(ctx, backend, names, Detail::Full)
}

/// [`status`] for a table: the fields the manager tells cheaply (see
/// [`Backend::status_summary`]), every state exact.
pub fn status_summary(
    ctx: &Ctx,
    backend: &AnyBackend,
    names: &[String],
) -> Result<Vec<ServiceStatus>> {
    status_as(ctx, backend, names, Detail::Summary)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    Full,
    Summary,
}

fn status_as(
    ctx: &Ctx,
    backend: &AnyBackend,
    names: &[String],
    detail: Detail,
) -> Result<Vec<ServiceStatus>> {
    let wanted: Vec<(String, Option<Record>)> = if names.is_empty() {
        records::all(ctx)?
            .into_iter()
            .map(|r| (r.service.name.clone(), Some(r)))
            .collect()
    } else {
        expand_groups(ctx, names)?
            .iter()
            .map(|n| Ok((n.clone(), records::load(ctx, n)?)))
            .collect::<Result<_>>()?
    };
    let installed: Vec<&Service> = wanted
        .iter()
        .filter_map(|(_, r)| r.as_ref().map(|r| &r.service))
        .collect();
    if !ctx.live && !installed.is_empty() {
        ctx.warn(format!(
            "{} is not running here ({}): showing what svc-any recorded, not what it says",
            backend.name(),
            ctx.offline_reason.as_deref().unwrap_or("offline")
        ));
    }
    // The answers by service (an instanced one has several), taken in the order asked.
    let mut answers: BTreeMap<String, Vec<ServiceStatus>> = BTreeMap::new();
    if ctx.live && !installed.is_empty() {
        let statuses = match detail {
            Detail::Full => backend.status(ctx, &installed)?,
            Detail::Summary => backend.status_summary(ctx, &installed)?,
        };
        // What runs each service, for a stop after the manager lost it; the table over every
        // service (Summary) stays a read only.
        if detail == Detail::Full {
            super::stop::remember_running(ctx, &statuses);
        }
        for s in statuses {
            answers.entry(s.name.clone()).or_default().push(s);
        }
    }
    let failures = records::failed_starts(ctx);
    let mut out = Vec::new();
    for (name, record) in wanted {
        match record {
            None => out.push(ServiceStatus::not_installed(&name, backend.name())),
            Some(_) if ctx.live => {
                let mine = answers.remove(&name).unwrap_or_default();
                // svc-any itself stopped a start that `--wait` gave up on: the manager says
                // stopped, the truth is failed, and why.
                let failure = failures.get(&name);
                out.extend(mine.into_iter().map(|mut s| {
                    if let (Some(why), State::Stopped | State::Dead) = (&failure, s.state) {
                        s.state = State::Failed;
                        s.reason = Some(format!("start --wait gave up: {why}"));
                    }
                    s
                }));
            }
            // Installed, but no manager to ask (a chroot): say what the record knows.
            Some(r) => out.push(ServiceStatus {
                state: State::Unknown,
                enabled: Some(r.enabled),
                ..ServiceStatus::not_installed(&name, backend.name())
            }),
        }
    }
    Ok(out)
}
