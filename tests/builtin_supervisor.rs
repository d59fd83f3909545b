#![cfg(target_os = "linux")]
//! What only the builtin supervisor has, on this machine, where no init system runs and it is
//! the default: backoff in a crash loop, log rotation, recovery after its own death, user
//! scopes, PID 1 of a PID namespace, stop escalation. Real processes, real signals, real
//! sockets; each test has its own scope (directories and supervisor), so they run side by side.
//! What every backend does (a service's life, the lifecycle table, fidelity, safety) is the
//! conformance suite's (tests/conformance/).

mod common;

use std::time::{Duration, Instant};

use common::scope::{eventually, listening, processes_matching, TestScope};
use common::{text, unstamp, unstamped};

fn http_server(port: u16, extra: &str) -> String {
    format!(
        "exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\", \"--directory\", \"/tmp\"]\nenv = {{ PYTHONUNBUFFERED = \"1\" }}\n{extra}"
    )
}

#[test]
fn a_crash_loop_backs_off_then_fails_with_a_reason() {
    let scope = TestScope::new("crashloop");
    let starts = scope.dir.join("starts");
    let def = scope.definition(
        "crash",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"date +%s.%N >> {}; exit 3\"]\nrestart = \"always\"\nrestart_delay = \"100ms\"\nrestart_max_delay = \"400ms\"\nrestart_limit = 5\nrestart_limit_interval = \"60s\"\n",
            starts.display()
        ),
    );
    scope.ok(&["install", "crash", "-f", &def, "--start"]);
    assert!(
        eventually(Duration::from_secs(10), || scope.field("crash", "state")
            == "failed"),
        "never failed"
    );
    let reason = scope.field("crash", "reason");
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("crash loop: 5 restarts within 1m"),
        "{reason}"
    );
    assert_eq!(scope.run(&["status", "crash"]).status.code(), Some(1));
    let times: Vec<f64> = std::fs::read_to_string(&starts)
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(times.len(), 6, "the first start and 5 restarts");
    let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // 100 ms, doubled per quick crash, capped at 400 ms
    for (gap, want) in gaps.iter().zip([0.1, 0.2, 0.4, 0.4, 0.4]) {
        assert!(
            *gap >= want && *gap < want + 0.25,
            "gaps {gaps:?}: want about {want}"
        );
    }
    println!(
        "backoff observed: {:?}",
        gaps.iter()
            .map(|g| format!("{:.0}ms", g * 1000.0))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_clean_exit_is_not_restarted_on_failure_and_an_unclean_one_is() {
    let scope = TestScope::new("policy");
    let def = scope.definition(
        "once",
        "exec = [\"/bin/sh\", \"-c\", \"exit 0\"]\nrestart = \"on-failure\"\n",
    );
    scope.ok(&["install", "once", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(5), || scope
        .field("once", "state")
        == "stopped"));
    assert_eq!(scope.field("once", "restarts"), 0);
    let def = scope.definition(
        "jvm",
        "exec = [\"/bin/sh\", \"-c\", \"exit 143\"]\nrestart = \"on-failure\"\n",
    );
    scope.ok(&["install", "jvm", "-f", &def, "--start"]);
    assert!(
        eventually(Duration::from_secs(5), || scope.field("jvm", "state")
            == "stopped"),
        "143 is a clean stop"
    );
    let def = scope.definition(
        "bad",
        "exec = [\"/bin/sh\", \"-c\", \"exit 7\"]\nrestart = \"no\"\n",
    );
    scope.ok(&["install", "bad", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(5), || scope
        .field("bad", "state")
        == "dead"));
    assert_eq!(scope.run(&["status", "bad"]).status.code(), Some(1));
    assert_eq!(scope.field("bad", "last_exit")["code"], 7);
}

#[test]
fn output_is_logged_and_rotated_by_size() {
    let scope = TestScope::new("rotate");
    let log = scope.dir.join("out.log");
    let def = scope.definition(
        "chatty",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 2000 ]; do echo line $i of a chatty service; i=$((i+1)); done; exec sleep 1000\"]\n[log]\nfile = \"{}\"\nmax_size = \"8K\"\nkeep = 2\n",
            log.display()
        ),
    );
    scope.ok(&["install", "chatty", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("line 1999 "))
    }));
    let size = std::fs::metadata(&log).unwrap().len();
    assert!(size <= 8192, "the live file is {size} bytes");
    // Rotated files are numbered in order, the newest highest; keep = 2 leaves the last two.
    let mut numbers: Vec<u32> = std::fs::read_dir(&scope.dir)
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_prefix("out.log.")?
                .parse()
                .ok()
        })
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers.len(), 2, "keep = 2: {numbers:?}");
    assert_eq!(numbers[1], numbers[0] + 1, "{numbers:?}");
    let mut text = String::new();
    for n in &numbers {
        let rotated = scope.dir.join(format!("out.log.{n}"));
        let body = std::fs::read_to_string(&rotated).unwrap();
        assert!(
            !body.is_empty() && body.len() <= 8192 && body.ends_with('\n'),
            "{} is {} bytes, cut within a line or too long",
            rotated.display(),
            body.len()
        );
        text.push_str(&body);
    }
    text.push_str(&std::fs::read_to_string(&log).unwrap());
    // Every line whole, stamped, in order, up to the last one.
    let lines: Vec<&str> = text.lines().map(|l| unstamp(l).1).collect();
    let first: usize = lines[0]
        .strip_prefix("line ")
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a whole line: {:?}", lines[0]));
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, format!("line {} of a chatty service", first + i));
    }
    assert_eq!(first + lines.len(), 2000);
    let tail = scope.ok(&["logs", "chatty", "-n", "1"]);
    assert_eq!(unstamped(&tail), "line 1999 of a chatty service\n");
}

/// Each line starts with the time the supervisor read its first byte (RFC 3339, UTC,
/// microseconds); `log.timestamps = false` leaves lines as the process wrote them.
#[test]
fn output_lines_carry_the_time_they_began() {
    let scope = TestScope::new("stamps");
    let plain = scope.dir.join("plain.log");
    let script = "printf 'be'; sleep 1; printf 'gun\\\\n'; echo next; exec sleep 1000";
    let def = |extra: &str| format!("exec = [\"/bin/sh\", \"-c\", \"{script}\"]\n{extra}");
    let before = std::time::SystemTime::now();
    let stamped = scope.definition("stamped", &def(""));
    scope.ok(&["install", "stamped", "-f", &stamped, "--start"]);
    let unstamped_def = scope.definition(
        "unstamped",
        &def(&format!(
            "[log]\nfile = \"{}\"\ntimestamps = false\n",
            plain.display()
        )),
    );
    scope.ok(&["install", "unstamped", "-f", &unstamped_def, "--start"]);
    let done =
        |path: &std::path::Path| std::fs::read_to_string(path).is_ok_and(|t| t.contains("next\n"));
    assert!(eventually(Duration::from_secs(10), || done(
        &scope.log("stamped")
    ) && done(&plain)));
    let after = std::time::SystemTime::now();
    let log = std::fs::read_to_string(scope.log("stamped")).unwrap();
    let lines: Vec<_> = log.lines().map(unstamp).collect();
    assert_eq!(
        lines.iter().map(|(_, l)| *l).collect::<Vec<_>>(),
        ["begun", "next"],
        "{log}"
    );
    let (begun, next) = (lines[0].0, lines[1].0);
    assert!(before <= begun && next <= after, "{log}");
    // Stamped when its first byte came, a second before its end (and the next line).
    assert!(
        next.duration_since(begun).unwrap() >= Duration::from_millis(900),
        "{log}"
    );
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "begun\nnext\n");
}

#[test]
fn a_killed_supervisor_leaves_services_down_until_asked_and_then_brings_back_what_was_wanted() {
    let scope = TestScope::new("recover");
    let on = scope.definition("on", &http_server(18111, ""));
    let off = scope.definition("off", &http_server(18112, ""));
    let idle = scope.definition("idle", &http_server(18113, ""));
    scope.ok(&["install", "on", "-f", &on, "--start", "--wait"]);
    scope.ok(&[
        "install",
        "off",
        "-f",
        &off,
        "--no-enable",
        "--start",
        "--wait",
    ]);
    // Installed and enabled, never started: install starts only with --start.
    scope.ok(&["install", "idle", "-f", &idle]);
    assert_eq!(scope.field("idle", "state"), "stopped");
    assert!(processes_matching("http.server 18113").is_empty());

    let kill_supervisor = |scope: &TestScope| {
        let supervisor = scope.supervisor_pid().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(supervisor as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        // Its services die with it: nothing is left to be duplicated.
        assert!(
            eventually(Duration::from_secs(5), || processes_matching(
                "http.server 1811"
            )
            .is_empty()),
            "services outlived the supervisor"
        );
        assert!(eventually(Duration::from_secs(5), || scope
            .supervisor_pid()
            .is_none()));
        supervisor
    };
    let first = kill_supervisor(&scope);

    // A question starts nothing: the started services read dead, and say why.
    let (code, json) = scope.status("on");
    assert_eq!(code, 1, "{json}");
    assert_eq!(json["services"][0]["state"], "dead");
    assert!(json["services"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("supervisor is not running"));
    assert_eq!(scope.field("idle", "state"), "stopped");
    assert!(
        scope.supervisor_pid().is_none(),
        "status started a supervisor"
    );
    assert!(processes_matching("http.server 1811").is_empty());

    // The next start brings a new supervisor, which brings back exactly what was started and
    // not stopped since (whether enabled or not), once each, and what was asked.
    scope.ok(&["start", "idle", "--wait"]);
    let second = scope.supervisor_pid().unwrap();
    assert_ne!(second, first);
    for port in [18111, 18112, 18113] {
        assert!(
            eventually(Duration::from_secs(5), || listening(port)),
            "{port} is not back"
        );
        assert_eq!(
            processes_matching(&format!("http.server {port}")).len(),
            1,
            "exactly one copy"
        );
    }

    // A stop is remembered across the next kill: `off` stays down, the others come back.
    scope.ok(&["stop", "off"]);
    kill_supervisor(&scope);
    scope.ok(&["restart", "on", "--wait"]);
    assert!(eventually(Duration::from_secs(5), || listening(18113)));
    assert!(
        processes_matching("http.server 18112").is_empty(),
        "a stopped service came back"
    );
    assert_eq!(scope.field("off", "state"), "stopped");

    // Two commands at once find one supervisor, never two.
    let a = std::thread::spawn({
        let cmd = scope.cmd().args(["start", "on"]).output();
        move || cmd
    });
    let _ = scope.run(&["start", "idle"]);
    let _ = a.join();
    let needle = format!("--runtime-dir {}", scope.runtime().display());
    assert_eq!(processes_matching(&needle).len(), 1);

    // At boot (the runtime directory is new: a reboot empties it), what is enabled starts.
    kill_supervisor(&scope);
    std::fs::remove_dir_all(scope.runtime()).unwrap();
    let mut booted = scope
        .cmd()
        .args(["supervisor", "--boot"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || listening(18111)
        && listening(18113)));
    assert!(
        processes_matching("http.server 18112").is_empty(),
        "not enabled, yet started at boot"
    );
    scope.ok(&["uninstall", "on", "off", "idle"]);
    let _ = booted.wait();
}

#[test]
fn services_run_as_their_user_and_a_user_scope_runs_without_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root to switch users (tests/run runs as root)");
        return;
    }
    // user = "nobody" at system level: the probe records who it runs as
    let scope = TestScope::new("asuser");
    let record = scope.dir.join("probe.json");
    std::fs::set_permissions(
        &scope.dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let probe = common::fixtures().join("probe.py");
    let def = scope.definition(
        "who",
        &format!(
            "exec = [\"{}\", \"{}\"]\nuser = \"nobody\"\nlimits = {{ nofile = 777 }}\n",
            probe.display(),
            record.display()
        ),
    );
    scope.ok(&["install", "who", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(10), || record.exists()));
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(got["uid"], 65534);
    assert_eq!(got["gid"], 65534);
    assert_eq!(got["nofile"], 777);

    // a user scope, driven by an unprivileged user with no SVC_ANY_* overrides
    let home = common::scratch("user-home");
    std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let as_nobody = |args: &[&str]| {
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(common::bin())
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &home)
            .env("XDG_RUNTIME_DIR", home.join("run"))
            .current_dir(&home);
        cmd.output().unwrap()
    };
    std::fs::create_dir_all(home.join("run")).unwrap();
    std::fs::set_permissions(
        home.join("run"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let out = as_nobody(&[
        "install",
        "mine",
        "--start",
        "--wait",
        "--",
        "/usr/bin/python3",
        "-m",
        "http.server",
        "18121",
        "--bind",
        "127.0.0.1",
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(home.join(".local/state/svc-any/builtin/mine.toml").exists());
    let pids = processes_matching("http.server 18121");
    assert_eq!(pids.len(), 1);
    let uid_line = std::fs::read_to_string(format!("/proc/{}/status", pids[0])).unwrap();
    assert!(
        uid_line.lines().any(|l| l.starts_with("Uid:\t65534")),
        "runs as nobody"
    );
    let sock = home.join("run/svc-any/supervisor.sock");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&sock).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the control socket is owner-only");
    let out = as_nobody(&["uninstall", "mine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(processes_matching("http.server 18121").is_empty());
}

/// Host pid of the process that is PID 1 of its own namespace and names this scope.
fn namespace_init(scope: &TestScope) -> Option<u32> {
    let needle = format!("--runtime-dir {}", scope.runtime().display());
    processes_matching(&needle).into_iter().find(|pid| {
        std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("NSpid:") && l.split_whitespace().last() == Some("1"))
        })
    })
}

fn parent_and_state(pid: u32) -> Option<(u32, char)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((fields.next()?.parse().ok()?, state))
}

#[test]
fn as_pid_1_it_reaps_orphans_and_stops_in_reverse_dependency_order() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: a PID namespace needs root (tests/run runs as root)");
        return;
    }
    let scope = TestScope::new("pid1");
    let stderr = scope.dir.join("pid1.stderr");
    let mut init = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(common::bin())
        .args(["supervisor", "--foreground", "--state-dir"])
        .arg(scope.state())
        .arg("--runtime-dir")
        .arg(scope.runtime())
        .stdin(std::process::Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || scope
        .runtime()
        .join("supervisor.sock")
        .exists()));
    let pid1 = namespace_init(&scope).expect("the supervisor is PID 1 of the namespace");

    let db = scope.definition("db", "exec = [\"/bin/sleep\", \"1001\"]\n");
    let api = scope.definition(
        "api",
        "exec = [\"/bin/sleep\", \"1002\"]\nrequires = [\"db\"]\n",
    );
    // Leaves an orphan behind: the subshell exits, its `sleep 0.6` is reparented to PID 1.
    let orphaner = scope.definition(
        "orphaner",
        "exec = [\"/bin/sh\", \"-c\", \"(sleep 0.6 &); exec sleep 1003\"]\n",
    );
    for (name, def) in [("db", &db), ("api", &api), ("orphaner", &orphaner)] {
        scope.ok(&["install", name, "-f", def, "--start"]);
    }
    assert_eq!(
        scope.supervisor_pid().and_then(|_| namespace_init(&scope)),
        Some(pid1),
        "the CLI used PID 1, started no other"
    );

    let orphan = eventually(Duration::from_secs(2), || {
        processes_matching("sleep 0.6")
            .iter()
            .any(|p| parent_and_state(*p).is_some_and(|(ppid, _)| ppid == pid1))
    });
    assert!(orphan, "the orphan was not reparented to the supervisor");
    // Once it exits it must be reaped, not left a zombie of PID 1.
    std::thread::sleep(Duration::from_millis(900));
    let zombies: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| parent_and_state(*p).is_some_and(|(ppid, state)| ppid == pid1 && state == 'Z'))
        .collect();
    assert!(zombies.is_empty(), "zombies under PID 1: {zombies:?}");

    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid1 as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = init.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "PID 1 did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    for sleeper in ["sleep 1001", "sleep 1002", "sleep 1003"] {
        assert!(processes_matching(sleeper).is_empty(), "{sleeper} survived");
    }
    let log = std::fs::read_to_string(&stderr).unwrap();
    let at = |what: &str| {
        log.find(what)
            .unwrap_or_else(|| panic!("no `{what}` in\n{log}"))
    };
    assert!(
        at("api stopping") < at("db stopping"),
        "api depends on db: it must stop first\n{log}"
    );
}

