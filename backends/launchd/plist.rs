//! A job's property list: the template renders a TOML table of launchd's keys from the
//! definition (each value checked by the plist escaper), and the `plist` crate writes it as XML
//! with svc-any's marker as a comment; `list` reads the marker back. Also what launchd can
//! carry of a definition at all.

use anyhow::{anyhow, Context as _, Result};

use super::{error_path, log_path, Job, Launchd};
use crate::backends::carried::Verdict;
use crate::dialect::escape::{plist as esc, Unrepresentable};
use crate::dialect::render;
use crate::model::error::{bad, BadInput};
use crate::model::spec::{Level, Limit, Restart, Service, Used};
use crate::system::host::Ctx;

/// None of the keys of real daemons yet: launchd has no readiness protocol, no commands around
/// the job, no sandbox settings svc-any maps.
pub(super) fn carries(used: &Used, _service: &Service) -> Verdict {
    match used.key {
        "log.stderr" => Ok(()),
        "log.timestamps" => {
            Err("launchd writes log.file as the process wrote it, with no time on its lines")
        }
        _ => Err("svc-any does not map it to a launchd property"),
    }
}

/// Maps an escaper's refusal to bad input naming the key.
fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("a launchd property list cannot carry it; change the value")
    }
}

/// A string as a TOML literal for the template, after checking the plist can carry it.
fn toml_string(key: &str, value: &str) -> Result<String> {
    esc::check(value).map_err(field(key))?;
    Ok(toml::Value::String(value.to_string()).to_string())
}

/// Whole seconds, rounded up: launchd's intervals are integers, and rounding down could make a
/// delay or a grace period zero.
fn whole_seconds(d: std::time::Duration) -> i64 {
    d.as_secs() as i64 + i64::from(d.subsec_nanos() > 0)
}

impl Launchd {
    pub(super) fn context(&self, ctx: &Ctx, job: &Job) -> Result<tera::Context> {
        let s = &job.service;
        if s.env_file.is_some() {
            return Err(bad("launchd cannot read an environment file")
                .key("env_file")
                .hint("put the variables in `env`; svc-any writes them into the plist")
                .into());
        }
        let mut c = render::context(s);
        c.insert("label", &toml_string("name", &job.label)?);
        let mut argv = toml::value::Array::new();
        for arg in &s.exec {
            esc::check(arg).map_err(field("exec"))?;
            argv.push(toml::Value::String(arg.clone()));
        }
        c.insert("program_arguments", &toml::Value::Array(argv).to_string());
        let working_directory = match &s.working_dir {
            Some(d) => Some(toml_string("working_dir", d)?),
            None => None,
        };
        c.insert("working_directory", &working_directory);
        let mut env = toml::Table::new();
        for (k, v) in &s.env {
            let key = format!("env.{k}");
            esc::check(k).map_err(field(&key))?;
            esc::check(v).map_err(field(&key))?;
            env.insert(k.clone(), toml::Value::String(v.clone()));
        }
        c.insert(
            "environment_variables",
            &(!env.is_empty()).then(|| toml::Value::Table(env).to_string()),
        );
        // UserName and GroupName are for daemons; an agent runs as its user.
        let system = ctx.level == Level::System;
        let account = |key: &str, v: &Option<String>| -> Result<Option<String>> {
            match v {
                Some(name) if system => Ok(Some(toml_string(key, name)?)),
                _ => Ok(None),
            }
        };
        c.insert("user_name", &account("user", &s.user)?);
        c.insert("group_name", &account("group", &s.group)?);
        let keep_alive = match s.restart {
            Restart::Always => "true",
            Restart::OnFailure => "{ SuccessfulExit = false }",
            Restart::No => "false",
            Restart::OnAbnormal | Restart::OnAbort => {
                return Err(bad(
                    "launchd's KeepAlive cannot tell a crash by a signal from other exits",
                )
                .key("restart")
                .into())
            }
        };
        c.insert("keep_alive", keep_alive);
        c.insert("throttle_interval", &whole_seconds(s.restart_delay));
        c.insert("exit_timeout", &whole_seconds(s.stop_timeout));
        let log = log_path(ctx, job);
        c.insert(
            "log_path",
            &toml_string("log.file", &log.to_string_lossy())?,
        );
        let errors = error_path(ctx, job);
        c.insert(
            "error_path",
            &toml_string("log.stderr", &errors.to_string_lossy())?,
        );
        // launchd's limits are integers; "infinity" leaves the system's own limit in place.
        let mut limits = toml::Table::new();
        let mut put = |key: &str, limit: Option<Limit>| {
            if let Some(Limit::Value(n)) = limit {
                limits.insert(
                    key.into(),
                    toml::Value::Integer(n.min(i64::MAX as u64) as i64),
                );
            }
        };
        put("NumberOfFiles", s.limits.nofile);
        put("NumberOfProcesses", s.limits.nproc);
        let limits = (!limits.is_empty()).then(|| toml::Value::Table(limits).to_string());
        // Soft and hard alike, as LimitNOFILE= sets both; only root may raise a hard limit.
        c.insert("soft_resource_limits", &limits);
        c.insert("hard_resource_limits", &limits.as_ref().filter(|_| system));
        Ok(c)
    }
}

