//! The output pipes of the running units, watched by one epoll instance: what the poll loop
//! learns from it costs the same with ten units or ten thousand (a poll over every pipe cost
//! a little per pipe, every time the loop went round, a request or not).
//!
//! Each pipe is registered under a token of its own, never reused, so an event for a pipe
//! that has since closed (its unit restarted, or forgotten) is recognised and dropped.

use std::collections::HashMap;
use std::os::fd::{AsFd, BorrowedFd};

use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

pub struct Outputs {
    epoll: Epoll,
    /// The unit each token's pipe belongs to.
    units: HashMap<u64, String>,
    next: u64,
    events: Vec<EpollEvent>,
}

impl Outputs {
    pub fn new() -> nix::Result<Outputs> {
        Ok(Outputs {
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?,
            units: HashMap::new(),
            next: 1,
            events: vec![EpollEvent::empty(); 1024],
        })
    }

    /// What the poll loop polls: readable when some pipe is.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.epoll.0.as_fd()
    }

    /// Watches `unit`'s new pipe; its token (0 if it cannot be watched: then it is read only
    /// when the unit's process ends).
    pub fn watch(&mut self, unit: &str, pipe: BorrowedFd) -> u64 {
        let token = self.next;
        self.next += 1;
        match self
            .epoll
            .add(pipe, EpollEvent::new(EpollFlags::EPOLLIN, token))
        {
            Ok(()) => {
                self.units.insert(token, unit.to_string());
                token
            }
            Err(_) => 0,
        }
    }

    /// A pipe is closed (closing it took it out of the epoll set): forget its token.
    pub fn forget(&mut self, token: u64) {
        self.units.remove(&token);
    }

    /// The pipes with something to read (or closed at the other end), as (token, unit): at
    /// most one batch; the rest stay ready for the loop's next round.
    pub fn ready(&mut self) -> Vec<(u64, String)> {
        let n = loop {
            match self.epoll.wait(&mut self.events, EpollTimeout::ZERO) {
                Err(nix::errno::Errno::EINTR) => continue,
                result => break result.unwrap_or(0),
            }
        };
        self.events[..n]
            .iter()
            .filter_map(|e| Some((e.data(), self.units.get(&e.data())?.clone())))
            .collect()
    }
}
