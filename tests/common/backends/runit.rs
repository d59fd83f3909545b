//! runit 2.1.2 as PID 1 of a container (Debian's runit-init: runsvdir on /etc/service): the
//! service directories in /etc/sv, `sv`, and runsv's own `supervise/` files.

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;

pub struct Runit;

/// The service directory that svc-any's status entry `s` of `name` stands for.
fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}@{i}"),
        None => name.to_string(),
    }
}

impl Backend for Runit {
    /// `sv -w` polls every 420 ms: a cycle takes seconds.
    fn flap_cycles(&self) -> usize {
        30
    }

    /// The runsv of the service's directory keeps it running.
    fn keeper(&self, h: &Host, name: &str) -> Option<u32> {
        h.sh_out(&format!("pgrep -x -f 'runsv {name}' || true"))
            .parse()
            .ok()
    }

    fn name(&self) -> &'static str {
        "runit"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("runit")
    }

    fn init(&self) -> Option<&'static str> {
        Some("runit")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[("etc/sv", "other"), ("etc/runit/runsvdir/default", "other")]
    }

    fn made(&self, _: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        let units: Vec<String> = if instances.is_empty() {
            vec![name.to_string()]
        } else {
            instances.iter().map(|i| format!("{name}@{i}")).collect()
        };
        let mut made = Vec::new();
        for u in units {
            made.push(Made::File(format!("/etc/sv/{u}/run")));
            made.push(Made::File(format!("/etc/sv/{u}/finish")));
            made.push(Made::File(format!("/etc/sv/{u}/log/run")));
            made.push(Made::Link(format!("/etc/service/{u}")));
        }
        made
    }

    /// `sv status` (runit's own reading of supervise/status) says run or down, with the pid.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
        let state = s["state"].as_str().unwrap_or_default();
        let out = h.sh(&format!("sv status /etc/sv/{unit}"));
        let said = crate::common::text(&out.stdout);
        match state {
            "running" => {
                let pid = s["pid"].as_u64().expect("a running pid");
                assert!(
                    said.starts_with(&format!("run: /etc/sv/{unit}: (pid {pid})")),
                    "sv status: {said} (svc-any: {s})"
                );
            }
            "stopped" | "dead" | "failed" => {
                assert!(
                    said.starts_with(&format!("down: /etc/sv/{unit}:")),
                    "sv status: {said} (svc-any: {s})"
                );
            }
            "not-installed" => {
                assert!(
                    !h.succeeds(&format!("test -e /etc/sv/{unit}")),
                    "/etc/sv/{unit} is left"
                );
                assert!(
                    !h.succeeds(&format!("test -L /etc/service/{unit}")),
                    "/etc/service/{unit} is left"
                );
            }
            other => panic!("runit never leaves a service {other} here: {s}"),
        }
    }

    /// runsv starts a linked service at boot unless it has a `down` file.
    fn enabled(&self, h: &Host, name: &str) -> bool {
        h.succeeds(&format!("test -L /etc/service/{name}"))
            && !h.succeeds(&format!("test -e /etc/sv/{name}/down"))
    }

    fn parses(&self, h: &Host, name: &str) {
        for f in ["run", "finish", "log/run"] {
            assert!(
                h.succeeds(&format!(
                    "sh -n /etc/sv/{name}/{f} && dash -n /etc/sv/{name}/{f}"
                )),
                "/etc/sv/{name}/{f} is no shell script"
            );
        }
    }

    fn native(&self, verb: &str, name: &str) -> Option<String> {
        Some(match verb {
            "start" => format!("sv up {name}"),
            _ => format!("sv -w 10 down {name}"),
        })
    }

    /// The scripts are executables in /etc/sv.
    fn executable(&self, path: &str) -> bool {
        path.starts_with("/etc/sv/") && !path.ends_with("/down")
    }
}
