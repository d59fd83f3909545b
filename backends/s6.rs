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
use crate::model::spec::{self, Dependency, Level, Limit, Service, ServiceType, Used};
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::host::Ctx;
use crate::system::process;
use crate::system::supervise::{mark_asked, marked_name, scanned_dir, unsupervised, wait_until};

pub struct S6;

/// Where the service directories live.
const SV: &str = "/etc/s6/sv";
/// Where `finish` keeps how the process ended, its restart counts and the `failed` mark.
const STATE: &str = "/run/svc-any/s6";
/// Where svlogd writes each unit's output (`current`, rotated `@*.s`).
const LOGS: &str = "/var/log/s6";
/// How long s6-svscan may take, once told, to start s6-supervise for a new link.
const SCAN_WAIT: Duration = Duration::from_secs(15);

/// s6's name for a unit: `NAME`, or `NAME@INSTANCE`.
fn unit_name(service: &Service, instance: Option<&str>) -> String {
    match instance {
        Some(i) => format!("{}@{i}", service.name),
        None => service.name.clone(),
    }
}

fn units(service: &Service) -> Vec<(Option<String>, String)> {
    service
        .instance_names()
        .into_iter()
        .map(|i| (i.map(String::from), unit_name(service, i)))
        .collect()
}

fn sv_dir(unit: &str) -> PathBuf {
    PathBuf::from(SV).join(unit)
}

fn state_dir(unit: &str) -> PathBuf {
    PathBuf::from(STATE).join(unit)
}

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

