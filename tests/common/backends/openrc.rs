//! OpenRC 0.45 (Debian's, under sysvinit as PID 1 of a container): rc-service, rc-update and
//! supervise-daemon's state files.

use std::time::Duration;

use crate::common::backend::{Backend, Made, Outcome};
use crate::common::host::Host;

pub struct Openrc;

/// The service script that svc-any's status entry `s` of `name` stands for.
fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}.{i}"),
        None => name.to_string(),
    }
}

impl Backend for Openrc {
    /// supervise-daemon records its own pid in the file OpenRC names for the service.
    fn keeper(&self, h: &Host, name: &str) -> Option<u32> {
        h.sh_out(&format!(
            "cat \"$(cat /run/openrc/options/{name}/pidfile 2>/dev/null)\" 2>/dev/null || true"
        ))
        .parse()
        .ok()
    }

    fn name(&self) -> &'static str {
        "openrc"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("openrc")
    }

    fn init(&self) -> Option<&'static str> {
        Some("init")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("etc/init.d", "other"),
            ("etc/conf.d", "other"),
            ("etc/runlevels/default", "other"),
        ]
    }

    /// A script in front of svc-any's supervisor (for what supervise-daemon cannot carry) comes
    /// with the supervisor's definition instead of a conf.d; once gone, neither may be left.
    fn made(&self, h: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        let mut made = vec![Made::File(format!("/etc/init.d/{name}"))];
        if instances.is_empty() {
            let script = format!("/etc/init.d/{name}");
            let supervised = format!("/var/lib/svc-any/builtin/{name}.toml");
            let native = format!("/etc/conf.d/{name}");
            if !h.succeeds(&format!("test -e '{script}'")) {
                made.push(Made::File(supervised));
                made.push(Made::File(native));
            } else if h.succeeds(&format!("grep -q -- '--backend builtin' '{script}'")) {
                made.push(Made::File(supervised));
            } else {
                made.push(Made::File(native));
            }
            made.push(Made::Link(format!("/etc/runlevels/default/{name}")));
        }
        for i in instances {
            made.push(Made::Link(format!("/etc/init.d/{name}.{i}")));
            made.push(Made::File(format!("/etc/conf.d/{name}.{i}")));
            made.push(Made::Link(format!("/etc/runlevels/default/{name}.{i}")));
        }
        made
    }

    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
        let state = s["state"].as_str().unwrap_or_default();
        let want = match state {
            "running" => 0,
            "stopped" => 3,
            "not-installed" => {
                assert!(
                    !h.succeeds(&format!("rc-service -e {unit}")),
                    "OpenRC still has {unit}"
                );
                return;
            }
            other => panic!("OpenRC never leaves a service {other} here"),
        };
        let code = h
            .sh(&format!("rc-service {unit} status"))
            .status
            .code()
            .unwrap_or(-1);
        assert_eq!(code, want, "rc-service {unit} status (svc-any: {s})");
        if let Some(pid) = s["pid"].as_u64() {
            assert_eq!(
                h.sh_out(&format!("cat /run/openrc/options/{unit}/child_pid")),
                pid.to_string(),
                "supervise-daemon's child of {unit}"
            );
            assert!(h.succeeds(&format!("kill -0 {pid}")), "no process {pid}");
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        // Lines like "  web | default".
        h.sh_out("rc-update show default")
            .lines()
            .any(|l| l.split_whitespace().next() == Some(name))
    }

    fn parses(&self, h: &Host, name: &str) {
        assert!(
            h.succeeds(&format!(
                "sh -n /etc/init.d/{name} && dash -n /etc/init.d/{name}"
            )),
            "/etc/init.d/{name} is no shell script"
        );
    }

    fn native(&self, verb: &str, name: &str) -> Option<String> {
        Some(format!("rc-service {name} {verb}"))
    }

    /// supervise-daemon respawns after every exit, whatever the policy (README, "What OpenRC
    /// gets").
    fn restart(&self, _: Outcome) -> Outcome {
        Outcome::Restarted
    }

    /// `respawn_delay` takes whole seconds.
    fn restart_delay(&self, asked: Duration) -> Duration {
        Duration::from_secs(asked.as_millis().div_ceil(1000) as u64)
    }

    /// OpenRC keeps no exit status.
    fn knows_last_exit(&self, _: bool) -> bool {
        false
    }

    /// The dependency cache, rebuilt (with the scripts' mtimes inside) whenever /etc/init.d
    /// changes.
    fn bookkeeping(&self) -> &'static [&'static str] {
        &["/run/openrc/deptree", "/run/openrc/depconfig"]
    }
}