#[test]
fn stop_escalates_to_kill_and_a_failed_health_check_stops_the_service() {
    let scope = TestScope::new("stopkill");
    // Ignores SIGTERM (sleep inherits the ignored disposition): only SIGKILL ends it.
    let def = scope.definition("stubborn", "exec = [\"/bin/sh\", \"-c\", \"trap '' TERM; exec sleep 1004\"]\nstop_timeout = \"500ms\"\n");
    scope.ok(&["install", "stubborn", "-f", &def, "--start", "--wait=5"]);
    let began = Instant::now();
    scope.ok(&["stop", "stubborn"]);
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "stop took {took:?}"
    );
    assert!(processes_matching("sleep 1004").is_empty());
    assert_eq!(scope.field("stubborn", "last_exit")["signal"], "KILL");

    // --wait on a health check that never passes: exit 1, the last log lines, stopped
    let def = scope.definition(
        "unhealthy",
        "exec = [\"/bin/sh\", \"-c\", \"echo about to be unhealthy; exec sleep 1005\"]\n[health]\ntcp = \"127.0.0.1:18131\"\n",
    );
    let out = scope.run(&["install", "unhealthy", "-f", &def, "--start", "--wait=1"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("unhealthy did not become ready within 1s"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("about to be unhealthy"),
        "the last log lines: {}",
        text(&out.stdout)
    );
    // svc-any stopped it itself; status still says it failed, and why.
    assert_eq!(scope.field("unhealthy", "state"), "failed");
    let reason = scope.field("unhealthy", "reason");
    assert!(
        reason
            .as_str()
            .unwrap_or_default()
            .contains("did not become ready within 1s"),
        "{reason}"
    );
    assert!(processes_matching("sleep 1005").is_empty());
}

/// `stop_timeout = "infinity"` (redis-server.service's TimeoutStopSec=infinity): a stop waits
/// for the process to end by itself, however long after the signal; never KILL. The same
/// program with a short timeout is killed, so the check can fail.
#[test]
fn an_infinite_stop_timeout_never_kills() {
    let scope = TestScope::new("stopforever");
    // Ends 3 s after SIGTERM, by itself (exit 0).
    let slow = "exec = [\"/usr/bin/python3\", \"-c\", \"import signal, sys, time; signal.signal(signal.SIGTERM, lambda *_: (time.sleep(3), sys.exit(0))); time.sleep(1012)\"]\n";
    for (name, timeout, ends_by) in [
        ("patient", "infinity", "exit 0"),
        ("hasty", "1s", "signal KILL"),
    ] {
        let def = scope.definition(name, &format!("{slow}stop_timeout = \"{timeout}\"\n"));
        scope.ok(&["install", name, "-f", &def, "--start", "--wait=5"]);
        let began = Instant::now();
        scope.ok(&["stop", name]);
        let took = began.elapsed();
        let last = scope.field(name, "last_exit");
        let described = match (&last["code"], &last["signal"]) {
            (serde_json::Value::Number(c), _) => format!("exit {c}"),
            (_, serde_json::Value::String(s)) => format!("signal {s}"),
            _ => format!("{last}"),
        };
        assert_eq!(described, ends_by, "{name} (stop took {took:?})");
        if timeout == "infinity" {
            assert!(took >= Duration::from_secs(3), "{name}: stop took {took:?}");
        }
        assert!(processes_matching("time.sleep(1012)").is_empty(), "{name}");
        scope.ok(&["uninstall", name]);
    }
}

#[test]
fn working_dir_env_file_and_env_reach_the_process() {
    let scope = TestScope::new("environment");
    let record = scope.dir.join("probe.json");
    let env_file = scope.dir.join("env");
    std::fs::write(&env_file, "FROM_FILE=file value\nBOTH=from the file\n").unwrap();
    let probe = common::fixtures().join("probe.py");
    let def = scope.definition(
        "envy",
        &format!(
            "exec = [\"{}\", \"{}\", \"two words\", \"$HOME\"]\nworking_dir = \"{}\"\nenv_file = \"{}\"\nenv = {{ BOTH = \"env wins\", ODD = \"a=b 'c' \\\"d\\\" $e %f\" }}\n",
            probe.display(),
            record.display(),
            scope.dir.display(),
            env_file.display()
        ),
    );
    scope.ok(&["install", "envy", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(10), || record.exists()));
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let string = |v: &serde_json::Value| {
        String::from_utf8(
            v.as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect(),
        )
        .unwrap()
    };
    let argv: Vec<String> = got["argv"].as_array().unwrap().iter().map(string).collect();
    assert_eq!(argv, ["two words", "$HOME"]);
    assert_eq!(string(&got["cwd"]), scope.dir.display().to_string());
    assert_eq!(string(&got["env"]["FROM_FILE"]), "file value");
    assert_eq!(
        string(&got["env"]["BOTH"]),
        "env wins",
        "env overrides env_file"
    );
    assert_eq!(string(&got["env"]["ODD"]), "a=b 'c' \"d\" $e %f");
    assert!(got["env"]["PATH"].is_array());
}

/// `exec_expand`: the supervisor expands systemd's references at each spawn, from the
/// environment the process gets (env_file entries, an optional one missing, then `env`, then
/// MAINPID where systemd sets it), by systemd's rules: a whole-word `$NAME` split and unquoted
/// (none when unset or empty), `${NAME}` exact, `$$` a `$`.
#[test]
fn exec_expand_gives_the_process_the_arguments_systemd_would() {
    let scope = TestScope::new("expand");
    let dir = shared_dir(&scope, "files");
    let record = dir.join("probe.json");
    let seen = dir.join("seen");
    let env_file = dir.join("env");
    std::fs::write(&env_file, "FROM_FILE=--from-file two\n").unwrap();
    let probe = common::fixtures().join("probe.py");
    let def = scope.definition(
        "expand",
        &format!(
            r#"exec = ["{probe}", "{record}", "$WORDS", "${{WORDS}}", "x${{EMPTY}}y", "$EMPTY", "${{EMPTY}}", "$UNSET", "${{UNSET}}", "$$", "a$$b", "$$WORDS", "$QUOTED", "$FROM_FILE"]
exec_expand = true
env_file = ["-{dir}/missing", "{env_file}"]
env = {{ WORDS = " one  two\tthree ", EMPTY = "", QUOTED = "\"a b\" c\\ d" }}
pre_start = [["/bin/sh", "-c", "echo pre $$# \"$$*\" >> {seen}", "sh", "$MAINPID", "${{MAINPID}}"]]
post_start = [["/bin/sh", "-c", "echo post $$# \"$$*\" >> {seen}", "sh", "$MAINPID", "${{MAINPID}}x"]]
reload_exec = [["/bin/sh", "-c", "echo reload $$# \"$$*\" >> {seen}", "sh", "$MAINPID"]]
"#,
            probe = probe.display(),
            record = record.display(),
            dir = dir.display(),
            env_file = env_file.display(),
            seen = seen.display(),
        ),
    );
    scope.ok(&["install", "expand", "-f", &def, "--start", "--wait=10"]);
    assert!(eventually(Duration::from_secs(10), || record.exists()));
    let got: serde_json::Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    let argv: Vec<String> = got["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let bytes: Vec<u8> = a
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_u64().unwrap() as u8)
                .collect();
            String::from_utf8(bytes).unwrap()
        })
        .collect();
    assert_eq!(
        argv,
        [
            "one",
            "two",
            "three",
            " one  two\tthree ",
            "xy",
            "",
            "",
            "$",
            "a$b",
            "$WORDS",
            "a b",
            "c d",
            "--from-file",
            "two"
        ]
    );
    let pid = scope.field("expand", "pid").as_u64().unwrap();
    assert!(eventually(Duration::from_secs(5), || lines_of(&seen).len() == 2));
    scope.ok(&["reload", "expand"]);
    // No MAINPID before the main process: `$MAINPID` is no word, `${MAINPID}` an empty one.
    assert_eq!(
        lines_of(&seen),
        [
            "pre 1 ".to_string(),
            format!("post 2 {pid} {pid}x"),
            format!("reload 1 {pid}"),
        ]
    );
    scope.ok(&["uninstall", "expand"]);
}

/// The library's face: `examples/self_service.rs` installs, starts (waiting for it), checks
/// and uninstalls itself through `svc_any::Manager`, and the supervisor it asked really ran it.
#[test]
fn a_program_installs_and_uninstalls_itself_through_the_library() {
    let built = std::process::Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "self_service"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("cargo runs");
    assert!(built.success(), "cargo build --example self_service failed");
    let example = common::bin()
        .parent()
        .unwrap()
        .join("examples/self_service");
    let scope = TestScope::new("library");
    let out = common::run(
        std::process::Command::new(&example)
            .env("SVC_ANY_STATE_DIR", scope.state())
            .env("SVC_ANY_RUNTIME_DIR", scope.runtime())
            .env("SVC_ANY_BIN", common::bin())
            .env("SVC_ANY_BACKEND", "builtin")
            .env_remove("XDG_STATE_HOME"),
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("backend: builtin"), "{stdout}");
    assert!(
        stdout.contains("self-service: running (pid Some("),
        "{stdout}"
    );
    assert!(
        stdout.contains("after uninstall: not-installed"),
        "{stdout}"
    );
    // It was the scope's supervisor that ran it, and the uninstall left no record behind.
    let log =
        std::fs::read_to_string(scope.state().join("logs/supervisor.log")).unwrap_or_default();
    assert!(
        log.contains("self-service"),
        "the scope's supervisor log: {log}"
    );
    assert!(!scope.state().join("services/self-service.json").exists());
    assert!(processes_matching("self_service --serve").is_empty());
}

