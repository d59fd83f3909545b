//! `svc-any render` for daemontools: golden files, every emitted script parses in sh and dash, and
//! what a run directory cannot carry is refused, naming the key. Regenerate the golden files
//! after an intended change with `SVC_ANY_BLESS=1 cargo test --test render_daemontools`.

mod common;

use common::*;

#[test]
fn run_directories_are_golden_and_every_script_parses() {
    for fixture in ["run-dir-user.toml", "adversarial.toml", "minimal.toml"] {
        let out = rendered_fixture("daemontools", fixture);
        common::golden("daemontools", &fixture.replace(".toml", ".txt"), &out);
        let scripts = emitted_files(&out);
        assert!(scripts.len() >= 2, "{fixture}: {out}");
        for (path, content) in scripts {
            if path.starts_with("/etc/sv/") {
                assert!(content.starts_with("#!/bin/sh\n"), "{path}: {content}");
                parses_in_sh_and_dash(&format!("{fixture}-{}", path.replace('/', "_")), &content);
            }
        }
    }
    let full = rendered_fixture("daemontools", "run-dir-user.toml");
    for line in [
        "export PATTERN='50% of $HOME'",
        "export QUOTE='it'\\''s'",
        "cd '/srv/app data' || exit 111",
        "ulimit -n 65536",
        "exec softlimit -p 512 setuidgid 'nobody' '/usr/bin/python3' '-m' 'http.server' '8080' '--bind' '127.0.0.1'",
        "if [ \"$count\" -ge 3 ]; then",
        "exec multilog t s1000000 n10 '/var/log/daemontools/run-dir-user'",
    ] {
        assert!(full.contains(line), "missing `{line}` in:\n{full}");
    }
}

#[test]
fn instances_get_a_directory_and_a_link_each() {
    let dir = scratch("daemontools-instances");
    let def = dir.join("mt.toml");
    std::fs::write(
        &def,
        "exec = [\"/bin/sleep\", \"1000\", \"--partition={instance}\"]\ninstances = [\"1\", \"b.2\"]\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "daemontools", "render", "-f"])
        .arg(&def));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    for want in [
        "/etc/sv/mt@1/run",
        "/etc/sv/mt@b.2/log/run",
        "exec '/bin/sleep' '1000' '--partition=b.2'",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn what_a_run_directory_cannot_carry_is_refused_with_its_key() {
    refused_naming_key_and_backend("daemontools", RUN_DIR_REFUSALS);
}
