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
//!
//! Where each part lives: `layout` finds the include directory and the run scripts' place;
//! `config` renders the program file and the run scripts, and says what supervisord can carry;
//! `supervisorctl` applies files and drives programs; `status` asks supervisord over XML-RPC for
//! every program's state and reads the last exits and restarts from its log. This file holds
//! the [`Backend`] methods that put them together.

mod config;
mod layout;
mod status;
mod supervisorctl;

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use crate::backends::carried;
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::error::bad;
use crate::model::spec::{self, Service, ServiceType};
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::host::Ctx;

use self::config::{carries, is_primary_group, log_file, run_script};
use self::layout::{include, script_dir};
use self::status::from_log;

pub struct Supervisord;

/// supervisord's programs: `NAME`, or `NAME@INSTANCE` for each instance.
fn units(service: &Service) -> Vec<(Option<String>, String)> {
    service.units('@')
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
