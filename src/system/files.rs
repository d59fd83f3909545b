//! File changes that are never half done: write to a temporary file beside the target, fsync,
//! rename over the target, fsync the directory. A reader (or a crash) sees the old file or the
//! new one, never a mix.
//!
//! Many changes at once (an install of many services) go through a [`Transaction`], which
//! keeps that guarantee with a few syncs in all instead of a few per file: every new file is
//! written under its temporary name first, one sync makes them all durable, then each is
//! renamed into place in order, and each directory touched is synced once at the end.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
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

thread_local! {
    /// Directories this process already cleared of dead temporary files.
    static SWEPT: RefCell<BTreeSet<PathBuf>> = const { RefCell::new(BTreeSet::new()) };
    /// While a [`Transaction`] is open: the directories whose sync waits for its end.
    static DEFERRED_DIRS: RefCell<Option<BTreeSet<PathBuf>>> = const { RefCell::new(None) };
    /// Directories that carry this process's mark (see [`marks`]) while it writes there.
    static MARKED: RefCell<BTreeSet<PathBuf>> = const { RefCell::new(BTreeSet::new()) };
}

/// Removes the temporary files beside `path` that an svc-any killed before its rename left
/// behind (their names carry the pid of a process that is gone), so that running the command
/// again leaves no trace of the crash. A temporary file of a live svc-any is its own business.
///
/// Listing a directory of a thousand files costs more than writing one, so it is listed only
/// when there may be something to find: a directory svc-any writes temporary files into
/// carries a mark of the writing process until it is done ([`marks`]), and only a mark of a
/// process that is gone (or a file system that cannot carry marks) makes it listed. Each
/// directory is looked at once per process.
fn sweep_dead_temps(path: &Path) {
    let Some(dir) = path.parent() else {
        return;
    };
    if !SWEPT.with(|s| s.borrow_mut().insert(dir.to_path_buf())) {
        return;
    }
    // Only where this process can mark can it trust that others did.
    let known = if mark(dir) { marks::dead(dir) } else { None };
    let dead_marks = match known {
        Some(dead) if dead.is_empty() => return,
        Some(dead) => dead,
        None => Vec::new(),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let entry_name = entry.file_name();
        let Some((target, pid)) = entry_name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.strip_suffix(".tmp"))
            .and_then(|n| n.rsplit_once(".svc-any-"))
        else {
            continue;
        };
        let Some(pid) = pid.parse::<i32>().ok().filter(|pid| *pid > 0) else {
            continue;
        };
        if gone(pid) {
            let _ = fs::remove_file(temp_name(&dir.join(target), pid as u32));
        }
    }
    for mark in dead_marks {
        marks::remove(dir, &mark);
    }
}

fn gone(pid: i32) -> bool {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) == Err(nix::errno::Errno::ESRCH)
}

/// Marks `dir` as written into by this process, until [`unmark`]; whether it carries the mark
/// (a file system without extended attributes cannot).
fn mark(dir: &Path) -> bool {
    if MARKED.with(|m| m.borrow().contains(dir)) {
        return true;
    }
    // Not remembered when it fails: the directory may not exist yet.
    let marked = marks::set(dir);
    if marked {
        MARKED.with(|m| m.borrow_mut().insert(dir.to_path_buf()));
    }
    marked
}

/// Takes this process's mark off every directory it marked, unless a transaction is open (its
/// end does it).
fn unmark() {
    if DEFERRED_DIRS.with(|d| d.borrow().is_some()) {
        return;
    }
    for dir in MARKED.with(|m| std::mem::take(&mut *m.borrow_mut())) {
        marks::clear(&dir);
    }
}

/// A directory's marks: extended attributes `user.svc-any.writing.PID`, one per svc-any that
/// may have temporary files there. Set before its first temporary file there, cleared once
/// each is renamed or removed; a crash leaves the mark, and the next svc-any lists the
/// directory.
#[cfg(target_os = "linux")]
mod marks {
    use std::ffi::{CString, OsStr};
    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use nix::libc;

    const PREFIX: &str = "user.svc-any.writing.";

