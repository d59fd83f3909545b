//! s6 (skarnet; Artix's, s6-overlay's in containers; Debian packages it without s6-linux-init):
//! a service directory `/etc/s6/sv/UNIT` with `run`, `finish`, `down-signal`, `timeout-kill`,
//! `timeout-finish` and `log/run` (s6-log), linked into s6-svscan's scan directory, which is
//! then told to rescan (`s6-svscanctl -a`: s6-svscan does not look by itself); driven with
//! `s6-svc`. A unit is `NAME`, or `NAME@INSTANCE` for each instance.
//!
//! The traps this module owns:
//! - s6-supervise restarts whatever is wanted up; `finish` (run after every end with the exit
//!   code, 256 after a signal, and the signal) records the end and exits 125 where the policy
//!   says stay down; `restart_delay` and backoff are a sleep there (`timeout-finish` allows
//!   it), `restart_limit` a counter ending in `failed`. Records in /run/svc-any/s6/UNIT.
//! - The stop signal is `down-signal`, the KILL after `stop_timeout` is `timeout-kill`: s6 does
//!   both itself, and `s6-svc -wD` waits until the process and `finish` are done. These value
//!   files are read up to their first newline, so svc-any's marker line follows it.
//! - Enabled means "no `down` file", as on runit.
//! - `s6-setuidgid` takes an account (its primary group): `group` is refused.

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
    last_exit, mark_asked, read_record, restart_limit_reason, scanned_dir, wait_until, Layout,
    SCAN_WAIT,
};

pub struct S6;

/// Where the service directories live.
const SV: &str = "/etc/s6/sv";
/// How long `run` may take to exec the program once s6-supervise forked it (dependency
/// waits, a loaded host).
const START_WAIT: Duration = Duration::from_secs(15);
/// Where s6-log writes each unit's output (`current`, rotated `@*.s`).
const LOGS: &str = "/var/log/s6";
/// s6's units: records of `finish` in /run/svc-any/s6; supervised while s6-supervise reads
/// `supervise/control`.
const LAYOUT: Layout = Layout {
    backend: "s6",
    scanner: "s6-svscan",
    service_dirs: SV,
    state: "/run/svc-any/s6",
    logs: LOGS,
    logger: "s6-log",
    rotation: "rotated at 1 MB, 10 kept",
    supervised,
    before_program: &["s6-supervise", "s6-setuidgid", "s6-softlimit"],
};

/// The scan directory: a running s6-svscan's argument, else /etc/s6/service.
pub fn scan_dir(ctx: &Ctx) -> PathBuf {
    if ctx.live && ctx.root == Path::new("/") {
        if let Some(dir) = scanned_dir(Path::new("/"), "s6-svscan") {
            return dir;
        }
    }
    PathBuf::from("/etc/s6/service")
}

/// What an s6 service directory carries of the keys of real daemons.
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
            Err("s6-svscan starts every service at once: it has no boot facilities to wait for")
        }
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"") => Ok(()),
            Some("\"notify\"") => Err("svc-any does not map sd_notify to s6's notification-fd yet"),
            Some("\"forking\"") => {
                Err("s6-supervise supervises the process it started: no daemon that forks")
            }
            _ => Err("svc-any does not map it to s6"),
        },
        "umask" | "documentation" => Ok(()),
        "restart" => Err("finish sees the exit, not systemd's abnormal/abort distinction"),
        "pre_start" | "post_start" | "stop_exec" | "post_stop" | "reload_exec" => {
            Err("svc-any does not map commands around the run script to s6 yet")
        }
        "systemd" => Err("the [systemd] table is for systemd only"),
        _ => Err("svc-any does not map it to s6 yet"),
    }
}

/// s6-supervise's 35-byte `supervise/status` (s6 2.11): start stamp (TAI64N), ready stamp,
/// pid (64 bits, big-endian), wait status of the last end, flags (1 paused, 2 finishing,
/// 4 wanted up, 8 ready).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Supervised {
    since: u64,
    pid: u32,
    want_up: bool,
    finishing: bool,
}

/// TAI64 labels count TAI seconds from 2^62. skalibs converts the system's UTC clock to TAI
/// with its leap-second table: 10 s at 1970 and the 27 leap seconds since (none after 2016, and
/// none are planned). runsv and supervise, on djb's libtai, add the 10 only. Found by the
/// lifecycle's uptime check: s6's `since` read 27 s in the future with 10.
const TAI_MINUS_UTC: u64 = 37;

fn parse_status(b: &[u8]) -> Option<Supervised> {
    if b.len() < 35 {
        return None;
    }
    let tai = u64::from_be_bytes(b[0..8].try_into().ok()?);
    Some(Supervised {
        since: tai.saturating_sub((1 << 62) + TAI_MINUS_UTC),
        pid: u32::try_from(u64::from_be_bytes(b[24..32].try_into().ok()?)).ok()?,
        want_up: b[34] & 4 != 0,
        finishing: b[34] & 2 != 0,
    })
}

