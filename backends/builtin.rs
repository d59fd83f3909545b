//! svc-any's own supervisor (`src/supervisor/`): the default where no init system runs.
//!
//! Its native definition is a TOML file per service in `STATE_DIR/builtin/`, the validated
//! definition as the supervisor reads it back; enabling is a link per unit in
//! `STATE_DIR/builtin/enabled/`. Every other verb is a request on the supervisor's socket, which
//! starts the supervisor first if it is not running (so a supervisor killed with -9 comes back
//! with the next command, and brings back exactly the enabled services).

use std::path::PathBuf;

use anyhow::{Context as _, Result};

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, Plan};
use crate::model::spec::{self, Level, Service, ServiceType, Used};
use crate::model::status::{ServiceStatus, State};
use crate::supervisor::protocol::{unit_key, Request};
use crate::supervisor::{client, log_path, Scope};
use crate::system::host::Ctx;

pub struct Builtin;

/// The scope the CLI's context points at (paths on this machine: builtin is never rendered
/// for another one's manager to read).
fn scope(ctx: &Ctx) -> Scope {
    Scope::of(ctx)
}

fn unit_keys(service: &Service) -> Vec<String> {
    service
        .instance_names()
        .into_iter()
        .map(|i| unit_key(&service.name, i))
        .collect()
}

