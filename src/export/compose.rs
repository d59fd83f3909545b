//! A compose file: one compose service per svc-any service (per instance).
//!
//! | svc-any | compose |
//! |---|---|
//! | `exec` | `command` (a list: no shell) |
//! | `env`, `env_file` | `environment` (the file read at export; `env` wins, as on every backend) |
//! | `user`, `group` | `user: "USER[:GROUP]"` |
//! | `working_dir` | `working_dir` |
//! | `health` | `healthcheck` (tcp: `nc -z`, http: `wget`, exec: the program), `start_period` = `health.timeout` |
//! | `restart` | `restart: "no" / "on-failure[:restart_limit]" / "always"` |
//! | `requires` / `after` | `depends_on` with `condition: service_healthy` (`service_started` without a health check); `after` is `required: false` |
//! | `stop_signal`, `stop_timeout` | `stop_signal`, `stop_grace_period` |
//! | `limits` | `ulimits` |
//! | `instances` | one service `NAME-INSTANCE` each, `{instance}` replaced |
//! | `[groups]` | labels `group.svc-any/GROUP: "true"` |
//!
//! Compose interpolates `$VAR` and `${VAR}` in every value of the file: every `$` svc-any
//! writes is `$$`, which compose turns back into one `$`.

use std::collections::BTreeMap;

use anyhow::Result;

use super::yaml::{self, map, Node};
use super::{
    common_losses, export_of, go_duration, image, probe, read_env_file, Notes, Output, Probe,
};
use crate::model::error::bad;
use crate::model::export::MEMORY_UNITS;
use crate::model::spec::{self, Limit, Restart, Service};

/// A value as compose must see it to hand the process exactly `value`: `$` → `$$`.
pub fn compose_value(value: &str) -> String {
    value.replace('$', "$$")
}

fn cv(value: &str) -> Node {
    Node::Str(compose_value(value))
}

fn cvs<'a>(values: impl IntoIterator<Item = &'a String>) -> Node {
    Node::Seq(values.into_iter().map(|v| cv(v)).collect())
}

/// The compose service names of a service: `NAME`, or `NAME-INSTANCE` per instance.
fn names(s: &Service) -> Vec<(String, Option<&str>)> {
    s.instance_names()
        .into_iter()
        .map(|i| match i {
            Some(i) => (format!("{}-{i}", s.name), Some(i)),
            None => (s.name.clone(), None),
        })
        .collect()
}

/// Kubernetes cpu (`"500m"`, `"2"`) as compose's `cpus` (`"0.5"`, `"2"`).
fn cpus(q: &str) -> String {
    match q.strip_suffix('m') {
        Some(milli) => {
            let m: u64 = milli.parse().unwrap_or(0);
            let frac = format!("{:03}", m % 1000);
            let frac = frac.trim_end_matches('0');
            match frac.is_empty() {
                true => (m / 1000).to_string(),
                false => format!("{}.{frac}", m / 1000),
            }
        }
        None => q.to_string(),
    }
}

/// Kubernetes memory (`"256Mi"`) as bytes.
fn bytes(q: &str) -> i64 {
    for (unit, factor) in MEMORY_UNITS {
        if let Some(n) = q.strip_suffix(unit) {
            return n
                .parse::<u64>()
                .unwrap_or(0)
                .saturating_mul(*factor)
                .min(i64::MAX as u64) as i64;
        }
    }
    q.parse::<i64>().unwrap_or(0)
}

fn healthcheck(p: &Probe) -> Node {
    let test: Vec<String> = match p {
        Probe::Tcp { host, port } => ["CMD", "nc", "-z", "-w", "2", host, &port.to_string()]
            .iter()
            .map(|s| s.to_string())
            .collect(),
        Probe::Http { host, port, path } => {
            let url = format!("http://{host}:{port}{path}");
            ["CMD", "wget", "-q", "-T", "2", "-O", "/dev/null", &url]
                .iter()
                .map(|s| s.to_string())
                .collect()
        }
        Probe::Exec(argv) => std::iter::once("CMD".to_string())
            .chain(argv.iter().cloned())
            .collect(),
    };
    Node::Seq(test.iter().map(|t| cv(t)).collect())
}