/// A service that exits at once: `start --wait` says how it exited as soon as it does (not
/// after its timeout), returns 1, and `status` then reads failed with the reason, exiting 1
/// even beside a stopped service, until the next start.
#[test]
fn a_wait_that_sees_a_crash_fails_at_once_and_status_says_failed() {
    let scope = TestScope::new("crash-wait");
    scope.ok(&[
        "install",
        "crash",
        "--",
        "/bin/sh",
        "-c",
        "echo boom; exit 1",
    ]);
    scope.ok(&["install", "idle", "--", "/bin/sleep", "1000"]);
    let began = Instant::now();
    let out = scope.run(&["start", "crash", "--wait=60"]);
    let waited = began.elapsed();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("exited with 1"), "{stderr}");
    assert!(
        text(&out.stdout).contains("boom"),
        "the last log lines are shown"
    );
    // Far from the 60 s it was allowed: it did not wait out its timeout.
    assert!(waited < Duration::from_secs(30), "waited {waited:?}");

    let (code, json) = scope.status("crash");
    assert_eq!(code, 1);
    assert_eq!(json["services"][0]["state"], "failed");
    let reason = json["services"][0]["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("exited with 1"), "{reason}");
    let table = scope.run(&["status", "crash"]);
    assert!(
        text(&table.stdout).contains("exited with 1"),
        "the table says why"
    );

    // One failed and one stopped: the failure decides the exit code.
    assert_eq!(
        scope.run(&["status", "crash", "idle"]).status.code(),
        Some(1)
    );
    assert_eq!(
        scope.run(&["status", "idle", "crash"]).status.code(),
        Some(1)
    );

    // A new start forgets the old failure; uninstall leaves no trace of it.
    let failed_dir = scope.state().join("failed");
    assert!(failed_dir.join("crash").is_file());
    scope.run(&["start", "crash"]);
    assert!(!failed_dir.join("crash").exists());
    scope.ok(&["uninstall", "crash", "idle"]);
    assert!(!failed_dir.exists());
}

