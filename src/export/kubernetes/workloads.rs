//! Which workloads a service becomes: a Deployment for `restart = "always"`, a Job otherwise,
//! a StatefulSet for instances that are consecutive ordinals, else one workload per instance;
//! and the names Kubernetes accepts for them.

use anyhow::Result;

use crate::model::error::bad;
use crate::model::export::is_dns_label;
use crate::model::spec::{self, Restart, Service, INSTANCE_PLACEHOLDER};

/// How a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Deployment,
    StatefulSet { start: u32, count: u32 },
    Job,
}

/// One workload: a service, or one instance of it.
pub(super) struct Unit {
    /// The object name (`NAME` or `NAME-INSTANCE`).
    pub(super) name: String,
    /// The definition it runs: for one instance, with `{instance}` replaced.
    pub(super) service: Service,
    pub(super) instance: Option<String>,
    pub(super) kind: Kind,
}

/// The instance names as StatefulSet ordinals: consecutive whole numbers (no leading zeros),
/// and `{instance}` only where the kubelet expands `$(VAR)` (exec and env values).
fn ordinals(s: &Service) -> Option<(u32, u32)> {
    let numbers: Vec<u32> = s
        .instances
        .iter()
        .map(|i| i.parse::<u32>().ok().filter(|n| n.to_string() == *i))
        .collect::<Option<_>>()?;
    let start = *numbers.first()?;
    let consecutive = numbers
        .iter()
        .enumerate()
        .all(|(k, n)| u64::from(*n) == u64::from(start) + k as u64);
    let placeholder =
        |v: &Option<String>| v.as_ref().is_some_and(|x| x.contains(INSTANCE_PLACEHOLDER));
    let expandable = !placeholder(&s.working_dir) && !placeholder(&s.env_file);
    (consecutive && expandable).then_some((start, numbers.len() as u32))
}

pub(super) fn units(s: &Service) -> Vec<Unit> {
    let always = s.restart == Restart::Always;
    if s.instances.is_empty() {
        let kind = if always { Kind::Deployment } else { Kind::Job };
        return vec![Unit {
            name: s.name.clone(),
            service: s.clone(),
            instance: None,
            kind,
        }];
    }
    if let (true, Some((start, count))) = (always, ordinals(s)) {
        return vec![Unit {
            name: s.name.clone(),
            service: s.clone(),
            instance: None,
            kind: Kind::StatefulSet { start, count },
        }];
    }
    s.instances
        .iter()
        .map(|i| Unit {
            name: format!("{}-{}", s.name, i.to_ascii_lowercase()),
            service: s.for_instance(Some(i)),
            instance: Some(i.clone()),
            kind: if always { Kind::Deployment } else { Kind::Job },
        })
        .collect()
}

/// A Kubernetes object name: a DNS-1035 label (what a Service needs; the strictest).
pub(super) fn check_object_name(s: &Service, name: &str) -> Result<()> {
    if is_dns_label(name) && name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Ok(());
    }
    Err(spec::place_in_definition(
        s,
        bad(format!("`{name}` cannot name a Kubernetes object"))
            .key("name")
            .hint("Kubernetes names are at most 63 lower-case letters, digits and -, starting with a letter: rename the service (or its instances)"),
    )
    .into())
}
