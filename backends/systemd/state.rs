//! What systemd and the kernel say about a unit: `systemctl show` and `list-units` parsed into
//! the status model, a unit's cgroup and main process, and the clocks that turn the kernel's
//! and systemd's times into seconds since the epoch.
//!
//! Kept apart from the unit file (`unit.rs`) and the calls (`mod.rs`): this is the reading
//! side, pure parsing plus `/proc` and `/sys/fs/cgroup`, testable without a running systemd.

use std::path::{Path, PathBuf};

use super::{unit_dir, wanted_by};
use crate::model::signal::Signal;
use crate::model::spec::Level;
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::host::Ctx;

/// `systemctl list-units --plain --no-legend` prints `UNIT LOAD ACTIVE SUB DESCRIPTION...`,
/// one unit a line (only units systemd has loaded).
pub(super) fn parse_list_units(text: &str) -> std::collections::HashMap<&str, (&str, &str, &str)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, (words.next()?, words.next()?, words.next()?)))
        })
        .collect()
}

/// The boot link `enable` makes for `unit`: what `UnitFileState=enabled` means for a unit
/// svc-any installed.
pub(super) fn boot_link(ctx: &Ctx, unit: &str) -> PathBuf {
    ctx.on_target(
        &unit_dir(ctx)
            .join(format!("{}.wants", wanted_by(ctx)))
            .join(unit),
    )
}

/// The cgroup directory the manager of `ctx.level` puts its services' cgroups in:
/// `system.slice` beside systemd's own, or a user manager's `app.slice`.
pub(super) fn cgroup_dir(ctx: &Ctx) -> Option<PathBuf> {
    let unified = Path::new("/sys/fs/cgroup");
    let (mount, manager) = if unified.join("cgroup.controllers").exists() {
        let own = std::fs::read_to_string("/proc/1/cgroup").ok()?;
        let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
        (unified.to_path_buf(), path)
    } else {
        let own = std::fs::read_to_string("/proc/1/cgroup").ok()?;
        let path = own
            .lines()
            .find_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p.to_string()))?;
        (unified.join("systemd"), path)
    };
    // PID 1's cgroup is `/init.scope` below the manager's root (`/` on a host, the container's
    // own root inside one).
    let root = mount.join(
        Path::new(&manager)
            .parent()
            .unwrap_or(Path::new("/"))
            .strip_prefix("/")
            .ok()?,
    );
    let dir = match ctx.level {
        Level::System => root.join("system.slice"),
        Level::User => {
            let uid = nix::unistd::geteuid();
            root.join(format!(
                "user.slice/user-{uid}.slice/user@{uid}.service/app.slice"
            ))
        }
    };
    dir.is_dir().then_some(dir)
}

/// The main process of the service whose cgroup is `dir`: the one process in it whose parent
/// is not (the manager forked it). Several such (an orphan adopted by the manager, a reload
/// command running) or none: not known here.
pub(super) fn main_pid(dir: &Path) -> Option<u32> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
    let pids: Vec<u32> = procs
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let mut main = None;
    for pid in &pids {
        let parent = parent_of(*pid)?;
        if !pids.contains(&parent) {
            if main.is_some() {
                return None;
            }
            main = Some(*pid);
        }
    }
    main
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// What turns a process's start time (ticks since boot) into seconds since the epoch; read
/// once per command (/proc/stat is not cheap to read).
pub(super) struct BootClock {
    boot: u64,
    ticks_per_second: u64,
}

impl BootClock {
    pub(super) fn read() -> Option<BootClock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let boot = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: sysconf reads a constant of the system.
        let ticks = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
        (ticks > 0).then_some(BootClock {
            boot,
            ticks_per_second: ticks as u64,
        })
    }

    /// When `pid` started, in seconds since the epoch.
    pub(super) fn started_at(&self, pid: u32) -> Option<u64> {
        let ticks = crate::system::processes::start_time(pid)?;
        Some(self.boot + ticks / self.ticks_per_second)
    }
}

