//! `svc-any export kubernetes|compose`: the same definition, for container orchestrators.
//!
//! Pure like `render`: it reads the definition (and an `env_file`, which a container cannot read
//! from this host) and returns text; it writes nothing and asks no manager. What a target
//! cannot carry is listed, never dropped in silence: in a comment at the top of the output and
//! in [`Output::not_carried`], which the command line prints on stderr.
//!
//! This module sits at the engine's level: it imports the model, the dialects and the system
//! layer, nothing above.

pub mod compose;
pub mod kubernetes;
pub mod yaml;

use std::collections::BTreeMap;

use anyhow::Result;

use crate::model::error::{bad, BadInput};
use crate::model::export::DEFAULT_WAIT_IMAGE;
use crate::model::spec::{self, defaults, HealthCheck, Service};

/// What to export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Kubernetes,
    Compose,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Kubernetes => "kubernetes",
            Format::Compose => "compose",
        }
    }
}

/// One exported file.
#[derive(Debug, Clone)]
pub struct Output {
    /// `kubernetes.yaml` or `compose.yaml` (what `-o DIR` writes).
    pub file_name: &'static str,
    pub text: String,
    /// `service: key: why`, one per thing the target cannot carry.
    pub not_carried: Vec<String>,
}

/// Exports `selected` (services of one file, with `project` the whole file, so that a
/// dependency outside the selection can still be waited for).
pub fn export(
    format: Format,
    selected: &[Service],
    project: &BTreeMap<String, Service>,
) -> Result<Output> {
    let refs: Vec<&Service> = selected.iter().collect();
    let ordered = spec::dependency_order(&refs);
    for s in &ordered {
        image(s)?;
    }
    match format {
        Format::Kubernetes => kubernetes::export(&ordered, project),
        Format::Compose => compose::export(&ordered, project),
    }
}

/// The mappings a file's header explains, and what it could not carry.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    pub mapped: Vec<String>,
    pub not_carried: Vec<String>,
}

impl Notes {
    pub fn map(&mut self, service: &str, text: impl AsRef<str>) {
        self.mapped
            .push(format!("{service}: {}", yaml::comment_item(text.as_ref())));
    }

    pub fn lost(&mut self, service: &str, key: &str, why: impl AsRef<str>) {
        self.not_carried.push(format!(
            "{service}: {key}: {}",
            yaml::comment_item(why.as_ref())
        ));
    }

    /// Drops repeats (a note made once per instance), keeping the first of each.
    pub fn dedup(&mut self) {
        for list in [&mut self.mapped, &mut self.not_carried] {
            let mut seen = std::collections::BTreeSet::new();
            list.retain(|m| seen.insert(m.clone()));
        }
    }

    /// The header comment: what this is, how keys were mapped, what was not carried.
    pub fn header(&self, title: &str, services: &[&Service]) -> String {
        let mut lines = vec![
            format!("{title}, written by `svc-any export`: regenerate it rather than edit it."),
            format!(
                "services: {}",
                services
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ];
        if let Some(src) = services.iter().find_map(|s| s.source.as_ref()) {
            lines.push(format!(
                "from: {}",
                yaml::comment_item(&src.display().to_string())
            ));
        }
        if !self.mapped.is_empty() {
            lines.push(String::new());
            lines.push("How svc-any's keys were mapped:".into());
            lines.extend(self.mapped.iter().map(|m| format!("  - {m}")));
        }
        lines.push(String::new());
        if self.not_carried.is_empty() {
            lines.push("Not carried: nothing.".into());
        } else {
            lines.push("Not carried (the target has no way to say these):".into());
            lines.extend(self.not_carried.iter().map(|m| format!("  - {m}")));
        }
        yaml::comment(&lines)
    }
}

/// The image, or bad input naming the service and the key.
pub(crate) fn image(service: &Service) -> Result<&str, BadInput> {
    match service.export.as_ref().and_then(|e| e.image.as_deref()) {
        Some(image) => Ok(image),
        None => {
            let table =
                match service.source.as_ref().is_some_and(|p| {
                    std::fs::read_to_string(p).is_ok_and(|t| t.contains("[services."))
                }) {
                    true => format!("[services.{}.export]", service.name),
                    false => "[export]".to_string(),
                };
            Err(spec::place_in_definition(
                service,
                bad(format!(
                    "service `{}` has no container image to export",
                    service.name
                ))
                .key("export.image")
                .hint(format!(
                    "add {table} with image = \"registry.example.com/{}:TAG\"",
                    service.name
                )),
            ))
        }
    }
}

pub(crate) fn wait_image(service: &Service) -> &str {
    service
        .export
        .as_ref()
        .and_then(|e| e.wait_image.as_deref())
        .unwrap_or(DEFAULT_WAIT_IMAGE)
}

pub(crate) fn export_of(service: &Service) -> crate::model::export::Export {
    service.export.clone().unwrap_or_default()
}

/// Where a health check connects: what a probe, a healthcheck or a waiting dependant uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Probe {
    Tcp {
        host: String,
        port: u16,
    },
    Http {
        host: String,
        port: u16,
        path: String,
    },
    Exec(Vec<String>),
}

