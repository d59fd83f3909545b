//! systemd: a unit file per service (`NAME.service`, or the template `NAME@.service` for
//! `instances`), driven with `systemctl` and read with `journalctl`.
//!
//! The traps this module owns:
//! - `ExecStart=` expands `%` specifiers and, at run time, `$VAR`: the line carries the `:`
//!   prefix and every argument is quoted by [`crate::dialect::escape::systemd`].
//! - A JVM (or a shell with a TERM trap) stopped with SIGTERM exits 143, which systemd would call
//!   a failure: `SuccessExitStatus=` lists 128 + the stop signal and the signal itself.
//! - `systemd-analyze verify` exits 0 on warnings; the tests demand an empty stderr instead.
//! - systemd before 254 (Debian 11's 247, Debian 12's 252) has no restart backoff: only
//!   `RestartSec=` is emitted, and the start limit (5 starts in 10 s) ends a crash loop in
//!   `failed`. From 254 on, `restart_max_delay` becomes `RestartSteps=`/`RestartMaxDelaySec=`
//!   (`backoff_lines`, in `unit.rs`). The version is `render --for`'s, the tree's or the
//!   running one's ([`crate::system::version::systemd`]); unknown renders for the oldest, which
//!   every later systemd reads the same. Every other key emitted exists in 247.
//!
//! The module is in three parts: this file has the `Backend` impl and the `systemctl` and
//! `journalctl` calls; `unit` writes the unit file (every key of a definition mapped to its
//! setting); `state` reads what systemd says (`list-units`, `show`) and what the kernel says
//! (a unit's cgroup, its main pid, when it started).

mod state;
mod unit;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::error::bad;
use crate::model::spec::{Level, Service, Used};
use crate::model::status::{ServiceStatus, State};
use crate::system::bootlinks;
use crate::system::host::Ctx;
use crate::system::process;

use self::state::{
    boot_link, cgroup_dir, main_pid, parse_list_units, parse_show, status_from_show, BootClock,
    SHOW_PROPERTIES,
};
use self::unit::secret_env;

pub struct Systemd;

/// The directory the manager of `ctx.level` loads admin units from.
fn unit_dir(ctx: &Ctx) -> PathBuf {
    match ctx.level {
        Level::System => PathBuf::from("/etc/systemd/system"),
        Level::User => ctx.user_config_dir().join("systemd/user"),
    }
}

/// The unit file's name: `NAME.service`, or `NAME@.service` for an instanced service.
fn unit_file_name(service: &Service) -> String {
    if service.instances.is_empty() {
        format!("{}.service", service.name)
    } else {
        format!("{}@.service", service.name)
    }
}

/// The units that run: one, or `NAME@INSTANCE.service` for each instance.
fn unit_names(service: &Service) -> Vec<(Option<String>, String)> {
    service
        .instance_names()
        .into_iter()
        .map(|i| match i {
            None => (None, format!("{}.service", service.name)),
            Some(i) => (
                Some(i.to_string()),
                format!("{}@{}.service", service.name, i),
            ),
        })
        .collect()
}

/// systemd carries every key: the one place a refusal would go.
fn carries(used: &Used, _service: &Service) -> Verdict {
    match used.key {
        "log.timestamps" => Err(NO_STAMPS),
        _ => Ok(()),
    }
}

/// `logs`'s options as journalctl's.
fn journal_options(cmd: &mut std::process::Command, options: LogOptions) {
    let lines = match options.lines {
        usize::MAX => "all".to_string(),
        n => n.to_string(),
    };
    cmd.args(["--no-pager", "--lines", &lines]);
    if let Some(since) = options.since {
        cmd.arg(format!("--since=@{since}"));
    }
    if options.follow {
        cmd.arg("--follow");
    }
}

/// Why a stamp on each line of `log.file` is svc-any's supervisor's alone.
const NO_STAMPS: &str =
    "systemd writes log.file as the process wrote it, with no time on its lines \
     (drop [log]: the journal keeps a time for every line)";