/// Seconds since the epoch of a CLOCK_MONOTONIC time in microseconds (a container shares the
/// host's monotonic clock).
fn wall_clock_of_monotonic(us: u64) -> Option<u64> {
    use nix::time::{clock_gettime, ClockId};
    let mono = clock_gettime(ClockId::CLOCK_MONOTONIC).ok()?;
    let real = clock_gettime(ClockId::CLOCK_REALTIME).ok()?;
    let now_us = mono.tv_sec() as u64 * 1_000_000 + mono.tv_nsec() as u64 / 1000;
    let ago = now_us.checked_sub(us)? / 1_000_000;
    (real.tv_sec() as u64).checked_sub(ago)
}

pub(super) const SHOW_PROPERTIES: &str =
    "Id,LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainCode,ExecMainStatus,StateChangeTimestampMonotonic,UnitFileState,Result,ConditionResult";

/// `systemctl show` prints `Key=value` lines, one blank line between units, in the order asked.
pub(super) fn parse_show(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut blocks = Vec::new();
    let mut current = std::collections::HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if let Some((k, v)) = line.split_once('=') {
            current.insert(k.to_string(), v.to_string());
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

pub(super) fn status_from_show(
    name: &str,
    instance: Option<String>,
    unit: String,
    props: &std::collections::HashMap<String, String>,
) -> ServiceStatus {
    let get = |k: &str| props.get(k).map(String::as_str).unwrap_or("");
    let state = match (get("LoadState"), get("ActiveState"), get("SubState")) {
        ("not-found", _, _) => State::NotInstalled,
        (_, "active" | "reloading" | "deactivating", _) => State::Running,
        (_, "activating", _) => State::Starting,
        (_, "inactive", _) => State::Stopped,
        // systemd says `failed` both when the process ended uncleanly and Restart= did not
        // bring it back, and when it gave up (start limit, a start that could not run). The
        // model, like the builtin supervisor, calls the first `dead`.
        (_, "failed", _) if matches!(get("Result"), "exit-code" | "signal" | "core-dump") => {
            State::Dead
        }
        (_, "failed", _) => State::Failed,
        _ => State::Unknown,
    };
    let pid = get("MainPID").parse::<u32>().ok().filter(|p| *p != 0);
    // The monotonic stamp, in microseconds (0: never), is printed raw by every version;
    // `--timestamp=unix` for the wall clock one came only in systemd 251 (Debian 11 has 247).
    let since = get("StateChangeTimestampMonotonic")
        .parse::<u64>()
        .ok()
        .filter(|us| *us != 0)
        .and_then(wall_clock_of_monotonic);
    let status: i32 = get("ExecMainStatus").parse().unwrap_or(0);
    // ExecMainCode is a CLD_* code: 1 exited, 2 killed, 3 dumped core; 0 never ran.
    let last_exit = match get("ExecMainCode") {
        "1" => Some(LastExit::Exited { code: status }),
        "2" | "3" => Some(LastExit::Killed {
            signal: Signal::from_name(&status.to_string())
                .map_or(status.to_string(), |s| s.name().to_string()),
        }),
        _ => None,
    };
    let enabled = match get("UnitFileState") {
        "enabled" | "enabled-runtime" | "static" | "alias" => Some(true),
        "" => None,
        _ => Some(false),
    };
    ServiceStatus {
        name: name.to_string(),
        instance,
        backend: "systemd".into(),
        unit,
        state,
        pid: if state == State::NotInstalled {
            None
        } else {
            pid
        },
        since,
        restarts: get("NRestarts").parse().ok(),
        last_exit,
        enabled: if state == State::NotInstalled {
            None
        } else {
            enabled
        },
        // `Result=` says why a unit failed (exit-code, signal, start-limit-hit...); a start
        // skipped for a condition (condition_path_exists) leaves it inactive with
        // `ConditionResult=no`.
        reason: match (get("Result"), get("ConditionResult")) {
            ("" | "success", "no") if state == State::Stopped => {
                Some("not started: a condition was not met".to_string())
            }
            ("" | "success", _) => None,
            (other, _) => Some(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHOW: &str = "Id=demo.service\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\n\
NRestarts=1\nExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=MONO\nUnitFileState=enabled\n\n\
Id=gone.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n\
ExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=0\nUnitFileState=\n\n\
Id=jvm.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=5\n\
ExecMainCode=2\nExecMainStatus=9\nStateChangeTimestampMonotonic=1\nUnitFileState=disabled\n\
Result=start-limit-hit\n\n\
Id=once.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=0\n\
ExecMainCode=1\nExecMainStatus=1\nStateChangeTimestampMonotonic=1\nUnitFileState=enabled\n\
Result=exit-code\n\n\
Id=cond.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n\
ExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=1\nUnitFileState=enabled\n\
Result=success\nConditionResult=no\n";

    #[test]
    fn show_output_maps_to_the_status_model() {
        // The running unit changed state 5 s ago, by the monotonic clock.
        use nix::time::{clock_gettime, ClockId};
        let mono = clock_gettime(ClockId::CLOCK_MONOTONIC).unwrap();
        let five_s_ago = (mono.tv_sec() as u64 - 5) * 1_000_000;
        let show = SHOW.replace("MONO", &five_s_ago.to_string());
        let real = clock_gettime(ClockId::CLOCK_REALTIME).unwrap().tv_sec() as u64;
        let blocks = parse_show(&show);
        assert_eq!(blocks.len(), 5);
        // A start skipped by a condition: stopped, and status says why.
        let skipped = status_from_show("cond", None, "cond.service".into(), &blocks[4]);
        assert_eq!(skipped.state, State::Stopped);
        assert_eq!(
            skipped.reason.as_deref(),
            Some("not started: a condition was not met")
        );
        let running = status_from_show("demo", None, "demo.service".into(), &blocks[0]);
        assert_eq!(running.state, State::Running);
        assert_eq!(running.pid, Some(4242));
        let since = running.since.expect("a state change time");
        assert!(
            (real - 7..=real - 4).contains(&since),
            "{since}, now {real}"
        );
        assert_eq!(running.restarts, Some(1));
        assert_eq!(running.enabled, Some(true));
        assert_eq!(running.last_exit, None);
        let gone = status_from_show("gone", None, "gone.service".into(), &blocks[1]);
        assert_eq!(gone.state, State::NotInstalled);
        assert_eq!(gone.enabled, None);
        let failed = status_from_show("jvm", None, "jvm.service".into(), &blocks[2]);
        assert_eq!(failed.state, State::Failed);
        assert_eq!(
            failed.last_exit,
            Some(LastExit::Killed {
                signal: "KILL".into()
            })
        );
        assert_eq!(failed.enabled, Some(false));
        assert_eq!(failed.reason.as_deref(), Some("start-limit-hit"));
        // Ended uncleanly and not restarted (Restart=no): dead, as the builtin says.
        let dead = status_from_show("once", None, "once.service".into(), &blocks[3]);
        assert_eq!(dead.state, State::Dead);
        assert_eq!(dead.last_exit, Some(LastExit::Exited { code: 1 }));
        assert_eq!(dead.reason.as_deref(), Some("exit-code"));
    }

    #[test]
    fn list_units_gives_each_listed_unit_its_three_states() {
        let text = "a.service loaded active running a service\n\
                    b@1.service loaded inactive dead the b service, instance 1\n\
                    gone.service not-found inactive dead gone.service\n";
        let listed = parse_list_units(text);
        assert_eq!(listed.len(), 3);
        assert_eq!(listed["a.service"], ("loaded", "active", "running"));
        assert_eq!(listed["b@1.service"], ("loaded", "inactive", "dead"));
        assert_eq!(listed["gone.service"], ("not-found", "inactive", "dead"));
    }

    #[test]
    fn the_main_process_is_the_one_whose_parent_is_outside_the_cgroup() {
        let dir = std::env::temp_dir().join(format!("svc-any-cgroup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id();
        let child = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        // This test's process and its child: the child's parent is in the set.
        std::fs::write(dir.join("cgroup.procs"), format!("{me}\n{}\n", child.id())).unwrap();
        assert_eq!(main_pid(&dir), Some(me));
        // Two whose parents are outside: not known.
        let other = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        std::fs::write(
            dir.join("cgroup.procs"),
            format!("{}\n{}\n", child.id(), other.id()),
        )
        .unwrap();
        assert_eq!(main_pid(&dir), None);
        for mut c in [child, other] {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
