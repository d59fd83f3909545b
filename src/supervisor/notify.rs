//! systemd's readiness protocol (sd_notify(3)) for `type = "notify"`: the supervisor binds one
//! datagram socket, hands its path to such services as `NOTIFY_SOCKET`, and counts a service
//! up only once it sends `READY=1`. The kernel vouches for the sender's pid (SO_PASSCRED), so
//! a message counts only from the unit's own process or one it started; anyone may write to
//! the socket, and nobody can speak for a process they do not own.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};

/// The file name of the socket in the supervisor's runtime directory.
const SOCKET: &str = "notify.sock";

/// Who sent a message: the kernel's word for its pid and user, not the message's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sender {
    pub pid: u32,
    pub uid: u32,
}

pub struct NotifySocket {
    socket: UnixDatagram,
    path: PathBuf,
}

impl NotifySocket {
    /// Binds the socket in `runtime_dir`, writable by every user (services run as any user).
    pub fn bind(runtime_dir: &Path) -> std::io::Result<NotifySocket> {
        use std::os::unix::fs::PermissionsExt;
        let path = runtime_dir.join(SOCKET);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path)?;
        socket.set_nonblocking(true)?;
        setsockopt(&socket, sockopt::PassCred, &true)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666))?;
        Ok(NotifySocket { socket, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }

    /// The processes that have said `READY=1` since the last call, as the kernel names them.
    pub fn ready_senders(&self) -> Vec<Sender> {
        let mut ready = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let mut cmsg = nix::cmsg_space!(nix::sys::socket::UnixCredentials);
            let mut iov = [std::io::IoSliceMut::new(&mut buffer)];
            let Ok(msg) = recvmsg::<()>(
                self.socket.as_raw_fd(),
                &mut iov,
                Some(&mut cmsg),
                MsgFlags::MSG_DONTWAIT,
            ) else {
                return ready;
            };
            let pid = msg.cmsgs().ok().and_then(|mut cmsgs| {
                cmsgs.find_map(|c| match c {
                    ControlMessageOwned::ScmCredentials(creds) => Some(Sender {
                        pid: creds.pid() as u32,
                        uid: creds.uid(),
                    }),
                    _ => None,
                })
            });
            let len = msg.bytes;
            if let Some(sender) = pid {
                if says_ready(&buffer[..len]) {
                    ready.push(sender);
                }
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a message holds the line `READY=1` (messages are newline-separated assignments).
fn says_ready(message: &[u8]) -> bool {
    message
        .split(|b| *b == b'\n')
        .any(|line| line == b"READY=1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_is_one_line_among_others() {
        assert!(says_ready(b"READY=1"));
        assert!(says_ready(b"STATUS=up\nREADY=1\n"));
        assert!(!says_ready(b"READY=0"));
        assert!(!says_ready(b"XREADY=1"));
        assert!(!says_ready(b"STATUS=READY=1"));
    }

    #[test]
    fn a_message_counts_from_the_pid_the_kernel_names() {
        let dir = std::env::temp_dir().join(format!("svc-any-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = NotifySocket::bind(&dir).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"STATUS=starting", socket.path()).unwrap();
        client.send_to(b"READY=1\n", socket.path()).unwrap();
        let me = Sender {
            pid: std::process::id(),
            uid: nix::unistd::getuid().as_raw(),
        };
        assert_eq!(socket.ready_senders(), vec![me]);
        assert!(socket.ready_senders().is_empty());
        drop(socket);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
