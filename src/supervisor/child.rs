//! Starting one service process, the way a manager should: its own session and process group
//! (so stop reaches all of it and a terminal's ^C none of it), its limits, its groups, gid and
//! uid, its directory and environment, and SIGKILL when the supervisor dies, so a supervisor
//! restarted after `kill -9` never runs a second copy next to an orphaned first.

use std::collections::BTreeMap;
use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::resource::{Resource, RLIM_INFINITY};
use nix::unistd::{Gid, Pid, Uid};

use crate::dialect::exec_expand;
use crate::model::spec::{DirKind, Level, Limit, Service, ServiceType};

/// The PATH a service gets, as systemd gives its services.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who the process runs as, resolved before forking (NSS lookups are not safe after fork).
struct Credentials {
    uid: Uid,
    gid: Gid,
    groups: Vec<Gid>,
    home: PathBuf,
    name: String,
}

fn credentials(service: &Service) -> Result<Option<Credentials>> {
    let user = match &service.user {
        None => None,
        Some(u) if u.chars().all(|c| c.is_ascii_digit()) => {
            let uid = Uid::from_raw(u.parse()?);
            Some(nix::unistd::User::from_uid(uid)?.map_or(
                (
                    uid,
                    Gid::from_raw(uid.as_raw()),
                    PathBuf::from("/"),
                    u.clone(),
                ),
                |e| (e.uid, e.gid, e.dir, e.name),
            ))
        }
        Some(u) => {
            let e = nix::unistd::User::from_name(u)?.with_context(|| format!("no user `{u}`"))?;
            Some((e.uid, e.gid, e.dir, e.name))
        }
    };
    let group = match &service.group {
        None => None,
        Some(g) if g.chars().all(|c| c.is_ascii_digit()) => Some(Gid::from_raw(g.parse()?)),
        Some(g) => Some(
            nix::unistd::Group::from_name(g)?
                .with_context(|| format!("no group `{g}`"))?
                .gid,
        ),
    };
    let mut supplementary = Vec::new();
    for g in &service.daemon.supplementary_groups {
        supplementary.push(match g.chars().all(|c| c.is_ascii_digit()) {
            true => Gid::from_raw(g.parse()?),
            false => {
                nix::unistd::Group::from_name(g)?
                    .with_context(|| format!("no group `{g}` (supplementary_groups)"))?
                    .gid
            }
        });
    }
    let with_supplementary = |mut groups: Vec<Gid>| {
        groups.extend(&supplementary);
        groups.sort_by_key(|g| g.as_raw());
        groups.dedup();
        groups
    };
    Ok(match (user, group) {
        // Only more groups: for the supervisor's own user and group.
        (None, None) if !supplementary.is_empty() => {
            let gid = nix::unistd::getegid();
            Some(Credentials {
                uid: nix::unistd::geteuid(),
                gid,
                groups: with_supplementary(vec![gid]),
                home: PathBuf::from("/"),
                name: String::new(),
            })
        }
        (None, None) => None,
        (Some((uid, user_gid, home, name)), group) => {
            let gid = group.unwrap_or(user_gid);
            let cname = CString::new(name.clone())?;
            let groups = nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid]);
            Some(Credentials {
                uid,
                gid,
                groups: with_supplementary(groups),
                home,
                name,
            })
        }
        (None, Some(gid)) => {
            let me = nix::unistd::geteuid();
            Some(Credentials {
                uid: me,
                gid,
                groups: with_supplementary(vec![gid]),
                home: PathBuf::from("/"),
                name: String::new(),
            })
        }
    })
}

/// `KEY=VALUE` lines, `#` comments, optional quotes around the value (systemd's
/// EnvironmentFile= reading, minus its escapes).
pub fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("env_file {}", path.display()))?;
    Ok(crate::dialect::env_file::parse(&text))
}