/// Once installed, a service's definition is known from its record: `render`, `install
/// --dry-run` and `show` need no file in the current directory.
#[test]
fn an_installed_definition_is_known_without_its_file() {
    let scope = TestScope::new("known");
    let def = scope.definition("known", "exec = [\"/bin/sleep\", \"1000\"]\n");
    scope.ok(&["install", "known", "-f", &def]);
    std::fs::remove_file(&def).unwrap();

    let rendered = scope.ok(&["render", "known"]);
    assert!(
        rendered.contains("exec = [\"/bin/sleep\", \"1000\"]"),
        "{rendered}"
    );
    let dry = scope.ok(&["install", "known", "--dry-run"]);
    assert!(dry.contains("unchanged"), "{dry}");

    // Installed without --start: it does not run, and show (like status) exits 3.
    let out = scope.run(&["show", "known"]);
    assert_eq!(out.status.code(), Some(3));
    let shown = text(&out.stdout);
    assert!(shown.contains("installed for builtin"), "{shown}");
    assert!(
        shown.contains("exec = [\"/bin/sleep\", \"1000\"]"),
        "{shown}"
    );
    assert!(shown.contains("manager says:"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_slice(&scope.run(&["show", "known", "--json"]).stdout).unwrap();
    assert_eq!(json["schema"], 1);
    assert_eq!(json["services"][0]["definition"]["exec"][1], "1000");
    assert_eq!(json["services"][0]["status"][0]["name"], "known");

    // What was never installed, with no file either, is still bad input that says so.
    let missing = scope.run(&["render", "nothing-here"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("not installed"));
    // A "definition" that never ends is refused, not read forever.
    let endless = scope.run(&["render", "-f", "/dev/zero"]);
    assert_eq!(endless.status.code(), Some(2));
    assert!(text(&endless.stderr).contains("not a definition"));
    scope.ok(&["uninstall", "known"]);
}

/// What cannot start is said at install (a warning: a package may bring the file later) and
/// refused at start, naming the key, before the manager fails in its own words.
#[test]
fn install_warns_and_start_refuses_what_cannot_start() {
    let scope = TestScope::new("cannot-start");
    let script = scope.dir.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\nexec sleep 1000\n").unwrap();
    let cases = [
        (
            "gone",
            format!("exec = [\"{}/missing\"]\n", scope.dir.display()),
            "exec",
            "does not exist",
        ),
        (
            "noexec",
            format!("exec = [\"{}\"]\n", script.display()),
            "exec",
            "not executable",
        ),
        (
            "nodir",
            "exec = [\"/bin/sleep\", \"1000\"]\nworking_dir = \"/nonexistent/dir\"\n".into(),
            "working_dir",
            "does not exist",
        ),
        (
            "noenv",
            "exec = [\"/bin/sleep\", \"1000\"]\nenv_file = \"/nonexistent/env\"\n".into(),
            "env_file",
            "does not exist",
        ),
    ];
    for (name, toml, key, says) in cases {
        let def = scope.definition(name, &toml);
        let installed = scope.run(&["install", name, "-f", &def]);
        assert_eq!(
            installed.status.code(),
            Some(0),
            "{name}: {}",
            text(&installed.stderr)
        );
        let warning = text(&installed.stderr);
        assert!(
            warning.contains(&format!("`{key}`")) && warning.contains(says),
            "{name}: {warning}"
        );

        let started = scope.run(&["start", name]);
        assert_eq!(started.status.code(), Some(2), "{name}");
        let refusal = text(&started.stderr);
        assert!(
            refusal.contains(&format!("`{key}`")) && refusal.contains(says),
            "{name}: {refusal}"
        );
        assert!(
            refusal.contains(&def),
            "the refusal names the file: {refusal}"
        );
    }
    // requires naming a service svc-any never installed.
    let def = scope.definition(
        "lonely",
        "exec = [\"/bin/sleep\", \"1000\"]\nrequires = [\"ghost\"]\n",
    );
    let installed = scope.run(&["install", "lonely", "-f", &def]);
    assert!(installed.status.success());
    assert!(
        text(&installed.stderr).contains("`requires[0]`: `ghost` is required"),
        "{}",
        text(&installed.stderr)
    );
    let started = scope.run(&["start", "lonely"]);
    assert_eq!(started.status.code(), Some(2));
    assert!(
        text(&started.stderr).contains("install ghost first"),
        "{}",
        text(&started.stderr)
    );
    scope.ok(&["uninstall", "gone", "noexec", "nodir", "noenv", "lonely"]);
}

/// `--wait` means something on every verb that takes it: `stop --wait=SECS` gives a service
/// that ignores its stop signal at most SECS (then KILL) and returns once it is gone;
/// `reload --wait` checks it still runs afterwards; `install --wait` without `--start` is
/// refused rather than starting silently.
#[test]
fn wait_is_honoured_by_stop_and_reload_and_refused_without_start() {
    let scope = TestScope::new("wait-flags");
    let def = scope.definition(
        "stubborn",
        "exec = [\"/usr/bin/python3\", \"-c\", \"import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.signal(signal.SIGHUP, signal.SIG_IGN); time.sleep(1011)\"]\nstop_timeout = \"60s\"\nreload_signal = \"HUP\"\n",
    );
    let refused = scope.run(&["install", "stubborn", "-f", &def, "--wait"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("add --start"));
    assert!(
        !scope.state().join("services/stubborn.json").exists(),
        "nothing installed"
    );

    let started = scope.run(&["install", "stubborn", "-f", &def, "--start", "--wait"]);
    assert!(started.status.success(), "{}", text(&started.stderr));
    // Not a terminal: one plain line each time what it waits for changes.
    let progress = text(&started.stderr);
    assert!(
        progress.contains("waiting for stubborn: running; up for 1s without a restart"),
        "{progress}"
    );
    assert!(!progress.contains('\r'), "{progress}");
    let reloaded = scope.ok(&["reload", "stubborn", "--wait=5"]);
    assert!(reloaded.contains("stubborn is up"), "{reloaded}");

    let began = Instant::now();
    scope.ok(&["stop", "stubborn", "--wait=1"]);
    let took = began.elapsed();
    assert!(
        processes_matching("time.sleep(1011)").is_empty(),
        "stop returned before it was gone"
    );
    assert!(
        took < Duration::from_secs(30),
        "stop --wait=1 waited out the 60 s stop_timeout: {took:?}"
    );
    scope.ok(&["uninstall", "stubborn"]);
}

/// Errors a user met as raw system messages now say what to fix, and flags that did nothing
/// now say what they did.
#[test]
fn errors_name_what_to_fix_and_flags_say_what_they_did() {
    let scope = TestScope::new("words");
    // The quick form points at the flag, not at a line of text the user never wrote.
    let out = scope.run(&["install", "q", "--restart", "sometimes", "--", "/bin/true"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("command line, --restart"), "{stderr}");
    assert!(!stderr.contains("<command line>:"), "{stderr}");

    // logs of a service that never ran: said plainly, not tail's error.
    scope.ok(&["install", "quiet", "--", "/bin/sleep", "1000"]);
    let out = scope.run(&["logs", "quiet"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("no output yet"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !text(&out.stderr).contains("tail:"),
        "{}",
        text(&out.stderr)
    );

    // -v shows what the supervisor is asked, as it shows manager commands elsewhere.
    let out = scope.run(&["-v", "status", "quiet"]);
    assert!(
        text(&out.stderr).contains("supervisor request {\"op\":\"status\""),
        "{}",
        text(&out.stderr)
    );

    // A backend asked for that does not run here says so.
    let out = scope.run(&["--backend", "systemd", "status", "quiet"]);
    assert!(
        text(&out.stderr).contains("systemd is not running here"),
        "{}",
        text(&out.stderr)
    );

    // An unknown group suggests groupadd, not useradd.
    let def = scope.definition(
        "g",
        "exec = [\"/bin/true\"]\ngroup = \"no-such-group-here\"\n",
    );
    let out = scope.run(&["install", "g", "-f", &def]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("groupadd --system no-such-group-here"),
        "{}",
        text(&out.stderr)
    );

    // A system-level service installed without root: run as root, or --user.
    if nix::unistd::geteuid().is_root() {
        let def = scope.definition("sys", "exec = [\"/bin/true\"]\nlevel = \"system\"\n");
        let out = common::run(
            std::process::Command::new("setpriv")
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
                .arg(common::bin())
                .args(["install", "sys", "-f", &def])
                .env("HOME", "/nonexistent"),
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("run it as root"),
            "{}",
            text(&out.stderr)
        );
    }
    scope.ok(&["uninstall", "quiet"]);
}

/// `uninstall` keeps a service's logs (as journald does) and `--purge` removes them, rotated
/// copies included; a service installed again under the same name never shows the old one's
/// lines when its `--wait` fails.
#[test]
fn purge_removes_logs_and_a_reused_name_shows_only_its_own_lines() {
    let scope = TestScope::new("purge");
    let logs = scope.state().join("logs");
    let old = scope.definition(
        "reused",
        "exec = [\"/bin/sh\", \"-c\", \"echo from the old one; exec sleep 1021\"]\n",
    );
    scope.ok(&["install", "reused", "-f", &old, "--start", "--wait"]);
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(logs.join("reused.log")).is_ok_and(|t| t.contains("old one"))
    }));
    scope.ok(&["uninstall", "reused"]);
    assert!(
        logs.join("reused.log").is_file(),
        "plain uninstall keeps the log"
    );

    let new = scope.definition(
        "reused",
        "exec = [\"/bin/sh\", \"-c\", \"echo from the new one; exit 3\"]\n",
    );
    let out = scope.run(&["install", "reused", "-f", &new, "--start", "--wait=30"]);
    assert_eq!(out.status.code(), Some(1));
    let shown = text(&out.stdout);
    assert!(shown.contains("from the new one"), "{shown}");
    assert!(
        !shown.contains("from the old one"),
        "the old service's lines: {shown}"
    );

    std::fs::write(logs.join("reused.log.1"), "rotated\n").unwrap();
    std::fs::write(logs.join("reused.logbook"), "someone else's\n").unwrap();
    let out = scope.ok(&["uninstall", "reused", "--purge"]);
    assert!(out.contains("removed"), "{out}");
    assert!(!logs.join("reused.log").exists());
    assert!(!logs.join("reused.log.1").exists());
    assert!(
        logs.join("reused.logbook").exists(),
        "a file that is not its log stays"
    );
}

/// Completions and the man page come from the same clap definitions as the parser.
#[test]
fn completions_and_man_page_are_generated_from_the_command_line() {
    let scope = TestScope::new("generated");
    for shell in ["bash", "zsh", "fish"] {
        let script = scope.ok(&["completions", shell]);
        for verb in ["install", "uninstall", "status", "logs", "show"] {
            assert!(script.contains(verb), "{shell} completion lacks {verb}");
        }
    }
    let bash = scope.dir.join("svc-any.bash");
    std::fs::write(&bash, scope.ok(&["completions", "bash"])).unwrap();
    let checked = common::run(std::process::Command::new("bash").arg("-n").arg(&bash));
    assert!(checked.status.success(), "{}", text(&checked.stderr));
    let man = scope.ok(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH svc-any 1"),
        "{man}"
    );
    assert!(man.contains("One service definition, every init system"));
    // Every subcommand's help ends with an example.
    for verb in [
        "install",
        "start",
        "stop",
        "status",
        "logs",
        "uninstall",
        "show",
    ] {
        let help = scope.ok(&[verb, "--help"]);
        assert!(
            help.contains("Example"),
            "{verb} --help has no example:\n{help}"
        );
    }
}

/// Another local user cannot take a user's runtime directory first, nor command a supervisor
/// that is not theirs.
#[test]
fn other_users_can_neither_squat_the_runtime_dir_nor_command_the_supervisor() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root to act as two users (tests/run runs as root)");
        return;
    }
    let scope = TestScope::new("squat");
    let home = scope.dir.join("home");
    std::fs::create_dir_all(&home).unwrap();
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    nix::unistd::chown(&home, Some(nobody.uid), Some(nobody.gid)).unwrap();
    let as_user = |user: &str, home: &std::path::Path, args: &[&str]| {
        common::run(
            std::process::Command::new("setpriv")
                .args([
                    &format!("--reuid={user}"),
                    "--regid=nogroup",
                    "--clear-groups",
                    "--",
                ])
                .arg(common::bin())
                .arg("--user")
                .args(args)
                .env("HOME", home)
                .env_remove("XDG_RUNTIME_DIR")
                .env_remove("XDG_STATE_HOME")
                .env_remove("SVC_ANY_STATE_DIR")
                .env_remove("SVC_ANY_RUNTIME_DIR"),
        )
    };
    // Without XDG_RUNTIME_DIR the runtime directory is in the user's own home, not in /tmp.
    let run_dir = home.join(".local/state/svc-any/run");
    // However the test ends, the user's supervisor (and its service) goes with it.
    struct KillOnDrop(String);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            for pid in processes_matching(&self.0) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
    let _supervisor = KillOnDrop(run_dir.display().to_string());
    let out = as_user(
        "nobody",
        &home,
        &["install", "mine", "--start", "--", "/bin/sleep", "1031"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let meta = std::fs::metadata(&run_dir).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (meta.uid(), meta.mode() & 0o777),
        (nobody.uid.as_raw(), 0o700)
    );

    // Someone else may not command it even if its socket were opened to everyone by hand.
    let socket = run_dir.join("supervisor.sock");
    std::fs::set_permissions(
        &run_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::fs::set_permissions(&socket, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let intruder = common::run(
        std::process::Command::new("setpriv")
            .args(["--reuid=daemon", "--regid=nogroup", "--clear-groups", "--"])
            .arg("/usr/bin/python3")
            .arg("-c")
            .arg(format!(
                "import socket; s = socket.socket(socket.AF_UNIX); s.connect({:?}); \
                 print(s.recv(4096).decode())\n\
                 try: s.sendall(b'{{\"op\":\"stop\",\"units\":[\"mine\"]}}\\n')\n\
                 except OSError: pass",
                socket.display().to_string()
            )),
    );
    assert!(
        text(&intruder.stdout).contains("only this supervisor's user or root"),
        "{}{}",
        text(&intruder.stdout),
        text(&intruder.stderr)
    );
    assert_eq!(
        processes_matching("sleep 1031").len(),
        1,
        "the intruder stopped it"
    );

    // A directory that is not the user's alone is refused at once, naming it and its owner.
    std::fs::set_permissions(
        &run_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let out = as_user("nobody", &home, &["uninstall", "mine"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Its supervisor, left with nothing, exits and tidies its directory away: wait for that.
    let needle = run_dir.display().to_string();
    assert!(eventually(Duration::from_secs(10), || processes_matching(
        &needle
    )
    .is_empty()));
    let _ = std::fs::remove_dir_all(&run_dir);
    std::fs::create_dir_all(&run_dir).unwrap(); // root's, as a squatter's would be
    std::fs::set_permissions(
        &run_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let began = Instant::now();
    let out = as_user(
        "nobody",
        &home,
        &["install", "mine", "--start", "--", "/bin/sleep", "1031"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let refusal = text(&out.stderr);
    assert!(
        refusal.contains("is not yours alone") && refusal.contains("owned by root"),
        "{refusal}"
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "refused only after waiting"
    );
    assert!(processes_matching("sleep 1031").is_empty());
}

/// A service's `env` values are root's: another user who reads its record (every user may)
/// sees each name with `(hidden)` for its value in `render`, `show` and `--dry-run`, and is told
/// how to see them; `status --json` has no value to hide; an install from that view is refused.
/// Root sees the values.
#[test]
fn env_values_are_hidden_from_other_users_and_shown_to_root() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: needs root to act as two users (tests/run runs as root)");
        return;
    }
    let scope = TestScope::new("hidden");
    let secret = format!("hunter2-{}", std::process::id());
    let def = scope.definition(
        "sec",
        &format!(
            "exec = [\"/bin/sleep\", \"1049\"]\nenv = {{ DB_PASSWORD = \"{secret}\", PLAIN = \"not secret\" }}\n"
        ),
    );
    // The definition is root's own, kept private as a careful admin keeps it.
    std::fs::set_permissions(&def, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    scope.ok(&["install", "sec", "-f", &def, "--start"]);

    // nobody, pointed at root's state (anyone may name it), with a runtime directory of its own.
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    let mine = scope.dir.join("nobody");
    std::fs::create_dir_all(mine.join("run")).unwrap();
    for dir in [mine.clone(), mine.join("run")] {
        nix::unistd::chown(&dir, Some(nobody.uid), Some(nobody.gid)).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
    }
    let as_nobody = |args: &[&str]| {
        common::run(
            std::process::Command::new("setpriv")
                .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
                .arg(common::bin())
                .args(args)
                .current_dir(&scope.dir)
                .env("HOME", &mine)
                .env("SVC_ANY_STATE_DIR", scope.state())
                .env("SVC_ANY_RUNTIME_DIR", mine.join("run"))
                .env_remove("XDG_RUNTIME_DIR")
                .env_remove("XDG_STATE_HOME")
                .env_remove("SVC_ANY_BACKEND"),
        )
    };
    let state_before = common::snapshot(&scope.state());
    for args in [
        &["render", "sec"][..],
        &["show", "sec"],
        &["show", "sec", "--json"],
        &["install", "sec", "--dry-run"],
    ] {
        let out = as_nobody(args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "{args:?} shows nobody the value:\n{stdout}{stderr}"
        );
        assert!(
            stderr.contains("(hidden)") && stderr.contains("run as root"),
            "{args:?} does not say how to see the values:\n{stdout}{stderr}"
        );
        // Asked by a user who cannot ask the manager, show still shows the record.
        if args[0] != "install" {
            assert!(
                stdout.contains("DB_PASSWORD") && stdout.contains("(hidden)"),
                "{args:?} does not name the variable with (hidden) for its value:\n{stdout}{stderr}"
            );
        }
    }
    let rendered = text(&as_nobody(&["render", "sec"]).stdout);
    assert!(
        rendered.contains("DB_PASSWORD = \"(hidden)\"\nPLAIN = \"(hidden)\""),
        "the builtin's definition, in its own syntax: {rendered}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&as_nobody(&["show", "sec", "--json"]).stdout).unwrap();
    assert_eq!(
        json["services"][0]["definition"]["env"]["DB_PASSWORD"],
        "(hidden)"
    );
    // The dry run cannot see root's file that holds the values: it says so, with no diff.
    let dry = text(&as_nobody(&["install", "sec", "--dry-run"]).stdout);
    assert!(
        dry.contains("you may not read it, so no diff; run as root to see it"),
        "{dry}"
    );
    let status = as_nobody(&["status", "--json"]);
    assert!(!text(&status.stdout).contains(&secret));
    // What nobody sees is for eyes only: an install from it is refused, and changes nothing.
    for args in [&["install", "sec"][..], &["install", "sec", "--user"]] {
        let out = as_nobody(args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert_eq!(common::snapshot(&scope.state()), state_before);

    // Root reads the values, from the record as from the file.
    std::fs::remove_file(&def).unwrap();
    for args in [&["render", "sec"][..], &["show", "sec"]] {
        let out = scope.run(args);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert!(
            stdout.contains(&secret)
                && !stdout.contains("(hidden)")
                && !stderr.contains("(hidden)"),
            "{args:?} as root:\n{stdout}{stderr}"
        );
    }
    scope.ok(&["uninstall", "sec"]);
}

/// `logs` of several services (or a group) prefixes each line with its service, and follows
/// them all.
#[test]
fn logs_of_several_services_prefix_each_line() {
    let scope = TestScope::new("logs-many");
    for (name, word) in [("alpha", "from-alpha"), ("be", "from-be")] {
        let def = scope.definition(
            name,
            &format!("exec = [\"/bin/sh\", \"-c\", \"echo {word}; exec sleep 1041\"]\n"),
        );
        scope.ok(&["install", name, "-f", &def, "--start", "--wait"]);
    }
    let out = unstamped(&scope.ok(&["logs", "alpha", "be", "-n", "5"]));
    assert!(out.contains("alpha | from-alpha"), "{out}");
    assert!(out.contains("be    | from-be"), "{out}");
    let mut follower = scope
        .cmd()
        .args(["logs", "alpha", "be", "-f", "-n", "0"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    // Append until the follower shows a line (it may not have opened the files yet at first).
    let log = scope.state().join("logs/be.log");
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.is_none() && Instant::now() < deadline {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(f, "appended later").unwrap();
        seen = received.recv_timeout(Duration::from_millis(500)).ok();
    }
    let _ = follower.kill();
    let _ = follower.wait();
    assert_eq!(seen.as_deref(), Some("be    | appended later"));
    scope.ok(&["uninstall", "alpha", "be"]);
}

/// `log.stderr` keeps stderr apart from stdout (each line stamped); `logs` shows both, and
/// `uninstall --purge` removes both.
#[test]
fn log_stderr_keeps_stderr_apart() {
    let scope = TestScope::new("stderr");
    let (out, err) = (scope.dir.join("split.log"), scope.dir.join("split.err"));
    let def = scope.definition(
        "split",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"echo to stdout; echo to stderr >&2; exec sleep 1071\"]\n\
             [log]\nfile = \"{}\"\nstderr = \"{}\"\n",
            out.display(),
            err.display()
        ),
    );
    scope.ok(&["install", "split", "-f", &def, "--start"]);
    let has = |path: &std::path::Path, what: &str| {
        std::fs::read_to_string(path).is_ok_and(|t| t.contains(what))
    };
    assert!(eventually(Duration::from_secs(10), || has(
        &out,
        "to stdout"
    ) && has(
        &err,
        "to stderr"
    )));
    assert_eq!(
        unstamped(&std::fs::read_to_string(&out).unwrap()),
        "to stdout\n"
    );
    assert_eq!(
        unstamped(&std::fs::read_to_string(&err).unwrap()),
        "to stderr\n"
    );
    let shown = scope.ok(&["logs", "split"]);
    assert!(
        shown.contains(" to stdout") && shown.contains(" to stderr"),
        "{shown}"
    );
    // A restart gets a pipe for each again.
    scope.ok(&["restart", "split", "--wait"]);
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_to_string(&err).is_ok_and(|t| t.lines().count() == 2)
    }));
    assert!(!has(&out, "to stderr"), "stderr reached stdout's file");
    scope.ok(&["uninstall", "split", "--purge"]);
    assert!(!out.exists() && !err.exists(), "purge left a log");
}

/// `logs --since` shows the lines stamped at or after a time (rotated files too), in any of
/// the forms a person types, then follows with -f; where lines carry no time it is refused.
#[test]
fn logs_since_reads_the_stamps_then_follows() {
    let scope = TestScope::new("since");
    let def = scope.definition("dated", "exec = [\"/bin/sleep\", \"1061\"]\n");
    scope.ok(&["install", "dated", "-f", &def]);
    let stamp = |ago: u64| {
        let at = std::time::SystemTime::now() - Duration::from_secs(ago);
        humantime::format_rfc3339_micros(at).to_string()
    };
    let log = scope.log("dated");
    std::fs::create_dir_all(log.parent().unwrap()).unwrap();
    let rotated = log.with_file_name("dated.log.1");
    std::fs::write(
        &rotated,
        "2020-01-01T00:00:00.000000Z ancient\n2021-06-01T09:00:00.000000Z rotated morning\n",
    )
    .unwrap();
    std::fs::write(
        &log,
        format!(
            "2021-06-01T10:00:00.000000Z live morning\n\
             {} an hour ago\n\
             {} a minute ago\n\
             a line without a stamp goes with the one before\n",
            stamp(3600),
            stamp(60)
        ),
    )
    .unwrap();
    let since = |when: &str, extra: &[&str]| {
        let mut args = vec!["logs", "dated", "--since", when];
        args.extend_from_slice(extra);
        let out = scope.ok(&args);
        out.lines()
            .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
            .collect::<Vec<_>>()
    };
    let recent = [
        "a minute ago",
        "line without a stamp goes with the one before",
    ];
    assert_eq!(since("10m", &[]), recent);
    assert_eq!(since("30m ago", &[]), recent);
    assert_eq!(
        since("2021-06-01T08:00:00Z", &[])[..2],
        ["rotated morning", "live morning"]
    );
    assert_eq!(since("2021-06-01T11:30:00+02:00", &[])[0], "live morning");
    assert_eq!(since("2021-06-01T08:00:00Z", &["-n", "1"]), recent[1..]);
    // A local time (this machine's zone, as date(1) reads it) counts the same way.
    let local = std::process::Command::new("date")
        .args(["-d", "@1622541600", "+%Y-%m-%d %H:%M"]) // 2021-06-01T10:00:00Z
        .output()
        .unwrap();
    let local = text(&local.stdout).trim().to_string();
    assert_eq!(since(&local, &[])[0], "live morning");

    // -f: from TIME, then what comes next.
    let mut follower = scope
        .cmd()
        .args(["logs", "dated", "--since", "10m", "-f"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (lines, received) = std::sync::mpsc::channel();
    let stdout = follower.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    let next = || received.recv_timeout(Duration::from_secs(10)).ok();
    assert!(next().is_some_and(|l| l.ends_with(" a minute ago")));
    assert!(next().is_some_and(|l| l.starts_with("a line without")));
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
        writeln!(f, "{} written while followed", stamp(0)).unwrap();
    }
    let followed = next();
    let _ = follower.kill();
    let _ = follower.wait();
    assert!(
        followed
            .as_deref()
            .is_some_and(|l| l.ends_with(" written while followed")),
        "{followed:?}"
    );

    // Not a time; and a log whose lines carry none.
    let out = scope.run(&["logs", "dated", "--since", "yesterday-ish"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("2h ago"),
        "{}",
        text(&out.stderr)
    );
    let bare = scope.dir.join("bare.log");
    let def = scope.definition(
        "bare",
        &format!(
            "exec = [\"/bin/sleep\", \"1062\"]\n[log]\nfile = \"{}\"\ntimestamps = false\n",
            bare.display()
        ),
    );
    scope.ok(&["install", "bare", "-f", &def]);
    let out = scope.run(&["logs", "bare", "--since", "1h"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let why = text(&out.stderr);
    assert!(
        why.contains("--since: builtin cannot tell when bare's lines were written")
            && why.contains("log.timestamps = false"),
        "{why}"
    );
    scope.ok(&["uninstall", "dated", "bare"]);
}

/// A health check answered by another program on the same port does not make the service
/// healthy; `--wait` says who answered.
#[test]
fn a_health_check_counts_only_when_the_service_itself_answers() {
    let scope = TestScope::new("squatter");
    let squatter = std::net::TcpListener::bind("127.0.0.1:18151").unwrap();
    let def = scope.definition(
        "late",
        "exec = [\"/bin/sleep\", \"1051\"]\n[health]\ntcp = \"127.0.0.1:18151\"\n",
    );
    let out = scope.run(&["install", "late", "-f", &def, "--start", "--wait=2"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "healthy on someone else's port: {}",
        text(&out.stdout)
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!("answered by pid {}", std::process::id()))
            && stderr.contains("not one of the service's processes"),
        "{stderr}"
    );
    drop(squatter);

    // The service's own listener (here a child of its shell) does count.
    let def = scope.definition(
        "own",
        "exec = [\"/bin/sh\", \"-c\", \"python3 -m http.server 18152 --bind 127.0.0.1; exit 1\"]\n[health]\ntcp = \"127.0.0.1:18152\"\n",
    );
    let out = scope.run(&["install", "own", "-f", &def, "--start", "--wait=20"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    scope.ok(&["uninstall", "late", "own"]);
}

/// `cmd` run with RLIMIT_NOFILE at (soft, hard): a supervisor it starts inherits them.
fn with_nofile(
    cmd: &mut std::process::Command,
    soft: u64,
    hard: u64,
) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: only a system call between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, soft, hard)
                .map_err(std::io::Error::from)
        })
    }
}

/// `Max open files` of a process: (soft, hard).
fn nofile_of(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].parse().unwrap(), words[4].parse().unwrap())
}

/// Every unit of `status --json`: name -> (state, pid, reason).
fn states(scope: &TestScope) -> std::collections::BTreeMap<String, (String, u64, String)> {
    let out = scope.run(&["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                (
                    s["state"].as_str().unwrap().to_string(),
                    s["pid"].as_u64().unwrap_or(0),
                    s["reason"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect()
}

/// More services than the supervisor has descriptors for: it raises its soft limit to the hard
/// one (its services get the limit it was started with), starts what fits, refuses the rest
/// with the reason, never goes past its limit, and loses nothing at a reload; once some stop,
/// a refused one starts.
#[test]
fn more_services_than_descriptors_refuses_the_rest_and_loses_none() {
    let scope = TestScope::new("nofile");
    let (soft, hard) = (64, 256);
    let mut definitions = String::new();
    for i in 0..200 {
        definitions.push_str(&format!(
            "[services.n{i:03}]\nexec = [\"/bin/sleep\", \"1000\"]\n\n"
        ));
    }
    let file = scope.dir.join("svc-any.toml");
    std::fs::write(&file, definitions).unwrap();
    let out = common::run(with_nofile(
        scope
            .cmd()
            .arg("install")
            .arg("-f")
            .arg(&file)
            .arg("--start"),
        soft,
        hard,
    ));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "some could not start: {stderr}");
    assert!(stderr.contains("file descriptors"), "{stderr}");

    let supervisor = scope.supervisor_pid().unwrap();
    assert_eq!(nofile_of(supervisor), (hard, hard), "soft raised to hard");
    let before = states(&scope);
    assert_eq!(before.len(), 200, "every service has a status");
    let running: Vec<(&String, u64)> = before
        .iter()
        .filter(|(_, (state, _, _))| state == "running")
        .map(|(name, (_, pid, _))| (name, *pid))
        .collect();
    assert!(
        running.len() > 60 && running.len() < 128,
        "{} running with {hard} descriptors",
        running.len()
    );
    for (name, (state, _, reason)) in &before {
        assert!(
            state == "running" || (state == "failed" && reason.contains("file descriptors")),
            "{name}: {state} ({reason})"
        );
    }
    assert_eq!(nofile_of(running[0].1 as u32), (soft, hard));
    let held = std::fs::read_dir(format!("/proc/{supervisor}/fd"))
        .unwrap()
        .count();
    assert!(held < hard as usize, "{held} descriptors open");

    // A full reload (SIGHUP) and a new service's (a reload naming it): nothing running is lost.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    let more = scope.definition("extra", "exec = [\"/bin/sleep\", \"1000\"]\n");
    let out = scope.run(&["install", "extra", "-f", &more, "--start"]);
    assert_eq!(out.status.code(), Some(1), "no room for one more");
    let after = states(&scope);
    assert_eq!(after.len(), 201);
    for (name, pid) in &running {
        assert_eq!(after[*name].0, "running", "{name} after the reloads");
        assert_eq!(after[*name].1, *pid, "{name} was restarted");
    }
    assert!(
        after["extra"].2.contains("file descriptors"),
        "{:?}",
        after["extra"]
    );

    // Room made: the refused one starts.
    let stop: Vec<&str> = running[..3].iter().map(|(n, _)| n.as_str()).collect();
    scope.ok(&[&["stop"], stop.as_slice()].concat());
    scope.ok(&["start", "extra"]);
    assert_eq!(scope.field("extra", "state"), "running");
}

/// A definition that cannot be read (no descriptor left, not a file, not TOML) never means
/// the service was removed: its units go on running as they were, and they take the
/// definition again once it can be read.
#[test]
fn a_definition_that_cannot_be_read_keeps_its_units() {
    let scope = TestScope::new("unreadable");
    for name in ["a", "b", "c"] {
        let def = scope.definition(name, "exec = [\"/bin/sleep\", \"1000\"]\n");
        scope.ok(&["install", name, "-f", &def, "--start"]);
    }
    let pid = |name: &str| scope.field(name, "pid").as_u64().unwrap();
    let pids: Vec<u64> = ["a", "b", "c"].iter().map(|n| pid(n)).collect();
    let supervisor = scope.supervisor_pid().unwrap();
    let log = scope.state().join("logs/supervisor.log");
    let hangup = || {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(supervisor as i32),
            nix::sys::signal::Signal::SIGHUP,
        )
        .unwrap()
    };
    let mentions = |what: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(what)
            .count()
    };

    // b no longer parses, c is a directory now: both stay.
    let definitions = scope.state().join("builtin");
    std::fs::write(
        definitions.join("b.toml"),
        "# generated by svc-any (a half-edited copy)\nthis is not a definition\n",
    )
    .unwrap();
    std::fs::remove_file(definitions.join("c.toml")).unwrap();
    std::fs::create_dir(definitions.join("c.toml")).unwrap();
    hangup();
    assert!(eventually(Duration::from_secs(5), || mentions(
        "cannot read"
    ) >= 2));
    for (name, was) in ["a", "b", "c"].iter().zip(&pids) {
        assert_eq!(scope.field(name, "state"), "running", "{name}");
        assert_eq!(pid(name), *was, "{name}");
    }

    // No descriptor left at all (none above stdio may be opened): the directory cannot even
    // be listed. Only the soft limit moves: raising a hard limit again takes a privilege
    // (CAP_SYS_RESOURCE) that root may lack.
    let limit = |soft: Option<u64>| {
        let mut old = nix::libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: plain values in, plain values out.
        let rc = unsafe {
            nix::libc::prlimit(
                supervisor as i32,
                nix::libc::RLIMIT_NOFILE,
                std::ptr::null(),
                &mut old,
            )
        };
        assert_eq!(rc, 0, "prlimit");
        if let Some(soft) = soft {
            let new = nix::libc::rlimit {
                rlim_cur: soft,
                rlim_max: old.rlim_max,
            };
            // SAFETY: as above.
            let rc = unsafe {
                nix::libc::prlimit(
                    supervisor as i32,
                    nix::libc::RLIMIT_NOFILE,
                    &new,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(rc, 0, "prlimit");
        }
        old.rlim_cur
    };
    let soft = limit(Some(3));
    hangup();
    assert!(eventually(Duration::from_secs(5), || mentions(
        "cannot list"
    ) >= 1));
    limit(Some(soft));
    for (name, was) in ["a", "b", "c"].iter().zip(&pids) {
        assert_eq!(scope.field(name, "state"), "running", "{name}");
        assert_eq!(pid(name), *was, "{name}");
    }

    // Readable again: b takes its definition back.
    let def = scope.definition("b", "exec = [\"/bin/sleep\", \"2000\"]\n");
    scope.ok(&["install", "b", "-f", &def]);
    scope.ok(&["restart", "b"]);
    let argv = std::fs::read_to_string(format!("/proc/{}/cmdline", pid("b"))).unwrap();
    assert_eq!(argv, "/bin/sleep\u{0}2000\u{0}");

    // Only a file that is not there is gone: a's process stops.
    std::fs::remove_file(definitions.join("a.toml")).unwrap();
    hangup();
    let gone = |pid: u64| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| s.contains(") Z "))
    };
    assert!(eventually(Duration::from_secs(5), || gone(pids[0])));
    assert!(!gone(pids[2]), "c still runs");
}

/// A service gets stdin, stdout and stderr and nothing else of the supervisor's, however many
/// descriptors the supervisor holds (here: those of 30 other running services).
#[test]
fn a_service_starts_with_its_stdio_and_no_other_descriptor() {
    let scope = TestScope::new("stdio");
    let mut definitions = String::new();
    for i in 0..30 {
        definitions.push_str(&format!(
            "[services.busy{i}]\nexec = [\"/bin/sleep\", \"1000\"]\n\n"
        ));
    }
    let file = scope.dir.join("svc-any.toml");
    std::fs::write(&file, definitions).unwrap();
    scope.ok(&["install", "-f", file.to_str().unwrap(), "--start"]);
    let listing = scope.dir.join("fds");
    let script = scope.dir.join("look.py");
    std::fs::write(
        &script,
        "import os, sys\n\
         fds = []\n\
         for fd in os.listdir('/proc/self/fd'):\n\
         \x20   try:\n\
         \x20       os.readlink('/proc/self/fd/' + fd)\n\
         \x20       fds.append(fd)\n\
         \x20   except OSError:\n\
         \x20       pass  # the listing's own, closed by now\n\
         open(sys.argv[1] + '.tmp', 'w').write(' '.join(fds))\n\
         os.rename(sys.argv[1] + '.tmp', sys.argv[1])\n\
         print('hello', flush=True)\n\
         os.execv('/bin/sleep', ['sleep', '1000'])\n",
    )
    .unwrap();
    let def = scope.definition(
        "look",
        &format!(
            "exec = [\"/usr/bin/python3\", \"{}\", \"{}\"]\n",
            script.display(),
            listing.display()
        ),
    );
    scope.ok(&["install", "look", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(10), || listing.exists()));
    let mut fds: Vec<u32> = std::fs::read_to_string(&listing)
        .unwrap()
        .split_whitespace()
        .map(|f| f.parse().unwrap())
        .collect();
    fds.sort_unstable();
    assert_eq!(fds, [0, 1, 2], "the service's descriptors");
    assert!(eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(scope.log("look")).is_ok_and(|t| t.contains("hello"))
    }));
}

/// A supervisor that holds the scope's lock is running, socket or not: a question waits for a
/// starting one to answer, and one that never answers is an error naming both files, never
/// "nothing runs".
#[test]
fn a_supervisor_that_holds_the_lock_but_never_answers_is_an_error() {
    let scope = TestScope::new("mute");
    let def = scope.definition("quiet", "exec = [\"/bin/sleep\", \"1061\"]\n");
    scope.ok(&["install", "quiet", "-f", &def]);
    std::fs::create_dir_all(scope.runtime()).unwrap();
    let lock = scope.runtime().join("supervisor.lock");
    // A stand-in that takes the lock as a supervisor does at its start, and never opens a socket.
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg("import fcntl, sys, time; f = open(sys.argv[1], 'w'); fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)")
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let began = Instant::now();
    let out = scope.run(&["status", "quiet"]);
    let waited = began.elapsed();
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = text(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("supervisor.lock") && stderr.contains("supervisor.sock"),
        "{stderr}"
    );
    assert!(
        waited >= Duration::from_secs(5),
        "gave up on a starting supervisor after {waited:?}"
    );
    scope.ok(&["uninstall", "quiet"]);
}

/// Keys of real daemons the supervisor carries: umask, supplementary groups and
/// no_new_privileges are the process's own (read back from /proc), a list of environment
/// files is read in order with `-` ones allowed missing and `env` winning, and an exit listed
/// in restart_prevent_exit_codes stays down under `restart = "always"`.
#[test]
fn daemon_keys_the_supervisor_carries() {
    let scope = TestScope::new("daemonkeys");
    let dir = scope.state().parent().unwrap().join("daemonkeys-files");
    std::fs::create_dir_all(&dir).unwrap();
    let env_file = dir.join("env");
    std::fs::write(&env_file, "A=from-file\nB=from-file\n").unwrap();
    let seen = dir.join("seen");
    let def = scope.definition(
        "keys",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"printf '%s|%s' \\\"$A\\\" \\\"$B\\\" > {}; exec sleep 1071\"]\n\
             env = {{ B = \"from-env\" }}\n\
             env_file = [\"-{}/missing\", \"{}\"]\n\
             umask = \"0027\"\n\
             supplementary_groups = [\"4\"]\n\
             no_new_privileges = true\n",
            seen.display(),
            dir.display(),
            env_file.display()
        ),
    );
    scope.ok(&["install", "keys", "-f", &def, "--start", "--wait=5"]);
    let pid = scope.field("keys", "pid").as_u64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    assert_eq!(field("Umask"), "0027");
    assert_eq!(field("NoNewPrivs"), "1");
    assert!(
        field("Groups").split_whitespace().any(|g| g == "4"),
        "groups: {}",
        field("Groups")
    );
    assert!(eventually(Duration::from_secs(5), || seen.exists()));
    assert_eq!(
        std::fs::read_to_string(&seen).unwrap(),
        "from-file|from-env"
    );

    let def = scope.definition(
        "refuses",
        "exec = [\"/bin/sh\", \"-c\", \"exit 42\"]\nrestart = \"always\"\nrestart_prevent_exit_codes = [42]\n",
    );
    scope.ok(&["install", "refuses", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(5), || {
        scope.field("refuses", "state") == "dead"
    }));
    // Dead, not starting: a unit to be restarted waits in `starting` for its delay.
    assert_eq!(scope.field("refuses", "restarts").as_u64(), Some(0));
    scope.ok(&["uninstall", "keys", "refuses"]);
}

/// The supervisor writes logs as root, often into a directory the service's own user may
/// write. That user plants symbolic links where the log and its rotated copies go: nothing
/// outside changes, the links stay links, and the supervisor's log says why the output went
/// nowhere.
#[test]
fn planted_symbolic_links_redirect_no_log_write() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: a service user and root-owned victims need root");
        return;
    }
    let scope = TestScope::new("planted");
    let base = scope.state().parent().unwrap().join("planted-files");
    let _ = std::fs::remove_dir_all(&base);
    let private = base.join("root-only");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let victims: Vec<_> = ["a", "b"].iter().map(|n| private.join(n)).collect();
    for v in &victims {
        std::fs::write(v, "root's own\n").unwrap();
    }
    // The service's directory, its user's to write: where the links are planted.
    let logs = base.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    nix::unistd::chown(&logs, Some(nix::unistd::Uid::from_raw(65534)), None).unwrap();
    let linked = logs.join("linked.log");
    symlink(&victims[0], &linked).unwrap();
    let rotated = logs.join("rotating.log");
    std::fs::write(&rotated, "").unwrap();
    symlink(&victims[1], logs.join("rotating.log.1")).unwrap();

    let chatty = "exec = [\"/bin/sh\", \"-c\", \"i=0; while [ $i -lt 400 ]; do echo line $i of a chatty service; i=$((i+1)); done; exec sleep 1091\"]\nuser = \"nobody\"\n";
    let def = scope.definition(
        "linked",
        &format!("{chatty}[log]\nfile = \"{}\"\n", linked.display()),
    );
    scope.ok(&["install", "linked", "-f", &def, "--start"]);
    let def = scope.definition(
        "rotating",
        &format!(
            "{chatty}[log]\nfile = \"{}\"\nmax_size = \"2K\"\nkeep = 1\n",
            rotated.display()
        ),
    );
    scope.ok(&["install", "rotating", "-f", &def, "--start"]);
    let events = scope.state().join("logs/supervisor.log");
    assert!(
        eventually(Duration::from_secs(10), || {
            std::fs::read_to_string(&events).is_ok_and(|t| t.contains("a symbolic link"))
        }),
        "the supervisor's log says nothing about the link: {:?}",
        std::fs::read_to_string(&events)
    );
    // The rotating one rotates its 400 lines: into regular files of its own, past the link
    // planted as an old rotated copy (which goes as old copies do, the link and not its target).
    assert!(eventually(Duration::from_secs(10), || {
        std::fs::read_dir(&logs).is_ok_and(|d| {
            d.flatten().any(|e| {
                e.file_name().to_string_lossy().starts_with("rotating.log.")
                    && e.file_type().is_ok_and(|t| t.is_file())
            })
        })
    }));
    for v in &victims {
        assert_eq!(
            std::fs::read_to_string(v).unwrap(),
            "root's own\n",
            "{} was written through a link",
            v.display()
        );
    }
    assert_eq!(std::fs::read_link(&linked).unwrap(), victims[0]);
    scope.ok(&["uninstall", "linked", "rotating"]);
}

/// runtime_dir and state_dir under the supervisor, as systemd makes them: before the start,
/// owned by the service's user with the key's mode; the runtime one gone when the service
/// stops, the state one kept. A name planted as a symbolic link fails the start, naming the
/// key, and nothing is made through it.
#[test]
fn the_supervisor_makes_the_directories_a_daemon_asks_for() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: /run and /var/lib are root's");
        return;
    }
    let scope = TestScope::new("dirs");
    let tag = format!("svc-any-test-{}", std::process::id());
    let (run, state) = (
        std::path::PathBuf::from(format!("/run/{tag}")),
        std::path::PathBuf::from(format!("/var/lib/{tag}")),
    );
    let def = scope.definition(
        "dirs",
        &format!(
            "exec = [\"/bin/sleep\", \"1101\"]\nuser = \"nobody\"\nruntime_dir = \"{tag}\"\nruntime_dir_mode = \"0750\"\nstate_dir = \"{tag}\"\n"
        ),
    );
    scope.ok(&["install", "dirs", "-f", &def, "--start", "--wait=5"]);
    for (dir, mode) in [(&run, 0o750), (&state, 0o755)] {
        let m = std::fs::symlink_metadata(dir).unwrap();
        assert!(m.is_dir(), "{}", dir.display());
        assert_eq!(m.permissions().mode() & 0o7777, mode, "{}", dir.display());
        assert_eq!((m.uid(), m.gid()), (65534, 65534), "{}", dir.display());
    }
    scope.ok(&["stop", "dirs"]);
    assert!(!run.exists(), "the runtime directory outlived the service");
    assert!(state.is_dir(), "the state directory went with the service");
    let _ = std::fs::remove_dir(&state);

    // A runtime name planted as a link: the start fails naming the key; nothing is made
    // through the link.
    let target = scope.state().parent().unwrap().join("dirs-target");
    std::fs::create_dir_all(&target).unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&target, &run).unwrap();
    let out = scope.run(&["start", "dirs", "--wait=5"]);
    let _ = std::fs::remove_file(&run);
    let _ = std::fs::remove_dir(&state);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("runtime_dir"), "{stderr}");
    let m = std::fs::metadata(&target).unwrap();
    assert_eq!(
        (m.uid(), m.permissions().mode() & 0o777),
        (0, 0o700),
        "the link's target was changed"
    );
    scope.ok(&["uninstall", "dirs"]);
}

/// kill_mode: by default a stop reaches the whole process group (as a cgroup would), with
/// "process" only the main process, and what it started is left running, as systemd does.
#[test]
fn kill_mode_process_leaves_the_rest_of_the_group_alone() {
    let scope = TestScope::new("killmode");
    for (name, mode, child_stays) in [
        ("grouped", "", false),
        ("single", "kill_mode = \"process\"\n", true),
    ] {
        let child = format!("sleep 113{}", u8::from(child_stays));
        let def = scope.definition(
            name,
            &format!("exec = [\"/bin/sh\", \"-c\", \"{child} & exec sleep 1122\"]\n{mode}"),
        );
        scope.ok(&["install", name, "-f", &def, "--start", "--wait=2"]);
        let pattern = format!("{child} ");
        assert!(eventually(Duration::from_secs(5), || {
            processes_matching(&pattern).len() == 1
        }));
        scope.ok(&["stop", name]);
        let left = processes_matching(&pattern);
        if child_stays {
            assert_eq!(
                left.len(),
                1,
                "{name}: the child went with the main process"
            );
            for pid in left {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        } else {
            assert!(
                eventually(Duration::from_secs(5), || processes_matching(&pattern)
                    .is_empty()),
                "{name}: the child outlived the stop"
            );
        }
        scope.ok(&["uninstall", name]);
    }
}

/// condition_path_exists: checked before each start; an unmet one leaves the service stopped
/// (not failed), saying which condition, as systemd does; a met one starts it.
#[test]
fn an_unmet_condition_skips_the_start_and_says_which() {
    let scope = TestScope::new("condition");
    for (name, condition, runs) in [
        ("needs", "/nonexistent-svc-any-condition", false),
        ("shuns", "!/etc", false),
        ("met", "/etc", true),
    ] {
        let def = scope.definition(
            name,
            &format!(
                "exec = [\"/bin/sleep\", \"1141\"]\ncondition_path_exists = [\"{condition}\"]\n"
            ),
        );
        scope.ok(&["install", name, "-f", &def, "--start"]);
        let want = if runs { "running" } else { "stopped" };
        assert!(
            eventually(Duration::from_secs(5), || scope.field(name, "state")
                == want),
            "{name}: {}",
            scope.field(name, "state")
        );
        if !runs {
            let reason = scope.field(name, "reason");
            assert!(
                reason.as_str().is_some_and(|r| r.contains(condition)),
                "{name}: {reason}"
            );
        }
    }
    scope.ok(&["uninstall", "needs", "shuns", "met"]);
}

/// type = "notify": the service is `starting` until it sends READY=1 to NOTIFY_SOCKET (here
/// a second after it starts, from a child, as a script's `systemd-notify` does), and
/// `start --wait` returns only then; one that never says it is ready never reads `running`.
#[test]
fn a_notify_service_is_up_once_it_says_ready() {
    let scope = TestScope::new("notify");
    let ready_later = "sleep 1; python3 -c 'import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\\\"STATUS=up\\\\nREADY=1\\\", os.environ[\\\"NOTIFY_SOCKET\\\"])'; exec sleep 1151";
    let def = scope.definition(
        "ready",
        &format!("type = \"notify\"\nexec = [\"/bin/sh\", \"-c\", \"{ready_later}\"]\n"),
    );
    scope.ok(&["install", "ready", "-f", &def]);
    let began = Instant::now();
    scope.ok(&["start", "ready", "--wait=20"]);
    assert!(
        began.elapsed() >= Duration::from_secs(1),
        "--wait returned before READY=1 could have come"
    );
    assert_eq!(scope.field("ready", "state"), "running");

    let def = scope.definition(
        "mute",
        "type = \"notify\"\nexec = [\"/bin/sleep\", \"1152\"]\n",
    );
    scope.ok(&["install", "mute", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(5), || {
        scope.field("mute", "pid").as_u64().is_some()
    }));
    assert_eq!(scope.field("mute", "state"), "starting");
    assert!(scope
        .field("mute", "reason")
        .as_str()
        .is_some_and(|r| r.contains("READY=1")));
    let out = scope.run(&["start", "mute", "--wait=2"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));

    // A sender gone before its message is read (`systemd-notify` quits at once, its shell
    // reaps it) has no parent left to check: it counts for the one unit waiting that runs as
    // its user. The supervisor is held still so the sender is surely gone and reaped first.
    let def = scope.definition(
        "told",
        "type = \"notify\"\nexec = [\"/bin/sleep\", \"1153\"]\n",
    );
    scope.ok(&["install", "told", "-f", &def, "--start"]);
    assert!(eventually(Duration::from_secs(5), || {
        scope.field("told", "pid").as_u64().is_some()
    }));
    let supervisor = nix::unistd::Pid::from_raw(scope.supervisor_pid().unwrap() as i32);
    let socket = scope.runtime().join("notify.sock");
    nix::sys::signal::kill(supervisor, nix::sys::signal::Signal::SIGSTOP).unwrap();
    let sent = std::process::Command::new("python3")
        .arg("-c")
        .arg("import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', sys.argv[1])")
        .arg(&socket)
        .status();
    nix::sys::signal::kill(supervisor, nix::sys::signal::Signal::SIGCONT).unwrap();
    assert!(
        sent.unwrap().success(),
        "could not send to {}",
        socket.display()
    );
    scope.ok(&["start", "told", "--wait=10"]);
    assert_eq!(scope.field("told", "state"), "running");
    scope.ok(&["uninstall", "ready", "mute", "told"]);
}

/// A directory every user may write, for what the services of a test record.
fn shared_dir(scope: &TestScope, name: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = scope.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    dir
}

/// The lines of a file the test's services append to (none while it is missing).
fn lines_of(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

/// pre_start, post_start, stop_exec and post_stop under the supervisor, as systemd runs them:
/// in order, one at a time, as the service's user in its directory with its environment;
/// pre_start before the main process (a may_fail one that fails is only told), post_start and
/// stop_exec with the main pid in MAINPID, post_stop once the main process is gone; their
/// output in the service's log.
#[test]
fn commands_around_the_main_process_run_in_order_as_its_user() {
    let root = nix::unistd::geteuid().is_root();
    let scope = TestScope::new("commands");
    let dir = shared_dir(&scope, "files");
    let order = dir.join("order");
    let sh = |line: &str| format!("[\"/bin/sh\", \"-c\", \"{line} >> {}\"]", order.display());
    let def = scope.definition(
        "cmds",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"echo $$ > main.pid; echo main >> {order}; exec sleep 1201\"]\n\
             working_dir = \"{dir}\"\n\
             env = {{ GREETING = \"hello\" }}\n\
             {user}\
             pre_start = [{pre1}, {{ exec = [\"/bin/false\"], may_fail = true }}, {pre2}]\n\
             post_start = [{post_start}]\n\
             stop_exec = [{stop_exec}]\n\
             post_stop = [{post_stop}]\n",
            order = order.display(),
            dir = dir.display(),
            user = if root { "user = \"nobody\"\n" } else { "" },
            pre1 = sh("echo said-by-pre_start; echo pre1 $(id -u) $PWD $GREETING"),
            pre2 = sh("echo pre2"),
            post_start = sh("echo post_start $MAINPID"),
            stop_exec = sh("echo stop_exec $MAINPID"),
            post_stop = sh(
                "kill -0 $(cat main.pid) 2>/dev/null && echo post_stop main-alive || echo post_stop main-gone"
            ),
        ),
    );
    scope.ok(&["install", "cmds", "-f", &def, "--start", "--wait=10"]);
    let pid = scope.field("cmds", "pid").as_u64().unwrap();
    // The start is answered once pre_start ran; post_start follows the main process.
    assert!(eventually(Duration::from_secs(5), || {
        lines_of(&order).len() == 4
    }));
    let uid = if root {
        65534
    } else {
        nix::unistd::getuid().as_raw()
    };
    let got = lines_of(&order);
    assert_eq!(
        got[..2],
        [
            format!("pre1 {uid} {} hello", dir.display()),
            "pre2".to_string()
        ],
        "{got:?}"
    );
    let mut rest = got[2..].to_vec();
    rest.sort();
    assert_eq!(rest, ["main".to_string(), format!("post_start {pid}")]);

    scope.ok(&["stop", "cmds"]);
    // stop returns once post_stop ran: stop_exec before the stop signal, post_stop after.
    let got = lines_of(&order);
    assert_eq!(
        got[4..],
        [
            format!("stop_exec {pid}"),
            "post_stop main-gone".to_string()
        ],
        "{got:?}"
    );
    assert_eq!(scope.field("cmds", "state"), "stopped");
    let log = std::fs::read_to_string(scope.log("cmds")).unwrap();
    assert!(log.contains("said-by-pre_start\n"), "{log}");
    assert!(
        log.contains("pre_start[1] (/bin/false) exited with 1; may_fail: going on"),
        "{log}"
    );
    scope.ok(&["uninstall", "cmds"]);
}

/// A pre_start that fails fails the start, naming the command and its exit; the main process
/// never runs, and post_stop runs all the same, as systemd runs ExecStopPost after a failed
/// start.
#[test]
fn a_failing_pre_start_leaves_the_unit_failed_and_the_main_process_never_ran() {
    let scope = TestScope::new("prefail");
    let dir = shared_dir(&scope, "files");
    let (ran, cleaned) = (dir.join("main-ran"), dir.join("post-stop-ran"));
    let def = scope.definition(
        "guarded",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"touch {}; exec sleep 1211\"]\n\
             pre_start = [[\"/bin/sh\", \"-c\", \"echo config test failed; exit 3\"]]\n\
             post_stop = [[\"/bin/touch\", \"{}\"]]\n",
            ran.display(),
            cleaned.display()
        ),
    );
    scope.ok(&["install", "guarded", "-f", &def]);
    let out = scope.run(&["start", "guarded"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pre_start[0] (/bin/sh -c echo config test failed; exit 3) exited with 3"),
        "{stderr}"
    );
    assert_eq!(scope.field("guarded", "state"), "failed");
    assert!(scope
        .field("guarded", "reason")
        .as_str()
        .is_some_and(|r| r.contains("pre_start[0]") && r.contains("exited with 3")));
    assert!(
        !ran.exists(),
        "the main process ran after a failed pre_start"
    );
    assert!(
        cleaned.exists(),
        "post_stop did not run after the failed start"
    );
    let log = std::fs::read_to_string(scope.log("guarded")).unwrap();
    assert!(log.contains("config test failed\n"), "{log}");
    // A start that fails every time is not restarted, whatever restart says.
    assert_eq!(scope.field("guarded", "restarts"), 0);
    scope.ok(&["uninstall", "guarded"]);
}

/// After a crash (kill -9), stop_exec runs (with no MAINPID: there is no main process) and
/// then post_stop, as systemd runs its stop commands after an end by itself; only then is the
/// service restarted.
#[test]
fn post_stop_runs_after_a_kill_9_and_before_the_restart() {
    let scope = TestScope::new("poststop");
    let dir = shared_dir(&scope, "files");
    let order = dir.join("order");
    let def = scope.definition(
        "crashy",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"echo main >> {order}; exec sleep 1221\"]\n\
             restart = \"always\"\n\
             restart_delay = \"0s\"\n\
             stop_exec = [[\"/bin/sh\", \"-c\", \"echo stop_exec MAINPID=$MAINPID >> {order}\"]]\n\
             post_stop = [[\"/bin/sh\", \"-c\", \"sleep 0.2; echo post_stop >> {order}\"]]\n",
            order = order.display()
        ),
    );
    scope.ok(&["install", "crashy", "-f", &def, "--start", "--wait=5"]);
    let pid = scope.field("crashy", "pid").as_u64().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || lines_of(&order).len() >= 4),
        "{:?}",
        lines_of(&order)
    );
    assert_eq!(
        lines_of(&order)[..4],
        ["main", "stop_exec MAINPID=", "post_stop", "main"],
        "the restart came before post_stop was done"
    );
    assert!(eventually(Duration::from_secs(5), || {
        scope.field("crashy", "state") == "running"
    }));
    assert_ne!(scope.field("crashy", "pid").as_u64(), Some(pid));
    assert_eq!(scope.field("crashy", "last_exit")["signal"], "KILL");
    scope.ok(&["uninstall", "crashy"]);
}

