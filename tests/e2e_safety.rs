//! Safety on the real managers, one container per backend (booting is the slow part, so every
//! step shares it), and the builtin supervisor in a scope of its own on this machine:
//!
//! - privilege: `user=` is who the process runs as (the probe's uid and gid); every file svc-any
//!   generates is root's, 0644 (scripts 0755); nothing of svc-any's state or runtime is
//!   writable by group or others, and the supervisor's control socket is 0600;
//! - flapper: 100 cycles of stop, start, restart; after each step `status --json` says exactly
//!   what was asked, exactly one process of the service's binary runs when it should and none
//!   when stopped, a restart is a new process; at the end none is left;
//! - clean uninstall: /etc, /run and /var/lib (paths, kinds, modes, owners, link targets and
//!   content hashes) after uninstalling everything equal the snapshot taken before installing.

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe::{self, SHARE};
use common::scope::TestScope;
use common::text;

const CYCLES: usize = 100;
/// The service the flapper drives: trivial, and with a command line nothing else has.
const FLAP_ARGV: &[&str] = &["/bin/sleep", "314159"];
const FLAP_PATTERN: &str = "^/bin/sleep 314159$";
/// The builtin scope's: this machine sees the containers' processes too.
const HOST_FLAP_ARGV: &[&str] = &["/bin/sleep", "271828"];
const HOST_FLAP_PATTERN: &str = "^/bin/sleep 271828$";

/// What the managers themselves change in /etc, /run and /var/lib while the test runs, and
/// why none of it is svc-any's:
/// - /run/systemd/journal, /var/lib/systemd/journal (not present on Debian, listed for other
///   layouts): journald's sockets and stream state, one entry per connected service process;
///   logs may stay, as /var/log does.
/// - /run/systemd/units, /run/systemd/transient, /run/systemd/propagate: systemd's runtime
///   bookkeeping of invocations (an `invocation:` link per started unit), not files a unit owns.
/// - /var/lib/systemd/random-seed, /var/lib/systemd/timers, /var/lib/systemd/timesync: systemd
///   refreshes the seed and timer stamps on its own schedule.
/// - /run/openrc/deptree, /run/openrc/depconfig: OpenRC's dependency cache, rebuilt (with
///   the scripts' mtimes inside) whenever /etc/init.d changes.
/// - /run/utmp, /var/lib/dhcp: login records and leases, touched by whatever logs in or boots.
/// - /run/agetty.reload: agetty makes its reload trigger when the container's getty starts,
///   which may be after systemd calls the boot complete.
/// - /etc/init.d/.depend.*: insserv's caches of the boot order, rewritten whenever it orders
///   (on SysV, update-rc.d runs it for our script and again when the script goes).
const EXCLUDED: &[&str] = &[
    "/run/agetty.reload",
    "/etc/init.d/.depend.boot",
    "/etc/init.d/.depend.start",
    "/etc/init.d/.depend.stop",
    "/run/systemd/journal",
    "/var/lib/systemd/journal",
    "/run/systemd/units",
    "/run/systemd/transient",
    "/run/systemd/propagate",
    "/var/lib/systemd/random-seed",
    "/var/lib/systemd/timers",
    "/var/lib/systemd/timesync",
    "/run/openrc/deptree",
    "/run/openrc/depconfig",
    "/run/utmp",
    "/var/lib/dhcp",
];

/// Paths, kinds, modes, owners and link targets, then the content hash of every file.
fn snapshot(c: &Container) -> String {
    let prune = EXCLUDED
        .iter()
        .map(|p| format!("-path {p}"))
        .collect::<Vec<_>>()
        .join(" -o ");
    c.sh_out(&format!(
        "find /etc /run /var/lib \\( {prune} \\) -prune -o -printf '%p %y %m %U:%G %l\\n' | sort
         find /etc /run /var/lib \\( {prune} \\) -prune -o -type f -print0 | xargs -0 -r sha256sum | sort -k2"
    ))
}

