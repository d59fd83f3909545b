//! supervisord (Supervisor 4, as Debian's `supervisor` package or PyPI's runs it): one
//! `[program:NAME]` file in the directory its `[include] files=` reads (Debian
//! `/etc/supervisor/conf.d/*.conf`), applied with `supervisorctl reread` + `update`; driven
//! with `supervisorctl`, and asked over its XML-RPC interface for the state of every program
//! in one call.
//!
//! The traps this module owns:
//! - supervisord splits `command=` with `shlex` and reads its INI with `;`/`#` inline
//!   comments, one line per value, and `%` expansion: a newline, `;` after a blank or an odd
//!   quote cannot reach the program that way, and `environment=` (a non-POSIX `shlex`) strips
//!   the quotes at the ends of a value. So `command=/bin/sh RUN_SCRIPT`: the run script carries
//!   argv and environment as single-quoted shell words ([`crate::dialect::escape::sh`]) and
//!   `exec`s the program, and the INI holds only values its escaper
//!   ([`crate::dialect::escape::supervisord`]) writes exactly or refuses.
//! - supervisord starts an `autostart` program whenever it adds it, and re-adds a program
//!   whose file changed (`update` stops it first). The program's own file says
//!   `autostart=false`; enabling links a second file that says `autostart=true` into the
//!   include directory (its name sorts after the program's own), and svc-any applies the
//!   change to that one program at once, putting back the state it was in.
//! - There is no restart delay: supervisord restarts an exit at once; only a start that dies
//!   within `startsecs` backs off (1, 2, 3... s) and, after `startretries`, ends in FATAL.
//! - Instances are one `[program:NAME@INSTANCE]` each, in a `[group:NAME]`, so that each keeps
//!   its name, run script and log file; `NAME:*` acts on all of them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{anyhow, Context as _, Result};

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::escape::{sh, supervisord as ini, Unrepresentable};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::error::{bad, BadInput};
use crate::model::spec::{self, Limit, Restart, Service, ServiceType, Used};
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::process;

pub struct Supervisord;

/// Where supervisord looks for its configuration, in its own order (Debian's first).
const CONFIGS: &[&str] = &[
    "/etc/supervisor/supervisord.conf",
    "/etc/supervisord.conf",
    "/etc/supervisor.conf",
];
/// Debian's `[include]`, when no configuration can be read (an image tree being built).
const DEFAULT_INCLUDE: &str = "/etc/supervisor/conf.d/*.conf";
/// Where the programs' output goes without `log.file` (Debian's `childlogdir`).
const LOG_DIR: &str = "/var/log/supervisor";
/// How long a program must stay up to count as started (supervisord's default).
const STARTSECS: u32 = 1;
/// `restart_limit = 0` means "never give up"; supervisord has no such value, so this many.
const NEVER_GIVE_UP: u32 = 1_000_000;

/// Where the program files go: the directory and suffix of the first `[include] files=`
/// pattern of the target's configuration that has the `DIR/*SUFFIX` shape.
fn include(ctx: &Ctx) -> (PathBuf, String) {
    let parse = |pattern: &str, base: &Path| -> Option<(PathBuf, String)> {
        let path = base.join(pattern);
        let dir = path.parent()?.to_path_buf();
        let file = path.file_name()?.to_str()?;
        let suffix = file.strip_prefix('*')?;
        let plain = |s: &str| !s.contains(['*', '?', '[', '%']);
        (plain(suffix) && plain(&dir.to_string_lossy())).then(|| (dir, suffix.to_string()))
    };
    for conf in CONFIGS {
        let Ok(text) = std::fs::read_to_string(ctx.on_target(Path::new(conf))) else {
            continue;
        };
        let base = Path::new(conf).parent().unwrap_or(Path::new("/"));
        if let Some(found) = include_files(&text)
            .iter()
            .find_map(|pattern| parse(pattern, base))
        {
            return found;
        }
        break;
    }
    parse(DEFAULT_INCLUDE, Path::new("/")).expect("the default include has the shape")
}

