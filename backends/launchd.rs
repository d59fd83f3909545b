//! launchd (macOS): one property list per service, or per instance, driven with the current
//! `launchctl` interface (`bootstrap`, `bootout`, `kickstart`, `kill`, `print`, `enable`,
//! `disable`), never the deprecated `load`/`unload`.
//!
//! The traps this module owns:
//! - The plist is XML written by the `plist` crate from the table the template renders, so no
//!   string is ever spliced into XML by hand; what XML cannot carry at all (C0 controls, a
//!   carriage return) is refused by [`crate::dialect::escape::plist`].
//! - launchd loads every plist in its directories at boot: "installed, not enabled" is a
//!   `launchctl disable` override in launchd's own database, not a missing link.
//! - launchd reads a plist only when it is bootstrapped: a changed definition is applied with
//!   `bootout` then `bootstrap`; `kickstart -k` would restart the old one.
//! - `KeepAlive = true` restarts a job that exits for any reason, so "stop" must be `bootout`;
//!   a signal sent with `kill` is only a restart.
//! - launchd opens `StandardOutPath` but does not create its directory.
//! - launchd has no dependencies, no exit-code lists, no environment files, no restart limit and
//!   no backoff. Environment files are refused at install; the rest is in the README.

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, Context as _, Result};

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::escape::{plist as esc, Unrepresentable};
use crate::dialect::render::{self, FileSpec, Plan};
use crate::model::error::{bad, BadInput};
use crate::model::spec::{self, Level, Limit, Restart, Service, Used};
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::process;

pub struct Launchd;

/// The reverse-DNS prefix of labels unless a definition sets `launchd.label_prefix`.
pub const DEFAULT_LABEL_PREFIX: &str = "org.svc-any";

/// One launchd job: a service, or one instance of it, with its own label and plist.
struct Job {
    /// The definition this job runs (`{instance}` already replaced).
    service: Service,
    instance: Option<String>,
    label: String,
}

fn jobs(service: &Service) -> Vec<Job> {
    let prefix = service
        .launchd_label_prefix
        .as_deref()
        .unwrap_or(DEFAULT_LABEL_PREFIX);
    service
        .instance_names()
        .into_iter()
        .map(|instance| Job {
            service: service.for_instance(instance),
            instance: instance.map(String::from),
            label: match instance {
                Some(i) => format!("{prefix}.{}@{i}", service.name),
                None => format!("{prefix}.{}", service.name),
            },
        })
        .collect()
}

/// `/Library/LaunchDaemons` for the system, `~/Library/LaunchAgents` for a user.
fn plist_dir(ctx: &Ctx) -> PathBuf {
    match ctx.level {
        Level::System => PathBuf::from("/Library/LaunchDaemons"),
        Level::User => ctx.home.join("Library/LaunchAgents"),
    }
}

fn plist_path(ctx: &Ctx, label: &str) -> PathBuf {
    plist_dir(ctx).join(format!("{label}.plist"))
}

/// Where stderr goes: `log.stderr`, else with stdout.
fn error_path(ctx: &Ctx, job: &Job) -> PathBuf {
    match job.service.log.as_ref().and_then(|l| l.stderr.as_ref()) {
        Some(file) => PathBuf::from(file),
        None => log_path(ctx, job),
    }
}

/// Where output goes without `log.file`: macOS keeps logs in `Library/Logs`.
fn default_log(ctx: &Ctx, label: &str) -> PathBuf {
    let dir = match ctx.level {
        Level::System => PathBuf::from("/Library/Logs/svc-any"),
        Level::User => ctx.home.join("Library/Logs/svc-any"),
    };
    dir.join(format!("{label}.log"))
}

fn log_path(ctx: &Ctx, job: &Job) -> PathBuf {
    match &job.service.log {
        Some(log) => PathBuf::from(&log.file),
        None => default_log(ctx, &job.label),
    }
}

/// The launchd domain of a level: `system` for daemons; for a user's agents `gui/UID` while that
/// user owns the console (a login session, where agents normally live), else `user/UID`, which
/// exists without a login (over ssh, on a build server).
pub fn domain(level: Level, uid: u32, console_owner: Option<u32>) -> String {
    match level {
        Level::System => "system".into(),
        Level::User if console_owner == Some(uid) => format!("gui/{uid}"),
        Level::User => format!("user/{uid}"),
    }
}

