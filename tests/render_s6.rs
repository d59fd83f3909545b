//! `svc-any render` for s6: golden files, every emitted script parses in sh and dash, and
//! what a run directory cannot carry is refused, naming the key. Regenerate the golden files
//! after an intended change with `SVC_ANY_BLESS=1 cargo test --test render_s6`.

mod common;

use common::*;

#[test]
fn run_directories_are_golden_and_every_script_parses() {
    for fixture in ["run-dir-user.toml", "adversarial.toml", "minimal.toml"] {
        let out = rendered_fixture("s6", fixture);
        common::golden("s6", &fixture.replace(".toml", ".txt"), &out);
        let scripts = emitted_files(&out);
        assert!(scripts.len() >= 2, "{fixture}: {out}");
        for (path, content) in scripts {
            if path.ends_with("/run") || path.ends_with("/finish") {
                assert!(content.starts_with("#!/bin/sh\n"), "{path}: {content}");
                parses_in_sh_and_dash(&format!("{fixture}-{}", path.replace('/', "_")), &content);
            }
        }
    }
    let full = rendered_fixture("s6", "run-dir-user.toml");
    for line in [
        "export PATTERN='50% of $HOME'",
        "export QUOTE='it'\\''s'",
        "cd '/srv/app data' || exit 111",
        "ulimit -n 65536",
        "exec s6-softlimit -p 512 s6-setuidgid 'nobody' '/usr/bin/python3' '-m' 'http.server' '8080' '--bind' '127.0.0.1'",
        "if [ \"$count\" -ge 3 ]; then",
        "case $how in 'exited 0'|'exited 3'|'exited 75'|'exited 130'|'killed 2') exit 125 ;; esac",
        "### /etc/s6/sv/run-dir-user/down-signal (mode 644)\nSIGINT\n",
        "### /etc/s6/sv/run-dir-user/timeout-kill (mode 644)\n20000\n",
        "exec s6-log t n10 s1000000 '/var/log/s6/run-dir-user'",
    ] {
        assert!(full.contains(line), "missing `{line}` in:\n{full}");
    }
}

#[test]
fn instances_get_a_directory_and_a_link_each() {
    let dir = scratch("s6-instances");
    let def = dir.join("mt.toml");
    std::fs::write(
        &def,
        "exec = [\"/bin/sleep\", \"1000\", \"--partition={instance}\"]\ninstances = [\"1\", \"b.2\"]\n",
    )
    .unwrap();
    let out = run(svc_any()
        .args(["--backend", "s6", "render", "-f"])
        .arg(&def));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = text(&out.stdout);
    for want in [
        "/etc/s6/sv/mt@1/run",
        "/etc/s6/sv/mt@b.2/finish",
        "exec '/bin/sleep' '1000' '--partition=b.2'",
    ] {
        assert!(out.contains(want), "missing `{want}` in:\n{out}");
    }
}

#[test]
fn what_a_run_directory_cannot_carry_is_refused_with_its_key() {
    refused_naming_key_and_backend("s6", RUN_DIR_REFUSALS);
}
