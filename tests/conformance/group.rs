//! The case svc-any was born from: examples/openim/svc-any.toml (an IM server's processes, with
//! dependencies, health checks, one group and four instances of one process) installed and
//! started as a group. `start openim --wait` returns only once every check passes; every
//! process (four msg-transfer instances) runs and answers on its port; each service was
//! started after what it depends on (the processes' own start times, from /proc); `stop
//! openim` stops them all; uninstall leaves no group behind.

use crate::common::backend::Backend;
use crate::common::host::Host;
use crate::common::text;

const EXAMPLE: &str = include_str!("../../examples/openim/svc-any.toml");

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

/// A process's start time in clock ticks since boot (/proc/PID/stat, field 22).
fn started_at(h: &Host, pid: u64) -> u64 {
    let out = h.sh(&format!("cut -d' ' -f22 /proc/{pid}/stat"));
    text(&out.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("no start time for pid {pid}: {}", text(&out.stderr)))
}

pub fn openim(h: &Host, b: &dyn Backend) {
    let backend = b.name();
    // The example's ports are fixed; on this machine anyone may hold one.
    for port in PORTS {
        assert!(
            !h.listening(*port),
            "{backend}: port {port} is taken before the test; something else runs there"
        );
    }
    let file = h.define("openim", EXAMPLE);
    h.ok(&["install", "-f", &file]);
    // Exit 0 only once every health check passed (and the unchecked instances stayed up).
    h.ok(&["start", "openim", "--wait=90"]);

    let (_, all) = h.statuses("openim");
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
        assert!(h.listening(*port), "{backend}: nothing on port {port}");
    }

    // Started after what it depends on: the manager forked the dependency first.
    let start_of = |name: &str| -> Vec<u64> {
        all.iter()
            .filter(|s| s["name"] == name)
            .map(|s| started_at(h, s["pid"].as_u64().unwrap()))
            .collect()
    };
    for (dependency, dependant) in EDGES {
        let first = start_of(dependency).into_iter().max().unwrap();
        for later in start_of(dependant) {
            assert!(
                first <= later,
                "{backend}: {dependant} started (tick {later}) before {dependency} (tick {first}); \
                 statuses now: {}",
                text(&h.svc_any(&["status", "openim", "--json"]).stdout)
            );
        }
    }

    h.ok(&["stop", "openim"]);
    for s in h.statuses("openim").1 {
        assert_eq!(s["state"], "stopped", "{backend}: {s}");
    }
    h.ok(&["uninstall", "openim"]);
    let (_, s) = h.status("openim");
    assert_eq!(
        s["state"], "not-installed",
        "{backend}: the group is gone with its members"
    );
    eprintln!(
        "openim on {backend}: 9 processes healthy, {} dependency edges in order, stopped, uninstalled",
        EDGES.len()
    );
}