fn ctx_domain(ctx: &Ctx) -> String {
    let console = std::fs::metadata(ctx.probe_root.join("dev/console"))
        .ok()
        .map(|m| m.uid());
    domain(ctx.level, nix::unistd::geteuid().as_raw(), console)
}

/// None of the keys of real daemons yet: launchd has no readiness protocol, no commands around
/// the job, no sandbox settings svc-any maps.
fn carries(used: &Used, _service: &Service) -> Verdict {
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
    fn context(&self, ctx: &Ctx, job: &Job) -> Result<tera::Context> {
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

    fn launchctl(&self) -> Result<Command> {
        process::tool("launchctl")
    }

    /// `launchctl print DOMAIN/LABEL`: `None` when the job is not loaded.
    fn print(&self, ctx: &Ctx, domain: &str, label: &str) -> Result<Option<PrintedJob>> {
        let mut cmd = self.launchctl()?;
        cmd.arg("print").arg(format!("{domain}/{label}"));
        ctx.report.command(&process::describe(&cmd));
        let out = cmd
            .stdin(std::process::Stdio::null())
            .output()
            .context("running launchctl print")?;
        // launchctl answers 113 ("Could not find service") for a job that is not loaded.
        if !out.status.success() {
            return Ok(None);
        }
        Ok(Some(parse_print(&String::from_utf8_lossy(&out.stdout))))
    }

    fn run(&self, ctx: &Ctx, args: &[&str]) -> Result<()> {
        let mut cmd = self.launchctl()?;
        ctx.run(cmd.args(args))?;
        Ok(())
    }

    fn bootstrap(&self, ctx: &Ctx, domain: &str, job: &Job) -> Result<()> {
        // launchd opens the logs but does not make their directories.
        for log in [log_path(ctx, job), error_path(ctx, job)] {
            if let Some(dir) = log.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the log directory {}", dir.display()))?;
            }
        }
        let path = plist_path(ctx, &job.label);
        self.run(ctx, &["bootstrap", domain, &path.to_string_lossy()])
    }

    /// Unloads (and so stops) a loaded job, then loads it again from its current plist.
    fn reload_job(&self, ctx: &Ctx, domain: &str, job: &Job, loaded: bool) -> Result<()> {
        if loaded {
            self.run(ctx, &["bootout", &format!("{domain}/{}", job.label)])?;
        }
        self.bootstrap(ctx, domain, job)
    }
}

