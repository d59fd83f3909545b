//! What the run-directory supervisors (runit's runsv, daemontools' supervise, s6-supervise)
//! leave in a service directory for others to read: whether one supervises it now, and the
//! waiting for that, which every verb does instead of sleeping (their scanners look for new
//! directories only every few seconds).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::dialect::run_dir;
use crate::model::error::{bad, BadInput};
use crate::model::signal::Signal;
use crate::model::spec::{Level, Service};
use crate::model::status::LastExit;
use crate::system::files;
use crate::system::host::Ctx;
use crate::system::process;

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

/// How `finish` recorded the last end: `exited N asked` or `killed N itself`.
pub fn last_exit(line: &str) -> Option<(LastExit, bool)> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let [how, n, by] = f.as_slice() else {
        return None;
    };
    let n: i32 = n.parse().ok()?;
    let exit = match *how {
        "exited" => LastExit::Exited { code: n },
        "killed" => LastExit::Killed {
            signal: Signal::from_name(&n.to_string())
                .map_or_else(|| n.to_string(), |s| s.name().to_string()),
        },
        _ => return None,
    };
    Some((exit, *by == "asked"))
}

/// Why a unit the run scripts marked `failed` is: past its restart limit.
pub fn restart_limit_reason(service: &Service) -> String {
    format!(
        "more than {} restarts within {}",
        service.restart_limit,
        humantime::format_duration(service.restart_limit_interval)
    )
}

/// One of the run scripts' records (a count, a stamp), trimmed.
pub fn read_record(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
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

/// Where a run-directory manager keeps its units, and the verbs that only touch those files,
/// alike for runit, daemontools and s6: a unit is `NAME` or `NAME@INSTANCE`, its service
/// directory `service_dirs/UNIT` linked into the scanner's directory, enabled while it has no
/// `down` file, its log in `logs/UNIT/current`, svc-any's records in `state/UNIT`.
pub struct Layout {
    /// The backend's name, for messages.
    pub backend: &'static str,
    /// The scanner's program name, as it runs (`runsvdir`, `svscan`, `s6-svscan`).
    pub scanner: &'static str,
    /// The logger of the `log` service and how it rotates, for messages.
    pub logger: &'static str,
    pub rotation: &'static str,
    /// Where the service directories live.
    pub service_dirs: &'static str,
    /// Where the run and finish scripts keep how the process ended, its restart counts and the
    /// `failed` mark (tmpfs: a boot starts them afresh).
    pub state: &'static str,
    /// Where the logger writes each unit's output.
    pub logs: &'static str,
    /// Whether the manager's supervisor runs for a service directory (its own test).
    pub supervised: fn(&Path) -> bool,
    /// What a unit's pid runs before the program: the supervisor's own fork (until it execs
    /// `./run`), then the tools the run script execs through (`chpst`, `s6-setuidgid`, ...).
    pub before_program: &'static [&'static str],
}

/// How long a scanner may take to notice a new link (runsvdir and svscan look every 5 s),
/// and a supervisor to exit once told.
pub const SCAN_WAIT: Duration = Duration::from_secs(15);

impl Layout {
    /// What no run directory carries: a user level (no user's own scanner), `env_file` (a run
    /// script would read it as shell) and `[log]` (the manager's logger keeps its own files).
    pub fn refuse_uncarried(&self, service: &Service) -> Result<(), BadInput> {
        let backend = self.backend;
        if service.level == Level::User {
            return Err(bad(format!(
                "svc-any installs {backend} services for the system only"
            ))
            .key("level")
            .hint(format!(
                "a user's own {} is not supported: use level = \"system\"",
                self.scanner
            )));
        }
        if service.env_file.is_some() {
            return Err(bad(format!("not carried by {backend}: env_file (a run script would read it as shell, not as an environment file)"))
                .key("env_file")
                .hint("put the variables in [env]"));
        }
        if service.log.is_some() {
            return Err(bad(format!(
                "not carried by {backend}: log ({} writes a directory, {}/UNIT/current, {})",
                self.logger, self.logs, self.rotation
            ))
            .key("log")
            .hint(format!(
                "remove [log]: `svc-any logs` reads {}'s files",
                self.logger
            )));
        }
        Ok(())
    }

