//! The case svc-any was born from: examples/openim/svc-any.toml (a dozen processes of an IM
//! server, with dependencies, health checks, one group and four instances of one process)
//! installed and started as a group on each real backend. Checked on each: `start openim
//! --wait` returns only once every check passes; every process (four msg-transfer instances)
//! runs and answers on its port; each service was started after what it depends on (the
//! processes' own start times, from /proc); `stop openim` stops them all; uninstall leaves no
//! group behind. On systemd the group is also native: `systemctl stop openim.target`.

mod common;

use std::process::Output;

use common::container::{enabled, Container};
use common::scope::TestScope;
use common::text;

const EXAMPLE: &str = include_str!("../examples/openim/svc-any.toml");

/// (dependency, dependant) pairs of the example: `requires` and `after`.
const EDGES: &[(&str, &str)] = &[
    ("rpc-user", "rpc-msg"),
    ("rpc-msg", "msg-transfer"),
    ("rpc-msg", "push"),
    ("rpc-user", "api"),
    ("rpc-msg", "api"),
    ("api", "gateway"),
];

const PORTS: &[u16] = &[
    10110, 10130, 10170, 10002, 10001, 10201, 10202, 10203, 10204,
];

/// Where the scenario runs: a container with a real init, or a builtin scope on this machine.
trait Host {
    fn svc(&self, args: &[&str]) -> Output;
    fn sh(&self, script: &str) -> Output;
    /// Where the example's definition file is, on the host's side.
    fn example(&self) -> String;
}

impl Host for Container {
    fn svc(&self, args: &[&str]) -> Output {
        self.svc_any(args)
    }
    fn sh(&self, script: &str) -> Output {
        Container::sh(self, script)
    }
    fn example(&self) -> String {
        let out = Container::sh(
            self,
            &format!("mkdir -p /root/openim && cat > /root/openim/svc-any.toml <<'SVC_ANY_EOF'\n{EXAMPLE}SVC_ANY_EOF\n"),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        "/root/openim/svc-any.toml".into()
    }
}

impl Host for TestScope {
    fn svc(&self, args: &[&str]) -> Output {
        self.run(args)
    }
    fn sh(&self, script: &str) -> Output {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .output()
            .unwrap()
    }
    fn example(&self) -> String {
        self.definition("openim", EXAMPLE)
    }
}

fn ok(host: &dyn Host, args: &[&str]) -> String {
    let out = host.svc(args);
    assert!(
        out.status.success(),
        "svc-any {args:?} ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn statuses(host: &dyn Host) -> Vec<serde_json::Value> {
    let out = host.svc(&["status", "openim", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}: {}", text(&out.stderr)));
    json["services"].as_array().unwrap().clone()
}

/// A process's start time in clock ticks since boot (/proc/PID/stat, field 22).
fn started_at(host: &dyn Host, pid: u64) -> u64 {
    let out = host.sh(&format!("cut -d' ' -f22 /proc/{pid}/stat"));
    text(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no start time for pid {pid}: {}", text(&out.stderr)))
}

fn listening(host: &dyn Host, port: u16) -> bool {
    host.sh(&format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 2)'"
    ))
    .status
    .success()
}

fn the_group_runs_in_order(host: &dyn Host, backend: &str) {
    let file = host.example();
    ok(host, &["install", "-f", &file]);
    // Exit 0 only once every health check passed (and the unchecked instances stayed up).
    ok(host, &["start", "openim", "--wait=90"]);

    let all = statuses(host);
    assert_eq!(
        all.len(),
        9,
        "{backend}: five services and four instances: {all:?}"
    );
    for s in &all {
        assert_eq!(s["state"], "running", "{backend}: {s}");
    }
    let instances: Vec<&str> = all
        .iter()
        .filter(|s| s["name"] == "msg-transfer")
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    assert_eq!(instances, ["1", "2", "3", "4"], "{backend}");
    for port in PORTS {
        assert!(listening(host, *port), "{backend}: nothing on port {port}");
    }

    // Started after what it depends on: the manager forked the dependency first.
    let start_of = |name: &str| -> Vec<u64> {
        all.iter()
            .filter(|s| s["name"] == name)
            .map(|s| started_at(host, s["pid"].as_u64().unwrap()))
            .collect()
    };
    for (dependency, dependant) in EDGES {
        let first = start_of(dependency).into_iter().max().unwrap();
        for later in start_of(dependant) {
            assert!(
                first <= later,
                "{backend}: {dependant} started (tick {later}) before {dependency} (tick {first})"
            );
        }
    }

    ok(host, &["stop", "openim"]);
    for s in statuses(host) {
        assert_eq!(s["state"], "stopped", "{backend}: {s}");
    }
    ok(host, &["uninstall", "openim"]);
    let out = host.svc(&["status", "openim", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["services"][0]["state"], "not-installed",
        "{backend}: the group is gone with its members"
    );
    eprintln!("openim on {backend}: 9 processes healthy, {} dependency edges in order, stopped, uninstalled", EDGES.len());
}

#[test]
fn openim_as_a_group_on_real_systemd() {
    if !enabled("openim_as_a_group_on_real_systemd") {
        return;
    }
    let c = Container::boot("systemd", "openim");
    let file = c.example();
    c.svc_any_ok(&["install", "-f", &file, "--start", "--wait=90"]);
    // The group is a unit too: stopping the target stops every member (PartOf=).
    c.sh_out("systemctl stop openim.target");
    assert!(c.wait_for(
        std::time::Duration::from_secs(20),
        "! systemctl is-active --quiet rpc-user api gateway push msg-transfer@1 msg-transfer@4"
    ));
    c.sh_out("systemctl start openim.target");
    assert!(c.wait_for(
        std::time::Duration::from_secs(20),
        "systemctl is-active --quiet rpc-user rpc-msg api gateway push msg-transfer@1 msg-transfer@2 msg-transfer@3 msg-transfer@4"
    ));
    c.svc_any_ok(&["stop", "openim"]);
    c.svc_any_ok(&["uninstall", "openim"]);
    assert!(c.succeeds("! test -e /etc/systemd/system/openim.target"));
    the_group_runs_in_order(&c, "systemd");
}

#[test]
fn openim_as_a_group_on_real_openrc() {
    if !enabled("openim_as_a_group_on_real_openrc") {
        return;
    }
    the_group_runs_in_order(&Container::boot("openrc", "openim"), "openrc");
}

#[test]
fn openim_as_a_group_on_real_sysvinit() {
    if !enabled("openim_as_a_group_on_real_sysvinit") {
        return;
    }
    the_group_runs_in_order(&Container::boot("sysv", "openim"), "sysv");
}

#[test]
fn openim_as_a_group_under_the_builtin_supervisor() {
    let scope = TestScope::new("openim");
    the_group_runs_in_order(&scope, "builtin");
}
