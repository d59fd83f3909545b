//! What the process may use and where its output goes: `limits.*` and the `[log]` table.

use crate::model::error::{bad, BadInput};

use super::super::location::Source;
use super::super::model::{defaults, Limit, Limits, LogSpec};
use super::super::raw::{RawLimits, RawLog, S};
use super::process::path_key;

pub(super) fn limits(src: &Source, raw: &Option<RawLimits>) -> Result<Limits, BadInput> {
    Ok(match raw {
        None => Limits::default(),
        Some(l) => Limits {
            nofile: limit_key(src, "limits.nofile", &l.nofile)?,
            nproc: limit_key(src, "limits.nproc", &l.nproc)?,
        },
    })
}

fn limit_key(
    src: &Source,
    key: &str,
    v: &Option<S<toml::Value>>,
) -> Result<Option<Limit>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let hint = "a limit is a positive number or \"infinity\"";
    match v.get_ref() {
        toml::Value::Integer(n) if *n > 0 => Ok(Some(Limit::Value(*n as u64))),
        toml::Value::String(s) if s == "infinity" || s == "unlimited" => Ok(Some(Limit::Infinity)),
        _ => Err(src
            .error(v.span(), key, format!("`{}` is not a limit", v.get_ref()))
            .hint(hint)),
    }
}

pub(super) fn log(src: &Source, raw: &Option<RawLog>) -> Result<Option<LogSpec>, BadInput> {
    let Some(l) = raw else { return Ok(None) };
    let file = path_key(src, "log.file", &l.file)?.ok_or_else(|| {
        bad("a [log] table needs `file`")
            .at(src.label.clone())
            .key("log.file")
            .hint("add file = \"/var/log/NAME.log\", or drop [log] to use the manager's own log")
    })?;
    let max_size = match &l.max_size {
        None => None,
        Some(v) => Some(
            crate::model::duration::parse_size(v.get_ref()).map_err(|m| {
                src.error(v.span(), "log.max_size", m)
                    .hint("write a size like \"10M\", \"512K\" or a number of bytes")
            })?,
        ),
    };
    let keep = match &l.keep {
        None => defaults::LOG_KEEP,
        Some(k) => u32::try_from(*k.get_ref())
            .ok()
            .filter(|k| *k <= 1000)
            .ok_or_else(|| src.error(k.span(), "log.keep", "keep must be 0 to 1000"))?,
    };
    let stderr = path_key(src, "log.stderr", &l.stderr)?;
    if let (Some(path), Some(v)) = (&stderr, &l.stderr) {
        if *path == file {
            return Err(src
                .error(v.span(), "log.stderr", "is log.file itself")
                .hint("stderr goes to log.file already: drop log.stderr, or name another file"));
        }
    }
    Ok(Some(LogSpec {
        file,
        max_size,
        keep,
        stderr,
        timestamps: l.timestamps.as_ref().map(|t| *t.get_ref()),
    }))
}
