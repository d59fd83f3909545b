//! The supervisor's file descriptors: the pipes that carry a process's output, and the
//! budget that keeps a start from taking the last ones. Each running service holds its
//! pipes and log files; a start that would leave too few free for what keeps the supervisor
//! going (reading definitions, answering the socket) is refused, naming the limit, rather
//! than breaking the others. How many the supervisor may hold is `startup::raise_nofile`'s.

use nix::fcntl::OFlag;

use super::control::MAX_CLIENTS;
use super::daemon::Supervisor;
use super::unit::Unit;

/// Descriptors kept free beyond the clients' share, for what the supervisor opens for a
/// moment: a definition or a directory being read, a process being started (the write end
/// of its pipe), a pid file.
const FD_RESERVE: u64 = 16;

/// A pipe for a service's output: the supervisor's end (read) does not block; the service's
/// end blocks, as a terminal or a file would.
pub(super) fn pipe() -> nix::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK)?;
    nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFL(OFlag::empty()))?;
    Ok((read, write))
}

impl Supervisor {
    /// Descriptors in use: what the supervisor holds whatever runs, what each unit holds, and
    /// room for every client the socket may serve at once.
    fn descriptors_in_use(&self) -> u64 {
        self.base_fds + MAX_CLIENTS as u64 + self.units.values().map(Unit::descriptors).sum::<u64>()
    }

    /// Why `key` cannot have a process now without breaking the others, if it cannot: the
    /// descriptors it would hold (its pipes, its log files) would leave too few free for
    /// what keeps the supervisor going (reading definitions, answering the socket).
    pub(super) fn no_room_for(&self, key: &str) -> Option<String> {
        let unit = self.units.get(key)?;
        let needed = unit.descriptors_to_start();
        let in_use = self.descriptors_in_use();
        (in_use + needed + FD_RESERVE > self.nofile.limit).then(|| {
            format!(
                "not started: the supervisor has {in_use} of its {} file descriptors in use or set aside, \
                 and a running service holds 2 (4 with log.stderr); stop other services, or raise the \
                 hard limit on open files (ulimit -Hn) of whatever starts the supervisor",
                self.nofile.limit
            )
        })
    }
}
