//! The child's side of a start: what runs between clone and exec, system calls only, in a
//! child that shares the supervisor's memory (CLONE_VM|CLONE_VFORK) and, where the kernel
//! allows, its descriptor table (CLONE_FILES, see [`StdioSlot`]). In order: a table of its
//! own, signals back to their defaults, its own session, its limits, its sandbox (mounts and
//! bounding set), its groups, gid and uid, its ambient capabilities, death with the
//! supervisor, its stdio, its directory, its umask, no new privileges, exec.
//! Everything it uses is prepared by the parent (`child.rs`) in a [`Setup`]; a failure
//! tells the parent its stage and errno.

use std::ffi::c_char;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::sys::resource::Resource;

/// Starting a process without handing it the supervisor's descriptors.
///
/// A forked child gets a copy of every descriptor of its parent, and exec then closes them
/// one by one (all are close-on-exec): with a thousand services running, two thousand per
/// start. Instead the child shares the table (CLONE_FILES) and its first act is
/// `close_range(N, ~0, CLOSE_RANGE_UNSHARE)`, which gives it a table of its own holding only
/// the descriptors below N; those it needs (`/dev/null`, its output pipe, and its stderr pipe
/// when `log.stderr` keeps stderr apart) are kept below N by holding three low numbers from
/// the start, /dev/null in one and, for each start, each pipe's write end dup'ed into one of
/// the others.
pub struct StdioSlot {
    pub(super) devnull: OwnedFd,
    pub(super) slot: OwnedFd,
    pub(super) errors: OwnedFd,
}

impl StdioSlot {
    /// Three low descriptors, if the kernel can unshare a range of the table (Linux 5.9).
    pub fn reserve() -> Option<StdioSlot> {
        // SAFETY: a range above any open descriptor: closes nothing, tells whether the call
        // exists.
        let supported =
            unsafe { nix::libc::syscall(nix::libc::SYS_close_range, u32::MAX, u32::MAX, 0) == 0 };
        if !supported {
            return None;
        }
        let open = || std::fs::File::open("/dev/null").ok().map(OwnedFd::from);
        Some(StdioSlot {
            devnull: open()?,
            slot: open()?,
            errors: open()?,
        })
    }