/// The patterns of `[include] files=` in a supervisord configuration.
fn include_files(text: &str) -> Vec<String> {
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().to_string();
            continue;
        }
        if section != "include" {
            continue;
        }
        if let Some((key, value)) = line.split_once(['=', ':']) {
            if key.trim() == "files" {
                // An inline comment needs white space before it.
                let value = value
                    .split_whitespace()
                    .take_while(|w| !w.starts_with([';', '#']))
                    .map(String::from)
                    .collect();
                return value;
            }
        }
    }
    Vec::new()
}

/// supervisord's name of one unit: `NAME`, or `NAME@INSTANCE` for an instance.
fn program(service: &Service, instance: Option<&str>) -> String {
    match instance {
        Some(i) => format!("{}@{i}", service.name),
        None => service.name.clone(),
    }
}

fn units(service: &Service) -> Vec<(Option<String>, String)> {
    service
        .instance_names()
        .into_iter()
        .map(|i| (i.map(String::from), program(service, i)))
        .collect()
}

/// Where the run scripts live: `svc-any/` beside the include directory in supervisor's own
/// directory (Debian: `/etc/supervisor/svc-any`), `supervisord-svc-any/` where the include
/// directory sits in a shared one (RHEL's `/etc/supervisord.d`: `/etc/supervisord-svc-any`).
fn script_dir(include_dir: &Path) -> PathBuf {
    let parent = include_dir.parent().unwrap_or(Path::new("/etc"));
    let own = parent
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("supervisor"));
    parent.join(if own {
        "svc-any"
    } else {
        "supervisord-svc-any"
    })
}

fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("supervisord reads its files as INI lines: change the value")
    }
}

/// What supervisord carries of the keys of real daemons.
fn carries(used: &Used, _service: &Service) -> Verdict {
    match used.key {
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"") => Ok(()),
            _ => Err("supervisord runs one foreground process per program"),
        },
        "restart" => Err("supervisord restarts on any exit, on an unexpected one, or never"),
        // Debian's init script starts supervisord after $remote_fs $network $named.
        "after" | "requires"
            if used.value.as_deref().is_some_and(|v| {
                [
                    "network-online",
                    "network",
                    "nss-lookup",
                    "local-fs",
                    "remote-fs",
                ]
                .iter()
                .any(|f| v == format!("\"${f}\""))
            }) =>
        {
            Ok(())
        }
        "after" | "requires" | "wants" | "before" => {
            Err("supervisord orders programs by priority only: svc-any orders its own services")
        }
        // stderr_logfile= with redirect_stderr=false, rotated as stdout's.
        "log.stderr" => Ok(()),
        "env_file" => Err("svc-any does not map environment files to supervisord yet"),
        "systemd" => Err("the [systemd] table is for systemd only"),
        _ => Err("svc-any does not map it to supervisord yet"),
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The log file of one unit: `log.file`, else `LOG_DIR/UNIT.log`.
fn log_file(service: &Service, unit: &str) -> String {
    service
        .log
        .as_ref()
        .map_or_else(|| format!("{LOG_DIR}/{unit}.log"), |l| l.file.clone())
}

/// The run script of one unit.
fn run_script(ctx: &Ctx, service: &Service, instance: Option<&str>) -> Result<String> {
    let s = service.for_instance(instance);
    let mut c = render::context(service);
    let argv: Vec<String> = s
        .exec
        .iter()
        .map(|a| sh::quote(a))
        .collect::<Result<_, _>>()
        .map_err(field("exec"))?;
    c.insert("argv", &argv.join(" "));
    let mut env = Vec::new();
    for (k, v) in &s.env {
        let q = sh::quote(v).map_err(field(&format!("env.{k}")))?;
        env.push(format!("{k}={q}"));
    }
    c.insert("env", &env);
    let cd = match &s.working_dir {
        Some(d) => Some(sh::quote(d).map_err(field("working_dir"))?),
        None => None,
    };
    c.insert("cd", &cd);
    let mut ulimits = Vec::new();
    for (flag, limit) in [("-n", s.limits.nofile), ("-u", s.limits.nproc)] {
        match limit {
            Some(Limit::Value(n)) => ulimits.push(format!("{flag} {n}")),
            Some(Limit::Infinity) => ulimits.push(format!("{flag} unlimited")),
            None => {}
        }
    }
    c.insert("ulimits", &ulimits);
    // Run as root when it holds values (the script is then root's alone): setpriv takes the
    // user, their primary group and their groups, as supervisord's `user=` would.
    let switch = match (&s.user, s.env.is_empty()) {
        (Some(u), false) => {
            let q = sh::quote(u).map_err(field("user"))?;
            Some(format!(
                "setpriv --reuid={q} --regid=\"$(id -g {q})\" --init-groups --"
            ))
        }
        _ => None,
    };
    c.insert("switch", &switch);
    ctx.renderer.render("supervisord.run", &c)
}

