//! Sandboxing, as systemd does it, with what Linux offers any supervisor: a mount namespace of
//! the process's own (`private_tmp`, `protect_system`, `protect_home`, `read_only_paths`,
//! `read_write_paths`) and its capability sets (`capabilities`: the bounding set, and the
//! ambient set for a service that runs as another user, so that a non-root server can bind
//! port 80).
//!
//! The parent makes the plan ([`plan`]): which paths, in which order, which mounts become
//! read-only. The child (clone.rs) carries it out with system calls only ([`enter`],
//! [`limit_bounding_set`], [`raise_ambient`]), as root, before it changes user. A command
//! marked `privileged` (systemd's `+`) runs outside the sandbox, as systemd runs it.
//!
//! The namespace is the child's own from its clone (CLONE_NEWNS, see child.rs): nothing it
//! mounts is seen outside, and its first act makes every mount a slave, so nothing propagates
//! back to the host either.

use std::ffi::CString;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::model::spec::{capability_number, Level, ProtectHome, ProtectSystem, Service};

/// One mount the child makes, in order.
pub(super) enum Step {
    /// `path` onto itself, or `from` onto `path` (a recursive bind): a mount of its own whose
    /// flags can then change without touching the one it came from.
    Bind {
        from: CString,
        path: CString,
        optional: bool,
    },
    /// `mount_setattr(2)`: read-only on or off, for the mount at `path` (and those below it
    /// with `recursive`); only that flag changes, nosuid and the rest stay as they were.
    ReadOnly {
        path: CString,
        read_only: bool,
        recursive: bool,
        optional: bool,
    },
    /// A `/dev` of its own with only the pseudo devices (`private_devices`): each of
    /// [`PRIVATE_DEV_NODES`] and `/dev/pts` taken as a detached mount (open_tree) before a new
    /// tmpfs covers `/dev`, then moved into it; `/dev/shm` a new tmpfs; the usual links.
    PrivateDevices,
    /// A new, empty, read-only tmpfs over `path` with `options` (`mode=000`: inaccessible).
    Tmpfs {
        path: CString,
        options: CString,
        optional: bool,
    },
}

/// The capability sets a sandboxed process keeps.
pub(super) struct Capabilities {
    /// Bit N set: capability N stays in the bounding set (and is raised as ambient).
    pub(super) keep: u64,
    /// The highest capability this kernel knows (/proc/sys/kernel/cap_last_cap).
    pub(super) last: u32,
    /// Raise `keep` into the ambient set once the user is changed (a service with a user).
    pub(super) ambient: bool,
}

/// What a process of the service runs inside.
#[derive(Default)]
pub(super) struct Sandbox {
    /// Mounts in its own namespace; none: it shares the supervisor's.
    pub(super) mounts: Vec<Step>,
    pub(super) capabilities: Option<Capabilities>,
}

/// The mounts under these stay as they are with `protect_system = "strict"`, as systemd
/// leaves its API file systems.
const API_FILE_SYSTEMS: &[&str] = &["/dev", "/proc", "/sys"];

/// `protect_home`'s directories.
const HOMES: &[&str] = &["/home", "/root", "/run/user"];

/// Where a unit's private `/tmp` and `/var/tmp` live on the host, made before a start and
/// removed once the unit is down ([`remove_private_tmp`]): `/tmp/svc-any-private-UNIT` (root's,
/// 0700) holding `tmp` (1777), and the same below `/var/tmp`.
pub(super) fn private_tmp_dirs(unit: &str) -> [(std::path::PathBuf, &'static str); 2] {
    let name = format!("svc-any-private-{unit}");
    [
        (Path::new("/tmp").join(&name), "/tmp"),
        (Path::new("/var/tmp").join(&name), "/var/tmp"),
    ]
}

/// Makes the unit's private temporary directories, each shared by all its processes until it
/// is down. One that exists must be root's own directory, mode 0700: another user could
/// otherwise have planted it (or a link) in the world-writable `/tmp` before the first start.
pub(super) fn make_private_tmp(unit: &str) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    for (outer, _) in private_tmp_dirs(unit) {
        match std::fs::symlink_metadata(&outer) {
            Ok(m) if m.is_dir() && m.uid() == 0 && m.mode() & 0o077 == 0 => {}
            Ok(_) => bail!(
                "private_tmp: {} exists and is not root's own directory (mode 0700): remove it",
                outer.display()
            ),
            Err(_) => std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&outer)
                .with_context(|| format!("private_tmp: cannot make {}", outer.display()))?,
        }
        let inner = outer.join("tmp");
        if std::fs::symlink_metadata(&inner).is_err() {
            std::fs::create_dir(&inner)
                .with_context(|| format!("private_tmp: cannot make {}", inner.display()))?;
            std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o1777))
                .with_context(|| {
                    format!("private_tmp: cannot set the mode of {}", inner.display())
                })?;
        }
    }
    Ok(())
}

