//! File changes that are never half done: write to a temporary file beside the target, fsync,
//! rename over the target, fsync the directory. A reader (or a crash) sees the old file or the
//! new one, never a mix.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::dialect::render::has_marker;
use crate::system::host::Ctx;

/// A temporary name in the same directory (rename is only atomic within one file system).
fn temp_beside(path: &Path) -> PathBuf {
    temp_name(path, std::process::id())
}

fn temp_name(path: &Path, pid: u32) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.svc-any-{pid}.tmp"))
}

/// Removes the temporary files of `path` that an svc-any killed before its rename left behind
/// (their names carry the pid of a process that is gone), so that running the command again
/// leaves no trace of the crash. A temporary file of a live svc-any is its own business.
fn sweep_dead_temps(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}.svc-any-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let Some(pid) = entry_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.parse::<i32>().ok())
            .filter(|pid| *pid > 0)
        else {
            continue;
        };
        let gone = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
            == Err(nix::errno::Errno::ESRCH);
        if gone {
            let _ = fs::remove_file(temp_name(path, pid as u32));
        }
    }
}

/// Creates the directory and its parents (0755), as a package manager would.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).with_context(|| format!("creating directory {}", dir.display()))
}

/// Writes `bytes` to `path` atomically with `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = path.parent().context("a file path has a parent")?;
    ensure_dir(dir)?;
    sweep_dead_temps(path);
    let tmp = temp_beside(path);
    let result = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        // The umask may have narrowed the mode given to open.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.sync_all()
            .with_context(|| format!("syncing {}", tmp.display()))?;
        crate::system::crashpoint::reached("write:before-rename");
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Points `path` at `target` atomically (a new link under a temporary name, renamed over).
pub fn symlink_atomic(target: &Path, path: &Path) -> Result<()> {
    let dir = path.parent().context("a link path has a parent")?;
    ensure_dir(dir)?;
    sweep_dead_temps(path);
    let tmp = temp_beside(path);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("linking {}", tmp.display()))?;
    crate::system::crashpoint::reached("link:before-rename");
    fs::rename(&tmp, path)
        .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
    sync_dir(dir)
}

/// Removes a file or link, and what a crashed write of it left; a missing one is fine (the
/// goal state is reached).
pub fn remove(path: &Path) -> Result<bool> {
    sweep_dead_temps(path);
    match fs::remove_file(path) {
        Ok(()) => {
            if let Some(dir) = path.parent() {
                sync_dir(dir)?;
            }
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    }
}

/// Removes `dir` if it is empty (a `.wants` directory svc-any's link was the last entry of).
pub fn remove_dir_if_empty(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// The bytes at `path`, or `None` if there is no file.
pub fn read_existing(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Removes a file svc-any wrote, unless someone replaced it with a file of their own.
pub fn remove_owned(ctx: &Ctx, path: &Path) -> Result<()> {
    let target = ctx.on_target(path);
    if !target.exists() {
        return Ok(());
    }
    if !has_marker(&target) {
        ctx.warn(format!(
            "warning: kept {}: it no longer carries svc-any's marker",
            target.display()
        ));
        return Ok(());
    }
    remove(&target)?;
    ctx.say(format!("removed {}", target.display()));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("svc-any-fsutil-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn write_replaces_whole_file_with_mode_and_leaves_no_temp() {
        let dir = scratch("write");
        let path = dir.join("sub/unit.service");
        write_atomic(&path, b"one", 0o644).unwrap();
        write_atomic(&path, b"two", 0o755).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let names: Vec<_> = fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("unit.service")]);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn links_and_removal_are_idempotent() {
        let dir = scratch("link");
        let link = dir.join("wants/x.service");
        symlink_atomic(Path::new("/etc/x.service"), &link).unwrap();
        symlink_atomic(Path::new("/etc/x.service"), &link).unwrap();
        assert_eq!(fs::read_link(&link).unwrap(), Path::new("/etc/x.service"));
        assert!(remove(&link).unwrap());
        assert!(!remove(&link).unwrap());
        fs::remove_dir_all(dir).unwrap();
    }
}
