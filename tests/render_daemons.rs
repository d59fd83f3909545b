//! The keys of real daemons (`type`, commands around the main one, directories, least
//! privilege, conditions, facilities, `[systemd]`): rendered natively where the manager can,
//! else refused with exit 2 naming the key and the backend, or, with `not_carried = "warn"`,
//! reported on stderr and left out. Never dropped without a word.
//!
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use std::process::Command;

use common::*;

fn render(backend: &str, file: &std::path::Path) -> std::process::Output {
    run(svc_any()
        .args(["--backend", backend, "render", "-f"])
        .arg(file))
}

fn spec(name: &str) -> std::path::PathBuf {
    fixtures().join("specs").join(name)
}

fn rendered(backend: &str, fixture: &str) -> String {
    let out = render(backend, &spec(fixture));
    assert!(
        out.status.success(),
        "render {fixture} for {backend}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).replace(
        &fixtures().join("specs").display().to_string(),
        "<fixtures>",
    )
}

/// The file contents of a render, without the `###` lines.
fn body(rendered: &str) -> String {
    rendered
        .lines()
        .filter(|l| !l.starts_with("### "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// The first file of a render, without its `###` header: the unit, not the environment file
/// after it.
fn first_file(rendered: &str) -> String {
    rendered
        .lines()
        .skip_while(|l| l.starts_with("### "))
        .take_while(|l| !l.starts_with("### "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `systemd-analyze verify` exits 0 on warnings, so the proof is an empty stderr.
fn verify(name: &str, unit: &str) {
    let dir = scratch(&format!("daemons-verify-{name}"));
    let path = dir.join(name);
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (package systemd)");
    let stderr = text(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "systemd-analyze verify {name}:\n{stderr}\n---\n{unit}"
    );
}

#[test]
fn systemd_carries_every_key_natively() {
    let out = rendered("systemd", "daemon.toml");
    common::golden("systemd", "daemon.service", &out);
    for line in [
        "Type=notify",
        // exec_expand: no `:` prefix, so systemd expands; still one quoted word each.
        "ExecStart=\"/usr/bin/python3\" \"-m\" \"http.server\" \"$PORT\" \"--bind\" \"${BIND}\"",
        "ExecStartPre=\"/usr/bin/test\" \"-d\" \"/etc\"",
        "ExecStartPre=-\"/bin/mkdir\" \"-p\" \"/var/cache/100%%\"",
        "ExecStartPost=+\"/bin/echo\" \"started as $$USER\"",
        "ExecReload=\"/bin/kill\" \"-HUP\" \"$MAINPID\"",
        "ExecStop=\"/bin/kill\" \"-TERM\" \"${MAINPID}\"",
        "ExecStopPost=-\"/bin/rm\" \"-f\" \"/run/daemon/stale\"",
        "EnvironmentFile=-/etc/default/daemon",
        "EnvironmentFile=/etc/daemon/env",
        "RuntimeDirectory=daemon",
        "RuntimeDirectoryMode=0750",
        "StateDirectory=daemon daemon/db",
        "LogsDirectory=daemon",
        "ConfigurationDirectory=daemon",
        "ConfigurationDirectoryMode=0755",
        "KillMode=mixed",
        "TimeoutStopSec=infinity",
        "Restart=on-abnormal",
        "RestartPreventExitStatus=255",
        "After=network-online.target",
        "Wants=network-online.target",
        "After=time-sync.target",
        "Wants=nss-lookup.target",
        "Before=remote-fs.target",
        "Conflicts=other.service",
        "Alias=daemond.service",
        "UMask=0027",
        "SupplementaryGroups=root",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "ProtectSystem=strict",
        "ProtectHome=read-only",
        "ReadOnlyPaths=/srv",
        "ReadWritePaths=-/var/lib/daemon",
        "ReadWritePaths=/var/log/daemon",
        "ConditionPathExists=!/etc/daemon/disabled",
        "Documentation=https://example.org/daemon",
        "ProtectKernelTunables=yes",
        "SystemCallFilter=@system-service",
        "SystemCallFilter=~@privileged",
        "StartLimitAction=none",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in\n{out}");
    }
    // The alias is a link by the other name, as `systemctl enable` makes it.
    assert!(out.contains(
        "### enable: /etc/systemd/system/daemond.service -> /etc/systemd/system/daemon.service"
    ));
    verify("daemon.service", &first_file(&out));
}

#[test]
fn openrc_carries_the_portable_keys_in_its_own_terms() {
    let out = rendered("openrc", "daemon-portable.toml");
    common::golden("openrc", "daemon-portable.txt", &out);
    for line in [
        "# Documentation: man:portable(8)",
        "\tprovide portabled",
        "\tuse net",
        "\tuse logger",
        "\tuse ntp-client",
        "\tbefore netmount",
        "command_args='-c \"$svc_any_umask_exec\" svc-any 0027 \"$svc_any_command\" \"$svc_any_arg_1\" \"$svc_any_arg_2\" \"$svc_any_arg_3\"'",
        "supervise_daemon_args=--no-new-privs",
        "extra_started_commands=\"reload\"",
        "\tsvc_any_run 0 0 \"$svc_any_pre_start_0_0\" \"$svc_any_pre_start_0_1\" \"$svc_any_pre_start_0_2\" || return 1",
        "\tsvc_any_run 1 0 \"$svc_any_pre_start_1_0\" \"$svc_any_pre_start_1_1\" \"$svc_any_pre_start_1_2\" || return 1",
        "\tsvc_any_run 0 1 \"$svc_any_post_start_0_0\" \"$svc_any_post_start_0_1\" || return 1",
        "\t\tcheckpath --directory --mode 0750 --owner \"$svc_any_user\" \"$svc_any_dir\" || return 1",
        "svc_any_pre_start_1_2='echo '\\''pre start'\\'' >&2'",
        "svc_any_runtime_dir='/run/portable'",
        "svc_any_state_dir='/var/lib/portable /var/lib/portable/db'",
        "svc_any_config_dir='/etc/portable'",
        "svc_any_env_file_0='/etc/default/portable'",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in\n{out}");
    }
    // The configuration directory stays root's, as systemd leaves it.
    assert!(out.contains("checkpath --directory --mode 0755 \"$svc_any_dir\""));
    for shell in ["sh", "dash"] {
        let dir = scratch(&format!("daemons-openrc-{shell}"));
        let path = dir.join("script");
        std::fs::write(&path, body(&out)).unwrap();
        let check = Command::new(shell).arg("-n").arg(&path).output().unwrap();
        assert!(
            check.status.success(),
            "{shell} -n: {}",
            text(&check.stderr)
        );
    }
    // The same definition on systemd, verified.
    let unit = rendered("systemd", "daemon-portable.toml");
    verify(
        "daemon-portable.service",
        &first_file(&unit).replace("Documentation=man:portable(8)\n", ""),
    );
}

#[test]
fn sysv_names_facilities_in_the_lsb_header() {
    let dir = scratch("daemons-sysv-facilities");
    let file = dir.join("web.toml");
    std::fs::write(
        &file,
        "exec = [\"/bin/true\"]\nafter = [\"$network-online\", \"$time-sync\"]\nrequires = [\"nss-lookup.target\"]\n",
    )
    .unwrap();
    let out = render("sysv", &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let script = text(&out.stdout);
    assert!(
        script
            .lines()
            .any(|l| l == "# Required-Start:    $remote_fs $syslog $named $network $time"),
        "{script}"
    );
    // The supervisor's own definition carries no facility (it has no boot to order).
    assert!(!script.contains("\"$network-online\""), "{script}");
}

/// A definition each backend must refuse, key by key: (toml, key, backends that carry it).
const KEYS: &[(&str, &str, &[&str])] = &[
    (
        "type = \"notify\"\n",
        "type = \"notify\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "type = \"simple\"\n",
        "type = \"simple\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "type = \"forking\"\npid_file = \"/run/x.pid\"\n",
        "type = \"forking\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    // The supervisor finds a forking daemon by its pid file only.
    ("type = \"forking\"\n", "type = \"forking\"", &["systemd"]),
    (
        "type = \"oneshot\"\nremain_after_exit = true\n",
        "type = \"oneshot\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    // Up with no process: the supervisor's oneshots only.
    (
        "remain_after_exit = true\n",
        "remain_after_exit",
        &["systemd"],
    ),
    (
        "pre_start = [[\"/bin/true\"]]\n",
        "pre_start",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "stop_exec = [[\"/bin/true\"]]\n",
        "stop_exec",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "reload_exec = [[\"/bin/true\"]]\n",
        "reload_exec",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "runtime_dir = \"x\"\n",
        "runtime_dir",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "env_file = [\"-/etc/default/x\"]\n",
        "env_file = [list]",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "exec_expand = true\n",
        "exec_expand",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "kill_mode = \"process\"\n",
        "kill_mode = \"process\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "stop_timeout = \"infinity\"\n",
        "stop_timeout = \"infinity\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "restart = \"on-abort\"\n",
        "restart = \"on-abort\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "restart_prevent_exit_codes = [255]\n",
        "restart_prevent_exit_codes",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "after = [\"$network-online\"]\n",
        "after = \"$network-online\"",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "wants = [\"db\"]\n",
        "wants",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    ("binds_to = [\"db\"]\n", "binds_to", &["systemd"]),
    // An order from the other side: OpenRC's own, LSB's X-Start-Before, the supervisor's.
    (
        "before = [\"db\"]\n",
        "before",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    // More names: systemd Alias=, OpenRC provide, LSB Provides:.
    (
        "aliases = [\"demo-alias\"]\n",
        "aliases",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "umask = \"0077\"\n",
        "umask",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "credentials = { db = \"/etc/db\" }\n",
        "credentials",
        &["systemd"],
    ),
    (
        "capabilities = [\"CAP_NET_BIND_SERVICE\"]\n",
        "capabilities",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "private_tmp = true\n",
        "private_tmp",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "protect_system = \"full\"\n",
        "protect_system",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "protect_home = \"read-only\"\n",
        "protect_home",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "read_write_paths = [\"-/var/lib/x\"]\n",
        "read_write_paths",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "private_devices = true\n",
        "private_devices",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    (
        "condition_path_exists = [\"/etc/x\"]\n",
        "condition_path_exists",
        &["systemd", "openrc", "sysv", "builtin"],
    ),
    ("[systemd]\nProtectClock = true\n", "systemd", &["systemd"]),
];

const BACKENDS: &[&str] = &["systemd", "openrc", "sysv", "builtin", "launchd"];

#[test]
fn a_key_a_backend_cannot_carry_is_refused_naming_key_and_backend_and_nothing_is_written() {
    let mut checked = 0;
    for (i, (toml, key, carried_by)) in KEYS.iter().enumerate() {
        let dir = scratch(&format!("daemons-refuse-{i}"));
        let file = dir.join("demo.toml");
        std::fs::write(&file, format!("exec = [\"/bin/true\"]\n{toml}")).unwrap();
        for backend in BACKENDS {
            let root = scratch(&format!("daemons-refuse-{i}-{backend}-root"));
            let before = snapshot(&root);
            let out = run(svc_any()
                .args(["--backend", backend, "install", "--root"])
                .arg(&root)
                .arg("-f")
                .arg(&file));
            let stderr = text(&out.stderr);
            if carried_by.contains(backend) {
                assert!(out.status.success(), "{key} on {backend}: {stderr}");
                assert!(
                    !stderr.contains("not carried"),
                    "{key} on {backend}: {stderr}"
                );
            } else {
                assert_eq!(out.status.code(), Some(2), "{key} on {backend}: {stderr}");
                let want = format!("not carried by {backend}: {key}");
                assert!(stderr.contains(&want), "no `{want}` in {stderr}");
                assert!(stderr.contains("demo.toml:2:"), "no line in {stderr}");
                assert!(
                    stderr.contains("not_carried = \"warn\""),
                    "no hint in {stderr}"
                );
                assert_eq!(
                    snapshot(&root),
                    before,
                    "{key} on {backend} wrote something"
                );
            }
            checked += 1;
        }
    }
    eprintln!("{checked} key x backend cases");
}

#[test]
fn not_carried_warn_installs_without_the_key_and_says_so() {
    let dir = scratch("daemons-warn");
    let file = dir.join("demo.toml");
    std::fs::write(
        &file,
        "not_carried = \"warn\"\nexec = [\"/bin/true\"]\nconflicts = [\"sendmail\"]\npre_start = [[\"/bin/true\"]]\n",
    )
    .unwrap();
    for (backend, warned, kept) in [
        (
            "openrc",
            vec!["conflicts"],
            Some("svc_any_pre_start_0_0='/bin/true'"),
        ),
        ("builtin", vec!["conflicts"], Some("[[daemon.pre_start]]")),
        ("sysv", vec!["conflicts"], Some("[[daemon.pre_start]]")),
        ("launchd", vec!["conflicts", "pre_start"], None),
    ] {
        let out = render(backend, &file);
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{backend}: {stderr}");
        for key in &warned {
            let want = format!("svc-any: not carried by {backend}: {key}\n");
            assert!(stderr.contains(&want), "{backend}: no `{want}` in {stderr}");
        }
        let stdout = text(&out.stdout);
        assert!(
            !stdout.contains("conflicts"),
            "{backend} rendered it:\n{stdout}"
        );
        if let Some(line) = kept {
            assert!(
                stdout.contains(line),
                "{backend} dropped a carried key:\n{stdout}"
            );
        } else {
            assert!(
                !stdout.contains("pre_start"),
                "{backend} rendered it:\n{stdout}"
            );
        }
    }
    // systemd carries both: no warning.
    let out = render("systemd", &file);
    assert!(out.status.success());
    assert_eq!(text(&out.stderr), "");
    assert!(text(&out.stdout).contains("Conflicts=sendmail.service"));
}

#[test]
fn instance_placeholders_reach_user_and_dependencies_as_systemd_writes_them() {
    let dir = scratch("daemons-instance-placeholders");
    let file = dir.join("worker.toml");
    std::fs::write(
        &file,
        "exec = [\"/bin/sleep\", \"1000\"]\ninstances = [\"a\", \"b\"]\nuser = \"root{instance}\"\n\
         after = [\"db@{instance}\"]\nrequires = [\"cache@{instance}.service\"]\n",
    )
    .unwrap();
    let out = render("systemd", &file);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unit = text(&out.stdout);
    for line in [
        "User=root%i",
        "After=db@%i.service",
        "Requires=cache@%i.service",
        "After=cache@%i.service",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "missing `{line}` in\n{unit}"
        );
    }
    // Elsewhere a dependency on another service's instance is refused, named.
    let out = render("openrc", &file);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("not carried by openrc: requires = \"cache@{instance}.service\""),
        "{}",
        text(&out.stderr)
    );
    // Each instance's account is checked where accounts are (install --root reads the tree's).
    let root = scratch("daemons-instance-placeholders-root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nroota:x:1:1::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let out = run(svc_any()
        .args(["--backend", "systemd", "install", "--root"])
        .arg(&root)
        .arg("-f")
        .arg(&file));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no user `rootb`"),
        "{}",
        text(&out.stderr)
    );
}