/// Removes the unit's private temporary directories, with what its processes left there.
pub(super) fn remove_private_tmp(unit: &str) {
    for (outer, _) in private_tmp_dirs(unit) {
        let _ = std::fs::remove_dir_all(outer);
    }
}

fn cstring(path: &str) -> Result<CString> {
    CString::new(path).with_context(|| format!("{path:?} holds a NUL byte"))
}

/// A path as the definition writes it: `-PATH` is optional (skipped where missing).
fn optional_path(written: &str) -> (&str, bool) {
    match written.strip_prefix('-') {
        Some(path) => (path, true),
        None => (written, false),
    }
}

/// The mount points of this process's namespace (/proc/self/mountinfo's fifth field, with its
/// octal escapes undone).
fn mount_points() -> Result<Vec<String>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .context("protect_system: cannot read /proc/self/mountinfo")?;
    Ok(text
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .collect())
}

fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn under(path: &str, dir: &str) -> bool {
    path == dir
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// What the processes of `unit` run inside: nothing for a privileged command or a service
/// that asks for no sandboxing. `as_root`: the process keeps uid 0 (no `user`), so ambient
/// capabilities add nothing to what the bounding set leaves it.
pub(super) fn plan(
    service: &Service,
    unit: &str,
    privileged: bool,
    as_root: bool,
) -> Result<Sandbox> {
    let d = &service.daemon;
    if privileged || service.level == Level::User {
        // A user's supervisor has no right to a mount namespace or the bounding set;
        // backends/builtin.rs carries none of this at user level.
        return Ok(Sandbox::default());
    }
    let mut mounts = Vec::new();
    if d.private_devices {
        mounts.push(Step::PrivateDevices);
    }
    match d.protect_system {
        Some(ProtectSystem::Strict) => {
            // Every mount read-only, one by one (not recursively: the API file systems keep
            // their own flags, read-only /sys in a container included).
            for point in mount_points()? {
                if API_FILE_SYSTEMS.iter().any(|api| under(&point, api)) {
                    continue;
                }
                mounts.push(Step::ReadOnly {
                    path: cstring(&point)?,
                    read_only: true,
                    recursive: false,
                    optional: true,
                });
            }
        }
        Some(level) => {
            let mut dirs = vec!["/usr", "-/boot", "-/efi"];
            if level == ProtectSystem::Full {
                dirs.push("/etc");
            }
            for dir in dirs {
                let (path, optional) = optional_path(dir);
                bind_read_only(&mut mounts, path, true, optional)?;
            }
        }
        None => {}
    }
    // The paths, the shallower first, so that one inside another wins (a writable directory
    // inside a read-only one, or the reverse).
    enum Kind {
        ReadOnly,
        Writable,
        Inaccessible,
        EmptyTmpfs,
        PrivateTmp(std::path::PathBuf),
    }
    let mut paths: Vec<(String, bool, Kind)> = Vec::new();
    if let Some(home) = d.protect_home {
        for dir in HOMES {
            let kind = match home {
                ProtectHome::Yes => Kind::Inaccessible,
                ProtectHome::ReadOnly => Kind::ReadOnly,
                ProtectHome::Tmpfs => Kind::EmptyTmpfs,
            };
            paths.push((dir.to_string(), true, kind));
        }
    }
    for written in &d.read_only_paths {
        let (path, optional) = optional_path(written);
        paths.push((path.to_string(), optional, Kind::ReadOnly));
    }
    for written in &d.read_write_paths {
        let (path, optional) = optional_path(written);
        paths.push((path.to_string(), optional, Kind::Writable));
    }
    if d.private_tmp {
        for (outer, path) in private_tmp_dirs(unit) {
            paths.push((path.to_string(), false, Kind::PrivateTmp(outer.join("tmp"))));
        }
    }
    paths.sort_by_key(|(path, _, _)| path.trim_end_matches('/').matches('/').count());
    for (path, optional, kind) in paths {
        match kind {
            Kind::ReadOnly => bind_read_only(&mut mounts, &path, true, optional)?,
            Kind::Writable => bind_read_only(&mut mounts, &path, false, optional)?,
            Kind::Inaccessible | Kind::EmptyTmpfs => mounts.push(Step::Tmpfs {
                path: cstring(&path)?,
                options: cstring(match kind {
                    Kind::Inaccessible => "mode=000",
                    _ => "mode=755",
                })?,
                optional,
            }),
            Kind::PrivateTmp(from) => {
                mounts.push(Step::Bind {
                    from: cstring(&from.to_string_lossy())?,
                    path: cstring(&path)?,
                    optional,
                });
                mounts.push(Step::ReadOnly {
                    path: cstring(&path)?,
                    read_only: false,
                    recursive: true,
                    optional,
                });
            }
        }
    }
    let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(40);
    // private_devices also takes away making device nodes and raw I/O, as systemd does.
    let no_devices = if d.private_devices {
        ["CAP_MKNOD", "CAP_SYS_RAWIO"]
            .iter()
            .filter_map(|n| capability_number(n))
            .fold(0u64, |mask, n| mask | 1 << n)
    } else {
        0
    };
    let capabilities = match &d.capabilities {
        None if no_devices == 0 => None,
        None => Some(Capabilities {
            keep: ((1u128 << (last.min(63) + 1)) - 1) as u64 & !no_devices,
            last,
            ambient: false,
        }),
        Some(names) => {
            let keep = names
                .iter()
                .filter_map(|n| capability_number(n))
                .fold(0u64, |mask, n| mask | 1 << n)
                & !no_devices;
            Some(Capabilities {
                keep,
                last,
                ambient: !as_root && keep != 0,
            })
        }
    };
    Ok(Sandbox {
        mounts,
        capabilities,
    })
}

/// `path` bound onto itself, then read-only (or writable again, below a read-only mount).
fn bind_read_only(
    mounts: &mut Vec<Step>,
    path: &str,
    read_only: bool,
    optional: bool,
) -> Result<()> {
    mounts.push(Step::Bind {
        from: cstring(path)?,
        path: cstring(path)?,
        optional,
    });
    mounts.push(Step::ReadOnly {
        path: cstring(path)?,
        read_only,
        recursive: true,
        optional,
    });
    Ok(())
}

/// The kernel's `struct mount_attr` (mount_setattr(2)).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;
const AT_RECURSIVE: u32 = 0x8000;

/// Makes the mounts of `sandbox`, in the child's own namespace. Err: the errno.
///
/// # Safety
/// System calls only, on data the parent prepared: safe in the CLONE_VM child.
pub(super) unsafe fn enter(sandbox: &Sandbox) -> Result<(), ()> {
    use nix::libc;
    if sandbox.mounts.is_empty() {
        return Ok(());
    }
    // Nothing mounted here reaches the host (the root may be shared, as under systemd).
    let root = c"/";
    if libc::mount(
        std::ptr::null(),
        root.as_ptr(),
        std::ptr::null(),
        libc::MS_REC | libc::MS_SLAVE,
        std::ptr::null(),
    ) != 0
    {
        return Err(());
    }
    let missing = || nix::errno::Errno::last_raw() == libc::ENOENT;
    for step in &sandbox.mounts {
        let (ok, optional) = match step {
            Step::PrivateDevices => (private_dev(), false),
            Step::Bind {
                from,
                path,
                optional,
            } => (
                libc::mount(
                    from.as_ptr(),
                    path.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ) == 0,
                *optional,
            ),
            Step::ReadOnly {
                path,
                read_only,
                recursive,
                optional,
            } => {
                let attr = MountAttr {
                    attr_set: if *read_only { MOUNT_ATTR_RDONLY } else { 0 },
                    attr_clr: if *read_only { 0 } else { MOUNT_ATTR_RDONLY },
                    propagation: 0,
                    userns_fd: 0,
                };
                let flags = if *recursive { AT_RECURSIVE } else { 0 };
                let rc = libc::syscall(
                    libc::SYS_mount_setattr,
                    libc::AT_FDCWD,
                    path.as_ptr(),
                    flags,
                    &attr as *const MountAttr,
                    std::mem::size_of::<MountAttr>(),
                );
                (rc == 0, *optional)
            }
            Step::Tmpfs {
                path,
                options,
                optional,
            } => {
                let tmpfs = c"tmpfs";
                (
                    libc::mount(
                        tmpfs.as_ptr(),
                        path.as_ptr(),
                        tmpfs.as_ptr(),
                        libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                        options.as_ptr().cast(),
                    ) == 0,
                    *optional,
                )
            }
        };
        if !(ok || optional && missing()) {
            return Err(());
        }
    }
    Ok(())
}

/// The pseudo devices a private `/dev` keeps (systemd's list, less what needs a daemon of its
/// own); a name this host lacks is left out.
const PRIVATE_DEV_NODES: [&std::ffi::CStr; 6] = [
    c"/dev/null",
    c"/dev/zero",
    c"/dev/full",
    c"/dev/random",
    c"/dev/urandom",
    c"/dev/tty",
];

/// The links of a private `/dev` (as udev and systemd make them).
const PRIVATE_DEV_LINKS: [(&std::ffi::CStr, &std::ffi::CStr); 5] = [
    (c"pts/ptmx", c"/dev/ptmx"),
    (c"/proc/self/fd", c"/dev/fd"),
    (c"/proc/self/fd/0", c"/dev/stdin"),
    (c"/proc/self/fd/1", c"/dev/stdout"),
    (c"/proc/self/fd/2", c"/dev/stderr"),
];

/// Builds the private `/dev` ([`Step::PrivateDevices`]); false on any failure (errno set).
///
/// # Safety
/// System calls only, in the child's own mount namespace.
unsafe fn private_dev() -> bool {
    use nix::libc;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    let open_tree = |path: &std::ffi::CStr, recursive: bool| -> libc::c_long {
        let flags = OPEN_TREE_CLONE
            | libc::O_CLOEXEC as libc::c_uint
            | if recursive { AT_RECURSIVE } else { 0 };
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags)
    };
    // Taken before /dev is covered; -1 where the host has no such node.
    let mut nodes = [-1 as libc::c_long; 6];
    for (fd, path) in nodes.iter_mut().zip(PRIVATE_DEV_NODES) {
        *fd = open_tree(path, false);
        if *fd < 0 && nix::errno::Errno::last_raw() != libc::ENOENT {
            return false;
        }
    }
    let pts = open_tree(c"/dev/pts", true);
    let tmpfs = c"tmpfs";
    if libc::mount(
        tmpfs.as_ptr(),
        c"/dev".as_ptr(),
        tmpfs.as_ptr(),
        libc::MS_NOSUID | libc::MS_NOEXEC,
        c"mode=755,size=4m".as_ptr().cast(),
    ) != 0
    {
        return false;
    }
    let empty = c"";
    let place = |fd: libc::c_long, path: &std::ffi::CStr| -> bool {
        libc::syscall(
            libc::SYS_move_mount,
            fd as libc::c_int,
            empty.as_ptr(),
            libc::AT_FDCWD,
            path.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        ) == 0
    };
    for (fd, path) in nodes.into_iter().zip(PRIVATE_DEV_NODES) {
        if fd < 0 {
            continue;
        }
        let target = libc::open(
            path.as_ptr(),
            libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
            0o666,
        );
        if target < 0 {
            return false;
        }
        libc::close(target);
        let placed = place(fd, path);
        libc::close(fd as libc::c_int);
        if !placed {
            return false;
        }
    }
    if pts >= 0 {
        if libc::mkdir(c"/dev/pts".as_ptr(), 0o755) != 0 || !place(pts, c"/dev/pts") {
            return false;
        }
        libc::close(pts as libc::c_int);
    }
    if libc::mkdir(c"/dev/shm".as_ptr(), 0o1777) != 0
        || libc::mount(
            tmpfs.as_ptr(),
            c"/dev/shm".as_ptr(),
            tmpfs.as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV,
            c"mode=1777".as_ptr().cast(),
        ) != 0
    {
        return false;
    }
    for (target, link) in PRIVATE_DEV_LINKS {
        if libc::symlink(target.as_ptr(), link.as_ptr()) != 0 {
            return false;
        }
    }
    true
}

