//! The control server: the scope's socket, its clients, and what each request asks of the
//! supervisor.
//!
//! A request is one JSON line and so is its answer ([`super::protocol`]). Most are answered at
//! once; `stop`, `restart` and `shutdown` only once none of their units is stopping any more,
//! so the client's command returns when the processes are gone. Everything is non-blocking:
//! the poll loop says which client has something to read, and the server never waits on one.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::Duration;

use anyhow::{Context, Result};

use super::protocol::{Request, Response};
use super::Scope;
use crate::model::signal::Signal;
use crate::model::status::{ServiceStatus, State};

/// A request line longer than this is not a request: the client is dropped.
const MAX_REQUEST: usize = 1 << 20;
/// Connections served at once; more wait in the socket's backlog. Each is a descriptor, and
/// the supervisor keeps room for this many (see `descriptors.rs`).
pub const MAX_CLIENTS: usize = 32;

/// What the control server asks of the supervisor. Keys are unit keys (`NAME@INSTANCE`);
/// the server has checked that each names a unit before it calls a verb.
pub trait Units {
    fn exists(&self, key: &str) -> bool;
    /// On its way down from a stop, or up through its start (its `pre_start`, a forking
    /// one's daemon, a oneshot's run), or running commands (a reload): what a request that
    /// is answered when done waits for.
    fn busy(&self, key: &str) -> bool;
    /// How the last `reload_exec` of each of `keys` failed, for those whose did.
    fn reload_failures(&self, keys: &[String]) -> Vec<(String, String)>;
    /// The status of each unit that (still) exists, in the order asked.
    fn statuses(&self, keys: &[String]) -> Vec<ServiceStatus>;
    fn all_statuses(&self) -> Vec<ServiceStatus>;
    fn start(&mut self, keys: &[String]);
    fn stop(&mut self, keys: &[String]);
    fn restart(&mut self, keys: &[String]);
    fn signal(&mut self, keys: &[String], signal: Signal);
    /// Reloads each as its definition says: its `reload_exec` commands, else its
    /// `reload_signal`.
    fn reload_units(&mut self, keys: &[String]);
    /// Re-reads the definitions of `services`, or every one that changed when none is named.
    fn reload(&mut self, services: &[String]);
    /// Stops every unit, dependants first, and then the supervisor; the units to wait for.
    fn shutdown(&mut self) -> Vec<String>;
}

struct Client {
    stream: UnixStream,
    buffer: Vec<u8>,
    /// Answered once none of these units is busy any more, as the answer says.
    waiting_for: Option<(Vec<String>, Answer)>,
}

/// What a client that waited for its units is told once they are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// Their statuses (a stop).
    Statuses,
    /// Their statuses, and an error naming each that failed (a start, a restart).
    Started,
    /// Their statuses, and an error naming each whose reload failed.
    Reloaded,
}

pub struct ControlServer {
    listener: UnixListener,
    clients: Vec<Client>,
}

enum ReadOutcome {
    /// No complete line yet.
    Pending,
    /// The client hung up (or misbehaved).
    Closed,
    Line(Vec<u8>),
}

enum Handled {
    Now(Response),
    /// Answer once none of these units is busy.
    WhenDone(Vec<String>, Answer),
}