fn wanted_by(ctx: &Ctx) -> &'static str {
    match ctx.level {
        Level::System => "multi-user.target",
        Level::User => "default.target",
    }
}

impl Systemd {
    /// `systemctl enable|disable` of the units `Also=` names, as `systemctl enable` of this
    /// unit would; offline, in the tree (`--root`).
    fn also(&self, ctx: &Ctx, service: &Service, verb: &str) -> Result<()> {
        let also: Vec<&str> = service
            .daemon
            .systemd
            .install
            .iter()
            .filter(|(k, _)| k == "Also")
            .flat_map(|(_, v)| v.split_whitespace())
            .collect();
        if also.is_empty() {
            return Ok(());
        }
        let mut cmd = self.systemctl(ctx)?;
        if !ctx.live {
            cmd.arg(format!("--root={}", ctx.root.display()));
        }
        ctx.run(cmd.arg(verb).arg("--").args(&also))?;
        ctx.say(format!("{verb}d with it (Also=): {}", also.join(" ")));
        Ok(())
    }

    fn systemctl(&self, ctx: &Ctx) -> Result<Command> {
        let mut cmd = process::tool("systemctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
            user_bus_env(&mut cmd);
        }
        Ok(cmd)
    }
}

/// `systemctl --user` finds the user manager through `$XDG_RUNTIME_DIR`; a `su`/`runuser`
/// session may lack it, and the manager's directory is always `/run/user/UID`.
fn user_bus_env(cmd: &mut Command) {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = format!("/run/user/{}", nix::unistd::geteuid());
        if Path::new(&dir).is_dir() {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
    }
}