/// Drops every capability the service does not keep from the bounding set (as root, which
/// holds CAP_SETPCAP), and keeps the permitted set across the change of user when the kept
/// ones are to be raised as ambient.
///
/// # Safety
/// System calls only: safe in the CLONE_VM child.
pub(super) unsafe fn limit_bounding_set(caps: &Capabilities) -> Result<(), ()> {
    use nix::libc;
    for cap in 0..=caps.last.min(63) {
        if caps.keep & (1 << cap) == 0
            && libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0
        {
            return Err(());
        }
    }
    if caps.ambient && libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 {
        return Err(());
    }
    Ok(())
}

/// After the change of user: the kept capabilities permitted, inheritable and effective, then
/// ambient, so that they survive exec for a program with no file capabilities.
///
/// # Safety
/// System calls only: safe in the CLONE_VM child.
pub(super) unsafe fn raise_ambient(caps: &Capabilities) -> Result<(), ()> {
    use nix::libc;
    if !caps.ambient {
        return Ok(());
    }
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let word = |i: u32| (caps.keep >> (32 * i)) as u32;
    let data = [0, 1].map(|i| Data {
        effective: word(i),
        permitted: word(i),
        inheritable: word(i),
    });
    if libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) != 0 {
        return Err(());
    }
    for cap in 0..=caps.last.min(63) {
        if caps.keep & (1 << cap) != 0
            && libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                cap as libc::c_ulong,
                0,
                0,
            ) != 0
        {
            return Err(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/x\\134y"), "/x\\y");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn the_api_file_systems_and_only_they_are_left_alone() {
        assert!(under("/dev", "/dev"));
        assert!(under("/dev/pts", "/dev"));
        assert!(!under("/devices", "/dev"));
        assert!(!under("/", "/dev"));
    }

    #[test]
    fn paths_are_mounted_shallower_first_and_capabilities_become_a_mask() {
        let service = crate::model::spec::test_service(
            "exec = [\"/bin/true\"]\nuser = \"root\"\nread_write_paths = [\"-/var/lib/x/y\"]\n\
             read_only_paths = [\"/var/lib\"]\ncapabilities = [\"CAP_NET_BIND_SERVICE\", \"CAP_CHOWN\"]\n",
            "box",
        );
        let plan = plan(&service, "box", false, false).unwrap();
        let paths: Vec<(String, bool)> = plan
            .mounts
            .iter()
            .filter_map(|s| match s {
                Step::ReadOnly {
                    path,
                    read_only,
                    optional,
                    ..
                } => Some((
                    format!(
                        "{}{}",
                        if *optional { "-" } else { "" },
                        path.to_str().unwrap()
                    ),
                    *read_only,
                )),
                _ => None,
            })
            .collect();
        assert_eq!(
            paths,
            [
                ("/var/lib".to_string(), true),
                ("-/var/lib/x/y".to_string(), false)
            ]
        );
        let caps = plan.capabilities.unwrap();
        assert_eq!(caps.keep, 1 << 10 | 1);
        assert!(caps.ambient);
        // A privileged command runs outside.
        let outside = super::plan(&service, "box", true, false).unwrap();
        assert!(outside.mounts.is_empty() && outside.capabilities.is_none());
    }
}
