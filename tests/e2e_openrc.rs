//! svc-any against real OpenRC 0.45 (Debian's openrc under sysvinit, PID 1 of a container).
//! Assertions use OpenRC's own tools (rc-service, rc-update) and its state files.

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe;
use common::text;

use common::probe::SHARE;

fn rc_status(c: &Container, unit: &str) -> i32 {
    c.exec(&["rc-service", unit, "status"])
        .status
        .code()
        .unwrap_or(-1)
}

fn child_pid(c: &Container, unit: &str) -> String {
    c.sh_out(&format!(
        "cat /run/openrc/options/{unit}/child_pid 2>/dev/null || true"
    ))
}

fn snapshot(c: &Container) -> String {
    c.sh_out("find /etc/init.d /etc/conf.d /etc/runlevels /var/lib/svc-any -printf '%p %y %m %T@ %l\\n' 2>/dev/null | sort")
}

#[test]
fn http_server_lifecycle_on_real_openrc() {
    if !enabled("http_server_lifecycle_on_real_openrc") {
        return;
    }
    let c = Container::boot("openrc", "life");
    assert_eq!(c.sh_out("svc-any detect"), "openrc");
    let before_install = snapshot(&c);

    let out = c.svc_any_ok(&[
        "install",
        "web",
        "-f",
        &format!("{SHARE}/e2e/web.toml"),
        "--start",
        "--wait",
    ]);
    assert!(out.contains("web is healthy"), "{}", out);
    assert_eq!(rc_status(&c, "web"), 0, "rc-service says started");
    assert!(
        c.sh_out("rc-update show default").contains("web"),
        "enabled in the default runlevel"
    );
    assert!(c.http_ok(18080));
    assert!(c.succeeds("sh -n /etc/init.d/web && dash -n /etc/init.d/web"));

    let out = c.svc_any(&["status", "web", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = child_pid(&c, "web");
    assert_eq!(json["services"][0]["state"], "running");
    assert_eq!(json["services"][0]["pid"].to_string(), pid);
    assert_eq!(json["services"][0]["enabled"], true);

    // kill -9: supervise-daemon respawns it
    c.sh_out(&format!("kill -9 {pid}"));
    assert!(
        c.wait_for(Duration::from_secs(10), &format!("p=$(cat /run/openrc/options/web/child_pid); [ -n \"$p\" ] && [ \"$p\" != {pid} ] && kill -0 $p")),
        "not respawned"
    );
    assert!(c.wait_http(18080, Duration::from_secs(10)));

    // stop: LSB 3 from svc-any and from rc-service; the port is closed
    assert!(c.svc_any(&["stop", "web"]).status.success());
    assert_eq!(c.svc_any(&["status", "web"]).status.code(), Some(3));
    assert_eq!(rc_status(&c, "web"), 3);
    assert!(!c.http_ok(18080));

    // reboot: the enabled service is started by OpenRC at boot
    assert!(c.svc_any(&["start", "web", "--wait"]).status.success());
    c.reboot();
    assert!(
        c.wait_for(Duration::from_secs(20), "rc-service web status >/dev/null"),
        "not back after reboot"
    );
    assert!(c.wait_http(18080, Duration::from_secs(10)));

    // install again: nothing rewritten, no restart
    let pid = child_pid(&c, "web");
    let before = snapshot(&c);
    let out = c.svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/web.toml")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(snapshot(&c), before, "the second install touched files");
    assert_eq!(
        child_pid(&c, "web"),
        pid,
        "the second install restarted the service"
    );

    // bad definition: exit 2, nothing written
    let out = c.svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/bad.toml")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(&c), before);

    // uninstall: no script, no conf.d, no runlevel link, no process
    assert!(c.svc_any(&["uninstall", "web"]).status.success());
    assert!(!c.succeeds(
        "test -e /etc/init.d/web || test -e /etc/conf.d/web || test -e /etc/runlevels/default/web"
    ));
    assert!(!c.succeeds("pgrep -f '[h]ttp.server'"));
    let after = snapshot(&c);
    let files = |s: &str| {
        s.lines()
            .filter(|l| !l.contains(" d "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        files(&after),
        files(&before_install),
        "uninstall left files behind"
    );
}

#[test]
fn arguments_environment_and_instances_on_real_openrc() {
    if !enabled("arguments_environment_and_instances_on_real_openrc") {
        return;
    }
    let c = Container::boot("openrc", "argv");
    let adversarial = probe::adversarial();
    // A path no shell, eval or word splitting may touch.
    let odd_dir = "/tmp/dir with  'quotes' \"dq\" $HOME *";
    c.exec(&["mkdir", "-p", odd_dir]);
    let mut extra = toml::toml! { user = "alice"
    instances = ["1", "2"]
    [limits]
    nofile = 4242 };
    extra.insert("working_dir".into(), odd_dir.into());
    probe::put_definition(
        &c,
        "probe",
        &adversarial.probe_definition("/tmp/probe-{instance}.json", extra),
    );
    c.svc_any_ok(&["install", "probe", "--start"]);
    assert!(
        c.succeeds("test -L /etc/init.d/probe.1 && test -L /etc/init.d/probe.2"),
        "instances are links"
    );
    for i in ["1", "2"] {
        let path = format!("/tmp/probe-{i}.json");
        assert!(
            c.wait_for(Duration::from_secs(10), &format!("test -s {path}")),
            "probe {i} did not run"
        );
        let record = probe::record(&c, &path);
        adversarial.check(&format!("openrc instance {i}"), &record);
        assert_eq!(
            probe::bytes(&record["cwd"]),
            odd_dir.as_bytes(),
            "working_dir arrives exactly"
        );
        assert_eq!(record["uid"], 1000, "runs as alice");
        assert_eq!(record["nofile"], 4242);
    }
    let out = c.svc_any(&["status", "probe", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["services"].as_array().unwrap().len(), 2);
    assert!(c.svc_any(&["uninstall", "probe"]).status.success());
    assert!(!c.succeeds("ls /etc/init.d/probe* /etc/conf.d/probe* /etc/runlevels/default/probe* 2>/dev/null | grep -q ."));
}
