//! `svc-any render` for systemd: golden files, and systemd's own parser accepts every unit.
//!
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

/// Renders a fixture with the systemd backend; returns the unit text with the fixture
/// directory replaced by `<fixtures>` (it is machine-specific). Detection reads an empty fake
/// host, so no systemd that happens to run here picks the version: the units are for an
/// unknown one (the oldest's keys) unless `--for` is among `extra`.
fn render(fixture: &str, extra: &[&str]) -> String {
    let file = fixtures().join("specs").join(fixture);
    let out = run(svc_any()
        .env("SVC_ANY_PROBE_ROOT", scratch("render-no-host"))
        .args(["--backend", "systemd", "render"])
        .args(extra)
        .arg("-f")
        .arg(&file));
    assert!(
        out.status.success(),
        "render {fixture} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout).replace(
        &fixtures().join("specs").display().to_string(),
        "<fixtures>",
    )
}

fn golden(name: &str, actual: &str) {
    common::golden("systemd", name, actual);
}

/// The unit text of a render: the first file, without its `###` header (what follows, the
/// environment file and the boot links, is not the unit).
fn unit_text(rendered: &str) -> String {
    rendered
        .lines()
        .skip_while(|l| l.starts_with("### "))
        .take_while(|l| !l.starts_with("### "))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// `systemd-analyze verify` exits 0 on warnings, so the proof is an empty stderr.
fn verify(unit_name: &str, unit: &str, user: bool) {
    let dir = scratch(&format!("verify-{unit_name}"));
    let path = dir.join(unit_name);
    std::fs::write(&path, unit).unwrap();
    let mut cmd = Command::new("systemd-analyze");
    if user {
        // The user manager wants a runtime directory even to verify offline.
        cmd.arg("--user").env("XDG_RUNTIME_DIR", &dir);
    }
    let out = cmd
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze is installed (package systemd)");
    let stderr = text(&out.stderr);
    assert!(
        out.status.success() && stderr.is_empty(),
        "systemd-analyze verify {unit_name}:\n{stderr}\n---\n{unit}"
    );
}

#[test]
fn minimal_definition_gets_safe_defaults() {
    let out = render("minimal.toml", &[]);
    golden("minimal.service", &out);
    assert!(out.contains("ExecStart=:\"/bin/sleep\" \"1000\"\n"));
    assert!(out.contains("Restart=on-failure\nRestartSec=1\n"));
    assert!(
        out.contains("SuccessExitStatus=143 SIGTERM\n"),
        "a JVM stopped by TERM exits 143: clean"
    );
    assert!(out.contains("WantedBy=multi-user.target"));
    verify("minimal.service", &unit_text(&out), false);
}

#[test]
fn every_key_is_mapped() {
    let out = render("full.toml", &[]);
    golden("full.service", &out);
    for line in [
        "User=root",
        "Group=root",
        "WorkingDirectory=/srv/app data",
        // In the environment file, not the unit: no specifiers there, `$` escaped.
        "PATTERN=\"50% of \\$HOME\"",
        "EMPTY=\"\"",
        "EnvironmentFile=/var/lib/svc-any/env/full.env",
        "EnvironmentFile=/etc/default/full",
        "StartLimitIntervalSec=30",
        "StartLimitBurst=4",
        "Restart=always",
        "RestartSec=0.25",
        "KillSignal=SIGINT",
        "TimeoutStopSec=20",
        "SuccessExitStatus=3 75 130 SIGINT",
        "ExecReload=/bin/kill -s HUP $MAINPID",
        "After=db.service",
        "After=network-online.target",
        "Requires=db.service",
        "LimitNOFILE=65536",
        "LimitNPROC=infinity",
        "StandardOutput=append:/var/log/full.log",
    ] {
        assert!(out.lines().any(|l| l == line), "missing `{line}` in\n{out}");
    }
    // db.service does not exist on the verifying host, so Requires= would be an error there.
    verify(
        "full.service",
        &unit_text(&out).replace("Requires=db.service\n", ""),
        false,
    );
}

/// What a version understands: systemd 254 brought native backoff, so `restart_max_delay`
/// becomes RestartSteps=/RestartMaxDelaySec= on 257 and stays out on 247 (and on an unknown
/// version), where the fixed RestartSec= is the documented fallback. Everything else is the
/// same unit. The offline verify is this machine's systemd (252): the 257 keys are checked by
/// the matrix's systemd-13 cell, the 247 unit by systemd-11 (tests/conformance/versions.rs).
#[test]
fn systemd_versions_get_what_they_understand() {
    let old = render("full.toml", &["--for", "systemd@247"]);
    let new = render("full.toml", &["--for", "systemd@257"]);
    golden("full@247.service", &old);
    golden("full@257.service", &new);
    assert_eq!(
        old,
        render("full.toml", &[]),
        "unknown renders as the oldest"
    );
    for key in ["RestartSteps=", "RestartMaxDelaySec="] {
        assert!(!old.contains(key), "247 has no {key}:\n{old}");
    }
    // 250 ms doubled up to 30 s: 7 doublings (32 s), as svc-any's own backoff.
    assert!(
        new.contains("\nRestartSteps=7\nRestartMaxDelaySec=30\n"),
        "{new}"
    );
    let same: Vec<&str> = new
        .lines()
        .filter(|l| !l.starts_with("RestartSteps=") && !l.starts_with("RestartMaxDelaySec="))
        .collect();
    assert_eq!(same, old.lines().collect::<Vec<_>>());
    // The defaults back off too: 1 s doubled up to 60 s.
    let minimal = render("minimal.toml", &["--for", "systemd@257"]);
    assert!(
        minimal.contains("RestartSteps=6\nRestartMaxDelaySec=60\n"),
        "{minimal}"
    );
}

#[test]
fn render_for_a_version_asks_for_manager_at_version() {
    for wrong in ["systemd", "systemd@latest", "@257"] {
        let out = run(svc_any()
            .args(["render", "--for", wrong, "-f"])
            .arg(fixtures().join("specs/minimal.toml")));
        assert_eq!(out.status.code(), Some(2), "--for {wrong}");
        assert!(
            text(&out.stderr).contains("MANAGER@VERSION"),
            "{}",
            text(&out.stderr)
        );
    }
    // The manager named picks the backend, whatever runs here.
    let out = run(svc_any()
        .args(["render", "--for", "systemd@247", "-f"])
        .arg(fixtures().join("specs/minimal.toml")));
    assert!(
        text(&out.stdout).contains("[Service]"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn instances_make_a_template_unit() {
    let out = render("instances.toml", &[]);
    golden("instances.service", &out);
    assert!(out.starts_with("### /etc/systemd/system/instances@.service"));
    assert!(out.contains("\"--partition=%i\""));
    // An environment file has no `%i`: one file per instance, named by it.
    assert!(out.contains("EnvironmentFile=/var/lib/svc-any/env/instances@%i.env"));
    assert!(out.contains("### /var/lib/svc-any/env/instances@3.env (mode 600)\n"));
    assert!(out.contains("PARTITION=\"3\"\n"));
    assert!(!out.contains("Environment=\""), "a value in the unit");
    assert!(out.contains("StandardOutput=append:/var/log/msg-%i.log"));
    for i in 1..=4 {
        let link = format!(
            "### enable: /etc/systemd/system/multi-user.target.wants/instances@{i}.service -> /etc/systemd/system/instances@.service"
        );
        assert!(out.contains(&link), "missing {link}");
    }
    verify("instances@1.service", &unit_text(&out), false);
}

#[test]
fn adversarial_arguments_are_quoted_for_systemd() {
    let out = render("adversarial.toml", &[]);
    golden("adversarial.service", &out);
    assert!(out.contains(r#""$HOME" "${HOME}" "$$" "100%%" "%%i" "%%%%""#));
    assert!(out.contains(r#""tab\there" "new\nline" "esc\x1b[0m" "del\x7f""#));
    assert!(out.contains("SPACES=\"  padded  \"\n"));
    verify("adversarial.service", &unit_text(&out), false);
}

#[test]
fn user_level_units_live_in_the_users_config() {
    let out = render("user.toml", &[]);
    golden("user.service", &out);
    assert!(out.starts_with("### /home/test/.config/systemd/user/user.service"));
    assert!(out.contains("WantedBy=default.target"));
    assert!(!out.contains("User="));
    verify("user.service", &unit_text(&out), true);
}

#[test]
fn a_template_directory_replaces_the_layout() {
    let dir = scratch("templates-override");
    std::fs::write(
        dir.join("systemd.service.tera"),
        "{{ marker }}\n[Service]\nExecStart={{ exec_start }}\n",
    )
    .unwrap();
    let out = render("minimal.toml", &["--template-dir", dir.to_str().unwrap()]);
    assert!(out.ends_with("[Service]\nExecStart=:\"/bin/sleep\" \"1000\"\n### enable: /etc/systemd/system/multi-user.target.wants/minimal.service -> /etc/systemd/system/minimal.service\n"), "{out}");
}

#[test]
fn a_template_that_drops_a_key_of_the_definition_is_refused() {
    let dir = scratch("templates-old-layout");
    std::fs::write(
        dir.join("systemd.service.tera"),
        "{{ marker }}\n[Service]\nExecStart={{ exec_start }}\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "systemd", "--template-dir"])
        .arg(&dir)
        .arg("render")
        .arg("-f")
        .arg(fixtures().join("specs/daemon-portable.toml")));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("drops `Documentation=man:portable(8)`"),
        "{err}"
    );
}

#[test]
fn a_template_that_drops_the_marker_is_refused() {
    let dir = scratch("templates-no-marker");
    std::fs::write(
        dir.join("systemd.service.tera"),
        "[Service]\nExecStart={{ exec_start }}\n",
    )
    .unwrap();
    let file = fixtures().join("specs/minimal.toml");
    let out = run(svc_any()
        .args(["--backend", "systemd", "--template-dir"])
        .arg(&dir)
        .arg("render")
        .arg("-f")
        .arg(file));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("dropped the marker line"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn every_example_renders_a_unit_systemd_accepts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = run(svc_any()
            .args(["--backend", "systemd", "render", "-f"])
            .arg(&path));
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            text(&out.stderr)
        );
        let stdout = text(&out.stdout);
        let name = path.file_stem().unwrap().to_str().unwrap();
        verify(&format!("{name}.service"), &unit_text(&stdout), false);
        seen += 1;
    }
    assert!(seen > 0, "no examples found in {}", dir.display());
}

/// `credentials` passes secrets as files (systemd's LoadCredential=, read by PID 1 as root,
/// handed over in $CREDENTIALS_DIRECTORY); no other manager has them, so every other backend
/// refuses the key, naming it and itself.
#[test]
fn credentials_are_loaded_by_systemd_and_refused_elsewhere() {
    let dir = scratch("render-credentials");
    let spec = dir.join("cred.toml");
    std::fs::write(
        &spec,
        "exec = [\"/bin/sleep\", \"9\"]\ncredentials = { db = \"/etc/app/db 100%\", \"tls.key\" = \"/etc/app/tls.key\" }\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "systemd", "render", "-f"])
        .arg(&spec));
    // A path with a blank cannot be one word of LoadCredential=: refused, not split.
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`credentials`"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(
        &spec,
        "exec = [\"/bin/sleep\", \"9\"]\ncredentials = { db = \"/etc/app/db-100%\", \"tls.key\" = \"/etc/app/tls.key\" }\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "systemd", "render", "-f"])
        .arg(&spec));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let unit = text(&out.stdout);
    for line in [
        "LoadCredential=db:/etc/app/db-100%%",
        "LoadCredential=tls.key:/etc/app/tls.key",
    ] {
        assert!(
            unit.lines().any(|l| l == line),
            "missing `{line}` in\n{unit}"
        );
    }
    verify("cred.service", &unit_text(&unit), false);
    for backend in ["openrc", "sysv", "builtin", "launchd"] {
        let out = run(svc_any()
            .args(["--backend", backend, "render", "-f"])
            .arg(&spec));
        assert_eq!(out.status.code(), Some(2), "{backend}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("credentials") && stderr.contains(&format!("not carried by {backend}")),
            "{backend}: {stderr}"
        );
    }
}
