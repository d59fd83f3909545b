//! Packaging: svc-any's hooks in real maintainer scripts.
//!
//! The example package (examples/package/: a small HTTP service, its definition a conffile,
//! its maintainer scripts made by `svc-any hook snippets deb`) is built with dpkg-deb in
//! several versions and installed, upgraded, removed and purged by real dpkg: under svc-any's
//! own supervisor on this machine, and on real systemd, OpenRC and sysvinit booted as PID 1 of
//! containers, where it is first installed into the tree from a chroot, as an image build
//! does, and the tree then booted. RPM's scriptlets (`hook snippets rpm`) run as plain shell
//! with the `$1` rpm passes: no RPM distribution can be fetched here. What each step asserts
//! is read from the manager's own tools (systemctl, rc-service and the runlevel links,
//! service and the rc?.d links, the supervisor's pid files), not from svc-any.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::container::{enabled, Container};
use common::{bin, run, scratch, svc_any, text};

const EXAMPLE: &str = "examples/package";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}{}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

// ---- the snippets, the example's scripts, check: no root, no manager ------------------------

fn snippet(format: &str, script: &str, extra: &[&str]) -> String {
    let mut cmd = svc_any();
    cmd.args(["hook", "snippets", format, "pkdemo", "--script", script])
        .args(extra);
    ok(&run(&mut cmd), "hook snippets")
}

