//! runit (Void's init, an option on Artix and Devuan, Debian's `runit-init`): a service
//! directory `/etc/sv/UNIT` with `run`, `finish` and `log/run` (svlogd), linked into the scan
//! directory that runsvdir watches; driven with `sv`. A unit is `NAME`, or `NAME@INSTANCE` for
//! each instance.
//!
//! The traps this module owns:
//! - runsv restarts whatever is wanted up, after any end: it knows no policy. `finish` (which
//!   runsv runs after every end, with the exit code and the wait status) records how the
//!   process ended and, where the policy says stay down, asks runsv for "down" before it ends;
//!   `restart_delay` and its backoff are a sleep in `finish`, `restart_limit` a counter there
//!   that ends in `failed`. Its records live in `/run/svc-any/runit/UNIT` (tmpfs: a boot
//!   starts them afresh).
//! - runsvdir rescans its directory every 5 s: a new link is supervised only then. Every verb
//!   waits for `supervise/ok` to have a reader (runsv's), never a fixed time.
//! - Enabled means "no `down` file": a linked service stays supervised when disabled (so
//!   `disable` does not stop it), and runsv reads `down` only when it starts, at boot.
//! - `sv down` sends TERM: another stop signal is sent by `control/t`, which runsv runs
//!   instead. runit has no stop timeout: `sv -w SECS force-stop` sends KILL when it passes.
//! - A restart is a stop then a start, so `finish` sees a stop that was asked for, not a crash
//!   that the policy would keep down.
//! - The scan directory differs: Debian `/etc/service`, Void `/var/service`, Artix
//!   `/run/runit/service`; a running runsvdir's own argument decides where there is one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::dialect::run_dir::{self, word};
use crate::model::error::bad;
use crate::model::signal::Signal;
use crate::model::spec::{self, Dependency, Limit, Service, ServiceType, Used};
use crate::model::status::{ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::process;
use crate::system::supervise::{
    last_exit, mark_asked, read_record, restart_limit_reason, scanned_dir, supervised, wait_until,
    Layout, SCAN_WAIT,
};

pub struct Runit;

/// Where the service directories live.
const SV: &str = "/etc/sv";
/// How long runsv may take to fork `run` once it took the start (a loaded host).
const START_WAIT: Duration = Duration::from_secs(15);
/// Where svlogd writes each unit's output (`current`, rotated `@*.s`).
const LOGS: &str = "/var/log/runit";
/// runit's units: records of `finish` in /run/svc-any/runit; supervised while runsv reads
/// `supervise/ok`.
const LAYOUT: Layout = Layout {
    backend: "runit",
    scanner: "runsvdir",
    service_dirs: SV,
    state: "/run/svc-any/runit",
    logs: LOGS,
    logger: "svlogd",
    rotation: "rotated by size",
    supervised,
    before_program: &["runsv", "chpst"],
};

/// The scan directory runsvdir watches here: the argument of a running runsvdir (on the live
/// root), else the distribution's.
pub fn scan_dir(ctx: &Ctx) -> PathBuf {
    if ctx.live && ctx.root == Path::new("/") {
        if let Some(dir) = scanned_dir(Path::new("/"), "runsvdir") {
            return dir;
        }
    }
    let distribution = crate::system::detect::distribution(&ctx.root);
    let ids: Vec<String> = distribution
        .map(|d| std::iter::once(d.id).chain(d.like).collect())
        .unwrap_or_default();
    if ids.iter().any(|i| i == "void") {
        PathBuf::from("/var/service")
    } else if ids.iter().any(|i| i == "artix") {
        PathBuf::from("/run/runit/service")
    } else {
        PathBuf::from("/etc/service")
    }
}

/// What a runit run directory carries of the keys of real daemons.
fn carries(used: &Used, _service: &Service) -> Verdict {
    let per_instance = used
        .value
        .as_deref()
        .is_some_and(|v| v.contains("{instance}"));
    let facility = used.value.as_deref().is_some_and(|v| v.starts_with("\"$"));
    match used.key {
        _ if per_instance => {
            Err("svc-any maps a dependency on another service's instance on systemd only")
        }
        "after" | "requires" if facility => {
            Err("runit starts every service at once: it has no boot facilities to wait for")
        }
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"") => Ok(()),
            Some("\"notify\"") => Err("runsv cannot wait for sd_notify's READY=1"),
            Some("\"forking\"") => {
                Err("runsv supervises the process it started: no daemon that forks")
            }
            _ => Err("svc-any does not map it to runit"),
        },
        "umask" | "documentation" => Ok(()),
        "restart" => Err("finish sees the exit, not systemd's abnormal/abort distinction"),
        "pre_start" | "post_start" | "stop_exec" | "post_stop" | "reload_exec" => {
            Err("svc-any does not map commands around the run script to runit yet")
        }
        "systemd" => Err("the [systemd] table is for systemd only"),
        _ => Err("svc-any does not map it to runit yet"),
    }
}

