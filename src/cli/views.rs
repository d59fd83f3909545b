//! The verbs that only show: `render` (every file install would write), `show` (the
//! definition as svc-any reads it) and `list`, with their `--json` documents.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::backends::Backend;
use crate::engine;
use crate::model::spec::{self, Level, Service};
use crate::model::status;
use crate::system::host;
use crate::system::records;

use super::terminal::color_stdout;

/// Every file (and boot link) install would write, then the files that make each group native.
/// A definition read from a record whose `env` values the caller may not read renders with
/// `(hidden)` in their place, valid in each file's syntax: for eyes only, install refuses it.
pub(super) fn render(
    ctx: &host::Ctx,
    backend: &crate::backends::AnyBackend,
    services: &[Service],
) -> Result<()> {
    for (i, service) in services.iter().enumerate() {
        let plan = engine::render_located(ctx, backend, service)?;
        for (j, file) in plan.files.iter().enumerate() {
            if i + j > 0 {
                println!();
            }
            println!("### {} (mode {:o})", file.path.display(), file.mode);
            print!("{}", file.content);
        }
        for link in &plan.enable_links {
            println!(
                "### enable: {} -> {}",
                link.path.display(),
                link.target.display()
            );
        }
    }
    let all: Vec<&Service> = spec::dependency_order(&services.iter().collect::<Vec<_>>());
    let mut groups: Vec<&str> = all
        .iter()
        .flat_map(|s| s.groups.iter().map(String::as_str))
        .collect();
    groups.sort_unstable();
    groups.dedup();
    for group in groups {
        let members: Vec<&Service> = all
            .iter()
            .copied()
            .filter(|s| s.groups.iter().any(|g| g == group))
            .collect();
        for file in backend.render_group(ctx, group, &members)? {
            println!();
            println!("### {} (mode {:o})", file.path.display(), file.mode);
            print!("{}", file.content);
        }
    }
    if services.iter().any(|s| s.env_hidden) {
        ctx.warn(records::HIDDEN_NOTE);
    }
    Ok(())
}

/// `show NAME`: what the record says svc-any installed, and what the manager says now. Exits
/// as `status` does.
pub(super) fn show(
    ctx: &host::Ctx,
    backend: &crate::backends::AnyBackend,
    name: &str,
    json: bool,
) -> Result<i32> {
    let records = engine::installed(ctx, &[name.to_string()])?;
    let statuses = engine::status(ctx, backend, &[name.to_string()])?;
    if json {
        #[derive(Serialize)]
        struct Shown<'a> {
            services: Vec<ShownService<'a>>,
        }
        #[derive(Serialize)]
        struct ShownService<'a> {
            name: &'a str,
            backend: &'a str,
            enabled: bool,
            files: &'a [PathBuf],
            boot_links: &'a [crate::dialect::render::LinkSpec],
            definition: &'a Service,
            status: Vec<&'a status::ServiceStatus>,
        }
        let doc = Versioned {
            schema: status::JSON_SCHEMA,
            body: Shown {
                services: records
                    .iter()
                    .map(|r| ShownService {
                        name: &r.service.name,
                        backend: &r.backend,
                        enabled: r.enabled,
                        files: &r.files,
                        boot_links: &r.enable_links,
                        definition: &r.service,
                        status: statuses
                            .iter()
                            .filter(|s| s.name == r.service.name)
                            .collect(),
                    })
                    .collect(),
            },
        };
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        for r in &records {
            println!(
                "{}: installed for {} ({} level), {} at boot",
                r.service.name,
                r.backend,
                match r.service.level {
                    Level::System => "system",
                    Level::User => "user",
                },
                if r.enabled { "enabled" } else { "disabled" }
            );
            if let Some(src) = &r.service.source {
                println!("  from {}", src.display());
            }
            println!("files:");
            for f in &r.files {
                println!("  {}", f.display());
            }
            for l in &r.enable_links {
                println!(
                    "  {} -> {} (boot link)",
                    l.path.display(),
                    l.target.display()
                );
            }
            println!("definition:");
            // TOML, as definitions are written; JSON where a value has no TOML form.
            let text = toml::to_string(&r.service)
                .or_else(|_| serde_json::to_string_pretty(&r.service))?;
            for line in text.lines() {
                println!("{}", format!("  {line}").trim_end());
            }
        }
        println!("manager says:");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        for line in status::to_table(&statuses, now, color_stdout()).lines() {
            println!("  {line}");
        }
    }
    if records.iter().any(|r| r.service.env_hidden) {
        ctx.warn(records::HIDDEN_NOTE);
    }
    Ok(status::exit_code(&statuses))
}

/// A `--json` document: the schema version beside the fields of `body`.
#[derive(Serialize)]
pub(super) struct Versioned<T: Serialize> {
    pub(super) schema: u32,
    #[serde(flatten)]
    pub(super) body: T,
}

/// `list --json`: `{"schema": 1, "services": [...]}`.
#[derive(Serialize)]
pub(super) struct ListOutput {
    pub(super) services: Vec<ListEntry>,
}

/// One service svc-any manages here, from its record, or from a file that carries svc-any's
/// marker when the record was lost by hand (`recorded` false, the other fields null).
#[derive(Serialize)]
pub(super) struct ListEntry {
    pub(super) name: String,
    pub(super) backend: String,
    level: Option<Level>,
    pub(super) enabled: Option<bool>,
    instances: Option<Vec<String>>,
    files: Option<Vec<PathBuf>>,
    recorded: bool,
}

pub(super) fn list(
    ctx: &host::Ctx,
    backend: &crate::backends::AnyBackend,
) -> Result<Vec<ListEntry>> {
    let records = records::all(ctx)?;
    let mut names: Vec<String> = records.iter().map(|r| r.service.name.clone()).collect();
    for found in backend.list(ctx)? {
        if !names.contains(&found) {
            names.push(found);
        }
    }
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| {
            let record = records.iter().find(|r| r.service.name == name);
            ListEntry {
                backend: record
                    .map_or(backend.name(), |r| r.backend.as_str())
                    .to_string(),
                level: record.map(|r| r.service.level),
                enabled: record.map(|r| r.enabled),
                instances: record.map(|r| r.service.instances.clone()),
                files: record.map(|r| r.files.clone()),
                recorded: record.is_some(),
                name,
            }
        })
        .collect())
}
