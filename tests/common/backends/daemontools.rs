//! daemontools 0.76 under sysvinit as PID 1 of a container (Debian's daemontools-run: svscan
//! on /etc/service from inittab), chosen with SVC_ANY_BACKEND as a user would: svc, svstat
//! and supervise's own files.

use std::time::Duration;

use crate::common::backend::{Backend, Made, Outcome};
use crate::common::backends::run_dir::RunDir;
use crate::common::host::Host;

pub struct Daemontools;

const LAYOUT: RunDir = RunDir {
    service_dirs: "/etc/sv",
    scan: "/etc/service",
    files: &["run", "log/run"],
    scripts: &["run", "log/run"],
};

impl Backend for Daemontools {
    /// Supervise pauses a second between starts: a cycle takes seconds.
    fn flap_cycles(&self) -> usize {
        30
    }

    /// The supervise of the service's directory keeps it running.
    fn keeper(&self, h: &Host, name: &str) -> Option<u32> {
        h.sh_out(&format!("pgrep -x -f 'supervise {name}' || true"))
            .parse()
            .ok()
    }

    fn name(&self) -> &'static str {
        "daemontools"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("daemontools")
    }

    fn init(&self) -> Option<&'static str> {
        Some("init")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[("etc/sv", "other"), ("etc/service", "other")]
    }

    fn made(&self, _: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        LAYOUT.made(name, instances)
    }

    /// svstat (which always exits 0) says up with the pid, or down.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = LAYOUT.unit(name, s);
        let state = s["state"].as_str().unwrap_or_default();
        let said = h.sh_out(&format!("svstat /etc/service/{unit}"));
        match state {
            "running" => {
                let pid = s["pid"].as_u64().expect("a running pid");
                assert!(
                    said.starts_with(&format!("/etc/service/{unit}: up (pid {pid})")),
                    "svstat: {said} (svc-any: {s})"
                );
            }
            "stopped" | "failed" => {
                assert!(
                    said.starts_with(&format!("/etc/service/{unit}: down ")),
                    "svstat: {said} (svc-any: {s})"
                );
            }
            "not-installed" => LAYOUT.gone(h, &unit),
            other => panic!("daemontools never leaves a service {other} here: {s}"),
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        LAYOUT.enabled(h, name)
    }

    fn parses(&self, h: &Host, name: &str) {
        LAYOUT.parses(h, name)
    }

    /// svc only sends: the stop is waited for with svstat, as the seed's svcstop did.
    fn native(&self, verb: &str, name: &str) -> Option<String> {
        let dir = format!("/etc/service/{name}");
        Some(match verb {
            "start" => format!("svc -u {dir}"),
            _ => format!(
                "svc -d {dir} && i=0 && until svstat {dir} | grep -q ': down '; do \
                 i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.1; done"
            ),
        })
    }

    /// supervise starts `run` again after every exit, and no ./finish learns how it ended
    /// (README, "What daemontools gets").
    fn restart(&self, _: Outcome) -> Outcome {
        Outcome::Restarted
    }

    /// Nobody keeps the exit status.
    fn knows_last_exit(&self, _: bool) -> bool {
        false
    }

    /// supervise's first second after a start ignores commands: one more second of slack
    /// for what follows a restart is not svc-any's. The delay itself is the run script's.
    fn restart_delay(&self, asked: Duration) -> Duration {
        asked
    }

    fn executable(&self, path: &str) -> bool {
        path.starts_with("/etc/sv/") && !path.ends_with("/down")
    }
}
