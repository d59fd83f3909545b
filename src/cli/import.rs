//! `svc-any import FILE.service|DIR`: the definition on stdout, with a comment line for each
//! place it differs from the unit without losing its meaning; or exit 2 naming every setting
//! that cannot be carried, with its file and line. The definition is checked by svc-any's own
//! parser before it is printed.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use crate::backends::systemd_import::{import, Imported};
use crate::model::error::{bad, BadInput};
use crate::model::spec::{self, Level, ParseOptions, Source};

pub fn run(path: &Path, instances: &[String]) -> Result<i32> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("reading {}", path.display()))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().is_some_and(|e| e == "service")
                    // An alias link is the same unit again.
                    && !p.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink())
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    if files.is_empty() {
        return Err(bad(format!("no .service file in {}", path.display())).into());
    }
    let mut done = Vec::new();
    let mut refusals = Vec::new();
    for file in &files {
        match one(file, instances) {
            Ok(i) => done.push(i),
            Err(e) => refusals.push(e),
        }
    }
    if !refusals.is_empty() {
        let message = refusals
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        return Err(bad(format!("cannot import without loss:\n{message}"))
            .hint("carry the rest by hand, or keep the unit for systemd only")
            .into());
    }
    let mut out = String::new();
    if let [single] = done.as_slice() {
        for note in &single.notes {
            out.push_str(&format!("# note: {note}\n"));
        }
        let mut table = toml::Table::new();
        table.insert("name".into(), single.name.clone().into());
        table.extend(single.table.clone());
        out.push_str(&toml::to_string(&table).context("encoding the definition")?);
    } else {
        let mut services = toml::Table::new();
        for i in &done {
            for note in &i.notes {
                out.push_str(&format!("# note: {}: {note}\n", i.name));
            }
            services.insert(i.name.clone(), toml::Value::Table(i.table.clone()));
        }
        let mut table = toml::Table::new();
        table.insert("services".into(), toml::Value::Table(services));
        out.push_str(&toml::to_string(&table).context("encoding the definitions")?);
    }
    print!("{out}");
    Ok(0)
}

/// One unit: imported and checked by the definition's own parser.
fn one(file: &Path, instances: &[String]) -> std::result::Result<Imported, BadInput> {
    let label = file.display().to_string();
    let text =
        std::fs::read_to_string(file).map_err(|e| bad(format!("{label}: cannot read it: {e}")))?;
    let file_name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let imported = import(file_name, &text, instances).map_err(|losses| {
        let lines: Vec<String> = losses
            .iter()
            .map(|l| {
                let at = match l.line {
                    0 => label.clone(),
                    n => format!("{label}:{n}"),
                };
                match l.key.as_str() {
                    "" => format!("{at}: {}", l.why),
                    k => format!("{at}: `{k}=`: {}", l.why),
                }
            })
            .collect();
        bad(lines.join("\n"))
    })?;
    let mut table = toml::Table::new();
    table.insert("name".into(), imported.name.clone().into());
    table.extend(imported.table.clone());
    let text = toml::to_string(&table).map_err(|e| bad(format!("{label}: {e}")))?;
    let src = Source {
        label: format!("{label} (imported)"),
        text: &text,
        path: None,
    };
    let opts = ParseOptions {
        default_level: Level::System,
        forced_level: None,
        accounts: None,
    };
    spec::parse(&src, None, &opts)
        .map_err(|e| bad(format!("{label}: the definition it makes is refused: {e}")))?;
    Ok(imported)
}