    /// Whether `pid` is not yet `program`: the supervisors record the pid as soon as they fork,
    /// so it first runs the supervisor itself (until its exec), then `./run` (dependency waits,
    /// restart_delay), then the tools the run script execs through, and only then the program.
    pub fn not_yet_the_program(&self, pid: u32, program: &str) -> bool {
        process::not_yet_the_program(pid, program, self.before_program)
    }

    /// Each unit of `service`: its instance (if any) and its name.
    pub fn units(&self, service: &Service) -> Vec<(Option<String>, String)> {
        service.units('@')
    }

    pub fn service_dir(&self, unit: &str) -> PathBuf {
        PathBuf::from(self.service_dirs).join(unit)
    }

    pub fn state_dir(&self, unit: &str) -> PathBuf {
        PathBuf::from(self.state).join(unit)
    }

    /// The service directories of every unit of `services`.
    pub fn service_dirs_of(&self, services: &[&Service]) -> Vec<PathBuf> {
        services
            .iter()
            .flat_map(|s| self.units(s))
            .map(|(_, unit)| self.service_dir(&unit))
            .collect()
    }

    /// Waits until a supervisor runs for each of `dirs`; an error naming the first that has
    /// none, and the scan directory its scanner should watch.
    pub fn wait_supervised(&self, ctx: &Ctx, dirs: &[PathBuf], scan: &Path) -> Result<()> {
        let missing = dirs
            .iter()
            .find(|d| !wait_until(SCAN_WAIT, || (self.supervised)(&ctx.on_target(d))));
        if let Some(first) = missing {
            bail!(
                "{} has not picked up {} within {}s: is {} running on {}?",
                self.scanner,
                first.display(),
                SCAN_WAIT.as_secs(),
                self.scanner,
                scan.display()
            );
        }
        Ok(())
    }

    /// The units of `services` whose supervisor was killed and not yet restarted, on a live
    /// host where the scanner runs (see `unsupervised`); none where nobody could restart it.
    pub fn lost(&self, ctx: &Ctx, services: &[&Service], scan: &Path) -> Vec<PathBuf> {
        if !ctx.live || ctx.root != Path::new("/") || scanned_dir(&ctx.root, self.scanner).is_none()
        {
            return Vec::new();
        }
        unsupervised(scan, &self.service_dirs_of(services), self.supervised)
    }

