//! One definition, one meaning: health-checked start, clean stop and the restart policy table
//! (README, "Lifecycle"), each case followed by asking the manager itself whether it agrees
//! with `svc-any status`. The service is tests/fixtures/lifecycle/actor.py, whose behaviour
//! the definition picks with arguments, so every backend runs the very same program.

use std::time::{Duration, Instant};

use crate::common::backend::{Backend, Outcome};
use crate::common::host::{poll, Host};
use crate::common::text;

use Outcome::*;

/// What a test does to the running process.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Action {
    Kill9,
    /// The process exits by itself with this code (the actor's signal handlers).
    Exit(i32),
}

use Action::*;

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

/// `--wait` returns 0 only once the check passes (tcp, http, exec), and on timeout stops the
/// service, shows its last log lines and exits 1. Without a check: up and stable.
pub fn health_wait(h: &Host, b: &dyn Backend) {
    let started = Instant::now();
    let checks = [
        ("htcp", 18861, "tcp = \"127.0.0.1:18861\"".to_string()),
        (
            "hhttp",
            18862,
            "http = \"http://127.0.0.1:18862/ready\"".to_string(),
        ),
        (
            "hexec",
            18863,
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
            h.succeeds(&format!("test -s {}", ready_file(h, name))),
            "{}: --wait returned before the service was ready",
            b.name()
        );
        let (code, s) = h.status(name);
        assert_eq!((code, s["state"].as_str()), (0, Some("running")));
        b.agrees(h, name, &s);
    }
    timed(
        &format!("{}: three checks passed after a delay", b.name()),
        started,
    );

    // Never healthy: exit 1 after --wait's limit, its last words shown, stopped afterwards.
    let started = Instant::now();
    let def = h.define(
        "hnever",
        &format!(
            "{}[health]\ntcp = \"127.0.0.1:18864\"\n",
            actor(h, "\"--never-ready\", \"--port\", \"18864\"")
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
        b.name()
    );
    // svc-any stopped it itself, so the manager says stopped; svc-any still says failed, and
    // why, until the next start.
    let (code, s) = h.status("hnever");
    assert_eq!((code, s["state"].as_str()), (1, Some("failed")), "{s}");
    assert!(
        s["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("did not become ready"),
        "{s}"
    );
    // Where svc-any's supervisor is the manager (the LSB script asks it), that is what the
    // manager says too; elsewhere the manager says stopped.
    let mut as_the_manager_sees_it = s.clone();
    if !b.supervised_by_svc_any() {
        as_the_manager_sees_it["state"] = "stopped".into();
        as_the_manager_sees_it["reason"] = serde_json::Value::Null;
    }
    b.agrees(h, "hnever", &as_the_manager_sees_it);
    assert_eq!(
        // The share path keeps this machine's count to its own actors: the containers'
        // run from another path.
        h.processes(&format!("{}/lifecycle/actor.py --never-ready", h.share())),
        0,
        "the never-ready process still runs"
    );
    timed(&format!("{}: never healthy, --wait=3", b.name()), started);
}

/// Death by the stop signal is a clean stop: 143 from a TERM trap, TERM itself, and a custom
/// stop_signal (INT) that kills the process. Also: `--wait` without a health check.
pub fn clean_stop(h: &Host, b: &dyn Backend) {
    let started = Instant::now();
    let cases = [
        ("cjvm", "\"--on-term\", \"exit143\"", "", ("exited", "143")),
        ("cterm", "\"--tag\", \"cterm\"", "", ("killed", "TERM")),
        (
            "cint",
            "\"--tag\", \"cint\"",
            "stop_signal = \"INT\"\n",
            ("killed", "INT"),
        ),
    ];
    for (name, args, extra, (how, what)) in cases {
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
            b.name()
        );
        b.agrees(h, name, &s);
        assert!(!h.succeeds(&format!("kill -0 {pid}")));
        if b.knows_last_exit(false) {
            let e = &s["last_exit"];
            assert_eq!(e["how"], how, "{}: {name}: {s}", b.name());
            let got = if how == "exited" {
                e["code"].to_string()
            } else {
                e["signal"].as_str().unwrap_or_default().to_string()
            };
            assert_eq!(got, what, "{}: {name}: {s}", b.name());
        }
    }
    timed(&format!("{}: three clean stops", b.name()), started);
}

/// The table, on this backend. One service per policy; each action is done to all three at
/// once, then every outcome is polled for.
pub fn restart_table(h: &Host, b: &dyn Backend) {
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
                .map(|(_, _, o)| b.restart(*o))
                .unwrap();
            let (got, s) = poll(
                Duration::from_secs(15),
                &format!("{}: {name} after {action:?}", b.name()),
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
                got,
                want,
                "{}: restart = \"{policy}\", {action:?}: {s}",
                b.name()
            );
            b.agrees(h, &name, &s);
            match got {
                Restarted => {
                    if let (Some(old), Some(new)) = (restarts, s["restarts"].as_u64()) {
                        assert!(new > old, "{}: {name}: restarts {old} -> {new}", b.name());
                    }
                }
                Stays(_) => {
                    if b.knows_last_exit(false) {
                        let want = match action {
                            Kill9 => serde_json::json!({"how": "killed", "signal": "KILL"}),
                            Exit(code) => serde_json::json!({"how": "exited", "code": code}),
                        };
                        assert_eq!(s["last_exit"], want, "{}: {name}", b.name());
                    }
                    bring_back.push(name);
                }
            }
            println!("{}: restart = {policy:<10} {action:?}: {got:?}", b.name());
        }
        if !bring_back.is_empty() {
            let mut args = vec!["start"];
            args.extend(bring_back.iter().map(String::as_str));
            h.ok(&args);
        }
        timed(
            &format!("{}: {action:?} on every policy", b.name()),
            started,
        );
    }
}