    /// The lowest number the child's own table leaves out.
    pub(super) fn limit(&self) -> RawFd {
        [&self.devnull, &self.slot, &self.errors]
            .iter()
            .map(|fd| fd.as_raw_fd())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Puts `fd` in `slot` (and `/dev/null` back with `None`).
    pub(super) fn hold(&self, slot: &OwnedFd, fd: Option<&OwnedFd>) -> std::io::Result<()> {
        let from = fd.unwrap_or(&self.devnull).as_raw_fd();
        // SAFETY: both numbers are descriptors this process owns; dup3 replaces the slot's.
        let rc = unsafe { nix::libc::dup3(from, slot.as_raw_fd(), nix::libc::O_CLOEXEC) };
        if rc < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The signals this process ignores. A service must not start with them ignored, as exec
/// keeps an ignored signal ignored (a handled one goes back to its default by itself); found
/// once, so a start resets only these rather than every signal.
pub fn ignored_signals() -> Vec<i32> {
    use nix::libc;
    (1..libc::SIGRTMIN())
        .filter(|sig| *sig != libc::SIGKILL && *sig != libc::SIGSTOP)
        .filter(|sig| {
            // SAFETY: a query (no new action) into a zeroed struct this frame owns.
            unsafe {
                let mut old: libc::sigaction = std::mem::zeroed();
                libc::sigaction(*sig, std::ptr::null(), &mut old) == 0
                    && old.sa_sigaction == libc::SIG_IGN
            }
        })
        .collect()
}

pub(super) const CHILD_STACK: usize = 64 * 1024;

/// What the child does, in order; a failure reports its stage to the parent.
pub(super) const STAGES: &[&str] = &[
    "",
    "resetting signals",
    "setsid",
    "setrlimit",
    "setgroups",
    "setgid",
    "setuid",
    "prctl(PR_SET_PDEATHSIG)",
    "redirecting stdio",
    "chdir to working_dir",
    "exec",
    "close_range(CLOSE_RANGE_UNSHARE)",
    "prctl(PR_SET_NO_NEW_PRIVS)",
    "sandbox: mounts",
    "capabilities: bounding set",
    "capabilities: ambient",
];

/// Everything the child needs, as raw pointers into memory the parent keeps alive.
pub(super) struct Setup<'a> {
    pub(super) program: *const c_char,
    pub(super) argv: *const *const c_char,
    pub(super) envp: *const *const c_char,
    pub(super) cwd: *const c_char,
    pub(super) stdin: RawFd,
    pub(super) output: RawFd,
    /// Where stderr goes when not with stdout.
    pub(super) errors: Option<RawFd>,
    /// With a shared descriptor table: the child's own keeps only the descriptors below this.
    pub(super) unshare_below: Option<RawFd>,
    /// (resource, soft, hard)
    pub(super) limits: &'a [(Resource, u64, u64)],
    pub(super) creds: Option<(u32, u32, Vec<u32>)>,
    pub(super) umask: Option<u32>,
    pub(super) no_new_privileges: bool,
    /// Its own mounts and capability sets (sandbox.rs).
    pub(super) sandbox: &'a super::sandbox::Sandbox,
    pub(super) parent: i32,
    pub(super) ignored_signals: &'a [i32],
    /// (stage << 32) | errno, written by a child that could not exec.
    pub(super) failure: AtomicU64,
}

/// The child's side: system calls only (no allocation: the heap is the parent's).
///
/// # Safety
/// Must run in a CLONE_VM|CLONE_VFORK child whose parent is suspended, with `setup` alive.
pub(super) unsafe fn child_main(setup: &Setup) -> isize {
    use nix::libc;
    let fail = |stage: u64| -> ! {
        let errno = nix::errno::Errno::last_raw() as u64;
        setup
            .failure
            .store((stage << 32) | (errno & 0xffff_ffff), Ordering::SeqCst);
        libc::_exit(127)
    };
    // Before anything touches a descriptor: a table of its own, holding only the low ones.
    if let Some(below) = setup.unshare_below {
        const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
        if libc::syscall(
            libc::SYS_close_range,
            below as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        ) != 0
        {
            fail(11);
        }
    }
    // The supervisor blocks the signals it reads from a signalfd, and Rust ignores SIGPIPE;
    // a child inherits both, and a server that never sees SIGTERM cannot stop.
    let mut empty: libc::sigset_t = std::mem::zeroed();
    libc::sigemptyset(&mut empty);
    if libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()) != 0 {
        fail(1);
    }
    for sig in setup.ignored_signals {
        libc::signal(*sig, libc::SIG_DFL);
    }
    if libc::setsid() < 0 {
        fail(2);
    }
    for (resource, soft, hard) in setup.limits {
        let limit = libc::rlimit {
            rlim_cur: *soft,
            rlim_max: *hard,
        };
        if libc::setrlimit(*resource as _, &limit) != 0 {
            fail(3);
        }
    }
    // As root, before the user changes: the mounts, then the bounding set.
    if super::sandbox::enter(setup.sandbox).is_err() {
        fail(13);
    }
    if let Some(caps) = &setup.sandbox.capabilities {
        if super::sandbox::limit_bounding_set(caps).is_err() {
            fail(14);
        }
    }
    if let Some((uid, gid, groups)) = &setup.creds {
        if libc::geteuid() == 0 && libc::setgroups(groups.len(), groups.as_ptr()) != 0 {
            fail(4);
        }
        if libc::setgid(*gid) != 0 {
            fail(5);
        }
        if libc::setuid(*uid) != 0 {
            fail(6);
        }
    }
    if let Some(caps) = &setup.sandbox.capabilities {
        if super::sandbox::raise_ambient(caps).is_err() {
            fail(15);
        }
    }
    // After setuid, which clears it: die with the supervisor.
    if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
        fail(7);
    }
    if libc::getppid() != setup.parent {
        // The supervisor died between clone and here.
        libc::_exit(1);
    }
    if libc::dup2(setup.stdin, 0) < 0
        || libc::dup2(setup.output, 1) < 0
        || libc::dup2(setup.errors.unwrap_or(setup.output), 2) < 0
    {
        fail(8);
    }
    if libc::chdir(setup.cwd) != 0 {
        fail(9);
    }
    if let Some(mask) = setup.umask {
        libc::umask(mask as libc::mode_t);
    }
    if setup.no_new_privileges && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
        fail(12);
    }
    libc::execve(setup.program, setup.argv, setup.envp);
    fail(10)
}
