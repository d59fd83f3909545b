//! How the manager knows the service is up: `type`, `pid_file` (the daemon a forking service
//! leaves) and `remain_after_exit` (a oneshot that stays "running").

use crate::model::error::BadInput;

use super::super::daemon::{Daemon, ServiceType};
use super::super::location::Source;
use super::super::raw::RawService;
use super::daemon::{check_path, flag, one_of};

/// `type`, `pid_file` and `remain_after_exit`.
pub(super) fn check(src: &Source, raw: &RawService, d: &mut Daemon) -> Result<(), BadInput> {
    if let Some(t) = &raw.service_type {
        d.service_type =
            Some(ServiceType::from_name(t.get_ref()).ok_or_else(|| {
                one_of(src, t, "type", ServiceType::NAMES, "unknown service type")
            })?);
    }
    if let Some(p) = &raw.pid_file {
        check_path(p.get_ref()).map_err(|m| {
            src.error(
                p.span(),
                "pid_file",
                format!("`{}` {m}", p.get_ref().escape_debug()),
            )
        })?;
        d.pid_file = Some(p.get_ref().clone());
    }
    d.remain_after_exit = flag(&raw.remain_after_exit);
    Ok(())
}