/// reload_exec replaces the reload signal: `svc-any reload` returns once its commands ran
/// (here one that sends the main process HUP through $MAINPID), and fails, naming the
/// command, when one fails.
#[test]
fn reload_exec_runs_with_mainpid_and_its_failure_fails_the_reload() {
    let scope = TestScope::new("reloadexec");
    let dir = shared_dir(&scope, "files");
    let seen = dir.join("seen");
    let def = scope.definition(
        "hup",
        &format!(
            "exec = [\"/bin/sh\", \"-c\", \"trap 'echo main-got-hup >> {seen}' HUP; while :; do sleep 1231 & wait $!; kill $! 2>/dev/null; done\"]\n\
             reload_exec = [[\"/bin/sh\", \"-c\", \"echo reload_exec $MAINPID >> {seen}; kill -HUP $MAINPID\"]]\n",
            seen = seen.display()
        ),
    );
    scope.ok(&["install", "hup", "-f", &def, "--start", "--wait=5"]);
    let pid = scope.field("hup", "pid").as_u64().unwrap();
    scope.ok(&["reload", "hup"]);
    assert_eq!(lines_of(&seen)[0], format!("reload_exec {pid}"));
    assert!(
        eventually(Duration::from_secs(5), || lines_of(&seen)
            .contains(&"main-got-hup".to_string())),
        "{:?}",
        lines_of(&seen)
    );
    assert_eq!(
        scope.field("hup", "pid").as_u64(),
        Some(pid),
        "a reload is no restart"
    );

    let def = scope.definition(
        "badreload",
        "exec = [\"/bin/sleep\", \"1232\"]\nreload_exec = [[\"/bin/sh\", \"-c\", \"exit 4\"]]\n",
    );
    scope.ok(&["install", "badreload", "-f", &def, "--start", "--wait=5"]);
    let out = scope.run(&["reload", "badreload"]);
    assert_ne!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("reload_exec[0] (/bin/sh -c exit 4) exited with 4"),
        "{stderr}"
    );
    assert_eq!(scope.field("badreload", "state"), "running");
    scope.ok(&["uninstall", "hup", "badreload"]);
}

