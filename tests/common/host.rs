//! Where a conformance scenario runs: a container whose PID 1 is a real init system
//! (tests/harness/box.sh), or a scope of svc-any's own supervisor on this machine. Scenarios
//! reach svc-any, a shell and the services' files only through `Host`, so one scenario runs on
//! both unchanged; what a manager itself says is the backend adapter's part (backend.rs).

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::container::Container;
use super::probe::{self, SHARE};
use super::scope::{eventually, TestScope};
use super::{bin, fixtures, text};

pub enum Host {
    Box(Container),
    Local(TestScope),
}

/// An account other than root that services may run as.
pub struct Account {
    pub name: &'static str,
    pub uid: u64,
    pub gid: u64,
}

impl Host {
    /// A fresh builtin scope on this machine for the test `tag`. Its scratch directory is
    /// writable by everyone, as /tmp is in a container: services that run as another user
    /// write their records there.
    pub fn local(tag: &str) -> Host {
        assert!(
            std::path::Path::new("/usr/bin/python3").exists(),
            "the services need python3"
        );
        let scope = TestScope::new(&format!("conf-{tag}"));
        let scratch = scope.dir.join("tmp");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::set_permissions(
            &scratch,
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        Host::Local(scope)
    }

    pub fn svc_any(&self, args: &[&str]) -> Output {
        match self {
            Host::Box(c) => c.svc_any(args),
            // From the definitions' directory, so `install NAME` finds ./NAME.toml as it
            // finds /etc/svc-any/NAME.toml in a container.
            Host::Local(s) => super::run(s.cmd().current_dir(&s.dir).args(args)),
        }
    }

    /// svc-any, which must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.svc_any(args);
        assert!(
            out.status.success(),
            "svc-any {args:?} ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// A shell snippet where the services run. On this machine `svc-any` (and flap.sh's
    /// `$SVC_ANY`) is the scope's, as it is the container's inside one.
    pub fn sh(&self, script: &str) -> Output {
        match self {
            Host::Box(c) => c.sh(script),
            Host::Local(s) => {
                let dir = bin().parent().unwrap().to_path_buf();
                let path = format!(
                    "{}:{}",
                    dir.display(),
                    std::env::var("PATH").unwrap_or_default()
                );
                Command::new("sh")
                    .args(["-c", script])
                    .env("PATH", path)
                    .env("SVC_ANY", bin())
                    .env("SVC_ANY_STATE_DIR", s.state())
                    .env("SVC_ANY_RUNTIME_DIR", s.runtime())
                    .env("HOME", "/home/test")
                    .env_remove("SVC_ANY_BACKEND")
                    .stdin(Stdio::null())
                    .output()
                    .unwrap()
            }
        }
    }

    /// The snippet's trimmed stdout; panics if it fails.
    pub fn sh_out(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    pub fn succeeds(&self, script: &str) -> bool {
        self.sh(script).status.success()
    }

    /// Polls `script` until it succeeds; false after `timeout`.
    pub fn wait_for(&self, timeout: Duration, script: &str) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.succeeds(script) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Runs a program with exactly these arguments (no shell between): for paths a shell
    /// would split or expand.
    pub fn exec(&self, argv: &[&str]) -> Output {
        match self {
            Host::Box(c) => c.exec(argv),
            Host::Local(_) => Command::new(argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        }
    }

    /// `svc-any status NAME --json`: its exit code and every unit's entry.
    pub fn statuses(&self, name: &str) -> (i32, Vec<serde_json::Value>) {
        let out = self.svc_any(&["status", name, "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "status --json {name}: {e}: {}{}",
                text(&out.stdout),
                text(&out.stderr)
            )
        });
        let units = json["services"].as_array().cloned().unwrap_or_default();
        (out.status.code().unwrap_or(-1), units)
    }

    /// The exit code and the first unit's entry.
    pub fn status(&self, name: &str) -> (i32, serde_json::Value) {
        let (code, units) = self.statuses(name);
        (code, units.into_iter().next().unwrap_or_default())
    }

    /// The test fixtures, as the services see them.
    pub fn share(&self) -> String {
        match self {
            Host::Box(_) => SHARE.to_string(),
            Host::Local(_) => fixtures().display().to_string(),
        }
    }

    /// A directory every user may write, which outlives a reboot: records, ready files, the
    /// web server's documents. On this machine it is the test's own, so its paths also tell
    /// this test's processes from everyone else's.
    pub fn scratch(&self) -> String {
        match self {
            Host::Box(_) => "/tmp".into(),
            Host::Local(s) => s.dir.join("tmp").display().to_string(),
        }
    }

    /// svc-any's state directory (records, the builtin supervisor's definitions).
    pub fn state_dir(&self) -> String {
        match self {
            Host::Box(_) => "/var/lib/svc-any".into(),
            Host::Local(s) => s.state().display().to_string(),
        }
    }

    /// The builtin supervisor's runtime directory (socket, pids).
    pub fn runtime_dir(&self) -> String {
        match self {
            Host::Box(_) => "/run/svc-any".into(),
            Host::Local(s) => s.runtime().display().to_string(),
        }
    }

    /// Writes the definition of `name` where `install NAME` looks for it; returns its path.
    pub fn define(&self, name: &str, toml: &str) -> String {
        match self {
            Host::Box(c) => {
                let path = format!("/etc/svc-any/{name}.toml");
                c.write_files(&[(path.clone(), toml.to_string())]);
                path
            }
            Host::Local(s) => s.definition(name, toml),
        }
    }

    /// Removes what `define` wrote, and /etc/svc-any with its last definition: it is not
    /// svc-any's, and a clean uninstall is compared against a system without it.
    pub fn undefine(&self, name: &str) {
        match self {
            Host::Box(c) => {
                c.sh_out(&format!(
                    "rm -f /etc/svc-any/{name}.toml && {{ rmdir /etc/svc-any 2>/dev/null || true; }}"
                ));
            }
            Host::Local(s) => std::fs::remove_file(s.dir.join(format!("{name}.toml"))).unwrap(),
        }
    }

    /// `mkdir -p` of every path, each exactly as given.
    pub fn mkdirs(&self, paths: &[String]) {
        let mut argv = vec!["mkdir", "-p"];
        argv.extend(paths.iter().map(String::as_str));
        let out = self.exec(&argv);
        assert!(out.status.success(), "mkdir: {}", text(&out.stderr));
    }

    /// A probe's record (tests/fixtures/probe.py).
    pub fn record(&self, path: &str) -> serde_json::Value {
        serde_json::from_str(&self.sh_out(&format!("cat '{path}'"))).unwrap()
    }

    /// Every probe record in `dir` (`NAME.json`), by NAME.
    pub fn records(&self, dir: &str) -> BTreeMap<String, serde_json::Value> {
        match self {
            Host::Box(c) => probe::records(c, dir),
            Host::Local(_) => probe::local_records(std::path::Path::new(dir)),
        }
    }

    /// Whether `http://127.0.0.1:PORT/` answers 200 where the services run.
    pub fn http_ok(&self, port: u16) -> bool {
        self.succeeds(&format!(
            "python3 -c 'import urllib.request,sys; sys.exit(urllib.request.urlopen(\"http://127.0.0.1:{port}/\", timeout=2).status != 200)'"
        ))
    }

    pub fn wait_http(&self, port: u16, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.http_ok(port) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Whether something accepts TCP connections on 127.0.0.1:PORT.
    pub fn listening(&self, port: u16) -> bool {
        self.succeeds(&format!(
            "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)'"
        ))
    }

    /// How many processes of this host's own PID namespace match the extended regular
    /// expression `pattern`: on this machine, the containers' processes are not counted.
    /// No shell runs pgrep, since its command line would hold the pattern too. In a container
    /// /proc holds its processes only, and Python reads it: the busybox tree has no procps.
    pub fn processes(&self, pattern: &str) -> usize {
        if let Host::Box(c) = self {
            return count_in_proc(c, pattern);
        }
        let ns = std::process::id().to_string();
        let out = self.exec(&["pgrep", "--ns", &ns, "--nslist", "pid", "-fc", pattern]);
        // Exit 1: none.
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "pgrep: {}",
            text(&out.stderr)
        );
        text(&out.stdout).trim().parse().unwrap()
    }

    /// The pid of svc-any's supervisor of this host's services, if one runs.
    pub fn supervisor_pid(&self) -> Option<u32> {
        match self {
            Host::Box(c) => c
                .sh_out("pgrep -f '^[^ ]*svc-any supervisor' || true")
                .parse()
                .ok(),
            Host::Local(s) => s.supervisor_pid(),
        }
    }

    /// How many svc-any supervisors serve this host's services.
    pub fn supervisors(&self) -> usize {
        match self {
            Host::Box(c) => count_in_proc(c, "svc-any supervisor").to_string(),
            Host::Local(s) => usize::from(s.supervisor_pid().is_some()).to_string(),
        }
        .parse()
        .unwrap()
    }

    /// A container: clean shutdown and boot with its disk kept. The builtin scope: its
    /// supervisor killed with 9, as a power cut would, its runtime directory emptied, and
    /// `svc-any supervisor --boot` run, as an `@reboot` line would: it starts the enabled
    /// services.
    pub fn reboot(&self) {
        match self {
            Host::Box(c) => c.reboot(),
            Host::Local(s) => {
                let pid = s.supervisor_pid().expect("a supervisor runs");
                nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                )
                .unwrap();
                assert!(
                    eventually(Duration::from_secs(5), || s.supervisor_pid().is_none()),
                    "the supervisor survived kill -9"
                );
                // A reboot empties the runtime directory; with no init, what boots the
                // supervisor is the @reboot line the README gives: `supervisor --boot`.
                let _ = std::fs::remove_dir_all(s.runtime());
                let mut boot = s
                    .cmd()
                    .arg("supervisor")
                    .arg("--boot")
                    .arg("--state-dir")
                    .arg(s.state())
                    .arg("--runtime-dir")
                    .arg(s.runtime())
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn()
                    .expect("svc-any supervisor --boot runs");
                // It runs until its services are gone; reap it then, whenever that is.
                std::thread::spawn(move || boot.wait());
            }
        }
    }

    /// The account services may run as besides root: none where the tests are not root.
    pub fn other_user(&self) -> Option<Account> {
        match self {
            Host::Box(_) => Some(Account {
                name: "alice",
                uid: 1000,
                gid: 1000,
            }),
            Host::Local(_) => nix::unistd::geteuid().is_root().then_some(Account {
                name: "nobody",
                uid: 65534,
                gid: 65534,
            }),
        }
    }

    /// How late an observation may come after the event, beyond what the manager itself
    /// takes: every look into a container is a process started through nsenter.
    pub fn slack(&self) -> Duration {
        match self {
            Host::Box(_) => Duration::from_secs(3),
            Host::Local(_) => Duration::from_millis(700),
        }
    }

    /// Where the whole system's state lives, for "uninstall leaves nothing", and what in it
    /// is no one's business but the host's: login records and leases are touched by whatever
    /// logs in or boots.
    pub fn system(&self) -> (Vec<String>, Vec<String>) {
        match self {
            Host::Box(_) => (
                vec!["/etc".into(), "/run".into(), "/var/lib".into()],
                vec!["/run/utmp".into(), "/var/lib/dhcp".into()],
            ),
            Host::Local(_) => (vec![self.state_dir(), self.runtime_dir()], self.logs()),
        }
    }

    /// The services' logs where they lie in the state directory (a scope on this machine;
    /// the system's go to /var/log): they may stay after uninstall, as /var/log does.
    pub fn logs(&self) -> Vec<String> {
        match self {
            Host::Box(_) => vec![],
            Host::Local(s) => vec![s.state().join("logs").display().to_string()],
        }
    }

    /// `find` below `roots` (missing ones are empty) with `prune`d paths left out, one
    /// `-printf` line per entry, sorted.
    pub fn find(&self, roots: &[String], prune: &[String], format: &str) -> String {
        self.sh_out(&format!(
            "{FIND} {} {} -printf '{format}' 2>/dev/null | sort",
            quoted(roots),
            pruned(prune)
        ))
    }

    /// Paths, kinds, modes, owners and link targets, then the content hash of every file.
    pub fn hashed(&self, roots: &[String], prune: &[String]) -> String {
        let listing = self.find(roots, prune, "%p %y %m %U:%G %l\\n");
        let hashes = self.sh_out(&format!(
            "{FIND} {} {} -type f -print0 2>/dev/null | xargs -0 -r sha256sum | sort -k2",
            quoted(roots),
            pruned(prune)
        ));
        format!("{listing}\n{hashes}")
    }
}

/// How many processes in the container `c` have a command line (arguments joined by blanks, as
/// pgrep -f reads it) that `pattern`, a regular expression, matches; the counter not counted.
fn count_in_proc(c: &Container, pattern: &str) -> usize {
    let script = r#"
import os, re, sys
want, me, n = re.compile(sys.argv[1]), os.getpid(), 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        argv = open("/proc/%s/cmdline" % pid, "rb").read()
    except OSError:
        continue
    line = argv.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    n += int(pid) != me and bool(argv) and bool(want.search(line))
print(n)
"#;
    let out = c.exec(&["python3", "-c", script, pattern]);
    assert!(
        out.status.success(),
        "counting processes: {}",
        text(&out.stderr)
    );
    text(&out.stdout).trim().parse().unwrap()
}

/// GNU find by its path: its `-printf` is what the listings are made of, and in the busybox
/// tree busybox's find, which has none, comes first on PATH.
const FIND: &str = "/usr/bin/find";

/// The `find` expression that skips `paths` and what is below them.
fn pruned(paths: &[String]) -> String {
    if paths.is_empty() {
        return String::new();
    }
    let tests: Vec<String> = paths.iter().map(|p| format!("-path '{p}'")).collect();
    format!("\\( {} \\) -prune -o", tests.join(" -o "))
}

fn quoted(paths: &[String]) -> String {
    paths
        .iter()
        .map(|p| format!("'{p}'"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Polls `check` every 50 ms until it gives a value; panics with `what` after `limit`.
pub fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
