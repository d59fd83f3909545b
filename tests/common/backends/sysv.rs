//! sysvinit as PID 1 of a container, with Debian's update-rc.d: the LSB script, `service`
//! and the rc?.d links. SysV supervises nothing: the script hands the service to svc-any's
//! own supervisor.

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;

pub struct Sysv;

/// An rc?.d entry without its sequence number: insserv numbers every service's links by the
/// boot order, and renumbers others' (K01sendsigs becomes K02sendsigs) when ours joins, but not
/// back when it leaves. Which links exist, and where they point, must still be as before.
pub fn without_sequence(line: &str) -> String {
    let Some(rest) = line.strip_prefix("/etc/rc") else {
        return line.to_string();
    };
    let b = rest.as_bytes();
    if b.len() > 7 && &b[1..4] == b".d/" && b"SK".contains(&b[4]) && b[5].is_ascii_digit() {
        return format!("/etc/rc{}{}", &rest[..5], &rest[7..]);
    }
    line.to_string()
}

impl Backend for Sysv {
    fn name(&self) -> &'static str {
        "sysv"
    }

    fn profile(&self) -> Option<&'static str> {
        Some("sysv")
    }

    fn init(&self) -> Option<&'static str> {
        Some("init")
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[
            ("etc/init.d", "other"),
            ("etc/rc0.d", "S01other"),
            ("etc/rc1.d", "S01other"),
            ("etc/rc2.d", "S01other"),
            ("etc/rc3.d", "S01other"),
            ("etc/rc4.d", "S01other"),
            ("etc/rc5.d", "S01other"),
            ("etc/rc6.d", "S01other"),
        ]
    }

    /// One script for every instance; the supervisor holds the definition.
    fn made(&self, h: &Host, name: &str, _: &[&str]) -> Vec<Made> {
        vec![
            Made::File(format!("/etc/init.d/{name}")),
            Made::Link(format!("/etc/rc[2-5].d/S[0-9][0-9]{name}")),
            Made::Link(format!("/etc/rc[016].d/K[0-9][0-9]{name}")),
            Made::File(format!("{}/builtin/{name}.toml", h.state_dir())),
        ]
    }

    /// The LSB script is what sysvinit and an administrator use; `service` is how Debian's
    /// tools call it.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let state = s["state"].as_str().unwrap_or_default();
        let want = match state {
            "running" => 0,
            "stopped" => 3,
            "dead" | "failed" => 1,
            "not-installed" => {
                assert!(
                    !h.succeeds(&format!("test -e /etc/init.d/{name}")),
                    "/etc/init.d/{name} is left"
                );
                return;
            }
            other => panic!("no LSB code for {other}"),
        };
        for cmd in [
            format!("/etc/init.d/{name} status"),
            format!("service {name} status"),
        ] {
            let code = h.sh(&cmd).status.code().unwrap_or(-1);
            assert_eq!(code, want, "{cmd} (svc-any: {s})");
        }
        if let Some(pid) = s["pid"].as_u64() {
            assert!(h.succeeds(&format!("kill -0 {pid}")), "no process {pid}");
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        let starts = h.succeeds(&format!("ls /etc/rc2.d/S*{name}"));
        if starts {
            assert!(
                h.succeeds(&format!("ls /etc/rc0.d/K*{name}")),
                "started in runlevel 2 but not stopped at halt"
            );
        }
        starts
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
        Some(match verb {
            "stop" => format!("/etc/init.d/{name} stop"),
            _ => format!("service {name} {verb}"),
        })
    }

    fn supervised_by_svc_any(&self) -> bool {
        true
    }

    fn keeper(&self, h: &Host, _name: &str) -> Option<u32> {
        h.supervisor_pid()
    }

    /// insserv's caches of the boot order, rewritten whenever it orders (update-rc.d runs it
    /// for our script and again when the script goes).
    fn bookkeeping(&self) -> &'static [&'static str] {
        &[
            "/etc/init.d/.depend.boot",
            "/etc/init.d/.depend.start",
            "/etc/init.d/.depend.stop",
        ]
    }

    /// Names only, without sequence numbers (see `without_sequence`), and without insserv's
    /// .depend files.
    fn comparable(&self, line: &str) -> Option<String> {
        let path = line.split(' ').next()?;
        (!path.contains("/.depend.")).then(|| without_sequence(path))
    }
}