/// An rc?.d link without its sequence number: insserv numbers every service's links by the
/// boot order, and renumbers others' (K01sendsigs becomes K02sendsigs) when ours joins, but not
/// back when it leaves. Which links exist, and where they point, must still be as before.
fn without_sequence(line: &str) -> String {
    let Some(rest) = line.strip_prefix("/etc/rc") else {
        return line.to_string();
    };
    let b = rest.as_bytes();
    if b.len() > 7 && &b[1..4] == b".d/" && b"SK".contains(&b[4]) && b[5].is_ascii_digit() {
        return format!("/etc/rc{}{}", &rest[..5], &rest[7..]);
    }
    line.to_string()
}

/// Lines of `after` missing from `before` and the other way round, for a readable failure.
fn changes(before: &str, after: &str) -> String {
    let b: std::collections::BTreeSet<String> = before.lines().map(without_sequence).collect();
    let a: std::collections::BTreeSet<String> = after.lines().map(without_sequence).collect();
    let mut out: Vec<String> = b.difference(&a).map(|l| format!("- {l}")).collect();
    out.extend(a.difference(&b).map(|l| format!("+ {l}")));
    out.join("\n")
}

/// One flapper line, as tests/fixtures/flap.sh prints it.
struct Step {
    cycle: usize,
    verb: String,
    exit: i32,
    state: String,
    pid: String,
    count: usize,
}

fn parse_steps(out: &str) -> Vec<Step> {
    out.lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            assert_eq!(f.len(), 6, "flap.sh line `{l}`");
            Step {
                cycle: f[0].parse().unwrap(),
                verb: f[1].into(),
                exit: f[2].parse().unwrap(),
                state: f[3].into(),
                pid: f[4].into(),
                count: f[5].parse().unwrap(),
            }
        })
        .collect()
}

/// Every step against what was asked; returns the mismatches (and prints the counts).
fn judge_flapping(label: &str, out: &str) -> Vec<String> {
    let steps = parse_steps(out);
    let mut bad = Vec::new();
    let mut last_pid = String::new();
    for s in &steps {
        let running = s.verb != "stop";
        let want_state = if running { "running" } else { "stopped" };
        let want_count = usize::from(running);
        let new_process = s.verb != "restart" || s.pid != last_pid;
        if s.exit != 0 || s.state != want_state || s.count != want_count || !new_process {
            bad.push(format!(
                "cycle {} {}: exit {}, state {}, pid {} (before {last_pid}), {} processes",
                s.cycle, s.verb, s.exit, s.state, s.pid, s.count
            ));
        }
        last_pid = s.pid.clone();
    }
    eprintln!(
        "flapper, {label}: {} cycles, {} steps, {} mismatches",
        steps.len() / 3,
        steps.len(),
        bad.len()
    );
    assert_eq!(steps.len(), CYCLES * 3, "{label}: flap.sh stopped early");
    bad
}

/// `user=` and file ownership and modes on a real manager, with the probe as the service.
fn privilege_in_container(c: &Container, label: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let def = format!(
        "exec = [\"{SHARE}/probe.py\", \"/tmp/priv.json\"]\nuser = \"alice\"\nrestart = \"no\"\n"
    );
    probe::put_definition(c, "priv", &def);
    c.svc_any_ok(&["install", "priv", "--start"]);
    assert!(
        c.wait_for(Duration::from_secs(10), "test -s /tmp/priv.json"),
        "{label}: the probe never ran"
    );
    let record = probe::record(c, "/tmp/priv.json");
    let alice = c.sh_out("id -u alice; id -g alice");
    let got = format!("{}\n{}", record["uid"], record["gid"]);
    if got != alice {
        bad.push(format!(
            "{label}: probe ran as uid/gid {got:?}, not alice's {alice:?}"
        ));
    }
    // Every generated file (the record's list) and the record itself.
    let files = c.sh_out(
        "python3 -c 'import json; print(\"\\n\".join(json.load(open(\"/var/lib/svc-any/services/priv.json\"))[\"files\"]))'",
    );
    let mut checked = 0;
    for path in files.lines().chain(["/var/lib/svc-any/services/priv.json"]) {
        let want = if path.starts_with("/etc/init.d/") {
            "root:root 755"
        } else {
            "root:root 644"
        };
        let got = c.sh_out(&format!("stat -c '%U:%G %a' '{path}'"));
        checked += 1;
        if got != want {
            bad.push(format!("{label}: {path} is {got}, not {want}"));
        }
    }
    // Nothing of svc-any's may be changed by anyone but root.
    let writable =
        c.sh_out("find /var/lib/svc-any /run/svc-any -perm /022 ! -type l 2>/dev/null || true");
    if !writable.is_empty() {
        bad.push(format!("{label}: writable by group or others:\n{writable}"));
    }
    let sockets = c.sh_out("find /run/svc-any -type s -printf '%p %m\\n' 2>/dev/null || true");
    for line in sockets.lines() {
        if !line.ends_with(" 600") {
            bad.push(format!("{label}: control socket {line}, not 0600"));
        }
    }
    eprintln!(
        "privilege, {label}: uid/gid checked, {checked} files' owner and mode, {} sockets, {} failures",
        sockets.lines().count(),
        bad.len()
    );
    c.svc_any_ok(&["uninstall", "priv"]);
    c.sh_out("rm -f /tmp/priv.json /etc/svc-any/priv.toml && rmdir /etc/svc-any");
    bad
}