pub(crate) fn probe(service: &Service) -> Option<Probe> {
    let health = service.health.as_ref()?;
    Some(match &health.check {
        HealthCheck::Tcp(t) => {
            let (host, port) = crate::model::spec::parse_tcp_target(t).ok()?;
            Probe::Tcp { host, port }
        }
        HealthCheck::Http(u) => {
            let (host, port, path) = crate::model::spec::parse_http_url(u).ok()?;
            Probe::Http { host, port, path }
        }
        HealthCheck::Exec(argv) => Probe::Exec(argv.clone()),
    })
}

/// The port a probe connects to, if any.
pub(crate) fn probe_port(service: &Service) -> Option<u16> {
    match probe(service)? {
        Probe::Tcp { port, .. } | Probe::Http { port, .. } => Some(port),
        Probe::Exec(_) => None,
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost" || host == "::1" || host.starts_with("127.")
}

/// Whole seconds, rounded up (a probe's or a grace period's unit), at least `min`.
pub(crate) fn secs_up(d: std::time::Duration, min: u64) -> i64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.max(min).min(i32::MAX as u64) as i64
}

/// A compose/Go duration: `10s`, or `1500ms` when not whole seconds.
pub(crate) fn go_duration(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// `KEY=VALUE` lines of an env_file, read as svc-any's own supervisor reads them (systemd's
/// EnvironmentFile= reading, minus its escapes): `#` and `;` comments, an optional `export `,
/// optional quotes around the value. A container cannot read this host's file, so export
/// carries its values.
pub(crate) fn read_env_file(service: &Service, path: &str) -> Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        spec::place_in_definition(
            service,
            bad(format!(
                "cannot read env_file {} to carry its values: {e}",
                path.escape_debug()
            ))
            .key("env_file")
            .hint(
                "export runs where the file is readable (a container cannot read this host's files), or drop env_file and list the values under env",
            ),
        )
    })?;
    Ok(crate::dialect::env_file::parse(&text))
}

/// The keys both targets lose the same way, when the definition sets them.
pub(crate) fn common_losses(s: &Service, notes: &mut Notes) {
    if let Some(log) = &s.log {
        notes.lost(
            &s.name,
            "log",
            format!(
                "log.file {}{} (and its rotation): the container runtime keeps stdout and stderr",
                log.file,
                log.stderr
                    .as_ref()
                    .map_or(String::new(), |e| format!(", log.stderr {e}"))
            ),
        );
    }
    if let Some(sig) = s.reload_signal {
        notes.lost(
            &s.name,
            "reload_signal",
            format!(
                "{}: no reload verb; send it with `kill` in the container",
                sig.name()
            ),
        );
    }
    if !s.success_exit_codes.is_empty() {
        notes.lost(
            &s.name,
            "success_exit_codes",
            "every exit but 0 counts as a failure to the container runtime",
        );
    }
    if s.restart_delay != defaults::RESTART_DELAY
        || s.restart_max_delay != defaults::RESTART_MAX_DELAY.max(s.restart_delay)
    {
        notes.lost(
            &s.name,
            "restart_delay",
            "the runtime's own restart backoff applies",
        );
    }
}

#[cfg(test)]
mod tests;
