//! supervisord 4.2.5 (Debian's `supervisor`, started by its init script under sysvinit as PID 1
//! of a container; chosen with SVC_ANY_BACKEND, which the box profile sets): `supervisorctl`
//! and the program files in /etc/supervisor/conf.d.

use std::time::Duration;

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;

pub struct Supervisord;

/// supervisorctl's name of the unit that svc-any's status entry `s` of `name` stands for.
fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}:{name}@{i}"),
        None => format!("{name}:{name}"),
    }
}

impl Backend for Supervisord {
    /// A start counts after startsecs = 1: a cycle takes seconds.
    fn flap_cycles(&self) -> usize {
        30
    }

    /// supervisord itself keeps every program running.
    fn keeper(&self, h: &Host, _name: &str) -> Option<u32> {
        h.sh_out("supervisorctl pid 2>/dev/null || true")
            .parse()
            .ok()
    }

    fn keeper_is_the_manager(&self) -> bool {
        true
    }

    fn name(&self) -> &'static str {
        "supervisord"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("supervisord")
    }

    /// sysvinit is PID 1; supervisord runs under it.
    fn init(&self) -> Option<&'static str> {
        Some("init")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("etc/supervisor/conf.d", "other.conf"),
            ("etc/supervisor/svc-any", "other"),
        ]
    }

    fn made(&self, _: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        let mut made = vec![
            Made::File(format!("/etc/supervisor/conf.d/{name}.conf")),
            Made::File(format!("/etc/supervisor/svc-any/{name}.enabled")),
            Made::Link(format!("/etc/supervisor/conf.d/{name}~enabled.conf")),
        ];
        if instances.is_empty() {
            made.push(Made::File(format!("/etc/supervisor/svc-any/{name}.sh")));
        }
        for i in instances {
            made.push(Made::File(format!("/etc/supervisor/svc-any/{name}@{i}.sh")));
        }
        made
    }

    /// `supervisorctl status UNIT`: exit 0 RUNNING, 3 not running, 4 no such process; the
    /// state word and `pid N` from its line.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
        let out = h.sh(&format!("supervisorctl status '{unit}'"));
        let code = out.status.code().unwrap_or(-1);
        let line = String::from_utf8_lossy(&out.stdout).to_string();
        let word = line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        match s["state"].as_str().unwrap_or_default() {
            "running" => assert_eq!(
                (code, word.as_str()),
                (0, "RUNNING"),
                "{line} (svc-any: {s})"
            ),
            "stopped" => {
                assert_eq!(code, 3, "{line} (svc-any: {s})");
                assert!(
                    ["STOPPED", "EXITED"].contains(&word.as_str()),
                    "{line} (svc-any: {s})"
                );
            }
            "dead" => assert_eq!(
                (code, word.as_str()),
                (3, "EXITED"),
                "{line} (svc-any: {s})"
            ),
            "failed" => assert_eq!((code, word.as_str()), (3, "FATAL"), "{line} (svc-any: {s})"),
            "not-installed" => assert_eq!(code, 4, "supervisord still has {unit}: {line}"),
            other => panic!("no supervisord state for {other}: {line}"),
        }
        if let Some(pid) = s["pid"].as_u64() {
            assert!(
                line.contains(&format!("pid {pid},")),
                "{line} (svc-any: {s})"
            );
        }
    }

    /// The autostart overlay is linked in, and supervisord's parsed configuration says so.
    fn enabled(&self, h: &Host, name: &str) -> bool {
        h.succeeds(&format!(
            "test -L /etc/supervisor/conf.d/{name}~enabled.conf && python3 -c '
import sys
from supervisor.options import ServerOptions
o = ServerOptions(); o.realize(args=[\"-c\", \"/etc/supervisor/supervisord.conf\"])
sys.exit(0 if all(p.autostart for g in o.process_group_configs if g.name == \"{name}\" for p in g.process_configs) and any(g.name == \"{name}\" for g in o.process_group_configs) else 1)'"
        ))
    }

    /// supervisord's own parser reads the whole configuration, and the run scripts are sh.
    fn parses(&self, h: &Host, name: &str) {
        assert!(
            h.succeeds(&format!(
                "python3 -c 'from supervisor.options import ServerOptions; o = ServerOptions(); o.realize(args=[\"-c\", \"/etc/supervisor/supervisord.conf\"]); assert any(g.name == \"{name}\" for g in o.process_group_configs)' && for f in /etc/supervisor/svc-any/{name}*.sh; do sh -n \"$f\" && dash -n \"$f\" || exit 1; done"
            )),
            "supervisord does not read {name}'s files"
        );
    }

    fn native(&self, verb: &str, name: &str) -> Option<String> {
        Some(format!("supervisorctl {verb} '{name}:*'"))
    }

    /// supervisord restarts at once: it has no restart delay (README, "What supervisord gets").
    fn restart_delay(&self, _: Duration) -> Duration {
        Duration::ZERO
    }

    /// Its own log file and pid file, and the socket it made at boot.
    fn bookkeeping(&self) -> &'static [&'static str] {
        &["/run/supervisor.sock", "/run/supervisord.pid"]
    }
}
