//! `svc-any render` for OpenRC: golden files, and every emitted script parses in sh and dash.
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use common::*;

fn golden(name: &str, actual: &str) {
    common::golden("openrc", name, actual);
}

#[test]
fn every_key_is_mapped_and_every_file_parses() {
    for fixture in [
        "full.toml",
        "adversarial.toml",
        "instances.toml",
        "minimal.toml",
    ] {
        let out = rendered_fixture("openrc", fixture);
        golden(&fixture.replace(".toml", ".txt"), &out);
        for (path, content) in emitted_files(&out) {
            parses_in_sh_and_dash(&format!("{fixture}-{}", path.replace('/', "_")), &content);
        }
    }
    let full = rendered_fixture("openrc", "full.toml");
    for line in [
        "command='\"$svc_any_command\"'",
        "directory='\"$svc_any_directory\"'",
        "command_user='\"$svc_any_user\"'",
        "retry='SIGINT/20/SIGKILL/5'",
        "respawn_max=3",
        "respawn_period=30",
        "rc_ulimit='-n 65536 -u unlimited'",
        "\tneed db",
        "svc_any_user='root:root'",
        "svc_any_directory='/srv/app data'",
        "svc_any_log='/var/log/full.log'",
        "svc_any_env_PATTERN='50% of $HOME'",
    ] {
        assert!(
            full.lines().any(|l| l == line),
            "missing `{line}` in\n{full}"
        );
    }
    assert!(
        !full.contains("need network-online"),
        "only svc-any's own services are named in depend()"
    );
}

#[test]
fn instances_share_one_script_with_a_conf_d_each() {
    let out = rendered_fixture("openrc", "instances.toml");
    let paths: Vec<String> = emitted_files(&out).into_iter().map(|(p, _)| p).collect();
    assert_eq!(
        paths,
        [
            "/etc/init.d/instances",
            "/etc/conf.d/instances.1",
            "/etc/conf.d/instances.2",
            "/etc/conf.d/instances.3",
            "/etc/conf.d/instances.4"
        ]
    );
    assert!(out.contains("svc_any_arg_2='--partition=3'"));
    assert!(
        out.contains("### enable: /etc/runlevels/default/instances.4 -> /etc/init.d/instances.4")
    );
}

/// `svc-any --backend BACKEND render -f FILE` of `toml` written to a scratch `FILE`.
fn render_definition(case: &str, file: &str, backend: &str, toml: &str) -> std::process::Output {
    let path = scratch(&format!("openrc-{case}")).join(file);
    std::fs::write(&path, toml).unwrap();
    run(svc_any()
        .args(["--backend", backend, "render", "-f"])
        .arg(&path))
}

#[test]
fn a_systemd_unit_dependency_is_refused_with_its_key_and_value() {
    // Required: more than OpenRC can say of a unit it may not have.
    let toml = "name = \"web\"\nexec = [\"/bin/true\"]\nrequires = [\"db.service\"]\n";
    let out = render_definition("systemd-unit", "web.toml", "openrc", toml);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for part in [
        "web.toml:3:13:",
        "`requires[0]`",
        "`db.service`",
        "openrc",
        "hint:",
        "\"db\"",
    ] {
        assert!(err.contains(part), "missing `{part}` in\n{err}");
    }
    assert!(
        out.stdout.is_empty(),
        "nothing rendered as if db.service were a service"
    );

    // systemd has the unit: the same definition carries it as written.
    let out = render_definition("systemd-unit-on-systemd", "web.toml", "systemd", toml);
    let unit = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(unit.lines().any(|l| l == "Requires=db.service"), "{unit}");

    // Only ordered after it (systemd's After=, which waits only for a unit that starts too):
    // OpenRC's own `after`, by its script's name.
    let toml = "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"db.service\"]\n";
    let out = render_definition("systemd-unit-after", "web.toml", "openrc", toml);
    let script = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(script.lines().any(|l| l == "\tafter db"), "{script}");
}

#[test]
fn a_service_of_the_file_is_named_in_depend_on_openrc_and_systemd() {
    let toml = "[services.db]\nexec = [\"/bin/true\"]\n\
                [services.web]\nexec = [\"/bin/true\"]\nafter = [\"db\"]\n";
    let out = render_definition("service-of-file", "svc-any.toml", "openrc", toml);
    let rendered = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let web = emitted_files(&rendered)
        .into_iter()
        .find(|(path, _)| path == "/etc/init.d/web")
        .expect("web's script")
        .1;
    assert!(web.lines().any(|l| l == "\tafter db"), "{web}");

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

/// Only svc-any's supervisor stamps log lines: a stamp asked for in so many words is refused
/// where another manager writes the file, naming key and backend (OpenRC hands the service to
/// the supervisor); `log.stderr` is carried by every backend.
#[test]
fn log_timestamps_is_the_supervisors_and_log_stderr_is_carried_everywhere() {
    let stamped = "name = \"web\"\nexec = [\"/bin/true\"]\n\
                   [log]\nfile = \"/var/log/web.log\"\ntimestamps = true\n";
    for backend in ["systemd", "launchd"] {
        let out = render_definition(&format!("stamps-{backend}"), "web.toml", backend, stamped);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{backend}: {err}");
        assert!(
            err.contains(&format!("not carried by {backend}: log.timestamps = true")),
            "{backend}: {err}"
        );
        assert!(out.stdout.is_empty(), "{backend} rendered anyway");
    }
    for backend in ["builtin", "sysv", "openrc"] {
        let out = render_definition(&format!("stamps-{backend}"), "web.toml", backend, stamped);
        assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
    }
    // OpenRC hands such a service to svc-any's supervisor, which stamps the lines.
    let out = render_definition("stamps-openrc-script", "web.toml", "openrc", stamped);
    let script = text(&out.stdout);
    assert!(
        script.contains("for what supervise-daemon cannot carry: log.timestamps = true")
            && script.contains("\"$svc_any\" --backend builtin -q start \"$svc_any_name\""),
        "{script}"
    );
    let apart = "name = \"web\"\nexec = [\"/bin/true\"]\n\
                 [log]\nfile = \"/var/log/web.log\"\nstderr = \"/var/log/web.err\"\n";
    for backend in ["systemd", "openrc", "launchd", "builtin", "sysv"] {
        let out = render_definition(&format!("stderr-{backend}"), "web.toml", backend, apart);
        assert!(out.status.success(), "{backend}: {}", text(&out.stderr));
        assert!(
            text(&out.stdout).contains("/var/log/web.err"),
            "{backend} dropped log.stderr:\n{}",
            text(&out.stdout)
        );
    }
    let same = "name = \"web\"\nexec = [\"/bin/true\"]\n\
                [log]\nfile = \"/var/log/web.log\"\nstderr = \"/var/log/web.log\"\n";
    let out = render_definition("stderr-same", "web.toml", "systemd", same);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("web.toml:5:") && err.contains("log.stderr"),
        "{err}"
    );
}