impl ControlServer {
    /// Listens on the scope's socket, mode 0600: only its owner may drive the supervisor.
    pub fn bind(scope: &Scope) -> Result<ControlServer> {
        let socket = scope.socket_path();
        let _ = std::fs::remove_file(&socket);
        let listener =
            UnixListener::bind(&socket).with_context(|| format!("binding {}", socket.display()))?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o600))?;
        listener.set_nonblocking(true)?;
        Ok(ControlServer {
            listener,
            clients: Vec::new(),
        })
    }

    /// The listening socket: poll it for reading while [`ControlServer::can_accept`].
    pub fn listener(&self) -> BorrowedFd<'_> {
        self.listener.as_fd()
    }

    /// Each client, in the order [`ControlServer::serve`] takes their indexes in.
    pub fn client_fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        self.clients.iter().map(|c| c.stream.as_fd())
    }

    /// Room for another client.
    pub fn can_accept(&self) -> bool {
        self.clients.len() < MAX_CLIENTS
    }

    /// Some client waits for a stop to finish: the supervisor must not exit before it is told.
    pub fn has_waiting_clients(&self) -> bool {
        self.clients.iter().any(|c| c.waiting_for.is_some())
    }

    /// Takes pending connections, as many as there is room for, from the supervisor's own
    /// user or root; anyone else is told no and hung up on (the socket's mode says the same;
    /// this holds even if a directory or mode was changed by hand).
    pub fn accept(&mut self) {
        while self.can_accept() {
            let Ok((mut stream, _)) = self.listener.accept() else {
                return;
            };
            if !peer_may_command(&stream) {
                let _ = stream.write_all(
                    b"{\"ok\":false,\"error\":\"only this supervisor's user or root may command it\"}\n",
                );
                continue;
            }
            let _ = stream.set_nonblocking(true);
            self.clients.push(Client {
                stream,
                buffer: Vec::new(),
                waiting_for: None,
            });
        }
    }

    /// Reads and handles what the clients at `ready` (indexes in the order of
    /// [`ControlServer::fds`], without the listener) sent.
    pub fn serve(&mut self, ready: &[usize], units: &mut impl Units) {
        // From the back: answering a client removes it, which moves those after it.
        for &index in ready.iter().rev() {
            self.read_client(index, units);
        }
    }

    fn read_client(&mut self, index: usize, units: &mut impl Units) {
        let line = match read_request_line(&mut self.clients[index]) {
            ReadOutcome::Pending => return,
            ReadOutcome::Closed => {
                if self.clients[index].waiting_for.is_none() {
                    self.clients.remove(index);
                }
                return;
            }
            ReadOutcome::Line(line) => line,
        };
        let request: Request = match serde_json::from_slice(&line) {
            Ok(r) => r,
            Err(e) => {
                let client = self.clients.remove(index);
                respond(client.stream, &Response::error(format!("bad request: {e}")));
                return;
            }
        };
        match handle(request, units) {
            Handled::Now(response) => {
                let client = self.clients.remove(index);
                respond(client.stream, &response);
            }
            Handled::WhenDone(keys, answer) => {
                self.clients[index].waiting_for = Some((keys, answer))
            }
        }
    }

    /// Answers each client whose units are all down now.
    pub fn answer_waiting_clients(&mut self, units: &impl Units) {
        let mut i = 0;
        while i < self.clients.len() {
            let done = self.clients[i]
                .waiting_for
                .as_ref()
                .is_some_and(|(keys, _)| keys.iter().all(|k| !units.busy(k)));
            if done {
                let client = self.clients.remove(i);
                let (keys, answer) = client.waiting_for.expect("checked");
                respond(client.stream, &done_answer(units, &keys, answer));
            } else {
                i += 1;
            }
        }
    }
}

/// The answer to a request whose units are done.
fn done_answer(units: &impl Units, keys: &[String], answer: Answer) -> Response {
    let statuses = units.statuses(keys);
    let error = match answer {
        Answer::Statuses => String::new(),
        Answer::Started => failures(&statuses),
        Answer::Reloaded => units
            .reload_failures(keys)
            .into_iter()
            .map(|(key, why)| format!("{key}: {why}"))
            .collect::<Vec<_>>()
            .join("; "),
    };
    if error.is_empty() {
        Response::ok(statuses)
    } else {
        Response {
            ok: false,
            error: Some(error),
            units: statuses,
        }
    }
}

fn unknown(units: &impl Units, keys: &[String]) -> Option<Response> {
    keys.iter()
        .find(|k| !units.exists(k))
        .map(|k| Response::error(format!("no unit `{k}` is defined here")))
}

