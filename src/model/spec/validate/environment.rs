//! `env_file` in its list form: several files in order, each perhaps optional (`-`), as
//! systemd's `EnvironmentFile=` reads them. (`env` and the plain `env_file` reach the process
//! as `process.rs` checks them; this is the form `daemon.rs` added.)

use crate::model::error::BadInput;

use super::super::daemon::EnvFile;
use super::super::location::Source;
use super::super::raw::S;
use super::daemon::check_path;

/// `env_file`: one path (every backend reads it), or a list whose entries may be optional
/// (`-/etc/default/ssh`, as systemd writes it). A single required entry is the plain form.
pub(super) fn env_file(
    src: &Source,
    raw: &Option<S<toml::Value>>,
) -> Result<(Option<String>, Vec<EnvFile>), BadInput> {
    let Some(v) = raw else {
        return Ok((None, Vec::new()));
    };
    let hint = "give an absolute path, or a list of them (a leading `-` makes one optional)";
    let entries: Vec<&str> = match v.get_ref() {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                src.error(v.span(), "env_file", "every entry must be a string")
                    .hint(hint)
            })?,
        other => {
            return Err(src
                .error(
                    v.span(),
                    "env_file",
                    format!(
                        "invalid type: {}, expected a path or a list",
                        other.type_str()
                    ),
                )
                .hint(hint))
        }
    };
    let plain = matches!(v.get_ref(), toml::Value::String(_));
    let mut files = Vec::new();
    for entry in entries {
        let (optional, path) = match entry.strip_prefix('-') {
            Some(p) if !plain => (true, p),
            _ => (false, entry),
        };
        check_path(path).map_err(|m| {
            src.error(
                v.span(),
                "env_file",
                format!("`{}` {m}", path.escape_debug()),
            )
            .hint(hint)
        })?;
        files.push(EnvFile {
            path: path.to_string(),
            optional,
        });
    }
    if files.is_empty() {
        return Err(src
            .error(v.span(), "env_file", "an empty list of files")
            .hint("list files, or drop the key"));
    }
    Ok(match files.as_slice() {
        [one] if !one.optional => (Some(one.path.clone()), Vec::new()),
        _ => (None, files),
    })
}
