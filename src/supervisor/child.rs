//! Starting one service process, the way a manager should: its own session and process group
//! (so stop reaches all of it and a terminal's ^C none of it), its limits, its groups, gid and
//! uid, its directory and environment, and SIGKILL when the supervisor dies, so a supervisor
//! restarted after `kill -9` never runs a second copy next to an orphaned first.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
use nix::unistd::{Gid, Pid, Uid};

use crate::spec::{Level, Limit, Service};

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
    Ok(match (user, group) {
        (None, None) => None,
        (Some((uid, user_gid, home, name)), group) => {
            let gid = group.unwrap_or(user_gid);
            let cname = CString::new(name.clone())?;
            let mut groups = nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid]);
            groups.sort_by_key(|g| g.as_raw());
            groups.dedup();
            Some(Credentials {
                uid,
                gid,
                groups,
                home,
                name,
            })
        }
        (None, Some(gid)) => {
            let me = nix::unistd::geteuid();
            Some(Credentials {
                uid: me,
                gid,
                groups: vec![gid],
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
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            out.push((k.trim().to_string(), v.to_string()));
        }
    }
    Ok(out)
}

/// Starts `service` (already expanded for its instance) with stdout and stderr on `output`.
/// Returns once the program is executing; a program that cannot be executed is an error here.
pub fn spawn(service: &Service, level: Level, output: OwnedFd) -> Result<Pid> {
    let creds = credentials(service)?;
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
    env.extend(service.env.clone());

    let cwd = match (&service.working_dir, level) {
        (Some(d), _) => PathBuf::from(d),
        // As systemd: / for system services, the home directory for a user's.
        (None, Level::System) => PathBuf::from("/"),
        (None, Level::User) => {
            PathBuf::from(env.get("HOME").cloned().unwrap_or_else(|| "/".into()))
        }
    };

    let limits: Vec<(Resource, u64)> = [
        (Resource::RLIMIT_NOFILE, service.limits.nofile),
        (Resource::RLIMIT_NPROC, service.limits.nproc),
    ]
    .into_iter()
    .filter_map(|(r, l)| {
        l.map(|l| match l {
            Limit::Value(n) => (r, n),
            Limit::Infinity => (r, RLIM_INFINITY),
        })
    })
    .collect();

    let stderr = output.try_clone().context("duplicating the log pipe")?;
    let mut cmd = Command::new(&service.exec[0]);
    cmd.args(&service.exec[1..])
        .env_clear()
        .envs(&env)
        .current_dir(&cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(output))
        .stderr(Stdio::from(stderr));
    let supervisor = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec in the child of a single-threaded
    // supervisor, and only makes system calls (no allocation, no locks).
    unsafe {
        cmd.pre_exec(move || {
            // The supervisor blocks the signals it reads from a signalfd, and Rust ignores
            // SIGPIPE; a child inherits both, and a server that never sees SIGTERM cannot stop.
            nix::sys::signal::SigSet::empty().thread_set_mask()?;
            for sig in nix::sys::signal::Signal::iterator() {
                if !matches!(
                    sig,
                    nix::sys::signal::Signal::SIGKILL | nix::sys::signal::Signal::SIGSTOP
                ) {
                    let _ = nix::sys::signal::signal(sig, nix::sys::signal::SigHandler::SigDfl);
                }
            }
            nix::unistd::setsid()?;
            for (resource, value) in &limits {
                setrlimit(*resource, *value, *value)?;
            }
            if let Some(c) = &creds {
                if nix::unistd::geteuid().is_root() {
                    nix::unistd::setgroups(&c.groups)?;
                }
                nix::unistd::setgid(c.gid)?;
                nix::unistd::setuid(c.uid)?;
            }
            // After setuid, which clears it: die with the supervisor.
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            if nix::unistd::getppid() != supervisor {
                // The supervisor died between fork and here.
                nix::libc::_exit(1);
            }
            Ok(())
        });
    }
    match cmd.spawn() {
        Ok(child) => Ok(Pid::from_raw(child.id() as i32)),
        Err(e) => bail!("cannot start {}: {e}", service.exec[0]),
    }
}

/// The kernel's start time of `pid` (field 22 of /proc/PID/stat), to tell a process from a
/// later one that reuses its number.
pub fn start_time(pid: Pid) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn start_time_of_this_process_is_stable() {
        let me = nix::unistd::getpid();
        let t = start_time(me).unwrap();
        assert_eq!(start_time(me), Some(t));
    }
}
