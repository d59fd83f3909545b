//! Detection on fake hosts: what runs decides, never a binary that is merely installed.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A fake host: `pid1` as PID 1's name, the given marker paths, and /proc/1/root pointing at
/// the tree itself (not a chroot) or at the real / (a chroot).
fn host(name: &str, pid1: Option<&str>, chroot: bool, paths: &[&str]) -> PathBuf {
    let root = scratch(&format!("detect-{name}"));
    if let Some(comm) = pid1 {
        std::fs::create_dir_all(root.join("proc/1")).unwrap();
        std::fs::write(root.join("proc/1/comm"), format!("{comm}\n")).unwrap();
        let target: &Path = if chroot {
            Path::new("/")
        } else {
            Path::new("../..")
        };
        std::os::unix::fs::symlink(target, root.join("proc/1/root")).unwrap();
    }
    for p in paths {
        let full = root.join(p.trim_start_matches('/'));
        if let Some(target) = p.strip_prefix("/sbin/init->") {
            std::fs::create_dir_all(root.join("sbin")).unwrap();
            std::os::unix::fs::symlink(target, root.join("sbin/init")).unwrap();
        } else if p.ends_with('/') {
            std::fs::create_dir_all(full).unwrap();
        } else {
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, "").unwrap();
        }
    }
    root
}

fn detect(root: &Path) -> serde_json::Value {
    let out = run(svc_any()
        .args(["detect", "--json", "--probe-root"])
        .arg(root));
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn systemd_running_as_pid_1() {
    let root = host(
        "systemd",
        Some("systemd"),
        false,
        &["/run/systemd/system/", "/sbin/init->/lib/systemd/systemd"],
    );
    let d = detect(&root);
    assert_eq!(d["backend"], "systemd");
    assert_eq!(d["live"], true);
}

#[test]
fn systemctl_installed_but_not_running_is_not_systemd() {
    // A container whose PID 1 is a shell, with systemd's files installed.
    let root = host(
        "container",
        Some("bash"),
        false,
        &[
            "/sbin/init->/lib/systemd/systemd",
            "/bin/systemctl",
            "/etc/init.d/",
        ],
    );
    let d = detect(&root);
    assert_eq!(d["backend"], "builtin", "{d}");
    assert_eq!(d["live"], true);
}

#[test]
fn openrc_booted() {
    let root = host(
        "openrc",
        Some("init"),
        false,
        &[
            "/run/openrc/softlevel",
            "/sbin/openrc-run",
            "/etc/init.d/",
            "/sbin/init",
        ],
    );
    assert_eq!(detect(&root)["backend"], "openrc");
}

#[test]
fn sysvinit_as_pid_1() {
    let root = host("sysv", Some("init"), false, &["/etc/init.d/", "/sbin/init"]);
    assert_eq!(detect(&root)["backend"], "sysv");
}

#[test]
fn a_chroot_installs_for_the_trees_own_init_without_a_manager() {
    let root = host(
        "chroot",
        Some("systemd"),
        true,
        &["/sbin/init->/lib/systemd/systemd"],
    );
    let d = detect(&root);
    assert_eq!(d["backend"], "systemd");
    assert_eq!(d["live"], false, "nothing in a chroot may be started: {d}");
}

#[test]
fn no_proc_at_all_counts_as_a_chroot() {
    let root = host(
        "noproc",
        None,
        false,
        &["/sbin/init->/lib/systemd/systemd", "/run/systemd/system/"],
    );
    let d = detect(&root);
    assert_eq!(d["backend"], "systemd");
    assert_eq!(d["live"], false);
}

#[test]
fn explain_prints_every_probe() {
    let root = host("explain", Some("bash"), false, &[]);
    let out = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&root));
    let text = text(&out.stdout);
    for probe in [
        "PID 1",
        "chroot",
        "/run/systemd/system",
        "/run/openrc/softlevel",
        "/etc/init.d",
        "=> builtin",
    ] {
        assert!(text.contains(probe), "missing `{probe}` in\n{text}");
    }
}

#[test]
fn the_backend_flag_and_variable_override_detection() {
    let root = host("override", Some("bash"), false, &[]);
    let spec = fixtures().join("specs/minimal.toml");
    let out = run(svc_any()
        .env("SVC_ANY_BACKEND", "systemd")
        .arg("--probe-root")
        .arg(&root)
        .arg("render")
        .arg("-f")
        .arg(&spec));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("[Service]"));
}

