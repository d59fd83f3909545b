//! daemontools 0.76 (Debian's `daemontools` + `daemontools-run`: svscan on /etc/service,
//! started from inittab; FreeBSD's port): a service directory `/etc/sv/UNIT` with `run` and
//! `log/run` (multilog), linked into the scan directory as Debian's update-service does;
//! driven with `svc`. A unit is `NAME`, or `NAME@INSTANCE` for each instance.
//!
//! The traps this module owns:
//! - supervise restarts `run` whenever it ends, at most once a second, and has no `./finish`:
//!   it cannot tell `restart = "on-failure"` or `"no"` from `"always"`, and nobody learns how
//!   the process ended (README, "What daemontools gets"). What svc-any can do it does in the
//!   run script before the `exec`: a start svc-any did not ask for is a restart, counted,
//!   delayed by `restart_delay` (with backoff) and, past `restart_limit`, left down as failed.
//! - svscan rescans every 5 s; every verb waits for `supervise/ok` (what `svok` checks).
//! - `svc -d` sends TERM and knows no timeout: another stop signal is `svc -o` (do not restart)
//!   and that signal's flag; KILL (`svc -k`) is svc-any's once `stop_timeout` passes.
//! - svstat always exits 0; svc-any reads `supervise/status` itself, the 18 bytes svstat reads.
//! - `setuidgid` takes an account, with its primary group: `group` is refused.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::dialect::run_dir::{self, word};
use crate::model::error::bad;
use crate::model::signal::Signal;
use crate::model::spec::{self, Dependency, Limit, Service, Used};
use crate::model::status::{ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::process;
use crate::system::supervise::{
    restart_limit_reason, scanned_dir, supervised, wait_until, Layout, SCAN_WAIT,
};

pub struct Daemontools;

/// Where the service directories live (Debian's daemontools-run scans /etc/service).
const SV: &str = "/etc/sv";
/// Where multilog writes each unit's output (`current`, rotated `@*.s`).
const LOGS: &str = "/var/log/daemontools";
/// daemontools' units: the run script's records in /run/svc-any/daemontools; supervised
/// while supervise reads `supervise/ok`.
const LAYOUT: Layout = Layout {
    backend: "daemontools",
    scanner: "svscan",
    service_dirs: SV,
    state: "/run/svc-any/daemontools",
    logs: LOGS,
    logger: "multilog",
    rotation: "rotated at 1 MB, 10 kept",
    supervised,
    before_program: &["supervise", "softlimit", "setuidgid"],
};
/// How long a start may take to reach the program: supervise's one-second pause between
/// starts, the run script's dependency waits, and a loaded host.
const START_WAIT: Duration = Duration::from_secs(15);
/// multilog's rotation when the definition says nothing: 1 MB, ten old files.
const LOG_SIZE: u64 = 1_000_000;
const LOG_KEEP: u32 = 10;

/// The scan directory: a running svscan's argument, else Debian's /etc/service.
pub fn scan_dir(ctx: &Ctx) -> PathBuf {
    if ctx.live && ctx.root == Path::new("/") {
        if let Some(dir) = scanned_dir(Path::new("/"), "svscan") {
            return dir;
        }
    }
    PathBuf::from("/etc/service")
}

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
            Err("svscan starts every service at once: it has no boot facilities to wait for")
        }
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"") => Ok(()),
            _ => Err("supervise runs one process in the foreground and cannot wait for readiness"),
        },
        "umask" | "documentation" => Ok(()),
        "restart" => Err("supervise restarts after every exit"),
        "systemd" => Err("the [systemd] table is for systemd only"),
        _ => Err("svc-any does not map it to daemontools yet"),
    }
}

/// supervise's 18-byte `supervise/status`: TAI64N start, pid (little-endian), paused, want.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Supervised {
    since: u64,
    pid: u32,
    /// `u`, `d`, or 0 (no preference: `svc -o`).
    want: u8,
}

fn parse_status(b: &[u8]) -> Option<Supervised> {
    if b.len() < 18 {
        return None;
    }
    let tai = u64::from_be_bytes(b[0..8].try_into().ok()?);
    Some(Supervised {
        since: tai.saturating_sub((1 << 62) + 10),
        pid: u32::from_le_bytes(b[12..16].try_into().ok()?),
        want: b[17],
    })
}

/// svc's flag for `signal`, if it has one.
fn svc_flag(signal: Signal) -> Option<&'static str> {
    Some(match signal.name() {
        "HUP" => "-h",
        "ALRM" => "-a",
        "INT" => "-i",
        "TERM" => "-t",
        "KILL" => "-k",
        "STOP" => "-p",
        "CONT" => "-c",
        _ => return None,
    })
}