    fn own_name() -> CString {
        CString::new(format!("{PREFIX}{}", std::process::id())).expect("no NUL")
    }

    fn c_path(dir: &Path) -> Option<CString> {
        CString::new(dir.as_os_str().as_bytes()).ok()
    }

    pub fn set(dir: &Path) -> bool {
        let Some(path) = c_path(dir) else {
            return false;
        };
        let name = own_name();
        // SAFETY: NUL-terminated strings this frame owns, and an empty value.
        unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), std::ptr::null(), 0, 0) == 0 }
    }

    pub fn clear(dir: &Path) {
        remove(dir, &own_name());
    }

    pub fn remove(dir: &Path, name: &CString) {
        let Some(path) = c_path(dir) else { return };
        // SAFETY: NUL-terminated strings this frame owns.
        unsafe { libc::removexattr(path.as_ptr(), name.as_ptr()) };
    }

    /// The marks of processes that are gone; `None` when the file system cannot say (it has
    /// no extended attributes), and the directory must be listed.
    pub fn dead(dir: &Path) -> Option<Vec<CString>> {
        let path = c_path(dir)?;
        let mut buffer = vec![0u8; 1024];
        loop {
            // SAFETY: the buffer's own pointer and length; the kernel writes at most that.
            let n =
                unsafe { libc::listxattr(path.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
            if n >= 0 {
                buffer.truncate(n as usize);
                break;
            }
            match nix::errno::Errno::last() {
                nix::errno::Errno::ERANGE => buffer.resize(buffer.len() * 4, 0),
                nix::errno::Errno::ENOENT => return Some(Vec::new()),
                _ => return None,
            }
        }
        Some(
            buffer
                .split(|b| *b == 0)
                .filter_map(|name| {
                    let pid = OsStr::from_bytes(name).to_str()?.strip_prefix(PREFIX)?;
                    let pid: i32 = pid.parse().ok().filter(|p| *p > 0)?;
                    super::gone(pid).then(|| CString::new(name).expect("split at NUL"))
                })
                .collect(),
        )
    }
}

/// Elsewhere no marks: a directory is always listed.
#[cfg(not(target_os = "linux"))]
mod marks {
    use std::ffi::CString;
    use std::path::Path;

    pub fn set(_dir: &Path) -> bool {
        false
    }
    pub fn clear(_dir: &Path) {}
    pub fn remove(_dir: &Path, _name: &CString) {}
    pub fn dead(_dir: &Path) -> Option<Vec<CString>> {
        None
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
    let _ = mark(dir);
    let tmp = temp_beside(path);
    let _ = fs::remove_file(&tmp);
    let result = write_temp(&tmp, bytes, mode, true).and_then(|()| {
        crate::system::crashpoint::reached("write:before-rename");
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        sync_dir(dir)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    unmark();
    result
}

/// Points `path` at `target` atomically (a new link under a temporary name, renamed over).
pub fn symlink_atomic(target: &Path, path: &Path) -> Result<()> {
    let dir = path.parent().context("a link path has a parent")?;
    ensure_dir(dir)?;
    sweep_dead_temps(path);
    let _ = mark(dir);
    let tmp = temp_beside(path);
    let _ = fs::remove_file(&tmp);
    let result = std::os::unix::fs::symlink(target, &tmp)
        .with_context(|| format!("linking {}", tmp.display()))
        .and_then(|()| {
            crate::system::crashpoint::reached("link:before-rename");
            fs::rename(&tmp, path)
                .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
            sync_dir(dir)
        });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    unmark();
    result
}

/// Removes a file or link, and what a crashed write of it left; a missing one is fine (the
/// goal state is reached).
pub fn remove(path: &Path) -> Result<bool> {
    sweep_dead_temps(path);
    let result = match fs::remove_file(path) {
        Ok(()) => match path.parent() {
            Some(dir) => sync_dir(dir).map(|()| true),
            None => Ok(true),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("removing {}", path.display())),
    };
    unmark();
    result
}

/// Removes `dir` if it is empty (a `.wants` directory svc-any's link was the last entry of).
pub fn remove_dir_if_empty(dir: &Path) {
    let _ = fs::remove_dir(dir);
}

/// Makes the entries of `dir` durable, now or, inside a transaction, once at its end.
fn sync_dir(dir: &Path) -> Result<()> {
    let deferred = DEFERRED_DIRS.with(|d| match d.borrow_mut().as_mut() {
        Some(dirs) => {
            dirs.insert(dir.to_path_buf());
            true
        }
        None => false,
    });
    if deferred {
        return Ok(());
    }
    sync_dir_now(dir)
}

fn sync_dir_now(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

/// Many file changes made durable together (see the module's documentation). While it is
/// open, [`write_atomic`], [`symlink_atomic`] and [`remove`] leave their directory's sync to
/// its end; files it [stages](Transaction::stage) are written at once and renamed into place
/// only after one [sync](Transaction::sync) of all of them.
pub struct Transaction {
    /// Target -> its temporary file, written and not yet renamed.
    staged: BTreeMap<PathBuf, PathBuf>,
    synced: bool,
    /// Whether this transaction opened the deferral of directory syncs (and so ends it).
    outermost: bool,
}

impl Transaction {
    pub fn begin() -> Transaction {
        let outermost = DEFERRED_DIRS.with(|d| {
            let mut d = d.borrow_mut();
            if d.is_some() {
                return false;
            }
            *d = Some(BTreeSet::new());
            true
        });
        Transaction {
            staged: BTreeMap::new(),
            synced: true,
            outermost,
        }
    }

    /// Writes `bytes` with `mode` under `path`'s temporary name; [`Transaction::rename`] puts
    /// it in place once [`Transaction::sync`] has made it durable.
    pub fn stage(&mut self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        let dir = path.parent().context("a file path has a parent")?;
        ensure_dir(dir)?;
        sweep_dead_temps(path);
        let _ = mark(dir);
        let tmp = temp_beside(path);
        let _ = fs::remove_file(&tmp);
        write_temp(&tmp, bytes, mode, false)?;
        self.staged.insert(path.to_path_buf(), tmp);
        self.synced = false;
        Ok(())
    }

    /// Makes every staged file durable: one sync of each file system they are on (or of the
    /// file itself, when there is one).
    pub fn sync(&mut self) -> Result<()> {
        if self.synced {
            return Ok(());
        }
        let temps: Vec<&PathBuf> = self.staged.values().collect();
        sync_files(&temps)?;
        self.synced = true;
        Ok(())
    }

    /// Puts the staged file for `path` in place (after [`Transaction::sync`]).
    pub fn rename(&mut self, path: &Path) -> Result<()> {
        anyhow::ensure!(self.synced, "renaming before the sync");
        let tmp = self
            .staged
            .remove(path)
            .with_context(|| format!("{} was not staged", path.display()))?;
        crate::system::crashpoint::reached("write:before-rename");
        fs::rename(&tmp, path)
            .with_context(|| format!("renaming {} to {}", tmp.display(), path.display()))?;
        sync_dir(path.parent().context("a file path has a parent")?)
    }

    /// Syncs every directory that changed, once each: after this, every change is durable.
    pub fn finish(mut self) -> Result<()> {
        self.finish_dirs()
    }

    fn finish_dirs(&mut self) -> Result<()> {
        if !self.outermost {
            return Ok(());
        }
        self.outermost = false;
        let dirs = DEFERRED_DIRS
            .with(|d| d.borrow_mut().take())
            .unwrap_or_default();
        let synced = dirs
            .iter()
            .filter(|dir| dir.exists())
            .try_for_each(|dir| sync_dir_now(dir));
        // Every temporary file is renamed or removed by now (a dropped transaction removed
        // what it had not renamed).
        unmark();
        synced
    }
}

impl Drop for Transaction {
    /// Given up half way (an error): what was renamed stays (and is made durable), what was
    /// not is removed.
    fn drop(&mut self) {
        for tmp in self.staged.values() {
            let _ = fs::remove_file(tmp);
        }
        let _ = self.finish_dirs();
    }
}

/// Makes the contents of `files` durable with as few syncs as the platform allows.
#[cfg(target_os = "linux")]
fn sync_files(files: &[&PathBuf]) -> Result<()> {
    if let [one] = files {
        return File::open(one)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", one.display()));
    }
    // syncfs writes out and commits a whole file system at once: one journal commit for all
    // the files, where a sync of each would make one commit per file.
    let mut seen = BTreeSet::new();
    for path in files {
        use std::os::unix::fs::MetadataExt;
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        if seen.insert(file.metadata()?.dev()) {
            nix::unistd::syncfs(&file)
                .with_context(|| format!("syncing the file system of {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn sync_files(files: &[&PathBuf]) -> Result<()> {
    for path in files {
        File::open(path)
            .and_then(|f| f.sync_all())
            .with_context(|| format!("syncing {}", path.display()))?;
    }
    Ok(())
}

/// Creates `tmp` (which must not exist) holding `bytes` with `mode`, synced if `sync`.
fn write_temp(tmp: &Path, bytes: &[u8], mode: u32, sync: bool) -> Result<()> {
    let result = (|| -> Result<()> {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("writing {}", tmp.display()))?;
        // The umask may have narrowed the mode given to open.
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        if sync {
            f.sync_all()
                .with_context(|| format!("syncing {}", tmp.display()))?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(tmp);
    }
    result
}

/// The bytes at `path`, or `None` if there is no file.
/// Whether `e` (from [`read_existing`], say) is the system refusing this user: another user's
/// private file, which a caller that only looks may pass by.
pub fn is_permission_denied(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied)
    })
}

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
    fn a_transaction_shows_nothing_before_its_renames_and_leaves_no_temp_when_dropped() {
        let dir = scratch("transaction");
        let (a, b) = (dir.join("a.toml"), dir.join("sub/b.toml"));
        fs::write(&a, "old").unwrap();
        let mut tx = Transaction::begin();
        tx.stage(&a, b"new a", 0o600).unwrap();
        tx.stage(&b, b"new b", 0o644).unwrap();
        assert!(tx.rename(&a).is_err(), "renamed before the sync");
        tx.sync().unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"old", "in place before its rename");
        tx.rename(&a).unwrap();
        assert_eq!(fs::read(&a).unwrap(), b"new a");
        assert_eq!(
            fs::metadata(&a).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // Given up before b's rename: b never appears, and its temporary file goes.
        drop(tx);
        assert!(!b.exists());
        assert_eq!(fs::read_dir(dir.join("sub")).unwrap().count(), 0);
        fs::remove_dir_all(dir).unwrap();
    }

    /// A pid that no process has: a child that has been waited for.
    #[cfg(target_os = "linux")]
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        child.wait().unwrap();
        child.id()
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_crashed_writer_s_temporary_file_goes_with_its_mark_at_the_next_write() {
        let dir = scratch("marks");
        let path = dir.join("unit.toml");
        let pid = dead_pid();
        let left = temp_name(&path, pid);
        fs::write(&left, "half").unwrap();
        if !mark(&dir) {
            // No extended attributes here: every directory is listed, nothing to prove.
            fs::remove_dir_all(dir).unwrap();
            return;
        }
        unmark();
        // The crashed writer's mark, as it would have left it.
        let name = std::ffi::CString::new(format!("user.svc-any.writing.{pid}")).unwrap();
        let c_dir = std::ffi::CString::new(dir.as_os_str().to_str().unwrap()).unwrap();
        // SAFETY: NUL-terminated strings owned here.
        let set =
            unsafe { nix::libc::setxattr(c_dir.as_ptr(), name.as_ptr(), std::ptr::null(), 0, 0) };
        assert_eq!(set, 0);
        assert_eq!(marks::dead(&dir).unwrap(), vec![name]);
        write_atomic(&path, b"whole", 0o644).unwrap();
        assert!(!left.exists(), "the dead writer's temporary file is left");
        assert_eq!(marks::dead(&dir).unwrap(), Vec::<std::ffi::CString>::new());
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("unit.toml")]);
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