impl Backend for Launchd {
    fn name(&self) -> &'static str {
        "launchd"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        // launchd orders nothing (svc-any orders the starts it makes), but a systemd unit has
        // no meaning here at all: refused like everywhere outside systemd.
        spec::refuse_systemd_units(service, self.name())?;
        let mut files = Vec::new();
        for job in jobs(service) {
            let table = ctx
                .renderer
                .render("launchd.plist", &self.context(ctx, &job)?)?;
            let marker = render::marker_line("", &service.name, service.source.as_deref());
            files.push(FileSpec {
                path: plist_path(ctx, &job.label),
                mode: render::mode_for_values(service),
                content: plist_xml(&table, marker.trim())?,
            });
        }
        Ok(Plan {
            files,
            links: Vec::new(),
            enable_links: Vec::new(),
        })
    }

    /// launchd has no global re-read: each job is read when it is bootstrapped.
    fn reload_manager(&self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let domain = ctx_domain(ctx);
        for service in services {
            for job in jobs(service) {
                let target = format!("{domain}/{}", job.label);
                if verb == Verb::Reload {
                    let signal = job
                        .service
                        .reload_signal
                        .ok_or_else(|| anyhow!("{} has no reload_signal", service.name))?;
                    self.run(ctx, &["kill", &signal.sig_name(), &target])?;
                    continue;
                }
                let printed = self.print(ctx, &domain, &job.label)?;
                let running = printed.as_ref().is_some_and(|p| p.state == "running");
                match verb {
                    // A loaded job that is not running may hold an older plist: load it again.
                    Verb::Start if running => {}
                    Verb::Start => self.reload_job(ctx, &domain, &job, printed.is_some())?,
                    Verb::Stop if printed.is_some() => self.run(ctx, &["bootout", &target])?,
                    Verb::Stop => {}
                    Verb::Restart if running => self.run(ctx, &["kickstart", "-k", &target])?,
                    Verb::Restart => self.reload_job(ctx, &domain, &job, printed.is_some())?,
                    Verb::Reload => unreachable!("reload is sent above"),
                }
            }
        }
        Ok(())
    }

    fn apply_changes(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        let domain = ctx_domain(ctx);
        for service in services {
            for job in jobs(service) {
                let loaded = self.print(ctx, &domain, &job.label)?.is_some();
                self.reload_job(ctx, &domain, &job, loaded)?;
            }
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let domain = ctx_domain(ctx);
        let mut cmd = self.launchctl()?;
        let disabled = parse_disabled(&ctx.run(cmd.arg("print-disabled").arg(&domain))?);
        let mut out = Vec::new();
        for service in services {
            for job in jobs(service) {
                let printed = self.print(ctx, &domain, &job.label)?;
                let mut status = status_from_print(&job.service, printed.as_ref());
                status.name = service.name.clone();
                status.instance = job.instance.clone();
                status.enabled = Some(!disabled.contains(&job.label));
                status.unit = job.label;
                out.push(status);
            }
        }
        Ok(out)
    }

    fn log_times(&self, _service: &Service) -> Result<(), &'static str> {
        Err(
            "launchd writes the service's output to its log file as it came, with no time on \
             its lines",
        )
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        crate::system::logfiles::tail_files(ctx, &self.log_files(ctx, service), options)
    }

    fn log_files(&self, ctx: &Ctx, service: &Service) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = jobs(service).iter().map(|j| log_path(ctx, j)).collect();
        files.dedup();
        files.extend(crate::system::logfiles::stderr_files(service));
        files
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(&plist_dir(ctx));
        let mut names: Vec<String> = render::marked_files(&dir)
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|text| marked_service(&text))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn enable(&self, ctx: &Ctx, service: &Service, _links: &[render::LinkSpec]) -> Result<bool> {
        self.set_override(ctx, service, "enable")
    }

    fn disable(&self, ctx: &Ctx, service: &Service, _links: &[render::LinkSpec]) -> Result<bool> {
        self.set_override(ctx, service, "disable")
    }

    fn boots_when_installed(&self) -> bool {
        true
    }
}

impl Launchd {
    /// `launchctl enable|disable DOMAIN/LABEL`: launchd's own record of what loads at boot.
    /// Offline (an image under `--root`) there is no launchd to ask: installed plists load.
    fn set_override(&self, ctx: &Ctx, service: &Service, verb: &str) -> Result<bool> {
        if !ctx.live {
            if verb == "disable" {
                ctx.warn(format!(
                    "warning: {} will start at boot: launchd's disable override can only be set on the running system",
                    service.name
                ));
            }
            return Ok(false);
        }
        let domain = ctx_domain(ctx);
        for job in jobs(service) {
            self.run(ctx, &[verb, &format!("{domain}/{}", job.label)])?;
        }
        Ok(false)
    }
}

/// The XML plist of the table `template_output` holds, with `marker` as a comment after the
/// document type: plist keys are launchd's, so the marker cannot be one.
fn plist_xml(template_output: &str, marker: &str) -> Result<String> {
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
fn marked_service(text: &str) -> Option<String> {
    let (_, rest) = text.split_once("svc-any install ")?;
    let name: String = rest
        .split('`')
        .next()?
        .chars()
        .filter(|c| *c != ' ')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// What `launchctl print` says about one job (its top-level lines; nested blocks repeat keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintedJob {
    pub state: String,
    pub pid: Option<u32>,
    pub runs: Option<u32>,
    pub last_exit: Option<LastExit>,
}

/// Parses `launchctl print DOMAIN/LABEL`. Its format is for people and unversioned: the parser
/// reads only the top-level `key = value` lines it needs and ignores everything else.
pub fn parse_print(text: &str) -> PrintedJob {
    let mut job = PrintedJob::default();
    for line in text.lines() {
        // Top level is exactly one tab deep; nested blocks (environment, endpoints) are deeper.
        let Some(line) = line.strip_prefix('\t').filter(|l| !l.starts_with('\t')) else {
            continue;
        };
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "state" => job.state = value.to_string(),
            "pid" => job.pid = value.parse().ok(),
            "runs" => job.runs = value.parse().ok(),
            // `0`, `78: EX_CONFIG`, or `(never exited)`.
            "last exit code" if job.last_exit.is_none() => {
                job.last_exit = value
                    .split(':')
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .map(|code| LastExit::Exited { code });
            }
            // `Terminated: 15`: a signal outranks an exit code line.
            "last terminating signal" => {
                job.last_exit = Some(LastExit::Killed {
                    signal: signal_from_description(value),
                });
            }
            _ => {}
        }
    }
    job
}

