//! One supervised unit as the supervisor holds it: its definition, its state machine, and the
//! process and output pipes that go with them. The decisions are the machine's
//! ([`super::machine`]); this is what the poll loop needs to carry them out and to report.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::unistd::Pid;

use super::definitions::Definition;
use super::logfile::LogFile;
use super::machine::{Machine, Phase};
use super::policy::Policy;
use super::protocol::unit_key;
use super::stamp::Stamper;
use super::{log_path, Scope};
use crate::model::spec::Service;
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
}

impl Stream {
    fn new(log: LogFile, stamped: bool) -> Stream {
        Stream {
            pipe: None,
            token: 0,
            log,
            stamper: stamped.then(Stamper::default),
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
        while let Some(fd) = &self.pipe {
            match nix::unistd::read(fd, buffer) {
                Ok(0) => self.close_pipe(),
                Ok(n) => match &mut self.stamper {
                    None => {
                        let _ = self.log.write(&buffer[..n]);
                    }
                    Some(stamper) => {
                        scratch.clear();
                        stamper.stamp(&buffer[..n], SystemTime::now(), scratch);
                        let _ = self.log.write(scratch);
                    }
                },
                Err(Errno::EAGAIN) => return,
                Err(Errno::EINTR) => continue,
                Err(_) => self.close_pipe(),
            }
        }
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

    /// The descriptors it holds: its pipe and its log file, while open.
    fn descriptors(&self) -> u64 {
        u64::from(self.pipe.is_some()) + u64::from(self.log.is_open())
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

    pub fn status(&self) -> ServiceStatus {
        ServiceStatus {
            name: self.name.clone(),
            instance: self.instance.clone(),
            backend: "builtin".into(),
            unit: self.key(),
            state: match (self.machine.state(), self.awaiting_ready) {
                (State::Running, true) => State::Starting,
                (state, _) => state,
            },
            pid: self.pid.map(|p| p.as_raw() as u32),
            since: Some(self.since),
            restarts: Some(self.machine.restarts()),
            last_exit: self.machine.last_exit().cloned(),
            enabled: Some(self.enabled),
            reason: match (self.machine.state(), self.awaiting_ready) {
                (State::Running, true) => Some("waiting for READY=1 (sd_notify)".into()),
                _ => self.machine.reason().map(String::from),
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
            && matches!(
                self.machine.phase(),
                Phase::Stopped | Phase::Dead | Phase::Failed
            )
        {
            self.output.log.close();
            if let Some(errors) = &mut self.errors {
                errors.log.close();
            }
        }
    }

    /// Whether a pipe of its process is open.
    pub fn has_pipes(&self) -> bool {
        self.streams().any(|s| s.pipe.is_some())
    }

    /// Whether `token` is one of its open pipes'.
    pub fn owns_token(&self, token: u64) -> bool {
        self.streams().any(|s| s.pipe.is_some() && s.token == token)
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
    use crate::model::spec::{parse, Level, ParseOptions, Source};

    fn unit(toml: &str) -> Unit {
        let src = Source {
            label: "web.toml".into(),
            text: toml,
            path: None,
        };
        let opts = ParseOptions {
            default_level: Level::System,
            forced_level: None,
            accounts: None,
        };
        let service = parse(&src, Some("web"), &opts)
            .unwrap()
            .services
            .remove("web")
            .unwrap();
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