#[test]
fn the_distribution_comes_from_os_release_of_the_probed_tree() {
    let root = host(
        "os-release",
        Some("systemd"),
        false,
        &["/run/systemd/system/"],
    );
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/os-release"),
        "PRETTY_NAME=\"Debian GNU/Linux 11 (bullseye)\"\nNAME=\"Debian GNU/Linux\"\n\
         VERSION_ID=\"11\"\nVERSION_CODENAME=bullseye\nID=debian\n",
    )
    .unwrap();
    let d = detect(&root);
    assert_eq!(d["distribution"]["id"], "debian");
    assert_eq!(d["distribution"]["version_id"], "11");
    assert_eq!(d["distribution"]["codename"], "bullseye");

    // Only /usr/lib/os-release, as os-release(5) allows: still read.
    let usr_only = host("os-release-usr", Some("init"), false, &["/usr/lib/"]);
    std::fs::write(
        usr_only.join("usr/lib/os-release"),
        "ID=alpine\nID_LIKE=\"busybox musl\"\nVERSION_ID=3.20.1\n",
    )
    .unwrap();
    let d = detect(&usr_only);
    assert_eq!(d["distribution"]["id"], "alpine");
    assert_eq!(d["distribution"]["version_id"], "3.20.1");
    assert_eq!(
        d["distribution"]["like"],
        serde_json::json!(["busybox", "musl"])
    );

    let explained = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&usr_only));
    assert!(
        text(&explained.stdout).contains("alpine 3.20.1"),
        "{}",
        text(&explained.stdout)
    );

    // A tree without os-release says so, and is still detected.
    let bare = host("os-release-none", Some("init"), false, &[]);
    assert!(detect(&bare)["distribution"].is_null());
}

/// A fake process `comm` (pid `pid`) in the fake host's /proc.
fn process(root: &Path, pid: u32, comm: &str, cmdline: &[&str]) {
    let dir = root.join(format!("proc/{pid}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("comm"), format!("{comm}\n")).unwrap();
    let mut args = cmdline.join("\0");
    args.push('\0');
    std::fs::write(dir.join("cmdline"), args).unwrap();
}

#[test]
fn runit_as_pid_1() {
    let root = host(
        "runit",
        Some("runit"),
        false,
        &["/etc/init.d/", "/sbin/init->/lib/runit/runit-init"],
    );
    process(&root, 57, "runsvdir", &["runsvdir", "-P", "/etc/service"]);
    let d = detect(&root);
    assert_eq!(d["backend"], "runit", "{d}");
    assert_eq!(d["live"], true);
}

#[test]
fn a_chroot_of_a_runit_tree_installs_for_runit_offline() {
    let root = host(
        "runit-chroot",
        Some("systemd"),
        true,
        &["/sbin/init->/lib/runit/runit-init"],
    );
    let d = detect(&root);
    assert_eq!(d["backend"], "runit");
    assert_eq!(d["live"], false);
}

#[test]
fn a_runsvdir_under_another_init_is_offered_not_chosen() {
    let root = host(
        "runsvdir-under-sysv",
        Some("init"),
        false,
        &["/etc/init.d/", "/sbin/init"],
    );
    process(&root, 300, "runsvdir", &["runsvdir", "-P", "/etc/service"]);
    let d = detect(&root);
    assert_eq!(d["backend"], "sysv", "{d}");
    let out = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&root));
    let explained = text(&out.stdout);
    assert!(
        explained.contains("choose it with --backend runit"),
        "{explained}"
    );
    // Without a runsvdir nothing is offered.
    let bare = host(
        "no-runsvdir",
        Some("init"),
        false,
        &["/etc/init.d/", "/sbin/init"],
    );
    let out = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&bare));
    assert!(!text(&out.stdout).contains("--backend runit"));
}

#[test]
fn runit_links_into_the_scan_directory_of_the_distribution() {
    for (id, scan) in [
        ("debian", "/etc/service"),
        ("void", "/var/service"),
        ("artix", "/run/runit/service"),
    ] {
        let root = scratch(&format!("runit-scan-{id}"));
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::write(root.join("etc/os-release"), format!("ID={id}\n")).unwrap();
        let spec = fixtures().join("specs/minimal.toml");
        let out = run(svc_any()
            .args(["--backend", "runit", "install", "--root"])
            .arg(&root)
            .arg("-f")
            .arg(&spec));
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
        let link = root.join(scan.trim_start_matches('/')).join("minimal");
        assert_eq!(
            std::fs::read_link(&link).ok(),
            Some(PathBuf::from("/etc/sv/minimal")),
            "{id}: {}",
            text(&out.stdout)
        );
    }
}

