//! Packaging hooks: what a deb maintainer script or an RPM scriptlet asks of the services its
//! package ships, as one [`Step`] whatever the package format (the command line maps dpkg's
//! and rpm's arguments to it), the same on every backend.
//!
//! The rules, learnt from debhelper's autoscripts, init-system-helpers (deb-systemd-helper,
//! deb-systemd-invoke, invoke-rc.d) and systemd's RPM macros:
//!
//! - A package install never fails because of a manager or the policy layer: what cannot be
//!   done is a warning. (The command line refuses a definition that does not validate before
//!   any step runs: the one failure a package must see.)
//! - Where no manager runs (a chroot, an image build, `$DPKG_ROOT`, the manager's tools
//!   missing) files and boot links are written and nothing is started, stopped or asked.
//! - Every start, stop and restart asks `/usr/sbin/policy-rc.d` first
//!   ([`crate::system::policy`]).
//! - First install enables and starts. An upgrade keeps the admin's choice of starting at boot
//!   (the boot links as they are, as `deb-systemd-helper was-enabled` reads them), never starts
//!   what is stopped, and restarts what runs only if its definition or its program changed.
//! - Removal stops the service, and takes it out of the boot sequence; its definition and state
//!   stay until purge, which removes everything svc-any wrote for it, logs included.

use anyhow::Result;

use super::converge::try_restart;
use super::install::{install_changed, InstallOptions};
use super::purge::purge;
use super::*;
use crate::backends::{running_labels, AnyBackend, Backend, Verb};
use crate::model::spec::{self, Service};
use crate::system::host::Ctx;
use crate::system::packages::{self, PackageState};
use crate::system::policy::{self, Decision};
use crate::system::records;

/// What a maintainer script asks, whatever the package format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// First installation: install, enable, start (`postinst configure` with no previous
    /// version, `%post` with 1).
    Install,
    /// A new version over an installed one, or over one removed but not purged (`postinst
    /// configure OLD`, `%post` with 2 or more): install, keep the boot choice, restart only
    /// what runs and changed; a reinstall after removal enables and starts as before removal.
    Upgrade,
    /// An operation failed half way (`postinst abort-upgrade|abort-remove|abort-deconfigure`):
    /// the definition as the restored package has it, running if it ran before.
    Restore,
    /// The package goes away (`prerm remove`, `%preun` with 0): stop.
    Stop,
    /// Another prerm (`upgrade`, `deconfigure`, `failed-upgrade`): remember whether it runs,
    /// touch nothing.
    Note,
    /// The package was removed (`postrm remove`): not started at boot any more; definition and
    /// state stay.
    Remove,
    /// `postrm purge` (and `%postun` with 0: RPM has no purge): everything svc-any wrote for
    /// it, logs and state included.
    Purge,
}

impl Step {
    /// Whether the step installs a definition (the others act on what is installed).
    pub fn installs(self) -> bool {
        matches!(self, Step::Install | Step::Upgrade | Step::Restore)
    }
}

/// Runs an installing step ([`Step::installs`]) for `services`, in dependency order.
pub fn configure(ctx: &Ctx, backend: &AnyBackend, step: Step, services: &[Service]) {
    let refs: Vec<&Service> = services.iter().collect();
    for service in spec::dependency_order(&refs) {
        configure_one(ctx, backend, step, service);
    }
}