#[test]
fn snippets_are_posix_shell_and_do_nothing_without_svc_any() {
    let shellcheck = Command::new("shellcheck").arg("--version").output().is_ok();
    for (format, scripts, args) in [
        (
            "deb",
            ["postinst", "prerm", "postrm"],
            vec!["configure", ""],
        ),
        ("rpm", ["post", "preun", "postun"], vec!["1"]),
    ] {
        for script in scripts {
            for extra in [&[][..], &["-f", "/etc/svc-any/it's here.toml"][..]] {
                let fragment = snippet(format, script, extra);
                assert!(fragment.contains("command -v svc-any"), "{fragment}");
                for shell in ["sh", "dash", "bash"] {
                    let out = run(Command::new(shell).args(["-n", "-c", &fragment]));
                    assert!(
                        out.status.success(),
                        "{shell} -n {format} {script}:\n{fragment}"
                    );
                }
                if shellcheck {
                    let out = run(Command::new("sh")
                        .arg("-c")
                        .arg("printf '#!/bin/sh\\n%s' \"$1\" | shellcheck -s sh -")
                        .arg("sh")
                        .arg(&fragment));
                    assert!(out.status.success(), "shellcheck:\n{}", text(&out.stdout));
                }
                // Where svc-any is not installed the fragment does nothing, and succeeds.
                let out = run(Command::new("/bin/sh")
                    .arg("-c")
                    .arg(&fragment)
                    .arg("sh")
                    .args(&args)
                    .env("PATH", "/nonexistent"));
                assert!(out.status.success(), "{format} {script} without svc-any");
                assert!(out.stdout.is_empty() && out.stderr.is_empty());
            }
        }
    }
    // The whole listing names each script once, as its file (deb) or spec section (rpm).
    let out = ok(
        &run(svc_any().args(["hook", "snippets", "rpm", "a", "b"])),
        "snippets",
    );
    for section in ["%post\n", "%preun\n", "%postun\n"] {
        assert_eq!(out.matches(section).count(), 1, "{out}");
    }
    assert!(
        out.contains("svc-any hook rpm post a b -- \"$1\" || exit 1"),
        "{out}"
    );
    let out = ok(
        &run(svc_any().args(["hook", "snippets", "deb", "a"])),
        "snippets",
    );
    for file in [
        "### debian/postinst",
        "### debian/prerm",
        "### debian/postrm",
    ] {
        assert_eq!(out.matches(file).count(), 1, "{out}");
    }
    // A script no format has is bad input.
    let out = run(svc_any().args(["hook", "snippets", "deb", "a", "--script", "post"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_example_package_scripts_are_what_snippets_prints() {
    for script in ["postinst", "prerm", "postrm"] {
        let path = repo().join(EXAMPLE).join("DEBIAN").join(script);
        let file = std::fs::read_to_string(&path).unwrap();
        let inner = file
            .split_once("# BEGIN svc-any\n")
            .and_then(|(_, rest)| rest.split_once("# END svc-any\n"))
            .map(|(inner, _)| inner)
            .unwrap_or_else(|| panic!("{} has no svc-any block", path.display()));
        assert_eq!(
            inner,
            snippet("deb", script, &[]),
            "{} is stale: paste `svc-any hook snippets deb pkdemo --script {script}` between \
             its svc-any lines",
            path.display()
        );
        for shell in ["sh", "dash"] {
            let out = run(Command::new(shell).arg("-n").arg(&path));
            assert!(out.status.success(), "{shell} -n {}", path.display());
        }
    }
}

#[test]
fn hooks_refuse_a_definition_that_does_not_validate_and_nothing_else() {
    let dir = scratch("packaging-bad-definition");
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "exec = [\"/bin/true\"]\nrestrat = \"always\"\n").unwrap();
    let mut cmd = svc_any();
    cmd.args(["hook", "deb", "postinst", "-f"])
        .arg(&bad)
        .args(["bad", "--", "configure", ""]);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml:2:1") && err.contains("restrat"),
        "{err}"
    );
    // A missing definition at first install: the package did not ship it.
    let mut cmd = svc_any();
    cmd.args(["hook", "deb", "postinst", "-f"])
        .arg(dir.join("absent.toml"))
        .args(["absent", "--", "configure", ""]);
    assert_eq!(run(&mut cmd).status.code(), Some(2));
    // An RPM count that is not a count is a wrong call.
    let out = run(svc_any().args(["hook", "rpm", "post", "x", "--", "one"]));
    assert_eq!(out.status.code(), Some(2));
    // What dpkg may call and svc-any has nothing to do for succeeds quietly.
    for (script, args) in [
        ("postrm", vec!["upgrade", "1.0"]),
        ("postrm", vec!["disappear", "other", "1.0"]),
        ("postinst", vec!["triggered", "/usr/lib"]),
        ("postrm", vec!["abort-install"]),
    ] {
        let mut cmd = svc_any();
        cmd.args(["hook", "deb", script, "nothing", "--"])
            .args(&args);
        let out = run(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{script} {args:?}");
        assert!(
            text(&out.stdout).contains("nothing to do"),
            "{script} {args:?}"
        );
    }
}

#[test]
fn check_catches_what_a_package_must_not_ship() {
    let dir = scratch("packaging-check");
    let example = repo().join(EXAMPLE).join("pkdemo.toml");
    // The package's tree has the program: every backend renders, the program is found.
    let tree = dir.join("tree");
    std::fs::create_dir_all(tree.join("usr/lib/pkdemo")).unwrap();
    std::fs::copy(
        repo().join(EXAMPLE).join("pkdemo"),
        tree.join("usr/lib/pkdemo/pkdemo"),
    )
    .unwrap();
    let mut cmd = svc_any();
    cmd.arg("check").arg(&example).arg("--root").arg(&tree);
    let out = ok(&run(&mut cmd), "check");
    for backend in ["systemd", "openrc", "sysv", "builtin", "launchd"] {
        assert!(out.contains(&format!("  {backend:<8} pkdemo: /")), "{out}");
    }
    assert!(
        out.contains(&format!("{}", tree.join("usr/lib/pkdemo/pkdemo").display())),
        "{out}"
    );
    assert!(out.trim_end().ends_with("ok"), "{out}");

    // Not in the tree nor on this host: exit 2, the key named.
    let out = run(svc_any().arg("check").arg(&example).arg("--root").arg(&dir));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`exec`: the program /usr/lib/pkdemo/pkdemo"));

    // Not executable.
    let mut perms = std::fs::metadata(tree.join("usr/lib/pkdemo/pkdemo"))
        .unwrap()
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o644);
    std::fs::set_permissions(tree.join("usr/lib/pkdemo/pkdemo"), perms).unwrap();
    let out = run(svc_any()
        .arg("check")
        .arg(&example)
        .arg("--root")
        .arg(&tree));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not executable"),
        "{}",
        text(&out.stderr)
    );

    // Invalid: file, line and key.
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "exec = [\"/bin/sh\"]\nrestart_delay = \"soon\"\n").unwrap();
    let out = run(svc_any().arg("check").arg(&bad));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("bad.toml:2"),
        "{}",
        text(&out.stderr)
    );

    // A user that exists nowhere: refused, also with a tree that has its own passwd.
    let nouser = dir.join("nouser.toml");
    std::fs::write(
        &nouser,
        "exec = [\"/bin/sh\"]\nuser = \"no-such-user-pk\"\n",
    )
    .unwrap();
    let out = run(svc_any().arg("check").arg(&nouser));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no-such-user-pk"));
    std::fs::create_dir_all(tree.join("etc")).unwrap();
    std::fs::write(tree.join("etc/passwd"), "root:x:0:0::/root:/bin/sh\n").unwrap();
    let out = run(svc_any()
        .arg("check")
        .arg(&example)
        .arg("--root")
        .arg(&tree));
    assert_eq!(
        out.status.code(),
        Some(2),
        "the tree's passwd has no `nobody`"
    );

    // A backend that cannot carry a key refuses it, naming it; --skip leaves it out.
    let envfile = dir.join("envfile.toml");
    std::fs::write(
        &envfile,
        "exec = [\"/bin/sh\"]\nenv_file = \"/etc/default/x\"\n",
    )
    .unwrap();
    let out = run(svc_any().arg("check").arg(&envfile));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("launchd"),
        "{}",
        text(&out.stderr)
    );
    // The run-directory supervisors refuse it too: their run scripts would read it as shell.
    for name in ["runit", "daemontools", "s6"] {
        assert!(
            text(&out.stderr).contains(&format!("not carried by {name}: env_file")),
            "{}",
            text(&out.stderr)
        );
    }
    // supervisord refuses env_file too (README, "What supervisord gets").
    let out = run(svc_any().arg("check").arg(&envfile).args([
        "--skip",
        "launchd",
        "--skip",
        "runit",
        "--skip",
        "daemontools",
        "--skip",
        "s6",
        "--skip",
        "supervisord",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("launchd  skipped"));
}

// ---- the example package in every version the lifecycle needs ------------------------------

/// Version, greeting (its definition's PKDEMO_GREETING), whether its program differs from
/// 1.0's. Each version changes one thing from the one before.
const VERSIONS: &[(&str, &str, bool)] = &[
    ("1.0", "hello", false),
    ("1.1", "bonjour", false), // the definition changed
    ("1.2", "bonjour", false), // nothing changed but the version
    ("1.3", "bonjour", true),  // the program changed
    ("1.4", "hola", true),     // the definition changed
    ("1.5", "ciao", true),     // the definition changed
];

/// While this file exists, pkdemo 1.6's prerm fails.
const FAIL_PRERM: &str = "/run/pkdemo-test-fail-prerm";

/// The example's .debs and svc-any's own (packed by packaging/build-deb.sh from the binary
/// under test), built once per test run; `tar` carries them into containers.
struct Debs {
    dir: PathBuf,
    tar: Vec<u8>,
}

fn debs() -> &'static Debs {
    static DEBS: OnceLock<Debs> = OnceLock::new();
    DEBS.get_or_init(|| {
        let dir = scratch("packaging-debs");
        let src = dir.join("src");
        ok(
            &run(Command::new("cp")
                .arg("-a")
                .arg(repo().join(EXAMPLE))
                .arg(&src)),
            "copying the example",
        );
        let definition = std::fs::read_to_string(src.join("pkdemo.toml")).unwrap();
        let program = std::fs::read_to_string(src.join("pkdemo")).unwrap();
        let mut names = Vec::new();
        for (version, greeting, changed) in VERSIONS {
            std::fs::write(
                src.join("pkdemo.toml"),
                definition.replace("\"hello\"", &format!("\"{greeting}\"")),
            )
            .unwrap();
            let body = if *changed {
                format!("{program}# changed in 1.3\n")
            } else {
                program.clone()
            };
            std::fs::write(src.join("pkdemo"), body).unwrap();
            let deb = format!("pkdemo_{version}_all.deb");
            ok(
                &run(Command::new(src.join("build.sh"))
                    .arg(version)
                    .arg(dir.join(&deb))),
                "examples/package/build.sh",
            );
            names.push(deb);
        }
        // 1.6: 1.5 with a prerm that fails after svc-any's part while FAIL_PRERM exists, so
        // that dpkg -r calls `postinst abort-remove`.
        let prerm = std::fs::read_to_string(src.join("DEBIAN/prerm")).unwrap();
        std::fs::write(
            src.join("DEBIAN/prerm"),
            prerm.replace(
                "\nexit 0\n",
                &format!("\n[ ! -e {FAIL_PRERM} ] || exit 1\nexit 0\n"),
            ),
        )
        .unwrap();
        ok(
            &run(Command::new(src.join("build.sh"))
                .arg("1.6")
                .arg(dir.join("pkdemo_1.6_all.deb"))),
            "examples/package/build.sh",
        );
        names.push("pkdemo_1.6_all.deb".into());
        let out = ok(
            &run(Command::new(repo().join("packaging/build-deb.sh"))
                .arg("--binary")
                .arg(bin())
                .arg("--out")
                .arg(&dir)
                .arg("--gzip")),
            "packaging/build-deb.sh",
        );
        let own = Path::new(out.trim())
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        names.push(own);
        let tar = run(Command::new("tar")
            .arg("-c")
            .arg("-C")
            .arg(&dir)
            .args(&names));
        assert!(tar.status.success());
        Debs {
            dir,
            tar: tar.stdout,
        }
    })
}

