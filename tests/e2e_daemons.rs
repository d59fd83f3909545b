//! Daemons as distributions write their units, on real systemd 252 (PID 1 of a container):
//! `svc-any import` of a unit, then `svc-any install` of the definition, gives the unit systemd
//! shows with the same properties (argv of every command, type, user, dependencies, limits,
//! sandboxing) as the original; and the imported notify daemon starts ready by its own
//! notification, reloads, is restarted after kill -9, stops clean and uninstalls to nothing.
//!
//! The units are svc-any's own (tests/fixtures/units), written with the settings Debian's
//! daemons use; tests/coverage/debian-units.sh measures the import on Debian's real units.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::container::{enabled, Container};
use common::probe::SHARE;
use common::text;

/// The properties compared, as `systemctl show` names them. Not compared: SuccessExitStatus
/// (svc-any always adds 128 + the stop signal) and the flags of the Exec*Ex properties other
/// than ignore-failure and privileged (svc-any writes `:` where no variable is referenced).
const PROPERTIES: &[&str] = &[
    "Description",
    "Documentation",
    "Type",
    "ExecStart",
    "ExecStartPre",
    "ExecStartPost",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
    "ExecStartPreEx",
    "ExecStartPostEx",
    "ExecReloadEx",
    "ExecStopEx",
    "ExecStopPostEx",
    "PIDFile",
    "User",
    "Group",
    "UMask",
    "Environment",
    "EnvironmentFiles",
    "Restart",
    "RestartUSec",
    "RestartPreventExitStatus",
    "TimeoutStopUSec",
    "KillMode",
    "KillSignal",
    "StartLimitBurst",
    "StartLimitIntervalUSec",
    "After",
    "Wants",
    "Requires",
    "Before",
    "Conflicts",
    "RuntimeDirectory",
    "RuntimeDirectoryMode",
    "StateDirectory",
    "LimitNOFILE",
    "LimitNOFILESoft",
    "PrivateTmp",
    "PrivateDevices",
    "ProtectSystem",
    "ProtectHome",
    "ReadWritePaths",
    "NoNewPrivileges",
    "CapabilityBoundingSet",
    "AmbientCapabilities",
    "ProtectKernelTunables",
    "SystemCallFilter",
];

fn show(c: &Container, unit: &str) -> BTreeMap<String, String> {
    let out = c.sh_out(&format!(
        "systemctl show {unit} -p {}",
        PROPERTIES.join(" -p ")
    ));
    let mut shown: BTreeMap<String, String> = BTreeMap::new();
    for (k, v) in out.lines().filter_map(|l| l.split_once('=')) {
        // One line per file, in order.
        if let Some(before) = shown.get_mut(k).filter(|_| k == "EnvironmentFiles") {
            before.push('\n');
            before.push_str(v);
        } else {
            shown.insert(k.to_string(), normalize(k, v));
        }
    }
    shown
}

/// The words of a `systemctl show` list (`"A=a b" B=c`): quoted where they hold blanks.
fn shown_words(value: &str) -> Vec<String> {
    let (mut words, mut word, mut quoted, mut chars) =
        (Vec::new(), String::new(), false, value.chars());
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => word.extend(chars.next()),
            ' ' if !quoted => words.push(std::mem::take(&mut word)),
            c => word.push(c),
        }
    }
    words.push(word);
    words.retain(|w| !w.is_empty());
    words
}

/// svc-any writes a unit's `Environment=` into a file of its own, 0600 and read last (see
/// backends/systemd.rs): checks that file holds exactly the original's variables, then puts
/// the original's view back in `installed` so the other properties compare as they are.
fn env_moved_to_private_file(
    c: &Container,
    name: &str,
    original: &BTreeMap<String, String>,
    installed: &mut BTreeMap<String, String>,
) {
    let Some(env) = original.get("Environment").filter(|e| !e.is_empty()) else {
        return;
    };
    let ours = format!("/var/lib/svc-any/env/{name}.env");
    assert_eq!(
        installed["Environment"], "",
        "{name}: values left in the unit"
    );
    let want: String = shown_words(env)
        .iter()
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            svc_any::dialect::escape::systemd::env_file_line(k, v).unwrap()
        })
        .collect();
    let file = c.sh_out(&format!("stat -c '%U %a' {ours} && grep -v '^#' {ours}"));
    assert_eq!(file, format!("root 600\n{}", want.trim_end()), "{ours}");
    let files = installed.get_mut("EnvironmentFiles").unwrap();
    let last = format!("\n{ours} (ignore_errors=no)");
    assert!(
        files.ends_with(&last),
        "{name}: {ours} is not read last: {files}"
    );
    files.truncate(files.len() - last.len());
    installed.insert("Environment".into(), env.clone());
}

