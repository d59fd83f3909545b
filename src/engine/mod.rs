//! The install engine: the one place where svc-any changes a system, the same for every backend.
//!
//! Order of work, so that a crash at any point leaves a state the next run converges from:
//! render everything (pure) → refuse conflicts → write files atomically → boot links → record →
//! one manager reload → restart what was running and changed → start. Files carry the marker
//! before the record exists, so a re-run after a crash adopts them instead of refusing them.

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend};
use crate::system::host::Ctx;

mod control;
mod converge;
mod groups;
pub mod hook;
mod install;
mod preflight;
mod purge;
mod stop;
mod uninstall;
mod wait;

pub use control::{control, set_enabled, status, status_summary};
pub use converge::{reset, try_restart, Converged};
pub use groups::{expand_groups, installed};
pub use install::{install, install_changed, render_located, InstallOptions};
pub use purge::purge;
pub use uninstall::uninstall;
pub use wait::{wait_ready, DEFAULT_WAIT, SETTLE};

pub(super) fn require_live(ctx: &Ctx, backend: &AnyBackend) -> Result<()> {
    if !ctx.live {
        bail!(
            "{} is not running here ({}): there is nothing to start or stop",
            backend.name(),
            ctx.offline_reason.as_deref().unwrap_or("offline")
        );
    }
    Ok(())
}