#[test]
fn an_svscan_under_sysvinit_is_offered_and_chosen_with_the_backend_flag() {
    let root = host(
        "svscan-under-sysv",
        Some("init"),
        false,
        &["/etc/init.d/", "/sbin/init"],
    );
    process(&root, 410, "svscan", &["svscan", "/etc/service"]);
    let d = detect(&root);
    assert_eq!(d["backend"], "sysv", "{d}");
    assert_eq!(d["also_running"], serde_json::json!(["daemontools"]), "{d}");
    let out = run(svc_any()
        .args(["--backend", "daemontools", "detect", "--probe-root"])
        .arg(&root));
    assert_eq!(text(&out.stdout).trim(), "daemontools");
    let out = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&root));
    assert!(
        text(&out.stdout).contains("choose it with --backend daemontools"),
        "{}",
        text(&out.stdout)
    );
    // An svscan in a chroot's /proc belongs to the host: nothing is offered.
    let chroot = host(
        "svscan-chroot",
        Some("init"),
        true,
        &["/etc/init.d/", "/sbin/init"],
    );
    process(&chroot, 411, "svscan", &["svscan", "/etc/service"]);
    assert_eq!(detect(&chroot)["also_running"], serde_json::json!([]));
}

#[test]
fn s6_svscan_as_pid_1() {
    let root = host("s6", Some("s6-svscan"), false, &["/etc/s6/service/"]);
    let d = detect(&root);
    assert_eq!(d["backend"], "s6", "{d}");
    assert_eq!(d["live"], true);
}

/// A fake host where sysvinit is PID 1 and a supervisord, started by its init script, left its
/// pid file and command line in /run and /proc.
fn supervisord_under_sysvinit(name: &str, cmdline: &str) -> PathBuf {
    let root = host(name, Some("init"), false, &["/etc/init.d/", "/sbin/init"]);
    std::fs::create_dir_all(root.join("run")).unwrap();
    std::fs::write(root.join("run/supervisord.pid"), "586\n").unwrap();
    std::fs::create_dir_all(root.join("proc/586")).unwrap();
    std::fs::write(root.join("proc/586/cmdline"), cmdline).unwrap();
    root
}

#[test]
fn a_supervisord_under_another_init_is_offered_never_the_default() {
    let root = supervisord_under_sysvinit(
        "supervisord-offered",
        "/usr/bin/python3\0/usr/bin/supervisord\0-n\0-c\0/etc/supervisor/supervisord.conf\0",
    );
    let d = detect(&root);
    assert_eq!(
        d["backend"], "sysv",
        "the init itself stays the default: {d}"
    );
    assert_eq!(d["also_running"], serde_json::json!(["supervisord"]), "{d}");
    let explained = run(svc_any()
        .args(["detect", "--explain", "--probe-root"])
        .arg(&root));
    let said = text(&explained.stdout);
    assert!(
        said.contains("yes (pid 586): choose it with --backend supervisord"),
        "{said}"
    );
    assert!(said.contains("=> sysv"), "{said}");

    // Chosen: detect says so, and why, and still shows what it detected.
    let chosen = run(svc_any()
        .args([
            "--backend",
            "supervisord",
            "detect",
            "--explain",
            "--probe-root",
        ])
        .arg(&root));
    let said = text(&chosen.stdout);
    assert!(
        said.contains("=> supervisord: chosen with --backend") && said.contains("detected: sysv"),
        "{said}"
    );
}

#[test]
fn a_stale_supervisord_pid_file_is_not_a_running_supervisord() {
    // The pid now belongs to something else.
    let root = supervisord_under_sysvinit("supervisord-stale", "/usr/sbin/cron\0-f\0");
    let d = detect(&root);
    assert_eq!(d["backend"], "sysv");
    assert_eq!(d["also_running"], serde_json::json!([]), "{d}");
}

#[test]
fn supervisord_as_pid_1_is_the_init() {
    // The container's way: supervisord is PID 1, with no other init in the tree.
    let root = host("supervisord-pid1", Some("supervisord"), false, &[]);
    let d = detect(&root);
    assert_eq!(d["backend"], "supervisord", "{d}");
    assert_eq!(d["live"], true);
}
