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
//!
//! Where each part lives: `workloads` decides which workloads a service becomes (Deployment,
//! StatefulSet or Job, one or one per instance); `objects` builds every object of one service
//! and says how each key was mapped; `object_fields` holds the pieces those objects share
//! (labels, selector, probe handler, resources, numeric ids); `dependencies` turns `requires`
//! and `after` into init containers that wait; `expansion` writes values so that the kubelet's
//! `$` expansion hands the process exactly what the definition says.

mod dependencies;
mod expansion;
mod object_fields;
mod objects;
mod workloads;

use std::collections::BTreeMap;

use anyhow::Result;

pub use self::expansion::{k8s_value, INSTANCE_VAR, POD_INDEX_LABEL};
use self::objects::{service_objects, Ctx};
use super::yaml;
use super::{Notes, Output};
use crate::model::spec::Service;

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