impl Daemontools {
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

    fn svc(&self, ctx: &Ctx, flags: &str, dirs: &[PathBuf]) -> Result<()> {
        if dirs.is_empty() {
            return Ok(());
        }
        let mut cmd = process::tool("svc")?;
        cmd.arg(flags);
        cmd.args(dirs);
        ctx.run(&mut cmd).map(drop)
    }

    fn status_of(&self, dir: &Path) -> Option<Supervised> {
        std::fs::read(dir.join("supervise/status"))
            .ok()
            .and_then(|b| parse_status(&b))
    }

    /// Waits until the supervisor runs for every one of `dirs`; an error naming one it does not.
    fn wait_supervised(&self, ctx: &Ctx, dirs: &[PathBuf]) -> Result<()> {
        LAYOUT.wait_supervised(ctx, dirs, &scan_dir(ctx))
    }

    fn run_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        if service.group.is_some() {
            return Err(bad(
                "not carried by daemontools: group (setuidgid takes the user's own group)",
            )
            .key("group")
            .hint("remove group: the user's primary group is used")
            .into());
        }
        let mut tools = Vec::new();
        if let Some(user) = &service.user {
            tools.push("setuidgid".to_string());
            tools.push(word(user, "user")?);
        }
        match service.limits.nproc {
            Some(Limit::Value(n)) => {
                tools.insert(0, format!("softlimit -p {n}"));
            }
            Some(Limit::Infinity) => return Err(bad(
                "not carried by daemontools: limits.nproc = \"infinity\" (softlimit sets a number)",
            )
            .key("limits.nproc")
            .into()),
            None => {}
        }
        // Dependencies before the exec: a required service is asked up (`svc -u`) and waited
        // for; one only ordered after is waited for while it is wanted up. svstat prints
        // `DIR: up (pid N) S seconds` or `DIR: down S seconds[, normally up][, want up]`.
        let waits = run_dir::dependency_waits(
            service,
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ]; then svc -u \"$d\" || exit 111; i=0; until svstat \"$d\" | grep -q ': up '; do i=$((i + 1)); [ $i -lt 300 ] || exit 111; sleep 0.1; done; fi; done")
            },
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ]; then i=0; while svstat \"$d\" | grep -q 'want up' && [ $i -lt 300 ]; do i=$((i + 1)); sleep 0.1; done; fi; done")
            },
        )?;
        let script = run_dir::run_script(service, &tools)?;
        let mut c = render::context(service);
        c.insert("unit", unit);
        c.insert("script", &script);
        c.insert("waits", &waits);
        run_dir::insert_restart_policy(&mut c, service, &LAYOUT.state_dir(unit))?;
        ctx.renderer.render("daemontools.run", &c)
    }

    fn start(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        let all: Vec<PathBuf> = services
            .iter()
            .flat_map(|s| {
                LAYOUT
                    .units(s)
                    .into_iter()
                    .map(|(_, u)| LAYOUT.service_dir(&u))
            })
            .collect();
        self.wait_supervised(ctx, &all)?;
        // In dependency order: what later ones of the batch depend on runs first.
        let mut batch = Vec::new();
        for (i, s) in services.iter().enumerate() {
            for (_, unit) in LAYOUT.units(s) {
                let dir = LAYOUT.service_dir(&unit);
                let running = self
                    .status_of(&ctx.on_target(&dir))
                    .is_some_and(|st| st.pid != 0);
                if !running {
                    let state = ctx.on_target(&LAYOUT.state_dir(&unit));
                    crate::system::files::ensure_dir(&state)?;
                    let _ = std::fs::remove_file(state.join("failed"));
                    crate::system::files::write_atomic(&state.join("asked"), b"", 0o644)?;
                }
                batch.push((dir, s.exec[0].clone()));
            }
            let needed = services[i + 1..].iter().any(|later| {
                later
                    .requires
                    .iter()
                    .chain(&later.after)
                    .any(|d| matches!(d, Dependency::Service(n) if *n == s.name))
            });
            if needed || i + 1 == services.len() {
                let dirs: Vec<PathBuf> = batch.iter().map(|(dir, _)| dir.clone()).collect();
                self.svc(ctx, "-u", &dirs)?;
                for (dir, program) in batch.drain(..) {
                    let dir = ctx.on_target(&dir);
                    // supervise takes commands only a second after its last start, and the
                    // run script then execs: wait for the program, so status says running,
                    // and say so when it does not (a loaded host can take seconds).
                    let up = wait_until(START_WAIT, || {
                        self.status_of(&dir).is_some_and(|st| {
                            st.pid != 0 && !LAYOUT.not_yet_the_program(st.pid, &program)
                        })
                    });
                    if !up {
                        bail!(
                            "supervise has not started {} within {}s (svstat: {})",
                            dir.display(),
                            START_WAIT.as_secs(),
                            self.status_of(&dir)
                                .map_or("no status".into(), |st| format!(
                                    "pid {}, want {}",
                                    st.pid,
                                    char::from(st.want)
                                ))
                        );
                    }
                }
            }
        }
        Ok(())
    }

    /// `svc -d` (TERM), or `svc -o` and the stop signal's flag; KILL after `stop_timeout`.
    fn stop(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        self.reclaim(ctx, services);
        let mut waiting = Vec::new();
        for s in services {
            for (_, unit) in LAYOUT.units(s) {
                let dir = LAYOUT.service_dir(&unit);
                let on = ctx.on_target(&dir);
                if !supervised(&on) {
                    continue;
                }
                match (s.stop_signal == Signal::TERM, svc_flag(s.stop_signal)) {
                    (true, _) => self.svc(ctx, "-d", std::slice::from_ref(&dir))?,
                    (false, Some(flag)) => {
                        self.svc(ctx, "-o", std::slice::from_ref(&dir))?;
                        self.svc(ctx, flag, std::slice::from_ref(&dir))?;
                    }
                    (false, None) => {
                        self.svc(ctx, "-o", std::slice::from_ref(&dir))?;
                        if let Some(st) = self.status_of(&on).filter(|st| st.pid != 0) {
                            let _ = nix::sys::signal::kill(
                                nix::unistd::Pid::from_raw(st.pid as i32),
                                s.stop_signal.to_nix(),
                            );
                        }
                    }
                }
                waiting.push((dir, s.stop_timeout));
            }
        }
        for (dir, timeout) in waiting {
            let on = ctx.on_target(&dir);
            let down = || self.status_of(&on).is_some_and(|st| st.pid == 0);
            // supervise reads commands only a second after each start: the timeout and that.
            if !wait_until(timeout + Duration::from_secs(1), down) {
                self.svc(ctx, "-k", std::slice::from_ref(&dir))?;
                wait_until(Duration::from_secs(2), down);
            }
            // Down and wanted down: no restart, `down` in svstat.
            self.svc(ctx, "-d", std::slice::from_ref(&dir))?;
        }
        Ok(())
    }
}

