//! Kubernetes manifests: a workload per service (Deployment, StatefulSet or Job), a Service for
//! its ports, a ConfigMap for its env_file, all in one YAML stream.
//!
//! | svc-any | Kubernetes |
//! |---|---|
//! | `restart = "always"` | Deployment (`export.replicas`), or a StatefulSet for `instances` |
//! | `restart = "on-failure"` / `"no"` | Job, `restartPolicy: OnFailure` / `Never` (a Deployment always restarts) |
//! | `instances` `"K".."K+n-1"` | StatefulSet, `ordinals.start: K`: pod `NAME-I` (its hostname) runs instance `I`; `{instance}` → `$(SVC_ANY_INSTANCE)`, from the pod's `apps.kubernetes.io/pod-index` label |
//! | other `instances` | one workload `NAME-I` per instance, `{instance}` replaced at export |
//! | `exec` | `command`, every `$` that Kubernetes would expand (`$(` and `$$`) doubled |
//! | `env`, `env_file` | `env`; a ConfigMap of the file's values (read at export) via `envFrom` (`env` wins) |
//! | `user`, `group` | `securityContext.runAsUser` / `runAsGroup`, numeric |
//! | `health` | `startupProbe` (for `health.timeout`), `readinessProbe`, `livenessProbe` with `export.liveness` |
//! | `stop_timeout`, `stop_signal` | `terminationGracePeriodSeconds`; a non-TERM signal: a `preStop` that sends it |
//! | `requires` (and `after`) | an init container that waits for the dependency's health target |
//! | `[groups]` | labels `group.svc-any/GROUP: "true"` (and `app.kubernetes.io/part-of`) |

use std::collections::BTreeMap;

use anyhow::Result;

use super::yaml::{self, map, MapBuilder, Node};
use super::{
    common_losses, export_of, image, is_loopback, probe, probe_port, read_env_file, secs_up,
    wait_image, Notes, Output, Probe,
};
use crate::model::error::bad;
use crate::model::export::is_dns_label;
use crate::model::signal::Signal;
use crate::model::spec::{self, Restart, Service, INSTANCE_PLACEHOLDER};

/// The environment variable that carries a StatefulSet pod's ordinal, the instance name.
pub const INSTANCE_VAR: &str = "SVC_ANY_INSTANCE";
/// The label Kubernetes (1.28+) sets on a StatefulSet's pods to their ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// A string as Kubernetes must see it in `command`, `args` or an env `value` to hand the
/// process exactly `value`: the kubelet turns `$$` into `$` and expands `$(VAR)`, so every `$`
/// followed by `$` or `(` is doubled. With `instance_ref`, `{instance}` becomes
/// `$(SVC_ANY_INSTANCE)`, expanded by the kubelet.
pub fn k8s_value(value: &str, instance_ref: bool) -> String {
    let parts: Vec<&str> = match instance_ref {
        true => value.split(INSTANCE_PLACEHOLDER).collect(),
        false => vec![value],
    };
    let reference = format!("$({INSTANCE_VAR})");
    let mut out = String::with_capacity(value.len());
    for (i, part) in parts.iter().enumerate() {
        let more = i + 1 < parts.len();
        let mut chars = part.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '$' {
                let next = chars.peek().copied().or(more.then_some('$'));
                if matches!(next, Some('$' | '(')) {
                    out.push('$');
                }
            }
        }
        if more {
            out.push_str(&reference);
        }
    }
    out
}

/// How a service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Deployment,
    StatefulSet { start: u32, count: u32 },
    Job,
}

