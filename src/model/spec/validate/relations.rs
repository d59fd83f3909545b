//! What the service is to other units and names: the further kinds of dependency (`wants`,
//! `before`, `part_of`, `binds_to`, `conflicts`), `documentation` and `aliases`.

use crate::model::error::BadInput;

use super::super::daemon::Daemon;
use super::super::location::Source;
use super::super::raw::RawService;
use super::dependencies::dependency_list;
use super::names::check_name;

/// The dependency lists, then `documentation`, then `aliases` (none the service's own name).
pub(super) fn check(
    src: &Source,
    raw: &RawService,
    own_name: &str,
    d: &mut Daemon,
) -> Result<(), BadInput> {
    d.wants = dependency_list(src, "wants", &raw.wants, own_name, raw.instances.is_some())?;
    d.before = dependency_list(
        src,
        "before",
        &raw.before,
        own_name,
        raw.instances.is_some(),
    )?;
    d.part_of = dependency_list(
        src,
        "part_of",
        &raw.part_of,
        own_name,
        raw.instances.is_some(),
    )?;
    d.binds_to = dependency_list(
        src,
        "binds_to",
        &raw.binds_to,
        own_name,
        raw.instances.is_some(),
    )?;
    d.conflicts = dependency_list(
        src,
        "conflicts",
        &raw.conflicts,
        own_name,
        raw.instances.is_some(),
    )?;
    for item in raw.documentation.iter().flat_map(|l| l.get_ref()) {
        check_documentation(item.get_ref())
            .map_err(|m| src.error(item.span(), "documentation", m))?;
        d.documentation.push(item.get_ref().clone());
    }
    for item in raw.aliases.iter().flat_map(|l| l.get_ref()) {
        check_name(item.get_ref()).map_err(|m| src.error(item.span(), "aliases", m))?;
        if item.get_ref() == own_name {
            return Err(src.error(item.span(), "aliases", "an alias of the service's own name"));
        }
        d.aliases.push(item.get_ref().clone());
    }
    Ok(())
}

/// systemd's `Documentation=` accepts these URI schemes only.
fn check_documentation(uri: &str) -> Result<(), String> {
    let ok = ["http://", "https://", "file:", "info:", "man:"]
        .iter()
        .any(|s| uri.starts_with(s) && uri.len() > s.len())
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a documentation URI: http://, https://, file:, info: or man:, without spaces",
            uri.escape_debug()
        ))
    }
}
