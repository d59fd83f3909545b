//! An isolated builtin-supervisor scope for one test: its own state and runtime directories
//! (so tests run side by side), and a guard that kills its supervisor however the test ends.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::{run, scratch, svc_any, text};

pub struct TestScope {
    pub dir: PathBuf,
}

impl TestScope {
    pub fn new(name: &str) -> TestScope {
        let dir = scratch(&format!("scope-{name}"));
        std::fs::create_dir_all(dir.join("state")).unwrap();
        TestScope { dir }
    }

    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn runtime(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// svc-any pointed at this scope, with detection left to the host (builtin here).
    pub fn cmd(&self) -> Command {
        let mut cmd = svc_any();
        cmd.env("SVC_ANY_STATE_DIR", self.state())
            .env("SVC_ANY_RUNTIME_DIR", self.runtime());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        run(self.cmd().args(args))
    }

    /// Runs and requires success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "svc-any {args:?} failed ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// Writes `NAME.toml` into the scope directory and returns its path.
    pub fn definition(&self, name: &str, toml: &str) -> String {
        let path = self.dir.join(format!("{name}.toml"));
        std::fs::write(&path, toml).unwrap();
        path.display().to_string()
    }

    pub fn status(&self, name: &str) -> (i32, serde_json::Value) {
        let out = self.run(&["status", name, "--json"]);
        let json = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}: {}", text(&out.stdout)));
        (out.status.code().unwrap_or(-1), json)
    }

    /// The first unit's field from `status --json`.
    pub fn field(&self, name: &str, field: &str) -> serde_json::Value {
        self.status(name).1["services"][0][field].clone()
    }

    /// The supervisor's pid, from the processes that name this scope.
    pub fn supervisor_pid(&self) -> Option<u32> {
        let needle = format!("--runtime-dir {}", self.runtime().display());
        std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            (cmdline.contains("supervisor") && cmdline.contains(&needle)).then_some(pid)
        })
    }

    pub fn log(&self, unit: &str) -> PathBuf {
        self.state().join("logs").join(format!("{unit}.log"))
    }
}

impl Drop for TestScope {
    fn drop(&mut self) {
        if let Some(pid) = self.supervisor_pid() {
            // Its services die with it (their parent-death signal).
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Polls `check` every 10 ms until it holds; false after `timeout`.
pub fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if check() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether something accepts TCP connections on 127.0.0.1:port.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(500))
        .is_ok()
}

/// Processes whose command line contains `needle`.
pub fn processes_matching(needle: &str) -> Vec<u32> {
    let me = std::process::id();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            (pid != me
                && String::from_utf8_lossy(&cmdline)
                    .replace('\0', " ")
                    .contains(needle))
            .then_some(pid)
        })
        .collect()
}
