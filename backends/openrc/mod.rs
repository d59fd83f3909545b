//! OpenRC (Alpine, Gentoo, and Debian's `openrc` package): `/etc/init.d/NAME`
//! (`#!/sbin/openrc-run`, supervised by `supervise-daemon`) and `/etc/conf.d/NAME`, driven with
//! `rc-service`; instances are `NAME.INSTANCE` links to the script, each with its own conf.d.
//!
//! The traps this module owns:
//! - openrc-run expands `command`, `command_args`, `directory`, `command_user` and the log
//!   paths *unquoted* (word splitting, globbing) and then `eval`s them. Quoting a value once is
//!   not enough (two spaces become one). So conf.d holds every value as one single-quoted
//!   shell word ([`crate::dialect::escape::sh`]) in a `svc_any_*` variable, and those settings only hold
//!   `"$svc_any_…"` references, which pass both steps unchanged.
//! - Debian's openrc uses dpkg's start-stop-daemon, which does not notice a crashed
//!   `command_background` daemon; `supervisor=supervise-daemon` does, and respawns it.
//! - supervise-daemon's respawn delay is whole seconds, and it respawns after *any* exit: it
//!   cannot tell `restart = "on-failure"` or `"no"` from `"always"`.
//! - Debian has no `localmount` or `net` services: `depend()` names only svc-any's own.
//! - OpenRC's `umask=` does not reach the process on Debian 13: supervise-daemon sets it, then
//!   opens a PAM session for `command_user`, and the `pam_umask` in Debian 13's common-session
//!   gives the group the owner's bits when the user's primary group has its name (0027 becomes
//!   0007). So `/bin/sh` sets the umask after all that and execs the program (same pid).
//!
//! The module is in two parts: this file has what a backend says and does (what it carries,
//! the plan, `rc-service` and `rc-update`, the status read from OpenRC's own files); `script`
//! writes the two files, the init.d script and each unit's conf.d.

mod script;
mod supervised;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Result;

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, Builtin, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::spec::{Service, Used};
use crate::model::status::{ServiceStatus, State};
use crate::system::health::{self, Backoff};
use crate::system::host::Ctx;
use crate::system::process;

pub struct Openrc;

const INIT_D: &str = "/etc/init.d";
const CONF_D: &str = "/etc/conf.d";
const RUNLEVEL: &str = "/etc/runlevels/default";
/// Where OpenRC keeps what it knows about running services.
const RUN: &str = "/run/openrc";
/// How long a start waits for supervise-daemon to report its child (see `Openrc::settle`).
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// What supervise-daemon's child runs before the program: supervise-daemon itself (it writes
/// `child_pid` at fork, then sets up the PAM session, user and limits), then the shell that
/// sets the umask (see the init script's template).
const BEFORE_PROGRAM: &[&str] = &["supervise-daemon", "sh"];

/// OpenRC's name for a unit: `NAME`, or `NAME.INSTANCE` for an instance.
fn units(service: &Service) -> Vec<(Option<String>, String)> {
    service.units('.')
}

/// OpenRC's name for one unit of `service`.
fn rc_name(service: &Service, instance: Option<&str>) -> String {
    match instance {
        Some(i) => format!("{}.{i}", service.name),
        None => service.name.clone(),
    }
}