/// Runs a step on installed services (`Stop`, `Note`, `Remove`, `Purge`); a name svc-any did
/// not install is passed over.
pub fn act(ctx: &Ctx, backend: &AnyBackend, step: Step, names: &[String]) {
    let mut found = Vec::new();
    for name in names {
        match records::load(ctx, name) {
            Ok(Some(r)) => found.push(r),
            Ok(None) => {
                ctx.say(format!("{name} is not installed: nothing to do"));
                if step == Step::Purge {
                    // What an earlier hook remembered goes all the same.
                    warn_on(ctx, name, "forget its state", packages::remove(ctx, name));
                }
            }
            Err(e) => ctx.warn(format!("warning: {name}: {e:#}")),
        }
    }
    let services: Vec<&Service> = found.iter().map(|r| &r.service).collect();
    let mut order = spec::dependency_order(&services);
    match step {
        Step::Stop | Step::Note => {
            // Dependants first, as a stop goes.
            order.reverse();
            for service in order {
                let record = found.iter().find(|r| r.service.name == service.name);
                let enabled =
                    record.is_some_and(|r| backend.is_enabled(ctx, &r.service, &r.enable_links));
                let running = running_now(ctx, backend, service);
                let mut state =
                    load_state(ctx, &service.name).unwrap_or_else(|| PackageState::new(enabled));
                if !state.removed {
                    state.enabled = enabled;
                }
                state.running = running;
                save_state(ctx, &service.name, &state);
                if step == Step::Stop {
                    if !ctx.live {
                        not_live(ctx, backend, service, "stopped");
                    } else if running == Some(false) {
                        ctx.say(format!("{} is not running", service.name));
                    } else {
                        perform(ctx, backend, service, Action::Stop);
                    }
                }
            }
        }
        Step::Remove => {
            for r in &found {
                let name = &r.service.name;
                let mut state = load_state(ctx, name).unwrap_or_else(|| PackageState::new(true));
                if !state.removed {
                    state.enabled = backend.is_enabled(ctx, &r.service, &r.enable_links);
                    state.removed = true;
                }
                save_state(ctx, name, &state);
                match backend.disable(ctx, &r.service, &r.enable_links) {
                    Ok(changed) => {
                        if changed && ctx.live && !backend.idle(ctx) {
                            warn_on(ctx, name, "reload the manager", backend.reload_manager(ctx));
                        }
                    }
                    Err(e) => ctx.warn(format!("warning: {name}: could not disable it: {e:#}")),
                }
                if r.enabled {
                    let mut record = r.clone();
                    record.enabled = false;
                    warn_on(ctx, name, "update its record", records::save(ctx, &record));
                }
                ctx.say(format!(
                    "{name}: no longer started at boot; its definition and state stay until purge"
                ));
            }
        }
        Step::Purge => {
            let names: Vec<String> = found.iter().map(|r| r.service.name.clone()).collect();
            if names.is_empty() {
                return;
            }
            let files_only;
            let ctx = if ctx.live && backend.idle(ctx) {
                files_only = offline(ctx, "its supervisor is not running");
                &files_only
            } else {
                ctx
            };
            if let Err(e) = purge(ctx, backend, &names, false) {
                // A manager that cannot stop or reload must not keep the files: remove them
                // as in a chroot, then tell the manager if it will listen.
                ctx.warn(format!(
                    "warning: {}: {e:#}; removing the files without the manager",
                    names.join(", ")
                ));
                let offline = offline(ctx, "the manager failed");
                if let Err(e) = purge(&offline, backend, &names, false) {
                    ctx.warn(format!("warning: {}: {e:#}", names.join(", ")));
                } else if ctx.live {
                    warn_on(
                        ctx,
                        &names.join(", "),
                        "reload the manager",
                        backend.reload_manager(ctx),
                    );
                }
            }
        }
        Step::Install | Step::Upgrade | Step::Restore => ctx.warn(format!(
            "warning: {}: {step:?} installs a definition: it goes through configure()",
            names.join(", ")
        )),
    }
}

