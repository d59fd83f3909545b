//! Safety, each scenario ending with an uninstall that must leave the whole system as it was
//! (/etc, /run and /var/lib: paths, kinds, modes, owners, link targets and content hashes;
//! on this machine the scope's state and runtime):
//!
//! - privilege: `user=` is who the process runs as (the probe's uid and gid); every file svc-any
//!   generates is root's, 0644 (scripts 0755); nothing of svc-any's state or runtime is
//!   writable by group or others, and the supervisor's control socket is 0600;
//! - flapper: 100 cycles of stop, start, restart; after each step `status --json` says exactly
//!   what was asked, exactly one process of the service's binary runs when it should and none
//!   when stopped, a restart is a new process; at the end none is left.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::backend::Backend;
use crate::common::backends::sysv::without_sequence;
use crate::common::host::Host;
use crate::common::scope::eventually;
use crate::common::text;

/// The service the flapper drives: trivial, and with a command line nothing else has.
const FLAP_ARGV: &[&str] = &["/bin/sleep", "314159"];
const FLAP_PATTERN: &str = "^/bin/sleep 314159$";

/// The whole system's state, without what the host and the manager change on their own.
fn system(h: &Host, b: &dyn Backend) -> String {
    let (roots, mut prune) = h.system();
    prune.extend(b.bookkeeping().iter().map(|p| p.to_string()));
    h.hashed(&roots, &prune)
}

/// Lines of `after` missing from `before` and the other way round, for a readable failure.
fn changes(before: &str, after: &str) -> String {
    let b: BTreeSet<String> = before.lines().map(without_sequence).collect();
    let a: BTreeSet<String> = after.lines().map(without_sequence).collect();
    let mut out: Vec<String> = b.difference(&a).map(|l| format!("- {l}")).collect();
    out.extend(a.difference(&b).map(|l| format!("+ {l}")));
    out.join("\n")
}

/// After everything was uninstalled: no supervisor is left, and the system is as `before`.
fn clean_uninstall(h: &Host, b: &dyn Backend, before: &str, failures: &mut Vec<String>) {
    let name = b.name();
    // The supervisor (SysV's keep-alive) goes once it has nothing left to supervise.
    if !eventually(Duration::from_secs(5), || h.supervisors() == 0) {
        failures.push(format!(
            "{name}: a supervisor stayed with nothing to supervise"
        ));
    }
    let after = system(h, b);
    let diff = changes(before, &after);
    eprintln!(
        "clean uninstall, {name}: {} entries compared, {} differ",
        before.lines().count(),
        diff.lines().count()
    );
    if !diff.is_empty() {
        failures.push(format!(
            "{name}: uninstall left the system changed:\n{diff}"
        ));
    }
}

/// `user=` and file ownership and modes, with the probe as the service.
pub fn privilege(h: &Host, b: &dyn Backend) {
    let name = b.name();
    let Some(user) = h.other_user() else {
        eprintln!("skipping {name}::privilege: user= and root-owned files need root");
        return;
    };
    let before = system(h, b);
    let mut failures = Vec::new();
    let record = format!("{}/priv.json", h.scratch());
    let def = format!(
        "exec = [\"{}/probe.py\", \"{record}\"]\nuser = \"{}\"\nrestart = \"no\"\n",
        h.share(),
        user.name
    );
    h.define("priv", &def);
    h.ok(&["install", "priv", "--start"]);
    assert!(
        h.wait_for(Duration::from_secs(10), &format!("test -s {record}")),
        "{name}: the probe never ran"
    );
    let got = h.record(&record);
    let ids = h.sh_out(&format!("id -u {0}; id -g {0}", user.name));
    assert_eq!(
        ids,
        format!("{}\n{}", user.uid, user.gid),
        "{name}: the ids of {}",
        user.name
    );
    let ran_as = format!("{}\n{}", got["uid"], got["gid"]);
    if ran_as != ids {
        failures.push(format!(
            "{name}: probe ran as uid/gid {ran_as:?}, not {}'s {ids:?}",
            user.name
        ));
    }
    // Every generated file (the record's list) and the record itself.
    let state = h.state_dir();
    let record_file = format!("{state}/services/priv.json");
    let files = h.sh_out(&format!(
        "python3 -c 'import json; print(\"\\n\".join(json.load(open(\"{record_file}\"))[\"files\"]))'"
    ));
    let mut checked = 0;
    for path in files.lines().chain([record_file.as_str()]) {
        // Scripts are executable; what holds env values (the builtin supervisor's definitions,
        // which SysV uses too) is root's alone; the rest, the record too (its values are apart,
        // in services/env/), is readable by all.
        let want = if b.executable(path) {
            "root:root 755"
        } else if path.contains("/builtin/") {
            "root:root 600"
        } else {
            "root:root 644"
        };
        let got = h.sh_out(&format!("stat -c '%U:%G %a' '{path}'"));
        checked += 1;
        if got != want {
            failures.push(format!("{name}: {path} is {got}, not {want}"));
        }
    }
    // Nothing of svc-any's may be changed by anyone but root.
    let runtime = h.runtime_dir();
    // Except the readiness socket (type = "notify"): every service's user must send to it,
    // as to systemd's /run/systemd/notify; a message counts only from a unit's own process,
    // as the kernel names the sender.
    let writable = h.sh_out(&format!(
        "find '{state}' '{runtime}' -perm /022 ! -type l ! -name notify.sock 2>/dev/null || true"
    ));
    if !writable.is_empty() {
        failures.push(format!("{name}: writable by group or others:\n{writable}"));
    }
    let sockets = h.sh_out(&format!(
        "find '{runtime}' -type s ! -name notify.sock -printf '%p %m\\n' 2>/dev/null || true"
    ));
    for line in sockets.lines() {
        if !line.ends_with(" 600") {
            failures.push(format!("{name}: control socket {line}, not 0600"));
        }
    }
    eprintln!(
        "privilege, {name}: uid/gid checked, {checked} files' owner and mode, {} sockets, {} failures",
        sockets.lines().count(),
        failures.len()
    );
    h.ok(&["uninstall", "priv"]);
    h.sh_out(&format!("rm -f {record}"));
    h.undefine("priv");
    clean_uninstall(h, b, &before, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
fn judge_flapping(label: &str, out: &str, cycles: usize) -> Vec<String> {
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
    assert_eq!(steps.len(), cycles * 3, "{label}: flap.sh stopped early");
    bad
}

/// Stop, start and restart, 100 times (fewer where a start settles for a second by design), in
/// one shell (tests/fixtures/flap.sh), so that the cycles cost no more than the commands
/// themselves.
pub fn flapper(h: &Host, b: &dyn Backend) {
    let name = b.name();
    let before = system(h, b);
    let mut args = vec!["install", "flap", "--start", "--"];
    args.extend_from_slice(FLAP_ARGV);
    h.ok(&args);
    let out = h.sh(&format!(
        "sh '{}/flap.sh' flap {} '{FLAP_PATTERN}'",
        h.share(),
        b.flap_cycles()
    ));
    assert!(out.status.success(), "flap.sh: {}", text(&out.stderr));
    let mut failures = judge_flapping(name, &text(&out.stdout), b.flap_cycles());
    h.ok(&["uninstall", "flap"]);
    let left = h.processes(FLAP_PATTERN);
    if left != 0 {
        failures.push(format!("{name}: {left} processes left after uninstall"));
    }
    clean_uninstall(h, b, &before, &mut failures);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
