//! When a started unit is up. A simple service is up once spawned; `type = "notify"` once
//! its process (or one it started) sends READY=1 on the supervisor's datagram socket
//! ([`super::notify`]); `type = "forking"` once the daemon its start left behind is found in
//! its `pid_file`, and adopted. Then its `post_start` commands run (see `jobs.rs`).

use std::time::Instant;

use nix::unistd::Pid;

use super::commands::{Stage, START_TIMEOUT};
use super::daemon::Supervisor;
use super::unit::{now_unix, Forking};

/// How often a forking service's pid file is looked at while its daemon is awaited.
const PID_FILE_LOOK: std::time::Duration = std::time::Duration::from_millis(20);

impl Supervisor {
    /// READY=1 from a unit's process, or one it started (a script's `systemd-notify`): the
    /// unit is up, and its `post_start` runs. From anyone else it means nothing.
    ///
    /// A sender that has already exited (`systemd-notify` sends and quits, and its shell may
    /// reap it before the message is read) has no lineage left to check; it counts for the one
    /// unit waiting for READY=1 whose process runs as the sender's user, as such a process could
    /// signal the service anyway. With two such units it is ambiguous and counts for neither.
    pub(super) fn take_readiness(&mut self) {
        let Some(socket) = &self.notify else {
            return;
        };
        for sender in socket.ready_senders() {
            let awaiting = || {
                self.units
                    .iter()
                    .filter(|(_, u)| u.awaiting_ready)
                    .filter_map(|(key, u)| Some((key, u.pid?.as_raw() as u32)))
            };
            let mut key = awaiting()
                .find(|(_, pid)| crate::system::processes::descends_from(sender.pid, *pid))
                .map(|(key, _)| key.clone());
            let gone = crate::system::processes::Process::of(sender.pid).is_none();
            if key.is_none() && gone {
                let same_user: Vec<&String> = awaiting()
                    .filter(|(_, pid)| crate::system::processes::owner(*pid) == Some(sender.uid))
                    .map(|(key, _)| key)
                    .collect();
                if let [only] = same_user[..] {
                    key = Some(only.clone());
                }
            }
            if let Some(key) = key {
                if let Some(unit) = self.units.get_mut(&key) {
                    unit.awaiting_ready = false;
                    unit.since = now_unix();
                }
                self.event(&format!("{key} is ready (READY=1 from pid {})", sender.pid));
                self.begin_post_start(&key);
            }
        }
    }

    /// `post_start` once the main process is up (spawned; ready, for notify; known by its pid
    /// file, for forking); up at once without it.
    pub(super) fn begin_post_start(&mut self, key: &str) {
        if !self.begin_job(key, Stage::PostStart) {
            if let Some(unit) = self.units.get_mut(key) {
                unit.up = true;
            }
        }
    }

    /// A forking service's daemon: its pid, read from `pid_file`, once a process the
    /// supervisor adopted (its parent exited) and no other unit's; the start fails when none
    /// is found in time.
    pub(super) fn look_for_pid(&mut self, key: &str) {
        let now = Instant::now();
        let Some(unit) = self.units.get(key) else {
            return;
        };
        let Forking::PidFile { deadline, .. } = unit.forking else {
            return;
        };
        let path = unit.service.daemon.pid_file.clone().unwrap_or_default();
        let found = daemon_pid(&path).and_then(|pid| {
            let other = self
                .units
                .iter()
                .find(|(k, u)| k.as_str() != key && u.pid == Some(pid));
            match other {
                Some((k, _)) => Err(format!("{path} names pid {pid}, which is {k}'s")),
                None => Ok(pid),
            }
        });
        let unit = self.units.get_mut(key).expect("found above");
        match found {
            Ok(pid) => {
                unit.forking = Forking::No;
                unit.pid = Some(pid);
                // The groups a stop and the cleanup after its end reach: the started process's
                // own (what the daemon left there), the daemon's now, and the one it leads
                // once it calls setsid. Daemons write the pid file before setsid too (nginx,
                // seen: its workers were left holding port 80 when the group was read too
                // early), so the last is not left to the timing. Never the supervisor's.
                let own = nix::unistd::getpgrp();
                let daemons = nix::unistd::getpgid(Some(pid)).ok();
                for group in daemons.into_iter().chain([pid]) {
                    if group != own && group.as_raw() > 1 && !unit.groups.contains(&group) {
                        unit.groups.push(group);
                    }
                }
                if let Some(start) = crate::system::processes::start_time(pid.as_raw() as u32) {
                    let _ =
                        std::fs::write(self.scope.pids_dir().join(key), format!("{pid} {start}\n"));
                }
                unit.since = now_unix();
                self.event(&format!("{key}: its daemon is pid {pid} (from {path})"));
                self.begin_post_start(key);
            }
            Err(why) if now >= deadline => {
                let reason = format!(
                    "type = forking: no daemon within {}: {why}",
                    humantime::format_duration(START_TIMEOUT)
                );
                unit.forking = Forking::No;
                unit.groups.clear();
                unit.machine.on_spawn_failed(reason.clone());
                unit.since = now_unix();
                unit.output.note(&reason);
                self.event(&format!("{key} failed: {reason}"));
                self.stop_side(key, false);
            }
            Err(_) => {
                unit.forking = Forking::PidFile {
                    deadline,
                    next_look: now + PID_FILE_LOOK,
                };
            }
        }
    }
}

/// The daemon a forking service's `pid_file` names, once it is a process the supervisor
/// adopted: its parent exited and it is the supervisor's child now (the supervisor is the
/// subreaper of all it starts). A pid file can be written by the service's own user: a pid
/// of anything else (init, another user's process, the supervisor) is never taken.
fn daemon_pid(path: &str) -> Result<Pid, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let pid: i32 = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .filter(|p| *p > 1)
        .ok_or_else(|| format!("{path} holds no pid"))?;
    let me = std::process::id();
    match crate::system::processes::parent(pid as u32) {
        Some(parent) if parent == me => Ok(Pid::from_raw(pid)),
        Some(parent) => Err(format!(
            "{path} names pid {pid}, whose parent is {parent}, not svc-any's supervisor"
        )),
        None => Err(format!("{path} names pid {pid}, which does not run")),
    }
}
