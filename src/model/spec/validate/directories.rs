//! The directories the manager makes before the start: `runtime_dir`, `state_dir`,
//! `logs_dir`, `config_dir` and their `*_mode`, each a name (or names) below the kind's base.

use crate::model::error::BadInput;

use super::super::daemon::{Daemon, DirKind, Directories};
use super::super::location::Source;
use super::super::raw::{RawService, S};
use super::daemon::octal;

/// Each kind of directory, with its mode.
pub(super) fn check(src: &Source, raw: &RawService, d: &mut Daemon) -> Result<(), BadInput> {
    for (kind, names, mode) in [
        (DirKind::Runtime, &raw.runtime_dir, &raw.runtime_dir_mode),
        (DirKind::State, &raw.state_dir, &raw.state_dir_mode),
        (DirKind::Logs, &raw.logs_dir, &raw.logs_dir_mode),
        (DirKind::Config, &raw.config_dir, &raw.config_dir_mode),
    ] {
        let dirs = directories(src, kind, names, mode)?;
        match kind {
            DirKind::Runtime => d.runtime_dir = dirs,
            DirKind::State => d.state_dir = dirs,
            DirKind::Logs => d.logs_dir = dirs,
            DirKind::Config => d.config_dir = dirs,
        }
    }
    Ok(())
}

/// A name below the kind's base: relative, normalized, no odd bytes.
fn check_dir_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('/') {
        return Err(format!(
            "`{}` must be a relative name (the base directory is implied)",
            name.escape_debug()
        ));
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "`{}` holds an empty, `.` or `..` component",
            name.escape_debug()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-/@{}".contains(*c)))
    {
        return Err(format!(
            "`{}` holds {c:?}; names are letters, digits and _ . - @ /",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn directories(
    src: &Source,
    kind: DirKind,
    raw: &Option<S<toml::Value>>,
    mode: &Option<S<toml::Value>>,
) -> Result<Option<Directories>, BadInput> {
    let key = kind.key();
    let mode_key = format!("{key}_mode");
    let Some(v) = raw else {
        if let Some(m) = mode {
            return Err(src
                .error(m.span(), &mode_key, format!("`{mode_key}` without `{key}`"))
                .hint(format!("add {key} = \"NAME\", or drop the mode")));
        }
        return Ok(None);
    };
    let hint = format!(
        "a name relative to {} (or a list of them), e.g. {key} = \"myapp\"",
        kind.base()
    );
    let names: Vec<String> = match v.get_ref() {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(a) => a
            .iter()
            .map(|i| i.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                src.error(v.span(), key, "every entry must be a string")
                    .hint(hint.clone())
            })?,
        other => {
            return Err(src
                .error(v.span(), key, format!("invalid type: {}", other.type_str()))
                .hint(hint))
        }
    };
    if names.is_empty() {
        return Err(src.error(v.span(), key, "an empty list").hint(hint));
    }
    for n in &names {
        check_dir_name(n).map_err(|m| src.error(v.span(), key, m).hint(hint.clone()))?;
    }
    let mode = match mode {
        Some(m) => Some(octal(src, &mode_key, m, 0o7777)?),
        None => None,
    };
    Ok(Some(Directories { names, mode }))
}