/// The XML plist of the table `template_output` holds, with `marker` as a comment after the
/// document type: plist keys are launchd's, so the marker cannot be one.
pub(super) fn plist_xml(template_output: &str, marker: &str) -> Result<String> {
    let table: toml::Table = template_output.parse().map_err(|e| {
        bad(format!(
            "template `launchd.plist` did not render a TOML table: {e}"
        ))
        .hint("fix the template in --template-dir, or remove it to use the built-in one")
    })?;
    let value = plist_value("", toml::Value::Table(table))?;
    let mut xml = Vec::new();
    value
        .to_writer_xml(&mut xml)
        .context("writing the property list")?;
    let xml = String::from_utf8(xml).context("the property list is not UTF-8")?;
    let comment = format!("<!-- {} -->\n", esc::comment(marker));
    let at = xml
        .find("<plist")
        .ok_or_else(|| anyhow!("the plist writer wrote no <plist> element"))?;
    let mut out = format!("{}{comment}{}", &xml[..at], &xml[at..]);
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

/// TOML to plist values, key by key (for messages about a user template's values).
fn plist_value(key: &str, value: toml::Value) -> Result<plist::Value> {
    Ok(match value {
        toml::Value::String(s) => {
            esc::check(&s).map_err(field(key))?;
            plist::Value::String(s)
        }
        toml::Value::Integer(i) => plist::Value::Integer(i.into()),
        toml::Value::Float(f) => plist::Value::Real(f),
        toml::Value::Boolean(b) => plist::Value::Boolean(b),
        toml::Value::Datetime(d) => plist::Value::Date(
            plist::Date::from_xml_format(&d.to_string())
                .map_err(|e| bad(format!("`{d}` is not a plist date: {e}")).key(key.to_string()))?,
        ),
        toml::Value::Array(items) => plist::Value::Array(
            items
                .into_iter()
                .map(|v| plist_value(key, v))
                .collect::<Result<_>>()?,
        ),
        toml::Value::Table(t) => {
            let mut dict = plist::Dictionary::new();
            for (k, v) in t {
                let inner = if key.is_empty() {
                    k.clone()
                } else {
                    format!("{key}.{k}")
                };
                let v = plist_value(&inner, v)?;
                dict.insert(k, v);
            }
            plist::Value::Dictionary(dict)
        }
    })
}

/// The service a marked plist belongs to, from its marker comment (`svc-any install NAME`).
pub(super) fn marked_service(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("svc-any install ")?;
    let name: String = rest
        .split('`')
        .next()?
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_its_service_even_with_hyphens_spaced() {
        let text = "<!-- generated by svc-any; do not edit: changes are lost on `svc-any install a- -b` -->";
        assert_eq!(marked_service(text).as_deref(), Some("a--b"));
    }

    #[test]
    fn intervals_round_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(whole_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(10)), 10);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
    }
}
