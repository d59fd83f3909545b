//! Every object of one service: the notes on how its keys map to Kubernetes, then for each of
//! its workloads the ConfigMap of its `env_file`, the workload itself (pod template, container,
//! probes, stop signal) and the Service for its ports.

use std::collections::BTreeMap;

use anyhow::Result;

use super::dependencies::waits;
use super::expansion::{k8s_value, INSTANCE_VAR, POD_INDEX_LABEL};
use super::object_fields::{handler, labels, numeric_id, resources, selector};
use super::workloads::{check_object_name, units, Kind};
use crate::export::yaml::{map, Node};
use crate::export::{
    common_losses, export_of, image, is_loopback, probe, probe_port, read_env_file, secs_up, Notes,
    Probe,
};
use crate::model::error::bad;
use crate::model::signal::Signal;
use crate::model::spec::{self, Restart, Service};

pub(super) struct Ctx<'a> {
    pub(super) project: &'a BTreeMap<String, Service>,
    pub(super) exported: &'a [&'a Service],
}

/// Every object for one service.
pub(super) fn service_objects(s: &Service, ctx: &Ctx, notes: &mut Notes) -> Result<Vec<Node>> {
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