/// What OpenRC (supervise-daemon, openrc-run's functions) carries of the keys of real daemons.
fn carries(used: &Used, _service: &Service) -> Verdict {
    let facility = used.value.as_deref().is_some_and(|v| v.starts_with("\"$"));
    let per_instance = used
        .value
        .as_deref()
        .is_some_and(|v| v.contains("{instance}"));
    match used.key {
        _ if per_instance => {
            Err("svc-any maps a dependency on another service's instance on systemd only")
        }
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"" | "\"idle\"") => Ok(()),
            Some("\"notify\"") => Err("supervise-daemon cannot wait for sd_notify's READY=1"),
            Some("\"forking\"") => Err(
                "supervise-daemon cannot follow a daemon that forks, and start-stop-daemon \
                 changes user differently in OpenRC's and Debian's builds",
            ),
            _ => Err("svc-any does not map it to OpenRC yet"),
        },
        "pid_file" => {
            Err("supervise-daemon tracks its child itself: only a forking daemon has one")
        }
        "remain_after_exit" => Err("svc-any maps no one-shot service to OpenRC yet"),
        "pre_start" | "post_start" | "post_stop" | "reload_exec" => Ok(()),
        "stop_exec" => Err("supervise-daemon would respawn a process a stop command ends"),
        "runtime_dir" | "state_dir" | "logs_dir" | "config_dir" => Ok(()),
        "runtime_dir_mode" | "state_dir_mode" | "logs_dir_mode" | "config_dir_mode" => Ok(()),
        "env_file" | "documentation" | "aliases" | "umask" | "no_new_privileges" => Ok(()),
        "wants" | "before" => Ok(()),
        "after" | "requires" if facility => Ok(()),
        // A unit of the host's in `after` orders only if it starts too: OpenRC's `after`.
        "after" if carried::names_host_service(used) => Ok(()),
        "exec_expand" => Err("openrc-run's shell does not expand variables as systemd does"),
        "restart" | "restart_prevent_exit_codes" => Err("supervise-daemon respawns after any exit"),
        "kill_mode" | "stop_timeout" => {
            Err("supervise-daemon signals its child only, and always ends with KILL")
        }
        "private_tmp" | "private_devices" | "protect_system" | "protect_home"
        | "read_only_paths" | "read_write_paths" => {
            Err("OpenRC sets up no mount namespace for a service")
        }
        "systemd" => Err("the [systemd] table is for systemd only"),
        "log.stderr" => Ok(()),
        "log.timestamps" => Err(
            "supervise-daemon writes the log as the process wrote it, with no time on its lines",
        ),
        "capabilities" => Err("Debian's supervise-daemon is built without capabilities support"),
        _ => Err("svc-any does not map it to OpenRC yet"),
    }
}

/// The log file of one unit: `log.file`, else `/var/log/UNIT.log`.
fn log_file(service: &Service, unit: &str) -> String {
    service
        .log
        .as_ref()
        .map_or_else(|| format!("/var/log/{unit}.log"), |l| l.file.clone())
}

impl Openrc {
    /// `rc-service start` returns once supervise-daemon is forked, before it has started the
    /// service: until then OpenRC's files say only "starting". A start is not done (and a
    /// `status` right after it would not say `running`) until supervise-daemon knows its child,
    /// or gave up; waited for here, [`SETTLE_LIMIT`] at most (a service that crashes at once
    /// stays "starting" while supervise-daemon respawns it), looking often at first.
    fn settle(&self, ctx: &Ctx, services: &[&Service]) {
        let deadline = std::time::Instant::now() + SETTLE_LIMIT;
        let mut pause = Backoff::new(health::POLL_FIRST, health::POLL_MAX);
        while std::time::Instant::now() < deadline {
            let Ok(statuses) = self.status(ctx, services) else {
                return;
            };
            if !statuses.iter().any(|s| s.state == State::Starting) {
                return;
            }
            std::thread::sleep(pause.pause());
        }
    }

    fn runlevel(&self, ctx: &Ctx, links: &[LinkSpec], action: &str) -> Result<bool> {
        let live_root = ctx.root == Path::new("/") && process::find_tool("rc-update").is_ok();
        if !live_root {
            return match action {
                "add" => crate::system::bootlinks::create_boot_links(ctx, links),
                _ => crate::system::bootlinks::remove_boot_links(ctx, links),
            };
        }
        let mut changed = false;
        for link in links {
            let present = std::fs::symlink_metadata(&link.path).is_ok();
            if present == (action == "add") {
                continue;
            }
            let unit = link
                .path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            let mut cmd = process::tool("rc-update")?;
            ctx.run(cmd.args([action, &unit, "default"]))?;
            let verb = if action == "add" {
                "enabled at boot:"
            } else {
                "disabled at boot:"
            };
            ctx.say(format!("{verb} rc-update {action} {unit} default"));
            changed = true;
        }
        Ok(changed)
    }