/// The signal `sv` has a command for, if any (`sv hup`, ...).
fn sv_command(signal: Signal) -> Option<&'static str> {
    Some(match signal.name() {
        "HUP" => "hup",
        "ALRM" => "alarm",
        "INT" => "interrupt",
        "QUIT" => "quit",
        "USR1" => "1",
        "USR2" => "2",
        "CONT" => "cont",
        "STOP" => "pause",
        _ => return None,
    })
}

/// runsv's 20-byte `supervise/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Supervised {
    /// When the current state began, seconds since the epoch.
    since: u64,
    pid: u32,
    want_up: bool,
    /// 0 down, 1 run, 2 finish.
    state: u8,
}

fn parse_status(b: &[u8]) -> Option<Supervised> {
    if b.len() < 20 {
        return None;
    }
    let tai = u64::from_be_bytes(b[0..8].try_into().ok()?);
    Some(Supervised {
        // TAI64: 2^62 + 10 s (TAI-UTC when runit counts) at the epoch.
        since: tai.saturating_sub((1 << 62) + 10),
        pid: u32::from_le_bytes(b[12..16].try_into().ok()?),
        want_up: b[17] == b'u',
        state: b[19],
    })
}

impl Runit {
    fn run_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        let mut tools = Vec::new();
        if let Some(user) = &service.user {
            let who = match &service.group {
                Some(g) => format!("{user}:{g}"),
                None => user.clone(),
            };
            tools.push("chpst".to_string());
            tools.push("-u".to_string());
            tools.push(word(&who, "user")?);
        }
        match service.limits.nproc {
            Some(Limit::Value(n)) => {
                if tools.is_empty() {
                    tools.push("chpst".to_string());
                }
                tools.push("-p".to_string());
                tools.push(n.to_string());
            }
            Some(Limit::Infinity) => {
                return Err(
                    bad("chpst cannot lift the process limit, only set a number")
                        .key("limits.nproc")
                        .hint("give a number of processes for runit")
                        .into(),
                )
            }
            None => {}
        }
        let script = run_dir::run_script(service, &tools)?;
        // Dependencies: runit's own way, `sv start` (requires) or `sv check` (after) of the
        // other service's directories (each instance's too) before the exec.
        let wait_secs = 30;
        let waits = run_dir::dependency_waits(
            service,
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ]; then sv -w {wait_secs} start \"$d\" >/dev/null || exit 111; fi; done")
            },
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ]; then sv -w {wait_secs} check \"$d\" >/dev/null 2>&1; fi; done")
            },
        )?;
        let mut c = render::context(service);
        c.insert("unit", &unit);
        c.insert("script", &script);
        c.insert("waits", &waits);
        ctx.renderer.render("runit.run", &c)
    }

    fn finish_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        let mut c = render::context(service);
        c.insert("unit", &unit);
        run_dir::insert_restart_policy(&mut c, service, &LAYOUT.state_dir(unit))?;
        ctx.renderer.render("runit.finish", &c)
    }

    /// Waits until the supervisor runs for every one of `dirs`; an error naming one it does not.
    fn wait_supervised(&self, ctx: &Ctx, dirs: &[PathBuf]) -> Result<()> {
        LAYOUT.wait_supervised(ctx, dirs, &scan_dir(ctx))
    }

    /// Asks the scanner for the supervisor of every installed unit of `services` that has
    /// none now (a killed one not yet restarted), so that a stop reaches the manager: stopping
    /// only the processes would leave the restarted supervisor to start them again. With no
    /// scanner running there is nobody to ask; the engine then stops what it saw run.
    fn reclaim(&self, ctx: &Ctx, services: &[&Service]) {
        let lost = LAYOUT.lost(ctx, services, &scan_dir(ctx));
        if let Err(e) = self.wait_supervised(ctx, &lost) {
            ctx.warn(format!("warning: {e:#}"));
        }
    }

    fn sv(&self, ctx: &Ctx, args: &[String]) -> Result<String> {
        let mut cmd = process::tool("sv")?;
        ctx.run(cmd.args(args))
    }

    fn status_of(&self, dir: &Path) -> Option<Supervised> {
        std::fs::read(dir.join("supervise/status"))
            .ok()
            .and_then(|b| parse_status(&b))
    }

    fn start(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        let dirs: Vec<PathBuf> = services
            .iter()
            .flat_map(|s| {
                LAYOUT
                    .units(s)
                    .into_iter()
                    .map(|(_, u)| LAYOUT.service_dir(&u))
            })
            .collect();
        self.wait_supervised(ctx, &dirs)?;
        // In dependency order (the engine's): a service others of this batch depend on runs
        // before they are started, so each is forked after what it needs.
        let mut batch: Vec<String> = Vec::new();
        let mut programs: Vec<String> = Vec::new();
        for (i, s) in services.iter().enumerate() {
            for (_, unit) in LAYOUT.units(s) {
                for f in ["failed", "window"] {
                    let _ = std::fs::remove_file(ctx.on_target(&LAYOUT.state_dir(&unit).join(f)));
                }
                batch.push(LAYOUT.service_dir(&unit).display().to_string());
                programs.push(s.exec[0].clone());
            }
            let needed = services[i + 1..].iter().any(|later| {
                later
                    .requires
                    .iter()
                    .chain(&later.after)
                    .any(|d| matches!(d, Dependency::Service(n) if *n == s.name))
            });
            if needed || i + 1 == services.len() {
                let down: Vec<bool> = batch
                    .iter()
                    .map(|dir| {
                        self.status_of(&ctx.on_target(Path::new(dir)))
                            .is_none_or(|st| st.state == 0)
                    })
                    .collect();
                let mut args = vec!["up".to_string()];
                args.extend(batch.iter().cloned());
                self.sv(ctx, &args)?;
                // sv only writes to runsv's control FIFO, and runsv records "want up" before
                // it forks `run`: wait until it has started what was down (run, or already
                // finish after a quick end), so a status read next sees the start. What was
                // running or in finish (restart_delay) is runsv's once it wants it up.
                for ((dir, was_down), program) in batch.drain(..).zip(down).zip(programs.drain(..))
                {
                    let dir = ctx.on_target(Path::new(&dir));
                    let started = wait_until(START_WAIT, || {
                        self.status_of(&dir)
                            .is_some_and(|st| st.want_up && (st.state != 0 || !was_down))
                    });
                    if !started {
                        bail!(
                            "runsv has not started {} within {}s",
                            dir.display(),
                            START_WAIT.as_secs()
                        );
                    }
                    // Then `run` still has to exec the program (after its dependency waits).
                    wait_until(START_WAIT, || {
                        self.status_of(&dir).is_none_or(|st| {
                            st.state != 1 || !LAYOUT.not_yet_the_program(st.pid, &program)
                        })
                    });
                }
            }
            if needed {
                for (_, unit) in LAYOUT.units(s) {
                    let dir = ctx.on_target(&LAYOUT.service_dir(&unit));
                    wait_until(Duration::from_secs(10), || {
                        self.status_of(&dir).is_some_and(|st| st.state == 1)
                    });
                }
            }
        }
        Ok(())
    }

    /// `sv -w SECS force-stop`: down, and KILL once the stop timeout passed. One call per
    /// timeout; units runsv does not supervise have nothing to stop.
    fn stop(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        self.reclaim(ctx, services);
        let mut wanted_up = Vec::new();
        let mut by_timeout: std::collections::BTreeMap<u64, Vec<String>> = Default::default();
        for s in services {
            for (_, unit) in LAYOUT.units(s) {
                let dir = LAYOUT.service_dir(&unit);
                let on = ctx.on_target(&dir);
                if supervised(&on) {
                    if self.status_of(&on).is_some_and(|st| st.want_up) {
                        wanted_up.push(LAYOUT.state_dir(&unit));
                    }
                    by_timeout
                        .entry(run_dir::whole_seconds(s.stop_timeout).max(1))
                        .or_default()
                        .push(dir.display().to_string());
                }
            }
        }
        for (secs, dirs) in by_timeout {
            let mut args = vec!["-w".to_string(), secs.to_string(), "force-stop".to_string()];
            args.extend(dirs);
            // sv exits non-zero when it had to kill; the engine verifies what is left.
            if let Err(e) = self.sv(ctx, &args) {
                ctx.warn(format!("warning: {e:#}"));
            }
        }
        // What the supervisor was still restarting is now stopped on request.
        for state in wanted_up {
            mark_asked(&ctx.on_target(&state));
        }
        Ok(())
    }
}