/// macOS's strsignal text to svc-any's signal names. Numbers differ between macOS and Linux
/// (USR1 is 30 there), so the words decide; an unknown one is kept as launchd wrote it.
fn signal_from_description(text: &str) -> String {
    let words = text.rsplit_once(':').map_or(text, |(w, _)| w).trim();
    let name = match words {
        "Hangup" => "HUP",
        "Interrupt" => "INT",
        "Quit" => "QUIT",
        "Illegal instruction" => "ILL",
        "Abort trap" => "ABRT",
        "Floating point exception" => "FPE",
        "Killed" => "KILL",
        "Bus error" => "BUS",
        "Segmentation fault" => "SEGV",
        "Terminated" => "TERM",
        "User defined signal 1" => "USR1",
        "User defined signal 2" => "USR2",
        "Alarm clock" => "ALRM",
        "Broken pipe" => "PIPE",
        _ => return text.to_string(),
    };
    name.to_string()
}

/// `launchctl print-disabled DOMAIN`: `"LABEL" => disabled` (or `=> true` before macOS 13).
fn parse_disabled(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (label, state) = line.trim().split_once(" => ")?;
            let disabled = matches!(state.trim(), "disabled" | "true");
            disabled.then(|| label.trim().trim_matches('"').to_string())
        })
        .collect()
}

/// The one status model from what launchd printed (`None`: not loaded, i.e. stopped).
fn status_from_print(service: &Service, printed: Option<&PrintedJob>) -> ServiceStatus {
    let mut status = ServiceStatus {
        state: State::Stopped,
        ..ServiceStatus::not_installed(&service.name, "launchd")
    };
    let Some(p) = printed else {
        return status;
    };
    status.pid = p.pid;
    status.restarts = p.runs.map(|r| r.saturating_sub(1));
    status.last_exit = p.last_exit.clone();
    let clean = p
        .last_exit
        .as_ref()
        .is_none_or(|exit| exit.is_clean(service.stop_signal, &service.success_exit_codes));
    status.state = match p.state.as_str() {
        "running" => State::Running,
        // Not running and not about to be: launchd will not bring it back.
        "not running" if clean => State::Stopped,
        "not running" => State::Dead,
        // `spawn scheduled` (a throttled restart), `xpcproxy` (being spawned).
        _ => State::Starting,
    };
    if status.state == State::Dead {
        status.reason = Some(match p.last_exit {
            Some(LastExit::Killed { .. }) => "signal".into(),
            _ => "exit-code".into(),
        });
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_live_in_the_console_users_gui_domain_else_the_user_domain() {
        assert_eq!(domain(Level::System, 0, Some(501)), "system");
        assert_eq!(domain(Level::User, 501, Some(501)), "gui/501");
        assert_eq!(domain(Level::User, 502, Some(501)), "user/502");
        assert_eq!(domain(Level::User, 502, None), "user/502");
    }

    #[test]
    fn signal_words_map_to_names_whatever_the_number() {
        assert_eq!(signal_from_description("Terminated: 15"), "TERM");
        assert_eq!(signal_from_description("User defined signal 1: 30"), "USR1");
        assert_eq!(signal_from_description("Weird: 99"), "Weird: 99");
    }

    #[test]
    fn disabled_overrides_in_both_spellings() {
        let text = "disabled services = {\n\t\"org.svc-any.a\" => disabled\n\t\"org.svc-any.b\" => enabled\n\t\"com.old\" => true\n\t\"com.on\" => false\n}\n";
        assert_eq!(parse_disabled(text), vec!["org.svc-any.a", "com.old"]);
    }

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