#[derive(serde::Serialize)]
struct ProgramText {
    name: String,
    command: String,
    user: Option<String>,
    log: String,
    /// `log.stderr`: stderr in a file of its own (`redirect_stderr=false`).
    stderr: Option<String>,
}

impl Supervisord {
    fn conf(&self, ctx: &Ctx, service: &Service, scripts: &Path) -> Result<String> {
        let mut c = render::context(service);
        c.insert("name", &service.name);
        let mut programs = Vec::new();
        for (instance, unit) in units(service) {
            let s = service.for_instance(instance.as_deref());
            let script = scripts.join(format!("{unit}.sh"));
            let script = script
                .to_str()
                .ok_or_else(|| bad("the run script's path is not UTF-8"))?;
            let command = ini::command(&["/bin/sh".to_string(), script.to_string()])
                .map_err(field("name"))?;
            // A script that holds `env` values is root's alone: supervisord runs it as root
            // and the script switches to the user itself (see `run_script`).
            let user = match &s.user {
                Some(u) if s.env.is_empty() => Some(ini::value(u).map_err(field("user"))?),
                _ => None,
            };
            let log = ini::value(&log_file(&s, &unit)).map_err(field("log.file"))?;
            let stderr = match s.log.as_ref().and_then(|l| l.stderr.as_deref()) {
                Some(file) => Some(ini::value(file).map_err(field("log.stderr"))?),
                None => None,
            };
            programs.push(ProgramText {
                name: unit,
                command,
                user,
                log,
                stderr,
            });
        }
        c.insert("programs", &programs);
        let members: Vec<&str> = programs.iter().map(|p| p.name.as_str()).collect();
        c.insert(
            "members",
            &(!service.instances.is_empty()).then(|| members.join(",")),
        );
        c.insert(
            "autorestart",
            match service.restart {
                Restart::No => "false",
                Restart::Always => "true",
                _ => "unexpected",
            },
        );
        let codes: Vec<String> = std::iter::once(0)
            .chain(service.clean_exit_codes())
            .collect::<std::collections::BTreeSet<u8>>()
            .iter()
            .map(u8::to_string)
            .collect();
        c.insert("exitcodes", &codes.join(","));
        c.insert("startsecs", &STARTSECS);
        c.insert(
            "startretries",
            &match service.restart_limit {
                0 => NEVER_GIVE_UP,
                n => n,
            },
        );
        c.insert("stopsignal", service.stop_signal.name());
        c.insert("stopwaitsecs", &whole_seconds(service.stop_timeout).max(1));
        let (maxbytes, backups) = match &service.log {
            Some(l) => (l.max_size.unwrap_or(0), l.keep),
            None => (50 * 1024 * 1024, 10),
        };
        c.insert("maxbytes", &maxbytes);
        c.insert("backups", &backups);
        ctx.renderer.render("supervisord.conf", &c)
    }

