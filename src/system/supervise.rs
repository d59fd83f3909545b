//! What the run-directory supervisors (runit's runsv, daemontools' supervise, s6-supervise)
//! leave in a service directory for others to read: whether one supervises it now, and the
//! waiting for that, which every verb does instead of sleeping (their scanners look for new
//! directories only every few seconds).

use std::path::Path;
use std::time::{Duration, Instant};

/// Whether a supervisor runs for the service directory `dir`: its `supervise/ok` FIFO has a
/// reader (what `svok` and `sv` check).
pub fn supervised(dir: &Path) -> bool {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::Mode;
    match open(
        &dir.join("supervise/ok"),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => {
            let _ = nix::unistd::close(fd);
            true
        }
        Err(_) => false,
    }
}

/// Polls `done` until it holds (true) or `limit` passes (false).
pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(20);
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(200));
    }
}

/// The directory a running scanner (`runsvdir [-P] DIR`, `svscan DIR`) watches, from the
/// command lines in `/proc` below `root`.
pub fn scanned_dir(root: &Path, scanner: &str) -> Option<std::path::PathBuf> {
    let entries = std::fs::read_dir(root.join("proc")).ok()?;
    for e in entries.flatten() {
        let name = e.file_name();
        if !name
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        {
            continue;
        }
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let ours = args
            .first()
            .is_some_and(|a| a.rsplit('/').next() == Some(scanner));
        if !ours {
            continue;
        }
        if let Some(dir) = args.iter().skip(1).find(|a| a.starts_with('/')) {
            return Some(std::path::PathBuf::from(dir));
        }
    }
    None
}

/// The service directories of `dirs` that the scanner watching `scan` (on the live root)
/// should supervise, being linked there with a `run` script, but that no supervisor runs for
/// now (`supervised` is the manager's own test): one was killed and the scanner has not
/// restarted it yet. A stop waits for those rather than stop only their processes, which the
/// restarted supervisor would start again.
pub fn unsupervised(
    scan: &Path,
    dirs: &[std::path::PathBuf],
    supervised: impl Fn(&Path) -> bool,
) -> Vec<std::path::PathBuf> {
    dirs.iter()
        .filter(|dir| {
            let linked = dir
                .file_name()
                .and_then(|n| std::fs::read_link(scan.join(n)).ok())
                .is_some_and(|target| target == **dir);
            linked && dir.join("run").exists() && !supervised(dir)
        })
        .cloned()
        .collect()
}

/// After a stop svc-any asked for: the end `finish` last recorded in `exit` (`killed 9
/// itself`, say, of a crash the supervisor was still restarting) is marked as asked, so status
/// reads stopped, as systemd's does after a stop during its restart delay.
pub fn mark_asked(state_dir: &Path) {
    let path = state_dir.join("exit");
    let Ok(line) = std::fs::read_to_string(&path) else {
        return;
    };
    if let Some(how) = line.trim_end().strip_suffix(" itself") {
        let _ =
            crate::system::files::write_atomic(&path, format!("{how} asked\n").as_bytes(), 0o644);
    }
}

/// The svc-any name a generated script's marker line names (`svc-any install NAME`).
pub fn marked_name(script: &Path) -> Option<String> {
    let text = std::fs::read_to_string(script).ok()?;
    let line = text
        .lines()
        .take(3)
        .find(|l| l.contains(crate::dialect::render::MARKER))?;
    let rest = line.rsplit_once("`svc-any install ")?.1;
    Some(rest.trim_end_matches('`').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scanners_argument_is_the_scan_directory() {
        let root = std::env::temp_dir().join(format!("svc-any-scanner-{}", std::process::id()));
        std::fs::create_dir_all(root.join("proc/42")).unwrap();
        std::fs::create_dir_all(root.join("proc/self")).unwrap();
        std::fs::write(
            root.join("proc/42/cmdline"),
            b"runsvdir\0-P\0/var/service\0log: ....\0",
        )
        .unwrap();
        assert_eq!(
            scanned_dir(&root, "runsvdir"),
            Some(std::path::PathBuf::from("/var/service"))
        );
        assert_eq!(scanned_dir(&root, "svscan"), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
