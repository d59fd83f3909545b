//! s6 2.11 with s6-svscan as PID 1 of a container (Debian's s6 package, scan directory
//! /etc/s6/service): s6-svc, s6-svstat and s6-supervise's own files.

use crate::common::backend::{Backend, Made};
use crate::common::backends::run_dir::RunDir;
use crate::common::host::Host;

pub struct S6;

const LAYOUT: RunDir = RunDir {
    service_dirs: "/etc/s6/sv",
    scan: "/etc/s6/service",
    files: &["run", "finish", "log/run", "timeout-kill", "timeout-finish"],
    scripts: &["run", "finish", "log/run"],
};

impl Backend for S6 {
    /// The s6-supervise of the service's directory keeps it running.
    fn keeper(&self, h: &Host, name: &str) -> Option<u32> {
        h.sh_out(&format!("pgrep -x -f 's6-supervise {name}' || true"))
            .parse()
            .ok()
    }

    fn name(&self) -> &'static str {
        "s6"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("s6")
    }

    fn init(&self) -> Option<&'static str> {
        Some("s6-svscan")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[("etc/s6/sv", "other"), ("etc/s6/service", "other")]
    }

    fn made(&self, _: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        LAYOUT.made(name, instances)
    }

    /// s6-svstat says up with the pid, or down.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = LAYOUT.unit(name, s);
        let state = s["state"].as_str().unwrap_or_default();
        let dir = format!("/etc/s6/sv/{unit}");
        match state {
            "running" => {
                let pid = s["pid"].as_u64().expect("a running pid");
                assert_eq!(
                    h.sh_out(&format!("s6-svstat -o up,pid {dir}")),
                    format!("true {pid}"),
                    "s6-svstat (svc-any: {s})"
                );
            }
            "stopped" | "dead" | "failed" => {
                assert_eq!(
                    h.sh_out(&format!("s6-svstat -o up {dir}")),
                    "false",
                    "s6-svstat (svc-any: {s})"
                );
            }
            "not-installed" => LAYOUT.gone(h, &unit),
            other => panic!("s6 never leaves a service {other} here: {s}"),
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        LAYOUT.enabled(h, name)
    }

    fn parses(&self, h: &Host, name: &str) {
        LAYOUT.parses(h, name)
    }

    fn native(&self, verb: &str, name: &str) -> Option<String> {
        let dir = format!("/etc/s6/sv/{name}");
        Some(match verb {
            "start" => format!("s6-svc -wu -T 10000 -u {dir}"),
            _ => format!("s6-svc -wD -T 20000 -d {dir}"),
        })
    }

    /// The scripts are executable; down-signal and the timeouts are values.
    fn executable(&self, path: &str) -> bool {
        path.starts_with("/etc/s6/sv/") && (path.ends_with("/run") || path.ends_with("/finish"))
    }
}