impl Backend for Runit {
    fn name(&self) -> &'static str {
        "runit"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        LAYOUT.refuse_uncarried(service)?;
        debug_assert!(matches!(
            service.daemon.service_type,
            None | Some(ServiceType::Simple | ServiceType::Exec)
        ));
        spec::refuse_systemd_units(service, self.name())?;
        LAYOUT.plan(service, &scan_dir(ctx), |s, unit, dir| {
            let mut files = vec![
                LAYOUT.run_file(dir, s, self.run_script(ctx, s, unit)?),
                FileSpec {
                    path: dir.join("finish"),
                    mode: 0o755,
                    content: self.finish_script(ctx, s, unit)?,
                },
                FileSpec {
                    path: dir.join("log/run"),
                    mode: 0o755,
                    content: ctx
                        .renderer
                        .render("runit.log", &LAYOUT.log_context(service, unit)?)?,
                },
            ];
            if s.stop_signal != Signal::TERM {
                let mut c = render::context(service);
                c.insert("unit", unit);
                c.insert("signal", s.stop_signal.name());
                files.push(FileSpec {
                    path: dir.join("control/t"),
                    mode: 0o755,
                    content: ctx.renderer.render("runit.control", &c)?,
                });
            }
            Ok(files)
        })
    }

    /// runsvdir finds new links by itself, within 5 s: wait until runsv supervises every
    /// svc-any service linked in the scan directory.
    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        let dirs = LAYOUT.linked(ctx, &scan_dir(ctx));
        self.wait_supervised(ctx, &dirs)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        match verb {
            Verb::Start => self.start(ctx, services),
            Verb::Stop => self.stop(ctx, services),
            Verb::Restart => {
                self.stop(ctx, services)?;
                self.start(ctx, services)
            }
            Verb::Reload => {
                for s in services {
                    let signal = s.reload_signal.expect("checked by the engine");
                    for (_, unit) in LAYOUT.units(s) {
                        let dir = LAYOUT.service_dir(&unit);
                        match sv_command(signal) {
                            Some(cmd) => {
                                self.sv(ctx, &[cmd.to_string(), dir.display().to_string()])?;
                            }
                            None => {
                                let Some(st) = self.status_of(&ctx.on_target(&dir)) else {
                                    continue;
                                };
                                if st.state == 1 && st.pid > 0 {
                                    nix::sys::signal::kill(
                                        nix::unistd::Pid::from_raw(st.pid as i32),
                                        signal.to_nix(),
                                    )?;
                                }
                            }
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// From runsv's `supervise/status` bytes and what `finish` recorded: files only, no
    /// process, for a whole table.
    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let mut out = Vec::new();
        for service in services {
            for (instance, unit) in LAYOUT.units(service) {
                let dir = ctx.on_target(&LAYOUT.service_dir(&unit));
                let state = ctx.on_target(&LAYOUT.state_dir(&unit));
                let installed = dir.join("run").exists();
                let recorded = read_record(&state.join("exit")).and_then(|l| last_exit(&l));
                let st = if installed && supervised(&dir) {
                    self.status_of(&dir)
                } else {
                    None
                };
                let s = service.for_instance(instance.as_deref());
                let failed = state.join("failed").exists();
                let delaying = |pid: u32| {
                    ctx.root == Path::new("/") && LAYOUT.not_yet_the_program(pid, &s.exec[0])
                };
                let (state_now, reason) = match st {
                    _ if !installed => (State::NotInstalled, None),
                    None => (
                        State::Unknown,
                        Some(
                            "runsv does not supervise it (is it linked, runsvdir running?)".into(),
                        ),
                    ),
                    Some(st) if st.state == 1 && delaying(st.pid) => (
                        State::Starting,
                        Some("its run script has not yet started the program".to_string()),
                    ),
                    Some(st) if st.state == 1 => (State::Running, None),
                    Some(st) if st.want_up => {
                        (State::Starting, Some("runsv is restarting it".to_string()))
                    }
                    Some(_) if failed => (State::Failed, Some(restart_limit_reason(&s))),
                    Some(_) => match &recorded {
                        Some((exit, false))
                            if !exit.is_clean(s.stop_signal, &s.success_exit_codes) =>
                        {
                            (State::Dead, Some(format!("{exit}")))
                        }
                        _ => (State::Stopped, None),
                    },
                };
                out.push(ServiceStatus {
                    name: service.name.clone(),
                    instance,
                    backend: "runit".into(),
                    unit: unit.clone(),
                    state: state_now,
                    pid: st
                        .filter(|st| state_now == State::Running && st.pid > 0)
                        .map(|st| st.pid),
                    since: st.map(|st| st.since),
                    restarts: installed.then(|| LAYOUT.restarts(ctx, &unit)),
                    last_exit: recorded.map(|(e, _)| e),
                    enabled: installed.then(|| !dir.join("down").exists()),
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
        LAYOUT.log_files(service)
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        Ok(LAYOUT.list(ctx))
    }

    /// Enabled = no `down` file (see `Layout::enable`).
    fn enable(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> Result<bool> {
        LAYOUT.enable(ctx, service, |dirs| self.wait_supervised(ctx, dirs))
    }

    fn disables_on_uninstall(&self) -> bool {
        false
    }

    /// Disabled = a `down` file: still supervised (and left running), not started at boot.
    fn disable(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> Result<bool> {
        LAYOUT.disable(ctx, service)
    }

    fn is_enabled(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> bool {
        LAYOUT.is_enabled(ctx, service)
    }

    /// A linked service directory runs unless it has a `down` file: an install without
    /// enabling writes one.
    fn boots_when_installed(&self) -> bool {
        true
    }

    /// After the scan-directory link is gone: runsv told to exit (the log service with it),
    /// then what runsv and `finish` made (`supervise/`, `down`, the records in /run).
    fn forget(&self, ctx: &Ctx, service: &Service) -> Result<()> {
        for (_, unit) in LAYOUT.units(service) {
            let dir = ctx.on_target(&LAYOUT.service_dir(&unit));
            if ctx.live && supervised(&dir) {
                self.sv(ctx, &["exit".to_string(), dir.display().to_string()])?;
                let log = dir.join("log");
                if !wait_until(SCAN_WAIT, || !supervised(&dir) && !supervised(&log)) {
                    bail!("runsv of {} did not exit", dir.display());
                }
            }
        }
        LAYOUT.remove_made(ctx, service, &["supervise", "log/supervise"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervise_status_bytes_are_read_as_runsv_writes_them() {
        // Taken from runsv 2.1.2: running, pid 615, want up.
        let b = [
            0x40, 0, 0, 0, 0x6b, 0x0e, 0x01, 0x05, 0x08, 0x60, 0x5b, 0x14, 0x67, 0x02, 0, 0, 0,
            0x75, 0, 1,
        ];
        let st = parse_status(&b).unwrap();
        assert_eq!(st.pid, 615);
        assert!(st.want_up);
        assert_eq!(st.state, 1);
        assert_eq!(st.since, 0x6b0e0105 - 10);
        assert_eq!(parse_status(&b[..18]), None);
    }
}
