//! svc-any against real systemd 252, running as PID 1 of a container.
//!
//! Each test boots its own container (tests/harness/box.sh) from a debootstrapped Debian tree,
//! with the freshly built svc-any bound in at /usr/local/bin/svc-any and tests/fixtures at
//! /opt/svc-any-share. Assertions use systemd's own tools (systemctl, journalctl), not svc-any's
//! word for it.

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe;
use common::text;

use common::probe::SHARE;

fn status_json(c: &Container, name: &str) -> (i32, serde_json::Value) {
    let out = c.svc_any(&["status", name, "--json"]);
    let json = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("status --json: {e}\n{}", text(&out.stdout)));
    (out.status.code().unwrap_or(-1), json)
}

fn prop(c: &Container, unit: &str, property: &str) -> String {
    c.sh_out(&format!("systemctl show -p {property} --value {unit}"))
}

/// How many times PID 1 has reloaded its configuration since boot.
fn reload_count(c: &Container) -> usize {
    c.sh_out("journalctl -b _PID=1 -o cat --no-pager | grep -c '^Reloading' || true")
        .parse()
        .unwrap_or(0)
}

/// Every file svc-any could touch, with mtimes: equal listings mean nothing changed.
fn system_snapshot(c: &Container) -> String {
    c.sh_out(
        "find /etc/systemd/system /var/lib/svc-any -printf '%p %y %m %T@ %l\\n' 2>/dev/null | sort",
    )
}