/// What svc-any's own supervisor runs of the keys of real daemons. Each key it comes to run is
/// one line here.
pub(crate) fn carries(used: &Used, service: &Service) -> Verdict {
    match used.key {
        // Made before each start (supervisor/directories.rs), below /run, /var/lib, /var/log, /etc.
        "runtime_dir" | "state_dir" | "logs_dir" | "config_dir" | "runtime_dir_mode"
        | "state_dir_mode" | "logs_dir_mode" | "config_dir_mode" => match service.level {
            Level::System => Ok(()),
            Level::User => Err("svc-any's supervisor makes them at system level only"),
        },
        "log.timestamps" | "log.stderr" => Ok(()),
        // A mount namespace and the capability sets of each process's own, set up between
        // clone and exec as root (supervisor/sandbox.rs); a user's supervisor has neither.
        "private_tmp" | "private_devices" | "protect_system" | "protect_home"
        | "read_only_paths" | "read_write_paths" | "capabilities" => match service.level {
            Level::System => Ok(()),
            Level::User => {
                Err("a user's supervisor cannot make a mount namespace or drop capabilities")
            }
        },
        // Set in the child between fork and exec, as systemd does (supervisor/child.rs).
        "umask" | "supplementary_groups" | "no_new_privileges" | "env_file" => Ok(()),
        // The restart decision (supervisor/machine.rs): a listed exit stays down; on-abnormal
        // and on-abort restart after a death by a signal (there is no watchdog to time out).
        "restart" | "restart_prevent_exit_codes" => Ok(()),
        "documentation" => Ok(()),
        // Other names: a verb, a request or another unit's dependency may use them
        // (engine/groups.rs `expand_groups`, model/spec/deps.rs, supervisor/order.rs).
        "aliases" => Ok(()),
        // Never KILL: the stop waits for the process as long as it takes (Service::stop_wait).
        "stop_timeout" => Ok(()),
        // Up once the program runs (the child has exec'd when the clone returns): simple and
        // exec mean that here, and with no job queue to wait for, idle does too.
        "type" => match used.value.as_deref() {
            Some("\"simple\"" | "\"exec\"" | "\"idle\"") => Ok(()),
            // NOTIFY_SOCKET and READY=1, as systemd (supervisor/notify.rs).
            Some("\"notify\"") => Ok(()),
            // Run to completion; up (with remain_after_exit) or stopped after a clean end,
            // never restarted then (supervisor/machine.rs, lifecycle.rs `after_main_exit`).
            Some("\"oneshot\"") => Ok(()),
            // The process started exits 0; the daemon it leaves, the supervisor's child as
            // the subreaper of all it starts, is read from pid_file and supervised (supervisor/
            // readiness.rs `look_for_pid`). Without a pid file there is no telling which it is.
            Some("\"forking\"") if service.daemon.pid_file.is_some() => Ok(()),
            Some("\"forking\"") => {
                Err("svc-any's supervisor finds a forking daemon by its pid_file: add pid_file")
            }
            _ => Err("svc-any's supervisor does not run it yet"),
        },
        // Forking: where the daemon's pid is read. Any other type: the main process is the
        // supervisor's own child, known without the file, which stays the daemon's business.
        "pid_file" => Ok(()),
        // A oneshot that ended cleanly stays up with no process until stopped (machine.rs
        // Phase::Exited); another type's process that ends is down.
        "remain_after_exit" => match service.daemon.service_type {
            Some(ServiceType::Oneshot) => Ok(()),
            _ => Err("svc-any's supervisor keeps only a oneshot up once its process ends"),
        },
        // One at a time, in order, as the service's user in its directory with its
        // environment (MAINPID for post_start, reload_exec and stop_exec), into its log; a
        // failure fails the step unless may_fail; start commands within 90 s, stop commands
        // within stop_timeout (supervisor/commands.rs, jobs.rs `run_job`): pre_start before
        // the main process, post_start once it is up, reload_exec instead of a signal,
        // stop_exec before the stop signal and after an end by itself, post_stop once it is
        // gone however it ended.
        "pre_start" | "post_start" | "reload_exec" | "stop_exec" | "post_stop" => Ok(()),
        // Whom the stop signal, the KILL and the cleanup after an exit reach (supervisor/
        // lifecycle.rs): the process group (as a cgroup), or the main process.
        "kill_mode" => Ok(()),
        // systemd's variable references, expanded at each spawn from the environment the
        // process gets, MAINPID included where it is set (dialect/exec_expand.rs, by
        // supervisor/child.rs `spawn_program`).
        "exec_expand" => Ok(()),
        // Checked before each start; an unmet one leaves the unit stopped, with the reason.
        "condition_path_exists" => Ok(()),
        // systemd's Wants=: a start (a request, or boot for an enabled unit) also starts the
        // installed services it names, unordered unless `after` names them too, and whatever
        // becomes of them the wanting one starts (supervisor/order.rs `with_wanted`, called by
        // requests.rs `start`/`restart` and daemon.rs at boot). `db@{instance}`: not yet.
        "wants" if !per_instance(used) => Ok(()),
        // The other side of `after`: units the supervisor starts together (at boot, a group)
        // start after this one; `before` a facility puts it ahead of those `after` the same
        // facility (model/spec/deps.rs `dependency_order`), as systemd orders both against the
        // target.
        "before" if !per_instance(used) => Ok(()),
        // Facilities: reached before the supervisor starts. It runs where no init does (a
        // container's entry point, a CI box, a shell on a booted host), after the host mounted
        // its file systems, configured its network and clock and started its logger, or
        // without them for good; so ordering against one orders against nothing, as systemd's
        // does when nothing on the host provides the target. Nothing is checked or waited for.
        "after" | "requires" | "wants" if facility(used) => Ok(()),
        // A service of the host in `after` (systemd's After=, which orders only against a
        // unit that starts too): after the supervisor's unit of that name, if it has one
        // (model/spec/deps.rs `host_services_after`).
        "after" if carried::names_host_service(used) => Ok(()),
        _ => Err("svc-any's supervisor does not run it yet"),
    }
}

/// For a manager whose script asks the supervisor (SysV; OpenRC for what supervise-daemon
/// cannot carry): what every such script says, `svc_any` (the binary by absolute path, as
/// boot-time PATHs are short) and whether it has a `reload`.
pub(crate) fn insert_script_context(c: &mut tera::Context, service: &Service) -> Result<()> {
    let exe = crate::system::process::svc_any_binary()?;
    let exe = exe
        .to_str()
        .ok_or_else(|| crate::model::error::bad("the svc-any binary's path is not UTF-8"))?;
    c.insert("svc_any", &crate::dialect::escape::sh::quote(exe)?);
    c.insert(
        "reload",
        &(service.reload_signal.is_some() || !service.daemon.reload_exec.is_empty()),
    );
    Ok(())
}

