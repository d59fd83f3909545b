//! Bad input: a message that names the key, line and fix; exit 2; nothing on disk changes.

mod common;

use common::*;

/// Installs `toml` under a scratch `--root`; asserts exit 2, that stderr holds every `expect`
/// fragment, and that the tree is exactly as before.
fn rejected(case: &str, toml: &str, expect: &[&str]) {
    let root = scratch(&format!("bad-{case}"));
    std::fs::create_dir_all(root.join("etc/systemd/system")).unwrap();
    // An image's accounts are its own: the user check reads the tree's passwd and group.
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
    let spec_dir = scratch(&format!("bad-{case}-spec"));
    let file = spec_dir.join("demo.toml");
    std::fs::write(&file, toml).unwrap();
    let before = snapshot(&root);
    let out = run(svc_any()
        .args(["--backend", "systemd", "install", "--root"])
        .arg(&root)
        .arg("-f")
        .arg(&file));
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{case}: expected exit 2, got {:?}\n{stderr}",
        out.status.code()
    );
    for fragment in expect {
        assert!(
            stderr.contains(fragment),
            "{case}: stderr lacks `{fragment}`:\n{stderr}"
        );
    }
    assert_eq!(snapshot(&root), before, "{case}: the tree changed");
}

#[test]
fn misspelt_key_gets_a_suggestion_with_its_line() {
    rejected(
        "misspelt",
        "exec = [\"/bin/true\"]\nrestrat = \"always\"\n",
        &[
            "demo.toml:2:1",
            "unknown key `restrat`",
            "did you mean `restart`?",
        ],
    );
}

#[test]
fn relative_program() {
    rejected(
        "relative",
        "exec = [\"sleep\", \"1\"]\n",
        &["`exec[0]`", "is not an absolute path", "full path"],
    );
}

#[test]
fn missing_exec() {
    rejected(
        "no-exec",
        "description = \"x\"\n",
        &["`exec`", "missing `exec`"],
    );
}

#[test]
fn empty_exec() {
    rejected("empty-exec", "exec = []\n", &["`exec`", "empty"]);
}

#[test]
fn wrong_type() {
    rejected(
        "wrong-type",
        "exec = \"/bin/true\"\n",
        &["demo.toml:1:8", "`exec`", "invalid type"],
    );
}

#[test]
fn bad_duration() {
    rejected(
        "duration",
        "exec = [\"/bin/true\"]\nrestart_delay = \"soon\"\n",
        &["demo.toml:2:17", "`restart_delay`", "\"500ms\""],
    );
    rejected(
        "duration-number",
        "exec = [\"/bin/true\"]\nstop_timeout = 10\n",
        &["`stop_timeout`", "duration string"],
    );
}

#[test]
fn bad_restart_limit() {
    rejected(
        "restart-limit",
        "exec = [\"/bin/true\"]\nrestart_limit = -1\n",
        &["`restart_limit`", "never give up"],
    );
    rejected(
        "restart-limit-interval",
        "exec = [\"/bin/true\"]\nrestart_limit_interval = \"0s\"\n",
        &["`restart_limit_interval`", "zero"],
    );
}

#[test]
fn bad_signal() {
    rejected(
        "signal",
        "exec = [\"/bin/true\"]\nstop_signal = \"SIGNOPE\"\n",
        &["`stop_signal`", "unknown signal", "TERM"],
    );
}

#[test]
fn bad_restart_policy() {
    rejected(
        "restart",
        "exec = [\"/bin/true\"]\nrestart = \"on-fail\"\n",
        &["`restart`", "did you mean \"on-failure\"?"],
    );
}

#[test]
fn unknown_user() {
    rejected(
        "user",
        "exec = [\"/bin/true\"]\nuser = \"nosuchuser\"\n",
        &["`user`", "no user `nosuchuser`", "useradd"],
    );
}

#[test]
fn invalid_env_name() {
    rejected(
        "env-name",
        "exec = [\"/bin/true\"]\nenv = { \"BAD-NAME\" = \"x\" }\n",
        &["`env.BAD-NAME`", "not a valid environment variable name"],
    );
}

#[test]
fn nul_in_an_argument() {
    rejected(
        "nul",
        "exec = [\"/bin/echo\", \"a\\u0000b\"]\n",
        &["`exec`", "NUL"],
    );
}

#[test]
fn names_that_are_paths_or_too_long() {
    rejected(
        "name-slash",
        "name = \"../etc/passwd\"\nexec = [\"/bin/true\"]\n",
        &["`name`", "letter or digit"],
    );
    rejected(
        "name-space",
        "name = \"my service\"\nexec = [\"/bin/true\"]\n",
        &["`name`", "letters, digits"],
    );
    rejected(
        "name-long",
        &format!("name = \"{}\"\nexec = [\"/bin/true\"]\n", "a".repeat(65)),
        &["`name`", "limit is 64"],
    );
}

