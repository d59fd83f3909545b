//! `svc-any render` for SysV: a golden LSB script that sh, dash and shellcheck accept.
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use std::process::Command;

use common::*;

fn script(fixture: &str) -> String {
    let file = fixtures().join("specs").join(fixture);
    let out = run(svc_any()
        .args(["--backend", "sysv", "render", "-f"])
        .arg(&file));
    assert!(
        out.status.success(),
        "render {fixture}: {}",
        text(&out.stderr)
    );
    let rendered = text(&out.stdout)
        .replace(
            &fixtures().join("specs").display().to_string(),
            "<fixtures>",
        )
        .replace(&bin().display().to_string(), "<svc-any>");
    // The first file is the LSB script; the supervisor's definition follows. File headers are
    // `### /path (mode ...)`; the script has `### BEGIN INIT INFO` lines of its own.
    let mut body = String::new();
    let mut headers = 0;
    for line in rendered.lines() {
        if line.starts_with("### /") || line.starts_with("### enable:") {
            headers += 1;
            continue;
        }
        if headers == 1 {
            body.push_str(line);
            body.push('\n');
        }
    }
    body
}

fn golden(name: &str, actual: &str) {
    common::golden("sysv", name, actual);
}

#[test]
fn the_lsb_script_is_posix_and_passes_shellcheck() {
    for fixture in ["full.toml", "minimal.toml"] {
        let body = script(fixture);
        golden(&fixture.replace(".toml", ".sh"), &body);
        let dir = scratch(&format!("sysv-{fixture}"));
        let path = dir.join("script");
        std::fs::write(&path, &body).unwrap();
        for shell in ["sh", "dash"] {
            let out = Command::new(shell).arg("-n").arg(&path).output().unwrap();
            assert!(out.status.success(), "{shell} -n: {}", text(&out.stderr));
        }
        match Command::new("shellcheck")
            .args(["--shell=sh", "--severity=style"])
            .arg(&path)
            .output()
        {
            Ok(out) => assert!(
                out.status.success(),
                "shellcheck {fixture}:\n{}",
                text(&out.stdout)
            ),
            Err(_) if std::env::var_os("CI").is_some() => {
                panic!("shellcheck is not installed (tests/run installs it)")
            }
            Err(_) => eprintln!("skipping shellcheck: not installed (tests/run installs it)"),
        }
    }
}

#[test]
fn the_header_orders_after_dependencies_and_the_verbs_are_lsb() {
    let body = script("full.toml");
    for line in [
        "### BEGIN INIT INFO",
        "# Provides:          full",
        "# Required-Start:    $remote_fs $syslog db",
        "# Default-Start:     2 3 4 5",
        "# Default-Stop:      0 1 6",
        "### END INIT INFO",
        "restart | force-reload)",
    ] {
        assert!(
            body.lines().any(|l| l == line),
            "missing `{line}` in\n{body}"
        );
    }
    assert!(
        body.contains("--backend sysv -q reload \"$NAME\""),
        "full.toml has a reload_signal"
    );
    assert!(script("minimal.toml").contains("has no reload_signal: use restart"));
}