/// The supervisor's own files for a service another manager's script fronts: its definition
/// without boot links. That manager orders the boot (facilities, the host's services,
/// `before`) and gives the aliases; the supervisor starts the process when the script asks,
/// answers to the service's own name and waits only for svc-any's services.
pub(crate) fn behind_a_script(ctx: &Ctx, service: &Service) -> Result<Vec<render::FileSpec>> {
    let mut for_supervisor = service.clone();
    for_supervisor.daemon.aliases.clear();
    let own = |d: &spec::Dependency| matches!(d, spec::Dependency::Service(_));
    for_supervisor.after.retain(own);
    for_supervisor.requires.retain(own);
    for_supervisor.daemon.wants.retain(own);
    for_supervisor.daemon.before.clear();
    Ok(Builtin.render(ctx, &for_supervisor)?.files)
}

/// A dependency entry naming a facility (`"$network-online"`).
fn facility(used: &Used) -> bool {
    used.value.as_deref().is_some_and(|v| v.starts_with("\"$"))
}

/// A dependency entry naming the same instance of another service (`db@{instance}`).
fn per_instance(used: &Used) -> bool {
    used.value
        .as_deref()
        .is_some_and(|v| v.contains(crate::model::spec::INSTANCE_PLACEHOLDER))
}

impl Builtin {
    /// Asks the scope's supervisor, starting it if none runs.
    fn request(&self, ctx: &Ctx, request: &Request) -> Result<Vec<ServiceStatus>> {
        say_request(ctx, request);
        Ok(client::request(&scope(ctx), ctx.level, request)?.units)
    }

    /// Asks the scope's supervisor if one runs; `None` if none does.
    fn query(&self, ctx: &Ctx, request: &Request) -> Result<Option<Vec<ServiceStatus>>> {
        say_request(ctx, request);
        Ok(client::query(&scope(ctx), ctx.level, request)?.map(|answer| answer.units))
    }
}

/// `-v`: the supervisor has no tool to show, so show what it is asked.
fn say_request(ctx: &Ctx, request: &Request) {
    let line = serde_json::to_string(request).unwrap_or_default();
    ctx.report.command(&format!(
        "supervisor request {line} on {}",
        scope(ctx).socket_path().display()
    ));
}