    /// `supervisorctl ARGS`: its output, and whether it exited 0.
    fn ctl(&self, ctx: &Ctx, args: &[&str]) -> Result<(bool, String)> {
        let mut cmd = process::tool("supervisorctl")?;
        cmd.args(args);
        ctx.report.command(&process::describe(&cmd));
        let out = cmd
            .output()
            .with_context(|| "running supervisorctl".to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Applies the configuration of the named groups (added, changed or removed), one
    /// `update` each, in the order given.
    fn update(&self, ctx: &Ctx, groups: &[String]) -> Result<()> {
        for group in groups {
            let (ok, text) = self.ctl(ctx, &["update", group])?;
            if !ok || text.contains("ERROR") {
                return Err(anyhow!(
                    "supervisorctl update {group} failed: {}",
                    text.trim()
                ));
            }
        }
        Ok(())
    }

    /// `reread`, as lines `GROUP: available|changed|disappeared`.
    fn reread(&self, ctx: &Ctx) -> Result<Vec<(String, String)>> {
        let (ok, text) = self.ctl(ctx, &["reread"])?;
        if !ok {
            return Err(anyhow!("supervisorctl reread failed: {}", text.trim()));
        }
        Ok(text
            .lines()
            .filter_map(|l| {
                let (name, what) = l.rsplit_once(": ")?;
                matches!(what, "available" | "changed" | "disappeared")
                    .then(|| (name.trim().to_string(), what.to_string()))
            })
            .collect())
    }

    /// The state of every program, and the tail of supervisord's own log, in one XML-RPC
    /// conversation (`getAllProcessInfo`, `readLog`), through supervisor's own client code.
    fn snapshot(&self, ctx: &Ctx) -> Result<Snapshot> {
        const SCRIPT: &str = r#"
import json, sys
from supervisor.options import ClientOptions
o = ClientOptions()
o.realize(args=[])
p = o.getServerProxy()
info = p.supervisor.getAllProcessInfo()
try:
    log = p.supervisor.readLog(-262144, 0)
except Exception:
    log = ""
json.dump({"info": info, "log": log}, sys.stdout)
"#;
        let python = interpreter()?;
        let mut cmd = Command::new(&python);
        cmd.args(["-c", SCRIPT]);
        ctx.report.command(&format!(
            "{} -c <getAllProcessInfo and readLog over supervisord's XML-RPC>",
            python.display()
        ));
        let out = cmd
            .output()
            .context("running python3 for supervisord's state")?;
        if !out.status.success() {
            return Err(anyhow!(
                "asking supervisord over XML-RPC failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).context("reading supervisord's XML-RPC answer")
    }

    /// Applies a changed `autostart` to the service's programs now, leaving each in the state
    /// it was in (supervisord stops a program it re-adds, and starts it if autostart).
    fn apply_autostart(&self, ctx: &Ctx, service: &Service) -> Result<()> {
        if !ctx.live {
            return Ok(());
        }
        let before = self.snapshot(ctx)?;
        let mine = |snap: &Snapshot| -> Vec<(String, bool)> {
            units(service)
                .into_iter()
                .filter_map(|(_, unit)| {
                    let p = snap.info.iter().find(|p| p.name == unit)?;
                    Some((
                        unit,
                        matches!(p.statename.as_str(), "RUNNING" | "STARTING" | "BACKOFF"),
                    ))
                })
                .collect()
        };
        let was = mine(&before);
        if was.is_empty() {
            // Not loaded yet: the install's own reload adds it.
            return Ok(());
        }
        self.reread(ctx)?;
        self.update(ctx, std::slice::from_ref(&service.name))?;
        let now = mine(&self.snapshot(ctx)?);
        for (unit, running) in was {
            let runs_now = now.iter().any(|(u, r)| *u == unit && *r);
            let spec = format!("{}:{unit}", service.name);
            if running && !runs_now {
                self.ctl(ctx, &["start", &spec])?;
            } else if !running && runs_now {
                self.ctl(ctx, &["stop", &spec])?;
            }
        }
        Ok(())
    }
}

/// Whether `group` is the primary group of `user` (root's without one) in the target's
/// /etc/passwd and /etc/group: the group supervisord's `user=` runs the program with.
fn is_primary_group(ctx: &Ctx, user: Option<&str>, group: &str) -> bool {
    let read = |f: &str| std::fs::read_to_string(ctx.on_target(Path::new(f))).unwrap_or_default();
    let field = |text: &str, name: &str, n: usize| -> Option<String> {
        text.lines()
            .map(|l| l.split(':').collect::<Vec<_>>())
            .find(|f| f.first() == Some(&name))
            .and_then(|f| f.get(n).map(|s| s.to_string()))
    };
    let gid = match user {
        Some(u) => field(&read("/etc/passwd"), u, 3),
        None => Some("0".to_string()),
    };
    gid.is_some() && gid == field(&read("/etc/group"), group, 2)
}

/// The Python that runs supervisorctl (its `#!` line), which imports supervisor's client.
fn interpreter() -> Result<PathBuf> {
    let ctl = process::find_tool("supervisorctl")?;
    let head = std::fs::read(&ctl).unwrap_or_default();
    let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    if let Some(rest) = first.strip_prefix("#!") {
        let mut words = rest.split_whitespace();
        if let Some(prog) = words.next() {
            // `#!/usr/bin/env python3`
            if prog.ends_with("/env") {
                if let Some(name) = words.next() {
                    return process::find_tool(name);
                }
            }
            return Ok(PathBuf::from(prog));
        }
    }
    process::find_tool("python3")
}

#[derive(serde::Deserialize)]
struct Snapshot {
    info: Vec<ProcessInfo>,
    #[serde(default)]
    log: String,
}

#[derive(serde::Deserialize)]
struct ProcessInfo {
    name: String,
    group: String,
    statename: String,
    #[serde(default)]
    pid: u32,
    #[serde(default)]
    start: u64,
    #[serde(default)]
    stop: u64,
    #[serde(default)]
    exitstatus: i64,
    #[serde(default)]
    spawnerr: String,
}

/// What supervisord's log says of `program`: how it last ended, and how many times it was
/// spawned again after an exit its policy restarts, since the last start asked for.
fn from_log(log: &str, program: &str, restart: Restart) -> (Option<LastExit>, u32) {
    let spawned = format!(" spawned: '{program}' with pid ");
    let exited = format!(" exited: {program} (");
    let stopped = format!(" stopped: {program} (");
    let mut last = None;
    let mut restarts = 0;
    let mut auto = false;
    for line in log.lines() {
        if line.contains(&spawned) {
            if auto {
                restarts += 1;
            } else {
                restarts = 0;
            }
            auto = false;
        } else if let Some(rest) = line
            .split_once(&exited)
            .or_else(|| line.split_once(&stopped))
            .map(|(_, r)| r)
        {
            let how = rest.split([';', ')']).next().unwrap_or_default();
            last = if let Some(code) = how.strip_prefix("exit status ") {
                code.trim()
                    .parse()
                    .ok()
                    .map(|code| LastExit::Exited { code })
            } else {
                how.strip_prefix("terminated by SIG")
                    .map(|s| LastExit::Killed {
                        signal: s.split_whitespace().next().unwrap_or_default().to_string(),
                    })
            };
            auto = line.contains(&exited)
                && match restart {
                    Restart::Always => true,
                    Restart::No => false,
                    _ => rest.contains("not expected"),
                };
        }
    }
    (last, restarts)
}

impl Backend for Supervisord {
    fn name(&self) -> &'static str {
        "supervisord"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        debug_assert!(matches!(
            service.daemon.service_type,
            None | Some(ServiceType::Simple | ServiceType::Exec)
        ));
        spec::refuse_systemd_units(service, self.name())?;
        if service
            .group
            .as_deref()
            .is_some_and(|g| !is_primary_group(ctx, service.user.as_deref(), g))
        {
            return Err(bad(format!(
                "not carried by {}: group (supervisord runs a program as `user` with that \
                 user's own groups: only the user's primary group can be named)",
                self.name()
            ))
            .key("group")
            .into());
        }
        if service.env_file.is_some() {
            return Err(bad(format!(
                "not carried by {}: env_file (svc-any does not map environment files to \
                 supervisord yet)",
                self.name()
            ))
            .key("env_file")
            .into());
        }
        let (include_dir, suffix) = include(ctx);
        let scripts = script_dir(&include_dir);
        let conf = include_dir.join(format!("{}{suffix}", service.name));
        let mut files = vec![FileSpec {
            path: conf,
            mode: 0o644,
            content: self.conf(ctx, service, &scripts)?,
        }];
        for (instance, unit) in units(service) {
            files.push(FileSpec {
                path: scripts.join(format!("{unit}.sh")),
                mode: render::mode_for_values(service),
                content: run_script(ctx, service, instance.as_deref())?,
            });
        }
        let mut c = render::context(service);
        let programs: Vec<String> = units(service).into_iter().map(|(_, u)| u).collect();
        c.insert("programs", &programs);
        let enabled = scripts.join(format!("{}.enabled", service.name));
        files.push(FileSpec {
            path: enabled.clone(),
            mode: 0o644,
            content: ctx.renderer.render("supervisord.enabled", &c)?,
        });
        // `~` is in no service name and sorts after `.`: read after the program's own file.
        Ok(Plan {
            files,
            links: Vec::new(),
            enable_links: vec![LinkSpec {
                path: include_dir.join(format!("{}~enabled{suffix}", service.name)),
                target: enabled,
            }],
        })
    }

    /// `reread`, then `update` of each group that came, changed or went, svc-any's own in
    /// dependency order (an autostart program starts as it is added).
    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        let changes = self.reread(ctx)?;
        if changes.is_empty() {
            return Ok(());
        }
        let records = crate::system::records::all(ctx).unwrap_or_default();
        let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
        let mut order: Vec<String> = changes
            .iter()
            .filter(|(_, what)| what == "disappeared")
            .map(|(g, _)| g.clone())
            .collect();
        let pending: Vec<&String> = changes
            .iter()
            .filter(|(_, what)| what != "disappeared")
            .map(|(g, _)| g)
            .collect();
        for s in spec::dependency_order(&services) {
            if pending.contains(&&s.name) {
                order.push(s.name.clone());
            }
        }
        for g in pending {
            if !order.contains(g) {
                order.push(g.clone());
            }
        }
        self.update(ctx, &order)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let specs: Vec<String> = services.iter().map(|s| format!("{}:*", s.name)).collect();
        let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
        let (args, tolerated): (Vec<&str>, &[&str]) = match verb {
            Verb::Start => (vec!["start"], &["already started"]),
            Verb::Stop => (vec!["stop"], &["not running"]),
            Verb::Restart => (vec!["restart"], &["not running"]),
            Verb::Reload => {
                let mut by_signal: Vec<(&str, &str)> = Vec::new();
                for s in services {
                    if let Some(sig) = s.reload_signal {
                        by_signal.push((sig.name(), &s.name));
                    }
                }
                for (sig, name) in by_signal {
                    let spec = format!("{name}:*");
                    let (ok, text) = self.ctl(ctx, &["signal", sig, &spec])?;
                    if !ok || text.contains("ERROR") {
                        return Err(anyhow!(
                            "supervisorctl signal {sig} {spec} failed: {}",
                            text.trim()
                        ));
                    }
                }
                return Ok(());
            }
        };
        let mut argv = args;
        argv.extend(&specs);
        let (_, text) = self.ctl(ctx, &argv)?;
        let errors: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("ERROR") && !tolerated.iter().any(|t| l.contains(t)))
            .collect();
        if !errors.is_empty() {
            return Err(anyhow!(
                "supervisorctl {}: {}",
                verb.as_str(),
                errors.join("; ")
            ));
        }
        Ok(())
    }

    /// One XML-RPC conversation for the whole table; the last exit and the restarts from
    /// the tail of supervisord's own log.
    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let snap = self.snapshot(ctx)?;
        let (include_dir, suffix) = include(ctx);
        let mut out = Vec::new();
        for service in services {
            let installed = ctx
                .on_target(&include_dir.join(format!("{}{suffix}", service.name)))
                .exists();
            let enabled = ctx
                .on_target(&include_dir.join(format!("{}~enabled{suffix}", service.name)))
                .exists();
            for (instance, unit) in units(service) {
                let info = snap
                    .info
                    .iter()
                    .find(|p| p.name == unit && p.group == service.name);
                let (last_exit, restarts) = from_log(&snap.log, &unit, service.restart);
                let clean = |e: &Option<LastExit>| {
                    e.as_ref().is_some_and(|e| {
                        e.is_clean(service.stop_signal, &service.success_exit_codes)
                    })
                };
                let (state, reason) = match info.map(|p| p.statename.as_str()) {
                    None if !installed => (State::NotInstalled, None),
                    None => (
                        State::Unknown,
                        Some("supervisord has not loaded it (supervisorctl reread; update)".into()),
                    ),
                    Some("RUNNING") => (State::Running, None),
                    Some("STARTING") => (State::Starting, None),
                    Some("BACKOFF") => (
                        State::Starting,
                        info.map(|p| p.spawnerr.clone()).filter(|e| !e.is_empty()),
                    ),
                    Some("STOPPING") => (State::Running, Some("stopping".into())),
                    Some("STOPPED") => (State::Stopped, None),
                    Some("EXITED") => {
                        let code = info.map_or(-1, |p| p.exitstatus);
                        let expected = u8::try_from(code)
                            .is_ok_and(|c| c == 0 || service.clean_exit_codes().contains(&c));
                        if expected || clean(&last_exit) {
                            (State::Stopped, None)
                        } else {
                            (State::Dead, last_exit.as_ref().map(|e| e.to_string()))
                        }
                    }
                    Some("FATAL") => (
                        State::Failed,
                        Some(format!(
                            "supervisord gave up (FATAL): {}",
                            info.map(|p| p.spawnerr.as_str()).unwrap_or_default()
                        )),
                    ),
                    Some(_) => (State::Unknown, None),
                };
                let pid = info
                    .map(|p| p.pid)
                    .filter(|p| *p != 0 && matches!(state, State::Running | State::Starting));
                let since = info.and_then(|p| match state {
                    State::Running | State::Starting => (p.start != 0).then_some(p.start),
                    _ => (p.stop != 0).then_some(p.stop),
                });
                out.push(ServiceStatus {
                    name: service.name.clone(),
                    instance,
                    backend: "supervisord".into(),
                    unit: format!("{}:{unit}", service.name),
                    state,
                    pid,
                    since,
                    restarts: info.map(|_| restarts),
                    last_exit,
                    enabled: installed.then_some(enabled),
                    reason,
                });
            }
        }
        Ok(out)
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        crate::system::logfiles::tail_files(ctx, &self.log_files(ctx, service), options)
    }

    fn log_files(&self, _ctx: &Ctx, service: &Service) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = units(service)
            .iter()
            .map(|(i, unit)| PathBuf::from(log_file(&service.for_instance(i.as_deref()), unit)))
            .collect();
        files.extend(crate::system::logfiles::stderr_files(service));
        files
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let (dir, suffix) = include(ctx);
        Ok(render::marked_names(&ctx.on_target(&dir), &suffix))
    }