/// How `finish` recorded the last end: `exited N asked` or `killed N itself`.
fn last_exit(line: &str) -> Option<(LastExit, bool)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [how, n, by] = f.as_slice() else {
        return None;
    };
    let n: i32 = n.parse().ok()?;
    let exit = match *how {
        "exited" => LastExit::Exited { code: n },
        "killed" => LastExit::Killed {
            signal: Signal::from_name(&n.to_string())
                .map_or_else(|| n.to_string(), |s| s.name().to_string()),
        },
        _ => return None,
    };
    Some((exit, *by == "asked"))
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
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
        let mut waits = Vec::new();
        let own = |deps: &[Dependency]| -> Vec<String> {
            deps.iter()
                .filter_map(|d| match d {
                    Dependency::Service(name) => Some(name.clone()),
                    _ => None,
                })
                .collect()
        };
        let required = own(&service.requires);
        let wait_secs = 30;
        for name in &required {
            let q = word(name, "requires")?;
            waits.push(format!(
                "for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ] && [ \"$(s6-svstat -o up \"$d\")\" != true ]; then s6-svc -wu -T {wait_secs}000 -u \"$d\" || exit 111; fi; done"
            ));
        }
        for name in own(&service.after)
            .into_iter()
            .filter(|n| !required.contains(n))
        {
            let q = word(&name, "after")?;
            waits.push(format!(
                "for d in {SV}/{q} {SV}/{q}@*; do if [ -d \"$d\" ] && [ \"$(s6-svstat -o wantedup \"$d\")\" = true ]; then s6-svwait -u -t {wait_secs}000 \"$d\"; fi; done"
            ));
        }
        let mut c = render::context(service);
        c.insert("unit", &unit);
        c.insert("script", &script);
        c.insert("waits", &waits);
        ctx.renderer.render("s6.run", &c)
    }

    fn finish_script(&self, ctx: &Ctx, service: &Service, unit: &str) -> Result<String> {
        let mut c = render::context(service);
        c.insert("unit", &unit);
        c.insert(
            "state",
            &word(&state_dir(unit).display().to_string(), "name")?,
        );
        c.insert("restart", service.restart.as_str());
        c.insert("clean", &run_dir::clean_patterns(service));
        c.insert("limit", &service.restart_limit);
        c.insert(
            "interval",
            &run_dir::whole_seconds(service.restart_limit_interval).max(1),
        );
        let delay = service.restart_delay.as_millis() as u64;
        c.insert("delay_ms", &delay);
        c.insert(
            "max_delay_ms",
            &(service.restart_max_delay.as_millis() as u64).max(delay),
        );
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
        let missing: Vec<&PathBuf> = dirs
            .iter()
            .filter(|d| !wait_until(SCAN_WAIT, || supervised(&ctx.on_target(d))))
            .collect();
        if let Some(first) = missing.first() {
            bail!(
                "s6-svscan has not picked up {} within {}s: is s6-svscan running on {}?",
                first.display(),
                SCAN_WAIT.as_secs(),
                scan_dir(ctx).display()
            );
        }
        Ok(())
    }

    /// `s6-svc ARGS DIR` for each of `dirs` (s6-svc takes one service directory); the
    /// first error, after trying them all.
    /// Asks the scanner for the supervisor of every installed unit of `services` that has
    /// none now (a killed one not yet restarted), so that a stop reaches the manager: stopping
    /// only the processes would leave the restarted supervisor to start them again. With no
    /// scanner running there is nobody to ask; the engine then stops what it saw run.
    fn reclaim(&self, ctx: &Ctx, services: &[&Service]) {
        if !ctx.live || ctx.root != Path::new("/") || scanned_dir(&ctx.root, "s6-svscan").is_none()
        {
            return;
        }
        let dirs: Vec<PathBuf> = services
            .iter()
            .flat_map(|s| units(s).into_iter().map(|(_, u)| sv_dir(&u)))
            .collect();
        let lost = unsupervised(&scan_dir(ctx), &dirs, supervised);
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
            .flat_map(|s| units(s).into_iter().map(|(_, u)| sv_dir(&u)))
            .collect();
        self.wait_supervised(ctx, &dirs)?;
        // In dependency order (the engine's): what later ones of the batch depend on is up
        // before they are started (`s6-svc -wu` waits for it).
        let mut batch: Vec<PathBuf> = Vec::new();
        for (i, s) in services.iter().enumerate() {
            for (_, unit) in units(s) {
                for f in ["failed", "window"] {
                    let _ = std::fs::remove_file(ctx.on_target(&state_dir(&unit).join(f)));
                }
                batch.push(sv_dir(&unit));
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
                if let Err(e) = self.svc(ctx, &args, &batch) {
                    ctx.warn(format!("warning: {e:#}"));
                }
                batch.clear();
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
            for (_, unit) in units(s) {
                let dir = sv_dir(&unit);
                let on = ctx.on_target(&dir);
                if supervised(&on) {
                    if self.status_of(&on).is_some_and(|st| st.want_up) {
                        wanted_up.push(state_dir(&unit));
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
        if service.level == Level::User {
            return Err(bad("svc-any installs s6 services for the system only")
                .key("level")
                .hint("a user's own s6-svscan is not supported: use level = \"system\"")
                .into());
        }
        if service.env_file.is_some() {
            return Err(bad("not carried by s6: env_file (a run script would read it as shell, not as an environment file)")
                .key("env_file")
                .hint("put the variables in [env]")
                .into());
        }
        if service.log.is_some() {
            return Err(bad(format!(
                "not carried by s6: log (s6-log writes a directory, {LOGS}/UNIT/current, rotated at 1 MB, 10 kept)"
            ))
            .key("log")
            .hint("remove [log]: `svc-any logs` reads s6-log's files")
            .into());
        }
        debug_assert!(matches!(
            service.daemon.service_type,
            None | Some(ServiceType::Simple | ServiceType::Exec)
        ));
        spec::refuse_systemd_units(service, self.name())?;
        let scan = scan_dir(ctx);
        let mut files = Vec::new();
        let mut links = Vec::new();
        for (instance, unit) in units(service) {
            let s = service.for_instance(instance.as_deref());
            let dir = sv_dir(&unit);
            // The run script holds the `env` values: root's alone then (runsv, supervise
            // and s6-supervise run it as root; it switches to the service's user itself).
            files.push(FileSpec {
                path: dir.join("run"),
                mode: render::script_mode_for_values(&s),
                content: self.run_script(ctx, &s, &unit)?,
            });
            files.push(FileSpec {
                path: dir.join("finish"),
                mode: 0o755,
                content: self.finish_script(ctx, &s, &unit)?,
            });
            let mut c = render::context(service);
            c.insert("unit", &unit);
            let logs = PathBuf::from(LOGS).join(&unit).display().to_string();
            c.insert("dir", &word(&logs, "name")?);
            files.push(FileSpec {
                path: dir.join("log/run"),
                mode: 0o755,
                content: ctx.renderer.render("s6.log", &c)?,
            });
            // Values: s6-supervise reads the first line only, so the marker goes on the second.
            let marker = render::marker_line("#", &service.name, service.source.as_deref());
            if s.stop_signal != Signal::TERM {
                files.push(FileSpec {
                    path: dir.join("down-signal"),
                    mode: 0o644,
                    content: format!("SIG{}\n{marker}\n", s.stop_signal.name()),
                });
            }
            files.push(FileSpec {
                path: dir.join("timeout-kill"),
                mode: 0o644,
                content: format!("{}\n{marker}\n", s.stop_timeout.as_millis().max(1)),
            });
            // finish sleeps restart_max_delay at most; s6 kills it after 5 s otherwise.
            files.push(FileSpec {
                path: dir.join("timeout-finish"),
                mode: 0o644,
                content: format!("{}\n{marker}\n", s.restart_max_delay.as_millis() + 5000),
            });
            links.push(LinkSpec {
                path: scan.join(&unit),
                target: dir,
            });
        }
        Ok(Plan {
            files,
            links,
            enable_links: Vec::new(),
        })
    }

    /// `s6-svscanctl -a` (s6-svscan does not rescan by itself), then wait until s6-supervise
    /// runs for every svc-any service linked in the scan directory.
    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        let scan = ctx.on_target(&scan_dir(ctx));
        let Ok(entries) = std::fs::read_dir(&scan) else {
            return Ok(());
        };
        let dirs: Vec<PathBuf> = entries
            .flatten()
            .filter_map(|e| {
                let target = std::fs::read_link(e.path()).ok()?;
                (target.starts_with(SV)
                    && marked_name(&ctx.on_target(&target.join("run"))).is_some())
                .then_some(target)
            })
            .collect();
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
                    for (_, unit) in units(s) {
                        let dir = sv_dir(&unit);
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
            for (instance, unit) in units(service) {
                let dir = ctx.on_target(&sv_dir(&unit));
                let state = ctx.on_target(&state_dir(&unit));
                let installed = dir.join("run").exists();
                let recorded = read(&state.join("exit")).and_then(|l| last_exit(&l));
                let st = if installed && supervised(&dir) {
                    self.status_of(&dir)
                } else {
                    None
                };
                let s = service.for_instance(instance.as_deref());
                let failed = state.join("failed").exists();
                let (state_now, reason) = match st {
                    _ if !installed => (State::NotInstalled, None),
                    None => (
                        State::Unknown,
                        Some(
                            "s6-supervise does not run for it (is it linked, s6-svscan running?)"
                                .into(),
                        ),
                    ),
                    Some(st) if st.pid != 0 && !st.finishing => (State::Running, None),
                    Some(st) if st.want_up => (
                        State::Starting,
                        Some("s6-supervise is restarting it".to_string()),
                    ),
                    Some(_) if failed => (
                        State::Failed,
                        Some(format!(
                            "more than {} restarts within {}",
                            s.restart_limit,
                            humantime::format_duration(s.restart_limit_interval)
                        )),
                    ),
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
                    pid: st.filter(|st| st.pid > 0 && !st.finishing).map(|st| st.pid),
                    since: st.map(|st| st.since),
                    restarts: installed.then(|| {
                        read(&state.join("restarts"))
                            .and_then(|r| r.parse().ok())
                            .unwrap_or(0)
                    }),
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
        units(service)
            .iter()
            .map(|(_, unit)| PathBuf::from(LOGS).join(unit).join("current"))
            .collect()
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let Ok(entries) = std::fs::read_dir(ctx.on_target(Path::new(SV))) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| marked_name(&e.path().join("run")))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    /// Enabled = no `down` file: s6-supervise starts the unit when it starts (at boot).
    /// A unit s6-svscan has not picked up yet (a fresh install) keeps a `down` file until
    /// s6-supervise runs, so that enabling does not start it now: `down` is read only then.
    fn enable(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> Result<bool> {
        let mut changed = false;
        let mut fresh = Vec::new();
        for (_, unit) in units(service) {
            let dir = sv_dir(&unit);
            let down = ctx.on_target(&dir.join("down"));
            if ctx.live && ctx.on_target(&dir).is_dir() && !supervised(&ctx.on_target(&dir)) {
                if !down.exists() {
                    crate::system::files::write_atomic(&down, b"", 0o644)?;
                }
                fresh.push(dir);
            } else if crate::system::files::remove(&down)? {
                ctx.say(format!("enabled at boot: removed {}", down.display()));
                changed = true;
            }
        }
        if !fresh.is_empty() {
            self.wait_supervised(ctx, &fresh)?;
            for dir in fresh {
                crate::system::files::remove(&ctx.on_target(&dir.join("down")))?;
            }
        }
        Ok(changed)
    }

    fn disables_on_uninstall(&self) -> bool {
        false
    }

    /// Disabled = a `down` file: still supervised (and left running), not started at boot.
    fn disable(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> Result<bool> {
        let mut changed = false;
        for (_, unit) in units(service) {
            let dir = ctx.on_target(&sv_dir(&unit));
            let down = dir.join("down");
            if dir.is_dir() && !down.exists() {
                crate::system::files::write_atomic(&down, b"", 0o644)?;
                ctx.say(format!("disabled at boot: created {}", down.display()));
                changed = true;
            }
        }
        Ok(changed)
    }

    fn is_enabled(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> bool {
        units(service)
            .iter()
            .all(|(_, unit)| !ctx.on_target(&sv_dir(unit).join("down")).exists())
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
        let dirs: Vec<PathBuf> = units(service)
            .into_iter()
            .map(|(_, u)| ctx.on_target(&sv_dir(&u)))
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
        for (dir, (_, unit)) in dirs.iter().zip(units(service)) {
            for sub in ["supervise", "event", "log/supervise", "log/event"] {
                let path = dir.join(sub);
                if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(&path)?;
                } else {
                    crate::system::files::remove(&path)?;
                }
            }
            crate::system::files::remove(&dir.join("down"))?;
            let state = ctx.on_target(&state_dir(&unit));
            if state.is_dir() {
                std::fs::remove_dir_all(&state)?;
            }
        }
        let runtime = ctx.on_target(Path::new(STATE));
        crate::system::files::remove_dir_if_empty(&runtime);
        if let Some(parent) = runtime.parent() {
            crate::system::files::remove_dir_if_empty(parent);
        }
        Ok(())
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

    #[test]
    fn finish_records_are_read_back() {
        assert_eq!(
            last_exit("killed 9 itself"),
            Some((
                LastExit::Killed {
                    signal: "KILL".into()
                },
                false
            ))
        );
        assert_eq!(last_exit("garbage"), None);
    }
}