// ---- where the package is installed -----------------------------------------------------

/// A system dpkg installs on: this machine (svc-any's own supervisor) or a container.
trait Machine {
    /// Runs a shell script there as root.
    fn sh(&self, script: &str) -> Output;
    /// dpkg with `args` (this machine's keeps its own database).
    fn dpkg_command(&self, args: &str) -> String {
        format!("dpkg {args}")
    }
    /// Runs dpkg, and shows what it and the maintainer scripts said (`--nocapture`).
    fn dpkg(&self, args: &str) -> Output {
        let out = self.sh(&self.dpkg_command(args));
        eprintln!(
            "--- dpkg {args}: {}\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        out
    }
    /// What /usr/sbin/policy-rc.d does there (`None`: allow everything).
    fn policy(&self, body: Option<&str>);
    /// Where the .debs are there.
    fn debs(&self) -> String;

    fn out(&self, script: &str) -> String {
        ok(&self.sh(script), script).trim().to_string()
    }
    fn holds(&self, script: &str) -> bool {
        self.sh(script).status.success()
    }
    /// Polls `script` until it succeeds; false after `timeout`.
    fn eventually(&self, timeout: Duration, script: &str) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.holds(script) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }
}

/// How one manager answers, in its own tools' words.
struct Native {
    /// Exit 0 iff pkdemo starts at boot.
    enabled: &'static str,
    /// Exit 0 iff pkdemo runs.
    running: &'static str,
    /// Prints pkdemo's main pid.
    pid: &'static str,
    /// The admin's `disable` and `stop`.
    disable_stop: &'static str,
    /// The admin's `enable` (not start).
    enable: &'static str,
    /// The manager's own try-restart.
    try_restart: &'static str,
    /// Breaks the manager's control channel, and mends it.
    break_manager: &'static str,
    repair_manager: &'static str,
    /// The native files svc-any writes for pkdemo.
    files: &'static str,
    /// What a purge must leave as before the first install.
    snapshot: &'static str,
}

/// What pkdemo answers on its port: the greeting of the definition it runs.
const GREETING: &str = "python3 -c 'import urllib.request; print(urllib.request.urlopen(\"http://127.0.0.1:18431/\", timeout=3).read().decode().split(\" from\")[0])'";

/// Every entry under the snapshot's directories, with kind, mode, size and link target (no
/// times), insserv's sequence numbers and bookkeeping left out (it renumbers other services'
/// links whenever one comes or goes).
fn snapshot(m: &dyn Machine, n: &Native) -> Vec<String> {
    let listing = m.out(&format!(
        "find {} -xdev \\( {} \\) -prune -o \\( -type d -printf '%p d %m\\n' \\) -o \\( -type l -printf '%p l %l\\n' \\) -o -printf '%p %y %m %s\\n' 2>/dev/null | sort",
        n.snapshot,
        [
            "/var/lib/dpkg", "/var/lib/systemd", "/var/log/journal", "/var/cache", "/var/log/apt",
            "/var/log/dpkg.log", "/var/log/alternatives.log", "/var/log/wtmp", "/var/log/btmp",
            "/var/log/lastlog", "/var/log/private", "/var/lib/private",
        ]
        .iter()
        .map(|p| format!("-path {p}"))
        .collect::<Vec<_>>()
        .join(" -o ")
    ));
    listing
        .lines()
        .filter(|l| !l.contains("/.depend."))
        .map(|l| {
            let (path, rest) = l.split_once(' ').unwrap_or((l, ""));
            let (dir, file) = path.rsplit_once('/').unwrap_or(("", path));
            let file = match file.as_bytes() {
                [k @ (b'S' | b'K'), a, b, ..]
                    if dir.contains("/rc") && a.is_ascii_digit() && b.is_ascii_digit() =>
                {
                    format!("{}{}", *k as char, &file[3..])
                }
                _ => file.to_string(),
            };
            let rest = if rest.starts_with("d ") { "d" } else { rest };
            format!("{dir}/{file} {rest}")
        })
        .collect()
}

fn greeting(m: &dyn Machine) -> String {
    m.out(GREETING)
}

/// dpkg -i of one version of the example.
fn install(m: &dyn Machine, version: &str) -> Output {
    m.dpkg(&format!("-i {}/pkdemo_{version}_all.deb", m.debs()))
}