/// Drops what differs between two loads of the same command (times, pids) and the
/// `no-env-expand` flag (the `:` svc-any writes where nothing is expanded).
fn normalize(key: &str, value: &str) -> String {
    // Lists of units: systemd prints them in no fixed order.
    if matches!(key, "After" | "Wants" | "Requires" | "Before" | "Conflicts") {
        let mut units: Vec<&str> = value.split_whitespace().collect();
        units.sort_unstable();
        return units.join(" ");
    }
    if !key.starts_with("Exec") {
        return value.to_string();
    }
    value
        .split(" ; ")
        .filter(|part| {
            !part.contains("_time=")
                && !part.starts_with("pid=")
                && !part.starts_with("code=")
                && !part.starts_with("status=")
        })
        .map(|part| {
            part.replace("flags=no-env-expand|", "flags=")
                .replace("|no-env-expand", "")
                .replace("flags=no-env-expand", "flags=")
        })
        .collect::<Vec<_>>()
        .join(" ; ")
}

/// Loads `unit` as written, takes `systemctl show`, removes it; then imports it, installs the
/// definition with svc-any and takes `systemctl show` again. Returns both, and the definition.
fn round_trip(
    c: &Container,
    unit: &str,
) -> (BTreeMap<String, String>, BTreeMap<String, String>, String) {
    let name = unit.trim_end_matches(".service");
    c.sh_out(&format!(
        "cp {SHARE}/units/{unit} /etc/systemd/system/{unit} && systemctl daemon-reload"
    ));
    let original = show(c, unit);
    c.sh_out(&format!(
        "rm /etc/systemd/system/{unit} && systemctl daemon-reload"
    ));
    let definition = c.svc_any_ok(&["import", &format!("{SHARE}/units/{unit}")]);
    c.write_files(&[(format!("/root/{name}.toml"), definition.clone())]);
    // Not enabled, as the original was not: enabling orders it before multi-user.target.
    c.svc_any_ok(&[
        "install",
        name,
        "--no-enable",
        "-f",
        &format!("/root/{name}.toml"),
    ]);
    let installed = show(c, unit);
    (original, installed, definition)
}

#[test]
fn imported_units_render_back_to_the_same_properties_on_real_systemd() {
    if !enabled("imported_units_render_back_to_the_same_properties_on_real_systemd") {
        return;
    }
    let c = Container::boot("systemd", "dm-import");
    c.sh_out("useradd --system --user-group dmuser");
    let mut compared = 0;
    for unit in ["notifyd.service", "sandboxed.service", "forking.service"] {
        let (original, mut installed, definition) = round_trip(&c, unit);
        let name = unit.trim_end_matches(".service");
        env_moved_to_private_file(&c, name, &original, &mut installed);
        // Every property systemd knows for the original is there, with a value, after the trip.
        assert!(
            original.len() >= 30,
            "{unit}: only {} properties: {original:?}",
            original.len()
        );
        let mut differ = Vec::new();
        for (k, v) in &original {
            let got = installed.get(k).map(String::as_str).unwrap_or("<missing>");
            if got != v {
                differ.push(format!("{k}:\n  unit:     {v}\n  svc-any:  {got}"));
            }
            compared += 1;
        }
        assert!(
            differ.is_empty(),
            "{unit}: the imported definition renders another unit:\n{}\n--- definition:\n{definition}",
            differ.join("\n")
        );
        // Not vacuous: the properties that carry the point are set.
        match unit {
            "notifyd.service" => {
                assert_eq!(installed["Type"], "notify");
                assert!(
                    installed["ExecReload"].contains("argv[]=/bin/kill -HUP $MAINPID"),
                    "{}",
                    installed["ExecReload"]
                );
                assert!(
                    installed["ExecStartPostEx"].contains("privileged"),
                    "{}",
                    installed["ExecStartPostEx"]
                );
                assert!(
                    installed["ExecStartPreEx"].contains("ignore-failure"),
                    "{}",
                    installed["ExecStartPreEx"]
                );
                assert_eq!(installed["KillMode"], "process");
            }
            "sandboxed.service" => {
                assert_eq!(installed["User"], "dmuser");
                assert_eq!(installed["ProtectSystem"], "strict");
                assert_eq!(installed["CapabilityBoundingSet"], "");
                assert!(installed["Wants"].contains("network-online.target"));
            }
            _ => {
                assert_eq!(installed["Type"], "forking");
                assert_eq!(installed["PIDFile"], "/run/forkingd.pid");
                assert_eq!(installed["StartLimitBurst"], "3");
            }
        }
    }
    eprintln!("{compared} properties compared over 3 units, 0 differ");
}