fn flap_in_container(c: &Container, label: &str) -> Vec<String> {
    let mut args = vec!["install", "flap", "--start", "--"];
    args.extend_from_slice(FLAP_ARGV);
    c.svc_any_ok(&args);
    let out = c.exec(&[
        "sh",
        &format!("{SHARE}/flap.sh"),
        "flap",
        &CYCLES.to_string(),
        FLAP_PATTERN,
    ]);
    assert!(out.status.success(), "flap.sh: {}", text(&out.stderr));
    let mut bad = judge_flapping(label, &text(&out.stdout));
    c.svc_any_ok(&["uninstall", "flap"]);
    let left = c.sh_out(&format!("pgrep -fc '{FLAP_PATTERN}' || true"));
    if left != "0" {
        bad.push(format!("{label}: {left} processes left after uninstall"));
    }
    bad
}

/// Privilege, flapper and clean uninstall in one fresh container of `profile`.
fn safety_on(profile: &str) {
    let c = Container::boot(profile, &format!("safe-{profile}"));
    let before = snapshot(&c);
    let mut failures = privilege_in_container(&c, profile);
    failures.extend(flap_in_container(&c, profile));
    // The supervisor (SysV's keep-alive) goes once it has nothing left to supervise.
    // (The bracket keeps pgrep from counting the shell that runs it.)
    let supervisors = c.sh_out("pgrep -fc '[s]vc-any supervisor' || true");
    if supervisors != "0" {
        failures.push(format!("{profile}: {supervisors} supervisors left"));
    }
    let after = snapshot(&c);
    let diff = changes(&before, &after);
    eprintln!(
        "clean uninstall, {profile}: {} entries compared, {} differ",
        before.lines().count(),
        diff.lines().count()
    );
    if !diff.is_empty() {
        failures.push(format!(
            "{profile}: uninstall left the system changed:\n{diff}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn on_systemd_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing() {
    if enabled("on_systemd_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing") {
        safety_on("systemd");
    }
}

#[test]
fn on_openrc_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing() {
    if enabled("on_openrc_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing") {
        safety_on("openrc");
    }
}

#[test]
fn on_sysv_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing() {
    if enabled("on_sysv_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing") {
        safety_on("sysv");
    }
}

/// The scope's state and runtime directories stand for /var/lib/svc-any and /run/svc-any;
/// the services' logs (`state/logs`) may stay, as /var/log does.
fn scope_snapshot(scope: &TestScope) -> Vec<String> {
    common::snapshot(&scope.dir)
        .into_iter()
        .filter(|l| !l.starts_with("state/logs"))
        // Directories' times follow their entries; their kind and mode must not change.
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            let content = std::fs::read(scope.dir.join(f[0])).unwrap_or_default();
            format!("{} {} {} {:?}", f[0], f[1], f[2], content)
        })
        .collect()
}

#[test]
fn builtin_privileges_hold_flapping_stays_exact_and_uninstall_leaves_nothing() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipping: user= and root-owned files need root");
        return;
    }
    let scope = TestScope::new("safety");
    let before = scope_snapshot(&scope);
    let mut failures = Vec::new();

    // privilege: the probe as nobody, files and socket as above
    let out_dir = scope.dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(
        &out_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o1777),
    )
    .unwrap();
    let record_path = out_dir.join("priv.json");
    let def = scope.definition(
        "priv",
        &format!(
            "exec = [\"{}\", \"{}\"]\nuser = \"nobody\"\nrestart = \"no\"\n",
            common::fixtures().join("probe.py").display(),
            record_path.display()
        ),
    );
    scope.ok(&["install", "priv", "-f", &def, "--start"]);
    assert!(common::scope::eventually(Duration::from_secs(10), || {
        record_path.exists()
    }));
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&record_path).unwrap()).unwrap();
    if (record["uid"].as_u64(), record["gid"].as_u64()) != (Some(65534), Some(65534)) {
        failures.push(format!(
            "builtin: probe ran as {}/{}, not nobody",
            record["uid"], record["gid"]
        ));
    }
    use std::os::unix::fs::MetadataExt;
    let mut checked = 0;
    for path in [
        scope.state().join("builtin/priv.toml"),
        scope.state().join("services/priv.json"),
    ] {
        let m = std::fs::metadata(&path).unwrap();
        checked += 1;
        // They hold env values: root's alone.
        if (m.uid(), m.gid(), m.mode() & 0o7777) != (0, 0, 0o600) {
            failures.push(format!(
                "builtin: {} is {}:{} {:o}",
                path.display(),
                m.uid(),
                m.gid(),
                m.mode() & 0o7777
            ));
        }
    }
    let mut sockets = 0;
    for dir in [scope.state(), scope.runtime()] {
        for line in common::snapshot(&dir) {
            let f: Vec<&str> = line.split(' ').collect();
            let mode = u32::from_str_radix(f[1], 8).unwrap();
            let is_link = mode & 0o170000 == 0o120000;
            if mode & 0o170000 == 0o140000 {
                sockets += 1;
                if mode & 0o777 != 0o600 {
                    failures.push(format!("builtin: socket {} is {:o}", f[0], mode & 0o777));
                }
            }
            if !is_link && mode & 0o022 != 0 {
                failures.push(format!("builtin: {} is writable by others", f[0]));
            }
        }
    }
    eprintln!(
        "privilege, builtin: uid/gid checked, {checked} files' owner and mode, {sockets} sockets, {} failures",
        failures.len()
    );
    scope.ok(&["uninstall", "priv"]);
    std::fs::remove_dir_all(&out_dir).unwrap();
    std::fs::remove_file(&def).unwrap();

    // flapper: the same script, on this machine, pointed at the scope
    let mut install = vec!["install", "flap", "--start", "--"];
    install.extend_from_slice(HOST_FLAP_ARGV);
    scope.ok(&install);
    let out = std::process::Command::new("sh")
        .arg(common::fixtures().join("flap.sh"))
        .args(["flap", &CYCLES.to_string(), HOST_FLAP_PATTERN])
        .env("SVC_ANY", common::bin())
        .env("SVC_ANY_STATE_DIR", scope.state())
        .env("SVC_ANY_RUNTIME_DIR", scope.runtime())
        .env_remove("SVC_ANY_BACKEND")
        .output()
        .unwrap();
    assert!(out.status.success(), "flap.sh: {}", text(&out.stderr));
    failures.extend(judge_flapping("builtin", &text(&out.stdout)));
    scope.ok(&["uninstall", "flap"]);
    let left = common::scope::processes_matching(&HOST_FLAP_ARGV.join(" "));
    if !left.is_empty() {
        failures.push(format!("builtin: processes left after uninstall: {left:?}"));
    }
    // With nothing to supervise, the supervisor exits.
    if !common::scope::eventually(Duration::from_secs(5), || scope.supervisor_pid().is_none()) {
        failures.push("builtin: the supervisor stayed with nothing to supervise".into());
    }

    let after = scope_snapshot(&scope);
    let diff = changes(&before.join("\n"), &after.join("\n"));
    eprintln!(
        "clean uninstall, builtin: {} entries compared, {} differ",
        before.len(),
        diff.lines().count()
    );
    if !diff.is_empty() {
        failures.push(format!(
            "builtin: uninstall left the scope changed:\n{diff}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
