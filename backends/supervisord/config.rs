//! The files svc-any writes for supervisord: the `[program:NAME]` file (a `[group:NAME]` of
//! instances), the run script that carries argv and environment as shell words, and what of
//! a definition supervisord can carry at all.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::{units, Supervisord};
use crate::backends::carried::Verdict;
use crate::dialect::escape::{sh, supervisord as ini, Unrepresentable};
use crate::dialect::render;
use crate::model::error::{bad, BadInput};
use crate::model::spec::{Limit, Restart, Service, Used};
use crate::system::host::Ctx;

/// Where the programs' output goes without `log.file` (Debian's `childlogdir`).
const LOG_DIR: &str = "/var/log/supervisor";
/// How long a program must stay up to count as started (supervisord's default).
const STARTSECS: u32 = 1;
/// `restart_limit = 0` means "never give up"; supervisord has no such value, so this many.
const NEVER_GIVE_UP: u32 = 1_000_000;

fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("supervisord reads its files as INI lines: change the value")
    }
}

/// What supervisord carries of the keys of real daemons.
pub(super) fn carries(used: &Used, _service: &Service) -> Verdict {
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
        // umask= of the program: supervisord sets it in the child before it execs the run
        // script, which keeps it through setpriv to the program.
        "umask" => Ok(()),
        "env_file" => Err("svc-any does not map environment files to supervisord yet"),
        "systemd" => Err("the [systemd] table is for systemd only"),
        _ => Err("svc-any does not map it to supervisord yet"),
    }
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// The log file of one unit: `log.file`, else `LOG_DIR/UNIT.log`.
pub(super) fn log_file(service: &Service, unit: &str) -> String {
    service
        .log
        .as_ref()
        .map_or_else(|| format!("{LOG_DIR}/{unit}.log"), |l| l.file.clone())
}

/// The run script of one unit.
pub(super) fn run_script(ctx: &Ctx, service: &Service, instance: Option<&str>) -> Result<String> {
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
    /// `umask=`, in octal as supervisord reads it.
    umask: Option<String>,
}

impl Supervisord {
    pub(super) fn conf(&self, ctx: &Ctx, service: &Service, scripts: &Path) -> Result<String> {
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
                umask: s.daemon.umask.map(|u| format!("{u:04o}")),
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
}

/// Whether `group` is the primary group of `user` (root's without one) in the target's
/// /etc/passwd and /etc/group: the group supervisord's `user=` runs the program with.
pub(super) fn is_primary_group(ctx: &Ctx, user: Option<&str>, group: &str) -> bool {
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