#[test]
fn an_imported_notify_daemon_runs_by_its_own_readiness_on_real_systemd() {
    if !enabled("an_imported_notify_daemon_runs_by_its_own_readiness_on_real_systemd") {
        return;
    }
    let c = Container::boot("systemd", "dm-life");
    c.sh_out(&format!(
        "cp {SHARE}/units/notifyd-extra.socket /etc/systemd/system/ && systemctl daemon-reload"
    ));
    let definition = c.svc_any_ok(&["import", &format!("{SHARE}/units/notifyd.service")]);
    c.write_files(&[("/root/notifyd.toml".into(), definition)]);
    c.svc_any_ok(&["install", "notifyd", "-f", "/root/notifyd.toml"]);
    let ours = "find /etc/systemd/system /run/notifyd -name 'notify*' ! -path /etc/systemd/system/notifyd-extra.socket 2>/dev/null | sort";
    let before = c.sh_out(ours);
    // Also=: enabling the service enabled the socket, as `systemctl enable` would.
    assert_eq!(
        c.sh_out("systemctl is-enabled notifyd-extra.socket"),
        "enabled"
    );
    assert_eq!(
        c.sh_out("systemctl is-enabled notify-daemon.service"),
        "alias"
    );

    // start --wait: systemd says active only after READY=1, so once running it answers.
    c.svc_any_ok(&["start", "notifyd", "--wait=20"]);
    assert_eq!(c.sh_out("systemctl is-active notifyd"), "active");
    let get = || -> serde_json::Value {
        serde_json::from_str(&c.sh_out("python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:18090/\", timeout=2).read().decode())'")).unwrap()
    };
    let state = get();
    // $NOTIFYD_OPTS split into words, ${SPACED} one word with both spaces, %% one %.
    assert_eq!(
        state["argv"],
        serde_json::json!(["--port", "18090", "--name", "test", "a  b", "100%"])
    );
    assert!(
        c.succeeds("test -f /run/notifyd-started"),
        "the privileged post_start ran"
    );
    assert_eq!(
        c.sh_out("stat -c %a /run/notifyd"),
        "750",
        "runtime_dir with its mode"
    );

    // reload: the commands run, $MAINPID reaches kill, the daemon counts the HUP.
    c.svc_any_ok(&["reload", "notifyd"]);
    assert!(c.wait_for(Duration::from_secs(5), "python3 -c 'import urllib.request,json,sys; sys.exit(json.load(urllib.request.urlopen(\"http://127.0.0.1:18090/\"))[\"reloads\"] != 1)'"), "reload did not reach the daemon");

    // kill -9: Restart=on-failure brings it back.
    let pid = c.sh_out("systemctl show -p MainPID --value notifyd");
    c.sh_out(&format!("kill -9 {pid}"));
    assert!(
        c.wait_for(Duration::from_secs(10), &format!("p=$(systemctl show -p MainPID --value notifyd); [ \"$p\" != 0 ] && [ \"$p\" != {pid} ] && systemctl is-active -q notifyd")),
        "not restarted after kill -9"
    );
    assert_ne!(get()["pid"].to_string(), pid);

    // stop: clean, and the runtime directory is gone with it.
    c.svc_any_ok(&["stop", "notifyd"]);
    assert_eq!(c.svc_any(&["status", "notifyd"]).status.code(), Some(3));
    assert_eq!(
        c.sh_out("systemctl show -p Result --value notifyd"),
        "success"
    );
    assert!(!c.succeeds("test -e /run/notifyd"));

    // condition: with the marker file, systemd skips the start, and status says why.
    c.sh_out("mkdir -p /etc/notifyd && touch /etc/notifyd/disabled");
    let _ = c.svc_any(&["start", "notifyd"]);
    assert_eq!(
        c.sh_out("systemctl show -p ConditionResult --value notifyd"),
        "no"
    );
    let status: serde_json::Value =
        serde_json::from_slice(&c.svc_any(&["status", "notifyd", "--json"]).stdout).unwrap();
    assert_eq!(status["services"][0]["state"], "stopped");
    assert_eq!(
        status["services"][0]["reason"],
        "not started: a condition was not met"
    );
    c.sh_out("rm -r /etc/notifyd");

    // uninstall leaves nothing of it, and disables what Also= enabled.
    c.svc_any_ok(&["uninstall", "notifyd"]);
    assert_eq!(
        text(
            &c.exec(&["systemctl", "is-enabled", "notifyd-extra.socket"])
                .stdout
        )
        .trim(),
        "disabled"
    );
    let after = c.sh_out(ours);
    assert!(before.contains("notifyd.service"), "{before}");
    assert_eq!(after, "", "left behind:\n{after}");
    assert!(!text(&c.exec(&["systemctl", "cat", "notifyd"]).stdout).contains("notifyd"));
}

/// Debian's own daemon for a test: its unit, svc-any's name for it, a shell check that it
/// serves, and whether its unit restarts it after a crash.
struct Daemon {
    unit: &'static str,
    name: &'static str,
    serves: &'static str,
    /// Its processes' name (`pgrep -x`).
    comm: &'static str,
    reloads: bool,
    restarts: bool,
    /// What svc-any's supervisor says it leaves out of the imported definition (with
    /// `not_carried = "warn"`), in its order.
    not_carried_by_builtin: &'static [&'static str],
    /// The same for SysV, whose LSB header carries aliases and the host's services in `after`,
    /// and for OpenRC (its `depend()` does, and the supervisor runs the rest), the same.
    not_carried_by_sysv: &'static [&'static str],
}