/// What every service of a supervisor starts with, whatever its definition says.
pub struct Inherited<'a> {
    pub level: Level,
    /// The open-file limit (soft, hard) the supervisor was started with, before it raised its
    /// own: a service gets it back unless its `limits.nofile` says otherwise, as it would from
    /// a shell (a program that uses select(), or closes every descriptor up to its limit at
    /// start, is not handed a limit of a million).
    pub nofile: (u64, u64),
    /// `/dev/null`, the service's stdin.
    pub stdin: BorrowedFd<'a>,
    /// The signals the supervisor ignores (see [`ignored_signals`]).
    pub ignored_signals: &'a [i32],
    /// A low descriptor the supervisor keeps for the pipe of the process being started, when
    /// the kernel has `close_range` (see [`StdioSlot`]).
    pub slot: Option<&'a StdioSlot>,
    /// The readiness socket, for `type = "notify"` (supervisor/notify.rs).
    pub notify_socket: Option<&'a Path>,
}

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
    devnull: OwnedFd,
    slot: OwnedFd,
    errors: OwnedFd,
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
    fn limit(&self) -> RawFd {
        [&self.devnull, &self.slot, &self.errors]
            .iter()
            .map(|fd| fd.as_raw_fd())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Puts `fd` in `slot` (and `/dev/null` back with `None`).
    fn hold(&self, slot: &OwnedFd, fd: Option<&OwnedFd>) -> std::io::Result<()> {
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

/// The directories of `runtime_dir`, `state_dir`, `logs_dir` and `config_dir`, made before each
/// start as systemd makes them: parents root's, the innermost with the key's mode (0755 by
/// default) and owned by the service's user and group, except the configuration one, which
/// stays root's. A name that exists as anything but a directory (a planted symbolic link) is
/// refused, naming the key.
fn make_directories(service: &Service, owner: Option<(Uid, Gid)>) -> Result<()> {
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
pub fn unmet_condition(service: &Service) -> Option<String> {
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
pub fn remove_runtime_directories(service: &Service) {
    for name in service
        .daemon
        .directories(DirKind::Runtime)
        .iter()
        .flat_map(|d| &d.names)
    {
        let _ = std::fs::remove_dir_all(Path::new(DirKind::Runtime.base()).join(name));
    }
}

/// What a start runs: the service's main process, or one of the commands around it
/// (`pre_start`, `stop_exec`...), which run with the service's user, groups, limits,
/// directory and environment as the main process does.
pub struct Program<'a> {
    /// As the definition has it: with `exec_expand`, expanded from the final environment at
    /// spawn time (see [`spawn_program`]).
    pub argv: &'a [String],
    /// As the supervisor's own user, with no privilege dropped or restricted (a command's
    /// `privileged`, systemd's `+`).
    pub privileged: bool,
    /// Variables beyond the definition's: `MAINPID` for the commands that act on the main
    /// process. With `exec_expand`, the arguments can name them too.
    pub extra_env: Vec<(String, String)>,
    /// Make the directories the definition asks for first: a start's programs do, the stop
    /// side's do not (the runtime directory goes once they have run).
    pub make_directories: bool,
    /// The main process: the one that gets `NOTIFY_SOCKET` with `type = "notify"`.
    pub main: bool,
    /// The key that names it in the definition, for errors: `exec`, `pre_start`.
    pub key: &'static str,
}

impl<'a> Program<'a> {
    /// The service's main process (`exec`).
    pub fn main(service: &'a Service) -> Program<'a> {
        Program {
            argv: &service.exec,
            privileged: false,
            extra_env: Vec::new(),
            make_directories: true,
            main: true,
            key: "exec",
        }
    }
}

/// Starts `service` (already expanded for its instance) with stdout on `output`, and stderr
/// on `errors` if given, else on `output` too. Returns once the program is executing; a
/// program that cannot be executed is an error here.
pub fn spawn(
    service: &Service,
    inherited: &Inherited,
    output: OwnedFd,
    errors: Option<OwnedFd>,
) -> Result<Pid> {
    spawn_program(service, &Program::main(service), inherited, output, errors)
}

/// Starts `program` as [`spawn`] starts the main process.
pub fn spawn_program(
    service: &Service,
    program: &Program,
    inherited: &Inherited,
    output: OwnedFd,
    errors: Option<OwnedFd>,
) -> Result<Pid> {
    let level = inherited.level;
    let owner = credentials(service)?;
    if program.make_directories {
        make_directories(service, owner.as_ref().map(|c| (c.uid, c.gid)))?;
    }
    let creds = if program.privileged { None } else { owner };
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PATH".into(), DEFAULT_PATH.into());
    if let Ok(lang) = std::env::var("LANG") {
        env.insert("LANG".into(), lang);
    }
    match &creds {
        Some(c) if !c.name.is_empty() => {
            env.insert("HOME".into(), c.home.display().to_string());
            env.insert("USER".into(), c.name.clone());
            env.insert("LOGNAME".into(), c.name.clone());
        }
        _ => {
            for var in ["HOME", "USER", "LOGNAME"] {
                if let Ok(v) = std::env::var(var) {
                    env.insert(var.into(), v);
                }
            }
        }
    }
    if let Some(file) = &service.env_file {
        env.extend(read_env_file(Path::new(file))?);
    }
    // In order, as systemd reads its EnvironmentFile= lines; a `-` one may be missing.
    for file in &service.daemon.env_files {
        let path = Path::new(&file.path);
        if file.optional && !path.exists() {
            continue;
        }
        env.extend(read_env_file(path)?);
    }
    env.extend(service.env.clone());
    env.extend(program.extra_env.iter().cloned());
    if program.main && service.daemon.service_type == Some(ServiceType::Notify) {
        if let Some(path) = inherited.notify_socket {
            env.insert("NOTIFY_SOCKET".into(), path.display().to_string());
        }
    }

    let cwd = match (&service.working_dir, level) {
        (Some(d), _) => PathBuf::from(d),
        // As systemd: / for system services, the home directory for a user's.
        (None, Level::System) => PathBuf::from("/"),
        (None, Level::User) => {
            PathBuf::from(env.get("HOME").cloned().unwrap_or_else(|| "/".into()))
        }
    };

    let mut limits: Vec<(Resource, u64, u64)> = [
        (Resource::RLIMIT_NOFILE, service.limits.nofile),
        (Resource::RLIMIT_NPROC, service.limits.nproc),
    ]
    .into_iter()
    .filter_map(|(r, l)| {
        l.map(|l| match l {
            Limit::Value(n) => (r, n, n),
            Limit::Infinity => (r, RLIM_INFINITY, RLIM_INFINITY),
        })
    })
    .collect();
    if service.limits.nofile.is_none() {
        let (soft, hard) = inherited.nofile;
        limits.push((Resource::RLIMIT_NOFILE, soft, hard));
    }

    // Everything the child needs is prepared here, before the clone: the child may only make
    // system calls.
    let cstring =
        |s: &str, what: &str| CString::new(s).with_context(|| format!("{what} holds a NUL byte"));
    // The program is the path as written; the arguments it gets are expanded from the
    // environment it gets, as systemd expands them (`exec_expand`), or exact bytes.
    let argv0 = &program.argv[0];
    let path = cstring(argv0, "exec[0]")?;
    let expanded;
    let words = match service.daemon.exec_expand {
        true => {
            expanded =
                exec_expand::expand_argv(program.argv, |name| env.get(name).map(String::as_str));
            if expanded.is_empty() {
                bail!("`{}`: no argument is left once expanded", program.key);
            }
            &expanded
        }
        false => program.argv,
    };
    let argv: Vec<CString> = words
        .iter()
        .map(|a| cstring(a, "exec"))
        .collect::<Result<_>>()?;
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| cstring(&format!("{k}={v}"), "env"))
        .collect::<Result<_>>()?;
    let argv_ptrs: Vec<*const c_char> = argv
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let envp_ptrs: Vec<*const c_char> = envp
        .iter()
        .map(|c| c.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect();
    let cwd_c = CString::new(cwd.as_os_str().as_bytes()).context("working_dir holds a NUL byte")?;
    let setup = Setup {
        program: path.as_ptr(),
        argv: argv_ptrs.as_ptr(),
        envp: envp_ptrs.as_ptr(),
        cwd: cwd_c.as_ptr(),
        stdin: match inherited.slot {
            Some(slot) => slot.devnull.as_raw_fd(),
            None => inherited.stdin.as_raw_fd(),
        },
        output: match inherited.slot {
            Some(slot) => slot.slot.as_raw_fd(),
            None => output.as_raw_fd(),
        },
        errors: match (inherited.slot, &errors) {
            (_, None) => None,
            (Some(slot), Some(_)) => Some(slot.errors.as_raw_fd()),
            (None, Some(e)) => Some(e.as_raw_fd()),
        },
        unshare_below: inherited.slot.map(StdioSlot::limit),
        limits: &limits,
        creds: creds.as_ref().map(|c| {
            (
                c.uid.as_raw(),
                c.gid.as_raw(),
                c.groups.iter().map(|g| g.as_raw()).collect::<Vec<_>>(),
            )
        }),
        umask: service.daemon.umask,
        no_new_privileges: service.daemon.no_new_privileges && !program.privileged,
        parent: nix::unistd::getpid().as_raw(),
        ignored_signals: inherited.ignored_signals,
        failure: AtomicU64::new(0),
    };
    let mut stack = vec![0u8; CHILD_STACK];
    let callback: nix::sched::CloneCb = Box::new(|| {
        // SAFETY: runs in the CLONE_VM|CLONE_VFORK child, on its own stack, while this thread
        // waits; it only makes system calls on data prepared above, then execs or exits.
        unsafe { child_main(&setup) }
    });
    // CLONE_VFORK: resume only once the child has exec'd (or died trying), as posix_spawn does;
    // much cheaper than copying the supervisor's page tables with fork. CLONE_FILES (with a
    // slot): no copy of the descriptor table either (see StdioSlot).
    // SAFETY: see child_main; the stack outlives the child's use of it (it execs or exits
    // before this call returns).
    let mut flags = CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
    if let Some(slot) = inherited.slot {
        slot.hold(&slot.slot, Some(&output))
            .context("holding the output pipe")?;
        if let Some(errors) = &errors {
            slot.hold(&slot.errors, Some(errors))
                .context("holding the stderr pipe")?;
        }
        flags |= CloneFlags::CLONE_FILES;
    }
    drop(output);
    let apart = errors.is_some();
    drop(errors);
    let cloned =
        unsafe { nix::sched::clone(callback, &mut stack, flags, Some(nix::libc::SIGCHLD)) };
    if let Some(slot) = inherited.slot {
        // The pipes' write ends now live in the child alone: its end is the pipes' end.
        slot.hold(&slot.slot, None)
            .context("releasing the output pipe")?;
        if apart {
            slot.hold(&slot.errors, None)
                .context("releasing the stderr pipe")?;
        }
    }
    let pid = cloned.context("cloning a child process")?;
    let failure = setup.failure.load(Ordering::SeqCst);
    if failure != 0 {
        let _ = nix::sys::wait::waitpid(pid, None);
        let stage = STAGES
            .get((failure >> 32) as usize)
            .copied()
            .unwrap_or("setup");
        let errno = Errno::from_raw((failure & 0xffff_ffff) as i32);
        bail!(
            "{}",
            explain_failure(service, (program.key, argv0), stage, errno)
        );
    }
    Ok(pid)
}

/// A start that failed before exec, said in the definition's terms: the key to fix, and for
/// limits the limit in force, rather than a bare `setrlimit: Operation not permitted`.
fn explain_failure(
    service: &Service,
    (key, program): (&str, &str),
    stage: &str,
    errno: Errno,
) -> String {
    let cause = errno.desc();
    match stage {
        "setrlimit" => {
            let hard = |resource| {
                nix::sys::resource::getrlimit(resource)
                    .map(|(_, hard)| {
                        if hard == nix::sys::resource::RLIM_INFINITY {
                            "infinity".to_string()
                        } else {
                            hard.to_string()
                        }
                    })
                    .unwrap_or_else(|_| "unknown".into())
            };
            format!(
                "cannot start {}: `limits`: a limit above the hard limit in force ({cause}); the \
                 hard limits here are nofile {} and nproc {}: lower the limit, or raise the hard \
                 limit of svc-any's supervisor (as root)",
                program,
                hard(Resource::RLIMIT_NOFILE),
                hard(Resource::RLIMIT_NPROC)
            )
        }
        "setgroups" | "setgid" | "setuid" => format!(
            "cannot start {}: `user`/`group`: {stage} failed ({cause}): a user's own supervisor \
             cannot switch users; run as root, or remove user and group",
            program
        ),
        "chdir to working_dir" => format!(
            "cannot start {}: `working_dir`: cannot enter {} ({cause})",
            program,
            service.working_dir.as_deref().unwrap_or("?")
        ),
        "exec" => format!("cannot start {program}: `{key}`: {cause}"),
        _ => format!("cannot start {program}: {stage}: {cause}"),
    }
}

const CHILD_STACK: usize = 64 * 1024;

/// What the child does, in order; a failure reports its stage to the parent.
const STAGES: &[&str] = &[
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
];

/// Everything the child needs, as raw pointers into memory the parent keeps alive.
struct Setup<'a> {
    program: *const c_char,
    argv: *const *const c_char,
    envp: *const *const c_char,
    cwd: *const c_char,
    stdin: RawFd,
    output: RawFd,
    /// Where stderr goes when not with stdout.
    errors: Option<RawFd>,
    /// With a shared descriptor table: the child's own keeps only the descriptors below this.
    unshare_below: Option<RawFd>,
    /// (resource, soft, hard)
    limits: &'a [(Resource, u64, u64)],
    creds: Option<(u32, u32, Vec<u32>)>,
    umask: Option<u32>,
    no_new_privileges: bool,
    parent: i32,
    ignored_signals: &'a [i32],
    /// (stage << 32) | errno, written by a child that could not exec.
    failure: AtomicU64,
}

/// The child's side: system calls only (no allocation: the heap is the parent's).
///
/// # Safety
/// Must run in a CLONE_VM|CLONE_VFORK child whose parent is suspended, with `setup` alive.
unsafe fn child_main(setup: &Setup) -> isize {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_start_names_the_key_to_fix() {
        use crate::model::spec::{parse, Level, ParseOptions, Source};
        let src = Source {
            label: "api.toml".into(),
            text: "exec = [\"/usr/bin/api\"]\nworking_dir = \"/srv/gone\"\n",
            path: None,
        };
        let opts = ParseOptions {
            default_level: Level::System,
            forced_level: None,
            accounts: None,
        };
        let service = parse(&src, Some("api"), &opts)
            .unwrap()
            .services
            .remove("api")
            .unwrap();
        let limits = explain_failure(
            &service,
            ("exec", "/usr/bin/api"),
            "setrlimit",
            Errno::EPERM,
        );
        assert!(
            limits.contains("`limits`") && limits.contains("hard limits here are nofile"),
            "{limits}"
        );
        let user = explain_failure(&service, ("exec", "/usr/bin/api"), "setuid", Errno::EPERM);
        assert!(
            user.contains("`user`/`group`") && user.contains("run as root"),
            "{user}"
        );
        let dir = explain_failure(
            &service,
            ("exec", "/usr/bin/api"),
            "chdir to working_dir",
            Errno::ENOENT,
        );
        assert!(
            dir.contains("`working_dir`") && dir.contains("/srv/gone"),
            "{dir}"
        );
        let exec = explain_failure(&service, ("exec", "/usr/bin/api"), "exec", Errno::ENOENT);
        assert!(exec.contains("`exec`: No such file"), "{exec}");
    }

    #[test]
    fn env_files_read_like_systemd_reads_them() {
        let dir = std::env::temp_dir().join(format!("svc-any-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("env");
        std::fs::write(
            &path,
            "# comment\nA=1\nexport B = two words \nC=\"quoted\"\nD='single'\n\nE=\n",
        )
        .unwrap();
        let got = read_env_file(&path).unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "quoted"),
            ("D", "single"),
            ("E", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