/// A stop_exec that hangs is killed once stop_timeout is up, and the stop goes on: the stop
/// signal, and post_stop; the stop still ends.
#[test]
fn a_hanging_stop_exec_is_bounded_by_stop_timeout() {
    let scope = TestScope::new("stoptimeout");
    let def = scope.definition(
        "slowstop",
        "exec = [\"/bin/sleep\", \"1241\"]\nstop_timeout = \"1s\"\nstop_exec = [[\"/bin/sleep\", \"1242\"]]\n",
    );
    scope.ok(&["install", "slowstop", "-f", &def, "--start", "--wait=5"]);
    let began = Instant::now();
    scope.ok(&["stop", "slowstop"]);
    assert!(
        began.elapsed() < Duration::from_secs(8),
        "{:?}",
        began.elapsed()
    );
    assert!(processes_matching("sleep 1242").is_empty());
    assert!(processes_matching("sleep 1241").is_empty());
    let log = std::fs::read_to_string(scope.log("slowstop")).unwrap();
    assert!(
        log.contains("stop_exec[0] (/bin/sleep 1242) did not finish within 1s"),
        "{log}"
    );
    scope.ok(&["uninstall", "slowstop"]);
}

/// type = "oneshot": `start` returns once the command ran to completion; with
/// remain_after_exit the unit reads running with no process until stopped (its stop runs
/// stop_exec), without it stopped; a success is never run again, even with restart =
/// "always"; a failure fails the start.
#[test]
fn a_oneshot_runs_to_completion_and_a_success_is_not_restarted() {
    let scope = TestScope::new("oneshot");
    let dir = shared_dir(&scope, "files");
    let order = dir.join("order");
    let def = scope.definition(
        "setup",
        &format!(
            "type = \"oneshot\"\nremain_after_exit = true\n\
             exec = [\"/bin/sh\", \"-c\", \"sleep 0.3; echo ran >> {order}\"]\n\
             post_start = [[\"/bin/sh\", \"-c\", \"echo post_start >> {order}\"]]\n\
             stop_exec = [[\"/bin/sh\", \"-c\", \"echo stop_exec >> {order}\"]]\n",
            order = order.display()
        ),
    );
    scope.ok(&["install", "setup", "-f", &def, "--start"]);
    assert_eq!(
        lines_of(&order),
        ["ran", "post_start"],
        "start returned early"
    );
    assert_eq!(scope.field("setup", "state"), "running");
    assert_eq!(scope.field("setup", "pid"), serde_json::Value::Null);
    assert_eq!(scope.field("setup", "last_exit")["code"], 0);
    assert_eq!(scope.run(&["status", "setup"]).status.code(), Some(0));
    // Started again while up: nothing runs.
    scope.ok(&["start", "setup"]);
    assert_eq!(lines_of(&order).len(), 2);
    scope.ok(&["stop", "setup"]);
    assert_eq!(lines_of(&order), ["ran", "post_start", "stop_exec"]);
    assert_eq!(scope.field("setup", "state"), "stopped");

    let once = dir.join("once");
    let def = scope.definition(
        "once",
        &format!(
            "type = \"oneshot\"\nrestart = \"always\"\nrestart_delay = \"0s\"\n\
             exec = [\"/bin/sh\", \"-c\", \"echo ran >> {}\"]\n",
            once.display()
        ),
    );
    scope.ok(&["install", "once", "-f", &def, "--start"]);
    assert_eq!(lines_of(&once), ["ran"]);
    // Its end was decided when start returned: stopped, not waiting to restart.
    assert_eq!(scope.field("once", "state"), "stopped");
    assert_eq!(scope.field("once", "restarts"), 0);

    let def = scope.definition(
        "broken",
        "type = \"oneshot\"\nrestart = \"no\"\nexec = [\"/bin/sh\", \"-c\", \"exit 5\"]\n",
    );
    scope.ok(&["install", "broken", "-f", &def]);
    let out = scope.run(&["start", "broken"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("exited with 5"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(scope.field("broken", "state"), "dead");
    scope.ok(&["uninstall", "setup", "once", "broken"]);
}

/// A daemon that writes its pid file before it calls setsid (nginx does: the supervisor read
/// its group too early once, and the workers of a killed nginx kept port 80): its workers, in
/// the group it leads from then on, still go with it.
#[test]
fn a_forking_daemon_that_calls_setsid_late_takes_its_workers_along() {
    let scope = TestScope::new("latesetsid");
    let dir = shared_dir(&scope, "files");
    let pid_file = dir.join("daemon.pid");
    let script = dir.join("daemonize");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             # The daemon: pid file first, setsid (in place: it leads no group) a moment later,\n\
             # then a worker in the group it now leads.\n\
             /bin/sh -c 'echo $$ > {pid}; sleep 0.5; exec setsid /bin/sh -c \"sleep 1254 & exec sleep 1253\"' </dev/null &\n\
             exit 0\n",
            pid = pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let def = scope.definition(
        "late",
        &format!(
            "type = \"forking\"\npid_file = \"{}\"\nexec = [\"{}\"]\nrestart = \"no\"\n",
            pid_file.display(),
            script.display()
        ),
    );
    scope.ok(&["install", "late", "-f", &def, "--start", "--wait=10"]);
    assert!(
        eventually(Duration::from_secs(5), || processes_matching("sleep 1254")
            .len()
            == 1),
        "no worker"
    );
    let daemon = scope.field("late", "pid").as_u64().expect("a pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || processes_matching("sleep 1254")
            .is_empty()),
        "the killed daemon's worker still runs"
    );
    assert_eq!(scope.field("late", "state"), "dead");
    scope.ok(&["uninstall", "late"]);
}

/// type = "forking" with pid_file: the process started forks a daemon (into a session of its
/// own, as daemons do), writes its pid file and exits 0. The supervisor, subreaper of all it
/// starts, adopts the daemon, reports it as the service's pid, restarts it when it is killed,
/// and stops it and its process group.
#[test]
fn a_forking_daemon_is_found_by_its_pid_file_and_supervised() {
    let scope = TestScope::new("forking");
    let dir = shared_dir(&scope, "files");
    let pid_file = dir.join("daemon.pid");
    let script = dir.join("daemonize");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             # Forks a daemon in a session of its own, which writes its pid file, starts a\n\
             # worker, and serves; the process started exits at once, as a forking daemon does.\n\
             setsid /bin/sh -c 'sleep 1252 & echo $$ > {pid}; exec sleep 1251' </dev/null &\n\
             exit 0\n",
            pid = pid_file.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let def = scope.definition(
        "forky",
        &format!(
            "type = \"forking\"\npid_file = \"{}\"\nexec = [\"{}\"]\nrestart_delay = \"0s\"\n",
            pid_file.display(),
            script.display()
        ),
    );
    scope.ok(&["install", "forky", "-f", &def, "--start", "--wait=10"]);
    let daemon = |scope: &TestScope| scope.field("forky", "pid").as_u64();
    let first = daemon(&scope).expect("a pid");
    let written: u64 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(first, written);
    assert_eq!(scope.field("forky", "state"), "running");
    let (parent, _) = parent_and_state(first as u32).unwrap();
    assert_eq!(Some(parent), scope.supervisor_pid(), "not adopted");
    assert_eq!(processes_matching("sleep 1252").len(), 1);

    // Killed: the restart policy applies to the daemon, as to any main process.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(first as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(10), || {
            scope.field("forky", "state") == "running" && daemon(&scope).is_some_and(|p| p != first)
        }),
        "not restarted: {}",
        scope.status("forky").1
    );
    assert_eq!(scope.field("forky", "restarts"), 1);
    // The killed daemon's group went with it (its worker), as a cgroup's would.
    assert!(eventually(Duration::from_secs(5), || processes_matching(
        "sleep 1252"
    )
    .len()
        == 1));

    // A daemon is not the supervisor's child from birth, so no death signal takes it along
    // when the supervisor is killed: the next supervisor kills what its pid file recorded
    // before it starts the service again, never beside an orphaned copy.
    let second = daemon(&scope).unwrap();
    let supervisor = scope.supervisor_pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || scope
        .supervisor_pid()
        .is_none()));
    scope.ok(&["start", "forky", "--wait=10"]);
    assert!(eventually(Duration::from_secs(5), || processes_matching(
        "sleep 1251"
    )
    .len()
        == 1));
    assert_ne!(daemon(&scope), Some(second));
    assert!(
        std::fs::metadata(format!("/proc/{second}")).is_err()
            || parent_and_state(second as u32).is_some_and(|(_, state)| state == 'Z'),
        "the orphaned daemon {second} still runs"
    );

    scope.ok(&["stop", "forky"]);
    assert_eq!(scope.field("forky", "state"), "stopped");
    assert!(processes_matching("sleep 1251").is_empty());
    assert!(eventually(Duration::from_secs(5), || processes_matching(
        "sleep 1252"
    )
    .is_empty()));

    // A parent that fails is the service's failure: no daemon is looked for.
    let def = scope.definition(
        "nofork",
        &format!(
            "type = \"forking\"\npid_file = \"{}/none.pid\"\nexec = [\"/bin/sh\", \"-c\", \"exit 2\"]\nrestart = \"no\"\n",
            dir.display()
        ),
    );
    scope.ok(&["install", "nofork", "-f", &def]);
    let out = scope.run(&["start", "nofork"]);
    assert_ne!(out.status.code(), Some(0));
    assert_eq!(scope.field("nofork", "state"), "dead");
    assert_eq!(scope.field("nofork", "last_exit")["code"], 2);
    scope.ok(&["uninstall", "forky", "nofork"]);
}

