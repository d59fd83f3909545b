//! `svc-any export kubernetes|compose [-f FILE] [NAME|GROUP...] [-o DIR]`: the definition as
//! a container orchestrator reads it. Pure like `render`: it needs no root, asks no manager and
//! prints to stdout unless `-o` names a directory.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::args::ExportTarget;
use crate::export::{self, Format};
use crate::model::error::bad;
use crate::model::spec::{self, Level, ParseOptions, Service, Source};

pub fn run(
    target: ExportTarget,
    names: &[String],
    file: Option<&Path>,
    output: Option<&Path>,
) -> Result<i32> {
    for name in names {
        spec::check_name(name).map_err(|m| bad(m).key("NAME"))?;
    }
    let file = definition_file(file, names.first().map(String::as_str))?;
    let text = std::fs::read_to_string(&file)
        .map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?;
    let src = Source {
        label: file.display().to_string(),
        text: &text,
        path: Some(std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone())),
    };
    // A container has no service manager levels, and its accounts are the image's: parse as
    // the system level would, without asking this host about users.
    let opts = ParseOptions {
        default_level: Level::System,
        forced_level: None,
        accounts: None,
    };
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "svc-any")
        .map(String::from);
    let fallback = match (names, &stem) {
        ([one], _) => Some(one.clone()),
        (_, stem) => stem.clone(),
    };
    let project = spec::parse(&src, fallback.as_deref(), &opts)?;
    let selected = select(&project, names, &file)?;
    let format = match target {
        ExportTarget::Kubernetes => Format::Kubernetes,
        ExportTarget::Compose => Format::Compose,
    };
    let out = export::export(format, &selected, &project.services)?;
    for line in &out.not_carried {
        eprintln!("svc-any: not carried to {}: {line}", format.name());
    }
    match output {
        None => print!("{}", out.text),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join(out.file_name);
            std::fs::write(&path, &out.text)
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("svc-any: wrote {}", path.display());
        }
    }
    Ok(0)
}

/// `-f FILE`, else `./NAME.toml`, `./svc-any.toml`, `/etc/svc-any/NAME.toml` for the first name
/// (`./svc-any.toml` when none is named).
fn definition_file(file: Option<&Path>, first: Option<&str>) -> Result<PathBuf> {
    if let Some(f) = file {
        return Ok(f.to_path_buf());
    }
    let mut candidates = Vec::new();
    if let Some(name) = first {
        candidates.push(PathBuf::from(format!("{name}.toml")));
    }
    candidates.push(PathBuf::from("svc-any.toml"));
    if let Some(name) = first {
        candidates.push(PathBuf::from(format!("/etc/svc-any/{name}.toml")));
    }
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .ok_or_else(|| {
            bad("no definition to export")
                .hint(format!(
                    "looked for {}; pass -f FILE",
                    candidates
                        .iter()
                        .map(|c| c.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into()
        })
}

/// The named services and the members of the named groups (each once), or every service.
fn select(project: &spec::Project, names: &[String], file: &Path) -> Result<Vec<Service>> {
    if names.is_empty() {
        return Ok(project.services.values().cloned().collect());
    }
    let mut out: Vec<Service> = Vec::new();
    for name in names {
        let members: Vec<&String> = match (project.services.get(name), project.groups.get(name)) {
            (Some(s), _) => vec![&s.name],
            (None, Some(group)) => group.iter().collect(),
            (None, None) => {
                return Err(bad(format!(
                    "{} defines no service or group `{name}`",
                    file.display()
                ))
                .key("NAME")
                .hint(format!(
                    "it defines: {}",
                    project
                        .services
                        .keys()
                        .chain(project.groups.keys())
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .into())
            }
        };
        for m in members {
            if !out.iter().any(|s| &s.name == m) {
                out.push(project.services[m].clone());
            }
        }
    }
    Ok(out)
}
