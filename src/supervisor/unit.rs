//! One supervised unit as the supervisor holds it: its definition, its state machine, and the
//! process and output pipes that go with them. The decisions are the machine's
//! ([`super::machine`]); this is what the poll loop needs to carry them out and to report.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::commands::{Job, Stage};
use super::definitions::Definition;
use super::logfile::LogFile;
use super::machine::{Exit, Machine, Phase};
use super::policy::Policy;
use super::protocol::unit_key;
use super::stamp::Stamper;
use super::{log_path, Scope};
use crate::model::spec::{Service, ServiceType};
use crate::model::status::{ServiceStatus, State};

/// Default rotation of the logs svc-any keeps itself (when `log.file` is not set).
const DEFAULT_LOG_MAX: u64 = 10 << 20;
const DEFAULT_LOG_KEEP: u32 = 5;

/// One stream of a unit's output (stdout and stderr together, or each apart with
/// `log.stderr`): the pipe it arrives on and the file it goes to.
pub struct Stream {
    /// The read end of the pipe, while it is open.
    pub pipe: Option<OwnedFd>,
    /// Its token in the supervisor's epoll set (see `outputs.rs`).
    pub token: u64,
    pub log: LogFile,
    /// How far the current line is; none when lines are written as the process wrote them
    /// (`log.timestamps = false`).
    stamper: Option<Stamper>,
    /// The pipe of a command around the main process (`pre_start`, `reload_exec`...): its
    /// stdout and stderr go to the same log, its lines stamped apart from the main process's.
    pub command: Option<Feed>,
}

/// A command's pipe into a unit's log.
pub struct Feed {
    pub pipe: OwnedFd,
    pub token: u64,
    stamper: Option<Stamper>,
}

