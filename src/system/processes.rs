//! Processes as the kernel sees them, by pid and start time, so that a pid the kernel gave to a
//! newer process is never taken for the service's.

use nix::sys::signal::{kill, killpg, Signal as NixSignal};
use nix::unistd::{getpgid, Pid};

/// One process: its pid and its start time (field 22 of /proc/PID/stat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub start_time: u64,
}

impl Process {
    /// The process now running as `pid`, if any.
    pub fn of(pid: u32) -> Option<Process> {
        Some(Process {
            pid,
            start_time: start_time(pid)?,
        })
    }

    /// Whether this very process still runs (a zombie counts as gone: it runs nothing).
    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time) && !is_zombie(self.pid)
    }

    /// Whether it runs `program` (its `argv[0]` is that path, or has that file name): a pid a
    /// manager reports is only acted on once it is seen to run the service's program, never
    /// because a number matched.
    pub fn runs(&self, program: &str) -> bool {
        let Ok(cmdline) = std::fs::read(format!("/proc/{}/cmdline", self.pid)) else {
            return false;
        };
        let argv0 = String::from_utf8_lossy(cmdline.split(|b| *b == 0).next().unwrap_or_default())
            .into_owned();
        let name = |p: &str| p.rsplit('/').next().unwrap_or(p).to_string();
        !argv0.is_empty() && (argv0 == program || name(&argv0) == name(program))
    }

    /// Sends `signal` to the process's whole group when it leads one (services run in their own
    /// session), else to the process alone: never to a group it merely belongs to, which may be
    /// its manager's.
    pub fn signal(&self, signal: NixSignal) -> nix::Result<()> {
        let pid = Pid::from_raw(self.pid as i32);
        match getpgid(Some(pid)) {
            Ok(group) if group == pid => killpg(group, signal),
            _ => kill(pid, signal),
        }
    }
}

/// Whether `pid` is `ancestor` or one of its descendants (by parent pids, as /proc says).
pub fn descends_from(pid: u32, ancestor: u32) -> bool {
    let mut current = pid;
    for _ in 0..64 {
        if current == ancestor {
            return true;
        }
        match parent(current) {
            Some(p) if p > 1 && p != current => current = p,
            _ => return false,
        }
    }
    false
}

/// The user `pid` runs as (the owner of its /proc entry: its effective uid).
pub fn owner(pid: u32) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}"))
        .ok()
        .map(|m| m.uid())
}

/// The parent of `pid`, as /proc says.
pub fn parent(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// The command name of `pid`, for messages.
pub fn command_name(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| "?".into())
}

/// The kernel's start time of `pid`, in clock ticks since boot.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reused_pid_is_not_it() {
        let me = Process::of(std::process::id()).unwrap();
        assert!(me.alive());
        let impostor = Process {
            start_time: me.start_time + 1,
            ..me
        };
        assert!(!impostor.alive());
    }

    #[test]
    fn a_process_is_known_by_its_program() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let p = Process::of(child.id()).unwrap();
        // Between fork and exec the child still shows its parent's command line.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !p.runs("/bin/sleep") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(p.runs("/bin/sleep"));
        assert!(p.runs("/usr/bin/sleep"), "the same program by another path");
        assert!(!p.runs("/usr/bin/python3"));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn a_child_that_exited_is_gone() {
        let mut child = std::process::Command::new("/bin/sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let p = Process::of(child.id()).unwrap();
        assert!(p.alive());
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!p.alive());
    }
}
