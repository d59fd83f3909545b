//! `requires` and `after` in a cluster, where every pod starts at once: an init container per
//! dependency (per instance of it) that waits for the dependency's tcp or http health target
//! through its Service; what cannot be waited for is noted as not carried.

use std::collections::BTreeMap;

use super::expansion::k8s_value;
use super::workloads::{units, Kind};
use crate::export::yaml::{map, Node};
use crate::export::{export_of, probe, wait_image, Notes, Probe};
use crate::model::spec::Service;

/// The Service name (and port) a dependant waits on, per instance of the dependency.
fn wait_hosts(dep: &Service, own_ns: Option<&str>) -> Vec<(String, String)> {
    let dep_ns = export_of(dep).namespace;
    let suffix = match (dep_ns.as_deref(), own_ns) {
        (a, b) if a == b => String::new(),
        (Some(ns), _) => format!(".{ns}"),
        (None, _) => ".default".to_string(),
    };
    units(dep)
        .into_iter()
        .flat_map(|u| match u.kind {
            Kind::StatefulSet { start, count } => (start..start + count)
                .map(|k| {
                    (
                        format!("{}-{k}", u.name),
                        format!("{}-{k}.{}{suffix}", u.name, u.name),
                    )
                })
                .collect::<Vec<_>>(),
            _ => vec![(u.name.clone(), format!("{}{suffix}", u.name))],
        })
        .collect()
}

/// Init containers that wait for `deps`, and what could not be waited for.
pub(super) fn waits(
    s: &Service,
    project: &BTreeMap<String, Service>,
    exported: &[&Service],
    notes: &mut Notes,
) -> Vec<Node> {
    let own_ns = export_of(s).namespace;
    let mut out = Vec::new();
    let deps = s
        .requires
        .iter()
        .map(|d| (d.as_written(), "requires"))
        .chain(s.after.iter().map(|d| (d.as_written(), "after")));
    for (dep_name, key) in deps {
        let Some(dep) = project.get(dep_name.as_str()) else {
            notes.lost(
                &s.name,
                key,
                format!("`{dep_name}` is not a service of this file (a native unit has no Kubernetes counterpart)"),
            );
            continue;
        };
        if key == "after" && !exported.iter().any(|e| e.name == *dep_name) {
            notes.lost(
                &s.name,
                key,
                format!("`{dep_name}` is not exported with it: nothing to order after"),
            );
            continue;
        }
        let Some(target) = probe(dep).filter(|p| !matches!(p, Probe::Exec(_))) else {
            notes.lost(
                &s.name,
                key,
                format!("`{dep_name}` has no tcp or http health check to wait for, so its start is not awaited"),
            );
            continue;
        };
        let image = wait_image(s).to_string();
        for (label, host) in wait_hosts(dep, own_ns.as_deref()) {
            let command = match &target {
                Probe::Tcp { port, .. } => vec![
                    "sh".to_string(),
                    "-c".into(),
                    "until nc -z -w 2 \"$0\" \"$1\"; do echo \"waiting for $0:$1\"; sleep 1; done".into(),
                    host.clone(),
                    port.to_string(),
                ],
                Probe::Http { port, path, .. } => vec![
                    "sh".to_string(),
                    "-c".into(),
                    "until wget -q -T 2 -O /dev/null \"$0\"; do echo \"waiting for $0\"; sleep 1; done".into(),
                    format!("http://{host}:{port}{path}"),
                ],
                Probe::Exec(_) => unreachable!("filtered above"),
            };
            out.push(
                map()
                    .put("name", format!("wait-{label}"))
                    .put("image", image.as_str())
                    .put(
                        "command",
                        Node::Seq(
                            command
                                .iter()
                                .map(|c| Node::Str(k8s_value(c, false)))
                                .collect(),
                        ),
                    )
                    .node(),
            );
        }
        let how = match key {
            "requires" => "an init container waits",
            _ => "an init container waits (in a cluster every pod starts at once, so `after` orders only by waiting)",
        };
        notes.map(
            &s.name,
            format!("{key} {dep_name} → {how} for its health target through its Service (image {image}: needs sh, nc and wget)"),
        );
    }
    out
}
