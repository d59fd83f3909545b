//! The install engine: the one place where svc-any changes a system, the same for every backend.
//!
//! Order of work, so that a crash at any point leaves a state the next run converges from:
//! render everything (pure) → refuse conflicts → write files atomically → boot links → record →
//! one manager reload → restart what was running and changed → start. Files carry the marker
//! before the record exists, so a re-run after a crash adopts them instead of refusing them.

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend};
use crate::model::error::bad;
use crate::system::host::Ctx;
use crate::system::records::{self, Record};

mod control;
mod install;
mod uninstall;
mod wait;

pub use control::{control, set_enabled, status};
pub use install::{install, render_located, InstallOptions};
pub use uninstall::uninstall;
pub use wait::{wait_ready, DEFAULT_WAIT, SETTLE};

/// `names` with each installed group replaced by its members, in order, each name once.
pub fn expand_groups(ctx: &Ctx, names: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let members = match records::load(ctx, name)? {
            Some(_) => vec![name.clone()],
            None => match records::load_group(ctx, name)? {
                Some(g) => g.members,
                None => vec![name.clone()],
            },
        };
        for m in members {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// The records of `names` (groups expanded); an unknown name is bad input.
pub fn installed(ctx: &Ctx, names: &[String]) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for name in &expand_groups(ctx, names)? {
        match records::load(ctx, name)? {
            Some(r) => out.push(r),
            None => {
                return Err(bad(format!("`{name}` is not installed"))
                    .hint(
                        "`svc-any list` shows the services svc-any manages here; install it first",
                    )
                    .into())
            }
        }
    }
    Ok(out)
}

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