    fn enable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = crate::system::bootlinks::create_boot_links(ctx, links)?;
        if changed {
            self.apply_autostart(ctx, service)?;
        }
        Ok(changed)
    }

    fn disable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = crate::system::bootlinks::remove_boot_links(ctx, links)?;
        if changed {
            self.apply_autostart(ctx, service)?;
        }
        Ok(changed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_scripts_go_beside_the_include_directory() {
        assert_eq!(
            script_dir(Path::new("/etc/supervisor/conf.d")),
            Path::new("/etc/supervisor/svc-any")
        );
        assert_eq!(
            script_dir(Path::new("/etc/supervisord.d")),
            Path::new("/etc/supervisord-svc-any")
        );
    }

    #[test]
    fn include_patterns_are_read_with_their_comments_cut() {
        let conf = "[supervisord]\nlogfile=/x\n\n[include]\nfiles = /etc/supervisor/conf.d/*.conf ; the programs\n";
        assert_eq!(include_files(conf), ["/etc/supervisor/conf.d/*.conf"]);
        let conf = "[include]\nfiles=a/*.ini b/*.conf\n";
        assert_eq!(include_files(conf), ["a/*.ini", "b/*.conf"]);
        assert!(include_files("[unix_http_server]\nfiles=x\n").is_empty());
    }

    #[test]
    fn the_log_tells_the_last_exit_and_the_restarts_since_the_last_start() {
        let log = "\
2026-11-30 23:00:00,000 INFO spawned: 'web' with pid 10
2026-11-30 23:00:01,000 INFO success: web entered RUNNING state
2026-11-30 23:00:05,000 WARN exited: web (terminated by SIGKILL; not expected)
2026-11-30 23:00:05,100 INFO spawned: 'web' with pid 11
2026-11-30 23:00:06,000 INFO spawned: 'webx' with pid 12
";
        let (last, restarts) = from_log(log, "web", Restart::OnFailure);
        assert_eq!(
            last,
            Some(LastExit::Killed {
                signal: "KILL".into()
            })
        );
        assert_eq!(restarts, 1);
        let log = format!(
            "{log}2026-11-30 23:00:07,000 INFO stopped: web (exit status 143)\n\
             2026-11-30 23:00:08,000 INFO spawned: 'web' with pid 13\n"
        );
        let (last, restarts) = from_log(&log, "web", Restart::OnFailure);
        assert_eq!(last, Some(LastExit::Exited { code: 143 }));
        assert_eq!(restarts, 0);
    }
}