const DEBIAN_DAEMONS: &[Daemon] = &[
    Daemon {
        unit: "nginx.service",
        name: "nginx",
        comm: "nginx",
        serves: "python3 -c 'import urllib.request,sys; sys.exit(urllib.request.urlopen(\"http://127.0.0.1/\", timeout=2).status != 200)'",
        reloads: true,
        // Debian's nginx.service says no Restart=: systemd leaves a killed nginx dead.
        restarts: false,
        not_carried_by_builtin: &[],
        not_carried_by_sysv: &[],
    },
    Daemon {
        unit: "ssh.service",
        name: "ssh",
        comm: "sshd",
        serves: "python3 -c 'import socket,sys; s=socket.create_connection((\"127.0.0.1\", 22), 2); sys.exit(not s.recv(64).startswith(b\"SSH-2.0\"))'",
        reloads: true,
        restarts: true,
        not_carried_by_builtin: &[],
        not_carried_by_sysv: &[],
    },
    Daemon {
        unit: "redis-server.service",
        name: "redis-server",
        comm: "redis-server",
        serves: "[ \"$(redis-cli ping)\" = PONG ]",
        reloads: false,
        restarts: true,
        not_carried_by_builtin: &["systemd"],
        not_carried_by_sysv: &["systemd"],
    },
    Daemon {
        unit: "cron.service",
        name: "cron",
        comm: "cron",
        serves: "pgrep -x cron",
        reloads: false,
        restarts: true,
        not_carried_by_builtin: &["systemd", "after = \"nss-user-lookup.target\""],
        not_carried_by_sysv: &["systemd", "after = \"nss-user-lookup.target\""],
    },
];

#[test]
fn debians_own_daemons_run_from_their_imported_units_on_real_systemd() {
    if !enabled("debians_own_daemons_run_from_their_imported_units_on_real_systemd") {
        return;
    }
    // systemd with nginx-core, openssh-server, redis-server and cron installed (box.sh).
    let c = Container::boot("daemons", "dm-deb");
    // The packages enabled and started their own units: off, so svc-any's are the only ones.
    c.sh_out("systemctl disable --now nginx ssh ssh.socket redis-server cron 2>&1; systemctl reset-failed");
    let before = c.sh_out("find /etc/systemd/system | sort");
    for d in DEBIAN_DAEMONS {
        let name = d.name;
        let definition = c.svc_any_ok(&["import", &format!("/lib/systemd/system/{}", d.unit)]);
        c.write_files(&[(format!("/root/{name}.toml"), definition.clone())]);
        let out = c.svc_any_ok(&[
            "install",
            name,
            "-f",
            &format!("/root/{name}.toml"),
            "--start",
            "--wait=30",
        ]);
        assert!(out.contains(name), "{out}");
        assert_eq!(
            c.sh_out(&format!(
                "systemctl show -p FragmentPath --value {}",
                d.unit
            )),
            format!("/etc/systemd/system/{}", d.unit)
        );
        assert_eq!(
            c.sh_out(&format!("systemctl is-active {}", d.unit)),
            "active",
            "{name}"
        );
        assert!(
            c.wait_for(Duration::from_secs(10), d.serves),
            "{name} does not serve"
        );
        let pid = c.sh_out(&format!("systemctl show -p MainPID --value {}", d.unit));
        assert_ne!(pid, "0", "{name}");

        if d.reloads {
            c.svc_any_ok(&["reload", name, "--wait=10"]);
            assert_eq!(
                c.sh_out(&format!("systemctl show -p MainPID --value {}", d.unit)),
                pid,
                "{name}: reload restarted it"
            );
            assert!(c.succeeds(d.serves), "{name} does not serve after reload");
        } else {
            // No ExecReload= in Debian's unit: svc-any says so, exit 2.
            assert_eq!(
                c.svc_any(&["reload", name]).status.code(),
                Some(2),
                "{name}"
            );
        }

        c.sh_out(&format!("kill -9 {pid}"));
        if d.restarts {
            assert!(
                c.wait_for(Duration::from_secs(15), &format!("p=$(systemctl show -p MainPID --value {}); [ \"$p\" != 0 ] && [ \"$p\" != {pid} ] && systemctl is-active -q {}", d.unit, d.unit)),
                "{name} was not restarted after kill -9"
            );
            assert!(
                c.wait_for(Duration::from_secs(10), d.serves),
                "{name} does not serve after its restart"
            );
        } else {
            assert!(
                c.wait_for(
                    Duration::from_secs(10),
                    &format!("systemctl is-failed -q {}", d.unit)
                ),
                "{name}: not failed after kill -9"
            );
            let status: serde_json::Value =
                serde_json::from_slice(&c.svc_any(&["status", name, "--json"]).stdout).unwrap();
            assert_eq!(status["services"][0]["state"], "dead", "{name}: {status}");
            c.svc_any_ok(&["start", name, "--wait=30"]);
        }

        c.svc_any_ok(&["stop", name]);
        assert_eq!(
            c.sh_out(&format!("systemctl show -p ActiveState --value {}", d.unit)),
            "inactive",
            "{name}"
        );
        assert_eq!(
            c.svc_any(&["status", name]).status.code(),
            Some(3),
            "{name}"
        );
        assert!(!c.succeeds(d.serves), "{name} still serves after stop");
    }
    for d in DEBIAN_DAEMONS {
        c.svc_any_ok(&["uninstall", d.name]);
    }
    let after = c.sh_out("find /etc/systemd/system | sort");
    assert_eq!(
        after, before,
        "uninstall left something in /etc/systemd/system"
    );
    eprintln!("nginx, ssh, redis-server, cron: imported from Debian's units, started ready, reloaded (nginx, ssh), killed -9, stopped, uninstalled");
}