impl Backend for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        let context = self.context(ctx, service)?;
        let content = ctx.renderer.render("systemd.service", &context)?;
        // A template from --template-dir written before these keys existed would drop them
        // without a word: every line they make must be in the unit.
        let (unit, mut svc, install) = self.daemon_lines(service)?;
        let secrets = secret_env(ctx, service)?;
        if let Some((line, _)) = &secrets {
            svc.push(line.clone());
        }
        if let Some(lost) = unit
            .iter()
            .chain(&svc)
            .chain(&install)
            .find(|l| !content.lines().any(|c| c == l.as_str()))
        {
            return Err(bad(format!(
                "the systemd.service template drops `{lost}`, which the definition asks for"
            ))
            .hint("lay out unit_lines, service_lines and install_lines in the template (see the built-in one)")
            .into());
        }
        let dir = unit_dir(ctx);
        let file = dir.join(unit_file_name(service));
        let wants = dir.join(format!("{}.wants", wanted_by(ctx)));
        let mut links: Vec<PathBuf> = unit_names(service)
            .into_iter()
            .map(|(_, unit)| wants.join(unit))
            .collect();
        // Further targets from `[systemd.install] WantedBy`: the links `systemctl enable` makes.
        for (k, target) in &service.daemon.systemd.install {
            if k == "WantedBy" {
                let more = dir.join(format!("{target}.wants"));
                links.extend(unit_names(service).into_iter().map(|(_, u)| more.join(u)));
            }
        }
        // What `systemctl enable` makes for Alias=: a link by the other name.
        if service.instances.is_empty() {
            links.extend(
                service
                    .daemon
                    .aliases
                    .iter()
                    .map(|a| dir.join(format!("{a}.service"))),
            );
        }
        let mut plan = Plan::one_file(file, 0o644, content, links);
        plan.files
            .extend(secrets.into_iter().flat_map(|(_, files)| files));
        Ok(plan)
    }

    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        let mut cmd = self.systemctl(ctx)?;
        ctx.run(cmd.arg("daemon-reload"))?;
        Ok(())
    }

    /// The unit's own links, then, the first time, what `[systemd.install] Also=` names, by
    /// `systemctl enable` (the units are the package's, svc-any does not know their links).
    fn enable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = bootlinks::create_boot_links(ctx, links)?;
        if changed {
            self.also(ctx, service, "enable")?;
        }
        Ok(changed)
    }

    fn disable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = bootlinks::remove_boot_links(ctx, links)?;
        if changed {
            self.also(ctx, service, "disable")?;
        }
        Ok(changed)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let units: Vec<String> = services
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        if units.is_empty() {
            return Ok(());
        }
        if matches!(verb, Verb::Start | Verb::Restart) {
            // StartLimitBurst= counts every start, so a few deliberate restarts within the
            // interval would be refused as a crash loop ("start ... attempted too often").
            // restart_limit is about crashes: a start someone asks for clears the count, as
            // the builtin supervisor does. Failure here is harmless; the start says what's wrong.
            let mut reset = self.systemctl(ctx)?;
            let _ = ctx.run(reset.arg("reset-failed").arg("--").args(&units));
        }
        let mut cmd = self.systemctl(ctx)?;
        ctx.run(cmd.arg(verb.as_str()).arg("--").args(&units))?;
        Ok(())
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let targets: Vec<(&Service, Option<String>, String)> = services
            .iter()
            .flat_map(|s| unit_names(s).into_iter().map(move |(i, u)| (*s, i, u)))
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.systemctl(ctx)?;
        cmd.args(["show", "--property", SHOW_PROPERTIES, "--"]);
        cmd.args(targets.iter().map(|(_, _, u)| u));
        let text = ctx.run(&mut cmd)?;
        let blocks = parse_show(&text);
        if blocks.len() != targets.len() {
            anyhow::bail!(
                "systemctl show answered {} units for {} asked",
                blocks.len(),
                targets.len()
            );
        }
        Ok(targets
            .into_iter()
            .zip(blocks)
            .map(|((service, instance, unit), props)| {
                status_from_show(&service.name, instance, unit, &props)
            })
            .collect())
    }

    /// One `systemctl list-units` for every state (one D-Bus call, where `systemctl show`
    /// makes one per unit and costs about as much as 40 of it for 200 units). A unit that
    /// runs gets its pid from its cgroup and its start time from the kernel, a stopped one
    /// nothing more; every other unit (failed, activating, not loaded, or one whose main
    /// process cannot be told from its cgroup) is asked with `systemctl show`, as
    /// [`Backend::status`] does. Restarts and the last exit are left empty for the units
    /// that simply run or are stopped.
    fn status_summary(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let targets: Vec<(&Service, Option<String>, String)> = services
            .iter()
            .flat_map(|s| unit_names(s).into_iter().map(move |(i, u)| (*s, i, u)))
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.systemctl(ctx)?;
        cmd.args([
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--no-pager",
            "--",
        ]);
        cmd.args(targets.iter().map(|(_, _, u)| u));
        let listing = ctx.run(&mut cmd)?;
        let listed = parse_list_units(&listing);
        let cgroups = cgroup_dir(ctx);
        let clock = BootClock::read();
        let mut out: Vec<Option<ServiceStatus>> = Vec::new();
        let mut ask: Vec<&Service> = Vec::new();
        for (service, instance, unit) in &targets {
            let enabled = Some(boot_link(ctx, unit).symlink_metadata().is_ok());
            let status = |state, pid: Option<u32>| ServiceStatus {
                name: service.name.clone(),
                instance: instance.clone(),
                backend: "systemd".into(),
                unit: unit.clone(),
                state,
                pid,
                since: pid.and_then(|p| clock.as_ref()?.started_at(p)),
                restarts: None,
                last_exit: None,
                enabled,
                reason: None,
            };
            let known = match listed.get(unit.as_str()).map(|(l, a, s)| (*l, *a, *s)) {
                Some(("loaded", "active", "running")) => cgroups
                    .as_ref()
                    .and_then(|dir| main_pid(&dir.join(unit)))
                    .map(|pid| status(State::Running, Some(pid))),
                Some(("loaded", "inactive", "dead")) => Some(status(State::Stopped, None)),
                _ => None,
            };
            if known.is_none() && !ask.iter().any(|s| std::ptr::eq(*s, *service)) {
                ask.push(service);
            }
            out.push(known);
        }
        if ask.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        // The whole of each service asked for is taken from the full answer.
        let full = self.status(ctx, &ask)?;
        let mut merged = Vec::new();
        for ((service, _, unit), known) in targets.iter().zip(out) {
            if ask.iter().any(|s| std::ptr::eq(*s, *service)) {
                if let Some(s) = full.iter().find(|s| s.unit == *unit) {
                    merged.push(s.clone());
                }
            } else if let Some(s) = known {
                merged.push(s);
            }
        }
        Ok(merged)
    }

    /// The journal keeps a time for every line; a `log.file` gets the lines as they came.
    fn log_times(&self, service: &Service) -> Result<(), &'static str> {
        match &service.log {
            Some(_) => Err(NO_STAMPS),
            None => Ok(()),
        }
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        if service.log.is_some() {
            return crate::system::logfiles::tail_files(
                ctx,
                &self.log_files(ctx, service),
                options,
            );
        }
        let mut cmd = process::tool("journalctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
        }
        journal_options(&mut cmd, options);
        for (_, unit) in unit_names(service) {
            cmd.args(["--unit", &unit]);
        }
        ctx.run_attached(&mut cmd)
    }

    /// The journal names each line's unit: one `journalctl` for all of them.
    fn logs_of_several(
        &self,
        ctx: &Ctx,
        services: &[&Service],
        options: LogOptions,
    ) -> Result<i32> {
        let in_files = services.iter().filter(|s| s.log.is_some()).count();
        if in_files == services.len() {
            let sources = super::log_sources(self, ctx, services);
            return crate::system::logfiles::show_prefixed(ctx, &sources, options);
        }
        if in_files > 0 {
            return Err(
                bad("these services log to different places (the journal, and log.file)")
                    .key("log.file")
                    .hint("ask for the ones with log.file and the others in two commands")
                    .into(),
            );
        }
        let mut cmd = process::tool("journalctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
        }
        journal_options(&mut cmd, options);
        for service in services {
            for (_, unit) in unit_names(service) {
                cmd.args(["--unit", &unit]);
            }
        }
        ctx.run_attached(&mut cmd)
    }

    fn render_group(&self, ctx: &Ctx, group: &str, members: &[&Service]) -> Result<Vec<FileSpec>> {
        let mut c = tera::Context::new();
        c.insert("marker", &render::marker_line("#", group, None));
        c.insert("name", group);
        let units: Vec<String> = members
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        c.insert("members", &units);
        Ok(vec![FileSpec {
            path: unit_dir(ctx).join(format!("{group}.target")),
            mode: 0o644,
            content: ctx.renderer.render("systemd.target", &c)?,
        }])
    }

    /// `systemctl try-restart`: systemd restarts exactly the units that are active.
    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        let running = super::running_labels(&self.status(ctx, services)?);
        let units: Vec<String> = services
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        if !units.is_empty() {
            let mut cmd = self.systemctl(ctx)?;
            ctx.run(cmd.arg("try-restart").arg("--").args(&units))?;
        }
        Ok(running)
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(&unit_dir(ctx));
        Ok(render::marked_names(&dir, ".service")
            .into_iter()
            .map(|n| n.trim_end_matches('@').to_string())
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal is asked for the time itself, for one service or several, and `--since`
    /// without `-n` means every line since.
    #[test]
    fn logs_options_reach_journalctl() {
        let args = |options: LogOptions| {
            let mut cmd = std::process::Command::new("journalctl");
            journal_options(&mut cmd, options);
            cmd.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        let plain = LogOptions {
            follow: false,
            lines: 50,
            since: None,
        };
        assert_eq!(args(plain), ["--no-pager", "--lines", "50"]);
        let since = LogOptions {
            follow: true,
            lines: usize::MAX,
            since: Some(1_796_082_067),
        };
        assert_eq!(
            args(since),
            [
                "--no-pager",
                "--lines",
                "all",
                "--since=@1796082067",
                "--follow"
            ]
        );
    }
}