/// Waits until pkdemo runs with a pid other than `old` and answers `greeting`; its pid.
fn restarted(m: &dyn Machine, n: &Native, old: &str, greeting_now: &str) -> String {
    assert!(
        m.eventually(
            Duration::from_secs(15),
            &format!(
                "{} && [ \"$({})\" != {old} ] && [ \"$({GREETING})\" = {greeting_now} ]",
                n.running, n.pid
            )
        ),
        "pkdemo was not restarted (pid {old}) into a process answering {greeting_now}"
    );
    m.out(n.pid)
}

/// The deb lifecycle, every step asserted with the manager's own tools.
fn deb_lifecycle(m: &dyn Machine, n: &Native) {
    let before = snapshot(m, n);
    assert!(!before.is_empty(), "the snapshot lists nothing");
    let healthy = |m: &dyn Machine| {
        let out = ok(&m.sh("svc-any start pkdemo --wait"), "start --wait");
        assert!(out.contains("pkdemo is healthy"), "{out}");
    };

    // First install: enabled at boot, started, healthy.
    let out = install(m, "1.0");
    ok(&out, "dpkg -i pkdemo 1.0");
    assert!(m.holds(n.enabled), "enabled after the first install");
    assert!(m.holds(n.running), "running after the first install");
    healthy(m);
    assert_eq!(greeting(m), "hello");
    let pid = m.out(n.pid);

    // An upgrade that changes the definition restarts it; one that changes nothing does not;
    // one that changes the program does.
    ok(&install(m, "1.1"), "dpkg -i pkdemo 1.1");
    let pid = restarted(m, n, &pid, "bonjour");
    let out = ok(&install(m, "1.2"), "dpkg -i pkdemo 1.2");
    assert!(out.contains("left running"), "{out}");
    assert_eq!(
        m.out(n.pid),
        pid,
        "an upgrade that changed nothing restarted it"
    );
    ok(&install(m, "1.3"), "dpkg -i pkdemo 1.3");
    let pid = restarted(m, n, &pid, "bonjour");

    // try-restart, svc-any's and the manager's own, restarts what runs.
    ok(
        &m.sh("svc-any try-restart pkdemo --wait"),
        "svc-any try-restart",
    );
    let pid = restarted(m, n, &pid, "bonjour");
    ok(&m.sh(n.try_restart), "the manager's try-restart");
    restarted(m, n, &pid, "bonjour");

    // The admin disables and stops it: an upgrade with a new definition installs it and
    // leaves it disabled and stopped; try-restart and reset leave it stopped too.
    ok(&m.sh(n.disable_stop), "the admin's disable and stop");
    assert!(!m.holds(n.enabled) && !m.holds(n.running));
    ok(&install(m, "1.4"), "dpkg -i pkdemo 1.4");
    assert!(
        !m.holds(n.enabled),
        "an upgrade enabled what the admin disabled"
    );
    assert!(
        !m.holds(n.running),
        "an upgrade started what the admin stopped"
    );
    assert!(
        m.holds(&format!("grep -q hola {}", n.files)),
        "the new definition is installed"
    );
    ok(
        &m.sh("svc-any try-restart pkdemo"),
        "try-restart of a stopped service",
    );
    ok(&m.sh("svc-any reset pkdemo"), "reset of a disabled service");
    assert!(
        !m.holds(n.running),
        "try-restart or reset started a disabled, stopped service"
    );

    // The admin enables it again: reset converges, it runs.
    ok(&m.sh(n.enable), "the admin's enable");
    ok(
        &m.sh("svc-any reset pkdemo --wait"),
        "reset of an enabled service",
    );
    assert!(m.holds(n.running) && m.holds(n.enabled));
    assert_eq!(greeting(m), "hola");
    let pid = m.out(n.pid);

    // The manager broken: the package installs all the same, with a warning; the restart it
    // could not do is owed, and the next hook does it.
    ok(&m.sh(n.break_manager), "breaking the manager");
    let out = install(m, "1.5");
    ok(&m.sh(n.repair_manager), "mending the manager");
    assert!(
        out.status.success(),
        "a broken manager failed the package:\n{}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stderr).contains("warning"),
        "no warning:\n{}",
        text(&out.stderr)
    );
    assert!(
        m.holds(&format!("grep -q ciao {}", n.files)),
        "the new definition is installed"
    );
    assert_eq!(m.out(n.pid), pid, "the old process runs on");
    ok(&install(m, "1.5"), "dpkg -i pkdemo 1.5 again");
    let pid = restarted(m, n, &pid, "ciao");

    // A removal that fails after the prerm stopped it: dpkg calls `postinst abort-remove`,
    // which puts back what was: running, enabled.
    let out = ok(&install(m, "1.6"), "dpkg -i pkdemo 1.6");
    assert!(out.contains("left running"), "{out}");
    ok(&m.sh(&format!("touch {FAIL_PRERM}")), "arming the prerm");
    let out = m.dpkg("-r pkdemo");
    ok(&m.sh(&format!("rm {FAIL_PRERM}")), "disarming the prerm");
    assert!(!out.status.success(), "the prerm did not fail");
    assert!(
        text(&out.stdout).contains("stopped pkdemo"),
        "the prerm did not stop it"
    );
    restarted(m, n, &pid, "ciao");
    assert!(m.holds(n.enabled), "not enabled after abort-remove");
    // The package stays installed (dpkg -r marked it for removal: "deinstall ok installed").
    let status = m.out(&m.dpkg_command("-s pkdemo | grep '^Status:'"));
    assert!(status.ends_with(" ok installed"), "{status}");

    // Removal: stopped, not started at boot; the definition (a conffile) and svc-any's
    // files and record stay.
    ok(&m.dpkg("-r pkdemo"), "dpkg -r pkdemo");
    assert!(!m.holds(n.running), "running after dpkg -r");
    assert!(!m.holds(n.enabled), "enabled at boot after dpkg -r");
    assert!(m.holds(&format!("ls /etc/svc-any/pkdemo.toml {}", n.files)));
    assert_eq!(
        m.sh("svc-any status pkdemo").status.code(),
        Some(3),
        "stopped, and installed"
    );

    // The policy layer forbids (101): the reinstall installs, restores the boot choice the
    // admin had before removal, starts nothing, and succeeds.
    m.policy(Some("exit 101"));
    let out = install(m, "1.5");
    m.policy(None);
    let said = ok(&out, "dpkg -i pkdemo 1.5 under policy 101");
    assert!(said.contains("forbids `start` (101)"), "{said}");
    assert!(m.holds(n.enabled), "the boot choice is restored");
    assert!(
        !m.holds(n.running),
        "started although policy-rc.d forbade it"
    );
    ok(&m.sh("svc-any reset pkdemo --wait"), "reset");
    assert!(m.holds(n.running));

    // Purge: as before the first install.
    ok(&m.dpkg("-P pkdemo"), "dpkg -P pkdemo");
    assert!(!m.holds(n.running));
    assert_eq!(snapshot(m, n), before, "purge left a difference");
}

