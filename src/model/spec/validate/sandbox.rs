//! The filesystem the service sees: `private_tmp`, `private_devices`, `protect_system`,
//! `protect_home`, `read_only_paths` and `read_write_paths`.

use crate::model::error::BadInput;

use super::super::daemon::{Daemon, ProtectHome, ProtectSystem};
use super::super::location::Source;
use super::super::raw::RawService;
use super::daemon::{flag, prefixed_paths};

/// `private_tmp`, `private_devices`, `protect_system`, `protect_home`, then the path lists.
pub(super) fn check(src: &Source, raw: &RawService, d: &mut Daemon) -> Result<(), BadInput> {
    d.private_tmp = flag(&raw.private_tmp);
    d.private_devices = flag(&raw.private_devices);
    if let Some(v) = &raw.protect_system {
        d.protect_system = match v.get_ref() {
            toml::Value::Boolean(false) => None,
            toml::Value::Boolean(true) => Some(ProtectSystem::Yes),
            toml::Value::String(s) if s == "full" => Some(ProtectSystem::Full),
            toml::Value::String(s) if s == "strict" => Some(ProtectSystem::Strict),
            other => {
                return Err(src
                    .error(
                        v.span(),
                        "protect_system",
                        format!("`{other}` is not a protect_system value"),
                    )
                    .hint("use true, false, \"full\" or \"strict\""))
            }
        };
    }
    if let Some(v) = &raw.protect_home {
        d.protect_home = match v.get_ref() {
            toml::Value::Boolean(false) => None,
            toml::Value::Boolean(true) => Some(ProtectHome::Yes),
            toml::Value::String(s) if s == "read-only" => Some(ProtectHome::ReadOnly),
            toml::Value::String(s) if s == "tmpfs" => Some(ProtectHome::Tmpfs),
            other => {
                return Err(src
                    .error(
                        v.span(),
                        "protect_home",
                        format!("`{other}` is not a protect_home value"),
                    )
                    .hint("use true, false, \"read-only\" or \"tmpfs\""))
            }
        };
    }
    d.read_only_paths = prefixed_paths(src, "read_only_paths", &raw.read_only_paths, '-')?;
    d.read_write_paths = prefixed_paths(src, "read_write_paths", &raw.read_write_paths, '-')?;
    Ok(())
}
