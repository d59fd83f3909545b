//! Starting one service process, the way a manager should: its own session and process group
//! (so stop reaches all of it and a terminal's ^C none of it), its limits, its groups, gid and
//! uid, its directory and environment, and SIGKILL when the supervisor dies, so a supervisor
//! restarted after `kill -9` never runs a second copy next to an orphaned first.
//!
//! This file is the parent's side: what a start is given ([`Inherited`], [`Program`]), its
//! arguments (exact, or expanded by `exec_expand`), its limits and directory, the clone, and
//! a failure before exec said in the definition's terms. The pieces it puts together live
//! beside it: who the process runs as in `credentials.rs`, its environment in
//! `environment.rs`, the directories made first and the conditions checked in
//! `directories.rs`, and the child's own side, between clone and exec, in `clone.rs`.

use std::ffi::{c_char, CString};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::sched::CloneFlags;
use nix::sys::resource::{Resource, RLIM_INFINITY};
use nix::unistd::Pid;

use super::clone::{child_main, Setup, StdioSlot, CHILD_STACK, STAGES};
use super::credentials::credentials;
use super::directories::make_directories;
use super::environment;
use super::sandbox;
use crate::dialect::exec_expand;
use crate::model::spec::{Level, Limit, Service};

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
    /// The signals the supervisor ignores (see [`super::clone::ignored_signals`]).
    pub ignored_signals: &'a [i32],
    /// A low descriptor the supervisor keeps for the pipe of the process being started, when
    /// the kernel has `close_range` (see [`StdioSlot`]).
    pub slot: Option<&'a StdioSlot>,
    /// The readiness socket, for `type = "notify"` (supervisor/notify.rs).
    pub notify_socket: Option<&'a Path>,
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
    unit: &str,
    inherited: &Inherited,
    output: OwnedFd,
    errors: Option<OwnedFd>,
) -> Result<Pid> {
    spawn_program(
        service,
        unit,
        &Program::main(service),
        inherited,
        output,
        errors,
    )
}

/// Starts `program` as [`spawn`] starts the main process.
pub fn spawn_program(
    service: &Service,
    unit: &str,
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
    let sandbox = sandbox::plan(service, unit, program.privileged, creds.is_none())?;
    if service.daemon.private_tmp && !program.privileged {
        sandbox::make_private_tmp(unit)?;
    }
    let env = environment::for_program(
        service,
        creds.as_ref(),
        &program.extra_env,
        program.main,
        inherited.notify_socket,
    )?;

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
        sandbox: &sandbox,
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
    if !sandbox.mounts.is_empty() {
        // A mount namespace of its own, a copy of the supervisor's (see sandbox.rs).
        flags |= CloneFlags::CLONE_NEWNS;
    }
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
        "sandbox: mounts" => format!(
            "cannot start {program}: `private_tmp`/`protect_system`/`protect_home`/\
             `read_only_paths`/`read_write_paths`: a mount failed ({cause}): a path that does \
             not exist needs a leading `-` to be skipped; the supervisor needs CAP_SYS_ADMIN \
             and Linux 5.12 (mount_setattr)"
        ),
        "capabilities: bounding set" | "capabilities: ambient" => format!(
            "cannot start {program}: `capabilities`: {stage} failed ({cause}): the supervisor \
             needs CAP_SETPCAP, and can only keep what it holds itself"
        ),
        _ => format!("cannot start {program}: {stage}: {cause}"),
    }
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
}
