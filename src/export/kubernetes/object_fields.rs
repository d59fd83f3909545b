//! The pieces the objects of a service share: its labels and selector (label values Kubernetes
//! accepts), the probe handler of its health check, its resource amounts, and its user and
//! group as the numeric ids Kubernetes takes.

use anyhow::Result;

use super::workloads::Unit;
use crate::export::yaml::{map, MapBuilder, Node};
use crate::export::{export_of, is_loopback, Notes, Probe};
use crate::model::error::bad;
use crate::model::spec::{self, Service};

/// A user or group as the numeric id Kubernetes needs.
pub(super) fn numeric_id(s: &Service, key: &str, name: &str, notes: &mut Notes) -> Result<i64> {
    if let Ok(id) = name.parse::<u32>() {
        return Ok(id.into());
    }
    let found = match key {
        "user" => nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
        _ => nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    };
    match found {
        Some(id) => {
            notes.map(
                &s.name,
                format!("{key} `{name}` → {id}, the id on the host that exported: the image must use the same id"),
            );
            Ok(id.into())
        }
        None => Err(spec::place_in_definition(
            s,
            bad(format!(
                "{key} `{name}` has no numeric id here, and Kubernetes takes only ids (runAs{})",
                if key == "user" { "User" } else { "Group" }
            ))
            .key(key)
            .hint(format!(
                "give the id the image uses ({key} = \"1000\"), or export on a host where `{name}` exists"
            )),
        )
        .into()),
    }
}

/// The probe handler for a service's health check.
pub(super) fn handler(p: &Probe) -> MapBuilder {
    match p {
        Probe::Tcp { host, port } => {
            let mut tcp = map();
            if !is_loopback(host) {
                tcp.push("host", host.as_str());
            }
            map().put("tcpSocket", tcp.put("port", *port))
        }
        Probe::Http { host, port, path } => {
            let mut http = map().put("path", path.as_str()).put("port", *port);
            if !is_loopback(host) {
                http.push("host", host.as_str());
            }
            map().put("httpGet", http.put("scheme", "HTTP"))
        }
        Probe::Exec(argv) => map().put("exec", map().put("command", Node::strs(argv))),
    }
}

/// A label value: at most 63 of `[A-Za-z0-9_.-]`, starting and ending with a letter or digit.
fn is_label_value(v: &str) -> bool {
    v.len() <= 63
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.ends_with(|c: char| c.is_ascii_alphanumeric())
}

pub(super) fn labels(s: &Service, unit: &Unit, notes: &mut Notes) -> MapBuilder {
    let mut labels = map()
        .put("app.kubernetes.io/name", s.name.as_str())
        .put("app.kubernetes.io/managed-by", "svc-any");
    if let Some(i) = &unit.instance {
        if is_label_value(i) {
            labels.push("svc-any/instance", i.as_str());
        }
    }
    if s.groups.len() == 1 {
        labels.push("app.kubernetes.io/part-of", s.groups[0].as_str());
    }
    for g in &s.groups {
        if is_label_value(g) {
            labels.push(&format!("group.svc-any/{g}"), "true");
        } else {
            notes.lost(&s.name, "groups", format!("`{g}` cannot be a label name"));
        }
    }
    labels
}

pub(super) fn selector(s: &Service, unit: &Unit) -> MapBuilder {
    let mut sel = map().put("app.kubernetes.io/name", s.name.as_str());
    if let Some(i) = unit.instance.as_ref().filter(|i| is_label_value(i)) {
        sel.push("svc-any/instance", i.as_str());
    }
    sel
}

pub(super) fn resources(s: &Service) -> Option<Node> {
    let r = export_of(s).resources;
    let amounts = |a: &crate::model::export::Amounts| {
        let m = map()
            .put_opt("cpu", a.cpu.as_deref())
            .put_opt("memory", a.memory.as_deref());
        (!m.is_empty()).then(|| m.node())
    };
    let m = map()
        .put_opt("requests", amounts(&r.requests))
        .put_opt("limits", amounts(&r.limits));
    (!m.is_empty()).then(|| m.node())
}
