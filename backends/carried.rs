//! Which keys a backend carries: each backend answers in one function (`carries`), and this
//! module applies the answer the same way for all of them. A key a backend does not carry is
//! refused as bad input naming the key and the backend (exit 2, nothing written), or, where
//! the definition says `not_carried = "warn"`, reported on stderr as
//! `not carried by BACKEND: KEY` and left out of what is rendered. It is never dropped without
//! a word. Enabling a key on a backend is one line of its `carries`.

use anyhow::Result;

use crate::model::error::bad;
use crate::model::spec::{Dependency, NotCarried, Restart, Service, Used};
use crate::system::host::Ctx;

/// A backend's answer for one key: carried, or why not.
pub type Verdict = Result<(), &'static str>;

/// Every key (or value) of `service` a backend may not carry: the keys of `daemon.rs`, the
/// restart policies beyond the first three, and dependencies on facilities, on systemd's own
/// units and on the same instance of another service.
pub fn used(service: &Service) -> Vec<Used> {
    let mut out = service.daemon.used();
    if let Some(log) = &service.log {
        if log.stderr.is_some() {
            out.push(Used {
                key: "log.stderr",
                value: None,
            });
        }
        // Only a stamp asked for in so many words: no stamp is what every manager but
        // svc-any's supervisor writes anyway.
        if log.timestamps == Some(true) {
            out.push(Used {
                key: "log.timestamps",
                value: Some("true".into()),
            });
        }
    }
    if matches!(service.restart, Restart::OnAbnormal | Restart::OnAbort) {
        out.push(Used {
            key: "restart",
            value: Some(format!("\"{}\"", service.restart.as_str())),
        });
    }
    for (key, dep) in service.all_dependencies() {
        let per_instance = dep
            .as_written()
            .contains(crate::model::spec::INSTANCE_PLACEHOLDER);
        if !matches!(dep, Dependency::Service(_)) || per_instance {
            let key = key.split('[').next().unwrap_or_default();
            let key = KEYS.iter().find(|k| **k == key).copied().unwrap_or("after");
            let value = Some(quoted(dep));
            let used = Used { key, value };
            if !out.contains(&used) {
                out.push(used);
            }
        }
    }
    out
}

const KEYS: &[&str] = &[
    "after",
    "requires",
    "wants",
    "before",
    "part_of",
    "binds_to",
    "conflicts",
];

/// `service` as `backend` renders it: unchanged when every key is carried; without the keys it
/// does not carry when the definition says `not_carried = "warn"` (each one warned about);
/// otherwise bad input for the first one.
pub fn check(
    ctx: &Ctx,
    backend: &str,
    service: &Service,
    carries: impl Fn(&Used, &Service) -> Verdict,
) -> Result<Service> {
    let mut out = service.clone();
    for used in used(service) {
        let Err(why) = carries(&used, service) else {
            continue;
        };
        let refuse = service.daemon.not_carried == NotCarried::Refuse;
        if refuse && names_systemd_unit(service, &used) {
            // Refused by spec::refuse_systemd_units, which every backend calls next, with
            // the hint for a unit or a target.
            continue;
        }
        if refuse {
            return Err(bad(format!(
                "not carried by {backend}: {} ({why})",
                used.describe()
            ))
            .key(used.key)
            .hint(format!(
                "remove it for {backend}, or add not_carried = \"warn\" to install without it"
            ))
            .into());
        }
        ctx.warn(format!("not carried by {backend}: {}", used.describe()));
        drop_used(&mut out, &used);
    }
    Ok(out)
}

/// Whether `used` is an entry naming a service of the host as systemd's unit
/// (`"auditd.service"`): see `spec::host_services_after`.
pub fn names_host_service(used: &Used) -> bool {
    used.value.as_deref().is_some_and(|v| {
        v.ends_with(".service\"") && !v.contains(crate::model::spec::INSTANCE_PLACEHOLDER)
    })
}

/// A dependency entry as `Used` gives its value: the entry as written, quoted.
fn quoted(dep: &Dependency) -> String {
    format!("\"{}\"", dep.as_written())
}

/// Whether `used` is a dependency entry naming a unit of systemd's own (not per instance:
/// that has the backend's own verdict).
fn names_systemd_unit(service: &Service, used: &Used) -> bool {
    let placeholder = crate::model::spec::INSTANCE_PLACEHOLDER;
    service.all_dependencies().any(|(_, d)| {
        matches!(d, Dependency::Native(unit) if !unit.contains(placeholder))
            && used.value.as_deref() == Some(quoted(d).as_str())
    })
}

fn drop_used(service: &mut Service, used: &Used) {
    match (used.key, &used.value) {
        ("restart", _) => service.restart = Restart::OnFailure,
        ("log.stderr", _) => {
            if let Some(log) = &mut service.log {
                log.stderr = None;
            }
        }
        ("log.timestamps", _) => {
            if let Some(log) = &mut service.log {
                log.timestamps = None;
            }
        }
        (key, Some(v)) if KEYS.contains(&key) => {
            let list = match key {
                "after" => &mut service.after,
                "requires" => &mut service.requires,
                "wants" => &mut service.daemon.wants,
                "before" => &mut service.daemon.before,
                "part_of" => &mut service.daemon.part_of,
                "binds_to" => &mut service.daemon.binds_to,
                _ => &mut service.daemon.conflicts,
            };
            list.retain(|d| quoted(d) != *v);
        }
        (key, _) => service.daemon.drop_key(key),
    }
}
