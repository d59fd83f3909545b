//! s6 2.11 with s6-svscan as PID 1 of a container (Debian's s6 package, scan directory
//! /etc/s6/service): s6-svc, s6-svstat and s6-supervise's own files.

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;

pub struct S6;

fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}@{i}"),
        None => name.to_string(),
    }
}

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
        let units: Vec<String> = if instances.is_empty() {
            vec![name.to_string()]
        } else {
            instances.iter().map(|i| format!("{name}@{i}")).collect()
        };
        let mut made = Vec::new();
        for u in units {
            for f in ["run", "finish", "log/run", "timeout-kill", "timeout-finish"] {
                made.push(Made::File(format!("/etc/s6/sv/{u}/{f}")));
            }
            made.push(Made::Link(format!("/etc/s6/service/{u}")));
        }
        made
    }

    /// s6-svstat says up with the pid, or down.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
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
            "not-installed" => {
                assert!(!h.succeeds(&format!("test -e {dir}")), "{dir} is left");
                assert!(
                    !h.succeeds(&format!("test -L /etc/s6/service/{unit}")),
                    "/etc/s6/service/{unit} is left"
                );
            }
            other => panic!("s6 never leaves a service {other} here: {s}"),
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        h.succeeds(&format!("test -L /etc/s6/service/{name}"))
            && !h.succeeds(&format!("test -e /etc/s6/sv/{name}/down"))
    }

    fn parses(&self, h: &Host, name: &str) {
        for f in ["run", "finish", "log/run"] {
            assert!(
                h.succeeds(&format!(
                    "sh -n /etc/s6/sv/{name}/{f} && dash -n /etc/s6/sv/{name}/{f}"
                )),
                "/etc/s6/sv/{name}/{f} is no shell script"
            );
        }
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
