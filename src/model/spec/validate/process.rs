//! What the process is and sees: `exec`, `level`, `description`, `user` and `group`,
//! `working_dir`, `env_file` and `env`. Every string here reaches execve(2) or a manager's
//! file unchanged, so each is checked against what both can carry.

use std::collections::BTreeMap;
use std::path::{Component, Path};

use crate::model::error::{bad, BadInput};

use super::super::location::Source;
use super::super::model::Level;
use super::super::parse::ParseOptions;
use super::super::raw::S;

/// The kernel's limit on one argument or environment string, NUL included (MAX_ARG_STRLEN).
pub const MAX_ARG_BYTES: usize = 128 * 1024;

/// What every backend needs of a string that reaches a process: no NUL, and short enough for
/// execve(2) to accept.
pub(super) fn no_nul(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err("a NUL byte cannot reach a process (argv and environment strings end at NUL)".into())
    } else if value.len() >= MAX_ARG_BYTES {
        Err(format!(
            "{} bytes is more than the kernel passes in one argument or environment string ({} at most)",
            value.len(),
            MAX_ARG_BYTES - 1
        ))
    } else {
        Ok(())
    }
}

pub(super) fn string_list(
    src: &Source,
    key: &str,
    list: &S<Vec<S<String>>>,
) -> Result<Vec<String>, BadInput> {
    let mut out = Vec::new();
    for item in list.get_ref() {
        no_nul(item.get_ref()).map_err(|m| src.error(item.span(), key, m))?;
        out.push(item.get_ref().clone());
    }
    Ok(out)
}

/// `exec`: required, and its program absolute.
pub(super) fn exec(src: &Source, raw: &Option<S<Vec<S<String>>>>) -> Result<Vec<String>, BadInput> {
    let list = raw.as_ref().ok_or_else(|| {
        bad("missing `exec`, the program to run")
            .at(src.label.clone())
            .key("exec")
            .hint("add exec = [\"/absolute/path/to/program\", \"arg\", ...]")
    })?;
    let exec = string_list(src, "exec", list)?;
    check_argv(src, "exec", &exec)?;
    Ok(exec)
}

pub(super) fn check_argv(src: &Source, key: &str, argv: &[String]) -> Result<(), BadInput> {
    let Some(program) = argv.first() else {
        return Err(bad("the program list is empty")
            .at(src.label.clone())
            .key(key)
            .hint("give the program and its arguments: [\"/usr/bin/prog\", \"--flag\"]"));
    };
    check_absolute(program).map_err(|m| {
        bad(format!("the program `{}` {m}", program.escape_debug()))
            .at(src.label.clone())
            .key(format!("{key}[0]"))
            .hint("give the full path, e.g. `command -v PROG` tells where it is")
    })
}

/// `level`: the file's word, which must agree with `--user` when both are given.
pub(super) fn level(
    src: &Source,
    raw: &Option<S<String>>,
    opts: &ParseOptions,
) -> Result<Level, BadInput> {
    Ok(match (raw, opts.forced_level) {
        (Some(l), forced) => {
            let level = match l.get_ref().as_str() {
                "system" => Level::System,
                "user" => Level::User,
                other => {
                    return Err(src
                        .error(l.span(), "level", format!("unknown level `{other}`"))
                        .hint("use \"system\" or \"user\""))
                }
            };
            if let Some(forced) = forced.filter(|f| *f != level) {
                return Err(src
                    .error(
                        l.span(),
                        "level",
                        format!("the file says {level:?} level, the command line says {forced:?}"),
                    )
                    .hint("drop `level` from the file or the --user flag from the command"));
            }
            level
        }
        (None, Some(forced)) => forced,
        (None, None) => opts.default_level,
    })
}

/// `description`: one line, since every manager puts it on one.
pub(super) fn description(
    src: &Source,
    raw: &Option<S<String>>,
    name: &str,
) -> Result<String, BadInput> {
    let description = match raw {
        None => format!("{name} (svc-any)"),
        Some(s) => {
            no_nul(s.get_ref()).map_err(|m| src.error(s.span(), "description", m))?;
            s.get_ref().clone()
        }
    };
    if description.chars().any(char::is_control) {
        return Err(
            bad("control characters (newline, tab...) are not allowed in a description")
                .at(src.locate(raw.as_ref().map_or(0, |d| d.span().start)))
                .key("description"),
        );
    }
    Ok(description)
}

/// An absolute, normalized path: starts with `/`, no `.` or `..` components, no control
/// characters. Managers either reject or silently rewrite anything else.
pub fn check_absolute(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("is not an absolute path".into());
    }
    if path.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || path.split('/').any(|c| c == "." || c == "..")
    {
        return Err("holds a `.` or `..` component".into());
    }
    Ok(())
}

pub(super) fn path_key(
    src: &Source,
    key: &str,
    v: &Option<S<String>>,
) -> Result<Option<String>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let path = v.get_ref();
    check_absolute(path).map_err(|m| {
        src.error(v.span(), key, format!("`{}` {m}", path.escape_debug()))
            .hint("give an absolute path such as /srv/app")
    })?;
    if path.ends_with(char::is_whitespace) {
        return Err(src.error(
            v.span(),
            key,
            "the path ends in white space, which managers strip",
        ));
    }
    Ok(Some(path.clone()))
}

/// `user` or `group` (`key` says which): a portable name, or a numeric id.
pub(super) fn account_key(
    src: &Source,
    key: &str,
    v: &Option<S<String>>,
    opts: &ParseOptions,
    level: Level,
) -> Result<Option<String>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let name = v.get_ref();
    if level == Level::User {
        return Err(src
            .error(
                v.span(),
                key,
                "a user-level service always runs as the user who installs it",
            )
            .hint(format!("drop `{key}`, or install at system level as root")));
    }
    let numeric = !name.is_empty() && name.chars().all(|c| c.is_ascii_digit());
    let portable = {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && name.len() <= 31
    };
    if !numeric && !portable {
        return Err(src
            .error(v.span(), key, format!("`{}` is not a valid {key} name", name.escape_debug()))
            .hint("names are lower-case letters, digits, _ and -, starting with a letter or _ (or a numeric id)"));
    }
    if let Some(accounts) = &opts.accounts {
        let exists = if key == "user" {
            accounts.user_exists(name)
        } else {
            accounts.group_exists(name)
        };
        if !exists {
            return Err(src
                .error(v.span(), key, format!("no {key} `{name}` on this system"))
                .hint(format!(
                    "create it first (e.g. `{} --system {name}`), or fix the name",
                    if key == "group" {
                        "groupadd"
                    } else {
                        "useradd"
                    }
                )));
        }
    }
    Ok(Some(name.clone()))
}

/// A portable environment variable name, safe in every backend's dialect.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid environment variable name",
            name.escape_debug()
        ))
    }
}

/// The `[env]` table.
pub(super) fn env(
    src: &Source,
    raw: &Option<BTreeMap<S<String>, S<String>>>,
) -> Result<BTreeMap<String, String>, BadInput> {
    let mut env = BTreeMap::new();
    for (k, v) in raw.iter().flatten() {
        let key = format!("env.{}", k.get_ref());
        check_env_name(k.get_ref()).map_err(|m| {
            src.error(k.span(), &key, m)
                .hint("environment names are letters, digits and _, not starting with a digit")
        })?;
        no_nul(v.get_ref()).map_err(|m| src.error(v.span(), &key, m))?;
        env.insert(k.get_ref().clone(), v.get_ref().clone());
    }
    Ok(env)
}
