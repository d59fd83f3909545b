//! systemd 252 as PID 1 of a container, asked with systemctl and journalctl.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;
use crate::common::text;

pub struct Systemd;

/// The unit that svc-any's status entry `s` of `name` stands for.
fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}@{i}"),
        None => name.to_string(),
    }
}

/// `systemctl show` of these properties of `unit`, by name.
pub fn show(h: &Host, unit: &str, properties: &[&str]) -> BTreeMap<String, String> {
    let args: Vec<String> = properties.iter().map(|p| format!("-p {p}")).collect();
    h.sh_out(&format!("systemctl show {} {unit}", args.join(" ")))
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// One property of `unit`.
pub fn prop(h: &Host, unit: &str, property: &str) -> String {
    h.sh_out(&format!("systemctl show -p {property} --value {unit}"))
}

/// How many times PID 1 has reloaded its configuration since boot.
pub fn reload_count(h: &Host) -> usize {
    h.sh_out("journalctl -b _PID=1 -o cat --no-pager | grep -c '^Reloading' || true")
        .parse()
        .unwrap_or(0)
}

impl Backend for Systemd {
    /// Any user may ask systemd for a unit's properties, `Environment=` among them.
    fn public_view(&self, name: &str) -> Option<String> {
        Some(format!("systemctl show {name}.service"))
    }

    fn name(&self) -> &'static str {
        "systemd"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("systemd")
    }

    fn init(&self) -> Option<&'static str> {
        Some("systemd")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("etc/systemd/system", "other.service"),
            (
                "etc/systemd/system/multi-user.target.wants",
                "other.service",
            ),
        ]
    }

    fn made(&self, _: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        let dir = "/etc/systemd/system";
        if instances.is_empty() {
            return vec![
                Made::File(format!("{dir}/{name}.service")),
                Made::Link(format!("{dir}/multi-user.target.wants/{name}.service")),
            ];
        }
        let mut made = vec![Made::File(format!("{dir}/{name}@.service"))];
        made.extend(
            instances
                .iter()
                .map(|i| Made::Link(format!("{dir}/multi-user.target.wants/{name}@{i}.service"))),
        );
        made
    }

    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
        let p = show(
            h,
            &unit,
            &[
                "LoadState",
                "ActiveState",
                "Result",
                "MainPID",
                "ExecMainCode",
                "ExecMainStatus",
            ],
        );
        let state = s["state"].as_str().unwrap_or_default();
        let active = match state {
            "running" => "active",
            "stopped" => "inactive",
            "dead" | "failed" => "failed",
            "not-installed" => {
                assert_eq!(p["LoadState"], "not-found", "systemd's LoadState of {unit}");
                assert!(
                    !h.succeeds(&format!("systemctl cat {unit}")),
                    "systemd still has {unit}"
                );
                return;
            }
            other => panic!("no systemd equivalent of {other}"),
        };
        assert_eq!(
            p["ActiveState"], active,
            "systemd's ActiveState of {unit} (svc-any: {s})"
        );
        if state == "stopped" {
            // A clean stop, not a failure that svc-any reads as stopped.
            assert_eq!(p["Result"], "success", "systemd's Result of {unit} ({s})");
        }
        if let Some(pid) = s["pid"].as_u64() {
            assert_eq!(p["MainPID"], pid.to_string(), "systemd's MainPID of {unit}");
        }
        // CLD_EXITED is 1, CLD_KILLED 2: how systemd itself saw the process end.
        let e = &s["last_exit"];
        let ended = match e["how"].as_str() {
            Some("exited") => Some(("1", e["code"].to_string())),
            Some("killed") => {
                let signal = e["signal"].as_str().unwrap();
                let number = nix::sys::signal::Signal::from_str(&format!("SIG{signal}"))
                    .unwrap_or_else(|_| panic!("no signal {signal}"));
                Some(("2", (number as i32).to_string()))
            }
            _ => None,
        };
        if let Some((code, status)) = ended {
            assert_eq!(
                (p["ExecMainCode"].as_str(), p["ExecMainStatus"].as_str()),
                (code, status.as_str()),
                "systemd's ExecMainCode and ExecMainStatus of {unit} (svc-any: {e})"
            );
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        // Exit 1 for a disabled unit: its word is what counts.
        let said = text(&h.sh(&format!("systemctl is-enabled {name}")).stdout);
        match said.trim() {
            "enabled" => true,
            "disabled" => false,
            other => panic!("systemctl is-enabled {name}: {other:?}"),
        }
    }

    fn parses(&self, h: &Host, name: &str) {
        let out = h.sh(&format!(
            "systemd-analyze verify /etc/systemd/system/{name}.service"
        ));
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify {name}.service:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    fn native(&self, verb: &str, name: &str) -> Option<String> {
        Some(format!("systemctl {verb} {name}"))
    }

    /// systemd resets the exit status when a process starts: it is known once stopped.
    fn knows_last_exit(&self, running: bool) -> bool {
        !running
    }

    fn reloads(&self, h: &Host) -> Option<usize> {
        Some(reload_count(h))
    }

    /// - /run/systemd/journal, /var/lib/systemd/journal (not present on Debian, listed for
    ///   other layouts): journald's sockets and stream state, one entry per connected service
    ///   process; logs may stay, as /var/log does.
    /// - /run/systemd/units, /run/systemd/transient, /run/systemd/propagate: the runtime
    ///   bookkeeping of invocations (an `invocation:` link per started unit), not a unit's files.
    /// - /var/lib/systemd/random-seed, /var/lib/systemd/timers, /var/lib/systemd/timesync:
    ///   refreshed on systemd's own schedule.
    /// - /run/agetty.reload: agetty makes its reload trigger when the container's getty starts,
    ///   which may be after systemd calls the boot complete.
    fn bookkeeping(&self) -> &'static [&'static str] {
        &[
            "/run/systemd/journal",
            "/var/lib/systemd/journal",
            "/run/systemd/units",
            "/run/systemd/transient",
            "/run/systemd/propagate",
            "/var/lib/systemd/random-seed",
            "/var/lib/systemd/timers",
            "/var/lib/systemd/timesync",
            "/run/agetty.reload",
        ]
    }

    /// Noncharacters reach the process but make every D-Bus status query of the unit fail;
    /// svc-any refuses them (the refusal is tested in fidelity_escapers).
    fn carries_noncharacters(&self) -> bool {
        false
    }
}
