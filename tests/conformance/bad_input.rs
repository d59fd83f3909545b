//! Bad input: a message that names the key, line and fix; exit 2; nothing on disk changes.
//!
//! The corpus below is one table: each definition is installed with the backend into a scratch
//! `--root` tree (accounts, records and the builtin supervisor's state all live in it), and each
//! must exit 2, name its file, line and key in the message, and leave the tree byte for byte as
//! it was. The tests after it are the command line's own, the same for every backend.

use std::path::Path;

use crate::common::backend::Backend;
use crate::common::*;

/// One bad definition: what the message must hold (the `file:line:` of the culprit first,
/// or only `demo.toml:` where the culprit is a key that is missing), and, where the refusal
/// is one dialect's limit, that dialect's backend (otherwise every backend refuses it).
struct Bad {
    case: &'static str,
    toml: String,
    expect: Vec<&'static str>,
    limit_of: Option<&'static str>,
}

fn bad(case: &'static str, toml: impl Into<String>, expect: &[&'static str]) -> Bad {
    Bad {
        case,
        toml: toml.into(),
        expect: expect.to_vec(),
        limit_of: None,
    }
}

/// Only systemd refuses these: its unit syntax cannot carry them; shell quoting can.
fn systemd_only(b: Bad) -> Bad {
    Bad {
        limit_of: Some("systemd"),
        ..b
    }
}

