//! Readiness probes, once for every backend: `start --wait` means the same thing everywhere.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::model::spec::{parse_http_url, parse_tcp_target, HealthCheck};

/// How long one probe may take before it counts as a failure.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The first pause of [`wait_until`]; each further one doubles, up to [`POLL_MAX`].
pub const POLL_FIRST: Duration = Duration::from_millis(5);
/// The longest pause between two looks: what a slow start costs at most after it is done.
pub const POLL_MAX: Duration = Duration::from_millis(100);
/// The longest pause between two probes of a port or a URL: such a probe costs microseconds,
/// so `--wait` can afford to notice readiness within a few milliseconds. A probe program costs
/// a process each time, and backs off to [`POLL_MAX`].
pub const PROBE_MAX: Duration = Duration::from_millis(10);

/// Pauses that start short and double up to a ceiling: what is ready at once is seen at once,
/// and what takes long is asked rarely.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The pause to take now; the next one is twice as long, up to the ceiling.
    pub fn pause(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.max);
        now
    }
}

/// The longest pause between two probes of `check`.
pub fn probe_ceiling(check: &HealthCheck) -> Duration {
    match check {
        HealthCheck::Tcp(_) | HealthCheck::Http(_) => PROBE_MAX,
        HealthCheck::Exec(_) => POLL_MAX,
    }
}

fn resolve(host: &str, port: u16) -> Option<SocketAddr> {
    (host, port).to_socket_addrs().ok()?.next()
}

/// One probe: true when the service answers.
pub fn probe(check: &HealthCheck) -> bool {
    match check {
        HealthCheck::Tcp(target) => parse_tcp_target(target)
            .ok()
            .and_then(|(h, p)| resolve(&h, p))
            .is_some_and(|addr| TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).is_ok()),
        HealthCheck::Http(url) => http_ok(url).unwrap_or(false),
        HealthCheck::Exec(argv) => exec_ok(argv, PROBE_TIMEOUT),
    }
}

/// The local TCP port a tcp or http check connects to, when it names this machine (a loopback
/// or wildcard-reachable address): then who listens there can be asked.
pub fn local_port(check: &HealthCheck) -> Option<u16> {
    let (host, port) = match check {
        HealthCheck::Tcp(target) => parse_tcp_target(target).ok()?,
        HealthCheck::Http(url) => {
            let (host, port, _) = parse_http_url(url).ok()?;
            (host, port)
        }
        HealthCheck::Exec(_) => return None,
    };
    let addr = resolve(&host, port)?;
    let local = addr.ip().is_loopback()
        || addr.ip().is_unspecified()
        || std::net::TcpListener::bind((addr.ip(), 0)).is_ok();
    local.then_some(port)
}

/// The processes listening on TCP `port` (IPv4 or IPv6), from the kernel's socket tables and
/// each process's descriptors. Empty when the socket's owner cannot be seen (another user's
/// process, as a non-root caller).
pub fn listeners(port: u16) -> Vec<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is field 10.
            let listening = f.get(3) == Some(&"0A");
            let on_port = f
                .get(1)
                .and_then(|a| a.rsplit(':').next())
                .and_then(|p| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listening && on_port {
                if let Some(inode) = f.get(9).filter(|i| **i != "0") {
                    inodes.push(format!("socket:[{inode}]"));
                }
            }
        }
    }
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut owners = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for entry in procs.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|target| inodes.iter().any(|i| target.as_os_str() == i.as_str()))
        });
        if holds {
            owners.push(pid);
        }
    }
    owners
}

/// Runs a check program; one that has not exited within `limit` is killed and counts as a
/// failure. Without the limit a hung check would hold `--wait` past its own timeout forever.
fn exec_ok(argv: &[String], limit: Duration) -> bool {
    let Ok(mut child) = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

fn http_ok(url: &str) -> Option<bool> {
    let (host, port, path) = parse_http_url(url).ok()?;
    let addr = resolve(&host, port)?;
    let mut stream = TcpStream::connect_timeout(&addr, PROBE_TIMEOUT).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(PROBE_TIMEOUT)).ok()?;
    // One write: a request split over several segments may meet a server that answers after
    // its first read and closes, which resets the connection before the answer is read.
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    // The status line may arrive in pieces: read until its end (or EOF), at most 256 bytes.
    let mut head = Vec::new();
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 256 {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let code: u16 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some((200..400).contains(&code))
}

/// Polls until `ready` holds or `timeout` passes, after [`POLL_FIRST`], then doubling pauses
/// up to [`POLL_MAX`]. Returns whether it became ready.
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut backoff = Backoff::new(POLL_FIRST, POLL_MAX);
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(
            backoff
                .pause()
                .min(deadline.saturating_duration_since(Instant::now())),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn pauses_start_short_and_double_up_to_the_ceiling() {
        let mut b = Backoff::new(Duration::from_millis(5), Duration::from_millis(100));
        let pauses: Vec<u128> = (0..8).map(|_| b.pause().as_millis()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 80, 100, 100, 100]);
    }

    #[test]
    fn tcp_probe_sees_a_listener_and_its_absence() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = listener.local_addr().unwrap().to_string();
        assert!(probe(&HealthCheck::Tcp(target.clone())));
        drop(listener);
        assert!(!probe(&HealthCheck::Tcp(target)));
    }

    #[test]
    fn http_probe_reads_the_status_line() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ready", listener.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "503 Service Unavailable"] {
                let (mut conn, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while !request.ends_with(b"\r\n\r\n") {
                    let n = conn.read(&mut buf).unwrap();
                    assert!(n > 0, "the client closed before ending its request");
                    request.extend_from_slice(&buf[..n]);
                }
                write!(conn, "HTTP/1.0 {status}\r\n\r\n").unwrap();
            }
        });
        assert!(probe(&HealthCheck::Http(url.clone())));
        assert!(!probe(&HealthCheck::Http(url)));
        server.join().unwrap();
    }

    #[test]
    fn exec_probe_uses_the_exit_code() {
        assert!(probe(&HealthCheck::Exec(vec!["/bin/true".into()])));
        assert!(!probe(&HealthCheck::Exec(vec!["/bin/false".into()])));
    }

    #[test]
    fn a_hung_exec_probe_is_killed_and_fails() {
        let pidfile = std::env::temp_dir().join(format!("svc-any-hung-{}", std::process::id()));
        let script = format!("echo $$ > {}; exec sleep 30", pidfile.display());
        let argv = vec!["/bin/sh".to_string(), "-c".to_string(), script];
        assert!(!exec_ok(&argv, Duration::from_millis(500)));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        let _ = std::fs::remove_file(&pidfile);
        assert!(
            !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
            "the hung check was left running"
        );
    }
}
