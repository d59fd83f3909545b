//! Talking to a scope's supervisor, and starting it when it is not there.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::protocol::{Request, Response};
use super::Scope;
use crate::model::spec::Level;

/// How long a request may take: stop waits for the slowest stop_timeout, so be generous.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a new supervisor may take to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(10);

fn connect(scope: &Scope) -> Option<UnixStream> {
    UnixStream::connect(scope.socket_path()).ok()
}

/// A connection to the supervisor; when its socket does not answer yet but a supervisor holds
/// the lock, one is starting (it takes the lock first, then reads its definitions and opens
/// the socket): waited for, [`START_TIMEOUT`] at most. `None`: no supervisor runs, or the one
/// that holds the lock never answered.
fn connect_or_await(scope: &Scope) -> Option<UnixStream> {
    if let Some(stream) = connect(scope) {
        return Some(stream);
    }
    let deadline = std::time::Instant::now() + START_TIMEOUT;
    let mut pause = Duration::from_millis(5);
    while supervisor_holds_the_lock(scope) && std::time::Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
        if let Some(stream) = connect(scope) {
            return Some(stream);
        }
    }
    None
}

/// Sends one request and reads the answer; an error answer becomes an error.
pub fn request(scope: &Scope, level: Level, req: &Request) -> Result<Response> {
    if level == Level::User {
        scope.check_private()?;
    }
    let stream = match connect_or_await(scope) {
        Some(s) => s,
        None => {
            ensure_running(scope, level)?;
            connect(scope).ok_or_else(|| {
                anyhow!(
                    "the supervisor started but its socket {} does not answer",
                    scope.socket_path().display()
                )
            })?
        }
    };
    exchange(stream, req)
}

/// Sends one request to the supervisor if one runs; `None` when none does. For what must not
/// start one: a question (`status`) or a reload of definitions nobody runs yet.
pub fn query(scope: &Scope, level: Level, req: &Request) -> Result<Option<Response>> {
    if level == Level::User {
        scope.check_private()?;
    }
    match connect_or_await(scope) {
        Some(stream) => exchange(stream, req).map(Some),
        None if supervisor_holds_the_lock(scope) => bail!(
            "svc-any's supervisor runs (it holds {}) but its socket {} has not answered for {}s",
            scope.lock_path().display(),
            scope.socket_path().display(),
            START_TIMEOUT.as_secs()
        ),
        None => Ok(None),
    }
}

/// Whether a supervisor of `scope` runs: it holds the scope's lock for its whole life, so a
/// lock that cannot be taken means one does, whatever happened to its socket.
fn supervisor_holds_the_lock(scope: &Scope) -> bool {
    #[cfg(target_os = "linux")]
    {
        use nix::fcntl::{Flock, FlockArg};
        let Ok(file) = std::fs::File::open(scope.lock_path()) else {
            return false;
        };
        matches!(
            Flock::lock(file, FlockArg::LockSharedNonblock),
            Err((_, nix::errno::Errno::EWOULDBLOCK))
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = scope;
        false
    }
}

fn exchange(mut stream: UnixStream, req: &Request) -> Result<Response> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    let mut line = serde_json::to_vec(req).expect("plain data");
    line.push(b'\n');
    stream
        .write_all(&line)
        .context("sending to the supervisor")?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .context("reading the supervisor's answer")?;
    if answer.is_empty() {
        bail!("the supervisor closed the connection without an answer");
    }
    let response: Response = serde_json::from_str(&answer)
        .with_context(|| format!("the supervisor answered `{}`", answer.trim()))?;
    if !response.ok {
        bail!(
            "the supervisor says: {}",
            response.error.unwrap_or_default()
        );
    }
    Ok(response)
}

/// Where a detached supervisor's stderr goes: its own log, so that even a panic is on record.
fn supervisor_stderr(scope: &Scope) -> Stdio {
    let _ = std::fs::create_dir_all(scope.logs_dir());
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(scope.logs_dir().join("supervisor.log"))
        .map_or_else(|_| Stdio::null(), Stdio::from)
}

/// Starts the scope's supervisor unless one answers: detached (its own session, no inherited
/// descriptors, stdio on /dev/null), and waits until its socket accepts.
pub fn ensure_running(scope: &Scope, level: Level) -> Result<()> {
    if let Some(stream) = connect(scope) {
        if exchange(stream, &Request::Ping).is_ok() {
            return Ok(());
        }
    }
    let exe = crate::system::process::svc_any_binary()?;
    // pipe() then close-on-exec rather than pipe2, which macOS lacks; nothing execs between.
    let (read, write): (OwnedFd, OwnedFd) = nix::unistd::pipe()?;
    for end in [&read, &write] {
        nix::fcntl::fcntl(
            end,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        )?;
    }
    let write_fd = write.as_raw_fd();
    let mut cmd = Command::new(exe);
    cmd.arg("supervisor")
        .arg("--state-dir")
        .arg(&scope.state_dir)
        .arg("--runtime-dir")
        .arg(&scope.runtime_dir)
        .arg("--ready-fd")
        .arg("3")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(supervisor_stderr(scope))
        .current_dir("/");
    if level == Level::User {
        cmd.arg("--user");
    }
    // SAFETY: only system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            // fd 3 for the readiness byte; dup2 clears close-on-exec on the copy.
            if nix::libc::dup2(write_fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().context("starting the supervisor")?;
    drop(write);
    // The supervisor writes one byte once its socket accepts; EOF without it means it died.
    let mut fds = [PollFd::new(read.as_fd(), PollFlags::POLLIN)];
    let timeout =
        PollTimeout::try_from(START_TIMEOUT.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let answered = matches!(poll(&mut fds, timeout), Ok(n) if n > 0);
    let mut byte = [0u8; 1];
    let ready = answered && matches!(std::fs::File::from(read).read(&mut byte), Ok(1));
    // The supervisor runs on in its own session; it is not ours to wait for.
    let _ = child.try_wait();
    if !ready {
        bail!(
            "the supervisor did not start within {}s; see {}",
            START_TIMEOUT.as_secs(),
            scope.logs_dir().join("supervisor.log").display()
        );
    }
    Ok(())
}
