//! The init systems svc-any drives, one module each, behind one trait.
//!
//! A backend knows its manager's file format (through its template and its dialect's escaper)
//! and its control tool. Everything else, the install engine, records, idempotence, dry runs,
//! health checks, lives once in `src/` and is the same for every backend.

pub mod builtin;
pub mod launchd;
pub mod openrc;
pub mod systemd;
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
pub use self::launchd::Launchd;
pub use self::openrc::Openrc;
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

    /// Shows (or follows) the service's output; returns the exit code of the reader.
    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32>;

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
}

/// The backends as one type, dispatched without boxing.
#[enum_dispatch(Backend)]
pub enum AnyBackend {
    Systemd,
    Builtin,
    Openrc,
    Sysv,
    Launchd,
}

/// The names users pass to `--backend`, one per backend this build carries.
pub const NAMES: &[&str] = &["systemd", "builtin", "openrc", "sysv", "launchd"];

/// The backend called `name`.
pub fn by_name(name: &str) -> Option<AnyBackend> {
    match name {
        "systemd" => Some(Systemd.into()),
        "builtin" => Some(Builtin.into()),
        "openrc" => Some(Openrc.into()),
        "sysv" => Some(Sysv.into()),
        "launchd" => Some(Launchd.into()),
        _ => None,
    }
}