// ---- this machine: svc-any's own supervisor ---------------------------------------------

/// This machine, with the state of its own supervisor scope, a dpkg database of its own (the
/// host's is left alone), and a policy layer of its own: every command runs in a private
/// mount namespace where a read-only overlay puts the test's /usr/sbin/policy-rc.d over the
/// host's.
struct HostMachine {
    scope: common::scope::TestScope,
    bin_dir: PathBuf,
    policy_dir: PathBuf,
    admin: PathBuf,
    /// Whether this one installs the example on the real root (and cleans up after it).
    installs_example: bool,
}

/// What the example package puts on this machine's real root (paths no other package uses).
const HOST_PATHS: &[&str] = &["/usr/lib/pkdemo", "/etc/svc-any/pkdemo.toml"];

impl HostMachine {
    fn new(name: &str, installs_example: bool) -> HostMachine {
        let scope = common::scope::TestScope::new(name);
        let bin_dir = scope.dir.join("bin");
        std::fs::create_dir_all(&bin_dir).unwrap();
        std::os::unix::fs::symlink(bin(), bin_dir.join("svc-any")).unwrap();
        let policy_dir = scope.dir.join("policy");
        std::fs::create_dir_all(&policy_dir).unwrap();
        let admin = scope.dir.join("dpkg");
        for dir in ["info", "updates", "triggers"] {
            std::fs::create_dir_all(admin.join(dir)).unwrap();
        }
        for file in ["status", "available"] {
            std::fs::write(admin.join(file), "").unwrap();
        }
        let m = HostMachine {
            scope,
            bin_dir,
            policy_dir,
            admin,
            installs_example,
        };
        m.policy(None);
        m.clean_host();
        m
    }

    /// What an earlier run that failed half way left on the real root.
    fn clean_host(&self) {
        if !self.installs_example {
            return;
        }
        for path in HOST_PATHS {
            let _ = std::fs::remove_dir_all(path).or_else(|_| std::fs::remove_file(path));
        }
        let _ = std::fs::remove_dir("/etc/svc-any");
    }
}

impl Drop for HostMachine {
    fn drop(&mut self) {
        self.clean_host();
    }
}

impl Machine for HostMachine {
    fn sh(&self, script: &str) -> Output {
        let wrap = "mount -t overlay svc-any-policy -o \"lowerdir=$0:/usr/sbin\" /usr/sbin || exit 125\nexec /bin/sh -c \"$1\"";
        run(Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", wrap])
            .arg(&self.policy_dir)
            .arg(script)
            .env_clear()
            .env(
                "PATH",
                format!(
                    "{}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    self.bin_dir.display()
                ),
            )
            .env("HOME", "/root")
            .env("LANG", "C.UTF-8")
            .env("SVC_ANY_STATE_DIR", self.scope.state())
            .env("SVC_ANY_RUNTIME_DIR", self.scope.runtime())
            .stdin(Stdio::null()))
    }

    fn dpkg_command(&self, args: &str) -> String {
        // The example depends on svc-any and python3, which this database does not list.
        format!(
            "dpkg --admindir={0} --log={0}/dpkg.log --force-depends {args}",
            self.admin.display()
        )
    }

    fn policy(&self, body: Option<&str>) {
        let path = self.policy_dir.join("policy-rc.d");
        std::fs::write(&path, format!("#!/bin/sh\n{}\n", body.unwrap_or("exit 0"))).unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }

    fn debs(&self) -> String {
        debs().dir.display().to_string()
    }
}

/// svc-any's supervisor is the manager: its enabled links and pid files.
const BUILTIN: Native = Native {
    enabled: "[ -L \"$SVC_ANY_STATE_DIR/builtin/enabled/pkdemo\" ]",
    running: "p=$(cut -d' ' -f1 \"$SVC_ANY_RUNTIME_DIR/pids/pkdemo\" 2>/dev/null) && [ -n \"$p\" ] && kill -0 \"$p\"",
    pid: "cut -d' ' -f1 \"$SVC_ANY_RUNTIME_DIR/pids/pkdemo\"",
    disable_stop: "svc-any disable pkdemo && svc-any stop pkdemo",
    enable: "svc-any enable pkdemo",
    try_restart: "svc-any try-restart pkdemo",
    break_manager: "mv \"$SVC_ANY_RUNTIME_DIR/supervisor.sock\" \"$SVC_ANY_RUNTIME_DIR/supervisor.sock.broken\"",
    repair_manager: "mv \"$SVC_ANY_RUNTIME_DIR/supervisor.sock.broken\" \"$SVC_ANY_RUNTIME_DIR/supervisor.sock\"",
    files: "\"$SVC_ANY_STATE_DIR/builtin/pkdemo.toml\"",
    snapshot: "\"$SVC_ANY_STATE_DIR\" \"$SVC_ANY_RUNTIME_DIR\" /etc/svc-any /usr/lib/pkdemo",
};

#[test]
fn deb_lifecycle_with_real_dpkg_under_the_builtin_supervisor() {
    if !enabled("deb_lifecycle_with_real_dpkg_under_the_builtin_supervisor") {
        return;
    }
    let m = HostMachine::new("pk-deb", true);
    assert_eq!(m.out("svc-any detect"), "builtin");
    deb_lifecycle(&m, &BUILTIN);
    for path in HOST_PATHS {
        assert!(
            !Path::new(path).exists(),
            "{path} is still there after the purge"
        );
    }
}