/// `wants`, as systemd's Wants=: a start starts what the service wants (installed, not
/// enabled, not named by the request), and neither a wanted service that fails nor one that
/// is not installed fails the wanting one; at boot an enabled service pulls in what it wants.
#[test]
fn a_start_starts_what_the_service_wants_and_their_failure_is_not_its_own() {
    let scope = TestScope::new("wants");
    let helper = scope.definition("helper", "exec = [\"/bin/sleep\", \"1201\"]\n");
    let flaky = scope.definition(
        "flaky",
        "exec = [\"/bin/sh\", \"-c\", \"exit 3\"]\nrestart = \"no\"\n",
    );
    let web = scope.definition(
        "web",
        "exec = [\"/bin/sleep\", \"1202\"]\nwants = [\"helper\", \"flaky\", \"ghost\"]\n",
    );
    scope.ok(&["install", "helper", "-f", &helper, "--no-enable"]);
    scope.ok(&["install", "flaky", "-f", &flaky, "--no-enable"]);
    scope.ok(&["install", "web", "-f", &web, "--start", "--wait=5"]);
    assert_eq!(scope.field("web", "state"), "running");
    assert!(
        eventually(Duration::from_secs(5), || scope.field("helper", "state")
            == "running"),
        "helper: {}",
        scope.field("helper", "state")
    );
    assert!(
        eventually(Duration::from_secs(5), || scope.field("flaky", "state")
            == "dead"),
        "flaky: {}",
        scope.field("flaky", "state")
    );
    assert_eq!(scope.field("web", "state"), "running");
    // Stopping the wanting one leaves the wanted one alone (Wants= binds no stop).
    scope.ok(&["stop", "web"]);
    assert_eq!(scope.field("helper", "state"), "running");
    scope.ok(&["stop", "helper"]);

    // At boot: web is enabled, helper is not, and comes up with it.
    let supervisor = scope.supervisor_pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(supervisor as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    assert!(eventually(Duration::from_secs(5), || scope
        .supervisor_pid()
        .is_none()));
    std::fs::remove_dir_all(scope.runtime()).unwrap();
    let mut booted = scope
        .cmd()
        .args(["supervisor", "--boot"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !processes_matching("sleep 1202")
            .is_empty()
            && !processes_matching("sleep 1201").is_empty()),
        "web and what it wants did not come up at boot"
    );
    scope.ok(&["uninstall", "web", "helper", "flaky"]);
    let _ = booted.wait();
}

/// Facilities on the builtin are reached before the supervisor starts: a service ordered
/// after them (or wanting one) installs and starts at once, with nothing to wait for.
#[test]
fn a_service_after_facilities_starts_at_once() {
    let scope = TestScope::new("facilities");
    let def = scope.definition(
        "online",
        "exec = [\"/bin/sleep\", \"1203\"]\n\
         after = [\"$network-online\", \"time-sync.target\", \"$syslog\"]\n\
         requires = [\"$local-fs\"]\nwants = [\"$network-online\", \"$nss-lookup\"]\n",
    );
    let started = Instant::now();
    scope.ok(&["install", "online", "-f", &def, "--start", "--wait=5"]);
    assert_eq!(scope.field("online", "state"), "running");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(scope.field("online", "reason").is_null());
    scope.ok(&["uninstall", "online"]);
}

/// What a sandboxed service sees, from inside (tests/fixtures/sandbox_probe.py, which writes
/// it to its one writable directory and then listens on a privileged port as nobody): the
/// system read-only but the paths it may write, a /tmp of its own shared by its commands and
/// gone after the stop, homes empty, and exactly the capabilities it keeps. The host's mount
/// table is the same before, during and after.
#[test]
fn a_sandboxed_service_sees_what_systemd_would_show_it() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipping: a mount namespace and the bounding set need root");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let scope = TestScope::new("sandbox");
    // Outside /tmp, which private_tmp replaces for the service (a checkout, and so the scope,
    // may well be below /tmp): the probe and its one writable directory.
    let base = std::path::PathBuf::from(format!(
        "/var/lib/svc-any-sandbox-test-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&base);
    let rw = base.join("rw");
    std::fs::create_dir_all(rw.join("frozen")).unwrap();
    for dir in [&rw, &rw.join("frozen")] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let report = rw.join("report.json");
    let host_marker = std::path::Path::new("/tmp/svc-any-sandbox-host-marker");
    std::fs::write(host_marker, "host").unwrap();
    let mounts_before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let probe = base.join("sandbox_probe.py");
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sandbox_probe.py"),
        &probe,
    )
    .unwrap();
    let def = scope.definition(
        "boxed",
        &format!(
            "exec = [\"/usr/bin/python3\", \"{probe}\", \"{report}\", \"987\"]\n\
             user = \"nobody\"\n\
             private_tmp = true\n\
             private_devices = true\n\
             protect_system = \"strict\"\n\
             protect_home = true\n\
             read_write_paths = [\"{rw}\", \"-/nonexistent/svc-any\"]\n\
             read_only_paths = [\"{rw}/frozen\"]\n\
             capabilities = [\"CAP_NET_BIND_SERVICE\"]\n\
             no_new_privileges = true\n\
             pre_start = [[\"/bin/sh\", \"-c\", \"echo from-pre-start > /tmp/shared\"]]\n",
            probe = probe.display(),
            report = report.display(),
            rw = rw.display(),
        ),
    );
    scope.ok(&["install", "boxed", "-f", &def, "--start", "--wait=10"]);
    assert!(
        eventually(Duration::from_secs(10), || report.exists()),
        "no report; log: {}",
        std::fs::read_to_string(scope.log("boxed")).unwrap_or_default()
    );
    let seen: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let expect = |key: &str, want: serde_json::Value| {
        assert_eq!(seen[key], want, "{key}: {seen:#}");
    };
    expect("write /usr", "EROFS".into());
    expect("write /etc", "EROFS".into());
    expect("write rw", "ok".into());
    expect("write rw/frozen", "EROFS".into());
    expect("write /tmp", "ok".into());
    expect("host marker in /tmp", false.into());
    expect("pre_start's /tmp file", "from-pre-start\n".into());
    expect("list /root", "EACCES".into());
    expect("uid", 65534.into());
    // A /dev of its own: the pseudo devices, the terminal's, shared memory, the links.
    expect(
        "dev",
        serde_json::json!([
            "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout",
            "tty", "urandom", "zero"
        ]),
    );
    expect("write /dev/null", "ok".into());
    // CAP_NET_BIND_SERVICE (10) alone: bounding, permitted, effective and ambient.
    expect("CapBnd", "0000000000000400".into());
    expect("CapEff", "0000000000000400".into());
    expect("CapAmb", "0000000000000400".into());
    expect("NoNewPrivs", "1".into());
    expect("bind 987", "ok".into());
    // The service's /tmp file is not the host's.
    assert!(!std::path::Path::new("/tmp/svc-any-sandbox-probe").exists());
    assert!(std::path::Path::new("/tmp/svc-any-private-boxed/tmp/svc-any-sandbox-probe").exists());
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        mounts_before
    );

    scope.ok(&["stop", "boxed"]);
    assert!(!std::path::Path::new("/tmp/svc-any-private-boxed").exists());
    assert!(!std::path::Path::new("/var/tmp/svc-any-private-boxed").exists());
    assert_eq!(
        std::fs::read_to_string("/proc/self/mountinfo").unwrap(),
        mounts_before
    );
    scope.ok(&["uninstall", "boxed"]);
    let _ = std::fs::remove_file(host_marker);
    let _ = std::fs::remove_dir_all(&base);
}