#[test]
fn openrc_runs_the_commands_directories_and_env_files_it_carries() {
    if !enabled("openrc_runs_the_commands_directories_and_env_files_it_carries") {
        return;
    }
    let c = Container::boot("openrc", "dm-rc");
    c.sh_out("useradd --system --user-group dmuser && mkdir -p /etc/dmd && echo 'FROM_FILE=two words' > /etc/dmd/env");
    // Each command records who ran it, where, and with which environment and $MAINPID.
    let rec = |what: &str| {
        format!(
            "[\"/bin/sh\", \"-c\", \"echo {what} $(id -un) $(pwd) \\\"$FROM_FILE\\\" \\\"$OWN\\\" ${{MAINPID:-none}} >> /tmp/dmd.log\"]"
        )
    };
    let toml = format!(
        "type = \"simple\"\n\
         exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"18093\", \"--bind\", \"127.0.0.1\"]\n\
         user = \"dmuser\"\n\
         working_dir = \"/tmp\"\n\
         env = {{ OWN = \"own value\" }}\n\
         env_file = [\"-/etc/dmd/missing\", \"/etc/dmd/env\"]\n\
         pre_start = [{}, {{ exec = [\"/bin/false\"], may_fail = true }}]\n\
         post_start = [{{ exec = {}, privileged = true }}]\n\
         reload_exec = [{}]\n\
         post_stop = [{}]\n\
         runtime_dir = \"dmd\"\n\
         runtime_dir_mode = \"0750\"\n\
         state_dir = [\"dmd\", \"dmd/db\"]\n\
         config_dir = \"dmd\"\n\
         umask = \"0027\"\n\
         no_new_privileges = true\n\
         aliases = [\"dmd-alias\"]\n\
         after = [\"$network\"]\n",
        rec("pre"),
        rec("post"),
        rec("reload"),
        rec("poststop"),
    );
    c.write_files(&[("/root/dmd.toml".into(), toml)]);
    c.svc_any_ok(&[
        "install",
        "dmd",
        "-f",
        "/root/dmd.toml",
        "--start",
        "--wait=20",
    ]);
    assert!(c.http_ok(18093), "the service serves");
    // umask and no_new_privileges reach the process supervise-daemon runs.
    let child = c.sh_out("cat /run/openrc/options/dmd/child_pid");
    let status = c.sh_out(&format!("cat /proc/{child}/status"));
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    assert!(status.lines().any(|l| l == "Umask:\t0027"), "{status}");
    // Directories: made before the start, owned by the user (config stays root's), modes.
    assert_eq!(c.sh_out("stat -c '%U %a' /run/dmd"), "dmuser 750");
    assert_eq!(c.sh_out("stat -c '%U %a' /var/lib/dmd/db"), "dmuser 755");
    assert_eq!(c.sh_out("stat -c '%U' /etc/dmd"), "root");
    c.svc_any_ok(&["reload", "dmd"]);
    let pid = c.sh_out("cat /run/openrc/options/dmd/child_pid");
    c.svc_any_ok(&["stop", "dmd"]);
    let log = c.sh_out("cat /tmp/dmd.log");
    let lines: Vec<&str> = log.lines().collect();
    // pre_start as the user, in working_dir, with both env sources, before the process;
    // post_start privileged (root); reload as the user with $MAINPID; post_stop as the user.
    assert_eq!(lines.len(), 4, "{log}");
    assert_eq!(
        lines[0], "pre dmuser /tmp two words own value none",
        "{log}"
    );
    assert!(
        lines[1].starts_with("post root /tmp two words own value "),
        "{log}"
    );
    assert_eq!(
        lines[2],
        format!("reload dmuser /tmp two words own value {pid}"),
        "{log}"
    );
    assert!(
        lines[3].starts_with("poststop dmuser /tmp two words own value"),
        "{log}"
    );
    // The runtime directory goes with the stop, as systemd removes it.
    assert!(!c.succeeds("test -e /run/dmd"));
    assert!(c.succeeds("test -d /var/lib/dmd"));
    // A required env file missing fails the start, named.
    c.sh_out("rm /etc/dmd/env");
    let out = c.svc_any(&["start", "dmd", "--wait=10"]);
    assert!(!out.status.success());
    c.svc_any_ok(&["uninstall", "dmd"]);
    assert!(!c.succeeds("test -e /etc/init.d/dmd || test -e /etc/conf.d/dmd"));
}

