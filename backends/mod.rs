//! The init systems svc-any drives, one module each, behind one trait.
//!
//! A backend knows its manager's file format (through its template and its dialect's escaper)
//! and its control tool. Everything else, the install engine, records, idempotence, dry runs,
//! health checks, lives once in `src/` and is the same for every backend.

pub mod builtin;
pub mod carried;
pub mod daemontools;
pub mod launchd;
pub mod openrc;
pub mod runit;
pub mod s6;
pub mod supervisord;
pub mod systemd;
pub mod systemd_import;
pub mod sysv;

use anyhow::Result;
use enum_dispatch::enum_dispatch;

use crate::dialect::render::{FileSpec, LinkSpec, Plan};
use crate::model::spec::Service;
use crate::model::status::ServiceStatus;
use crate::system::bootlinks;
use crate::system::host::Ctx;
pub use crate::system::logfiles::LogOptions;

pub use self::builtin::Builtin;
pub use self::daemontools::Daemontools;
pub use self::launchd::Launchd;
pub use self::openrc::Openrc;
pub use self::runit::Runit;
pub use self::s6::S6;
pub use self::supervisord::Supervisord;
pub use self::systemd::Systemd;
pub use self::sysv::Sysv;

/// What `start`, `stop`, `restart` and `reload` ask of a manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Restart,
    Reload,
}

impl Verb {
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Restart => "restart",
            Verb::Reload => "reload",
        }
    }
}

/// One init system. Every method that takes several services asks the manager once for all of
/// them: one `daemon-reload` per command, one `systemctl show` for a whole status table.
#[enum_dispatch]
pub trait Backend {
    /// The name users pass to `--backend`.
    fn name(&self) -> &'static str;

    /// The files (and boot links) installing `service` means. Pure: reads nothing, writes
    /// nothing, so `render` needs no root.
    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan>;

    /// Makes the manager re-read its definitions after files changed.
    fn reload_manager(&self, ctx: &Ctx) -> Result<()>;

    /// Makes the manager re-read the definitions of `services` after their files changed or
    /// went. Most managers re-read everything anyway; svc-any's own supervisor reads only
    /// these, so that a thousand installs one at a time do not read a million files.
    fn reload_definitions(&self, ctx: &Ctx, _services: &[&str]) -> Result<()> {
        self.reload_manager(ctx)
    }

    /// Starts, stops, restarts or reloads all of `services` in one manager call.
    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()>;

    /// Status of every service (every instance of an instanced one), in one manager call.
    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>>;

    /// The status for a person's table: every state exact, and the other fields as far as the
    /// manager tells them cheaply. Where asking for everything is slow (systemd: one D-Bus
    /// round of all properties per unit), a field that would need it may be left empty for a
    /// unit that simply runs or is stopped; `status --json` uses [`Backend::status`].
    fn status_summary(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        self.status(ctx, services)
    }

    /// Whether each line of `service`'s output carries the time it was written, which
    /// `logs --since` needs; if not, why. Most managers write a service's output as it came.
    fn log_times(&self, _service: &Service) -> Result<(), &'static str> {
        Err("it writes the service's output to a file as it came, with no time on its lines")
    }

    /// Shows (or follows) the service's output; returns the exit code of the reader. With
    /// `options.since`, only called where [`Backend::log_times`] says the lines carry times.
    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32>;

    /// Shows (or follows) the output of several services, each line prefixed with its
    /// service. Files are read by svc-any; a manager that keeps output itself (the journal)
    /// overrides this to ask it once for all of them.
    fn logs_of_several(
        &self,
        ctx: &Ctx,
        services: &[&Service],
        options: LogOptions,
    ) -> Result<i32> {
        crate::system::logfiles::show_prefixed(ctx, &log_sources(self, ctx, services), options)
    }

    /// The files the service's output goes to (every instance), which `uninstall --purge`
    /// removes with their rotated copies; none where the manager keeps it (the journal).
    fn log_files(&self, _ctx: &Ctx, service: &Service) -> Vec<std::path::PathBuf> {
        match &service.log {
            Some(log) => {
                let mut files = crate::system::logfiles::log_files(service, &log.file);
                files.extend(crate::system::logfiles::stderr_files(service));
                files
            }
            None => Vec::new(),
        }
    }

    /// Names of the services whose definitions carry svc-any's marker.
    fn list(&self, ctx: &Ctx) -> Result<Vec<String>>;

    /// Makes `service` start at boot; returns whether anything changed. Most managers enable
    /// with links the plan lists; SysV asks update-rc.d or chkconfig where they exist.
    fn enable(&self, ctx: &Ctx, _service: &Service, links: &[LinkSpec]) -> Result<bool> {
        bootlinks::create_boot_links(ctx, links)
    }

    /// Undoes [`Backend::enable`].
    fn disable(&self, ctx: &Ctx, _service: &Service, links: &[LinkSpec]) -> Result<bool> {
        bootlinks::remove_boot_links(ctx, links)
    }

    /// Makes running `services` run their changed definitions (after `reload_manager`). A
    /// restart, unless the manager reads a definition only when it loads it (launchd).
    fn apply_changes(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        self.control(ctx, Verb::Restart, services)
    }

    /// Files that make a `[groups]` entry native (systemd's `GROUP.target`); most managers have
    /// no such thing, and svc-any acts on the members itself.
    fn render_group(
        &self,
        _ctx: &Ctx,
        _group: &str,
        _members: &[&Service],
    ) -> Result<Vec<FileSpec>> {
        Ok(Vec::new())
    }

    /// Whether an installed service starts at boot until it is disabled (launchd loads every
    /// plist in its directories), rather than only once enabled.
    fn boots_when_installed(&self) -> bool {
        false
    }

    /// Whether `service` starts at boot, read from the boot links on the target, so that it
    /// works in a chroot too and sees what an admin did with the manager's own tools: every
    /// link `enable` makes is there (deb-systemd-helper's `was-enabled` asks the same).
    fn is_enabled(&self, ctx: &Ctx, _service: &Service, links: &[LinkSpec]) -> bool {
        links.iter().all(|l| bootlinks::link_present(ctx, l))
    }

    /// Restarts the units of `services` that run now and leaves the others as they are;
    /// returns the labels (`NAME`, `NAME@INSTANCE`) of those it restarted. Managers with their
    /// own try-restart decide it themselves, atomically; here the status decides.
    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        let statuses = self.status(ctx, services)?;
        let running = running_labels(&statuses);
        let chosen: Vec<&Service> = services
            .iter()
            .copied()
            .filter(|s| {
                statuses
                    .iter()
                    .any(|st| st.name == s.name && running.contains(&st.label()))
            })
            .collect();
        if !chosen.is_empty() {
            self.control(ctx, Verb::Restart, &chosen)?;
        }
        Ok(running)
    }

    /// Whether the manager does not run at all, so that nothing of it runs and asking it
    /// anything would start it (svc-any's own supervisor starts on demand, and starts every
    /// enabled service when it does). A package hook then writes files only, as offline.
    fn idle(&self, _ctx: &Ctx) -> bool {
        false
    }

    /// Uninstall, after the service is stopped and its links are gone, before its files go:
    /// undoes what the manager made by itself beside them (runsv's `supervise/`).
    fn forget(&self, _ctx: &Ctx, _service: &Service) -> Result<()> {
        Ok(())
    }

    /// Whether uninstall disables the service before removing it; not where removing its
    /// files is what disables it (runit's `down` file would be a file written on the way out).
    fn disables_on_uninstall(&self) -> bool {
        true
    }
}