fn configure_one(ctx: &Ctx, backend: &AnyBackend, step: Step, service: &Service) {
    let name = &service.name;
    let state = load_state(ctx, name);
    let before = records::load(ctx, name).unwrap_or_else(|e| {
        ctx.warn(format!("warning: {name}: {e:#}"));
        None
    });
    let reinstall = state.as_ref().is_some_and(|s| s.removed);
    // The admin's choice of starting it at boot wherever there is one; a first install enables.
    let enable = match (&state, &before) {
        (Some(s), _) if s.removed => s.enabled,
        (_, None) => true,
        (_, Some(_)) if step == Step::Install => true,
        (_, Some(r)) => backend.is_enabled(ctx, &r.service, &r.enable_links),
    };
    // `None`: the manager cannot say (offline, or failing).
    let running = if before.is_some() {
        running_now(ctx, backend, service)
    } else {
        Some(false)
    };
    let program = packages::fingerprint(ctx, service);
    let program_changed = state.as_ref().is_none_or(|s| s.program != program);

    let opts = InstallOptions {
        enable,
        leave_running: true,
        ..InstallOptions::default()
    };
    // svc-any's own supervisor, where none runs: telling it about the new files would start
    // it, and it starts every enabled service when it starts, whatever the policy says. Files
    // only; a start, if the policy allows it, brings it up.
    let files_only;
    let install_ctx = if ctx.live && backend.idle(ctx) {
        files_only = offline(ctx, "its supervisor is not running");
        &files_only
    } else {
        ctx
    };
    let changed = match install_changed(install_ctx, backend, std::slice::from_ref(service), &opts)
    {
        Ok(names) => !names.is_empty(),
        Err(e) => {
            ctx.warn(format!("warning: {name}: {e:#}"));
            // What was written is not known: better a restart too many than an old process.
            true
        }
    };
    if !enable {
        // install keeps the record's word; the admin's is the boot links'.
        if let Ok(Some(mut record)) = records::load(ctx, name) {
            if record.enabled {
                record.enabled = false;
                warn_on(ctx, name, "update its record", records::save(ctx, &record));
            }
        }
    }

    let mut next = PackageState::new(enable);
    next.running = state.as_ref().and_then(|s| s.running);
    next.program = program;
    if !ctx.live {
        not_live(
            ctx,
            backend,
            service,
            if enable {
                "started (it starts at boot)"
            } else {
                "started (disabled at boot, as the admin left it)"
            },
        );
        save_state(ctx, name, &next);
        return;
    }
    let owed = state.as_ref().is_some_and(|s| s.stale);
    let needs_restart = changed || program_changed || owed;
    if owed && !changed && !backend.idle(ctx) {
        // The manager may not have read what the failed hook wrote.
        warn_on(ctx, name, "reload the manager", backend.reload_manager(ctx));
    }
    let want_running = match step {
        Step::Install => enable,
        Step::Upgrade if reinstall || before.is_none() => enable,
        Step::Upgrade => false,
        _ => state.as_ref().and_then(|s| s.running) == Some(true),
    };
    let action = match running {
        Some(true) if needs_restart => Some(Action::TryRestart),
        Some(false) if want_running => Some(Action::Start),
        // The manager cannot say: a start would fail as the status did.
        _ => None,
    };
    let done = match action {
        Some(a) => perform(ctx, backend, service, a),
        None => {
            ctx.say(match (running, step) {
                (Some(true), _) => {
                    format!("{name} runs and nothing it runs changed: left running")
                }
                (Some(false), Step::Upgrade) if !enable => {
                    format!("{name} is disabled at boot and stopped: left so")
                }
                (Some(false), _) => format!("{name} is stopped: left stopped"),
                (None, _) => format!("{name}: left as it is"),
            });
            None
        }
    };
    // A restart that did not happen is still owed (if it runs): the next hook does it.
    next.stale = running != Some(false) && needs_restart && done.is_none();
    save_state(ctx, name, &next);
}

/// What a hook does to a running system, and what the policy layer is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Start,
    Stop,
    Restart,
    /// Restart if it runs.
    TryRestart,
    Reload,
}

impl Action {
    /// The action as policy-rc.d knows it (README.policy-rc.d lists start, stop, restart,
    /// reload and their force- forms; a try-restart is a restart of what runs).
    fn policy_word(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Stop => "stop",
            Action::Restart | Action::TryRestart => "restart",
            Action::Reload => "reload",
        }
    }

    /// A fallback action policy-rc.d printed.
    fn from_word(word: &str) -> Option<Action> {
        Some(match word {
            "start" => Action::Start,
            "stop" | "force-stop" => Action::Stop,
            "restart" => Action::Restart,
            "try-restart" => Action::TryRestart,
            "reload" | "force-reload" => Action::Reload,
            _ => return None,
        })
    }
}