fn handle(request: Request, units: &mut impl Units) -> Handled {
    let keys = match &request {
        Request::Start { units: keys }
        | Request::Stop { units: keys }
        | Request::Restart { units: keys }
        | Request::Signal { units: keys, .. }
        | Request::ReloadUnits { units: keys }
        | Request::Status { units: keys } => keys.as_slice(),
        Request::Ping | Request::Reload { .. } | Request::Shutdown => &[],
    };
    if let Some(error) = unknown(units, keys) {
        return Handled::Now(error);
    }
    match request {
        Request::Ping => Handled::Now(Response::ok(Vec::new())),
        Request::Reload { services } => {
            units.reload(&services);
            Handled::Now(Response::ok(Vec::new()))
        }
        Request::Status { units: keys } if keys.is_empty() => {
            Handled::Now(Response::ok(units.all_statuses()))
        }
        Request::Status { units: keys } => Handled::Now(Response::ok(units.statuses(&keys))),
        Request::Start { units: keys } => {
            units.start(&keys);
            Handled::WhenDone(keys, Answer::Started)
        }
        Request::Stop { units: keys } => {
            units.stop(&keys);
            Handled::WhenDone(keys, Answer::Statuses)
        }
        Request::Restart { units: keys } => {
            units.restart(&keys);
            Handled::WhenDone(keys, Answer::Started)
        }
        Request::ReloadUnits { units: keys } => {
            units.reload_units(&keys);
            Handled::WhenDone(keys, Answer::Reloaded)
        }
        Request::Signal {
            units: keys,
            signal,
        } => {
            let Some(sig) = Signal::from_name(&signal) else {
                return Handled::Now(Response::error(format!("unknown signal {signal}")));
            };
            units.signal(&keys, sig);
            Handled::Now(Response::ok(units.statuses(&keys)))
        }
        Request::Shutdown => Handled::WhenDone(units.shutdown(), Answer::Statuses),
    }
}

/// The failed units of a start, by reason: `a, b: REASON`, and for many with one reason (a
/// thousand refused for want of descriptors) the first few and how many more. Dead counts
/// too: a start answered once its units are done (a oneshot's run, a forking one's parent)
/// may find one already ended for good.
fn failures(statuses: &[ServiceStatus]) -> String {
    let mut by_reason: Vec<(String, Vec<&str>)> = Vec::new();
    let failed = |s: &&ServiceStatus| matches!(s.state, State::Failed | State::Dead);
    for s in statuses.iter().filter(failed) {
        let reason = s.reason.clone().unwrap_or_default();
        match by_reason.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, units)) => units.push(&s.unit),
            None => by_reason.push((reason, vec![&s.unit])),
        }
    }
    by_reason
        .into_iter()
        .map(|(reason, units)| {
            let named = units[..units.len().min(3)].join(", ");
            match units.len() {
                n if n > 3 => format!("{named} and {} more: {reason}", n - 3),
                _ => format!("{named}: {reason}"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads what a client sent; one request is one line.
fn read_request_line(client: &mut Client) -> ReadOutcome {
    let mut chunk = [0u8; 4096];
    loop {
        match client.stream.read(&mut chunk) {
            Ok(0) => return ReadOutcome::Closed,
            Ok(n) => client.buffer.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return ReadOutcome::Closed,
        }
        if client.buffer.len() > MAX_REQUEST {
            return ReadOutcome::Closed;
        }
    }
    // One request per connection: what a waiting client sends more is not read as another.
    if client.waiting_for.is_some() {
        return ReadOutcome::Pending;
    }
    match client.buffer.iter().position(|b| *b == b'\n') {
        Some(end) => {
            let line = client.buffer[..end].to_vec();
            client.buffer.clear();
            ReadOutcome::Line(line)
        }
        None => ReadOutcome::Pending,
    }
}

/// Writes the answer and closes the connection; a client that does not read within 5 s loses
/// it rather than stall the supervisor.
fn respond(mut stream: UnixStream, response: &Response) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut line = serde_json::to_vec(response).expect("plain data");
    line.push(b'\n');
    let _ = stream.write_all(&line);
}

/// Whether the process at the other end of `stream` runs as this supervisor's user, or root.
fn peer_may_command(stream: &UnixStream) -> bool {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
        match getsockopt(stream, PeerCredentials) {
            Ok(peer) => peer.uid() == 0 || peer.uid() == nix::unistd::geteuid().as_raw(),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = stream;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(unit: &str, reason: &str) -> ServiceStatus {
        ServiceStatus {
            state: State::Failed,
            unit: unit.into(),
            reason: Some(reason.into()),
            ..ServiceStatus::not_installed(unit, "builtin")
        }
    }

    #[test]
    fn a_start_s_failures_are_grouped_by_reason() {
        let mut statuses: Vec<ServiceStatus> = (0..5)
            .map(|i| failed(&format!("n{i}"), "no descriptors"))
            .collect();
        statuses.push(failed("web", "cannot start /bin/web: exec: No such file"));
        statuses.push(ServiceStatus {
            state: State::Running,
            ..failed("ok", "")
        });
        assert_eq!(
            failures(&statuses),
            "n0, n1, n2 and 2 more: no descriptors; web: cannot start /bin/web: exec: No such file"
        );
    }
}