/// One workload: a service, or one instance of it.
struct Unit {
    /// The object name (`NAME` or `NAME-INSTANCE`).
    name: String,
    /// The definition it runs: for one instance, with `{instance}` replaced.
    service: Service,
    instance: Option<String>,
    kind: Kind,
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

fn units(s: &Service) -> Vec<Unit> {
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
fn check_object_name(s: &Service, name: &str) -> Result<()> {
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

/// A user or group as the numeric id Kubernetes needs.
fn numeric_id(s: &Service, key: &str, name: &str, notes: &mut Notes) -> Result<i64> {
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
fn handler(p: &Probe) -> MapBuilder {
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
fn waits(
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

fn labels(s: &Service, unit: &Unit, notes: &mut Notes) -> MapBuilder {
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

fn selector(s: &Service, unit: &Unit) -> MapBuilder {
    let mut sel = map().put("app.kubernetes.io/name", s.name.as_str());
    if let Some(i) = unit.instance.as_ref().filter(|i| is_label_value(i)) {
        sel.push("svc-any/instance", i.as_str());
    }
    sel
}

fn resources(s: &Service) -> Option<Node> {
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

struct Ctx<'a> {
    project: &'a BTreeMap<String, Service>,
    exported: &'a [&'a Service],
}

/// Every object for one service.
fn service_objects(s: &Service, ctx: &Ctx, notes: &mut Notes) -> Result<Vec<Node>> {
    let ex = export_of(s);
    let image = image(s)?.to_string();
    let namespace = ex.namespace.clone();
    let units = units(s);
    for u in &units {
        check_object_name(s, &u.name)?;
    }
    let kind = units[0].kind;
    match kind {
        Kind::Deployment => notes.map(
            &s.name,
            format!(
                "restart \"always\" → Deployment, {} replica(s)",
                ex.replicas.unwrap_or(1)
            ),
        ),
        Kind::StatefulSet { start, count } => {
            if ex.replicas.is_some_and(|r| r != count) {
                return Err(spec::place_in_definition(
                    s,
                    bad("export.replicas and instances both say how many pods run")
                        .key("export.replicas")
                        .hint("drop export.replicas: the instances are the replicas"),
                )
                .into());
            }
            notes.map(
                &s.name,
                format!(
                    "instances {}..{} → StatefulSet {} with ordinals from {start}: pod {}-I (also its hostname) runs instance I; {{instance}} → $({INSTANCE_VAR}), the pod's {POD_INDEX_LABEL} label (Kubernetes 1.28+; ordinals.start needs 1.27+)",
                    start,
                    start + count - 1,
                    s.name,
                    s.name
                ),
            )
        }
        Kind::Job => {
            let policy = match s.restart {
                Restart::No => "Never",
                _ => "OnFailure",
            };
            notes.map(
                &s.name,
                format!(
                    "restart \"{}\" → Job with restartPolicy {policy} (a Deployment restarts every exit)",
                    s.restart.as_str()
                ),
            );
            if ex.replicas.is_some() {
                notes.lost(&s.name, "export.replicas", "a Job runs one pod");
            }
        }
    }
    if !s.instances.is_empty() && !matches!(kind, Kind::StatefulSet { .. }) {
        notes.map(
            &s.name,
            "instances → one workload NAME-INSTANCE each, {instance} replaced at export (a StatefulSet needs consecutive numbers as instance names and {instance} only in exec and env)",
        );
    }
    common_losses(s, notes);
    if s.limits.nofile.is_some() || s.limits.nproc.is_some() {
        notes.lost(
            &s.name,
            "limits",
            "Kubernetes sets no per-container nofile or nproc limit (the node's runtime decides)",
        );
    }
    if s.restart_limit != spec::defaults::RESTART_LIMIT && kind != Kind::Job {
        notes.lost(
            &s.name,
            "restart_limit",
            "a Deployment's pods restart without end (with back-off)",
        );
    }
    let run_as_user = match &s.user {
        Some(u) => Some(numeric_id(s, "user", u, notes)?),
        None => None,
    };
    let run_as_group = match &s.group {
        Some(g) => Some(numeric_id(s, "group", g, notes)?),
        None => None,
    };
    let probe_ports: Vec<u16> = probe_port(s).into_iter().collect();
    let mut ports = ex.ports.clone();
    for p in probe_ports {
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    if let Some(Probe::Tcp { host, .. } | Probe::Http { host, .. }) = probe(s) {
        if is_loopback(&host) {
            notes.map(
                &s.name,
                format!("health on {host} → a probe of the pod's own address: the program must listen there (0.0.0.0), not on loopback only"),
            );
        }
    }
    let init = waits(s, ctx.project, ctx.exported, notes);

    let mut objects = Vec::new();
    for unit in &units {
        let u = &unit.service;
        let stateful = matches!(unit.kind, Kind::StatefulSet { .. });
        let meta = |name: &str, notes: &mut Notes| {
            map()
                .put("name", name)
                .put_opt("namespace", namespace.as_deref())
                .put("labels", labels(s, unit, notes))
                .put(
                    "annotations",
                    map().put("svc-any/description", s.description.as_str()),
                )
        };

        // env_file → ConfigMap, read by `envFrom`.
        if let Some(path) = &u.env_file {
            let file_env = read_env_file(s, path)?;
            let cm_name = format!("{}-env", unit.name);
            let mut data = map();
            for (k, v) in &file_env {
                data.push(k, v.as_str());
            }
            objects.push(
                map()
                    .put("apiVersion", "v1")
                    .put("kind", "ConfigMap")
                    .put("metadata", meta(&cm_name, notes))
                    .put("data", data)
                    .node(),
            );
        }
        let mut env = Vec::new();
        if stateful {
            env.push(
                map()
                    .put("name", INSTANCE_VAR)
                    .put(
                        "valueFrom",
                        map().put(
                            "fieldRef",
                            map().put("fieldPath", format!("metadata.labels['{POD_INDEX_LABEL}']")),
                        ),
                    )
                    .node(),
            );
        }
        // Kubernetes lets `env` win over `envFrom`, as svc-any lets `env` win over `env_file`.
        for (k, v) in &u.env {
            env.push(
                map()
                    .put("name", k.as_str())
                    .put("value", k8s_value(v, stateful))
                    .node(),
            );
        }
        let mut container = map()
            .put("name", s.name.as_str())
            .put("image", image.as_str())
            .put(
                "command",
                Node::Seq(
                    u.exec
                        .iter()
                        .map(|a| Node::Str(k8s_value(a, stateful)))
                        .collect(),
                ),
            )
            .put_opt("workingDir", u.working_dir.as_deref());
        if !env.is_empty() {
            container.push("env", Node::Seq(env));
        }
        if u.env_file.is_some() {
            container.push(
                "envFrom",
                Node::Seq(vec![map()
                    .put(
                        "configMapRef",
                        map().put("name", format!("{}-env", unit.name)),
                    )
                    .node()]),
            );
        }
        if !ports.is_empty() {
            container.push(
                "ports",
                Node::Seq(
                    ports
                        .iter()
                        .map(|p| {
                            map()
                                .put("name", format!("tcp-{p}"))
                                .put("containerPort", *p)
                                .put("protocol", "TCP")
                                .node()
                        })
                        .collect(),
                ),
            );
        }
        if run_as_user.is_some() || run_as_group.is_some() {
            container.push(
                "securityContext",
                map()
                    .put_opt("runAsUser", run_as_user)
                    .put_opt("runAsGroup", run_as_group),
            );
        }
        container = container.put_opt("resources", resources(s));
        if let (Some(p), Some(h)) = (probe(s), &s.health) {
            // svc-any's own checks give a program 2 s; the same for every kind of probe.
            let timeout: i64 = 2;
            container.push(
                "startupProbe",
                handler(&p)
                    .put("periodSeconds", 1i64)
                    .put("timeoutSeconds", timeout)
                    .put("failureThreshold", secs_up(h.timeout, 1)),
            );
            container.push(
                "readinessProbe",
                handler(&p)
                    .put("periodSeconds", 5i64)
                    .put("timeoutSeconds", timeout)
                    .put("failureThreshold", 3i64),
            );
            if ex.liveness {
                container.push(
                    "livenessProbe",
                    handler(&p)
                        .put("periodSeconds", 5i64)
                        .put("timeoutSeconds", timeout)
                        .put("failureThreshold", 3i64),
                );
            }
        } else if ex.liveness {
            notes.lost(
                &s.name,
                "export.liveness",
                "no [health] check to probe with",
            );
        }
        if s.stop_signal != Signal::TERM {
            let sig = s.stop_signal.name();
            container.push(
                "lifecycle",
                map().put(
                    "preStop",
                    map().put(
                        "exec",
                        map().put(
                            "command",
                            Node::strs([
                                "/bin/sh",
                                "-c",
                                &format!(
                                    "kill -{sig} 1; while kill -0 1 2>/dev/null; do sleep 1; done"
                                ),
                            ]),
                        ),
                    ),
                ),
            );
            notes.map(
                &s.name,
                format!("stop_signal {sig} → a preStop hook sends it to PID 1 and waits (the image needs /bin/sh and kill); Kubernetes then sends TERM as always"),
            );
        }

        let restart_policy = match unit.kind {
            Kind::Job if s.restart == Restart::No => "Never",
            Kind::Job => "OnFailure",
            _ => "Always",
        };
        let mut pod = map();
        if !init.is_empty() {
            pod.push("initContainers", Node::Seq(init.clone()));
        }
        pod.push("containers", Node::Seq(vec![container.node()]));
        pod.push("restartPolicy", restart_policy);
        pod.push("terminationGracePeriodSeconds", secs_up(s.stop_timeout, 0));
        let template = map()
            .put("metadata", map().put("labels", labels(s, unit, notes)))
            .put("spec", pod);

        let (api, kind_name, spec) = match unit.kind {
            Kind::Deployment => (
                "apps/v1",
                "Deployment",
                map()
                    .put("replicas", ex.replicas.unwrap_or(1))
                    .put("selector", map().put("matchLabels", selector(s, unit)))
                    .put("template", template),
            ),
            Kind::StatefulSet { start, count } => {
                let mut spec = map()
                    .put("serviceName", unit.name.as_str())
                    .put("replicas", count)
                    .put("podManagementPolicy", "Parallel");
                if start != 0 {
                    spec.push("ordinals", map().put("start", start));
                }
                (
                    "apps/v1",
                    "StatefulSet",
                    spec.put("selector", map().put("matchLabels", selector(s, unit)))
                        .put("template", template),
                )
            }
            Kind::Job => {
                let limit = match (s.restart, s.restart_limit) {
                    (Restart::No, _) => 0,
                    (_, 0) => i64::from(i32::MAX),
                    (_, n) => i64::from(n),
                };
                (
                    "batch/v1",
                    "Job",
                    map().put("backoffLimit", limit).put("template", template),
                )
            }
        };
        objects.push(
            map()
                .put("apiVersion", api)
                .put("kind", kind_name)
                .put("metadata", meta(&unit.name, notes))
                .put("spec", spec)
                .node(),
        );
        if !ports.is_empty() || stateful {
            let mut svc = map();
            if stateful {
                svc.push("clusterIP", "None");
            }
            svc.push("selector", selector(s, unit));
            let port_list: Vec<Node> = ports
                .iter()
                .map(|p| {
                    map()
                        .put("name", format!("tcp-{p}"))
                        .put("port", *p)
                        .put("targetPort", *p)
                        .put("protocol", "TCP")
                        .node()
                })
                .collect();
            if !port_list.is_empty() {
                svc.push("ports", Node::Seq(port_list));
            }
            objects.push(
                map()
                    .put("apiVersion", "v1")
                    .put("kind", "Service")
                    .put("metadata", meta(&unit.name, notes))
                    .put("spec", svc)
                    .node(),
            );
        }
    }
    Ok(objects)
}

pub(super) fn export(services: &[&Service], project: &BTreeMap<String, Service>) -> Result<Output> {
    let mut notes = Notes::default();
    let ctx = Ctx {
        project,
        exported: services,
    };
    let mut docs = Vec::new();
    for s in services {
        docs.extend(service_objects(s, &ctx, &mut notes)?);
    }
    notes.dedup();
    let mut text = notes.header("Kubernetes manifests", services);
    text.push_str(&yaml::to_string(&docs));
    Ok(Output {
        file_name: "kubernetes.yaml",
        text,
        not_carried: notes.not_carried,
    })
}