/// Whether s6-supervise runs for `dir`: its control FIFO has a reader (what s6-svok asks).
fn supervised(dir: &Path) -> bool {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    match open(
        &dir.join("supervise/control"),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let _ = nix::unistd::close(fd);
            true
        }
        Err(_) => false,
    }
}

impl S6 {
    fn run_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        if service.group.is_some() {
            return Err(
                bad("not carried by s6: group (s6-setuidgid takes the user's own group)")
                    .key("group")
                    .hint("remove group: the user's primary group is used")
                    .into(),
            );
        }
        let mut tools = Vec::new();
        match service.limits.nproc {
            Some(Limit::Value(n)) => tools.push(format!("s6-softlimit -p {n}")),
            Some(Limit::Infinity) => {
                return Err(bad(
                    "not carried by s6: limits.nproc = \"infinity\" (s6-softlimit sets a number)",
                )
                .key("limits.nproc")
                .into())
            }
            None => {}
        }
        if let Some(user) = &service.user {
            tools.push("s6-setuidgid".to_string());
            tools.push(word(user, "user")?);
        }
        let script = run_dir::run_script(service, &tools)?;
        // Dependencies before the exec: a required service that is not up is asked up and
        // waited for (`s6-svc -wu`), one only ordered after is waited for while it is wanted
        // up.
        let wait_secs = 30;
        let waits = run_dir::dependency_waits(
            service,
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ] && [ \"$(s6-svstat -o up \"$d\")\" != true ]; then s6-svc -wu -T {wait_secs}000 -u \"$d\" || exit 111; fi; done")
            },
            |q| {
                format!("for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ] && [ \"$(s6-svstat -o wantedup \"$d\")\" = true ]; then s6-svwait -u -t {wait_secs}000 \"$d\"; fi; done")
            },
        )?;
        let mut c = render::context(service);
        c.insert("unit", &unit);
        c.insert("script", &script);
        c.insert("waits", &waits);
        ctx.renderer.render("s6.run", &c)
    }

    fn finish_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        let mut c = render::context(service);
        c.insert("unit", &unit);
        run_dir::insert_restart_policy(&mut c, service, &LAYOUT.state_dir(unit))?;
        ctx.renderer.render("s6.finish", &c)
    }

    /// Tells s6-svscan to rescan (it does not look by itself), then waits until
    /// s6-supervise runs for every one of `dirs`.
    fn wait_supervised(&self, ctx: &Ctx, dirs: &[PathBuf]) -> Result<()> {
        if dirs.iter().all(|d| supervised(&ctx.on_target(d))) {
            return Ok(());
        }
        let mut cmd = process::tool("s6-svscanctl")?;
        ctx.run(cmd.arg("-a").arg(scan_dir(ctx)))?;
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

    fn svc(&self, ctx: &Ctx, args: &[String], dirs: &[PathBuf]) -> Result<()> {
        let mut first = None;
        for dir in dirs {
            let mut cmd = process::tool("s6-svc")?;
            cmd.args(args).arg(dir);
            if let Err(e) = ctx.run(&mut cmd) {
                first.get_or_insert(e);
            }
        }
        first.map_or(Ok(()), Err)
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
        // In dependency order (the engine's): what later ones of the batch depend on is up
        // before they are started (`s6-svc -wu` waits for it).
        let mut batch: Vec<(PathBuf, String)> = Vec::new();
        for (i, s) in services.iter().enumerate() {
            for (_, unit) in LAYOUT.units(s) {
                for f in ["failed", "window"] {
                    let _ = std::fs::remove_file(ctx.on_target(&LAYOUT.state_dir(&unit).join(f)));
                }
                batch.push((LAYOUT.service_dir(&unit), s.exec[0].clone()));
            }
            let needed = services[i + 1..].iter().any(|later| {
                later
                    .requires
                    .iter()
                    .chain(&later.after)
                    .any(|d| matches!(d, Dependency::Service(n) if *n == s.name))
            });
            if needed || i + 1 == services.len() {
                let args = ["-wu", "-T", "10000", "-u"].map(String::from);
                // A start that does not come up within 10 s (a crash loop) is for status and
                // --wait to judge, not an error of the start itself.
                let dirs: Vec<PathBuf> = batch.iter().map(|(dir, _)| dir.clone()).collect();
                if let Err(e) = self.svc(ctx, &args, &dirs) {
                    ctx.warn(format!("warning: {e:#}"));
                }
                // s6-supervise says up once it forked `run`, which still has to exec the
                // program: wait for that too, so a status read next names the program's pid.
                for (dir, program) in batch.drain(..) {
                    let dir = ctx.on_target(&dir);
                    wait_until(START_WAIT, || {
                        self.status_of(&dir).is_none_or(|st| {
                            st.pid == 0 || !LAYOUT.not_yet_the_program(st.pid, &program)
                        })
                    });
                }
            }
        }
        Ok(())
    }

    /// `s6-svc -wD -d`: s6-supervise sends `down-signal`, KILL after `timeout-kill`, and the
    /// wait ends once `finish` is done too.
    fn stop(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        self.reclaim(ctx, services);
        let mut wanted_up = Vec::new();
        let mut by_timeout: std::collections::BTreeMap<u128, Vec<PathBuf>> = Default::default();
        for s in services {
            for (_, unit) in LAYOUT.units(s) {
                let dir = LAYOUT.service_dir(&unit);
                let on = ctx.on_target(&dir);
                if supervised(&on) {
                    if self.status_of(&on).is_some_and(|st| st.want_up) {
                        wanted_up.push(LAYOUT.state_dir(&unit));
                    }
                    by_timeout
                        .entry(s.stop_timeout.as_millis() + 5000)
                        .or_default()
                        .push(dir);
                }
            }
        }
        for (ms, dirs) in by_timeout {
            let args = ["-wD".to_string(), "-T".into(), ms.to_string(), "-d".into()];
            if let Err(e) = self.svc(ctx, &args, &dirs) {
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

impl Backend for S6 {
    fn name(&self) -> &'static str {
        "s6"
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
            // Values: s6-supervise reads the first line only, so the marker goes on the second.
            let marker = render::marker_line("#", &service.name, service.source.as_deref());
            let value = |name: &str, value: String| FileSpec {
                path: dir.join(name),
                mode: 0o644,
                content: format!("{value}\n{marker}\n"),
            };
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
                        .render("s6.log", &LAYOUT.log_context(service, unit)?)?,
                },
            ];
            if s.stop_signal != Signal::TERM {
                files.push(value("down-signal", format!("SIG{}", s.stop_signal.name())));
            }
            files.push(value(
                "timeout-kill",
                s.stop_timeout.as_millis().max(1).to_string(),
            ));
            // finish sleeps restart_max_delay at most; s6 kills it after 5 s otherwise.
            files.push(value(
                "timeout-finish",
                (s.restart_max_delay.as_millis() + 5000).to_string(),
            ));
            Ok(files)
        })
    }

    /// `s6-svscanctl -a` (s6-svscan does not rescan by itself), then wait until s6-supervise
    /// runs for every svc-any service linked in the scan directory.
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
                        let flag = match signal.name() {
                            "HUP" => Some("-h"),
                            "ALRM" => Some("-a"),
                            "INT" => Some("-i"),
                            "QUIT" => Some("-q"),
                            "USR1" => Some("-1"),
                            "USR2" => Some("-2"),
                            "WINCH" => Some("-y"),
                            _ => None,
                        };
                        match flag {
                            Some(flag) => {
                                self.svc(ctx, &[flag.to_string()], &[dir])?;
                            }
                            None => {
                                let Some(st) = self.status_of(&ctx.on_target(&dir)) else {
                                    continue;
                                };
                                if st.pid > 0 && !st.finishing {
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

    /// From s6-supervise's `supervise/status` bytes and what `finish` recorded: files only, no
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
                            "s6-supervise does not run for it (is it linked, s6-svscan running?)"
                                .into(),
                        ),
                    ),
                    Some(st) if st.pid != 0 && !st.finishing && delaying(st.pid) => (
                        State::Starting,
                        Some("its run script has not yet started the program".to_string()),
                    ),
                    Some(st) if st.pid != 0 && !st.finishing => (State::Running, None),
                    Some(st) if st.want_up => (
                        State::Starting,
                        Some("s6-supervise is restarting it".to_string()),
                    ),
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
                    backend: "s6".into(),
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

    /// After the scan-directory link is gone: `s6-svscanctl -an` (rescan, and stop the
    /// supervisors of what is no longer linked), then what s6-supervise and `finish` made
    /// (`supervise/`, `event/`, `down`, the records in /run).
    fn forget(&self, ctx: &Ctx, service: &Service) -> Result<()> {
        let dirs: Vec<PathBuf> = LAYOUT
            .service_dirs_of(&[service])
            .iter()
            .map(|d| ctx.on_target(d))
            .collect();
        let running = |d: &PathBuf| supervised(d) || supervised(&d.join("log"));
        if ctx.live && dirs.iter().any(running) {
            let mut cmd = process::tool("s6-svscanctl")?;
            ctx.run(cmd.arg("-an").arg(scan_dir(ctx)))?;
            for d in &dirs {
                if !wait_until(SCAN_WAIT, || !running(d)) {
                    bail!("s6-supervise of {} did not exit", d.display());
                }
            }
        }
        LAYOUT.remove_made(
            ctx,
            service,
            &["supervise", "event", "log/supervise", "log/event"],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervise_status_bytes_are_read_as_s6_supervise_writes_them() {
        // Taken from s6-supervise 2.11.3: up, pid 9, wanted up.
        let b = [
            0x40, 0, 0, 0, 0x6b, 0x0e, 0x0b, 0x27, 0x1c, 0x9c, 0x4a, 0x38, 0x40, 0, 0, 0, 0x6b,
            0x0e, 0x0b, 0x27, 0x1b, 0xb0, 0x4b, 0x84, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 4,
        ];
        let st = parse_status(&b).unwrap();
        assert_eq!(st.pid, 9);
        assert!(st.want_up);
        assert!(!st.finishing);
        assert_eq!(st.since, 0x6b0e0b27 - TAI_MINUS_UTC);
        assert_eq!(parse_status(&b[..34]), None);
    }
}
