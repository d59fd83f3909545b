//! Every verb's `launchctl` command sequence, against a recording stand-in for `launchctl`
//! (tests/fixtures/launchd/launchctl). launchd cannot run on Linux, so this is the one place a
//! stand-in is right: it records each call and answers `print` with samples of launchd's own
//! output for running, stopped, crashed, misconfigured and throttled jobs.
//!
//! The host is a fake macOS (a tree with SystemVersion.plist and /dev/console) that detection
//! reads through `SVC_ANY_PROBE_ROOT`, so svc-any selects launchd and drives it live.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

const LABEL: &str = "org.svc-any.web";

struct FakeMac {
    dir: PathBuf,
}

impl FakeMac {
    fn new(name: &str) -> FakeMac {
        let dir = scratch(name);
        let host = dir.join("host");
        std::fs::create_dir_all(host.join("System/Library/CoreServices")).unwrap();
        std::fs::write(
            host.join("System/Library/CoreServices/SystemVersion.plist"),
            "<plist version=\"1.0\"><dict><key>ProductName</key><string>macOS</string></dict></plist>\n",
        )
        .unwrap();
        std::fs::create_dir_all(host.join("dev")).unwrap();
        // The console belongs to the user running the tests: agents go to its gui domain.
        std::fs::write(host.join("dev/console"), "").unwrap();
        for sub in ["home", "state", "launchctl"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        std::fs::write(
            dir.join("web.toml"),
            "exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"8080\"]\nreload_signal = \"HUP\"\n",
        )
        .unwrap();
        FakeMac { dir }
    }

    fn home(&self) -> PathBuf {
        self.dir.join("home")
    }

    fn uid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn svc(&self, args: &[&str]) -> Output {
        let stand_in = fixtures().join("launchd");
        let path = format!(
            "{}:{}",
            stand_in.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        run(svc_any()
            .current_dir(&self.dir)
            .env("HOME", self.home())
            .env("SVC_ANY_PROBE_ROOT", self.dir.join("host"))
            .env("SVC_ANY_STATE_DIR", self.dir.join("state"))
            .env("PATH", path)
            .env("LAUNCHCTL_LOG", self.dir.join("calls.log"))
            .env("LAUNCHCTL_STATE", self.dir.join("launchctl"))
            .arg("--user")
            .args(args))
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.svc(args);
        assert!(
            out.status.success(),
            "svc-any {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// The launchctl calls since the last look, with this user's domain written `DOMAIN`.
    fn calls(&self) -> Vec<String> {
        let log = self.dir.join("calls.log");
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::write(&log, "").unwrap();
        let domain = format!("gui/{}", FakeMac::uid());
        calls
            .lines()
            .map(|l| {
                l.replace(&domain, "DOMAIN")
                    .replace(&self.home().display().to_string(), "~")
            })
            .collect()
    }

    /// Makes the stand-in answer `print` for the job with another sample.
    fn job_becomes(&self, sample: &str) {
        std::fs::write(
            self.dir.join("launchctl").join(format!("{LABEL}.loaded")),
            format!("{sample}\n"),
        )
        .unwrap();
    }

    fn status(&self) -> (i32, serde_json::Value) {
        let out = self.svc(&["status", "web", "--json"]);
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("status --json: {e}: {}", text(&out.stderr)));
        (out.status.code().unwrap(), json["services"][0].clone())
    }

    fn plist(&self) -> PathBuf {
        self.home()
            .join(format!("Library/LaunchAgents/{LABEL}.plist"))
    }
}

fn calls(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn every_verb_sends_the_modern_launchctl_commands() {
    let mac = FakeMac::new("launchd-verbs");
    let detected = mac.ok(&["detect"]);
    assert!(detected.starts_with("launchd"), "{detected}");

    mac.ok(&["install", "-f", "web.toml", "--start"]);
    assert_eq!(
        mac.calls(),
        calls(&[
            "enable DOMAIN/org.svc-any.web",
            "print DOMAIN/org.svc-any.web",
            "bootstrap DOMAIN ~/Library/LaunchAgents/org.svc-any.web.plist",
        ])
    );
    assert!(mac.plist().is_file());
    assert_eq!(
        std::fs::metadata(mac.plist()).unwrap().permissions().mode() & 0o777,
        0o644
    );
    // launchd opens the log but does not make its directory: svc-any does, before bootstrap.
    assert!(mac.home().join("Library/Logs/svc-any").is_dir());

    let (code, status) = mac.status();
    assert_eq!(code, 0);
    assert_eq!(status["state"], "running");
    assert_eq!(status["pid"], 4242);
    assert_eq!(status["restarts"], 2, "runs = 3: two restarts");
    assert_eq!(status["enabled"], true);
    assert_eq!(status["unit"], LABEL);
    assert_eq!(
        mac.calls(),
        calls(&["print-disabled DOMAIN", "print DOMAIN/org.svc-any.web"])
    );

    // Stop is bootout: a kill would only be a KeepAlive restart.
    // (The status first: stop then checks that the process it reported is gone.)
    mac.ok(&["stop", "web"]);
    assert_eq!(
        mac.calls(),
        calls(&[
            "print-disabled DOMAIN",
            "print DOMAIN/org.svc-any.web",
            "print DOMAIN/org.svc-any.web",
            "bootout DOMAIN/org.svc-any.web"
        ])
    );
    let (code, status) = mac.status();
    assert_eq!((code, status["state"].as_str()), (3, Some("stopped")));
    mac.calls();

    mac.ok(&["start", "web"]);
    assert_eq!(
        mac.calls(),
        calls(&[
            "print DOMAIN/org.svc-any.web",
            "bootstrap DOMAIN ~/Library/LaunchAgents/org.svc-any.web.plist",
        ])
    );

    mac.ok(&["restart", "web"]);
    assert_eq!(
        mac.calls(),
        calls(&[
            "print DOMAIN/org.svc-any.web",
            "kickstart -k DOMAIN/org.svc-any.web"
        ])
    );

    mac.ok(&["reload", "web"]);
    assert_eq!(mac.calls(), calls(&["kill SIGHUP DOMAIN/org.svc-any.web"]));

    mac.ok(&["disable", "web"]);
    assert_eq!(mac.calls(), calls(&["disable DOMAIN/org.svc-any.web"]));
    assert_eq!(mac.status().1["enabled"], false);
    mac.calls();
    mac.ok(&["enable", "web"]);
    assert_eq!(mac.calls(), calls(&["enable DOMAIN/org.svc-any.web"]));

    std::fs::write(
        mac.home().join(format!("Library/Logs/svc-any/{LABEL}.log")),
        "one\ntwo\nthree\n",
    )
    .unwrap();
    assert_eq!(mac.ok(&["logs", "web", "-n", "2"]), "two\nthree\n");

    mac.ok(&["uninstall", "web"]);
    assert_eq!(
        mac.calls(),
        calls(&[
            "print-disabled DOMAIN",
            "print DOMAIN/org.svc-any.web",
            "print DOMAIN/org.svc-any.web",
            "bootout DOMAIN/org.svc-any.web",
            "disable DOMAIN/org.svc-any.web",
        ])
    );
    assert!(!mac.plist().exists());
}

#[test]
fn a_changed_definition_is_booted_out_and_in_again() {
    let mac = FakeMac::new("launchd-change");
    mac.ok(&["install", "-f", "web.toml", "--start"]);
    mac.calls();
    // Same definition: nothing to tell launchd.
    mac.ok(&["install", "-f", "web.toml"]);
    assert_eq!(mac.calls(), calls(&["enable DOMAIN/org.svc-any.web"]));
    std::fs::write(
        mac.dir.join("web.toml"),
        "exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"9090\"]\n",
    )
    .unwrap();
    mac.ok(&["install", "-f", "web.toml"]);
    // kickstart -k would restart the old definition: launchd reads a plist when it loads it.
    assert_eq!(
        mac.calls(),
        calls(&[
            "print-disabled DOMAIN",
            "print DOMAIN/org.svc-any.web",
            "enable DOMAIN/org.svc-any.web",
            "print DOMAIN/org.svc-any.web",
            "bootout DOMAIN/org.svc-any.web",
            "bootstrap DOMAIN ~/Library/LaunchAgents/org.svc-any.web.plist",
        ])
    );
    assert!(std::fs::read_to_string(mac.plist())
        .unwrap()
        .contains("<string>9090</string>"));
}

#[test]
fn not_enabling_records_a_disable_override() {
    let mac = FakeMac::new("launchd-no-enable");
    mac.ok(&["install", "-f", "web.toml", "--no-enable"]);
    // launchd loads every plist in its directory at boot unless told otherwise.
    assert_eq!(mac.calls(), calls(&["disable DOMAIN/org.svc-any.web"]));
    let (code, status) = mac.status();
    assert_eq!((code, status["enabled"].as_bool()), (3, Some(false)));
}

#[test]
fn printed_states_map_to_the_one_status_model() {
    let mac = FakeMac::new("launchd-states");
    mac.ok(&["install", "-f", "web.toml", "--start"]);
    for (sample, state, lsb, last_exit) in [
        (
            "crashed",
            "dead",
            1,
            serde_json::json!({"how": "killed", "signal": "SEGV"}),
        ),
        (
            "config-error",
            "dead",
            1,
            serde_json::json!({"how": "exited", "code": 78}),
        ),
        (
            "stopped",
            "stopped",
            3,
            serde_json::json!({"how": "exited", "code": 0}),
        ),
        (
            "throttled",
            "starting",
            4,
            serde_json::json!({"how": "exited", "code": 1}),
        ),
        (
            "running",
            "running",
            0,
            serde_json::json!({"how": "killed", "signal": "KILL"}),
        ),
    ] {
        mac.job_becomes(sample);
        let (code, status) = mac.status();
        assert_eq!(status["state"], state, "{sample}: {status}");
        assert_eq!(code, lsb, "{sample}");
        assert_eq!(status["last_exit"], last_exit, "{sample}: {status}");
    }
}

#[test]
fn agents_without_a_console_session_go_to_the_user_domain() {
    let mac = FakeMac::new("launchd-user-domain");
    let console = mac.dir.join("host/dev/console");
    std::os::unix::fs::chown(&console, Some(FakeMac::uid() + 1), None).unwrap();
    mac.ok(&["install", "-f", "web.toml", "--start"]);
    let uid = FakeMac::uid();
    let calls = mac.calls();
    assert_eq!(
        calls.last().map(String::as_str),
        Some(format!("bootstrap user/{uid} ~/Library/LaunchAgents/org.svc-any.web.plist").as_str()),
        "{calls:?}"
    );
}

#[test]
fn printed_samples_parse_to_their_fields() {
    use svc_any::backends::launchd::parse_print;
    use svc_any::model::status::LastExit;
    let sample = |name: &str| {
        std::fs::read_to_string(Path::new(&fixtures()).join(format!("launchd/print-{name}.txt")))
            .unwrap()
    };
    let running = parse_print(&sample("running"));
    assert_eq!(running.state, "running");
    assert_eq!(running.pid, Some(4242));
    assert_eq!(running.runs, Some(3));
    // Nested blocks (coalitions) have their own `state =` lines; only the job's counts.
    let crashed = parse_print(&sample("crashed"));
    assert_eq!(crashed.state, "not running");
    assert_eq!(crashed.pid, None);
    assert_eq!(
        crashed.last_exit,
        Some(LastExit::Killed {
            signal: "SEGV".into()
        })
    );
    assert_eq!(
        parse_print(&sample("config-error")).last_exit,
        Some(LastExit::Exited { code: 78 })
    );
    assert_eq!(parse_print(&sample("throttled")).state, "spawn scheduled");
}