/// The rc2.d start number insserv gave `script` (`S02ssh` → 2).
fn start_number(c: &Container, script: &str) -> u32 {
    let link = c.sh_out(&format!("cd /etc/rc2.d && ls S[0-9][0-9]{script}"));
    link[1..3].parse().unwrap_or_else(|_| panic!("{link}"))
}

#[test]
fn sysv_orders_by_the_aliases_and_host_services_of_an_imported_unit() {
    if !enabled("sysv_orders_by_the_aliases_and_host_services_of_an_imported_unit") {
        return;
    }
    // As Debian's ssh.service says: alias sshd, After=auditd.service (and a `before`). A
    // stand-in program (the sysv tree has no sshd); what is proven is the header insserv
    // orders the boot by.
    let c = Container::boot("sysv", "dm-lsb");
    let lsb = |name: &str, required: &str| {
        format!(
            "#!/bin/sh\n### BEGIN INIT INFO\n# Provides:          {name}\n\
             # Required-Start:    {required}\n# Required-Stop:     {required}\n\
             # Default-Start:     2 3 4 5\n# Default-Stop:      0 1 6\n\
             # Short-Description: {name}\n### END INIT INFO\nexit 0\n"
        )
    };
    c.write_files(&[
        // auditd needs all ssh needs and more: only Should-Start can put ssh after it.
        (
            "/etc/init.d/auditd".into(),
            lsb("auditd", "$remote_fs $syslog $network $time"),
        ),
        ("/etc/init.d/needs-sshd".into(), lsb("needs-sshd", "sshd")),
        // Needs little, so insserv would start it first, but ssh says `before` it.
        ("/etc/init.d/early".into(), lsb("early", "$remote_fs")),
        (
            "/root/ssh.toml".into(),
            "exec = [\"/usr/bin/python3\", \"-m\", \"http.server\", \"18094\", \"--bind\", \"127.0.0.1\"]\n\
             aliases = [\"sshd\"]\n\
             after = [\"$network\", \"auditd.service\"]\n\
             before = [\"early\"]\n"
                .into(),
        ),
    ]);
    c.sh_out(
        "chmod 755 /etc/init.d/auditd /etc/init.d/needs-sshd /etc/init.d/early \
         && update-rc.d auditd defaults && update-rc.d early defaults",
    );
    c.svc_any_ok(&[
        "install",
        "ssh",
        "-f",
        "/root/ssh.toml",
        "--start",
        "--wait=20",
    ]);
    assert!(c.http_ok(18094), "ssh's stand-in serves");
    // A script that needs the alias finds it (insserv refuses a missing facility).
    c.sh_out("update-rc.d needs-sshd defaults");
    let (auditd, ssh, needs) = (
        start_number(&c, "auditd"),
        start_number(&c, "ssh"),
        start_number(&c, "needs-sshd"),
    );
    assert!(
        auditd < ssh,
        "auditd S{auditd:02} is not before ssh S{ssh:02}"
    );
    assert!(
        ssh < needs,
        "ssh S{ssh:02} is not before needs-sshd S{needs:02}"
    );
    let early = start_number(&c, "early");
    assert!(
        ssh < early,
        "ssh S{ssh:02} is not before early S{early:02} (X-Start-Before)"
    );
    c.sh_out("update-rc.d -f needs-sshd remove && update-rc.d -f early remove");
    c.svc_any_ok(&["uninstall", "ssh"]);
    assert!(!c.succeeds("ls /etc/rc2.d/*ssh* || test -e /etc/init.d/ssh"));
    eprintln!(
        "sysv: auditd S{auditd:02} < ssh S{ssh:02} < needs-sshd S{needs:02}, early S{early:02}"
    );
}

/// The state and pid svc-any (with `backend` chosen) reports for `name`, the only unit.
fn unit_status(c: &Container, backend: &str, name: &str) -> (String, Option<u64>) {
    let choose = format!("SVC_ANY_BACKEND={backend}");
    let out = c.exec(&["env", &choose, "svc-any", "status", name, "--json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{name}: status --json: {e}: {}", text(&out.stderr)));
    let unit = &status["services"][0];
    (
        unit["state"].as_str().unwrap_or("").to_string(),
        unit["pid"].as_u64(),
    )
}

