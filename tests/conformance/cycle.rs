//! A real HTTP server through its whole life: install, health-checked start, kill -9 and back,
//! stop (by svc-any and by the manager's own tools), reboot and back, restart, disable and
//! enable, the seed's verbs (uptime, try-restart, stop, reset), logs, reload, an idempotent
//! reinstall, a refused bad definition, and an uninstall that leaves the tree as it was. After
//! each step the manager itself is asked whether it agrees with `svc-any status`.

use std::time::{Duration, Instant};

use crate::common::backend::{self, assert_gone, assert_made, Backend, Made};
use crate::common::host::{poll, Host};
use crate::common::text;

const PORT: u16 = 18280;
const RESTART_DELAY: Duration = Duration::from_millis(500);

/// The server's command line; its document directory is the host's scratch, so the command
/// line is this test's own even among the containers' processes.
fn web_argv(h: &Host) -> Vec<String> {
    [
        "/usr/bin/python3",
        "-m",
        "http.server",
        &PORT.to_string(),
        "--bind",
        "127.0.0.1",
        "--directory",
        &h.scratch(),
    ]
    .map(String::from)
    .to_vec()
}

fn web(h: &Host) -> String {
    let exec: Vec<String> = web_argv(h).iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "description = \"svc-any conformance: a real HTTP server\"
exec = [{}]
env = {{ PYTHONUNBUFFERED = \"1\" }}
restart = \"on-failure\"
restart_delay = \"{}ms\"

[health]
http = \"http://127.0.0.1:{PORT}/\"
timeout = \"20s\"
",
        exec.join(", "),
        RESTART_DELAY.as_millis()
    )
}

/// Exits 143 on TERM, as a JVM does: a clean stop, not a failure. HUP is its reload.
fn jvm(h: &Host) -> String {
    format!(
        r#"description = "svc-any conformance: exits 143 on TERM"
exec = ["/usr/bin/python3", "-c", """
import signal, sys, time
signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
signal.signal(signal.SIGHUP, lambda *a: open('{}/jvm-reloaded', 'w').close())
while True: time.sleep(1)
"""]
reload_signal = "HUP"
"#,
        h.scratch()
    )
}

/// Waits until svc-any reports `name` running with a pid other than `old`; its entry.
fn running(h: &Host, name: &str, old: Option<u64>, limit: Duration) -> serde_json::Value {
    poll(limit, &format!("{name} running (not {old:?})"), || {
        let (_, s) = h.status(name);
        (s["state"] == "running" && s["pid"].as_u64().is_some_and(|p| Some(p) != old)).then_some(s)
    })
}

fn pid(s: &serde_json::Value) -> u64 {
    s["pid"].as_u64().unwrap_or_else(|| panic!("no pid in {s}"))
}

pub fn lifecycle(h: &Host, b: &dyn Backend) {
    let name = b.name();
    if let Some(init) = b.init() {
        assert_eq!(h.sh_out("cat /proc/1/comm"), init, "PID 1 is the real init");
    }
    let explained = h.ok(&["detect", "--explain"]);
    assert!(explained.contains(&format!("=> {name}")), "{explained}");
    let before_install = backend::owned(h, b, true);
    let pattern = format!("^{}$", web_argv(h).join(" "));

    // install --start --wait: returns once the health check answers
    let web_def = h.define("web", &web(h));
    let out = h.ok(&["install", "web", "-f", &web_def, "--start", "--wait"]);
    assert!(out.contains("web is healthy"), "{out}");
    assert_made(h, b, "web", &[]);
    b.parses(h, "web");
    assert!(b.enabled(h, "web"), "{name}: not enabled at boot");
    assert!(h.http_ok(PORT), "the port answers");
    assert_eq!(
        h.supervisors() > 0,
        b.supervised_by_svc_any(),
        "{name}: svc-any's supervisor runs exactly where the manager does not supervise"
    );

    // status: exit 0, and the manager agrees
    let (code, s) = h.status("web");
    assert_eq!(code, 0, "{s}");
    assert_eq!(s["name"], "web");
    assert_eq!(s["state"], "running");
    assert_eq!(s["backend"], name);
    assert_eq!(s["enabled"], true);
    assert_eq!(s["restarts"], 0, "{s}");
    b.agrees(h, "web", &s);
    let first = pid(&s);
    assert_eq!(
        h.sh_out(&format!("tr '\\0' ' ' </proc/{first}/cmdline")),
        web_argv(h).join(" "),
        "the pid svc-any reports is the server"
    );

    // kill -9: back after restart_delay, not before
    let killed = Instant::now();
    h.sh_out(&format!("kill -9 {first}"));
    let s = running(h, "web", Some(first), Duration::from_secs(10));
    let took = killed.elapsed();
    let delay = b.restart_delay(RESTART_DELAY);
    assert!(
        took >= delay,
        "{name}: restarted after {took:?}, before {delay:?}"
    );
    assert!(
        took < delay + h.slack(),
        "{name}: restarted after {took:?}, {delay:?} asked"
    );
    b.agrees(h, "web", &s);
    assert!(h.wait_http(PORT, Duration::from_secs(10)));
    let (code, s) = h.status("web");
    assert_eq!(code, 0);
    assert_eq!(s["restarts"], 1, "{name}: {s}");
    if b.knows_last_exit(true) {
        assert_eq!(s["last_exit"]["signal"], "KILL", "{s}");
    }

    // stop: LSB 3, the port closed, the process gone, and dying by TERM is a clean stop
    let second = pid(&s);
    h.ok(&["stop", "web"]);
    assert_eq!(h.svc_any(&["status", "web"]).status.code(), Some(3));
    let (_, s) = h.status("web");
    assert_eq!(s["state"], "stopped");
    b.agrees(h, "web", &s);
    assert!(!h.http_ok(PORT));
    assert!(
        !h.succeeds(&format!("kill -0 {second}")),
        "{second} still runs"
    );
    if b.knows_last_exit(false) {
        assert_eq!(s["last_exit"]["how"], "killed", "{s}");
        assert_eq!(s["last_exit"]["signal"], "TERM", "{s}");
    }

    // the manager's own tools: svc-any sees what they did
    if let Some(start) = b.native("start", "web") {
        assert!(h.succeeds(&start), "{start}");
        let s = running(h, "web", None, Duration::from_secs(10));
        b.agrees(h, "web", &s);
        assert!(h.wait_http(PORT, Duration::from_secs(10)));
    }
    if let Some(stop) = b.native("stop", "web") {
        assert!(h.succeeds(&stop), "{stop}");
        assert_eq!(h.svc_any(&["status", "web"]).status.code(), Some(3));
        let (_, s) = h.status("web");
        b.agrees(h, "web", &s);
        assert!(!h.http_ok(PORT));
    }

    // reboot: the enabled service comes back by itself
    h.ok(&["start", "web", "--wait"]);
    h.reboot();
    let s = running(h, "web", None, Duration::from_secs(20));
    b.agrees(h, "web", &s);
    assert!(h.wait_http(PORT, Duration::from_secs(10)));
    assert_eq!(h.status("web").0, 0);

    // restart gives a new process; disable and enable touch only the boot link
    let before = pid(&s);
    h.ok(&["restart", "web", "--wait"]);
    let (_, s) = h.status("web");
    assert_ne!(s["pid"].as_u64(), Some(before), "restart kept {before}");
    b.agrees(h, "web", &s);
    seed_verbs(h, b, pid(&s));
    h.ok(&["disable", "web"]);
    assert!(!b.enabled(h, "web"), "{name}: still enabled after disable");
    let (_, s) = h.status("web");
    assert_eq!(s["enabled"], false, "{s}");
    assert_eq!(s["state"], "running", "disable does not stop");
    b.agrees(h, "web", &s);
    h.ok(&["enable", "web"]);
    assert!(b.enabled(h, "web"), "{name}: not enabled after enable");
    assert_eq!(h.status("web").1["enabled"], true);

    // logs: the server's own output, through the journal or the log file
    let logs = h.ok(&["logs", "web", "-n", "50"]);
    assert!(logs.contains("\"GET / HTTP/1.0\" 200"), "{logs}");
    assert!(
        logs.contains(&format!("Serving HTTP on 127.0.0.1 port {PORT}")),
        "{logs}"
    );

    // exit 143 after TERM is a clean stop; reload sends reload_signal; a service without one
    // is refused, not guessed at
    let jvm_def = h.define("jvm", &jvm(h));
    h.ok(&["install", "jvm", "-f", &jvm_def, "--start", "--wait=10"]);
    h.ok(&["stop", "jvm"]);
    assert_eq!(h.svc_any(&["status", "jvm"]).status.code(), Some(3));
    let (_, s) = h.status("jvm");
    assert_eq!(s["state"], "stopped", "143 after TERM must not be failed");
    b.agrees(h, "jvm", &s);
    if b.knows_last_exit(false) {
        assert_eq!(s["last_exit"]["how"], "exited", "{s}");
        assert_eq!(s["last_exit"]["code"], 143, "{s}");
    }
    h.ok(&["start", "jvm", "--wait=10"]);
    h.ok(&["reload", "jvm"]);
    assert!(
        h.wait_for(
            Duration::from_secs(5),
            &format!("test -e {}/jvm-reloaded", h.scratch())
        ),
        "HUP did not arrive"
    );
    let out = h.svc_any(&["reload", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("reload_signal"),
        "{}",
        text(&out.stderr)
    );
    h.ok(&["stop", "jvm"]);

    // install again: nothing rewritten, the manager not reloaded, the service not restarted
    let (_, s) = h.status("web");
    let before = backend::owned(h, b, false);
    let reloads = b.reloads(h);
    let out = h.ok(&["install", "web", "-f", &web_def]);
    for m in b.made(h, "web", &[]) {
        if let Made::File(path) = m {
            assert!(out.contains(&format!("unchanged {path}")), "{out}");
        }
    }
    assert_eq!(
        backend::owned(h, b, false),
        before,
        "the second install touched files"
    );
    assert_eq!(b.reloads(h), reloads, "the second install reloaded {name}");
    let (_, again) = h.status("web");
    assert_eq!(
        again["pid"], s["pid"],
        "the second install restarted the service"
    );
    b.agrees(h, "web", &again);

    // a bad definition: exit 2 naming the key, nothing written
    let bad = h.define(
        "bad",
        "exec = [\"/usr/bin/python3\"]\nrestart = \"sometimes\"\n",
    );
    let out = h.svc_any(&["install", "web", "-f", &bad]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`restart`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        backend::owned(h, b, false),
        before,
        "a rejected definition changed files"
    );

    // list finds both by their marker
    let listed = h.ok(&["list"]);
    assert!(listed.contains("web") && listed.contains("jvm"), "{listed}");

    // uninstall, last installed first: no file, no link, no record, no process, no
    // supervisor; the tree as it was
    h.ok(&["uninstall", "jvm"]);
    h.ok(&["uninstall", "web"]);
    assert_gone(h, b, "web", &[]);
    assert_gone(h, b, "jvm", &[]);
    assert!(!h.succeeds(&format!("ls {}/services/*.json", h.state_dir())));
    let (code, s) = h.status("web");
    assert_eq!(code, 4, "{s}");
    assert_eq!(s["state"], "not-installed", "{s}");
    b.agrees(h, "web", &s);
    assert_eq!(h.processes(&pattern), 0, "the server still runs");
    assert!(!h.http_ok(PORT), "something still answers");
    assert!(
        crate::common::scope::eventually(Duration::from_secs(5), || h.supervisors() == 0),
        "a supervisor stayed with nothing to supervise"
    );
    for def in ["web", "jvm", "bad"] {
        h.undefine(def);
    }
    assert_eq!(
        backend::comparable(b, &backend::owned(h, b, true)),
        backend::comparable(b, &before_install),
        "uninstall left the tree changed"
    );
}

/// The daemontools seed's front-end scripts, as svc-any's verbs on every backend: `svstat`
/// (state and uptime: `since` while it runs), `svcrestart` (try-restart: restarts what runs,
/// leaves a stopped one stopped), `svcstop` (stop, then nothing of it runs) and `svcreset`
/// (reset: an enabled service converges to running). `web` runs, enabled, as `running`.
fn seed_verbs(h: &Host, b: &dyn Backend, running_pid: u64) {
    let name = b.name();
    let (_, s) = h.status("web");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let since = s["since"]
        .as_u64()
        .unwrap_or_else(|| panic!("{name}: no uptime (since) for a running service: {s}"));
    assert!(
        since <= now + 1 && now - since.min(now) < 600,
        "{name}: since {since} is not a recent start (now {now})"
    );
    let shown = h.ok(&["status", "web"]);
    assert!(shown.contains("running"), "{name}: {shown}");

    h.ok(&["try-restart", "web", "--wait"]);
    let s = running(h, "web", Some(running_pid), Duration::from_secs(10));
    b.agrees(h, "web", &s);

    h.ok(&["stop", "web"]);
    assert_eq!(
        h.processes(&format!("^{}$", web_argv(h).join(" "))),
        0,
        "{name}: stop left the server"
    );
    h.ok(&["try-restart", "web"]);
    let (code, s) = h.status("web");
    assert_eq!(
        (code, s["state"].as_str()),
        (3, Some("stopped")),
        "{name}: try-restart started a stopped service: {s}"
    );
    b.agrees(h, "web", &s);

    h.ok(&["reset", "web", "--wait"]);
    let s = running(h, "web", None, Duration::from_secs(10));
    b.agrees(h, "web", &s);
    assert!(h.wait_http(PORT, Duration::from_secs(10)));
}

/// Found by `openrc::lifecycle`: Debian's OpenRC has no /etc/conf.d, and the install that makes
/// it records it as its own; a later service's install finds it and keeps it. The maker,
/// uninstalled first while the other's file is still there, hands the directory over to the
/// other's record, so it goes with the last service.
#[test]
fn openrc_a_directory_made_for_two_services_goes_with_the_last() {
    use crate::common::backends::openrc::Openrc;
    let b = &Openrc;
    let test = "cycle::openrc_a_directory_made_for_two_services_goes_with_the_last";
    let Some(h) = backend::boot(b, test, "shared-dir") else {
        return;
    };
    let before = backend::comparable(b, &backend::owned(&h, b, true));
    h.ok(&["install", "one", "--", "/bin/sleep", "1001"]);
    h.ok(&["install", "two", "--", "/bin/sleep", "1002"]);
    h.ok(&["uninstall", "one", "two"]);
    assert_eq!(
        backend::comparable(b, &backend::owned(&h, b, true)),
        before,
        "uninstall left the tree changed"
    );
}