fn one_service(
    s: &Service,
    project: &BTreeMap<String, Service>,
    exported: &[&Service],
    notes: &mut Notes,
) -> Result<Vec<(String, Node)>> {
    let ex = export_of(s);
    let image = image(s)?.to_string();
    for (name, _) in names(s) {
        let ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return Err(spec::place_in_definition(
                s,
                bad(format!("`{name}` cannot name a compose service"))
                    .key("name")
                    .hint("compose names are letters, digits, _ . and -: rename the service"),
            )
            .into());
        }
    }
    common_losses(s, notes);
    if ex.namespace.is_some() {
        notes.lost(&s.name, "export.namespace", "compose has no namespaces");
    }
    if ex.liveness {
        notes.lost(
            &s.name,
            "export.liveness",
            "compose restarts nothing for an unhealthy container; the healthcheck only reports",
        );
    }
    if !ex.ports.is_empty() {
        notes.map(
            &s.name,
            "export.ports → expose (reachable by the other services, not published on the host)",
        );
    }
    if s.instances.len() > 1 {
        notes.map(
            &s.name,
            "instances → one compose service NAME-INSTANCE each, {instance} replaced",
        );
    }
    if s.restart == Restart::OnFailure && s.restart_limit > 0 {
        notes.map(
            &s.name,
            format!(
                "restart_limit {} → on-failure:{}: compose counts every restart, not those within restart_limit_interval",
                s.restart_limit, s.restart_limit
            ),
        );
    }
    let health = probe(s);
    if let Some(p) = &health {
        let tool = match p {
            Probe::Tcp { .. } => "nc",
            Probe::Http { .. } => "wget",
            Probe::Exec(_) => "the check's own program",
        };
        notes.map(
            &s.name,
            format!("health → healthcheck run inside the container (the image needs {tool})"),
        );
    }

    // depends_on: every instance of every dependency.
    let mut depends = map();
    let deps = s
        .requires
        .iter()
        .map(|d| (d.as_written(), true))
        .chain(s.after.iter().map(|d| (d.as_written(), false)));
    for (dep_name, required) in deps {
        let key = if required { "requires" } else { "after" };
        let Some(dep) = project.get(dep_name.as_str()) else {
            notes.lost(
                &s.name,
                key,
                format!("`{dep_name}` is not a service of this file"),
            );
            continue;
        };
        if !exported.iter().any(|e| e.name == *dep_name) {
            notes.lost(
                &s.name,
                key,
                format!("`{dep_name}` is not exported with it; export them together"),
            );
            continue;
        }
        let condition = match dep.health.is_some() {
            true => "service_healthy",
            false => "service_started",
        };
        for (name, _) in names(dep) {
            let mut d = map().put("condition", condition);
            if !required {
                d.push("required", false);
            }
            depends.push(&name, d);
        }
    }

    let mut out = Vec::new();
    for (name, instance) in names(s) {
        let u = s.for_instance(instance);
        // The file first: `env` wins over `env_file` on every backend.
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        if let Some(path) = &u.env_file {
            env.extend(read_env_file(s, path)?);
        }
        env.extend(u.env.clone());
        let mut svc = map()
            .put("image", cv(&image))
            .put("command", cvs(&u.exec))
            .put_opt("working_dir", u.working_dir.as_deref().map(cv));
        let user = match (&u.user, &u.group) {
            (Some(user), Some(group)) => Some(format!("{user}:{group}")),
            (Some(user), None) => Some(user.clone()),
            (None, Some(_)) => {
                notes.lost(&s.name, "group", "compose sets a group only with a user");
                None
            }
            (None, None) => None,
        };
        svc = svc.put_opt("user", user.as_deref().map(cv));
        if !env.is_empty() {
            let mut e = map();
            for (k, v) in &env {
                e.push(k, cv(v));
            }
            svc.push("environment", e);
        }
        if !ex.ports.is_empty() {
            svc.push(
                "expose",
                Node::Seq(ex.ports.iter().map(|p| Node::Str(p.to_string())).collect()),
            );
        }
        if let (Some(p), Some(h)) = (&health, &s.health) {
            svc.push(
                "healthcheck",
                map()
                    .put("test", healthcheck(p))
                    .put("interval", "2s")
                    .put("timeout", "2s")
                    .put("retries", 3i64)
                    .put("start_period", go_duration(h.timeout)),
            );
        }
        let restart = match s.restart {
            Restart::No => "no".to_string(),
            Restart::Always => "always".to_string(),
            Restart::OnFailure if s.restart_limit > 0 => format!("on-failure:{}", s.restart_limit),
            Restart::OnFailure => "on-failure".to_string(),
            Restart::OnAbnormal | Restart::OnAbort => {
                notes.lost(
                    &s.name,
                    "restart",
                    "compose has no restart on signals only: on-failure restarts any unclean exit too",
                );
                "on-failure".to_string()
            }
        };
        svc.push("restart", restart);
        if !depends.is_empty() {
            svc.push("depends_on", depends.clone());
        }
        svc.push("stop_signal", s.stop_signal.sig_name());
        svc.push("stop_grace_period", go_duration(s.stop_timeout));
        let mut ulimits = map();
        for (key, limit) in [("nofile", s.limits.nofile), ("nproc", s.limits.nproc)] {
            if let Some(l) = limit {
                let n = match l {
                    Limit::Value(n) => n.min(i64::MAX as u64) as i64,
                    Limit::Infinity => -1,
                };
                ulimits.push(key, map().put("soft", n).put("hard", n));
            }
        }
        if !ulimits.is_empty() {
            svc.push("ulimits", ulimits);
        }
        let mut labels = map()
            .put("app.kubernetes.io/managed-by", "svc-any")
            .put("svc-any/service", s.name.as_str())
            .put("svc-any/description", cv(&s.description));
        for g in &s.groups {
            labels.push(&format!("group.svc-any/{g}"), "true");
        }
        svc.push("labels", labels);
        let r = &ex.resources;
        let amounts = |a: &crate::model::export::Amounts| {
            let m = map()
                .put_opt("cpus", a.cpu.as_deref().map(cpus))
                .put_opt("memory", a.memory.as_deref().map(bytes));
            (!m.is_empty()).then(|| m.node())
        };
        let res = map()
            .put_opt("limits", amounts(&r.limits))
            .put_opt("reservations", amounts(&r.requests));
        let mut deploy = map().put_opt("replicas", ex.replicas);
        if !res.is_empty() {
            deploy.push("resources", res);
        }
        if !deploy.is_empty() {
            svc.push("deploy", deploy);
        }
        out.push((name, svc.node()));
    }
    Ok(out)
}

pub(super) fn export(services: &[&Service], project: &BTreeMap<String, Service>) -> Result<Output> {
    let mut notes = Notes::default();
    let mut all = Vec::new();
    for s in services {
        all.extend(one_service(s, project, services, &mut notes)?);
    }
    let doc = map().put("services", Node::Map(all)).node();
    notes.dedup();
    let mut text = notes.header("A compose file", services);
    text.push_str(&yaml::to_string(&[doc]));
    Ok(Output {
        file_name: "compose.yaml",
        text,
        not_carried: notes.not_carried,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_convert() {
        assert_eq!(cpus("500m"), "0.5");
        assert_eq!(cpus("1500m"), "1.5");
        assert_eq!(cpus("2000m"), "2");
        assert_eq!(cpus("0.25"), "0.25");
        assert_eq!(bytes("256Mi"), 256 << 20);
        assert_eq!(bytes("1G"), 1_000_000_000);
        assert_eq!(bytes("512"), 512);
    }
}