/// redis's sandboxing, as its process sees it: no capabilities at all, the root read-only
/// (ProtectSystem=strict), its state directory writable (it saves), /tmp its own.
fn assert_redis_sandboxed(c: &Container, pid: u64) {
    // PrivateDevices=yes: a /dev of its own, with no disk or console in it.
    let dev = c.sh_out(&format!("ls /proc/{pid}/root/dev | tr '\\n' ' '"));
    assert_eq!(
        dev.trim(),
        "fd full null ptmx pts random shm stderr stdin stdout tty urandom zero",
        "redis's /dev"
    );
    assert_eq!(
        c.sh_out(&format!("sed -n 's/^CapBnd:\t//p' /proc/{pid}/status")),
        "0000000000000000"
    );
    let mounts = c.sh_out(&format!("cat /proc/{pid}/mountinfo"));
    let options = |point: &str| {
        mounts
            .lines()
            .rfind(|l| l.split(' ').nth(4) == Some(point))
            .and_then(|l| l.split(' ').nth(5))
            .unwrap_or_else(|| panic!("no mount at {point}:\n{mounts}"))
            .to_string()
    };
    assert!(options("/").starts_with("ro"), "{mounts}");
    assert!(options("/var/lib/redis").starts_with("rw"), "{mounts}");
    assert!(options("/tmp").starts_with("rw"), "{mounts}");
    assert!(
        c.succeeds("redis-cli set k v && redis-cli save"),
        "redis cannot save"
    );
}

