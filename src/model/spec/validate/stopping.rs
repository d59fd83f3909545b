//! How the service is stopped and when it is not restarted: `kill_mode` and
//! `restart_prevent_exit_codes` (the portable `restart` and `stop_*` keys are `lifecycle.rs`'s).

use crate::model::error::BadInput;

use super::super::daemon::{Daemon, KillMode};
use super::super::location::Source;
use super::super::raw::RawService;
use super::daemon::one_of;

/// `kill_mode`, then `restart_prevent_exit_codes`.
pub(super) fn check(src: &Source, raw: &RawService, d: &mut Daemon) -> Result<(), BadInput> {
    if let Some(k) = &raw.kill_mode {
        d.kill_mode = Some(match k.get_ref().as_str() {
            "group" => KillMode::Group,
            "process" => KillMode::Process,
            "mixed" => KillMode::Mixed,
            _ => {
                return Err(one_of(
                    src,
                    k,
                    "kill_mode",
                    &["group", "process", "mixed"],
                    "unknown kill mode",
                ))
            }
        });
    }
    d.restart_prevent_exit_codes = super::lifecycle::exit_codes(
        src,
        "restart_prevent_exit_codes",
        &raw.restart_prevent_exit_codes,
    )?;
    Ok(())
}