impl Backend for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        // The supervisor orders the services it runs by name; it has no units to wait for.
        spec::refuse_systemd_units_but_after_services(service, self.name())?;
        let definitions = scope(ctx).definitions_dir();
        let file = definitions.join(format!("{}.toml", service.name));
        // The toml serializer is this dialect's escaper: every string round-trips exactly.
        // The file holds `env` values, which may be secrets: only its owner reads it (0600).
        let definition = toml::to_string(service).context("encoding the definition as TOML")?;
        let mut context = render::context(service);
        context.insert("definition", &definition);
        let content = ctx.renderer.render("builtin.toml", &context)?;
        let enabled = scope(ctx).enabled_dir();
        Ok(Plan::one_file(
            file,
            0o600,
            content,
            unit_keys(service).into_iter().map(|key| enabled.join(key)),
        ))
    }

    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        // A supervisor that does not run has nothing to re-read, and starting one here would
        // start services nobody asked for.
        let all = Request::Reload {
            services: Vec::new(),
        };
        self.query(ctx, &all).map(drop)
    }

    fn reload_definitions(&self, ctx: &Ctx, services: &[&str]) -> Result<()> {
        if services.is_empty() {
            return Ok(());
        }
        let some = Request::Reload {
            services: services.iter().map(|s| s.to_string()).collect(),
        };
        self.query(ctx, &some).map(drop)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let units: Vec<String> = services.iter().flat_map(|s| unit_keys(s)).collect();
        let request = match verb {
            Verb::Start => Request::Start { units },
            Verb::Stop => Request::Stop { units },
            Verb::Restart => Request::Restart { units },
            Verb::Reload => {
                // The engine checked that each has a reload_signal or reload_exec. Commands
                // run in the supervisor, which answers once they ran; a signal is sent (one
                // request per signal, as a supervisor of an earlier version understands).
                let (commands, signals): (Vec<&&Service>, Vec<&&Service>) = services
                    .iter()
                    .partition(|s| !s.daemon.reload_exec.is_empty());
                if !commands.is_empty() {
                    let units = commands.iter().flat_map(|s| unit_keys(s)).collect();
                    self.request(ctx, &Request::ReloadUnits { units })?;
                }
                for s in signals {
                    let signal = s
                        .reload_signal
                        .expect("checked by the engine")
                        .name()
                        .to_string();
                    self.request(
                        ctx,
                        &Request::Signal {
                            units: unit_keys(s),
                            signal,
                        },
                    )?;
                }
                return Ok(());
            }
        };
        self.request(ctx, &request).map(drop)
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let units: Vec<String> = services.iter().flat_map(|s| unit_keys(s)).collect();
        if units.is_empty() {
            return Ok(Vec::new());
        }
        // A question never starts the supervisor (and with it, services).
        match self.query(ctx, &Request::Status { units })? {
            Some(units) => Ok(units),
            None => Ok(services
                .iter()
                .flat_map(|s| s.instance_names().into_iter().map(move |i| (*s, i)))
                .map(|(s, i)| without_supervisor(ctx, s, i))
                .collect()),
        }
    }

    fn log_times(&self, service: &Service) -> Result<(), &'static str> {
        match &service.log {
            Some(log) if !log.stamped() => Err(
                "its log.timestamps = false: the supervisor writes its lines with no time on them",
            ),
            _ => Ok(()),
        }
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        crate::system::logfiles::tail_files(ctx, &self.log_files(ctx, service), options)
    }

    fn log_files(&self, ctx: &Ctx, service: &Service) -> Vec<PathBuf> {
        let mut files = match &service.log {
            Some(log) => crate::system::logfiles::log_files(service, &log.file),
            None => unit_keys(service)
                .iter()
                .map(|k| log_path(&scope(ctx), k, service))
                .collect(),
        };
        files.extend(crate::system::logfiles::stderr_files(service));
        files
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(&scope(ctx).definitions_dir());
        Ok(render::marked_names(&dir, ".toml"))
    }

    /// No supervisor holds the scope's lock (a lock file one killed with -9 left is free).
    fn idle(&self, ctx: &Ctx) -> bool {
        use nix::fcntl::{Flock, FlockArg};
        let Ok(file) = std::fs::File::open(ctx.on_target(&scope(ctx).lock_path())) else {
            return true;
        };
        !matches!(
            Flock::lock(file, FlockArg::LockExclusiveNonblock),
            Err((_, nix::errno::Errno::EWOULDBLOCK))
        )
    }

    /// Restarts exactly the units the supervisor runs now (one request for them all).
    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        let statuses = self.status(ctx, services)?;
        let running = super::running_labels(&statuses);
        let units: Vec<String> = statuses
            .iter()
            .filter(|s| running.contains(&s.label()))
            .map(|s| unit_key(&s.name, s.instance.as_deref()))
            .collect();
        if !units.is_empty() {
            self.request(ctx, &Request::Restart { units })?;
        }
        Ok(running)
    }
}

/// What status says of a unit while no supervisor runs: stopped, or dead when someone started
/// it and nobody stopped it (its supervisor was killed, and with it the service).
fn without_supervisor(ctx: &Ctx, service: &Service, instance: Option<&str>) -> ServiceStatus {
    let scope = scope(ctx);
    let key = unit_key(&service.name, instance);
    let wanted = scope.wanted_up(&key);
    ServiceStatus {
        instance: instance.map(String::from),
        unit: key.clone(),
        state: if wanted { State::Dead } else { State::Stopped },
        enabled: Some(ctx.on_target(&scope.enabled_dir().join(&key)).exists()),
        reason: wanted.then(|| {
            "svc-any's supervisor is not running (killed?): any start, stop or restart brings it back"
                .to_string()
        }),
        ..ServiceStatus::not_installed(&service.name, "builtin")
    }
}
