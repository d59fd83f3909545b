//! svc-any against real SysV init (sysvinit-core as PID 1 of a container, Debian's update-rc.d).
//! SysV does not supervise: the LSB script hands the service to svc-any's own supervisor, so
//! kill -9 must still end in a restart. Assertions use `service`, the script itself and rc?.d.

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe;

use common::probe::SHARE;

fn lsb_status(c: &Container, name: &str) -> i32 {
    c.exec(&["service", name, "status"])
        .status
        .code()
        .unwrap_or(-1)
}

fn main_pid(c: &Container, name: &str) -> String {
    let out = c.svc_any(&["status", name, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["services"][0]["pid"].to_string()
}

fn snapshot(c: &Container) -> String {
    c.sh_out("find /etc/init.d /etc/rc0.d /etc/rc1.d /etc/rc2.d /etc/rc3.d /etc/rc4.d /etc/rc5.d /etc/rc6.d /var/lib/svc-any -printf '%p %y %m %T@ %l\\n' 2>/dev/null | sort")
}

#[test]
fn http_server_lifecycle_on_real_sysvinit() {
    if !enabled("http_server_lifecycle_on_real_sysvinit") {
        return;
    }
    let c = Container::boot("sysv", "life");
    assert_eq!(c.sh_out("svc-any detect"), "sysv");
    let before_install = snapshot(&c);

    c.svc_any_ok(&[
        "install",
        "web",
        "-f",
        &format!("{SHARE}/e2e/web.toml"),
        "--start",
        "--wait",
    ]);
    assert!(
        c.succeeds("ls /etc/rc2.d/S*web && ls /etc/rc0.d/K*web"),
        "update-rc.d made the links"
    );
    assert!(c.succeeds("sh -n /etc/init.d/web && dash -n /etc/init.d/web"));
    assert_eq!(lsb_status(&c, "web"), 0, "service web status");
    assert_eq!(
        c.exec(&["/etc/init.d/web", "status"]).status.code(),
        Some(0)
    );
    assert!(c.http_ok(18080));
    let out = c.svc_any(&["status", "web", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["services"][0]["state"], "running");
    assert_eq!(json["services"][0]["backend"], "sysv");
    assert_eq!(json["services"][0]["enabled"], true);

    // SysV itself would leave it dead; the supervisor restarts it
    let pid = main_pid(&c, "web");
    c.sh_out(&format!("kill -9 {pid}"));
    assert!(c.wait_http(18080, Duration::from_secs(10)));
    assert_ne!(main_pid(&c, "web"), pid, "restarted after kill -9");

    // stop through the LSB script: LSB 3 from the script, service and svc-any
    assert_eq!(c.exec(&["/etc/init.d/web", "stop"]).status.code(), Some(0));
    assert_eq!(lsb_status(&c, "web"), 3);
    assert_eq!(c.svc_any(&["status", "web"]).status.code(), Some(3));
    assert!(!c.http_ok(18080));

    // reboot: sysvinit runs the S link, the script starts the supervisor and the service
    assert_eq!(c.exec(&["service", "web", "start"]).status.code(), Some(0));
    c.reboot();
    assert!(
        c.wait_for(Duration::from_secs(20), "service web status >/dev/null"),
        "not back after reboot"
    );
    assert!(c.wait_http(18080, Duration::from_secs(10)));

    // install again: nothing rewritten, no restart
    let pid = main_pid(&c, "web");
    let before = snapshot(&c);
    assert!(c
        .svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/web.toml")])
        .status
        .success());
    assert_eq!(snapshot(&c), before, "the second install touched files");
    assert_eq!(main_pid(&c, "web"), pid);

    // bad definition: exit 2, nothing written
    let out = c.svc_any(&["install", "web", "-f", &format!("{SHARE}/e2e/bad.toml")]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(snapshot(&c), before);

    // uninstall: no script, no rc link, no definition, no process
    assert!(c.svc_any(&["uninstall", "web"]).status.success());
    assert!(!c.succeeds("ls /etc/init.d/web /etc/rc?.d/*web /var/lib/svc-any/builtin/web.toml 2>/dev/null | grep -q ."));
    assert!(!c.succeeds("pgrep -f '[h]ttp.server'"));
    // insserv renumbers other services' links and rewrites its .depend files when the order
    // changes: its bookkeeping, not svc-any's files. Compare names without sequence numbers.
    let entries = |s: &str| {
        let mut names: Vec<String> = s
            .lines()
            .filter(|l| !l.contains(" d ") && !l.contains("/.depend."))
            .map(|l| {
                let path = l.split(' ').next().unwrap();
                let (dir, file) = path.rsplit_once('/').unwrap();
                let file = match file.as_bytes() {
                    [k @ (b'S' | b'K'), a, b, ..] if a.is_ascii_digit() && b.is_ascii_digit() => {
                        format!("{}{}", *k as char, &file[3..])
                    }
                    _ => file.to_string(),
                };
                format!("{dir}/{file}")
            })
            .collect();
        names.sort();
        names
    };
    assert_eq!(
        entries(&snapshot(&c)),
        entries(&before_install),
        "uninstall left files behind"
    );
}

#[test]
fn arguments_arrive_exactly_and_a_dead_service_reads_lsb_1() {
    if !enabled("arguments_arrive_exactly_and_a_dead_service_reads_lsb_1") {
        return;
    }
    let c = Container::boot("sysv", "argv");
    let adversarial = probe::adversarial();
    let odd_dir = "/tmp/dir with  'quotes' \"dq\" $HOME *";
    c.exec(&["mkdir", "-p", odd_dir]);
    let mut extra = toml::toml! { user = "alice"
    restart = "no" };
    extra.insert("working_dir".into(), odd_dir.into());
    probe::put_definition(
        &c,
        "probe",
        &adversarial.probe_definition("/tmp/probe.json", extra),
    );
    c.svc_any_ok(&["install", "probe", "--start"]);
    assert!(c.wait_for(Duration::from_secs(10), "test -s /tmp/probe.json"));
    let record = probe::record(&c, "/tmp/probe.json");
    adversarial.check("sysv", &record);
    assert_eq!(record["uid"], 1000);
    assert_eq!(
        probe::bytes(&record["cwd"]),
        odd_dir.as_bytes(),
        "working_dir arrives exactly"
    );
    // restart = "no": killed, it stays dead, and LSB says 1 (dead), not 3 (stopped)
    let pid = main_pid(&c, "probe");
    c.sh_out(&format!("kill -9 {pid}"));
    assert!(
        c.wait_for(
            Duration::from_secs(5),
            "service probe status >/dev/null; [ $? = 1 ]"
        ),
        "LSB status 1 after a kill"
    );
    assert!(c.svc_any(&["uninstall", "probe"]).status.success());
}