/// Each of Debian's four daemons, imported from its unit and installed for `backend` (one
/// that leans on svc-any's supervisor) with `not_carried = "warn"`: what it leaves out is
/// `left_out(daemon)` exactly; then started ready, serving, reloaded with its pid kept,
/// killed -9 (restarted, or dead as its unit says), stopped with nothing left, and at the end
/// uninstalled.
fn run_debians_daemons(
    c: &Container,
    backend: &str,
    left_out: fn(&Daemon) -> &'static [&'static str],
) {
    let choose = format!("SVC_ANY_BACKEND={backend}");
    let svc = |args: &[&str]| {
        let mut argv = vec!["env", choose.as_str(), "svc-any"];
        argv.extend_from_slice(args);
        c.exec(&argv)
    };
    let ok = |args: &[&str]| {
        let out = svc(args);
        assert!(
            out.status.success(),
            "{backend}: svc-any {args:?}: {}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stderr)
    };
    let state_is = |name: &str, state: &str| {
        format!("env {choose} svc-any status {name} --json | grep -q '\"state\": \"{state}\"'")
    };
    // nspawn drops CAP_SYS_RESOURCE: no process here may raise its open-files hard limit
    // (systemd would quietly set the closest it can; svc-any's supervisor refuses, naming
    // `limits`). redis's 65535 becomes this container's ceiling.
    let ceiling = c.sh_out("ulimit -Hn");
    for d in DEBIAN_DAEMONS {
        let name = d.name;
        let definition = c.svc_any_ok(&["import", &format!("/lib/systemd/system/{}", d.unit)]);
        let definition = format!("not_carried = \"warn\"\n{definition}")
            .replace("nofile = 65535", &format!("nofile = {ceiling}"));
        c.write_files(&[(format!("/root/{name}.toml"), definition)]);
        let file = format!("/root/{name}.toml");
        let said = ok(&["install", name, "-f", &file, "--start", "--wait=30"]);
        let prefix = format!("svc-any: not carried by {backend}: ");
        let not_carried: Vec<&str> = said
            .lines()
            .filter_map(|l| l.strip_prefix(prefix.as_str()))
            .collect();
        assert_eq!(not_carried, left_out(d), "{backend}, {name}: {said}");
        // The script that starts it at boot, and asks the supervisor.
        let script = match backend {
            "sysv" => Some(format!("ls /etc/rc2.d/S[0-9][0-9]{name}")),
            "openrc" => Some(format!(
                "test -L /etc/runlevels/default/{name} && grep -q -- '--backend builtin -q start' /etc/init.d/{name}"
            )),
            _ => None,
        };
        if let Some(check) = script {
            assert!(
                c.succeeds(&format!("test -x /etc/init.d/{name} && {check}")),
                "{backend}: no /etc/init.d/{name} for the boot"
            );
        }
        let (state, pid) = unit_status(c, backend, name);
        assert_eq!(state, "running", "{backend}, {name}");
        let pid = pid.unwrap_or_else(|| panic!("{backend}, {name}: no pid"));
        assert!(
            c.wait_for(Duration::from_secs(10), d.serves),
            "{backend}: {name} does not serve"
        );
        if name == "redis-server" {
            assert_redis_sandboxed(c, pid);
        }

        if d.reloads {
            ok(&["reload", name, "--wait=10"]);
            assert_eq!(
                unit_status(c, backend, name),
                ("running".into(), Some(pid)),
                "{backend}: {name}: reload restarted it"
            );
            assert!(
                c.succeeds(d.serves),
                "{backend}: {name} does not serve after reload"
            );
        } else {
            assert_eq!(
                svc(&["reload", name]).status.code(),
                Some(2),
                "{backend}, {name}"
            );
        }

        c.sh_out(&format!("kill -9 {pid}"));
        if d.restarts {
            assert!(
                c.wait_for(
                    Duration::from_secs(15),
                    &format!(
                        "{} && ! kill -0 {pid} 2>/dev/null && {}",
                        state_is(name, "running"),
                        d.serves
                    )
                ),
                "{backend}: {name} was not restarted after kill -9"
            );
            assert_ne!(
                unit_status(c, backend, name).1,
                Some(pid),
                "{backend}, {name}"
            );
        } else {
            // No Restart= in Debian's unit: down, and what the daemon left went with it.
            assert!(
                c.wait_for(Duration::from_secs(10), &state_is(name, "dead")),
                "{backend}: {name} not dead after kill -9"
            );
            ok(&["start", name, "--wait=30"]);
        }

        ok(&["stop", name]);
        assert_eq!(
            unit_status(c, backend, name),
            ("stopped".into(), None),
            "{backend}, {name}"
        );
        assert_eq!(
            svc(&["status", name]).status.code(),
            Some(3),
            "{backend}, {name}"
        );
        assert!(
            !c.succeeds(d.serves),
            "{backend}: {name} still serves after stop"
        );
        assert!(
            !c.succeeds(&format!("pgrep -x {}", d.comm)),
            "{backend}: {name}: a process is left after stop"
        );
    }
    for d in DEBIAN_DAEMONS {
        ok(&["uninstall", d.name]);
    }
    assert!(
        !c.succeeds("ls -A /var/lib/svc-any/builtin | grep -q ."),
        "{backend}: uninstall left definitions: {}",
        c.sh_out("ls -AR /var/lib/svc-any/builtin 2>&1 || true")
    );
    eprintln!("nginx, ssh, redis-server, cron on {backend}: imported, started ready, reloaded (nginx, ssh), killed -9, stopped, uninstalled");
}

#[test]
fn debians_own_daemons_run_under_svc_anys_supervisor() {
    if !enabled("debians_own_daemons_run_under_svc_anys_supervisor") {
        return;
    }
    // The same packages, their units off; svc-any's supervisor chosen as an operator would on
    // a host where it runs them (the one where no init runs at all).
    let c = Container::boot("daemons", "dm-bi");
    c.sh_out("systemctl disable --now nginx ssh ssh.socket redis-server cron 2>&1; systemctl reset-failed");
    run_debians_daemons(&c, "builtin", |d| d.not_carried_by_builtin);
}

#[test]
fn debians_own_daemons_run_on_sysvinit() {
    if !enabled("debians_own_daemons_run_on_sysvinit") {
        return;
    }
    // sysvinit with the packages, whose own init scripts started them at boot: stopped and
    // removed, as an operator who hands them to svc-any would, so the names are free.
    let c = Container::boot("sysvdaemons", "dm-sv");
    c.sh_out(
        "for s in nginx ssh redis-server cron; do service $s stop >/dev/null 2>&1; \
         update-rc.d -f $s remove >/dev/null && rm /etc/init.d/$s || exit 1; done",
    );
    let before = c.sh_out("ls /etc/init.d /etc/rc2.d");
    run_debians_daemons(&c, "sysv", |d| d.not_carried_by_sysv);
    assert_eq!(
        c.sh_out("ls /etc/init.d /etc/rc2.d"),
        before,
        "uninstall left scripts or links"
    );
}

#[test]
fn debians_own_daemons_run_on_openrc() {
    if !enabled("debians_own_daemons_run_on_openrc") {
        return;
    }
    // OpenRC with the packages, whose own init scripts it started at boot: stopped and
    // removed. supervise-daemon carries none of the four whole (notify, forking, kill modes,
    // sandboxing), so each script OpenRC orders and tracks asks svc-any's supervisor.
    let c = Container::boot("openrcdaemons", "dm-rc2");
    c.sh_out(
        "for s in nginx ssh redis-server cron; do rc-service $s stop >/dev/null 2>&1; \
         rc-update del $s default >/dev/null 2>&1; rm /etc/init.d/$s || exit 1; done",
    );
    // Their LSB scripts cannot tell OpenRC they stopped: it still counts them as started,
    // which svc-any's start has to see through.
    assert!(c.succeeds("test -L /run/openrc/started/nginx"));
    assert!(
        !c.succeeds("pgrep -x nginx || pgrep -x sshd || pgrep -x redis-server || pgrep -x cron"),
        "a package's daemon still runs"
    );
    let before = c.sh_out("ls /etc/init.d /etc/runlevels/default");
    run_debians_daemons(&c, "openrc", |d| d.not_carried_by_sysv);
    assert_eq!(
        c.sh_out("ls /etc/init.d /etc/runlevels/default"),
        before,
        "uninstall left scripts or links"
    );
}
