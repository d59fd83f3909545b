//! What the matrix's cells promise beyond the scenarios (tests/matrix runs these with them):
//! the binary in every container is the static one that ships, and the Alpine-like tree is
//! what it claims to be and svc-any finds its init there.

use crate::common::container::{enabled, tested_bin, Container};

/// Whether the ELF file `bytes` asks for a program interpreter (PT_INTERP): a dynamic
/// executable names the loader of the libc it was linked with, a static one names none.
fn has_interpreter(bytes: &[u8]) -> bool {
    assert_eq!(&bytes[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(bytes[4], 2, "not a 64-bit ELF file");
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(bytes[0x20..0x28].try_into().unwrap()) as usize;
    let (size, count) = (u16_at(0x36), u16_at(0x38));
    (0..count).any(|i| {
        let at = phoff + i * size;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) == 3
    })
}

/// The binary bound into the containers (SVC_ANY_BIN, set by tests/run) starts on any cell:
/// it needs no libc of the cell's. Without SVC_ANY_BIN the containers get this run's own
/// build, dynamic on glibc, which only bookworm's cells can run: CI must set it.
#[test]
fn the_tested_binary_is_static() {
    if std::env::var_os("SVC_ANY_BIN").is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must test the shipped binary: set SVC_ANY_BIN, as tests/run does"
        );
        eprintln!("skipping: SVC_ANY_BIN is not set (tests/run sets it to the static musl build)");
        return;
    }
    let bin = tested_bin();
    let bytes = std::fs::read(&bin).unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    assert!(
        !has_interpreter(&bytes),
        "{} is dynamically linked; build it with --target x86_64-unknown-linux-musl",
        bin.display()
    );
}

#[test]
fn a_dynamic_executable_is_told_from_a_static_one() {
    // The checker itself: python3 is dynamic on every Debian; this test run's own svc-any is
    // built for the host's glibc.
    assert!(has_interpreter(&std::fs::read("/usr/bin/python3").unwrap()));
    assert!(has_interpreter(
        &std::fs::read(crate::common::bin()).unwrap()
    ));
}

/// The busybox tree: /bin/sh is busybox's ash, its applets come first on PATH, procps is gone
/// (ps and pidof are busybox's; there is no pgrep, Debian's busybox has none), and svc-any
/// still tells that OpenRC booted it: detection reads /proc and /run, it runs no ps or pidof.
#[test]
fn busybox_tree_detects_openrc_without_procps() {
    if !enabled("cells::busybox_tree_detects_openrc_without_procps") {
        return;
    }
    let c = Container::boot_exact("openrc-busybox", "bb-detect");
    assert_eq!(c.sh_out("readlink -f /bin/sh"), "/usr/bin/busybox");
    for tool in ["ps", "pidof", "sh", "grep", "find", "kill"] {
        assert_eq!(
            c.sh_out(&format!("readlink -f \"$(which {tool})\"")),
            "/usr/bin/busybox",
            "{tool} is busybox's"
        );
    }
    assert!(
        !c.succeeds("dpkg -s procps >/dev/null 2>&1"),
        "procps is installed"
    );
    for path in [
        "/usr/bin/ps",
        "/usr/bin/pgrep",
        "/usr/bin/pidof",
        "/usr/sbin/pidof",
    ] {
        assert!(!c.succeeds(&format!("test -e {path}")), "{path} is there");
    }
    assert_eq!(c.sh_out("svc-any detect"), "openrc");
    let explained = c.sh_out("svc-any detect --explain");
    assert!(
        explained.contains("=> openrc: OpenRC booted this system"),
        "{explained}"
    );
    // The shell OpenRC runs a service script with is the tree's /bin/sh: ash, not dash.
    let out = c.svc_any_ok(&["install", "nap", "--start", "--", "/bin/sleep", "1000"]);
    assert!(out.contains("started nap"), "{out}");
    assert_eq!(c.sh_out("rc-service nap status >/dev/null; echo $?"), "0");
    assert!(
        c.succeeds("busybox ps -o pid,args | grep -q '[/]bin/sleep 1000'"),
        "the service runs"
    );
    c.svc_any_ok(&["uninstall", "nap"]);
}