/// Copies what `pipe` holds into `log` until it is empty (true) or closed (false).
fn copy(
    pipe: &OwnedFd,
    stamper: &mut Option<Stamper>,
    log: &mut LogFile,
    buffer: &mut [u8],
    scratch: &mut Vec<u8>,
) -> bool {
    loop {
        match nix::unistd::read(pipe, buffer) {
            Ok(0) => return false,
            Ok(n) => match stamper {
                None => {
                    let _ = log.write(&buffer[..n]);
                }
                Some(stamper) => {
                    scratch.clear();
                    stamper.stamp(&buffer[..n], SystemTime::now(), scratch);
                    let _ = log.write(scratch);
                }
            },
            Err(Errno::EAGAIN) => return true,
            Err(Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

impl Stream {
    fn new(log: LogFile, stamped: bool) -> Stream {
        Stream {
            pipe: None,
            token: 0,
            log,
            stamper: stamped.then(Stamper::default),
            command: None,
        }
    }

    /// Takes a command's pipe (the one before it, if still open, is left: its process is
    /// gone or killed). Fails as [`Stream::attach`] does.
    pub fn attach_command(&mut self, pipe: OwnedFd, token: u64) -> Result<(), String> {
        self.end_command();
        self.command = Some(Feed {
            pipe,
            token,
            stamper: self.stamper.as_ref().map(|_| Stamper::default()),
        });
        self.log
            .touch()
            .map_err(|e| format!("cannot open its log {}: {e}", self.log.path().display()))
    }

    /// Copies what the command wrote into the log; its pipe goes once it is closed.
    fn drain_command(&mut self, buffer: &mut [u8], scratch: &mut Vec<u8>) {
        let Some(feed) = &mut self.command else {
            return;
        };
        if !copy(
            &feed.pipe,
            &mut feed.stamper,
            &mut self.log,
            buffer,
            scratch,
        ) {
            self.end_command();
        }
    }

    fn end_command(&mut self) {
        if let Some(mut feed) = self.command.take() {
            if let Some(stamper) = &mut feed.stamper {
                let mut end = Vec::new();
                stamper.end(&mut end);
                if !end.is_empty() {
                    let _ = self.log.write(&end);
                }
            }
        }
    }

    /// Takes a new process's pipe. A line the last one left unfinished ends here: the new
    /// process's first line is its own.
    /// Fails, saying why, when the log cannot be opened (the pipe is taken all the same:
    /// the process must not block on a full pipe).
    pub fn attach(&mut self, pipe: OwnedFd, token: u64) -> Result<(), String> {
        self.end_line();
        self.pipe = Some(pipe);
        self.token = token;
        self.log.touch().map_err(|e| {
            let link = e.raw_os_error() == Some(nix::libc::ELOOP);
            format!(
                "cannot open its log {}: {e}{}",
                self.log.path().display(),
                if link {
                    " (a symbolic link: svc-any writes no log through one); its output is dropped"
                } else {
                    "; its output is dropped"
                }
            )
        })
    }

    /// Copies whatever the pipe holds into the log, until it is empty or closed; `buffer` is
    /// where reads land, `scratch` where stamped lines are put together.
    fn drain(&mut self, buffer: &mut [u8], scratch: &mut Vec<u8>) {
        if let Some(fd) = &self.pipe {
            if !copy(fd, &mut self.stamper, &mut self.log, buffer, scratch) {
                self.close_pipe();
            }
        }
        self.drain_command(buffer, scratch);
    }

    fn close_pipe(&mut self) {
        self.pipe = None;
        self.end_line();
    }

    fn end_line(&mut self) {
        if let Some(stamper) = &mut self.stamper {
            let mut end = Vec::new();
            stamper.end(&mut end);
            if !end.is_empty() {
                let _ = self.log.write(&end);
            }
        }
    }

    /// A line of svc-any's own (why a start failed), stamped like the process's.
    pub fn note(&mut self, text: &str) {
        self.end_line();
        let line = format!("svc-any: {text}\n");
        match &mut self.stamper {
            None => {
                let _ = self.log.write(line.as_bytes());
            }
            Some(stamper) => {
                let mut out = Vec::new();
                stamper.stamp(line.as_bytes(), SystemTime::now(), &mut out);
                let _ = self.log.write(&out);
            }
        }
    }

    /// The descriptors it holds: its pipes and its log file, while open.
    fn descriptors(&self) -> u64 {
        u64::from(self.pipe.is_some())
            + u64::from(self.command.is_some())
            + u64::from(self.log.is_open())
    }

    /// Its open pipes' tokens.
    pub fn tokens(&self) -> impl Iterator<Item = u64> + '_ {
        self.pipe
            .as_ref()
            .map(|_| self.token)
            .into_iter()
            .chain(self.command.as_ref().map(|f| f.token))
    }
}

pub struct Unit {
    pub name: String,
    pub instance: Option<String>,
    /// The definition with `{instance}` replaced.
    pub service: Service,
    pub enabled: bool,
    pub machine: Machine,
    /// Set exactly while the machine is running or stopping.
    pub pid: Option<Pid>,
    /// When it entered its current state, seconds since the epoch, for `status`.
    pub since: u64,
    /// The process's stdout, and its stderr unless that goes apart.
    pub output: Stream,
    /// Its stderr, when `log.stderr` keeps it apart.
    pub errors: Option<Stream>,
    /// `type = "notify"`: its process runs but has not said `READY=1` yet.
    pub awaiting_ready: bool,
    /// The process groups a stop reaches: the main process's own (it starts a session), and
    /// with `type = "forking"` also the daemon's and the one it leads (readiness.rs
    /// `look_for_pid`).
    pub groups: Vec<Pid>,
    /// The commands of one stage running now (`pre_start`, `stop_exec`...), one at a time.
    pub job: Option<Job>,
    /// What waits for the stop side's commands (`stop_exec`, `post_stop`) to end.
    pub after_job: AfterJob,
    /// How the main process ended, with what follows, while the stop side's commands run.
    pub pending: Option<Exit>,
    /// The start is complete (its `post_start` ran): its stop runs `stop_exec`.
    pub up: bool,
    /// `type = "forking"`: how far its start is.
    pub forking: Forking,
    /// A `post_start` failed: the unit is failed, for this reason, once stopped.
    pub fail_after_stop: Option<String>,
    /// How the last `reload_exec` ended: `None` if it succeeded.
    pub reload_failure: Option<String>,
}

/// What follows the stop side's commands, asked for while they ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AfterJob {
    #[default]
    Nothing,
    /// A start (asked for, or a restart come due).
    Spawn,
    /// The definition is gone: forget the unit.
    Remove,
}

/// A forking service's start (`type = "forking"`): the process started forks the daemon and
/// exits 0, and the daemon's pid is read from `pid_file`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forking {
    /// Not forking, or its daemon is known.
    No,
    /// The process started runs.
    Parent,
    /// It exited 0: the pid file is looked at from time to time until `deadline`.
    PidFile {
        deadline: Instant,
        next_look: Instant,
    },
}

pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The streams of a unit: stdout (with stderr unless it goes apart), and stderr apart.
fn streams_for(scope: &Scope, key: &str, service: &Service) -> (Stream, Option<Stream>) {
    let (max, keep, stamped) = match &service.log {
        Some(l) => (l.max_size, l.keep, l.stamped()),
        None => (Some(DEFAULT_LOG_MAX), DEFAULT_LOG_KEEP, true),
    };
    let stream = |path: PathBuf| Stream::new(LogFile::new(path, max, keep), stamped);
    let errors = service
        .log
        .as_ref()
        .and_then(|l| l.stderr.as_ref())
        .map(|path| stream(PathBuf::from(path)));
    (stream(log_path(scope, key, service)), errors)
}

/// The new stream takes over the old one's pipe: the running process goes on writing, into
/// the new file.
fn carry_pipe(old: &mut Stream, new: &mut Stream) {
    new.pipe = old.pipe.take();
    new.token = old.token;
}

impl Unit {
    pub fn new(scope: &Scope, definition: Definition) -> Unit {
        let Definition {
            name,
            instance,
            service,
            enabled,
        } = definition;
        let key = unit_key(&name, instance.as_deref());
        let (output, errors) = streams_for(scope, &key, &service);
        Unit {
            output,
            errors,
            awaiting_ready: false,
            groups: Vec::new(),
            job: None,
            after_job: AfterJob::Nothing,
            pending: None,
            up: false,
            forking: Forking::No,
            fail_after_stop: None,
            reload_failure: None,
            machine: Machine::new(Policy::of(&service)),
            name,
            instance,
            service,
            enabled,
            pid: None,
            since: now_unix(),
        }
    }

    pub fn key(&self) -> String {
        unit_key(&self.name, self.instance.as_deref())
    }

    /// Takes a re-read definition: a changed one rules from its next start (and its next
    /// exit), while the running process keeps what it was started with.
    pub fn redefine(&mut self, scope: &Scope, definition: Definition) {
        self.enabled = definition.enabled;
        if self.service != definition.service {
            let (mut output, mut errors) = streams_for(scope, &self.key(), &definition.service);
            carry_pipe(&mut self.output, &mut output);
            match (self.errors.take(), errors.as_mut()) {
                (Some(mut old), Some(new)) => carry_pipe(&mut old, new),
                // No stderr file any more: the running process's stderr still goes to the
                // old one until it ends (see `Unit::errors_apart`).
                (Some(old), None) if old.pipe.is_some() => errors = Some(old),
                _ => {}
            }
            self.output = output;
            self.errors = errors;
            self.machine.set_policy(Policy::of(&definition.service));
            self.service = definition.service;
        }
    }

    /// What its start is doing, while it is on its way up: the status reads `starting`, with
    /// this as the reason.
    pub fn starting(&self) -> Option<String> {
        if let Some(job) = self.job.as_ref().filter(|j| !j.cancelled) {
            if matches!(job.stage, Stage::PreStart | Stage::PostStart) {
                return Some(format!("running {}", job.describe()));
            }
        }
        let running = self.machine.phase() == Phase::Running;
        match self.forking {
            Forking::Parent if running => {
                return Some(
                    "waiting for the process started to fork and exit (type = forking)".into(),
                )
            }
            Forking::PidFile { .. } if running => {
                return Some(format!(
                    "waiting for the daemon's pid in {}",
                    self.service
                        .daemon
                        .pid_file
                        .as_deref()
                        .unwrap_or("its pid_file")
                ))
            }
            _ => {}
        }
        if running && self.oneshot() {
            return Some("running to completion (type = oneshot)".into());
        }
        (running && self.awaiting_ready).then(|| "waiting for READY=1 (sd_notify)".into())
    }

    pub fn oneshot(&self) -> bool {
        self.service.daemon.service_type == Some(ServiceType::Oneshot)
    }

    pub fn status(&self) -> ServiceStatus {
        let starting = self.starting();
        let exited = self.machine.phase() == Phase::Exited;
        ServiceStatus {
            name: self.name.clone(),
            instance: self.instance.clone(),
            backend: "builtin".into(),
            unit: self.key(),
            state: match &starting {
                Some(_) => State::Starting,
                None => self.machine.state(),
            },
            pid: self.pid.map(|p| p.as_raw() as u32),
            since: Some(self.since),
            restarts: Some(self.machine.restarts()),
            last_exit: self.machine.last_exit().cloned(),
            enabled: Some(self.enabled),
            reason: match starting {
                Some(why) => Some(why),
                None if exited => {
                    Some("ran to completion; up with no process (remain_after_exit)".into())
                }
                None => self.machine.reason().map(String::from),
            },
        }
    }

    /// Copies whatever the process wrote into its logs, until its pipes are empty or closed.
    /// Once they are closed and no process runs or is coming, the log files are closed too.
    pub fn drain_output(&mut self, buffer: &mut [u8], scratch: &mut Vec<u8>) {
        self.output.drain(buffer, scratch);
        if let Some(errors) = &mut self.errors {
            errors.drain(buffer, scratch);
        }
        self.release_if_idle();
    }

    /// Its streams: stdout, then stderr if apart.
    /// Ends a reload or a post_start still running: once the service stops or ends it has
    /// nothing left to act on. A reload cut short fails, saying `why`.
    pub fn cancel_moot_job(&mut self, why: &str) {
        let moot = self
            .job
            .take_if(|j| matches!(j.stage, Stage::Reload | Stage::PostStart));
        if let Some(job) = moot {
            if let Some(pid) = job.pid {
                let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            }
            if job.stage == Stage::Reload {
                self.reload_failure = Some(format!("{} did not finish: {why}", job.describe()));
            }
        }
    }

    pub fn streams(&self) -> impl Iterator<Item = &Stream> {
        std::iter::once(&self.output).chain(self.errors.as_ref())
    }

    /// Whether its next process gets a stderr pipe of its own: as its definition says now. A
    /// stream kept for a process started under an earlier definition goes.
    pub fn errors_apart(&mut self) -> bool {
        let apart = self
            .service
            .log
            .as_ref()
            .is_some_and(|l| l.stderr.is_some());
        if !apart && self.errors.as_ref().is_some_and(|e| e.pipe.is_none()) {
            self.errors = None;
        }
        apart
    }

    /// Closes the logs of a unit that has no process and none coming (stopped, dead or
    /// failed): it holds no descriptor. One waiting to restart keeps them.
    pub fn release_if_idle(&mut self) {
        if !self.has_pipes()
            && self.job.is_none()
            && matches!(
                self.machine.phase(),
                Phase::Stopped | Phase::Dead | Phase::Failed | Phase::Exited
            )
        {
            self.output.log.close();
            if let Some(errors) = &mut self.errors {
                errors.log.close();
            }
        }
    }

    /// Whether a pipe of its process, or of a command, is open.
    pub fn has_pipes(&self) -> bool {
        self.streams().any(|s| s.tokens().next().is_some())
    }

    /// Whether `token` is one of its open pipes'.
    pub fn owns_token(&self, token: u64) -> bool {
        self.streams().any(|s| s.tokens().any(|t| t == token))
    }

    /// Whether it is busy with something a request waits for: a stop, its commands, or a
    /// start on its way up (not the wait for READY=1, which `--wait` waits for).
    pub fn busy(&self) -> bool {
        self.machine.phase() == Phase::Stopping
            || self.job.is_some()
            || self.forking != Forking::No
            || (self.oneshot() && self.machine.phase() == Phase::Running)
    }

    /// The descriptors this unit holds: its pipes and its log files, while open.
    pub fn descriptors(&self) -> u64 {
        self.streams().map(Stream::descriptors).sum()
    }

    /// The descriptors its next process adds to those it holds: a pipe for each stream its
    /// definition asks for, and each of their log files not open yet.
    pub fn descriptors_to_start(&self) -> u64 {
        let apart = self
            .service
            .log
            .as_ref()
            .is_some_and(|l| l.stderr.is_some());
        let stream = |s: &Stream| 1 + u64::from(!s.log.is_open());
        stream(&self.output) + self.errors.as_ref().filter(|_| apart).map_or(0, stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(toml: &str) -> Unit {
        let service = crate::model::spec::test_service(toml, "web");
        let scope = Scope {
            state_dir: "/nonexistent/state".into(),
            runtime_dir: "/nonexistent/run".into(),
        };
        Unit::new(
            &scope,
            Definition {
                name: "web".into(),
                instance: None,
                service,
                enabled: false,
            },
        )
    }

    /// The supervisor's descriptor budget counts what a start opens: a pipe and a log file
    /// per stream, so a second stream (log.stderr) counts twice as much.
    #[test]
    fn a_start_counts_a_pipe_and_a_file_per_stream() {
        let together = unit("exec = [\"/bin/web\"]\n");
        assert_eq!(together.descriptors_to_start(), 2);
        assert!(together.errors.is_none());
        let apart = unit(
            "exec = [\"/bin/web\"]\n[log]\nfile = \"/var/log/web.log\"\nstderr = \"/var/log/web.err\"\n",
        );
        assert_eq!(apart.descriptors_to_start(), 4);
        assert_eq!(apart.descriptors(), 0);
    }
}