/// A definition for the example's program (from the repository) on `port`, greeting `greeting`.
fn definition_on(port: u16, greeting: &str) -> String {
    format!(
        "exec = [\"{}\", \"--port\", \"{port}\"]\nenv = {{ PKDEMO_GREETING = \"{greeting}\" }}\n",
        repo().join(EXAMPLE).join("pkdemo").display()
    )
}

/// The pid the supervisor of `m`'s scope runs NAME as, if it runs.
fn supervised_pid(m: &HostMachine, name: &str) -> Option<String> {
    let out = m.sh(&format!(
        "p=$(cut -d' ' -f1 \"$SVC_ANY_RUNTIME_DIR/pids/{name}\" 2>/dev/null) && [ -n \"$p\" ] && kill -0 \"$p\" && echo \"$p\""
    ));
    out.status
        .success()
        .then(|| text(&out.stdout).trim().to_string())
}

#[test]
fn rpm_scriptlets_as_plain_shell_with_the_counts_rpm_passes() {
    if !enabled("rpm_scriptlets_as_plain_shell_with_the_counts_rpm_passes") {
        return;
    }
    let m = HostMachine::new("pk-rpm", false);
    let before = m.out("find \"$SVC_ANY_STATE_DIR\" \"$SVC_ANY_RUNTIME_DIR\" 2>/dev/null | sort");
    let def = m.scope.dir.join("rpmdemo.toml");
    let file = def.display().to_string();
    let scriptlet = |script: &str, count: &str| -> String {
        let mut cmd = svc_any();
        cmd.args([
            "hook", "snippets", "rpm", "rpmdemo", "-f", &file, "--script", script,
        ]);
        let fragment = ok(&run(&mut cmd), "hook snippets rpm");
        // As rpm runs a scriptlet: sh, the count as $1.
        ok(
            &m.sh(&format!("set -- {count}\n{fragment}")),
            &format!("%{script} {count}"),
        )
    };
    let enabled_link = m.scope.state().join("builtin/enabled/rpmdemo");

    // Install: %post 1 installs, enables, starts.
    std::fs::write(&def, definition_on(18432, "one")).unwrap();
    scriptlet("post", "1");
    let pid = supervised_pid(&m, "rpmdemo").expect("running after %post 1");
    assert!(enabled_link.is_symlink(), "enabled after %post 1");

    // Upgrade with a changed definition: %post 2 restarts; the old package's %preun 1 and
    // %postun 1 leave it running.
    std::fs::write(&def, definition_on(18432, "two")).unwrap();
    scriptlet("post", "2");
    let pid2 = supervised_pid(&m, "rpmdemo").expect("running after %post 2");
    assert_ne!(
        pid2, pid,
        "%post 2 with a new definition did not restart it"
    );
    scriptlet("preun", "1");
    scriptlet("postun", "1");
    assert_eq!(
        supervised_pid(&m, "rpmdemo"),
        Some(pid2.clone()),
        "%preun 1 / %postun 1"
    );

    // Upgrade with nothing changed: nothing restarts.
    scriptlet("post", "2");
    scriptlet("preun", "1");
    scriptlet("postun", "1");
    assert_eq!(
        supervised_pid(&m, "rpmdemo"),
        Some(pid2),
        "an unchanged upgrade restarted it"
    );

    // Erase: %preun 0 stops, %postun 0 removes everything svc-any wrote.
    scriptlet("preun", "0");
    assert_eq!(
        supervised_pid(&m, "rpmdemo"),
        None,
        "running after %preun 0"
    );
    scriptlet("postun", "0");
    let after = m.out("find \"$SVC_ANY_STATE_DIR\" \"$SVC_ANY_RUNTIME_DIR\" 2>/dev/null | sort");
    assert_eq!(after, before, "%postun 0 left files");
}

