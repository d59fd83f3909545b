//! The paths a start looks at before its process runs, and after it ends: the directories of
//! `runtime_dir`, `state_dir`, `logs_dir` and `config_dir`, made before each start and the
//! runtime ones removed once the unit is down, as systemd does; and `condition_path_exists`,
//! which decides whether it starts at all.

use std::path::Path;

use anyhow::{bail, Context, Result};
use nix::unistd::{Gid, Uid};

use crate::model::spec::{DirKind, Service};

/// The directories of `runtime_dir`, `state_dir`, `logs_dir` and `config_dir`, made before each
/// start as systemd makes them: parents root's, the innermost with the key's mode (0755 by
/// default) and owned by the service's user and group, except the configuration one, which
/// stays root's. A name that exists as anything but a directory (a planted symbolic link) is
/// refused, naming the key.
pub(super) fn make_directories(service: &Service, owner: Option<(Uid, Gid)>) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for kind in DirKind::ALL {
        let Some(dirs) = service.daemon.directories(kind) else {
            continue;
        };
        for name in &dirs.names {
            let path = Path::new(kind.base()).join(name);
            let key = kind.key();
            match std::fs::symlink_metadata(&path) {
                Ok(m) if !m.is_dir() => bail!(
                    "{key}: {} exists and is not a directory (a symbolic link is never followed)",
                    path.display()
                ),
                Ok(_) => {}
                Err(_) => std::fs::create_dir_all(&path)
                    .with_context(|| format!("{key}: cannot make {}", path.display()))?,
            }
            let mode = dirs.mode.unwrap_or(0o755);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("{key}: cannot set the mode of {}", path.display()))?;
            if let (Some((uid, gid)), false) = (owner, kind == DirKind::Config) {
                // lchown: the name was checked to be a directory, and is never followed.
                std::os::unix::fs::lchown(&path, Some(uid.as_raw()), Some(gid.as_raw()))
                    .with_context(|| {
                        format!("{key}: cannot give {} to its user", path.display())
                    })?;
            }
        }
    }
    Ok(())
}

/// The first `condition_path_exists` entry that does not hold, as written: a path that must
/// exist, or `!PATH`, one that must not.
pub(super) fn unmet_condition(service: &Service) -> Option<String> {
    service
        .daemon
        .condition_path_exists
        .iter()
        .find(|c| match c.strip_prefix('!') {
            Some(path) => Path::new(path).exists(),
            None => !Path::new(c.as_str()).exists(),
        })
        .cloned()
}

/// Removes the service's `runtime_dir`s once its process has ended, as systemd does when a
/// unit stops (a restart makes them anew).
pub(super) fn remove_runtime_directories(service: &Service) {
    for name in service
        .daemon
        .directories(DirKind::Runtime)
        .iter()
        .flat_map(|d| &d.names)
    {
        let _ = std::fs::remove_dir_all(Path::new(DirKind::Runtime.base()).join(name));
    }
}