/// Asks the policy layer, then does `action` (or the fallbacks it names, in order, until one
/// succeeds). Returns the action done, `None` if it was forbidden or failed (with a warning).
fn perform(ctx: &Ctx, backend: &AnyBackend, service: &Service, action: Action) -> Option<Action> {
    let name = &service.name;
    let word = action.policy_word();
    let actions = match policy::ask(ctx, name, word) {
        Decision::Allow => vec![action],
        Decision::Uncertain(code) => {
            ctx.warn(format!(
                "warning: {name}: policy-rc.d answered {code} (policy undefined) for `{word}`: \
                 going on, as invoke-rc.d does"
            ));
            vec![action]
        }
        Decision::Deny => {
            ctx.say(format!(
                "{name}: policy-rc.d forbids `{word}` (101): not done"
            ));
            return None;
        }
        Decision::Error(why) => {
            ctx.warn(format!(
                "warning: {name}: policy-rc.d failed for `{word}` ({why}): not done, as \
                 invoke-rc.d would not"
            ));
            return None;
        }
        Decision::Fallback(words) => {
            ctx.say(format!(
                "{name}: policy-rc.d asks for `{}` instead of `{word}` (106)",
                words.join(" ")
            ));
            words
                .iter()
                .filter_map(|w| {
                    let a = Action::from_word(w);
                    if a.is_none() {
                        ctx.warn(format!(
                            "warning: {name}: policy-rc.d's fallback `{w}` is no action svc-any \
                             knows: skipped"
                        ));
                    }
                    a
                })
                .collect()
        }
    };
    for a in actions {
        match run_action(ctx, backend, service, a) {
            Ok(()) => return Some(a),
            Err(e) => ctx.warn(format!(
                "warning: {name}: could not {}: {e:#}",
                match a {
                    Action::TryRestart => "try-restart",
                    other => other.policy_word(),
                }
            )),
        }
    }
    match action {
        Action::Start => ctx.warn(format!(
            "warning: {name} is installed, but not started; `svc-any reset {name}` starts it if \
             it is enabled"
        )),
        Action::TryRestart => ctx.warn(format!(
            "warning: {name} runs what it ran before; the next hook restarts it, or \
             `svc-any try-restart {name}`"
        )),
        _ => {}
    }
    None
}

fn run_action(ctx: &Ctx, backend: &AnyBackend, service: &Service, action: Action) -> Result<()> {
    let names = [service.name.clone()];
    match action {
        Action::Start => control(ctx, backend, Verb::Start, &names, None),
        Action::Stop => control(ctx, backend, Verb::Stop, &names, None),
        Action::Restart => control(ctx, backend, Verb::Restart, &names, None),
        Action::TryRestart => try_restart(ctx, backend, &names, None).map(drop),
        Action::Reload => control(ctx, backend, Verb::Reload, &names, None),
    }
}

/// Whether any unit of `service` runs now; `None` where the manager cannot say (offline, or
/// it failed: a warning).
fn running_now(ctx: &Ctx, backend: &AnyBackend, service: &Service) -> Option<bool> {
    if !ctx.live {
        return None;
    }
    if backend.idle(ctx) {
        return Some(false);
    }
    match backend.status(ctx, &[service]) {
        Ok(statuses) => Some(!running_labels(&statuses).is_empty()),
        Err(e) => {
            ctx.warn(format!(
                "warning: {}: cannot tell whether it runs: {e:#}",
                service.name
            ));
            None
        }
    }
}

fn not_live(ctx: &Ctx, backend: &AnyBackend, service: &Service, what: &str) {
    ctx.say(format!(
        "{}: not {what}: {} is not running here ({})",
        service.name,
        backend.name(),
        ctx.offline_reason.as_deref().unwrap_or("offline")
    ));
}

fn load_state(ctx: &Ctx, name: &str) -> Option<PackageState> {
    packages::load(ctx, name).unwrap_or_else(|e| {
        ctx.warn(format!("warning: {name}: {e:#}; starting afresh"));
        None
    })
}

fn save_state(ctx: &Ctx, name: &str, state: &PackageState) {
    warn_on(
        ctx,
        name,
        "remember its state",
        packages::save(ctx, name, state),
    );
}

fn warn_on(ctx: &Ctx, name: &str, what: &str, result: Result<impl Sized>) {
    if let Err(e) = result {
        ctx.warn(format!("warning: {name}: could not {what}: {e:#}"));
    }
}

/// `ctx` with no manager to talk to: files and links only.
fn offline(ctx: &Ctx, reason: &str) -> Ctx {
    Ctx {
        root: ctx.root.clone(),
        level: ctx.level,
        live: false,
        offline_reason: Some(reason.to_string()),
        renderer: ctx.renderer.clone(),
        home: ctx.home.clone(),
        probe_root: ctx.probe_root.clone(),
        report: ctx.report.clone(),
        target: ctx.target.clone(),
    }
}
