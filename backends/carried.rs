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
/// restart policies beyond the first three, and facility dependencies.
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
        if matches!(dep, Dependency::Facility(_)) || per_instance {
            let key = key.split('[').next().unwrap_or_default();
            let key = KEYS.iter().find(|k| **k == key).copied().unwrap_or("after");
            let value = Some(format!("\"{}\"", dep.as_written()));
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
        if service.daemon.not_carried == NotCarried::Refuse {
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
            let placeholder = crate::model::spec::INSTANCE_PLACEHOLDER;
            let keep = |d: &Dependency| {
                let facility = matches!(d, Dependency::Facility(_)) && v.starts_with("\"$");
                facility || (v.contains(placeholder) && d.as_written().contains(placeholder))
            };
            let keep = |d: &Dependency| !keep(d);
            service.after.retain(keep);
            service.requires.retain(keep);
            let d = &mut service.daemon;
            for list in [
                &mut d.wants,
                &mut d.before,
                &mut d.part_of,
                &mut d.binds_to,
                &mut d.conflicts,
            ] {
                list.retain(keep);
            }
        }
        (key, _) => service.daemon.drop_key(key),
    }
}
