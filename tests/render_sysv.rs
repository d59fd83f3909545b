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
        "# Required-Start:    $remote_fs $syslog db $network",
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

/// `svc-any --backend BACKEND render -f FILE` of `toml` written to a scratch `FILE`.
fn render_definition(case: &str, file: &str, backend: &str, toml: &str) -> std::process::Output {
    let path = scratch(&format!("sysv-{case}")).join(file);
    std::fs::write(&path, toml).unwrap();
    run(svc_any()
        .args(["--backend", backend, "render", "-f"])
        .arg(&path))
}

#[test]
fn a_systemd_unit_dependency_is_refused_with_its_key_and_value() {
    // In a file of several services, the line is found under the service's own table.
    let toml = "[services.db]\nexec = [\"/bin/true\"]\n\
                [services.web]\nexec = [\"/bin/true\"]\nrequires = [\"db\", \"db.service\"]\n";
    let out = render_definition("systemd-unit", "svc-any.toml", "sysv", toml);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for part in [
        "svc-any.toml:5:19:",
        "`requires[1]`",
        "`db.service`",
        "sysv",
        "hint:",
    ] {
        assert!(err.contains(part), "missing `{part}` in\n{err}");
    }
    // db's files come out before web is refused; none of them names db.service.
    let rendered = text(&out.stdout);
    assert!(!rendered.contains("db.service"), "{rendered}");

    // systemd has the unit: the same definition carries it as written.
    let out = render_definition("systemd-unit-on-systemd", "svc-any.toml", "systemd", toml);
    let units = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(units.lines().any(|l| l == "Requires=db.service"), "{units}");
}

#[test]
fn a_service_of_the_file_is_required_in_the_lsb_header_and_on_systemd() {
    let toml = "[services.db]\nexec = [\"/bin/true\"]\n\
                [services.web]\nexec = [\"/bin/true\"]\nafter = [\"db\"]\n";
    let out = render_definition("service-of-file", "svc-any.toml", "sysv", toml);
    let rendered = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        rendered
            .lines()
            .any(|l| l == "# Required-Start:    $remote_fs $syslog db"),
        "{rendered}"
    );

    let out = render_definition(
        "service-of-file-on-systemd",
        "svc-any.toml",
        "systemd",
        toml,
    );
    let units = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(units.lines().any(|l| l == "After=db.service"), "{units}");
}

#[test]
fn aliases_are_provided_and_a_host_service_after_is_should_start() {
    // As Debian's ssh.service: an alias, and ordering after a unit the host may not have.
    let toml = "exec = [\"/usr/sbin/sshd\", \"-D\"]\naliases = [\"sshd\"]\n\
                after = [\"$network\", \"auditd.service\"]\nbefore = [\"cron\"]\n";
    let out = render_definition("alias-should-start", "ssh.toml", "sysv", toml);
    let rendered = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for line in [
        "# Provides:          ssh sshd",
        "# Required-Start:    $remote_fs $syslog $network",
        "# Should-Start:      auditd",
        "# Should-Stop:       auditd",
        "# X-Start-Before:    cron",
        "# X-Stop-After:      cron",
    ] {
        assert!(
            rendered.lines().any(|l| l == line),
            "no `{line}` in\n{rendered}"
        );
    }
    // The supervisor's own file answers to the service's name and waits for nothing.
    assert!(!rendered.contains("auditd.service"), "{rendered}");

    // Requiring it is more than LSB can say of a unit: refused, naming the key.
    let toml = "exec = [\"/usr/sbin/sshd\", \"-D\"]\nrequires = [\"auditd.service\"]\n";
    let out = render_definition("requires-host-unit", "ssh.toml", "sysv", toml);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`requires[0]`"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn with_not_carried_warn_a_systemd_unit_dependency_is_left_out_and_named() {
    let toml = "not_carried = \"warn\"\nexec = [\"/usr/sbin/cron\", \"-f\"]\n\
                after = [\"$remote-fs\", \"nss-user-lookup.target\"]\n";
    let out = render_definition("warn-target", "cron.toml", "builtin", toml);
    let err = text(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("not carried by builtin: after = \"nss-user-lookup.target\""),
        "{err}"
    );
    let rendered = text(&out.stdout);
    assert!(!rendered.contains("nss-user-lookup"), "{rendered}");
    // Only that entry: the facility, which builtin carries, stays.
    assert!(rendered.contains("$remote-fs"), "{rendered}");
}
