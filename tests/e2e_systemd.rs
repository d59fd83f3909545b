//! What only systemd has, against real systemd 252 as PID 1 of a container: a user-level
//! service run by a user's own manager, a changed definition applied with exactly one
//! daemon-reload, template units for instances, and a group as a target. The life of a service,
//! the lifecycle table, fidelity and safety are the conformance suite's (tests/conformance/),
//! the same on every backend.
//!
//! Each test boots its own container (tests/harness/box.sh) from a debootstrapped Debian tree,
//! with the freshly built svc-any bound in at /usr/local/bin/svc-any and tests/fixtures at
//! /opt/svc-any-share.

mod common;

use std::time::Duration;

use common::backends::systemd::{prop, reload_count};
use common::container::{enabled, Container};
use common::host::Host;
use common::probe::SHARE;
use common::text;

#[test]
fn user_level_service_for_a_non_root_user() {
    if !enabled("user_level_service_for_a_non_root_user") {
        return;
    }
    let c = Host::Box(Container::boot("systemd", "user"));
    // A lingering user gets a user manager at boot, as on a server.
    c.sh_out("loginctl enable-linger alice");
    assert!(
        c.wait_for(
            Duration::from_secs(20),
            "test -S /run/user/1000/systemd/private"
        ),
        "no user manager for alice"
    );
    let as_alice = |args: &str| {
        c.sh(&format!("cd /tmp && runuser -u alice -- env HOME=/home/alice XDG_RUNTIME_DIR=/run/user/1000 svc-any {args}"))
    };
    let out = as_alice(&format!(
        "install uweb -f {SHARE}/e2e/user-web.toml --start --wait"
    ));
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(c.succeeds("test -f /home/alice/.config/systemd/user/uweb.service"));
    assert!(
        c.succeeds("test -L /home/alice/.config/systemd/user/default.target.wants/uweb.service")
    );
    assert_eq!(
        c.sh_out("runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user is-active uweb"),
        "active"
    );
    assert!(c.http_ok(18081));
    let pid = c.sh_out("runuser -u alice -- env XDG_RUNTIME_DIR=/run/user/1000 systemctl --user show -p MainPID --value uweb");
    assert_eq!(
        c.sh_out(&format!("stat -c %U /proc/{pid}")),
        "alice",
        "the service runs as alice"
    );
    let out = as_alice("status uweb --json");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["services"][0]["state"], "running");
    assert!(as_alice("stop uweb").status.success());
    assert_eq!(as_alice("status uweb").status.code(), Some(3));
    assert!(as_alice("uninstall uweb").status.success());
    assert!(!c.succeeds("test -e /home/alice/.config/systemd/user/uweb.service"));
    assert!(
        !c.succeeds("test -e /home/alice/.config/systemd/user/default.target.wants/uweb.service")
    );
}

