//! `svc-any render` and offline installs for supervisord: golden files, run scripts that parse
//! in sh and dash, the include directory read from the target's configuration, and values
//! supervisord cannot carry refused with exit 2 naming the key and the backend.
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use std::process::Command;

use common::*;

#[test]
fn programs_run_scripts_and_the_autostart_overlay_are_golden() {
    for fixture in ["adversarial.toml", "instances.toml", "minimal.toml"] {
        let out = rendered_fixture("supervisord", fixture);
        common::golden("supervisord", &fixture.replace(".toml", ".txt"), &out);
        for (path, content) in emitted_files(&out)
            .iter()
            .filter(|(p, _)| p.ends_with(".sh"))
        {
            let dir = scratch(&format!("supervisord-syntax-{}", path.replace('/', "_")));
            let script = dir.join("run.sh");
            std::fs::write(&script, content).unwrap();
            for shell in ["sh", "dash"] {
                let ok = Command::new(shell).arg("-n").arg(&script).status().unwrap();
                assert!(ok.success(), "{shell} -n {path}");
            }
        }
    }
    let instances = rendered_fixture("supervisord", "instances.toml");
    for line in [
        "[program:instances@1]",
        "[program:instances@4]",
        "[group:instances]\nprograms=instances@1,instances@2,instances@3,instances@4",
        "command='/bin/sh' '/etc/supervisor/svc-any/instances@2.sh'",
        "stdout_logfile=/var/log/msg-3.log",
        "exec '/bin/sleep' '1000' '--partition=4'",
        "### enable: /etc/supervisor/conf.d/instances~enabled.conf -> /etc/supervisor/svc-any/instances.enabled",
    ] {
        assert!(instances.contains(line), "no `{line}` in\n{instances}");
    }
}

#[test]
fn restart_policy_stop_and_logs_become_supervisord_keys() {
    let dir = scratch("supervisord-keys");
    let def = dir.join("keys.toml");
    std::fs::write(
        &def,
        "exec = [\"/bin/sleep\", \"100%\"]\nrestart = \"no\"\nrestart_limit = 0\n\
         user = \"root\"\ngroup = \"root\"\n\
         stop_signal = \"INT\"\nstop_timeout = \"2500ms\"\nsuccess_exit_codes = [3]\n\
         log = { file = \"/var/log/k%.log\", max_size = \"1M\", keep = 2 }\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "supervisord", "render", "-f"])
        .arg(&def));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let conf = text(&out.stdout);
    for line in [
        "autorestart=false\n",
        // root's primary group is root: what supervisord's user= gives it anyway.
        "user=root\n",
        // 130: death by INT is a clean stop.
        "exitcodes=0,3,130\n",
        "startretries=1000000\n",
        "stopsignal=INT\n",
        "stopwaitsecs=3\n",
        "stdout_logfile=/var/log/k%%.log\n",
        "stdout_logfile_maxbytes=1048576\n",
        "stdout_logfile_backups=2\n",
        "exec '/bin/sleep' '100%'\n",
    ] {
        assert!(conf.contains(line), "no `{line}` in\n{conf}");
    }
}

/// Each definition with one value supervisord cannot carry: exit 2, the key and the backend
/// named, nothing written.
#[test]
fn values_supervisord_cannot_carry_are_refused_naming_key_and_backend() {
    let dir = scratch("supervisord-refused");
    let cases = [
        ("log = { file = \"/var/log/a ;b.log\" }", "log.file"),
        ("log = { file = \"/var/log/a\\nb.log\" }", "log.file"),
        ("log = { file = \"/var/log/%(here)s.log\" }", "log.file"),
        ("env_file = \"/etc/default/x\"", "env_file"),
        ("group = \"daemon\"", "group"),
        ("restart = \"on-abnormal\"", "restart"),
        ("after = [\"$time-sync\"]", "after"),
    ];
    for (i, (line, key)) in cases.iter().enumerate() {
        let def = dir.join(format!("r{i}.toml"));
        std::fs::write(&def, format!("exec = [\"/bin/true\"]\n{line}\n")).unwrap();
        let root = dir.join(format!("root{i}"));
        std::fs::create_dir_all(&root).unwrap();
        let out = run(svc_any()
            .args(["--backend", "supervisord", "install", "--root"])
            .arg(&root)
            .arg("-f")
            .arg(&def));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{line}: {err}");
        assert!(err.contains(&format!("`{key}`")), "{line}: {err}");
        assert!(
            err.contains("supervisord") || *key == "log.file",
            "{line}: {err}"
        );
        assert!(
            !root.join("etc/supervisor").exists(),
            "{line}: something was written"
        );
    }
}

/// The include directory comes from the target's own configuration (RHEL's layout here).
#[test]
fn files_go_where_the_targets_include_reads() {
    let root = scratch("supervisord-rhel");
    std::fs::create_dir_all(root.join("etc/supervisord.d")).unwrap();
    std::fs::write(
        root.join("etc/supervisord.conf"),
        "[supervisord]\nlogfile=/var/log/supervisor/supervisord.log\n\n[include]\nfiles = supervisord.d/*.ini\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "supervisord", "install", "--root"])
        .arg(&root)
        .args(["web", "--", "/bin/sleep", "1000"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(root.join("etc/supervisord.d/web.ini").is_file());
    assert!(root.join("etc/supervisord-svc-any/web.sh").is_file());
    let link = std::fs::read_link(root.join("etc/supervisord.d/web~enabled.ini")).unwrap();
    assert_eq!(
        link,
        std::path::Path::new("/etc/supervisord-svc-any/web.enabled")
    );
}
