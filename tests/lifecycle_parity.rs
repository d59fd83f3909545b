//! One definition, one meaning, on every Linux backend: health-checked start, clean stop and
//! restart policy, driven by the same steps on real systemd, OpenRC and sysvinit (each PID 1 of
//! its own container) and on the builtin supervisor of this machine.
//!
//! The driver below knows nothing of any manager. A backend contributes how to reach it (a
//! container or a local scope), where OpenRC differs from the table (README: "Restart policy,
//! per backend"), and how to ask the manager itself whether it agrees with `svc-any status`.
//! Every outcome is polled for; nothing waits a fixed time.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::container::{enabled, Container};
use common::probe::SHARE;
use common::scope::TestScope;
use common::{fixtures, text};

/// Where svc-any and the services run.
enum Host {
    Box(Container),
    Local(TestScope),
}

impl Host {
    fn svc_any(&self, args: &[&str]) -> Output {
        match self {
            Host::Box(c) => c.svc_any(args),
            Host::Local(s) => common::run(s.cmd().env("SVC_ANY_BACKEND", "builtin").args(args)),
        }
    }

    fn sh(&self, script: &str) -> Output {
        match self {
            Host::Box(c) => c.sh(script),
            Host::Local(_) => Command::new("sh")
                .args(["-c", script])
                .stdin(Stdio::null())
                .output()
                .unwrap(),
        }
    }

    fn sh_out(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(out.status.success(), "`{script}`: {}", text(&out.stderr));
        text(&out.stdout).trim().to_string()
    }

    /// The test fixtures, as the services see them.
    fn share(&self) -> String {
        match self {
            Host::Box(_) => SHARE.to_string(),
            Host::Local(_) => fixtures().display().to_string(),
        }
    }

    /// A directory of this test's own for ready files.
    fn scratch(&self) -> String {
        match self {
            Host::Box(_) => "/run".to_string(),
            Host::Local(s) => s.dir.display().to_string(),
        }
    }

    /// Writes the definition of `name` and returns its path.
    fn define(&self, name: &str, toml: &str) -> String {
        match self {
            Host::Box(c) => {
                common::probe::put_definition(c, name, toml);
                format!("/etc/svc-any/{name}.toml")
            }
            Host::Local(s) => s.definition(name, toml),
        }
    }

    fn status(&self, name: &str) -> (i32, serde_json::Value) {
        let out = self.svc_any(&["status", name, "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json {name}: {e}: {}", text(&out.stdout)));
        (out.status.code().unwrap_or(-1), json["services"][0].clone())
    }

    fn ok(&self, args: &[&str]) -> String {
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
}

/// What a test does to the running process.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Kill9,
    /// The process exits by itself with this code (the actor's signal handlers).
    Exit(i32),
}

/// What happens next, as `svc-any status` must report it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// A new process runs.
    Restarted,
    /// Nothing comes back; the state it settles in.
    Stays(&'static str),
}

use Action::*;
use Outcome::*;

/// Restart policy, as README's definition promises it. Every service of the table also lists
/// `success_exit_codes = [3]`.
const RESTART_TABLE: &[(&str, Action, Outcome)] = &[
    ("no", Kill9, Stays("dead")),
    ("no", Exit(0), Stays("stopped")),
    ("no", Exit(1), Stays("dead")),
    ("no", Exit(3), Stays("stopped")),
    ("on-failure", Kill9, Restarted),
    ("on-failure", Exit(0), Stays("stopped")),
    ("on-failure", Exit(1), Restarted),
    ("on-failure", Exit(3), Stays("stopped")),
    ("always", Kill9, Restarted),
    ("always", Exit(0), Restarted),
    ("always", Exit(1), Restarted),
    ("always", Exit(3), Restarted),
];

/// One backend's part: how to reach it, where it departs from the table, and the manager's own
/// view of a unit.
struct Backend {
    name: &'static str,
    /// The expected outcome, given the table's.
    restart: fn(Outcome) -> Outcome,
    /// Whether `status` can say how the process ended (OpenRC keeps no exit status).
    reports_last_exit: bool,
    /// Asserts that the manager itself agrees with svc-any's `state` and `pid` for `unit`.
    native: fn(&Host, &str, &str, Option<u64>),
}

fn as_table(o: Outcome) -> Outcome {
    o
}

/// supervise-daemon respawns after every exit, whatever the policy (README, "What OpenRC gets").
fn openrc_respawns_always(_: Outcome) -> Outcome {
    Restarted
}