#[test]
fn changes_failures_and_instances_on_real_systemd() {
    if !enabled("changes_failures_and_instances_on_real_systemd") {
        return;
    }
    let h = Host::Box(Container::boot("systemd", "change"));
    let server = |port: u16, extra: &str| {
        format!("exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]\n{extra}")
    };

    // a changed definition is rewritten, systemd reloaded, and the running service restarted
    h.define(
        "chg",
        &server(
            18090,
            "env = { V = \"1\" }\n[health]\ntcp = \"127.0.0.1:18090\"\n",
        ),
    );
    assert!(h
        .svc_any(&["install", "chg", "--start", "--wait"])
        .status
        .success());
    let pid = prop(&h, "chg", "MainPID");
    let reloads = reload_count(&h);
    h.define(
        "chg",
        &server(
            18090,
            "env = { V = \"2\" }\n[health]\ntcp = \"127.0.0.1:18090\"\n",
        ),
    );
    let out = h.svc_any(&["install", "chg"]);
    let stdout = text(&out.stdout);
    // The values live in the environment file, which only root reads; the unit stays.
    assert!(
        stdout.contains("updated /var/lib/svc-any/env/chg.env")
            && stdout.contains("unchanged /etc/systemd/system/chg.service"),
        "{stdout}"
    );
    assert!(
        stdout.contains("restarted chg (its definition changed)"),
        "{stdout}"
    );
    assert_eq!(reload_count(&h), reloads + 1, "exactly one daemon-reload");
    let new_pid = prop(&h, "chg", "MainPID");
    assert_ne!(new_pid, pid);
    assert!(
        h.succeeds(&format!(
            "tr '\\0' '\\n' </proc/{new_pid}/environ | grep -qx V=2"
        )),
        "the new process has V=2"
    );

    // ... but a stopped one stays stopped
    assert!(h.svc_any(&["stop", "chg"]).status.success());
    h.define("chg", &server(18090, "env = { V = \"3\" }\n"));
    let out = h.svc_any(&["install", "chg"]);
    assert!(
        !text(&out.stdout).contains("restarted"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(prop(&h, "chg", "ActiveState"), "inactive");

    // --wait with a health check that never passes: exit 1, the last log lines, stopped
    h.define(
        "never",
        &server(18095, "[health]\ntcp = \"127.0.0.1:18096\"\n"),
    );
    let out = h.svc_any(&["install", "never", "--start", "--wait=3"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("never did not become ready within 3s"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("Started never.service"),
        "the last log lines are shown: {}",
        text(&out.stdout)
    );
    assert_eq!(prop(&h, "never", "ActiveState"), "inactive");

    // instances: one template, one unit per instance, all in one status
    h.define(
        "inst",
        &server(0, "instances = [\"1\", \"2\"]\n").replace("\"0\"", "\"1809{instance}\""),
    );
    h.ok(&["install", "inst", "--start", "--wait"]);
    assert!(h.succeeds("test -f /etc/systemd/system/inst@.service"));
    for i in ["1", "2"] {
        assert_eq!(h.sh_out(&format!("systemctl is-active inst@{i}")), "active");
        assert_eq!(
            h.sh_out(&format!("systemctl is-enabled inst@{i}")),
            "enabled"
        );
        assert!(h.http_ok(format!("1809{i}").parse().unwrap()));
    }
    let (code, units) = h.statuses("inst");
    assert_eq!(code, 0);
    let instances: Vec<&str> = units
        .iter()
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    assert_eq!(instances, ["1", "2"]);
    assert!(h
        .svc_any(&["uninstall", "inst", "chg", "never"])
        .status
        .success());
    assert!(!h.succeeds("ls /etc/systemd/system/multi-user.target.wants/inst@*"));
    assert!(!h.succeeds("pgrep -f '[h]ttp.server'"));
}

#[test]
fn a_group_is_a_target_that_stops_and_starts_every_member() {
    if !enabled("a_group_is_a_target_that_stops_and_starts_every_member") {
        return;
    }
    let h = Host::Box(Container::boot("systemd", "target"));
    let file = h.define("openim", include_str!("../examples/openim/svc-any.toml"));
    h.ok(&["install", "-f", &file, "--start", "--wait=90"]);
    // Stopping the target stops every member (PartOf=).
    h.sh_out("systemctl stop openim.target");
    assert!(h.wait_for(
        Duration::from_secs(20),
        "! systemctl is-active --quiet rpc-user api gateway push msg-transfer@1 msg-transfer@4"
    ));
    h.sh_out("systemctl start openim.target");
    assert!(h.wait_for(
        Duration::from_secs(20),
        "systemctl is-active --quiet rpc-user rpc-msg api gateway push msg-transfer@1 msg-transfer@2 msg-transfer@3 msg-transfer@4"
    ));
    h.ok(&["stop", "openim"]);
    h.ok(&["uninstall", "openim"]);
    assert!(h.succeeds("! test -e /etc/systemd/system/openim.target"));
}

/// `credentials` on real systemd: a root-only file reaches a service running as another user,
/// as a file in $CREDENTIALS_DIRECTORY, never through the environment or the unit.
#[test]
fn credentials_reach_the_service_as_files_on_real_systemd() {
    if !enabled("credentials_reach_the_service_as_files_on_real_systemd") {
        return;
    }
    let h = Host::Box(Container::boot("systemd", "cred"));
    h.sh_out("mkdir -p /etc/app && umask 077 && printf s3cret > /etc/app/db");
    h.define(
        "cred",
        "exec = [\"/bin/sh\", \"-c\", \"cat \\\"$CREDENTIALS_DIRECTORY/db\\\" > /tmp/cred.got; exec sleep 1081\"]\n\
         user = \"alice\"\n\
         credentials = { db = \"/etc/app/db\" }\n",
    );
    h.ok(&["install", "cred", "--start", "--wait"]);
    assert!(h.wait_for(Duration::from_secs(10), "test -s /tmp/cred.got"));
    assert_eq!(h.sh_out("cat /tmp/cred.got"), "s3cret");
    assert_eq!(h.sh_out("stat -c %U /tmp/cred.got"), "alice");
    assert!(
        !h.succeeds("grep -rq s3cret /etc/systemd /var/lib/svc-any"),
        "the secret is in a file svc-any wrote"
    );
    h.ok(&["uninstall", "cred"]);
}