#[test]
fn the_policy_layer_decides_every_start_stop_and_restart() {
    if !enabled("the_policy_layer_decides_every_start_stop_and_restart") {
        return;
    }
    let m = HostMachine::new("pk-policy", false);
    let def = m.scope.dir.join("poldemo.toml");
    let asked = m.scope.dir.join("asked");
    let policy = |code: &str, fallback: &str| {
        m.policy(Some(&format!(
            "echo \"$1 $2\" >>'{}'\n{}exit {code}",
            asked.display(),
            if fallback.is_empty() {
                String::new()
            } else {
                format!("echo '{fallback}'\n")
            }
        )))
    };
    let hook = |script: &str, args: &str| -> Output {
        m.sh(&format!(
            "svc-any hook deb {script} -f '{}' poldemo -- {args}",
            def.display()
        ))
    };
    let pid = || supervised_pid(&m, "poldemo");
    std::fs::write(&def, definition_on(18433, "a")).unwrap();

    // 101: installed and enabled, not started; not an error.
    policy("101", "");
    let said = ok(&hook("postinst", "configure ''"), "postinst under 101");
    assert!(said.contains("forbids `start` (101)"), "{said}");
    assert_eq!(pid(), None, "started under 101");
    assert!(m.scope.state().join("builtin/enabled/poldemo").is_symlink());

    // 1 (policy undefined): started, with a warning, as invoke-rc.d does.
    policy("1", "");
    let out = hook("postinst", "configure ''");
    ok(&out, "postinst under 1");
    assert!(
        text(&out.stderr).contains("policy undefined"),
        "{}",
        text(&out.stderr)
    );
    let first = pid().expect("started under 1");

    // 102 (the policy layer failed): nothing done, a warning, exit 0.
    policy("102", "");
    std::fs::write(&def, definition_on(18433, "b")).unwrap();
    let out = hook("postinst", "configure 1.0");
    ok(&out, "postinst under 102");
    assert!(
        text(&out.stderr).contains("policy-rc.d failed"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(pid(), Some(first.clone()), "restarted under 102");

    // 0: the restart 102 kept from happening is done by the next hook.
    policy("0", "");
    ok(&hook("postinst", "configure 1.0"), "postinst under 0");
    let second = pid().expect("running under 0");
    assert_ne!(second, first, "the owed restart did not happen");

    // 106 with a fallback: `stop` instead of the restart.
    policy("106", "stop");
    std::fs::write(&def, definition_on(18433, "c")).unwrap();
    let said = ok(
        &hook("postinst", "configure 1.0"),
        "postinst under 106 stop",
    );
    assert!(
        said.contains("asks for `stop` instead of `restart` (106)"),
        "{said}"
    );
    assert_eq!(pid(), None, "the fallback stop did not stop it");

    // 104: allowed.
    policy("104", "");
    ok(&hook("postinst", "configure ''"), "postinst under 104");
    let third = pid().expect("started under 104");

    // 106 with an unknown action first: skipped with a warning, the next one done.
    policy("106", "bogus try-restart");
    std::fs::write(&def, definition_on(18433, "d")).unwrap();
    let out = hook("postinst", "configure 1.0");
    ok(&out, "postinst under 106 bogus try-restart");
    assert!(
        text(&out.stderr).contains("`bogus`"),
        "{}",
        text(&out.stderr)
    );
    let fourth = pid().expect("running after the fallback try-restart");
    assert_ne!(fourth, third);

    // 106 without a fallback is an error of the policy layer: the stop is not done.
    policy("106", "");
    ok(
        &hook("prerm", "remove"),
        "prerm under 106 without a fallback",
    );
    assert_eq!(pid(), Some(fourth), "stopped without a fallback");

    // 0: the stop is done.
    policy("0", "");
    ok(&hook("prerm", "remove"), "prerm under 0");
    assert_eq!(pid(), None, "not stopped under 0");
    ok(&hook("postrm", "purge"), "postrm purge");

    // It was asked about this service and each action, one argument each.
    let asked = std::fs::read_to_string(&asked).unwrap();
    assert_eq!(
        asked.lines().collect::<Vec<_>>(),
        [
            "poldemo start",
            "poldemo start",
            "poldemo restart",
            "poldemo restart",
            "poldemo restart",
            "poldemo start",
            "poldemo restart",
            "poldemo stop",
            "poldemo stop",
        ],
        "what policy-rc.d was asked"
    );
}

#[test]
fn dpkg_root_gets_files_and_boot_links_and_nothing_starts() {
    if !is_root() {
        eprintln!("skipping dpkg_root_gets_files_and_boot_links_and_nothing_starts: run as root");
        return;
    }
    let tree = scratch("packaging-dpkg-root");
    std::fs::create_dir_all(tree.join("etc/svc-any")).unwrap();
    std::fs::create_dir_all(tree.join("sbin")).unwrap();
    std::fs::create_dir_all(tree.join("var/lib")).unwrap();
    std::os::unix::fs::symlink("/lib/systemd/systemd", tree.join("sbin/init")).unwrap();
    let definition = tree.join("etc/svc-any/pkdemo.toml");
    std::fs::copy(repo().join(EXAMPLE).join("pkdemo.toml"), &definition).unwrap();
    let empty = common::snapshot(&tree);
    let hook = |script: &str, args: &[&str]| -> Output {
        let mut cmd = svc_any();
        cmd.env("DPKG_ROOT", &tree)
            .args(["hook", "deb", script, "pkdemo", "--"])
            .args(args);
        run(&mut cmd)
    };

    let out = hook("postinst", &["configure", ""]);
    let said = ok(&out, "postinst with DPKG_ROOT");
    assert!(
        said.contains("pkdemo: not started") && said.contains("DPKG_ROOT="),
        "{said}"
    );
    let unit = tree.join("etc/systemd/system/pkdemo.service");
    assert!(std::fs::read_to_string(&unit)
        .unwrap()
        .contains("generated by svc-any from /etc/svc-any/pkdemo.toml"));
    assert_eq!(
        std::fs::read_link(tree.join("etc/systemd/system/multi-user.target.wants/pkdemo.service"))
            .unwrap(),
        Path::new("/etc/systemd/system/pkdemo.service")
    );
    assert!(tree.join("var/lib/svc-any/services/pkdemo.json").is_file());
    assert!(
        !Path::new("/etc/systemd/system/pkdemo.service").exists(),
        "written on the host"
    );
    assert!(
        !Path::new("/var/lib/svc-any/services/pkdemo.json").exists(),
        "recorded on the host"
    );

    // A definition that does not validate fails the package, and changes nothing.
    std::fs::write(&definition, "exec = [\"relative\"]\n").unwrap();
    let installed = common::snapshot(&tree);
    let out = hook("postinst", &["configure", "1.0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("pkdemo.toml:1"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        common::snapshot(&tree),
        installed,
        "a refused definition changed the tree"
    );
    std::fs::copy(repo().join(EXAMPLE).join("pkdemo.toml"), &definition).unwrap();

    // Remove: not at boot; purge: as before.
    ok(&hook("prerm", &["remove"]), "prerm with DPKG_ROOT");
    ok(&hook("postrm", &["remove"]), "postrm remove with DPKG_ROOT");
    assert!(unit.is_file(), "the definition stays on remove");
    assert!(!tree
        .join("etc/systemd/system/multi-user.target.wants/pkdemo.service")
        .exists());
    ok(&hook("postrm", &["purge"]), "postrm purge with DPKG_ROOT");
    std::fs::copy(repo().join(EXAMPLE).join("pkdemo.toml"), &definition).unwrap();
    let names = |s: Vec<String>| -> Vec<String> {
        s.into_iter()
            .map(|l| l.split(' ').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(common::snapshot(&tree)),
        names(empty),
        "purge left files in the tree"
    );
}

// ---- real init systems as PID 1 of containers -------------------------------------------

/// A booted container.
struct Boxed(Container);

impl Machine for Boxed {
    fn sh(&self, script: &str) -> Output {
        self.0.sh(script)
    }

    fn policy(&self, body: Option<&str>) {
        let script = match body {
            Some(body) => format!(
                "printf '#!/bin/sh\\n%s\\n' '{body}' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d"
            ),
            None => "rm -f /usr/sbin/policy-rc.d".into(),
        };
        ok(&self.0.sh(&script), "setting policy-rc.d");
    }

    fn debs(&self) -> String {
        "/root/debs".into()
    }
}

/// The directories whose contents a purge must leave as before the first install.
const SYSTEM_DIRS: &str = "/etc /usr /opt /srv /var/lib /var/log";

const SYSTEMD: Native = Native {
    enabled: "[ \"$(systemctl is-enabled pkdemo 2>/dev/null)\" = enabled ]",
    running: "systemctl is-active --quiet pkdemo",
    pid: "systemctl show -p MainPID --value pkdemo",
    disable_stop: "systemctl disable --now pkdemo",
    enable: "systemctl enable pkdemo",
    try_restart: "systemctl try-restart pkdemo",
    // systemctl talks to PID 1 through its private socket, else through D-Bus.
    break_manager: "mv /run/systemd/private /run/systemd/private.broken && mv /run/dbus/system_bus_socket /run/dbus/system_bus_socket.broken",
    repair_manager: "mv /run/systemd/private.broken /run/systemd/private && mv /run/dbus/system_bus_socket.broken /run/dbus/system_bus_socket",
    files: "/etc/systemd/system/pkdemo.service /var/lib/svc-any/env/pkdemo.env",
    snapshot: SYSTEM_DIRS,
};

const OPENRC: Native = Native {
    enabled: "[ -L /etc/runlevels/default/pkdemo ]",
    running: "rc-service pkdemo status >/dev/null 2>&1",
    pid: "cat /run/openrc/options/pkdemo/child_pid",
    disable_stop: "rc-update del pkdemo default && rc-service pkdemo stop",
    enable: "rc-update add pkdemo default",
    try_restart: "rc-service --ifstarted pkdemo restart",
    // Every init script runs through openrc-run.
    break_manager: "mount --bind /bin/false /sbin/openrc-run",
    repair_manager: "umount /sbin/openrc-run",
    files: "/etc/init.d/pkdemo /etc/conf.d/pkdemo",
    snapshot: SYSTEM_DIRS,
};

const SYSV: Native = Native {
    enabled: "ls /etc/rc2.d/S??pkdemo >/dev/null 2>&1",
    running: "service pkdemo status >/dev/null 2>&1",
    pid: "cut -d' ' -f1 /run/svc-any/pids/pkdemo",
    disable_stop: "update-rc.d pkdemo disable && service pkdemo stop",
    enable: "update-rc.d pkdemo enable",
    try_restart: "/etc/init.d/pkdemo try-restart",
    // The LSB script asks svc-any's supervisor, through its socket.
    break_manager: "mv /run/svc-any/supervisor.sock /run/svc-any/supervisor.sock.broken",
    repair_manager: "mv /run/svc-any/supervisor.sock.broken /run/svc-any/supervisor.sock",
    files: "/etc/init.d/pkdemo /var/lib/svc-any/builtin/pkdemo.toml",
    snapshot: SYSTEM_DIRS,
};

/// An image build, then the deb lifecycle: svc-any's .deb and the example are installed from
/// a chroot into the tree of a container that is down (nothing may start, the service must be
/// enabled), the tree is booted (the init starts it), the example purged, then
/// [`deb_lifecycle`] on the running system.
fn image_build_then_lifecycle(profile: &str, backend: &str, n: &Native) {
    let tar = &debs().tar;
    let c = Container::unbooted(profile, "pkg");
    let out = c.chroot(
        false,
        &[
            "sh",
            "-c",
            "mkdir -p /root/debs && tar -x -C /root/debs && dpkg -i /root/debs/svc-any_*.deb /root/debs/pkdemo_1.0_all.deb",
        ],
        tar,
    );
    let said = ok(&out, "dpkg -i in a chroot");
    eprintln!(
        "--- dpkg -i in a chroot of the {profile} tree:\n{said}{}",
        text(&out.stderr)
    );
    assert!(
        said.contains(&format!(
            "pkdemo: not started (it starts at boot): {backend} is not running here (chroot"
        )),
        "{said}"
    );
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
    // Nothing ran in the tree: no supervisor, no output; and it starts at boot.
    let out = c.chroot(
        true,
        &[
            "sh",
            "-c",
            &format!(
                "{} && ls /etc/svc-any/pkdemo.toml {} && ! ls -d /run/svc-any /var/log/svc-any /var/log/pkdemo.log 2>/dev/null",
                n.enabled, n.files
            ),
        ],
        b"",
    );
    ok(&out, "the tree after the image build");

    // Booting the tree starts it.
    c.boot_kept();
    let m = Boxed(c);
    assert!(
        m.eventually(
            Duration::from_secs(30),
            &format!("[ \"$({GREETING})\" = hello ]")
        ),
        "pkdemo does not answer after booting the tree"
    );
    assert!(
        m.holds(n.running),
        "not running after boot, in the manager's words"
    );
    // svc-any's own .deb: installed, and the binary it carries works here.
    assert_eq!(
        m.out("dpkg-query -W -f='${Status}' svc-any"),
        "install ok installed"
    );
    assert_eq!(m.out("/usr/bin/svc-any detect"), backend);

    ok(&m.dpkg("-P pkdemo"), "dpkg -P pkdemo after the image build");
    assert!(!m.holds(n.running));
    assert!(!m.holds(&format!("ls {} 2>/dev/null | grep -q .", n.files)));
    deb_lifecycle(&m, n);
}

#[test]
fn image_build_and_deb_lifecycle_on_real_systemd() {
    if !enabled("image_build_and_deb_lifecycle_on_real_systemd") {
        return;
    }
    image_build_then_lifecycle("systemd", "systemd", &SYSTEMD);
}

#[test]
fn image_build_and_deb_lifecycle_on_real_openrc() {
    if !enabled("image_build_and_deb_lifecycle_on_real_openrc") {
        return;
    }
    image_build_then_lifecycle("openrc", "openrc", &OPENRC);
}

#[test]
fn image_build_and_deb_lifecycle_on_real_sysvinit() {
    if !enabled("image_build_and_deb_lifecycle_on_real_sysvinit") {
        return;
    }
    image_build_then_lifecycle("sysv", "sysv", &SYSV);
}