fn systemd_native(h: &Host, unit: &str, state: &str, pid: Option<u64>) {
    let show = h.sh_out(&format!(
        "systemctl show -p ActiveState -p MainPID --value {unit}"
    ));
    let mut lines = show.lines();
    let (main_pid, active) = (lines.next().unwrap_or(""), lines.next().unwrap_or(""));
    let want = match state {
        "running" => "active",
        "stopped" => "inactive",
        "dead" | "failed" => "failed",
        other => panic!("no systemd equivalent of {other}"),
    };
    assert_eq!(
        active, want,
        "systemd's ActiveState of {unit} (svc-any: {state})"
    );
    if let Some(pid) = pid {
        assert_eq!(main_pid, pid.to_string(), "systemd's MainPID of {unit}");
    }
}

fn openrc_native(h: &Host, unit: &str, state: &str, pid: Option<u64>) {
    let code = h
        .sh(&format!("rc-service {unit} status"))
        .status
        .code()
        .unwrap_or(-1);
    let want = match state {
        "running" => 0,
        "stopped" => 3,
        other => panic!("the table never leaves an OpenRC service {other}"),
    };
    assert_eq!(code, want, "rc-service {unit} status (svc-any: {state})");
    if let Some(pid) = pid {
        assert_eq!(
            h.sh_out(&format!("cat /run/openrc/options/{unit}/child_pid")),
            pid.to_string(),
            "supervise-daemon's child of {unit}"
        );
    }
}

fn sysv_native(h: &Host, unit: &str, state: &str, pid: Option<u64>) {
    // The LSB script is what sysvinit and an administrator use.
    let code = h
        .sh(&format!("/etc/init.d/{unit} status"))
        .status
        .code()
        .unwrap_or(-1);
    let want = match state {
        "running" => 0,
        "stopped" => 3,
        "dead" | "failed" => 1,
        other => panic!("no LSB code for {other}"),
    };
    assert_eq!(code, want, "/etc/init.d/{unit} status (svc-any: {state})");
    if let Some(pid) = pid {
        assert!(h.sh(&format!("kill -0 {pid}")).status.success());
    }
}

fn builtin_native(h: &Host, unit: &str, state: &str, pid: Option<u64>) {
    // The supervisor's own record on disk: RUN/pids/UNIT exists exactly while the unit runs.
    let Host::Local(scope) = h else {
        unreachable!()
    };
    let record = std::fs::read_to_string(scope.runtime().join("pids").join(unit));
    match (state, pid) {
        ("running", Some(pid)) => assert!(
            record
                .as_deref()
                .is_ok_and(|r| r.starts_with(&format!("{pid} "))),
            "pids/{unit}: {record:?}, want {pid}"
        ),
        _ => assert!(record.is_err(), "pids/{unit} left while {state}"),
    }
}

fn actor(h: &Host, args: &str) -> String {
    format!(
        "exec = [\"/usr/bin/python3\", \"{}/lifecycle/actor.py\", {args}]\n",
        h.share()
    )
}

fn q(s: &str) -> String {
    format!("\"{s}\"")
}

fn ready_file(h: &Host, name: &str) -> String {
    format!("{}/life-{name}.ready", h.scratch())
}