    fn rc_service(&self, ctx: &Ctx, unit: &str, action: &str) -> Result<()> {
        let mut cmd = process::tool("rc-service")?;
        ctx.run(cmd.args([unit, action]))?;
        Ok(())
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn alive(pid: u32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_ok()
}

fn mtime(path: &Path) -> Option<u64> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    m.duration_since(std::time::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

impl Backend for Openrc {
    fn name(&self) -> &'static str {
        "openrc"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        if supervised::leans_on_supervisor(service) {
            return self.supervised_plan(ctx, service);
        }
        let service = &carried::check(ctx, self.name(), service, carries)?;
        let script = PathBuf::from(INIT_D).join(&service.name);
        let mut files = vec![FileSpec {
            path: script.clone(),
            mode: 0o755,
            content: self.script(ctx, service)?,
        }];
        let mut links = Vec::new();
        let mut enable_links = Vec::new();
        for (instance, unit) in units(service) {
            files.push(FileSpec {
                path: PathBuf::from(CONF_D).join(&unit),
                mode: render::mode_for_values(service),
                content: self.conf(ctx, service, instance.as_deref())?,
            });
            let unit_script = PathBuf::from(INIT_D).join(&unit);
            if instance.is_some() {
                links.push(LinkSpec {
                    path: unit_script.clone(),
                    target: script.clone(),
                });
            }
            // What `rc-update add UNIT default` makes.
            enable_links.push(LinkSpec {
                path: PathBuf::from(RUNLEVEL).join(&unit),
                target: unit_script,
            });
        }
        Ok(Plan {
            files,
            links,
            enable_links,
        })
    }

    /// OpenRC reads scripts when it runs them and refreshes its dependency cache by mtime.
    fn reload_manager(&self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }

    /// svc-any's supervisor, if it runs (for the services that lean on it), re-reads theirs;
    /// it is not started for this.
    fn reload_definitions(&self, ctx: &Ctx, services: &[&str]) -> Result<()> {
        Builtin.reload_definitions(ctx, services)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        for service in services {
            if verb == Verb::Start && supervised::leans_on_supervisor(service) {
                // OpenRC may remember the name as started from a script it no longer has (a
                // package's LSB script, which OpenRC runs but cannot track, stopped and
                // removed): `start` would then do nothing. The supervisor says what runs, and
                // starting what runs already is nothing to it.
                let marked = ctx.on_target(&PathBuf::from(RUN).join("started").join(&service.name));
                if std::fs::symlink_metadata(marked).is_ok() {
                    self.rc_service(ctx, &service.name, "zap")?;
                }
            }
            for (_, unit) in units(service) {
                self.rc_service(ctx, &unit, verb.as_str())?;
            }
        }
        if matches!(verb, Verb::Start | Verb::Restart) {
            self.settle(ctx, services);
        }
        Ok(())
    }

    /// Read from OpenRC's own state files in one pass, no process per service; a service that
    /// leans on svc-any's supervisor, from the supervisor.
    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let run = |p: &str| ctx.on_target(&PathBuf::from(RUN).join(p));
        let mut out = Vec::new();
        for service in services {
            if supervised::leans_on_supervisor(service) {
                for mut s in Builtin.status(ctx, &[service])? {
                    s.backend = "openrc".into();
                    s.enabled = Some(
                        ctx.on_target(&PathBuf::from(RUNLEVEL).join(&s.unit))
                            .exists(),
                    );
                    out.push(s);
                }
                continue;
            }
            for (instance, unit) in units(service) {
                let options = run(&format!("options/{unit}"));
                let child = read(&options.join("child_pid")).and_then(|p| p.parse::<u32>().ok());
                // `supervise-daemon --start` returns before the supervisor it forks has
                // written its pid: an empty pid file means it is still on its way up.
                let supervisor_file = read(&options.join("pidfile")).map(|f| read(Path::new(&f)));
                let supervisor_starting = matches!(&supervisor_file, Some(None))
                    || matches!(&supervisor_file, Some(Some(p)) if p.is_empty());
                let supervisor = supervisor_file
                    .flatten()
                    .and_then(|p| p.parse::<u32>().ok());
                let installed = ctx.on_target(&PathBuf::from(INIT_D).join(&unit)).exists();
                let started = run(&format!("started/{unit}")).exists();
                let (state, reason) = if !installed {
                    (State::NotInstalled, None)
                } else if run(&format!("failed/{unit}")).exists() {
                    (State::Failed, Some("OpenRC marked it failed".to_string()))
                } else if started && child.is_some_and(alive) {
                    let s = service.for_instance(instance.as_deref());
                    let forked_only = ctx.root == Path::new("/")
                        && child.is_some_and(|pid| {
                            process::not_yet_the_program(pid, &s.exec[0], BEFORE_PROGRAM)
                        });
                    if forked_only {
                        (
                            State::Starting,
                            Some("supervise-daemon has forked it, the program not yet".into()),
                        )
                    } else {
                        (State::Running, None)
                    }
                } else if started && supervisor.is_some_and(alive) {
                    (
                        State::Starting,
                        Some("supervise-daemon is respawning it".to_string()),
                    )
                } else if started && supervisor_starting {
                    (State::Starting, None)
                } else if started {
                    // Giving up (respawn_max) marks the service failed, handled above: here
                    // its supervisor is gone without a word (killed).
                    (
                        State::Failed,
                        Some("its supervise-daemon is not running".to_string()),
                    )
                } else {
                    (State::Stopped, None)
                };
                out.push(ServiceStatus {
                    name: service.name.clone(),
                    instance,
                    backend: "openrc".into(),
                    unit: unit.clone(),
                    state,
                    pid: child.filter(|p| state == State::Running && alive(*p)),
                    since: if started {
                        mtime(&options.join("child_pid"))
                    } else {
                        None
                    },
                    restarts: read(&options.join("start_count")).and_then(|c| c.parse().ok()),
                    last_exit: None,
                    enabled: installed
                        .then(|| ctx.on_target(&PathBuf::from(RUNLEVEL).join(&unit)).exists()),
                    reason,
                });
            }
        }
        Ok(out)
    }

    fn log_times(&self, service: &Service) -> Result<(), &'static str> {
        if supervised::leans_on_supervisor(service) {
            return Builtin.log_times(service);
        }
        Err(
            "supervise-daemon writes the service's output to its log file as it came, with no \
             time on its lines",
        )
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        if supervised::leans_on_supervisor(service) {
            return Builtin.logs(ctx, service, options);
        }
        crate::system::logfiles::tail_files(ctx, &self.log_files(ctx, service), options)
    }