fn corpus() -> Vec<Bad> {
    const T: &str = "exec = [\"/bin/true\"]\n";
    let with = |rest: &str| format!("{T}{rest}");
    vec![
        // names: never a path, never odd bytes, never too long
        bad("name-slash", "name = \"../etc/passwd\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "letter or digit"]),
        bad("name-inner-slash", "name = \"a/b\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "holds `/`"]),
        bad("name-dotdot", "name = \"..\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "letter or digit"]),
        bad("name-nul", "name = \"a\\u0000b\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "holds `\\0`"]),
        bad("name-space", "name = \"my service\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "letters, digits"]),
        bad("name-empty", "name = \"\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "empty"]),
        bad("name-long", format!("name = \"{}\"\nexec = [\"/bin/true\"]\n", "a".repeat(65)), &["demo.toml:1:", "`name`", "limit is 64"]),
        bad("name-unit-suffix", "name = \"web.service\"\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "bare service name"]),
        bad("name-type", "name = 5\nexec = [\"/bin/true\"]\n", &["demo.toml:1:", "`name`", "invalid type"]),
        // exec: an absolute program, each argument deliverable
        bad("no-exec", "description = \"x\"\n", &["demo.toml:", "`exec`", "missing `exec`"]),
        bad("empty-exec", "exec = []\n", &["demo.toml:1:", "`exec`", "empty"]),
        bad("relative", "description = \"x\"\nexec = [\"sleep\", \"1\"]\n", &["demo.toml:2:", "`exec[0]`", "is not an absolute path", "full path"]),
        bad("empty-program", "exec = [\"\"]\n", &["demo.toml:1:", "`exec[0]`", "not an absolute path"]),
        bad("program-dotdot", "exec = [\"/usr/../bin/true\"]\n", &["demo.toml:1:", "`exec[0]`", "`..`"]),
        bad("program-control", "exec = [\"/bin/tr\\nue\"]\n", &["demo.toml:1:", "`exec[0]`", "control character"]),
        bad("wrong-type", "exec = \"/bin/true\"\n", &["demo.toml:1:8", "`exec`", "invalid type"]),
        bad("exec-item-type", "exec = [\"/bin/true\", 5]\n", &["demo.toml:1:", "`exec`", "invalid type"]),
        bad("nul", "exec = [\"/bin/echo\", \"a\\u0000b\"]\n", &["demo.toml:1:", "`exec`", "NUL"]),
        bad("huge-arg", format!("exec = [\"/bin/echo\", \"{}\"]\n", "x".repeat(128 * 1024)), &["demo.toml:1:", "`exec`", "more than the kernel passes"]),
        // keys: unknown ones get a suggestion, wrong types say so
        bad("misspelt", with("restrat = \"always\"\n"), &["demo.toml:2:1", "unknown key `restrat`", "did you mean `restart`?"]),
        bad("unknown-key", with("colour = \"blue\"\n"), &["demo.toml:2:", "unknown key `colour`"]),
        bad("unknown-in-log", with("[log]\nfile = \"/var/log/d.log\"\nrotate = 3\n"), &["demo.toml:4:", "unknown key `rotate`"]),
        bad("unknown-in-limits", with("[limits]\nnofiles = 10\n"), &["demo.toml:3:", "unknown key `nofiles`", "did you mean `nofile`?"]),
        bad("unknown-in-health", with("[health]\ntpc = \"127.0.0.1:80\"\n"), &["demo.toml:3:", "unknown key `tpc`", "did you mean `tcp`?"]),
        bad("not-toml", "this is not toml\n", &["demo.toml:1:"]),
        bad("unclosed-string", "exec = [\"/bin/true]\n", &["demo.toml:1:"]),
        bad("duplicate-key", "exec = [\"/bin/true\"]\nexec = [\"/bin/false\"]\n", &["demo.toml:2:", "duplicate"]),
        // durations, counts, signals
        bad("duration", with("restart_delay = \"soon\"\n"), &["demo.toml:2:17", "`restart_delay`", "\"500ms\""]),
        bad("duration-number", with("stop_timeout = 10\n"), &["demo.toml:2:", "`stop_timeout`", "duration string"]),
        bad("duration-negative", with("restart_delay = \"-1s\"\n"), &["demo.toml:2:", "`restart_delay`"]),
        bad("health-timeout", with("[health]\ntcp = \"127.0.0.1:80\"\ntimeout = \"fast\"\n"), &["demo.toml:4:", "`health.timeout`"]),
        bad("max-below-delay", with("restart_delay = \"5s\"\nrestart_max_delay = \"1s\"\n"), &["demo.toml:3:", "`restart_max_delay`", "shorter"]),
        bad("restart-limit", with("restart_limit = -1\n"), &["demo.toml:2:", "`restart_limit`", "never give up"]),
        bad("restart-limit-huge", with("restart_limit = 20000\n"), &["demo.toml:2:", "`restart_limit`", "10000"]),
        bad("restart-limit-interval", with("restart_limit_interval = \"0s\"\n"), &["demo.toml:2:", "`restart_limit_interval`", "zero"]),
        bad("restart", with("restart = \"on-fail\"\n"), &["demo.toml:2:", "`restart`", "did you mean \"on-failure\"?"]),
        bad("signal", with("stop_signal = \"SIGNOPE\"\n"), &["demo.toml:2:", "`stop_signal`", "unknown signal", "TERM"]),
        bad("signal-number", with("stop_signal = 15\n"), &["demo.toml:2:", "`stop_signal`", "invalid type"]),
        bad("reload-signal", with("reload_signal = \"SIGFOO\"\n"), &["demo.toml:2:", "`reload_signal`", "unknown signal"]),
        bad("exit-code-range", with("success_exit_codes = [0, 256]\n"), &["demo.toml:2:", "`success_exit_codes`", "0 to 255"]),
        bad("exit-code-type", with("success_exit_codes = \"0\"\n"), &["demo.toml:2:", "`success_exit_codes`", "invalid type"]),
        bad("limit-negative", with("[limits]\nnofile = -1\n"), &["demo.toml:3:", "`limits.nofile`", "not a limit"]),
        bad("limit-word", with("[limits]\nnproc = \"lots\"\n"), &["demo.toml:3:", "`limits.nproc`", "\"infinity\""]),
        bad("level", with("level = \"global\"\n"), &["demo.toml:2:", "`level`", "unknown level"]),
        // accounts, environment, paths
        bad("user", with("user = \"nosuchuser\"\n"), &["demo.toml:2:", "`user`", "no user `nosuchuser`", "useradd"]),
        bad("group", with("group = \"nosuchgroup\"\n"), &["demo.toml:2:", "`group`", "no group `nosuchgroup`"]),
        bad("user-invalid", with("user = \"Bad User\"\n"), &["demo.toml:2:", "`user`", "not a valid user name"]),
        bad("user-level-user", with("level = \"user\"\nuser = \"root\"\n"), &["demo.toml:3:", "`user`", "runs as the user who installs it"]),
        bad("env-name", with("env = { \"BAD-NAME\" = \"x\" }\n"), &["demo.toml:2:", "`env.BAD-NAME`", "not a valid environment variable name"]),
        bad("env-digit", with("[env]\n1A = \"x\"\n"), &["demo.toml:3:", "`env.1A`", "not a valid environment variable name"]),
        bad("env-nul", with("[env]\nA = \"x\\u0000y\"\n"), &["demo.toml:3:", "`env.A`", "NUL"]),
        bad("env-type", with("[env]\nA = 1\n"), &["demo.toml:3:", "`env.A`", "invalid type"]),
        bad("env-file-relative", with("env_file = \"etc/default/demo\"\n"), &["demo.toml:2:", "`env_file`", "not an absolute path"]),
        bad("workdir", with("working_dir = \"/srv/../etc\"\n"), &["demo.toml:2:", "`working_dir`", "`..`"]),
        bad("workdir-relative", with("working_dir = \"srv\"\n"), &["demo.toml:2:", "`working_dir`", "not an absolute path"]),
        bad("workdir-trailing-space", with("working_dir = \"/srv/app \"\n"), &["demo.toml:2:", "`working_dir`", "white space"]),
        bad("description-newline", with("description = \"a\\nb\"\n"), &["demo.toml:2:", "`description`", "control characters"]),
        // log and health tables
        bad("log-without-file", with("[log]\nkeep = 1\n"), &["demo.toml:2:", "`log.file`", "needs `file`"]),
        bad("log-relative", with("[log]\nfile = \"demo.log\"\n"), &["demo.toml:3:", "`log.file`", "not an absolute path"]),
        bad("log-keep", with("[log]\nfile = \"/var/log/d.log\"\nkeep = 5000\n"), &["demo.toml:4:", "`log.keep`", "0 to 1000"]),
        bad("log-size", with("[log]\nfile = \"/var/log/d.log\"\nmax_size = \"big\"\n"), &["demo.toml:4:", "`log.max_size`"]),
        bad("health-two", with("[health]\ntcp = \"127.0.0.1:80\"\nhttp = \"http://127.0.0.1/\"\n"), &["demo.toml:2:", "`health`", "exactly one"]),
        bad("health-tcp", with("[health]\ntcp = \"localhost\"\n"), &["demo.toml:3:", "`health.tcp`"]),
        bad("health-http", with("[health]\nhttp = \"ftp://127.0.0.1/\"\n"), &["demo.toml:3:", "`health.http`"]),
        bad("health-exec-relative", with("[health]\nexec = [\"check\"]\n"), &["demo.toml:3:", "`health.exec[0]`", "not an absolute path"]),
        // instances and their placeholder
        bad("instance-unused", "exec = [\"/bin/echo\", \"{instance}\"]\n", &["demo.toml:1:", "`exec[1]`", "no instances"]),
        bad("instance-typo", "exec = [\"/bin/echo\", \"{instanse}\"]\ninstances = [\"a\"]\n", &["demo.toml:1:", "`exec[1]`", "did you mean {instance}?"]),
        bad("instance-in-workdir", with("description = \"x\"\nworking_dir = \"/srv/{instance}\"\n"), &["demo.toml:3:", "`working_dir`", "no instances"]),
        bad("instances-empty", with("instances = []\n"), &["demo.toml:2:", "`instances`", "empty list"]),
        bad("instances-twice", with("instances = [\"a\", \"a\"]\n"), &["demo.toml:2:", "`instances`", "listed twice"]),
        bad("instance-name", with("instances = [\"a/b\"]\n"), &["demo.toml:2:", "`instances`", "instance names are"]),
        bad("instances-with-at", "name = \"web@x\"\nexec = [\"/bin/true\"]\ninstances = [\"a\"]\n", &["demo.toml:3:", "`instances`", "`@`"]),
        // dependencies
        bad("after-self", "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"web\"]\n", &["demo.toml:3:", "`after`", "cannot depend on itself"]),
        bad("requires-path", with("requires = [\"../db\"]\n"), &["demo.toml:2:", "`requires`", "letter or digit"]),
        bad("cycle", "[services.a]\nexec = [\"/bin/true\"]\nafter = [\"b\"]\n[services.b]\nexec = [\"/bin/true\"]\nrequires = [\"a\"]\n", &["demo.toml:3:", "dependency cycle: a -> b -> a"]),
        bad("group-member", "[services.a]\nexec = [\"/bin/true\"]\n[groups]\nall = [\"a\", \"b\"]\n", &["demo.toml:4:", "`groups.all`", "no service `b`"]),
        bad("project-name", "[services.a]\nname = \"b\"\nexec = [\"/bin/true\"]\n", &["demo.toml:2:", "`services.a.name`", "sets name"]),
        bad("project-relative", "[services.a]\ndescription = \"x\"\nexec = [\"true\"]\n", &["demo.toml:3:", "`exec[0]`", "not an absolute path"]),
        // the keys of real daemons: each value checked at its line
        bad("type", with("type = \"daemon\"\n"), &["demo.toml:2:", "`type`", "unknown service type", "\"simple\""]),
        bad("command-relative", with("pre_start = [[\"nginx\", \"-t\"]]\n"), &["demo.toml:2:", "`pre_start[0][0]`", "not an absolute path"]),
        bad("command-type", with("post_start = [\"/bin/true\"]\n"), &["demo.toml:2:", "`post_start[0]`", "expected a command"]),
        bad("command-table-key", with("post_stop = [{ exec = [\"/bin/true\"], may_fial = true }]\n"), &["demo.toml:2:", "`post_stop[0]`", "did you mean `may_fail`?"]),
        bad("command-no-exec", with("stop_exec = [{ may_fail = true }]\n"), &["demo.toml:2:", "`stop_exec[0]`", "needs `exec`"]),
        bad("reload-both", with("reload_signal = \"HUP\"\nreload_exec = [[\"/bin/true\"]]\n"), &["demo.toml:2:", "`reload_signal`", "both"]),
        bad("expand-inside-word", "exec = [\"/bin/echo\", \"--port=$PORT\"]\nexec_expand = true\n", &["demo.toml:", "`exec[1]`", "${NAME}"]),
        bad("expand-program", "exec = [\"/opt/$APP/bin\"]\nexec_expand = true\n", &["demo.toml:", "`exec[0]`", "program path"]),
        bad("runtime-dir-absolute", with("runtime_dir = \"/run/x\"\n"), &["demo.toml:2:", "`runtime_dir`", "relative name"]),
        bad("runtime-dir-dotdot", with("state_dir = [\"a/../b\"]\n"), &["demo.toml:2:", "`state_dir`", "`..`"]),
        bad("dir-mode-alone", with("logs_dir_mode = \"0750\"\n"), &["demo.toml:2:", "`logs_dir_mode`", "without `logs_dir`"]),
        bad("dir-mode", with("config_dir = \"x\"\nconfig_dir_mode = \"0999\"\n"), &["demo.toml:3:", "`config_dir_mode`", "not a mode"]),
        bad("umask", with("umask = \"77777\"\n"), &["demo.toml:2:", "`umask`", "not a mode"]),
        bad("kill-mode", with("kill_mode = \"control-group\"\n"), &["demo.toml:2:", "`kill_mode`", "\"group\""]),
        bad("stop-timeout-word", with("stop_timeout = \"forever\"\n"), &["demo.toml:2:", "`stop_timeout`"]),
        bad("restart-abnormal", with("restart = \"on-abnormall\"\n"), &["demo.toml:2:", "`restart`", "did you mean \"on-abnormal\"?"]),
        bad("prevent-code", with("restart_prevent_exit_codes = [300]\n"), &["demo.toml:2:", "`restart_prevent_exit_codes`", "0 to 255"]),
        bad("facility", with("after = [\"$network-onlin\"]\n"), &["demo.toml:2:", "`after`", "did you mean `$network-online`?"]),
        bad("wants-path", with("wants = [\"../db\"]\n"), &["demo.toml:2:", "`wants`", "letter or digit"]),
        bad("capability", with("capabilities = [\"CAP_NET_BIND\"]\n"), &["demo.toml:2:", "`capabilities`", "no Linux capability", "CAP_NET_BIND_SERVICE"]),
        bad("protect-system", with("protect_system = \"yes\"\n"), &["demo.toml:2:", "`protect_system`", "\"strict\""]),
        bad("protect-home", with("protect_home = \"ro\"\n"), &["demo.toml:2:", "`protect_home`", "\"read-only\""]),
        bad("rw-path-relative", with("read_write_paths = [\"-var/lib/x\"]\n"), &["demo.toml:2:", "`read_write_paths`", "not an absolute path"]),
        bad("condition-relative", with("condition_path_exists = [\"!etc/x\"]\n"), &["demo.toml:2:", "`condition_path_exists`", "not an absolute path"]),
        bad("documentation", with("documentation = [\"see the wiki\"]\n"), &["demo.toml:2:", "`documentation`", "man:"]),
        bad("env-file-list", with("env_file = [\"-/etc/default/x\", 3]\n"), &["demo.toml:2:", "`env_file`", "string"]),
        bad("not-carried", with("not_carried = \"ignore\"\n"), &["demo.toml:2:", "`not_carried`", "\"warn\""]),
        bad("systemd-table-type", with("[systemd]\nType = \"notify\"\n"), &["demo.toml:3:", "`systemd.Type`", "writes `Type=` itself"]),
        bad("systemd-table-dup", with("private_tmp = true\n[systemd]\nPrivateTmp = true\n"), &["demo.toml:4:", "`systemd.PrivateTmp`", "`private_tmp` already writes"]),
        bad("systemd-table-dep", with("[systemd.unit]\nAfter = \"x.service\"\n"), &["demo.toml:3:", "`systemd.unit.After`", "dependency"]),
        bad("systemd-table-newline", with("[systemd]\nProtectClock = \"yes\\nUser=root\"\n"), &["demo.toml:3:", "`systemd.ProtectClock`", "one line"]),
        bad("instance-in-user", with("user = \"app-{instance}\"\n"), &["demo.toml:2:", "`user`", "no instances"]),
        bad("instance-in-dependency", with("after = [\"db@{instance}\"]\n"), &["demo.toml:", "`after[0]`", "no instances"]),
        bad("instance-in-command", with("pre_start = [[\"/bin/echo\", \"{instance}\"]]\n"), &["demo.toml:2:", "`pre_start[0][1]`", "no instances"]),
        // what systemd's unit syntax cannot carry (shell quoting can)
        systemd_only(bad("trailing-backslash", with("description = \"ends in \\\\\"\n"), &["demo.toml:2:", "`description`", "backslash"])),
        systemd_only(bad("quote-in-program", "exec = [\"/opt/a\\\"b\"]\n", &["demo.toml:1:", "`exec`", "program path"])),
        systemd_only(bad("noncharacter", "description = \"x\"\nexec = [\"/bin/echo\", \"\\ufdd0\"]\n", &["demo.toml:2:", "`exec`", "noncharacter"])),
        systemd_only(bad("project-noncharacter", "[services.a]\nexec = [\"/bin/echo\", \"\\ufdd0\"]\n", &["demo.toml:2:", "`exec`", "noncharacter"])),
    ]
}

/// A tree with the accounts an image would have: the user check reads the tree's own.
fn root_tree(dir: &Path) {
    std::fs::create_dir_all(dir.join("etc/systemd/system")).unwrap();
    std::fs::create_dir_all(dir.join("var/lib")).unwrap();
    std::fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    std::fs::write(dir.join("etc/group"), "root:x:0:\n").unwrap();
}

/// Installs `toml` with `backend` under a scratch `--root`; Err says how the answer fell short
/// of exit 2, every `expect` fragment in stderr, and an unchanged tree.
fn refused_one(case: &str, backend: &str, toml: &str, expect: &[&str]) -> Result<(), String> {
    let root = scratch(&format!("bad-{case}-{backend}"));
    root_tree(&root);
    let spec_dir = scratch(&format!("bad-{case}-{backend}-spec"));
    let file = spec_dir.join("demo.toml");
    std::fs::write(&file, toml).unwrap();
    let before = snapshot(&root);
    let out = run(svc_any()
        .args(["--backend", backend, "install", "--root"])
        .arg(&root)
        .arg("-f")
        .arg(&file));
    let stderr = text(&out.stderr);
    if out.status.code() != Some(2) {
        return Err(format!(
            "{case} ({backend}): exit {:?}, not 2:\n{stderr}",
            out.status.code()
        ));
    }
    if let Some(missing) = expect.iter().find(|f| !stderr.contains(**f)) {
        return Err(format!("{case} ({backend}): no `{missing}` in:\n{stderr}"));
    }
    if snapshot(&root) != before {
        return Err(format!("{case} ({backend}): the tree changed"));
    }
    Ok(())
}

/// Every definition of the corpus that `b` must refuse.
pub fn refused(b: &dyn Backend) {
    let backend = b.name();
    let corpus = corpus();
    let mut names = std::collections::BTreeSet::new();
    for bad in &corpus {
        assert!(names.insert(bad.case), "case {} twice", bad.case);
    }
    let mut runs = 0;
    let mut failures = Vec::new();
    for bad in &corpus {
        if bad.limit_of.is_some_and(|only| only != backend) {
            continue;
        }
        runs += 1;
        if let Err(e) = refused_one(bad.case, backend, &bad.toml, &bad.expect) {
            failures.push(e);
        }
    }
    eprintln!(
        "bad input corpus, {backend}: {runs} of {} definitions, {} failures",
        corpus.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The same refusals from a definition svc-any finds itself, as `install NAME` does.
#[test]
fn a_bad_definition_found_by_name_is_refused_the_same_way() {
    let root = scratch("bad-by-name");
    root_tree(&root);
    let dir = scratch("bad-by-name-cwd");
    std::fs::write(
        dir.join("web.toml"),
        "exec = [\"/bin/true\"]\nrestart = 3\n",
    )
    .unwrap();
    let before = snapshot(&root);
    let out = run(svc_any()
        .current_dir(&dir)
        .args(["--backend", "systemd", "install", "web", "--root"])
        .arg(&root));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("web.toml:2:") && text(&out.stderr).contains("`restart`"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(snapshot(&root), before);
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
    // The flag, not a line:column of text the user never wrote.
    assert!(text(&out.stderr).contains("command line, --restart"));
    assert!(text(&out.stderr).contains("`restart`"));
    assert_eq!(snapshot(&root), before);
}
