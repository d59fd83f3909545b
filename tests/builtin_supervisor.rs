//! What only the builtin supervisor has, on this machine, where no init system runs and it is
//! the default: backoff in a crash loop, log rotation, recovery after its own death, user
//! scopes, PID 1 of a PID namespace, stop escalation. Real processes, real signals, real
//! sockets; each test has its own scope (directories and supervisor), so they run side by side.
//! What every backend does (a service's life, the lifecycle table, fidelity, safety) is the
//! conformance suite's (tests/conformance/).

mod common;

use std::time::{Duration, Instant};

use common::scope::{eventually, listening, processes_matching, TestScope};
use common::text;

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
    for n in [1, 2] {
        let rotated = scope.dir.join(format!("out.log.{n}"));
        let len = std::fs::metadata(&rotated).unwrap().len();
        assert!(
            len > 0 && len <= 8192,
            "{} is {len} bytes",
            rotated.display()
        );
    }
    assert!(!scope.dir.join("out.log.3").exists(), "keep = 2");
    let tail = scope.ok(&["logs", "chatty", "-n", "1"]);
    assert_eq!(tail.trim(), "line 1999 of a chatty service");
}

#[test]
fn a_supervisor_killed_with_9_comes_back_with_exactly_the_enabled_services() {
    let scope = TestScope::new("recover");
    let on = scope.definition("on", &http_server(18111, ""));
    let off = scope.definition("off", &http_server(18112, ""));
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

    // The next command starts a new supervisor, which starts the enabled service only.
    let (code, json) = scope.status("on");
    assert_eq!(code, 0, "{json}");
    let replacement = scope.supervisor_pid().unwrap();
    assert_ne!(replacement, supervisor);
    assert!(eventually(Duration::from_secs(5), || listening(18111)));
    assert_eq!(
        processes_matching("http.server 18111").len(),
        1,
        "exactly one copy"
    );
    assert_eq!(scope.field("off", "state"), "stopped");
    assert!(processes_matching("http.server 18112").is_empty());
    // Two commands at once find one supervisor, never two.
    let a = std::thread::spawn({
        let cmd = scope.cmd().args(["status", "on"]).output();
        move || cmd
    });
    let _ = a.join();
    let needle = format!("--runtime-dir {}", scope.runtime().display());
    assert_eq!(processes_matching(&needle).len(), 1);
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
    assert_eq!(scope.field("unhealthy", "state"), "stopped");
    assert!(processes_matching("sleep 1005").is_empty());
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