/// The golden definitions of tests/render_systemd.rs, rendered inside a systemd cell for the
/// systemd that runs there (svc-any asks it its version) and verified by that systemd:
/// `systemd-analyze verify` exits 0 on warnings such as an unknown key, so the proof that every
/// key exists in that version is an empty stderr. On 247 this is the check that svc-any emits
/// nothing newer; on >= 254 that the native backoff is there and accepted.
#[test]
fn systemd_verifies_every_golden_definition() {
    if !enabled("cells::systemd_verifies_every_golden_definition") {
        return;
    }
    let c = Container::boot("systemd", "goldens");
    let said = c.sh_out("systemctl --version");
    let version: u32 = said
        .strip_prefix("systemd ")
        .and_then(|s| s.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("systemctl --version: {said}"));
    // (fixture, the unit's file name for verify, user level)
    let goldens = [
        ("minimal", "minimal.service", false),
        ("full", "full.service", false),
        ("instances", "instances@1.service", false),
        ("adversarial", "adversarial.service", false),
        ("daemon", "daemon.service", false),
        ("user", "user.service", true),
    ];
    for (fixture, unit, user) in goldens {
        let file = format!("/opt/svc-any-share/specs/{fixture}.toml");
        let live = c.svc_any_ok(&["--backend", "systemd", "render", "-f", &file]);
        let pinned = c.svc_any_ok(&[
            "render",
            "--for",
            &format!("systemd@{version}"),
            "-f",
            &file,
        ]);
        assert_eq!(
            live, pinned,
            "{fixture}: the running systemd's version was not the one used"
        );
        if fixture == "full" {
            assert_eq!(
                live.contains("\nRestartSteps=7\nRestartMaxDelaySec=30\n"),
                version >= 254,
                "systemd {version}: native backoff exactly from 254 on\n{live}"
            );
        }
        // The unit is the first file of the render; db.service, which full requires, does not
        // exist here, and a missing dependency is an error of its own.
        let text: String = live
            .lines()
            .skip_while(|l| l.starts_with("### "))
            .take_while(|l| !l.starts_with("### "))
            .filter(|l| *l != "Requires=db.service")
            .map(|l| format!("{l}\n"))
            .collect();
        let path = format!("/tmp/goldens/{unit}");
        c.write_files(&[(path.clone(), text.clone())]);
        let verify = match user {
            // The user manager wants a runtime directory even to verify offline.
            true => format!("XDG_RUNTIME_DIR=/tmp/goldens systemd-analyze --user verify {path}"),
            false => format!("systemd-analyze verify {path}"),
        };
        let out = c.sh(&verify);
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd {version}: {verify}:\n{}\n---\n{text}",
            crate::common::text(&out.stderr)
        );
    }
}

/// examples/ci/svc-any-matrix, the matrix for a user's own definition, tells a service that
/// stays up (the demo HTTP server: green, exit 0) from one that crashes every two seconds and
/// is restarted (red in "stays up", exit 1), on one cell.
#[test]
fn the_users_matrix_tells_green_from_red() {
    if !enabled("cells::the_users_matrix_tells_green_from_red") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cell = crate::common::container::cell_profile("systemd");
    let run = |definition: &std::path::Path| {
        let out = std::process::Command::new("bash")
            .arg(root.join("examples/ci/svc-any-matrix"))
            .arg("-f")
            .arg(definition)
            .args(["--stay", "4", &cell])
            .env("SVC_ANY_BIN", tested_bin())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bash runs svc-any-matrix");
        let stdout = crate::common::text(&out.stdout);
        let row: Vec<String> = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{cell} ")))
            .unwrap_or_else(|| {
                panic!(
                    "no row for {cell}:\n{stdout}{}",
                    crate::common::text(&out.stderr)
                )
            })
            .split_whitespace()
            .skip(1)
            .map(String::from)
            .collect();
        (out.status.code(), row)
    };
    let (code, row) = run(&root.join("examples/demo.toml"));
    assert_eq!(
        (code, row.as_slice()),
        (
            Some(0),
            ["ok", "ok", "ok", "ok"].map(String::from).as_slice()
        )
    );
    let dir = crate::common::scratch("users-matrix");
    let crashy = dir.join("crashy.toml");
    std::fs::write(
        &crashy,
        "exec = [\"/bin/sh\", \"-c\", \"sleep 2; exit 1\"]\nrestart = \"on-failure\"\n",
    )
    .unwrap();
    let (code, row) = run(&crashy);
    assert_eq!(code, Some(1), "{row:?}");
    assert_eq!(row[1], "FAILED", "stays up: {row:?}");
}
