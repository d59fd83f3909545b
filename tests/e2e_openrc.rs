//! svc-any against real OpenRC 0.45 (Debian's openrc under sysvinit, PID 1 of a container):
//! arguments, environment and working directory through OpenRC's eval, per instance. The life
//! of a service is the conformance suite's (tests/conformance/).

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe;
use common::text;

use common::probe::SHARE;

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
