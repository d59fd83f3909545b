//! The keys of `daemon.rs`, one group per file beside this one: `readiness`, `commands`
//! (around the main one, and variable references), `directories`, `stopping`, `relations`
//! (more dependencies, documentation, aliases), `privileges` (and credentials), `sandbox`,
//! `systemd_table` (`[systemd]`), and `environment` (`env_file`'s list form, which `mod.rs`
//! asks for with the portable keys). This file runs the groups in order, which is the order of
//! the complaints a user sees, with the two one-key groups (`condition_path_exists`,
//! `not_carried`) inline, and holds the checks several groups share (paths, flags, one-of
//! names, octal modes).
//!
//! Each value is checked here, with its line, so that a backend only decides whether it
//! carries a key, never whether the value makes sense.

use crate::model::error::BadInput;

use super::super::daemon::{Daemon, NotCarried};
use super::super::location::{did_you_mean, Source};
use super::super::model::Level;
use super::super::parse::ParseOptions;
use super::super::raw::{RawService, S};
use super::process::check_absolute;
use super::systemd_table::systemd_table;
use super::{commands, directories, privileges, readiness, relations, sandbox, stopping};

/// Everything else of `daemon.rs`, group by group. `exec` has been checked; with `exec_expand`
/// its program may not hold `$` (systemd never expands the program path).
pub(super) fn daemon(
    src: &Source,
    raw: &RawService,
    own_name: &str,
    exec: &[String],
    opts: &ParseOptions,
    level: Level,
) -> Result<Daemon, BadInput> {
    let mut d = Daemon {
        exec_expand: flag(&raw.exec_expand),
        ..Daemon::default()
    };
    readiness::check(src, raw, &mut d)?;
    commands::check(src, raw, exec, &mut d)?;
    directories::check(src, raw, &mut d)?;
    stopping::check(src, raw, &mut d)?;
    relations::check(src, raw, own_name, &mut d)?;
    privileges::check(src, raw, opts, level, &mut d)?;
    sandbox::check(src, raw, &mut d)?;
    d.condition_path_exists = prefixed_paths(
        src,
        "condition_path_exists",
        &raw.condition_path_exists,
        '!',
    )?;
    privileges::credentials(src, raw, &mut d)?;
    if let Some(t) = &raw.systemd {
        d.systemd = systemd_table(src, t, &d, raw)?;
    }
    if let Some(n) = &raw.not_carried {
        d.not_carried = match n.get_ref().as_str() {
            "refuse" => NotCarried::Refuse,
            "warn" => NotCarried::Warn,
            _ => {
                return Err(one_of(
                    src,
                    n,
                    "not_carried",
                    &["refuse", "warn"],
                    "unknown not_carried policy",
                ))
            }
        };
    }
    Ok(d)
}

/// An absolute path the managers keep as written.
pub(super) fn check_path(path: &str) -> Result<(), String> {
    check_absolute(path)?;
    if path.ends_with(char::is_whitespace) {
        return Err("ends in white space, which managers strip".into());
    }
    Ok(())
}

pub(super) fn flag(v: &Option<S<bool>>) -> bool {
    v.as_ref().is_some_and(|b| *b.get_ref())
}

pub(super) fn one_of(
    src: &Source,
    v: &S<String>,
    key: &str,
    names: &[&str],
    what: &str,
) -> BadInput {
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = match did_you_mean(v.get_ref(), names) {
        Some(near) => format!("did you mean \"{near}\"? (one of {list})"),
        None => format!("use one of {list}"),
    };
    src.error(
        v.span(),
        key,
        format!("{what} `{}`", v.get_ref().escape_debug()),
    )
    .hint(hint)
}

/// Permission bits: `"0755"` or a TOML octal integer (`0o755`), at most `max`.
pub(super) fn octal(
    src: &Source,
    key: &str,
    v: &S<toml::Value>,
    max: u32,
) -> Result<u32, BadInput> {
    let hint = "write the bits in octal as a string, \"0750\", or as 0o750";
    let n = match v.get_ref() {
        toml::Value::String(s) if !s.is_empty() && s.len() <= 4 => u32::from_str_radix(s, 8).ok(),
        toml::Value::Integer(i) => u32::try_from(*i).ok(),
        _ => None,
    };
    n.filter(|n| *n <= max).ok_or_else(|| {
        src.error(v.span(), key, format!("`{}` is not a mode", v.get_ref()))
            .hint(hint)
    })
}

/// Absolute paths, each perhaps with `prefix` in front (`-` optional, `!` negated).
pub(super) fn prefixed_paths(
    src: &Source,
    key: &str,
    raw: &Option<S<Vec<S<String>>>>,
    prefix: char,
) -> Result<Vec<String>, BadInput> {
    let mut out = Vec::new();
    for item in raw.iter().flat_map(|l| l.get_ref()) {
        let s = item.get_ref();
        let path = s.strip_prefix(prefix).unwrap_or(s);
        check_path(path).map_err(|m| {
            src.error(item.span(), key, format!("`{}` {m}", path.escape_debug()))
                .hint(format!(
                    "an absolute path, with a leading `{prefix}` if {}",
                    if prefix == '-' {
                        "it may be missing"
                    } else {
                        "it must not exist"
                    }
                ))
        })?;
        out.push(s.clone());
    }
    Ok(out)
}