/// An alias names the service wherever a name goes, as systemctl takes `sshd` for ssh: a verb
/// and another service's dependency.
#[test]
fn an_alias_names_the_service_for_verbs_and_dependencies() {
    let scope = TestScope::new("alias");
    let def = scope.definition(
        "aliased",
        "[services.shell-server]\nexec = [\"/bin/sleep\", \"1261\"]\naliases = [\"shelld\"]\n\
         [services.client]\nexec = [\"/bin/sleep\", \"1262\"]\nafter = [\"shelld\"]\n",
    );
    scope.ok(&["install", "-f", &def]);
    scope.ok(&["start", "client", "shelld", "--wait=10"]);
    // Started in order: the aliased one first, through the alias in `after`.
    let started = |pattern: &str| {
        let pid = processes_matching(pattern)[0];
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        fields[19].parse::<u64>().unwrap()
    };
    assert!(started("sleep 1261") <= started("sleep 1262"));
    assert_eq!(scope.field("shelld", "name"), "shell-server");
    assert_eq!(scope.field("shelld", "state"), "running");
    scope.ok(&["stop", "shelld"]);
    assert_eq!(scope.field("shell-server", "state"), "stopped");
    assert!(processes_matching("sleep 1261").is_empty());
    scope.ok(&["uninstall", "shell-server", "client"]);
}
