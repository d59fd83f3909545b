//! The manager's own supervisor of a service dies (OpenRC's supervise-daemon, svc-any's
//! supervisor under SysV and the builtin, a runsv or supervise of the seeds' managers) while
//! the service runs: `status` never says `stopped` or `dead` while a process of the service
//! still runs, and `stop` verifies, as the daemontools seed's `svcstop` did, that nothing of it
//! is left (killing what the manager lost itself) before it says stopped.

use std::time::Duration;

use crate::common::backend::Backend;
use crate::common::host::Host;
use crate::common::text;

const PORT: u16 = 18461;

pub fn killed(h: &Host, b: &dyn Backend) {
    let name = b.name();
    let def = format!(
        "exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"{PORT}\", \"--bind\", \"127.0.0.1\"]\n\
         stop_timeout = \"3s\"\n[health]\ntcp = \"127.0.0.1:{PORT}\"\n"
    );
    h.define("kept", &def);
    h.ok(&["install", "kept", "--start", "--wait"]);
    let Some(keeper) = b.keeper(h, "kept") else {
        eprintln!("keeper, {name}: PID 1 itself supervises the service: nothing to kill");
        h.ok(&["uninstall", "kept"]);
        h.undefine("kept");
        return;
    };
    let (_, s) = h.status("kept");
    let pid = s["pid"].as_u64().expect("a running service has a pid");
    h.sh_out(&format!("kill -9 {keeper}"));
    assert!(
        h.wait_for(
            Duration::from_secs(5),
            &format!("! kill -0 {keeper} 2>/dev/null")
        ),
        "{name}: its supervisor {keeper} survived kill -9"
    );

    // Whatever the manager lost, a process that runs is not stopped.
    let runs = h.succeeds(&format!("kill -0 {pid} 2>/dev/null"));
    let (code, s) = h.status("kept");
    let state = s["state"].as_str().unwrap_or_default().to_string();
    if runs {
        assert!(
            !matches!(state.as_str(), "stopped" | "dead" | "not-installed"),
            "{name}: status says {state} (exit {code}) while pid {pid} serves"
        );
    }

    let out = h.svc_any(&["stop", "kept"]);
    let stderr = text(&out.stderr);
    let left = h.processes(&format!("^/usr/bin/python3 -m http.server {PORT} "));
    assert_eq!(
        left,
        0,
        "{name}: after stop (exit {:?}: {stderr}) {left} process(es) still run",
        out.status.code()
    );
    assert!(!h.listening(PORT), "{name}: port {PORT} still answers");
    assert!(out.status.success(), "{name}: stop failed: {stderr}");
    let (code, s) = h.status("kept");
    let after = (code, s["state"].as_str());
    assert!(
        after == (3, Some("stopped"))
            || (b.keeper_is_the_manager() && after == (4, Some("unknown"))),
        "{name}: after stop: {after:?}"
    );
    eprintln!(
        "keeper, {name}: supervisor {keeper} killed, the service {} it, status said {state}; stop left nothing",
        if runs { "outlived" } else { "died with" }
    );
    h.ok(&["uninstall", "kept"]);
    h.undefine("kept");
}