#[test]
fn an_argument_longer_than_the_kernel_takes() {
    let toml = format!("exec = [\"/bin/echo\", \"{}\"]\n", "x".repeat(128 * 1024));
    rejected(
        "huge-arg",
        &toml,
        &["`exec`", "more than the kernel passes"],
    );
}

#[test]
fn misused_instance_placeholder() {
    rejected(
        "instance-unused",
        "exec = [\"/bin/echo\", \"{instance}\"]\n",
        &["`exec[1]`", "no instances"],
    );
    rejected(
        "instance-typo",
        "exec = [\"/bin/echo\", \"{instanse}\"]\ninstances = [\"a\"]\n",
        &["`exec[1]`", "did you mean {instance}?"],
    );
}

#[test]
fn working_dir_with_parent_components() {
    rejected(
        "workdir",
        "exec = [\"/bin/true\"]\nworking_dir = \"/srv/../etc\"\n",
        &["`working_dir`", "`..`"],
    );
}

#[test]
fn a_value_systemd_cannot_carry() {
    rejected(
        "trailing-backslash",
        "exec = [\"/bin/true\"]\ndescription = \"ends in \\\\\"\n",
        &["`description`", "backslash"],
    );
    rejected(
        "quote-in-program",
        "exec = [\"/opt/a\\\"b\"]\n",
        &["`exec`", "program path"],
    );
    // Deliverable, but systemd could then answer no status query for the unit.
    rejected(
        "noncharacter",
        "exec = [\"/bin/echo\", \"\\ufdd0\"]\n",
        &["`exec`", "noncharacter"],
    );
}

#[test]
fn not_toml_at_all() {
    rejected("not-toml", "this is not toml\n", &["demo.toml:1:"]);
}

#[test]
fn dependency_cycle_in_a_project_file() {
    let toml = "[services.a]\nexec = [\"/bin/true\"]\nafter = [\"b\"]\n[services.b]\nexec = [\"/bin/true\"]\nrequires = [\"a\"]\n";
    rejected("cycle", toml, &["dependency cycle: a -> b -> a"]);
}

#[test]
fn user_key_at_user_level() {
    rejected(
        "user-level-user",
        "exec = [\"/bin/true\"]\nlevel = \"user\"\nuser = \"root\"\n",
        &["`user`", "runs as the user who installs it"],
    );
}

#[test]
fn a_foreign_file_is_not_overwritten_without_force() {
    let root = scratch("bad-foreign");
    let unit = root.join("etc/systemd/system/demo.service");
    std::fs::create_dir_all(unit.parent().unwrap()).unwrap();
    std::fs::write(&unit, "[Service]\nExecStart=/bin/true\n").unwrap();
    let spec = scratch("bad-foreign-spec").join("demo.toml");
    std::fs::write(&spec, "exec = [\"/bin/sleep\", \"1\"]\n").unwrap();
    let before = snapshot(&root);
    let out = run(svc_any()
        .args(["--backend", "systemd", "install", "--root"])
        .arg(&root)
        .arg("-f")
        .arg(&spec));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("was not written by svc-any"));
    assert!(text(&out.stderr).contains("--force"));
    assert_eq!(snapshot(&root), before);
    let forced = run(svc_any()
        .args(["--backend", "systemd", "install", "--force", "--root"])
        .arg(&root)
        .arg("-f")
        .arg(&spec));
    assert!(forced.status.success(), "{}", text(&forced.stderr));
    assert!(std::fs::read_to_string(&unit)
        .unwrap()
        .contains("generated by svc-any"));
}

#[test]
fn usage_errors_exit_2() {
    let out = run(svc_any().args(["install", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(svc_any()
        .args(["--backend", "nosuch", "render", "-f"])
        .arg(fixtures().join("specs/minimal.toml")));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("unknown backend `nosuch`"));
    let out = run(svc_any().args(["--backend", "systemd", "start", "not/a/name"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn quick_form_errors_name_the_flag_value() {
    let root = scratch("bad-quick");
    let before = snapshot(&root);
    let out = run(svc_any()
        .args(["--backend", "systemd", "install", "--root"])
        .arg(&root)
        .args(["demo", "--restart", "sometimes", "--", "/bin/sleep", "1"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("<command line>"));
    assert!(text(&out.stderr).contains("`restart`"));
    assert_eq!(snapshot(&root), before);
}
