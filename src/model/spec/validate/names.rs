//! Names: the service's own `name`, its `instances` and the `{instance}` placeholder, and
//! `launchd.label_prefix`. A name becomes a file name and a unit name on every backend, so it
//! is never a path and never holds a byte some manager would read differently.

use std::collections::BTreeSet;

use crate::model::error::{bad, BadInput};

use super::super::deps::SYSTEMD_UNIT_SUFFIXES;
use super::super::location::Source;
use super::super::model::Service;
use super::super::raw::{RawLaunchd, S};
use super::process::string_list;

/// The service's name: the `name` key, else the file's or the table's.
pub(super) fn service_name(
    src: &Source,
    raw: &Option<S<String>>,
    fallback_name: Option<&str>,
) -> Result<String, BadInput> {
    match (raw, fallback_name) {
        (Some(n), _) => {
            check_name(n.get_ref()).map_err(|m| src.error(n.span(), "name", m))?;
            Ok(n.get_ref().clone())
        }
        (None, Some(n)) => {
            check_name(n).map_err(|m| bad(m).at(src.label.clone()).key("name"))?;
            Ok(n.to_string())
        }
        (None, None) => Err(bad("no service name")
            .at(src.label.clone())
            .key("name")
            .hint("add name = \"NAME\" or name the file NAME.toml")),
    }
}

/// A service or group name: `[A-Za-z0-9][A-Za-z0-9_.@-]*`, at most 64 characters, never a path.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 64 {
        return Err(format!(
            "the name is {} characters long; the limit is 64",
            name.len()
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "the name `{}` must start with a letter or digit",
            name.escape_debug()
        ));
    }
    if let Some(badc) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.@-".contains(*c)))
    {
        return Err(format!(
            "the name `{}` holds `{}`; a name is letters, digits and _ . @ - only (never a path)",
            name.escape_debug(),
            badc.escape_debug()
        ));
    }
    // A dependency with a unit suffix names a systemd unit (`Dependency::parse`): a service
    // named so could never be depended on.
    if let Some(suffix) = SYSTEMD_UNIT_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(format!(
            "the name `{name}` ends in `{suffix}`; give the bare service name"
        ));
    }
    Ok(())
}

fn check_instance_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "instance `{}`: instance names are 1-32 letters, digits, _ . - (not starting with . or -)",
            name.escape_debug()
        ))
    }
}

pub(super) fn instances(
    src: &Source,
    raw: &Option<S<Vec<S<String>>>>,
    name: &str,
) -> Result<Vec<String>, BadInput> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let span = list.span();
    let names = string_list(src, "instances", list)?;
    if names.is_empty() {
        return Err(src
            .error(span, "instances", "an empty list of instances")
            .hint("list instance names, or drop the key"));
    }
    let mut seen = BTreeSet::new();
    for i in &names {
        check_instance_name(i).map_err(|m| src.error(span.clone(), "instances", m))?;
        if !seen.insert(i) {
            return Err(src.error(
                span.clone(),
                "instances",
                format!("instance `{i}` is listed twice"),
            ));
        }
    }
    if name.contains('@') {
        return Err(src
            .error(span, "instances", "a name with `@` cannot have instances")
            .hint("drop the `@` from the name: svc-any names instances NAME@INSTANCE itself"));
    }
    Ok(names)
}

pub(super) fn label_prefix(
    src: &Source,
    raw: &Option<RawLaunchd>,
) -> Result<Option<String>, BadInput> {
    let Some(p) = raw.as_ref().and_then(|l| l.label_prefix.as_ref()) else {
        return Ok(None);
    };
    check_label_prefix(p.get_ref()).map_err(|m| src.error(p.span(), "launchd.label_prefix", m))?;
    Ok(Some(p.get_ref().clone()))
}

/// A reverse-DNS prefix for launchd labels: dot-separated words of letters, digits and `-`.
fn check_label_prefix(prefix: &str) -> Result<(), String> {
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if prefix.len() > 128 || !prefix.split('.').all(word_ok) {
        return Err(format!(
            "`{}` is not a reverse-DNS prefix: write dot-separated words of letters, digits, `-` and `_`, like \"com.example\"",
            prefix.escape_debug()
        ));
    }
    Ok(())
}

/// Every string that may carry `{instance}`; it must appear only in instanced services, and a
/// near-miss like `{instanse}` is a typo, not text to pass through.
pub(super) fn check_placeholders(service: &Service) -> Result<(), BadInput> {
    let mut fields: Vec<(String, &str)> = Vec::new();
    for (i, a) in service.exec.iter().enumerate() {
        fields.push((format!("exec[{i}]"), a));
    }
    for (k, v) in &service.env {
        fields.push((format!("env.{k}"), v));
    }
    fields.push(("description".into(), &service.description));
    for (key, value) in [
        ("working_dir", &service.working_dir),
        ("env_file", &service.env_file),
    ] {
        if let Some(v) = value {
            fields.push((key.into(), v));
        }
    }
    fields.extend(super::super::daemon::strings(&service.daemon));
    let deps: Vec<(String, String)> = service
        .all_dependencies()
        .map(|(key, dep)| (key, dep.as_written()))
        .collect();
    for (key, written) in &deps {
        fields.push((key.clone(), written));
    }
    for (key, value) in [("user", &service.user), ("group", &service.group)] {
        if let Some(v) = value {
            fields.push((key.into(), v));
        }
    }
    if let Some(l) = &service.log {
        fields.push(("log.file".into(), &l.file));
        if let Some(stderr) = &l.stderr {
            fields.push(("log.stderr".into(), stderr));
        }
    }
    for (key, value) in fields {
        for word in braced_words(value) {
            if word == "instance" {
                if service.instances.is_empty() {
                    return Err(bad("uses {instance} but the service has no instances")
                        .key(key)
                        .hint("add instances = [\"1\", \"2\"], or remove {instance}"));
                }
            } else if strsim::damerau_levenshtein(word, "instance") <= 2 {
                return Err(bad(format!("unknown placeholder {{{word}}}"))
                    .key(key)
                    .hint("did you mean {instance}?"));
            }
        }
    }
    Ok(())
}

/// The identifiers written as `{word}` in a string.
fn braced_words(s: &str) -> impl Iterator<Item = &str> {
    s.split('{').skip(1).filter_map(|rest| {
        let (word, _) = rest.split_once('}')?;
        (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(word)
    })
}
