//! runit 2.1.2 as PID 1 of a container (Debian's runit-init: runsvdir on /etc/service): the
//! service directories in /etc/sv, `sv`, and runsv's own `supervise/` files.

use crate::common::backend::{Backend, Made};
use crate::common::backends::run_dir::RunDir;
use crate::common::host::Host;

pub struct Runit;

const LAYOUT: RunDir = RunDir {
    service_dirs: "/etc/sv",
    scan: "/etc/service",
    files: &["run", "finish", "log/run"],
    scripts: &["run", "finish", "log/run"],
};

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
        LAYOUT.made(name, instances)
    }

    /// `sv status` (runit's own reading of supervise/status) says run or down, with the pid.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = LAYOUT.unit(name, s);
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
            "not-installed" => LAYOUT.gone(h, &unit),
            other => panic!("runit never leaves a service {other} here: {s}"),
        }
    }

    /// runsv starts a linked service at boot unless it has a `down` file.
    fn enabled(&self, h: &Host, name: &str) -> bool {
        LAYOUT.enabled(h, name)
    }

    fn parses(&self, h: &Host, name: &str) {
        LAYOUT.parses(h, name)
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
