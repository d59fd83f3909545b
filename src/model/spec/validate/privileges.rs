//! Least privilege: `umask`, `supplementary_groups`, `no_new_privileges`, `capabilities`
//! (checked against capabilities(7)), and `credentials` (secrets the manager hands over as
//! files rather than environment).

use crate::model::error::BadInput;

use super::super::daemon::Daemon;
use super::super::location::{did_you_mean, Source};
use super::super::model::Level;
use super::super::parse::ParseOptions;
use super::super::raw::RawService;
use super::daemon::{check_path, flag, octal};
use super::process::account_key;

/// `umask`, `supplementary_groups` (accounts, as `group` is), `no_new_privileges`,
/// `capabilities`.
pub(super) fn check(
    src: &Source,
    raw: &RawService,
    opts: &ParseOptions,
    level: Level,
    d: &mut Daemon,
) -> Result<(), BadInput> {
    if let Some(u) = &raw.umask {
        d.umask = Some(octal(src, "umask", u, 0o777)?);
    }
    for group in raw.supplementary_groups.iter().flat_map(|l| l.get_ref()) {
        if let Some(g) = account_key(
            src,
            "supplementary_groups",
            &Some(group.clone()),
            opts,
            level,
        )? {
            d.supplementary_groups.push(g);
        }
    }
    d.no_new_privileges = flag(&raw.no_new_privileges);
    if let Some(list) = &raw.capabilities {
        let mut caps = Vec::new();
        for cap in list.get_ref() {
            let name = cap.get_ref();
            if !CAPABILITIES.contains(&name.as_str()) {
                let near = did_you_mean(name, CAPABILITIES)
                    .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
                return Err(src
                    .error(
                        cap.span(),
                        "capabilities",
                        format!("`{}` is no Linux capability{near}", name.escape_debug()),
                    )
                    .hint("names as capabilities(7) writes them: CAP_NET_BIND_SERVICE"));
            }
            caps.push(name.clone());
        }
        d.capabilities = Some(caps);
    }
    Ok(())
}

/// `credentials`: a file name each, and the absolute path of the file that holds it.
pub(super) fn credentials(src: &Source, raw: &RawService, d: &mut Daemon) -> Result<(), BadInput> {
    for (name, path) in raw.credentials.iter().flatten() {
        check_credential_name(name.get_ref()).map_err(|m| {
            src.error(name.span(), "credentials", m)
                .hint("a file name: letters, digits, `_`, `-` and `.`")
        })?;
        check_path(path.get_ref()).map_err(|m| {
            src.error(
                path.span(),
                "credentials",
                format!("`{}` {m}", path.get_ref().escape_debug()),
            )
            .hint("the absolute path of the file that holds the secret")
        })?;
        d.credentials
            .insert(name.get_ref().clone(), path.get_ref().clone());
    }
    Ok(())
}

/// A credential's name is the name of a file in the service's credentials directory.
fn check_credential_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{}` is not a credential name",
            name.escape_debug()
        )),
    }
}

/// The kernel's number of a capability (`CAP_NET_BIND_SERVICE` is 10), as the bounding set,
/// capset(2) and prctl(2) take it.
pub fn capability_number(name: &str) -> Option<u32> {
    CAPABILITIES
        .iter()
        .position(|c| *c == name)
        .map(|i| i as u32)
}

/// capabilities(7), Linux 6.1, in the kernel's order: the index is the number.
const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];
