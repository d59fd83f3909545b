//! svc-any against real SysV init (sysvinit-core as PID 1 of a container, Debian's update-rc.d):
//! arguments byte for byte, and LSB status 1 for a dead service. The life of a service is the
//! conformance suite's (tests/conformance/).

mod common;

use std::time::Duration;

use common::container::{enabled, Container};
use common::probe;

use common::probe::SHARE;

fn main_pid(c: &Container, name: &str) -> String {
    let out = c.svc_any(&["status", name, "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    json["services"][0]["pid"].to_string()
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