/// The labels of the units that run or are starting.
pub fn running_labels(statuses: &[ServiceStatus]) -> Vec<String> {
    use crate::model::status::State;
    statuses
        .iter()
        .filter(|s| matches!(s.state, State::Running | State::Starting))
        .map(ServiceStatus::label)
        .collect()
}

/// The backends as one type, dispatched without boxing.
#[enum_dispatch(Backend)]
pub enum AnyBackend {
    Systemd,
    Builtin,
    Openrc,
    Sysv,
    Launchd,
    Runit,
    Daemontools,
    S6,
    Supervisord,
}

/// The names users pass to `--backend`, one per backend this build carries.
pub const NAMES: &[&str] = &[
    "systemd",
    "builtin",
    "openrc",
    "sysv",
    "launchd",
    "runit",
    "daemontools",
    "s6",
    "supervisord",
];

/// The backend called `name`.
pub fn by_name(name: &str) -> Option<AnyBackend> {
    match name {
        "systemd" => Some(Systemd.into()),
        "builtin" => Some(Builtin.into()),
        "openrc" => Some(Openrc.into()),
        "sysv" => Some(Sysv.into()),
        "launchd" => Some(Launchd.into()),
        "runit" => Some(Runit.into()),
        "daemontools" => Some(Daemontools.into()),
        "s6" => Some(S6.into()),
        "supervisord" => Some(Supervisord.into()),
        _ => None,
    }
}

/// Each service's log files, named by their service, for [`Backend::logs_of_several`].
pub fn log_sources<B: Backend + ?Sized>(
    backend: &B,
    ctx: &Ctx,
    services: &[&Service],
) -> Vec<(String, std::path::PathBuf)> {
    services
        .iter()
        .flat_map(|s| {
            backend
                .log_files(ctx, s)
                .into_iter()
                .map(move |f| (s.name.clone(), f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(toml: &str) -> Service {
        crate::model::spec::test_service(toml, "web")
    }

    /// `logs --since` is asked only of logs whose lines carry a time: the journal, and the
    /// files svc-any's supervisor stamps (builtin, and SysV whose services it runs).
    #[test]
    fn only_logs_with_a_time_on_each_line_answer_since() {
        let plain = service("exec = [\"/bin/web\"]\n");
        let file = service("exec = [\"/bin/web\"]\n[log]\nfile = \"/var/log/web.log\"\n");
        let bare = service(
            "exec = [\"/bin/web\"]\n[log]\nfile = \"/var/log/web.log\"\ntimestamps = false\n",
        );
        let answers = |s: &Service| -> Vec<(&str, bool)> {
            NAMES
                .iter()
                .map(|n| (*n, by_name(n).unwrap().log_times(s).is_ok()))
                .collect()
        };
        let with = |names: &[&str]| -> Vec<(&str, bool)> {
            NAMES.iter().map(|n| (*n, names.contains(n))).collect()
        };
        assert_eq!(answers(&plain), with(&["systemd", "builtin", "sysv"]));
        assert_eq!(answers(&file), with(&["builtin", "sysv"]));
        assert_eq!(answers(&bare), with(&[]));
    }
}