/// Polls `check` every 100 ms; panics with `what` after `limit`.
fn poll<T>(limit: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until the process svc-any reports for `name` has written its pid to its ready file:
/// its signal handlers are in place, so a signal now means what the test says.
fn ready_pid(h: &Host, name: &str) -> u64 {
    let file = ready_file(h, name);
    poll(Duration::from_secs(15), &format!("{name} ready"), || {
        let (_, s) = h.status(name);
        let pid = s["pid"].as_u64()?;
        let written = h.sh(&format!("cat {file}"));
        (s["state"] == "running" && text(&written.stdout).trim() == pid.to_string()).then_some(pid)
    })
}

fn timed(label: &str, started: Instant) {
    println!("{label}: {:.1}s", started.elapsed().as_secs_f64());
}

/// Part 1: `--wait` returns 0 only once the check passes (tcp, http, exec), and on timeout stops
/// the service, shows its last log lines and exits 1. Without a check: up and stable.
fn health_checked_start(h: &Host, b: &Backend) {
    let started = Instant::now();
    let checks = [
        ("htcp", 18761, "tcp = \"127.0.0.1:18761\"".to_string()),
        (
            "hhttp",
            18762,
            "http = \"http://127.0.0.1:18762/ready\"".to_string(),
        ),
        (
            "hexec",
            18763,
            format!(
                "exec = [\"/bin/sh\", \"-c\", \"test -s {}\"]",
                ready_file(h, "hexec")
            ),
        ),
    ];
    for (name, port, check) in &checks {
        let def = h.define(
            name,
            &format!(
                "{}[health]\n{check}\ntimeout = \"20s\"\n",
                actor(
                    h,
                    &format!(
                        "\"--ready-after\", \"1\", \"--port\", \"{port}\", \"--ready-file\", {}",
                        q(&ready_file(h, name))
                    )
                )
            ),
        );
        let out = h.ok(&["install", name, "-f", &def, "--start", "--wait"]);
        assert!(out.contains(&format!("{name} is healthy")), "{out}");
        // Returned only once ready: the service answers now, with no further waiting.
        assert!(
            h.sh(&format!("test -s {}", ready_file(h, name)))
                .status
                .success(),
            "{}: --wait returned before the service was ready",
            b.name
        );
        let (code, s) = h.status(name);
        assert_eq!((code, s["state"].as_str()), (0, Some("running")));
        (b.native)(h, name, "running", s["pid"].as_u64());
    }
    timed(
        &format!("{}: three checks passed after a delay", b.name),
        started,
    );

    // Never healthy: exit 1 after --wait's limit, its last words shown, stopped afterwards.
    let started = Instant::now();
    let def = h.define(
        "hnever",
        &format!(
            "{}[health]\ntcp = \"127.0.0.1:18764\"\n",
            actor(h, "\"--never-ready\", \"--port\", \"18764\"")
        ),
    );
    let out = h.svc_any(&["install", "hnever", "-f", &def, "--start", "--wait=3"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("hnever did not become ready within 3s"),
        "{stderr}"
    );
    assert!(
        format!("{stdout}{stderr}").contains("warming up, and never ready"),
        "{}: the last log lines are not shown:\n{stdout}{stderr}",
        b.name
    );
    // svc-any stopped it itself, so the manager says stopped; svc-any still says failed.
    let (code, s) = h.status("hnever");
    assert_eq!((code, s["state"].as_str()), (1, Some("failed")), "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("did not become ready"),
        "{s}"
    );
    (b.native)(h, "hnever", "stopped", None);
    assert!(
        // The share path keeps a local run from seeing the containers' actors (their paths
        // differ), which the host's process table also lists.
        !h.sh(&format!(
            "pgrep -f '{}/lifecycle/[a]ctor.py --never-ready'",
            h.share()
        ))
        .status
        .success(),
        "the never-ready process still runs"
    );
    timed(&format!("{}: never healthy, --wait=3", b.name), started);
}

/// Part 2: death by the stop signal is a clean stop: 143 from a TERM trap, TERM itself, and a
/// custom stop_signal (INT) that kills the process. Also: `--wait` without a health check.
fn clean_stop(h: &Host, b: &Backend) {
    let started = Instant::now();
    let cases = [
        (
            "cjvm",
            "\"--on-term\", \"exit143\"",
            "",
            Some(("exited", "143")),
        ),
        (
            "cterm",
            "\"--tag\", \"cterm\"",
            "",
            Some(("killed", "TERM")),
        ),
        (
            "cint",
            "\"--tag\", \"cint\"",
            "stop_signal = \"INT\"\n",
            Some(("killed", "INT")),
        ),
    ];
    for (name, args, extra, last) in cases {
        let def = h.define(name, &format!("{}{extra}", actor(h, args)));
        let out = h.ok(&["install", name, "-f", &def, "--start", "--wait=10"]);
        assert!(out.contains(&format!("{name} is up")), "{out}");
        let (_, s) = h.status(name);
        let pid = s["pid"].as_u64().expect("a running pid");
        h.ok(&["stop", name]);
        let (code, s) = h.status(name);
        assert_eq!(
            (code, s["state"].as_str()),
            (3, Some("stopped")),
            "{}: {name} after stop: {s}",
            b.name
        );
        (b.native)(h, name, "stopped", None);
        assert!(!h.sh(&format!("kill -0 {pid}")).status.success());
        if b.reports_last_exit {
            let (how, what) = last.unwrap();
            let e = &s["last_exit"];
            assert_eq!(e["how"], how, "{}: {name}: {s}", b.name);
            let got = if how == "exited" {
                e["code"].to_string()
            } else {
                e["signal"].as_str().unwrap_or_default().to_string()
            };
            assert_eq!(got, what, "{}: {name}: {s}", b.name);
        }
    }
    timed(&format!("{}: three clean stops", b.name), started);
}

/// Part 3: the table, on this backend. One service per policy; each action is done to all three
/// at once, then every outcome is polled for.
fn restart_parity(h: &Host, b: &Backend) {
    let policies = ["no", "on-failure", "always"];
    let unit = |policy: &str| format!("r{}", policy.replace('-', ""));
    for policy in policies {
        let name = unit(policy);
        let def = h.define(
            &name,
            &format!(
                "{}restart = \"{policy}\"\nrestart_delay = \"1s\"\nrestart_max_delay = \"2s\"\nrestart_limit = 0\nsuccess_exit_codes = [3]\n",
                actor(h, &format!("\"--ready-file\", {}", q(&ready_file(h, &name))))
            ),
        );
        h.ok(&["install", &name, "-f", &def, "--start"]);
    }
    for action in [Kill9, Exit(0), Exit(1), Exit(3)] {
        let started = Instant::now();
        let mut before = Vec::new();
        for policy in policies {
            let name = unit(policy);
            let pid = ready_pid(h, &name);
            let restarts = h.status(&name).1["restarts"].as_u64();
            let signal = match action {
                Kill9 => "KILL",
                Exit(0) => "USR1",
                Exit(1) => "USR2",
                Exit(3) => "HUP",
                Exit(other) => panic!("the actor has no way to exit {other}"),
            };
            h.sh_out(&format!("kill -s {signal} {pid}"));
            before.push((policy, name, pid, restarts));
        }
        let mut bring_back = Vec::new();
        for (policy, name, pid, restarts) in before {
            let want = RESTART_TABLE
                .iter()
                .find(|(p, a, _)| *p == policy && *a == action)
                .map(|(_, _, o)| (b.restart)(*o))
                .unwrap();
            let (got, s) = poll(
                Duration::from_secs(15),
                &format!("{}: {name} after {action:?}", b.name),
                || {
                    let (_, s) = h.status(&name);
                    let state = s["state"].as_str()?.to_string();
                    match (state.as_str(), s["pid"].as_u64()) {
                        ("running", Some(p)) if p != pid => Some((Restarted, s)),
                        ("stopped", _) => Some((Stays("stopped"), s)),
                        ("dead", _) => Some((Stays("dead"), s)),
                        ("failed", _) => Some((Stays("failed"), s)),
                        _ => None,
                    }
                },
            );
            assert_eq!(
                got, want,
                "{}: restart = \"{policy}\", {action:?}: {s}",
                b.name
            );
            let state = s["state"].as_str().unwrap();
            (b.native)(h, &name, state, s["pid"].as_u64());
            match got {
                Restarted => {
                    if let (Some(old), Some(new)) = (restarts, s["restarts"].as_u64()) {
                        assert!(new > old, "{}: {name}: restarts {old} -> {new}", b.name);
                    }
                }
                Stays(_) => {
                    if b.reports_last_exit {
                        let want = match action {
                            Kill9 => serde_json::json!({"how": "killed", "signal": "KILL"}),
                            Exit(code) => serde_json::json!({"how": "exited", "code": code}),
                        };
                        assert_eq!(s["last_exit"], want, "{}: {name}", b.name);
                    }
                    bring_back.push(name);
                }
            }
            println!("{}: restart = {policy:<10} {action:?}: {got:?}", b.name);
        }
        if !bring_back.is_empty() {
            let mut args = vec!["start"];
            args.extend(bring_back.iter().map(String::as_str));
            h.ok(&args);
        }
        timed(&format!("{}: {action:?} on every policy", b.name), started);
    }
}

fn drive(h: &Host, b: &Backend) {
    let started = Instant::now();
    health_checked_start(h, b);
    clean_stop(h, b);
    restart_parity(h, b);
    timed(&format!("{}: everything", b.name), started);
}

fn in_container(profile: &str, instance: &str, b: &Backend) {
    let booted = Instant::now();
    let c = Container::boot(profile, instance);
    timed(&format!("{}: boot", b.name), booted);
    assert_eq!(c.sh_out("svc-any detect"), b.name);
    drive(&Host::Box(c), b);
}

#[test]
fn lifecycle_parity_on_real_systemd() {
    if !enabled("lifecycle_parity_on_real_systemd") {
        return;
    }
    let b = Backend {
        name: "systemd",
        restart: as_table,
        reports_last_exit: true,
        native: systemd_native,
    };
    in_container("systemd", "life-sd", &b);
}

#[test]
fn lifecycle_parity_on_real_openrc() {
    if !enabled("lifecycle_parity_on_real_openrc") {
        return;
    }
    let b = Backend {
        name: "openrc",
        restart: openrc_respawns_always,
        reports_last_exit: false,
        native: openrc_native,
    };
    in_container("openrc", "life-rc", &b);
}

#[test]
fn lifecycle_parity_on_real_sysvinit() {
    if !enabled("lifecycle_parity_on_real_sysvinit") {
        return;
    }
    let b = Backend {
        name: "sysv",
        restart: as_table,
        reports_last_exit: true,
        native: sysv_native,
    };
    in_container("sysv", "life-sysv", &b);
}

#[test]
fn lifecycle_parity_under_the_builtin_supervisor() {
    let b = Backend {
        name: "builtin",
        restart: as_table,
        reports_last_exit: true,
        native: builtin_native,
    };
    let scope = TestScope::new("life-parity");
    assert!(
        Path::new("/usr/bin/python3").exists(),
        "the actor needs python3"
    );
    drive(&Host::Local(scope), &b);
}