    /// The service directories of svc-any's services linked in the scan directory `scan`.
    pub fn linked(&self, ctx: &Ctx, scan: &Path) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(ctx.on_target(scan)) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let target = std::fs::read_link(e.path()).ok()?;
                (target.starts_with(self.service_dirs)
                    && marked_name(&ctx.on_target(&target.join("run"))).is_some())
                .then_some(target)
            })
            .collect()
    }

    /// What installing `service` writes: for each unit, the files `unit_files` makes (given the
    /// instance's definition, the unit and its service directory), `run` first, and the link
    /// into the scan directory `scan` that has the scanner supervise it.
    pub fn plan(
        &self,
        service: &Service,
        scan: &Path,
        mut unit_files: impl FnMut(&Service, &str, &Path) -> anyhow::Result<Vec<FileSpec>>,
    ) -> anyhow::Result<Plan> {
        let mut files = Vec::new();
        let mut links = Vec::new();
        for (instance, unit) in self.units(service) {
            let dir = self.service_dir(&unit);
            files.extend(unit_files(
                &service.for_instance(instance.as_deref()),
                &unit,
                &dir,
            )?);
            links.push(LinkSpec {
                path: scan.join(&unit),
                target: dir,
            });
        }
        Ok(Plan {
            files,
            links,
            enable_links: Vec::new(),
        })
    }

    /// The unit's `run` script, `content`: root's alone when it holds `env` values (the
    /// supervisors run it as root; it switches to the service's user itself).
    pub fn run_file(&self, dir: &Path, service: &Service, content: String) -> FileSpec {
        FileSpec {
            path: dir.join("run"),
            mode: render::script_mode_for_values(service),
            content,
        }
    }

    /// The context of the unit's `log/run` template: its logger writes to `logs/UNIT`.
    pub fn log_context(&self, service: &Service, unit: &str) -> Result<tera::Context, BadInput> {
        let mut c = render::context(service);
        c.insert("unit", unit);
        let logs = PathBuf::from(self.logs).join(unit).display().to_string();
        c.insert("dir", &run_dir::word(&logs, "name")?);
        Ok(c)
    }

    /// The restarts the run scripts counted for `unit` since it was installed (or booted).
    pub fn restarts(&self, ctx: &Ctx, unit: &str) -> u32 {
        read_record(&ctx.on_target(&self.state_dir(unit)).join("restarts"))
            .and_then(|r| r.parse().ok())
            .unwrap_or(0)
    }

    pub fn log_files(&self, service: &Service) -> Vec<PathBuf> {
        self.units(service)
            .iter()
            .map(|(_, unit)| PathBuf::from(self.logs).join(unit).join("current"))
            .collect()
    }

    /// The services svc-any installed: those whose run script carries its marker.
    pub fn list(&self, ctx: &Ctx) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(ctx.on_target(Path::new(self.service_dirs))) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| marked_name(&e.path().join("run")))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Enabled = no `down` file: the supervisor starts the unit when it starts (at boot). A
    /// unit the scanner has not picked up yet (a fresh install) keeps its `down` file until
    /// the supervisor runs (`wait_supervised` is the backend's, which may ask for a rescan),
    /// so that enabling does not start it now: `down` is read only then.
    pub fn enable(
        &self,
        ctx: &Ctx,
        service: &Service,
        wait_supervised: impl Fn(&[PathBuf]) -> Result<()>,
    ) -> Result<bool> {
        let mut changed = false;
        let mut fresh = Vec::new();
        for (_, unit) in self.units(service) {
            let dir = self.service_dir(&unit);
            let on = ctx.on_target(&dir);
            let down = on.join("down");
            if ctx.live && on.is_dir() && !(self.supervised)(&on) {
                if !down.exists() {
                    files::write_atomic(&down, b"", 0o644)?;
                }
                fresh.push(dir);
            } else if files::remove(&down)? {
                ctx.say(format!("enabled at boot: removed {}", down.display()));
                changed = true;
            }
        }
        if !fresh.is_empty() {
            wait_supervised(&fresh)?;
            for dir in fresh {
                files::remove(&ctx.on_target(&dir.join("down")))?;
            }
        }
        Ok(changed)
    }

    /// Disabled = a `down` file: still supervised (and left running), not started at boot.
    pub fn disable(&self, ctx: &Ctx, service: &Service) -> Result<bool> {
        let mut changed = false;
        for (_, unit) in self.units(service) {
            let down = ctx.on_target(&self.service_dir(&unit)).join("down");
            if down.parent().is_some_and(Path::is_dir) && !down.exists() {
                files::write_atomic(&down, b"", 0o644)?;
                ctx.say(format!("disabled at boot: created {}", down.display()));
                changed = true;
            }
        }
        Ok(changed)
    }

    pub fn is_enabled(&self, ctx: &Ctx, service: &Service) -> bool {
        self.units(service)
            .iter()
            .all(|(_, unit)| !ctx.on_target(&self.service_dir(unit).join("down")).exists())
    }

    /// What the supervisors and scripts made for `service`, once its supervisors have exited:
    /// `made` below each service directory (`supervise`, `log/supervise`, ...), its `down`
    /// file and svc-any's records (with the state directory, once empty).
    pub fn remove_made(&self, ctx: &Ctx, service: &Service, made: &[&str]) -> Result<()> {
        for (_, unit) in self.units(service) {
            let dir = ctx.on_target(&self.service_dir(&unit));
            for sub in made {
                let path = dir.join(sub);
                if path.is_dir() && !path.is_symlink() {
                    std::fs::remove_dir_all(&path)?;
                } else {
                    files::remove(&path)?;
                }
            }
            files::remove(&dir.join("down"))?;
            let state = ctx.on_target(&self.state_dir(&unit));
            if state.is_dir() {
                std::fs::remove_dir_all(&state)?;
            }
        }
        let runtime = ctx.on_target(Path::new(self.state));
        files::remove_dir_if_empty(&runtime);
        if let Some(parent) = runtime.parent() {
            files::remove_dir_if_empty(parent);
        }
        Ok(())
    }
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

    #[test]
    fn finish_records_are_read_back() {
        assert_eq!(
            last_exit("killed 9 itself"),
            Some((
                LastExit::Killed {
                    signal: "KILL".into()
                },
                false
            ))
        );
        assert_eq!(
            last_exit("exited 143 asked"),
            Some((LastExit::Exited { code: 143 }, true))
        );
        assert_eq!(last_exit("garbage"), None);
    }
}