impl Backend for Daemontools {
    fn name(&self) -> &'static str {
        "daemontools"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        LAYOUT.refuse_uncarried(service)?;
        spec::refuse_systemd_units(service, self.name())?;
        LAYOUT.plan(service, &scan_dir(ctx), |s, unit, dir| {
            let mut log = LAYOUT.log_context(service, unit)?;
            log.insert("size", &LOG_SIZE);
            log.insert("keep", &LOG_KEEP);
            Ok(vec![
                LAYOUT.run_file(dir, s, self.run_script(ctx, s, unit)?),
                FileSpec {
                    path: dir.join("log/run"),
                    mode: 0o755,
                    content: ctx.renderer.render("daemontools.log", &log)?,
                },
            ])
        })
    }

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
                        match svc_flag(signal) {
                            Some(flag) => self.svc(ctx, flag, &[dir])?,
                            None => {
                                if let Some(st) = self
                                    .status_of(&ctx.on_target(&dir))
                                    .filter(|st| st.pid != 0)
                                {
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

    /// From supervise's `supervise/status` (what svstat prints) and the run script's counts:
    /// files only, for a whole table.
    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let mut out = Vec::new();
        for service in services {
            for (instance, unit) in LAYOUT.units(service) {
                let dir = ctx.on_target(&LAYOUT.service_dir(&unit));
                let state = ctx.on_target(&LAYOUT.state_dir(&unit));
                let installed = dir.join("run").exists();
                let st = if installed && supervised(&dir) {
                    self.status_of(&dir)
                } else {
                    None
                };
                let s = service.for_instance(instance.as_deref());
                let delaying = |pid: u32| {
                    ctx.root == Path::new("/") && LAYOUT.not_yet_the_program(pid, &s.exec[0])
                };
                let (now, reason) = match st {
                    _ if !installed => (State::NotInstalled, None),
                    None => (
                        State::Unknown,
                        Some(
                            "supervise does not run for it (is it linked, svscan running?)".into(),
                        ),
                    ),
                    Some(st) if st.pid != 0 && delaying(st.pid) => (
                        State::Starting,
                        Some("its run script has not yet started the program (restart_delay, dependencies)".to_string()),
                    ),
                    Some(st) if st.pid != 0 => (State::Running, None),
                    Some(st) if st.want == b'u' => (
                        State::Starting,
                        Some("supervise starts it again within a second".to_string()),
                    ),
                    Some(_) if state.join("failed").exists() => (
                        State::Failed,
                        Some(restart_limit_reason(&s)),
                    ),
                    Some(_) => (State::Stopped, None),
                };
                out.push(ServiceStatus {
                    name: service.name.clone(),
                    instance,
                    backend: "daemontools".into(),
                    unit: unit.clone(),
                    state: now,
                    pid: st
                        .filter(|st| now == State::Running && st.pid != 0)
                        .map(|st| st.pid),
                    since: st.map(|st| st.since),
                    restarts: installed.then(|| LAYOUT.restarts(ctx, &unit)),
                    last_exit: None,
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

    /// Disabled = a `down` file: still supervised (and left running), not started at boot.
    fn disable(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> Result<bool> {
        LAYOUT.disable(ctx, service)
    }

    fn is_enabled(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> bool {
        LAYOUT.is_enabled(ctx, service)
    }

    fn boots_when_installed(&self) -> bool {
        true
    }

    fn disables_on_uninstall(&self) -> bool {
        false
    }

    /// After the link is gone: `svc -dx` on the service and its log (svscan never stops a
    /// supervise itself), then what supervise and the run script made.
    fn forget(&self, ctx: &Ctx, service: &Service) -> Result<()> {
        for (_, unit) in LAYOUT.units(service) {
            let dir = LAYOUT.service_dir(&unit);
            let on = ctx.on_target(&dir);
            let log = on.join("log");
            if ctx.live && (supervised(&on) || supervised(&log)) {
                self.svc(ctx, "-dx", &[dir.clone(), dir.join("log")])?;
                if !wait_until(SCAN_WAIT, || !supervised(&on) && !supervised(&log)) {
                    bail!("supervise of {} did not exit", dir.display());
                }
            }
        }
        LAYOUT.remove_made(ctx, service, &["supervise", "log/supervise"])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stages a pid goes through after supervise's fork, each a real process here.
    #[test]
    fn a_pid_is_the_program_only_once_the_run_script_has_execd_it() {
        use std::os::unix::process::CommandExt;
        let stage = |argv0: &str, args: &[&str]| {
            let program = if argv0 == "/bin/sh" {
                argv0
            } else {
                "/bin/sleep"
            };
            let child = std::process::Command::new(program)
                .arg0(argv0)
                .args(args)
                .spawn()
                .unwrap();
            let cmdline = format!("/proc/{}/cmdline", child.id());
            let execd = || std::fs::read(&cmdline).is_ok_and(|c| c.starts_with(argv0.as_bytes()));
            assert!(
                wait_until(Duration::from_secs(5), execd),
                "{argv0} never ran"
            );
            child
        };
        let mut forked = stage("supervise", &["30"]);
        let mut script = stage("/bin/sh", &["-c", "sleep 30; :", "./run"]);
        let mut tool = stage("setuidgid", &["30"]);
        let mut program = stage("/usr/bin/myd", &["30"]);
        assert!(LAYOUT.not_yet_the_program(forked.id(), "/usr/bin/myd"));
        assert!(LAYOUT.not_yet_the_program(script.id(), "/bin/sh"));
        assert!(LAYOUT.not_yet_the_program(tool.id(), "/usr/bin/myd"));
        assert!(!LAYOUT.not_yet_the_program(tool.id(), "setuidgid"));
        assert!(!LAYOUT.not_yet_the_program(program.id(), "/usr/bin/myd"));
        for child in [&mut forked, &mut script, &mut tool, &mut program] {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    #[test]
    fn supervise_status_bytes_are_read_as_supervise_writes_them() {
        let mut b = [0u8; 18];
        b[0..8].copy_from_slice(&((1u64 << 62) + 10 + 1_700_000_000).to_be_bytes());
        b[12..16].copy_from_slice(&4321u32.to_le_bytes());
        b[17] = b'u';
        let st = parse_status(&b).unwrap();
        assert_eq!(st.since, 1_700_000_000);
        assert_eq!(st.pid, 4321);
        assert_eq!(st.want, b'u');
        assert_eq!(parse_status(&b[..17]), None);
    }
}