    fn log_files(&self, ctx: &Ctx, service: &Service) -> Vec<PathBuf> {
        if supervised::leans_on_supervisor(service) {
            return Builtin.log_files(ctx, service);
        }
        let mut files: Vec<PathBuf> = units(service)
            .iter()
            .map(|(i, unit)| PathBuf::from(log_file(&service.for_instance(i.as_deref()), unit)))
            .collect();
        files.extend(crate::system::logfiles::stderr_files(service));
        files
    }

    /// `rc-update add UNIT default` on the live root (it makes exactly the planned link);
    /// the link itself for a `--root` tree or a host without rc-update.
    fn enable(&self, ctx: &Ctx, _service: &Service, links: &[LinkSpec]) -> Result<bool> {
        self.runlevel(ctx, links, "add")
    }

    fn disable(&self, ctx: &Ctx, _service: &Service, links: &[LinkSpec]) -> Result<bool> {
        self.runlevel(ctx, links, "del")
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(Path::new(INIT_D));
        Ok(render::marked_names(&dir, ""))
    }

    /// `rc-service --ifstarted UNIT restart`: OpenRC restarts the unit only if it is started.
    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        let running = super::running_labels(&self.status(ctx, services)?);
        for service in services {
            for (_, unit) in units(service) {
                let mut cmd = process::tool("rc-service")?;
                ctx.run(cmd.args(["--ifstarted", &unit, "restart"]))?;
            }
        }
        Ok(running)
    }
}