#[test]
fn http_server_lifecycle_on_real_systemd() {
    if !enabled("http_server_lifecycle_on_real_systemd") {
        return;
    }
    let c = Container::boot("systemd", "life");
    assert_eq!(
        c.sh_out("cat /proc/1/comm"),
        "systemd",
        "PID 1 of the container is systemd"
    );
    assert_eq!(c.sh_out("svc-any detect"), "systemd");

    // install --start --wait: returns once the health check answers
    let out = c.svc_any_ok(&[
        "install",
        "web",
        "-f",
        &format!("{SHARE}/e2e/web.toml"),
        "--start",
        "--wait",
    ]);
    assert!(out.contains("web is healthy"), "{}", out);
    assert_eq!(c.sh_out("systemctl is-active web"), "active");
    assert_eq!(c.sh_out("systemctl is-enabled web"), "enabled");
    assert!(c.http_ok(18080), "the port answers");

    // status: exit 0 and the JSON agrees with systemd
    let (code, json) = status_json(&c, "web");
    assert_eq!(code, 0, "{json}");
    let s = &json["services"][0];
    assert_eq!(s["name"], "web");
    assert_eq!(s["state"], "running");
    assert_eq!(s["backend"], "systemd");
    assert_eq!(s["enabled"], true);
    let main_pid = prop(&c, "web", "MainPID");
    assert_eq!(s["pid"].to_string(), main_pid);
    assert_eq!(s["restarts"], 0);

    // kill -9 of the main PID: systemd restarts it (Restart=on-failure)
    c.sh_out(&format!("kill -9 {main_pid}"));
    assert!(
        c.wait_for(Duration::from_secs(10), &format!("p=$(systemctl show -p MainPID --value web); [ \"$p\" != 0 ] && [ \"$p\" != {main_pid} ]")),
        "web was not restarted after kill -9"
    );
    assert!(c.wait_http(18080, Duration::from_secs(10)));
    let (code, json) = status_json(&c, "web");
    assert_eq!(code, 0);
    assert_eq!(json["services"][0]["restarts"], 1);

    // stop: LSB 3, and systemd does not call it failed
    let out = c.svc_any(&["stop", "web"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(c.svc_any(&["status", "web"]).status.code(), Some(3));
    assert_eq!(prop(&c, "web", "ActiveState"), "inactive");
    assert_eq!(prop(&c, "web", "Result"), "success");
    assert!(!c.http_ok(18080));
    // systemd resets the exit status when a process starts, so it is known once stopped
    let (_, json) = status_json(&c, "web");
    assert_eq!(json["services"][0]["state"], "stopped");
    assert_eq!(json["services"][0]["last_exit"]["how"], "killed");
    assert_eq!(json["services"][0]["last_exit"]["signal"], "TERM");

    // a process that exits 143 on TERM, as a JVM does: a clean stop, not a failure
    c.svc_any_ok(&[
        "install",
        "jvm",
        "-f",
        &format!("{SHARE}/e2e/jvm.toml"),
        "--start",
        "--wait=10",
    ]);
    assert!(c.svc_any(&["stop", "jvm"]).status.success());
    assert_eq!(
        prop(&c, "jvm", "ExecMainStatus"),
        "143",
        "the probe really exited 143"
    );
    assert_eq!(
        prop(&c, "jvm", "ActiveState"),
        "inactive",
        "143 after TERM must not be failed"
    );
    assert_eq!(c.svc_any(&["status", "jvm"]).status.code(), Some(3));
    let (_, json) = status_json(&c, "jvm");
    assert_eq!(json["services"][0]["last_exit"]["how"], "exited");
    assert_eq!(json["services"][0]["last_exit"]["code"], 143);

    // reload sends reload_signal; a service without one is refused, not guessed at
    assert!(c.svc_any(&["start", "jvm", "--wait=10"]).status.success());
    let out = c.svc_any(&["reload", "jvm"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        c.wait_for(Duration::from_secs(5), "test -e /run/jvm-reloaded"),
        "HUP did not arrive"
    );
    let out = c.svc_any(&["reload", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("reload_signal"),
        "{}",
        text(&out.stderr)
    );
    assert!(c.svc_any(&["stop", "jvm"]).status.success());

    // start again, then reboot the container: the enabled service comes back by itself
    assert!(c.svc_any(&["start", "web", "--wait"]).status.success());
    c.reboot();
    assert!(
        c.wait_for(Duration::from_secs(20), "systemctl is-active -q web"),
        "web is not back after reboot"
    );
    assert!(c.wait_http(18080, Duration::from_secs(10)));
    assert_eq!(status_json(&c, "web").0, 0);

    // restart gives a new process; disable and enable touch only the boot link
    let before_restart = prop(&c, "web", "MainPID");
    assert!(c.svc_any(&["restart", "web", "--wait"]).status.success());
    assert_ne!(prop(&c, "web", "MainPID"), before_restart);
    assert!(c.svc_any(&["disable", "web"]).status.success());
    assert_eq!(c.sh("systemctl is-enabled web").stdout, b"disabled\n");
    assert_eq!(
        prop(&c, "web", "ActiveState"),
        "active",
        "disable does not stop"
    );
    assert!(c.svc_any(&["enable", "web"]).status.success());
    assert_eq!(c.sh_out("systemctl is-enabled web"), "enabled");

    // logs come from the journal: the server logged the health checks' requests
    let out = c.svc_any(&["logs", "web", "-n", "50"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("\"GET / HTTP/1.0\" 200"),
        "{}",
        text(&out.stdout)
    );

    // install again: nothing rewritten, no daemon-reload, no restart
    let pid = prop(&c, "web", "MainPID");
    let before = system_snapshot(&c);
    let reloads = reload_count(&c);
    let out = c.svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/web.toml")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("unchanged /etc/systemd/system/web.service"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        system_snapshot(&c),
        before,
        "the second install touched files"
    );
    assert_eq!(
        reload_count(&c),
        reloads,
        "the second install reloaded systemd"
    );
    assert_eq!(
        prop(&c, "web", "MainPID"),
        pid,
        "the second install restarted the service"
    );

    // a bad definition: exit 2, nothing written
    let out = c.svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/bad.toml")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("`restart`"));
    assert_eq!(
        system_snapshot(&c),
        before,
        "a rejected definition changed files"
    );

    // list finds both by their marker; status of everything
    let listed = c.sh_out("svc-any list");
    assert!(listed.contains("web") && listed.contains("jvm"), "{listed}");

    // uninstall: no unit, no link, no record, no process
    let out = c.svc_any(&["uninstall", "web", "jvm"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!c.succeeds("test -e /etc/systemd/system/web.service"));
    assert!(!c.succeeds("test -e /etc/systemd/system/multi-user.target.wants/web.service"));
    assert!(!c.succeeds("test -e /etc/systemd/system/jvm.service"));
    assert!(!c.succeeds("ls /var/lib/svc-any/services/*.json"));
    assert!(!c.succeeds("systemctl cat web"));
    // The bracket keeps pgrep from matching the shell that runs it.
    assert!(!c.succeeds("pgrep -f '[h]ttp.server'"));
    assert_eq!(c.svc_any(&["status", "web"]).status.code(), Some(4));
}

#[test]
fn arguments_and_environment_arrive_byte_for_byte() {
    if !enabled("arguments_and_environment_arrive_byte_for_byte") {
        return;
    }
    let c = Container::boot("systemd", "argv");
    let adversarial = probe::adversarial();
    let extra = toml::toml! { working_dir = "/tmp"
    [limits]
    nofile = 4242 };
    probe::put_definition(
        &c,
        "probe",
        &adversarial.probe_definition("/run/probe.json", extra),
    );
    c.svc_any_ok(&["install", "probe", "--start", "--wait"]);
    assert!(c.wait_for(Duration::from_secs(10), "test -s /run/probe.json"));
    let record = probe::record(&c, "/run/probe.json");
    adversarial.check("systemd", &record);
    assert_eq!(probe::bytes(&record["cwd"]), b"/tmp");
    assert_eq!(record["nofile"], 4242);
    assert!(c.svc_any(&["uninstall", "probe"]).status.success());
}

#[test]
fn user_level_service_for_a_non_root_user() {
    if !enabled("user_level_service_for_a_non_root_user") {
        return;
    }
    let c = Container::boot("systemd", "user");
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
    let c = Container::boot("systemd", "change");
    let server = |port: u16, extra: &str| {
        format!("exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\"]\n{extra}")
    };

    // a changed definition is rewritten, systemd reloaded, and the running service restarted
    probe::put_definition(
        &c,
        "chg",
        &server(
            18090,
            "env = { V = \"1\" }\n[health]\ntcp = \"127.0.0.1:18090\"\n",
        ),
    );
    assert!(c
        .svc_any(&["install", "chg", "--start", "--wait"])
        .status
        .success());
    let pid = prop(&c, "chg", "MainPID");
    let reloads = reload_count(&c);
    probe::put_definition(
        &c,
        "chg",
        &server(
            18090,
            "env = { V = \"2\" }\n[health]\ntcp = \"127.0.0.1:18090\"\n",
        ),
    );
    let out = c.svc_any(&["install", "chg"]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("updated /etc/systemd/system/chg.service"),
        "{stdout}"
    );
    assert!(
        stdout.contains("restarted chg (its definition changed)"),
        "{stdout}"
    );
    assert_eq!(reload_count(&c), reloads + 1, "exactly one daemon-reload");
    assert_ne!(prop(&c, "chg", "MainPID"), pid);
    assert!(c
        .sh_out("systemctl show -p Environment --value chg")
        .contains("V=2"));

    // ... but a stopped one stays stopped
    assert!(c.svc_any(&["stop", "chg"]).status.success());
    probe::put_definition(&c, "chg", &server(18090, "env = { V = \"3\" }\n"));
    let out = c.svc_any(&["install", "chg"]);
    assert!(
        !text(&out.stdout).contains("restarted"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(prop(&c, "chg", "ActiveState"), "inactive");

    // --wait with a health check that never passes: exit 1, the last log lines, stopped
    probe::put_definition(
        &c,
        "never",
        &server(18095, "[health]\ntcp = \"127.0.0.1:18096\"\n"),
    );
    let out = c.svc_any(&["install", "never", "--start", "--wait=3"]);
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
    assert_eq!(prop(&c, "never", "ActiveState"), "inactive");

    // instances: one template, one unit per instance, all in one status
    probe::put_definition(
        &c,
        "inst",
        &server(0, "instances = [\"1\", \"2\"]\n").replace("\"0\"", "\"1809{instance}\""),
    );
    c.svc_any_ok(&["install", "inst", "--start", "--wait"]);
    assert!(c.succeeds("test -f /etc/systemd/system/inst@.service"));
    for i in ["1", "2"] {
        assert_eq!(c.sh_out(&format!("systemctl is-active inst@{i}")), "active");
        assert_eq!(
            c.sh_out(&format!("systemctl is-enabled inst@{i}")),
            "enabled"
        );
        assert!(c.http_ok(format!("1809{i}").parse().unwrap()));
    }
    let (code, json) = status_json(&c, "inst");
    assert_eq!(code, 0);
    let instances: Vec<&str> = json["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["instance"].as_str().unwrap())
        .collect();
    assert_eq!(instances, ["1", "2"]);
    assert!(c
        .svc_any(&["uninstall", "inst", "chg", "never"])
        .status
        .success());
    assert!(!c.succeeds("ls /etc/systemd/system/multi-user.target.wants/inst@*"));
    assert!(!c.succeeds("pgrep -f '[h]ttp.server'"));
}
