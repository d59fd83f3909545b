//! Every escaper gives back exactly the bytes it was given, as judged by the real parser of its
//! dialect, over thousands of generated adversarial values (tests/common/generate.rs); and a
//! value a dialect cannot carry is refused with exit 2 naming the key, never written wrong.
//!
//! Cases are batched: one shell process reads a whole batch of words, one systemd reads
//! every `ExecStart=` line of one unit, so thousands of cases take seconds. Each test prints
//! its counts (`--nocapture` shows them).

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use proptest::test_runner::TestCaseError;

use common::container::{enabled, Container};
use common::generate::{self, any_value, line, noncharacter, path, value};
use common::{run, scratch, snapshot, svc_any, text};
use svc_any::dialect::escape::{sh, supervisord, systemd};

/// Values per shell process, and batches: 25 x 48 = 1,200 values per shell.
const SH_BATCH: usize = 25;
const SH_BATCHES: u32 = 48;

/// The shells that read svc-any's shell words: `sh` (dash on Debian, and what LSB scripts
/// and openrc-run run), dash by name, and bash in both its modes.
const SHELLS: &[&[&str]] = &[&["sh"], &["dash"], &["bash"], &["bash", "--posix"]];

/// A script that prints every quoted word NUL-terminated twice: as a command's arguments,
/// then each assigned to a variable and expanded as `"$v"` (how conf.d values are read).
fn sh_script(words: &[String]) -> String {
    let mut script = format!("printf '%s\\0' {}\n", words.join(" "));
    for w in words {
        script.push_str(&format!("v={w}\nprintf '%s\\0' \"$v\"\n"));
    }
    script
}

#[test]
fn sh_dash_and_bash_read_every_quoted_value_back_exactly() {
    let dir = scratch("fidelity-sh");
    let script = dir.join("batch.sh");
    let (checked, mismatched) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let failed = AtomicBool::new(false);
    let mut runner = generate::runner(SH_BATCHES, 1);
    let result = runner.run(&vec(any_value(), SH_BATCH), |values| {
        let words: Vec<String> = values.iter().map(|v| sh::quote(v).unwrap()).collect();
        std::fs::write(&script, sh_script(&words)).unwrap();
        let want: Vec<u8> = values
            .iter()
            .chain(&values)
            .flat_map(|v| v.bytes().chain([0]))
            .collect();
        let mut bad = Vec::new();
        for shell in SHELLS {
            let out = Command::new(shell[0])
                .args(&shell[1..])
                .arg(&script)
                .output()
                .expect("the shell runs");
            let got: Vec<&[u8]> = out.stdout.split_inclusive(|b| *b == 0).collect();
            let want: Vec<&[u8]> = want.split_inclusive(|b| *b == 0).collect();
            for (i, v) in values.iter().enumerate() {
                let ok = out.status.success()
                    && got.get(i) == want.get(i)
                    && got.get(i + values.len()) == want.get(i + values.len());
                if !ok {
                    bad.push(format!("{}: {v:?} (quoted {})", shell.join(" "), words[i]));
                }
            }
        }
        // Counts stop at the first failing batch: shrinking re-runs smaller ones.
        if !failed.load(Ordering::Relaxed) {
            checked.fetch_add(values.len(), Ordering::Relaxed);
            mismatched.fetch_add(bad.len(), Ordering::Relaxed);
            failed.store(!bad.is_empty(), Ordering::Relaxed);
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(TestCaseError::fail(bad.join("\n")))
        }
    });
    eprintln!(
        "sh escaper (seed {}): {} values, each read by {} shells as an argument and as an assignment, {} mismatches",
        generate::seed(),
        checked.load(Ordering::Relaxed),
        SHELLS.len(),
        mismatched.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(checked.load(Ordering::Relaxed) >= 1000);
}

/// Arguments per `ExecStart=` line: long lines, but far from the kernel's argv limit.
const ARGS_PER_LINE: usize = 25;
const EXEC_ARGS: usize = 1200;
const ENV_VALUES: usize = 1000;
const RAW_PATHS: usize = 1000;
const DESCRIPTIONS: usize = 200;

/// Appends its arguments to a file, each NUL-terminated, after their count: the exact bytes
/// systemd passed, with nothing in between that could decode them.
const RECORDER: &str = "printf '%s\\0' \"$#\" \"$@\" >>/run/fid/args";

fn owned(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Unit files for systemd to parse: one running the recorder with every generated argument,
/// one dumping its environment, one with every raw path as an `EnvironmentFile=`, and one per
/// description.
fn escaper_units(
    args: &[String],
    env: &BTreeMap<String, String>,
    paths: &[String],
    descriptions: &[String],
) -> Vec<(String, String)> {
    let mut units = Vec::new();
    let mut unit = String::from("[Service]\nType=oneshot\n");
    for chunk in args.chunks(ARGS_PER_LINE) {
        let mut argv = owned(&["/bin/sh", "-c", RECORDER, "fid"]);
        argv.extend_from_slice(chunk);
        unit.push_str(&format!(
            "ExecStart={}\n",
            systemd::exec_line(&argv).unwrap()
        ));
    }
    units.push(("fid-args.service".to_string(), unit));

    let mut unit = String::from("[Service]\nType=oneshot\nStandardOutput=file:/run/fid/env\n");
    unit.push_str(&format!(
        "ExecStart={}\n",
        systemd::exec_line(&owned(&["/usr/bin/env", "-0"])).unwrap()
    ));
    for (k, v) in env {
        unit.push_str(&format!(
            "Environment={}\n",
            systemd::env_assignment(k, v).unwrap()
        ));
    }
    units.push(("fid-env.service".to_string(), unit));

    // The same values through an environment file (how `env` reaches a unit: see
    // backends/systemd.rs), dumped by a second unit.
    let mut unit = String::from("[Service]\nType=oneshot\nStandardOutput=file:/run/fid/envfile\n");
    unit.push_str(&format!(
        "ExecStart={}\nEnvironmentFile={ENV_FILE}\n",
        systemd::exec_line(&owned(&["/usr/bin/env", "-0"])).unwrap()
    ));
    units.push(("fid-envfile.service".to_string(), unit));

    // `-`: the files need not exist; only the parsed paths matter.
    let mut unit = String::from("[Service]\nExecStart=/bin/true\n");
    for p in paths {
        unit.push_str(&format!(
            "EnvironmentFile=-{}\n",
            systemd::raw_value(p).unwrap()
        ));
    }
    units.push(("fid-raw.service".to_string(), unit));

    for (i, d) in descriptions.iter().enumerate() {
        units.push((
            format!("fid-d{i}.service"),
            format!(
                "[Unit]\nDescription={}\n[Service]\nExecStart=/bin/true\n",
                systemd::raw_value(d).unwrap()
            ),
        ));
    }
    units
}

/// Where the environment-file unit reads its values.
const ENV_FILE: &str = "/etc/fid-values.env";

/// The environment file of `env`, one escaped line per value.
fn env_file(env: &BTreeMap<String, String>) -> String {
    env.iter()
        .map(|(k, v)| systemd::env_file_line(k, v).unwrap())
        .collect()
}

/// The `F_` variables of an `env -0` dump, by name.
fn dumped(dump: &[u8]) -> BTreeMap<&[u8], &[u8]> {
    nul_split(dump)
        .into_iter()
        .filter_map(|kv| {
            let eq = kv.iter().position(|b| *b == b'=')?;
            Some((&kv[..eq], &kv[eq + 1..]))
        })
        .filter(|(k, _)| k.starts_with(b"F_"))
        .collect()
}

/// `systemd-analyze verify` on this machine: systemd's parser must not warn about any line
/// (it exits 0 on warnings, so the proof is an empty stderr).
fn verify_on_host(units: &[(String, String)]) {
    let dir = scratch("fidelity-verify");
    let paths: Vec<_> = units
        .iter()
        .map(|(name, content)| {
            let p = dir.join(name);
            std::fs::write(&p, content).unwrap();
            p
        })
        .collect();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .args(&paths)
        .output()
        .expect("systemd-analyze is installed (package systemd)");
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify warned:\n{}",
        text(&out.stderr)
    );
}

/// NUL-terminated strings.
fn nul_split(bytes: &[u8]) -> Vec<&[u8]> {
    let mut parts: Vec<&[u8]> = bytes.split(|b| *b == 0).collect();
    assert_eq!(parts.pop(), Some(&b""[..]), "the record ends in NUL");
    parts
}

/// The values of `systemctl show -p PROPERTY` lines, in order.
fn shown<'a>(output: &'a str, property: &str) -> Vec<&'a str> {
    let prefix = format!("{property}=");
    output
        .split('\n')
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .collect()
}

fn count_mismatches(
    what: &str,
    want: &[&[u8]],
    got: &[&[u8]],
    mismatches: &mut Vec<String>,
) -> usize {
    if want.len() != got.len() {
        mismatches.push(format!(
            "{what}: {} values came back, {} were written",
            got.len(),
            want.len()
        ));
    }
    for (w, g) in want.iter().zip(got) {
        if w != g {
            mismatches.push(format!(
                "{what}: wanted {:?}, got {:?}",
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(g)
            ));
        }
    }
    want.len()
}

#[test]
fn real_systemd_reads_exec_environment_and_raw_values_back_exactly() {
    if !enabled("real_systemd_reads_exec_environment_and_raw_values_back_exactly") {
        return;
    }
    let args = generate::sample(value(), EXEC_ARGS, 2);
    let env: BTreeMap<String, String> = generate::sample(value(), ENV_VALUES, 3)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("F_{i:04}"), v))
        .collect();
    let paths = generate::sample(path(), RAW_PATHS, 4);
    let descriptions = generate::sample(line(), DESCRIPTIONS, 5);
    let units = escaper_units(&args, &env, &paths, &descriptions);
    verify_on_host(&units);

    let c = Container::boot("systemd", "fid-esc");
    let mut files: Vec<(String, String)> = units
        .iter()
        .map(|(name, content)| (format!("/etc/systemd/system/{name}"), content.clone()))
        .collect();
    files.push((ENV_FILE.to_string(), env_file(&env)));
    c.write_files(&files);
    c.sh_out(
        "mkdir -p /run/fid && systemctl daemon-reload && systemctl start fid-args fid-env fid-envfile",
    );
    let mut mismatches = Vec::new();

    // The recorder's lines: a count, then that many arguments, per ExecStart= line in order.
    let record = c.exec(&["cat", "/run/fid/args"]).stdout;
    let mut got = Vec::new();
    let mut fields = nul_split(&record).into_iter();
    while let Some(n) = fields.next() {
        let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
        got.extend(fields.by_ref().take(n));
    }
    let want: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let exec = count_mismatches("ExecStart=", &want, &got, &mut mismatches);

    let want: Vec<&[u8]> = env.values().map(|v| v.as_bytes()).collect();
    let mut environment = 0;
    for (what, path) in [
        ("Environment=", "/run/fid/env"),
        ("EnvironmentFile=", "/run/fid/envfile"),
    ] {
        let dump = c.exec(&["cat", path]).stdout;
        let got_env = dumped(&dump);
        let got: Vec<&[u8]> = env
            .keys()
            .map(|k| got_env.get(k.as_bytes()).copied().unwrap_or(b"<unset>"))
            .collect();
        environment += count_mismatches(what, &want, &got, &mut mismatches);
        assert_eq!(got_env.len(), env.len(), "{what}: no variable more or less");
    }

    let shown_files = c.sh_out("systemctl show -p EnvironmentFiles fid-raw");
    let got: Vec<&[u8]> = shown(&shown_files, "EnvironmentFiles")
        .into_iter()
        .map(|l| {
            l.strip_suffix(" (ignore_errors=yes)")
                .unwrap_or(l)
                .as_bytes()
        })
        .collect();
    let want: Vec<&[u8]> = paths.iter().map(|p| p.as_bytes()).collect();
    let raw = count_mismatches("EnvironmentFile=", &want, &got, &mut mismatches);

    let names: Vec<String> = (0..descriptions.len())
        .map(|i| format!("fid-d{i}.service"))
        .collect();
    let mut show = vec!["systemctl", "show", "-p", "Description"];
    show.extend(names.iter().map(String::as_str));
    let out = c.exec(&show);
    let shown_descriptions = text(&out.stdout);
    let got: Vec<&[u8]> = shown(&shown_descriptions, "Description")
        .into_iter()
        .map(str::as_bytes)
        .collect();
    let want: Vec<&[u8]> = descriptions.iter().map(|d| d.as_bytes()).collect();
    let description = count_mismatches("Description=", &want, &got, &mut mismatches);

    eprintln!(
        "systemd escapers (seed {}), read back by systemd 252 as PID 1: {exec} ExecStart= arguments, {environment} Environment= and EnvironmentFile= values, {} raw values ({raw} EnvironmentFile= paths, {description} Description=), {} mismatches",
        generate::seed(),
        raw + description,
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

/// Where a poisoned value goes in a definition.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Field {
    Arg,
    Env,
    WorkingDir,
    EnvFile,
    LogFile,
    Description,
}

impl Field {
    fn key(self) -> &'static str {
        match self {
            Field::Arg => "exec",
            Field::Env => "env.F_POISON",
            Field::WorkingDir => "working_dir",
            Field::EnvFile => "env_file",
            Field::LogFile => "log.file",
            Field::Description => "description",
        }
    }

    fn is_path(self) -> bool {
        matches!(self, Field::WorkingDir | Field::EnvFile | Field::LogFile)
    }
}

/// What makes the value uncarriable.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Poison {
    /// No process can receive it: every backend refuses.
    Nul,
    /// systemd's strict UTF-8 check refuses it; shells and TOML carry it.
    Noncharacter(char),
    /// Paths and descriptions have no escape for it: every backend refuses. (Arguments and
    /// environment values carry it, so those cases are not poisoned.)
    Control(char),
    /// systemd reads a raw value's final `\` as a line continuation.
    TrailingBackslash,
}

const BACKENDS: &[&str] = &["systemd", "openrc", "sysv", "builtin"];

/// Whether `backend` must refuse `poison` in `field`; None when the value is carriable and
/// not a refusal case at all.
fn refused(backend: &str, field: Field, poison: Poison) -> Option<bool> {
    match poison {
        Poison::Nul => Some(true),
        Poison::Noncharacter(_) => Some(backend == "systemd"),
        Poison::Control(_) if field.is_path() || field == Field::Description => Some(true),
        Poison::Control(_) => None,
        Poison::TrailingBackslash if field.is_path() || field == Field::Description => {
            Some(backend == "systemd")
        }
        Poison::TrailingBackslash => None,
    }
}

/// A definition whose every value is clean but one, which holds `poison`.
fn poisoned_definition(
    field: Field,
    poison: Poison,
    clean: &str,
    at: prop::sample::Index,
    dir: &str,
) -> toml::Table {
    let insert = |base: &str| -> String {
        let mut s = base.to_string();
        match poison {
            Poison::TrailingBackslash => s.push('\\'),
            Poison::Nul | Poison::Noncharacter(_) | Poison::Control(_) => {
                let c = match poison {
                    Poison::Nul => '\0',
                    Poison::Noncharacter(c) | Poison::Control(c) => c,
                    Poison::TrailingBackslash => unreachable!(),
                };
                // After a path's leading `/`: before it, the path would be relative.
                let first = usize::from(field.is_path());
                let bounds: Vec<usize> = (first..=s.len())
                    .filter(|i| s.is_char_boundary(*i))
                    .collect();
                s.insert(bounds[at.index(bounds.len())], c);
            }
        }
        s
    };
    let value_of = |f: Field, clean_value: String| {
        if f == field {
            insert(&clean_value)
        } else {
            clean_value
        }
    };
    let mut def = toml::Table::new();
    def.insert(
        "exec".into(),
        toml::Value::Array(vec![
            "/bin/echo".into(),
            "first".into(),
            value_of(Field::Arg, clean.to_string()).into(),
        ]),
    );
    let mut env = toml::Table::new();
    env.insert(
        "F_POISON".into(),
        value_of(Field::Env, clean.to_string()).into(),
    );
    def.insert("env".into(), env.into());
    def.insert(
        "working_dir".into(),
        value_of(Field::WorkingDir, format!("{dir}/work")).into(),
    );
    def.insert(
        "env_file".into(),
        value_of(Field::EnvFile, format!("{dir}/env")).into(),
    );
    let mut log = toml::Table::new();
    log.insert(
        "file".into(),
        value_of(Field::LogFile, format!("{dir}/log")).into(),
    );
    def.insert("log".into(), log.into());
    let description = clean
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .trim_end_matches('\\')
        .trim()
        .to_string();
    let description = if description.is_empty() {
        "poisoned".to_string()
    } else {
        description
    };
    def.insert(
        "description".into(),
        value_of(Field::Description, description).into(),
    );
    def
}

fn poison() -> impl Strategy<Value = Poison> {
    prop_oneof![
        Just(Poison::Nul),
        noncharacter().prop_map(Poison::Noncharacter),
        prop::sample::select(&['\n', '\r', '\t', '\u{1b}', '\u{7f}'][..]).prop_map(Poison::Control),
        Just(Poison::TrailingBackslash),
    ]
}

fn field() -> impl Strategy<Value = Field> {
    prop::sample::select(
        &[
            Field::Arg,
            Field::Env,
            Field::WorkingDir,
            Field::EnvFile,
            Field::LogFile,
            Field::Description,
        ][..],
    )
}

const REFUSAL_CASES: u32 = 200;

#[test]
fn a_value_a_dialect_cannot_carry_is_refused_with_exit_2_naming_the_key() {
    let dir = scratch("fidelity-refusal");
    let root = dir.join("root");
    std::fs::create_dir_all(&root).unwrap();
    let file = dir.join("poisoned.toml");
    let (refusals, acceptances, mismatched) = (
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    );
    let failed = AtomicBool::new(false);
    let mut runner = generate::runner(REFUSAL_CASES, 6);
    // A render that succeeds costs five times one that is refused: where a value is
    // carriable, one backend in turn proves it is not refused.
    let carrier = prop::sample::select(&BACKENDS[1..]);
    let strategy = (
        field(),
        poison(),
        value(),
        any::<prop::sample::Index>(),
        carrier,
    )
        .prop_filter("only values some backend cannot carry", |(f, p, ..)| {
            refused("builtin", *f, *p).is_some()
        });
    let result = runner.run(&strategy, |(field, poison, clean, at, carrier)| {
        // Long values add nothing here but time: the escapers' readback tests cover them.
        let clean: String = clean.chars().take(64).collect();
        let def = poisoned_definition(field, poison, &clean, at, "/srv/fid");
        std::fs::write(&file, toml::to_string(&def).unwrap()).unwrap();
        let mut bad = Vec::new();
        let (mut refused_here, mut accepted_here) = (0, 0);
        for backend in BACKENDS {
            let must_refuse = refused(backend, field, poison).unwrap();
            if !must_refuse && *backend != carrier {
                continue;
            }
            let case = format!("{backend}, {poison:?} in {field:?}");
            let out = run(svc_any()
                .args(["--backend", backend, "render", "-f"])
                .arg(&file));
            let stderr = text(&out.stderr);
            if !must_refuse {
                if out.status.success() {
                    accepted_here += 1;
                } else {
                    bad.push(format!("{case}: refused a value it can carry: {stderr}"));
                }
                continue;
            }
            if out.status.code() != Some(2) || !out.stdout.is_empty() {
                bad.push(format!(
                    "{case}: render exited {:?} and printed:\n{}",
                    out.status.code(),
                    text(&out.stdout)
                ));
            } else if !stderr.contains(&format!("`{}`", field.key())) {
                bad.push(format!(
                    "{case}: the message does not name `{}`: {stderr}",
                    field.key()
                ));
            }
            // The same definition installed into a tree changes nothing there.
            let before = snapshot(&root);
            let out = run(svc_any()
                .args(["--backend", backend, "install", "--root"])
                .arg(&root)
                .arg("-f")
                .arg(&file));
            if out.status.code() != Some(2) || snapshot(&root) != before {
                bad.push(format!(
                    "{case}: install --root exited {:?}; the tree {}",
                    out.status.code(),
                    if snapshot(&root) == before {
                        "is unchanged"
                    } else {
                        "changed"
                    }
                ));
            }
            refused_here += 1;
        }
        // Counts stop at the first failing case: shrinking re-runs smaller ones.
        if !failed.load(Ordering::Relaxed) {
            refusals.fetch_add(refused_here, Ordering::Relaxed);
            acceptances.fetch_add(accepted_here, Ordering::Relaxed);
            mismatched.fetch_add(bad.len(), Ordering::Relaxed);
            failed.store(!bad.is_empty(), Ordering::Relaxed);
        }
        if bad.is_empty() {
            Ok(())
        } else {
            Err(TestCaseError::fail(bad.join("\n")))
        }
    });
    eprintln!(
        "refusals (seed {}): {REFUSAL_CASES} poisoned definitions, {} refusals checked (render and install --root: exit 2, key named, nothing written), {} renders where the dialect carries the value, {} mismatches",
        generate::seed(),
        refusals.load(Ordering::Relaxed),
        acceptances.load(Ordering::Relaxed),
        mismatched.load(Ordering::Relaxed)
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Arguments per command around the main one, and commands per key.
const COMMAND_ARGS: usize = 20;
const COMMAND_KEYS: [&str; 5] = [
    "pre_start",
    "post_start",
    "reload_exec",
    "stop_exec",
    "post_stop",
];

/// A definition whose five command keys each run the recorder twice (once may-fail, or
/// privileged), with `args` spread over them; with `expand`, every `$` written `$$`, as
/// exec_expand wants a literal one. Returns the TOML and, per key, the arguments expected.
fn commands_definition(
    name: &str,
    args: &[String],
    expand: bool,
) -> (String, BTreeMap<&'static str, Vec<String>>) {
    let mut table = toml::Table::new();
    table.insert("name".into(), name.into());
    table.insert(
        "exec".into(),
        toml::Value::Array(vec!["/bin/sleep".into(), "1000".into()]),
    );
    table.insert("type".into(), "simple".into());
    if expand {
        table.insert("exec_expand".into(), true.into());
    }
    let quote = |s: &str| {
        if expand {
            s.replace('$', "$$")
        } else {
            s.to_string()
        }
    };
    let mut want = BTreeMap::new();
    let mut chunks = args.chunks(COMMAND_ARGS);
    for key in COMMAND_KEYS {
        let mut list = Vec::new();
        for n in 0..2 {
            let chunk = chunks.next().unwrap_or_default();
            let script = format!("printf '%s\\0' \"$#\" \"$@\" >>/run/fid/{name}-{key}");
            let mut argv: Vec<toml::Value> = ["/bin/sh", "-c", &script, "fid"]
                .iter()
                .map(|s| quote(s).into())
                .collect();
            argv.extend(chunk.iter().map(|a| quote(a).into()));
            want.entry(key)
                .or_insert_with(Vec::new)
                .extend(chunk.iter().cloned());
            let mut command = toml::Table::new();
            command.insert("exec".into(), toml::Value::Array(argv));
            match (key, n) {
                ("post_start", 1) => command.insert("privileged".into(), true.into()),
                (_, 1) => command.insert("may_fail".into(), true.into()),
                _ => None,
            };
            list.push(toml::Value::Table(command));
        }
        table.insert(key.into(), toml::Value::Array(list));
    }
    (toml::to_string(&table).unwrap(), want)
}

#[test]
fn real_systemd_runs_the_commands_around_the_main_one_with_exact_arguments() {
    if !enabled("real_systemd_runs_the_commands_around_the_main_one_with_exact_arguments") {
        return;
    }
    let per_service = COMMAND_ARGS * 2 * COMMAND_KEYS.len();
    let args = generate::sample(value(), 2 * per_service, 7);
    let c = Container::boot("systemd", "fid-cmd");
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (name, expand, chunk) in [
        ("fidcmd", false, &args[..per_service]),
        ("fidexp", true, &args[per_service..]),
    ] {
        let (toml, want) = commands_definition(name, chunk, expand);
        c.write_files(&[(format!("/root/{name}.toml"), toml)]);
        c.sh_out("mkdir -p /run/fid");
        c.svc_any_ok(&[
            "install",
            name,
            "-f",
            &format!("/root/{name}.toml"),
            "--start",
        ]);
        c.svc_any_ok(&["reload", name]);
        c.svc_any_ok(&["stop", name]);
        for key in COMMAND_KEYS {
            let record = c.exec(&["cat", &format!("/run/fid/{name}-{key}")]).stdout;
            let mut got = Vec::new();
            let mut fields = nul_split(&record).into_iter();
            while let Some(n) = fields.next() {
                let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
                got.extend(fields.by_ref().take(n));
            }
            let w: Vec<&[u8]> = want[key].iter().map(|a| a.as_bytes()).collect();
            compared += count_mismatches(&format!("{name} {key}"), &w, &got, &mut mismatches);
        }
    }
    eprintln!(
        "commands around the main one (seed {}), run by systemd 252 as PID 1: {compared} arguments over {} commands (exact bytes and exec_expand), {} mismatches",
        generate::seed(),
        4 * COMMAND_KEYS.len(),
        mismatches.len()
    );
    assert!(compared >= 2 * per_service - 10, "only {compared} compared");
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

/// The variables of the expansion test: values that exercise systemd's split (runs of white
/// space, quotes, backslashes, an unclosed quote, references that must not expand again), and
/// generated ones.
fn expansion_env() -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("E_WORDS", " one  two\tthree\nfour\r five "),
        ("E_EMPTY", ""),
        ("E_BLANK", " \t\n\r "),
        (
            "E_QUOTED",
            "\"a b\" 'c  d' e\\ f g\"h i\"j 'it''s' \"x\\\"y\" \\\\z \"\" ''",
        ),
        ("E_OPEN", "'unclosed quote"),
        ("E_TRAIL", "trailing\\"),
        ("E_DOLLAR", "$E_WORDS ${E_WORDS} $$ %n"),
        ("E_ODD", "\u{b}vt\u{c}ff\u{a0}nbsp\u{3000}wide"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (i, v) in generate::sample(value(), 40, 11).into_iter().enumerate() {
        env.insert(format!("E_G{i:02}"), v);
    }
    env
}

/// Words that exercise every rule of the expansion, one at a time.
const EXPANSION_WORDS: &[&str] = &[
    "$E_WORDS",
    "${E_WORDS}",
    "${E_WORDS}x",
    "x${E_WORDS}",
    "x$E_WORDS",
    "--o=$E_WORDS",
    "$E_EMPTY",
    "${E_EMPTY}",
    "$E_BLANK",
    "${E_BLANK}",
    "$E_UNSET",
    "${E_UNSET}",
    "a${E_UNSET}b",
    "$E_QUOTED",
    "${E_QUOTED}",
    "$E_OPEN",
    "$E_TRAIL",
    "$E_DOLLAR",
    "${E_DOLLAR}",
    "$E_ODD",
    "$$",
    "$$E_WORDS",
    "a$$b",
    "$$$$",
    "x$$",
    "$$${E_WORDS}",
    "$",
    "end$",
    "$(date)",
    "a$(date)",
    "a$!",
    "${E_WORDS:-d}",
    "${E_WORDS:-d}${E_WORDS}",
    "${E_WORDS",
    "${}",
    "${E_WORDS}}",
    "$E_WORDS-x",
    "$E-WORDS",
    "$1A",
    "${1A}",
    "${E WORDS}",
    "${E_${E_WORDS}}",
    "$E_WORDS$E_WORDS",
    "",
    "%%",
    "\\",
    "$HOME_NOT_SET",
];

/// A word of references to `names` mixed with the bytes around them that systemd reads as
/// syntax, and generated text.
fn reference_word(names: Vec<String>) -> BoxedStrategy<String> {
    let name = proptest::sample::select(names);
    let piece = prop_oneof![
        3 => name.clone().prop_map(|n| format!("${n}")),
        3 => name.clone().prop_map(|n| format!("${{{n}}}")),
        1 => name,
        3 => proptest::sample::select(vec![
            "$", "$$", "{", "}", "${", ":", ":-", "-", "x", " ", "\t", "\\", "\"", "'", "(",
        ])
        .prop_map(String::from),
        2 => value(),
    ];
    vec(piece, 1..5).prop_map(|p| p.concat()).boxed()
}

/// svc-any's expander (src/dialect/exec_expand.rs), which the builtin supervisor and SysV use
/// for `exec_expand`, gives every word the arguments systemd 252 gives it, from the same
/// environment: the fixed cases of every rule, then generated words of references mixed with
/// syntax and adversarial values. One oneshot unit runs the recorder once per `ExecStart=`
/// line (without `:`, so systemd expands); each line's record is compared with the expander's
/// output for that line.
#[test]
fn real_systemd_expands_references_as_svc_any_s_expander_does() {
    if !enabled("real_systemd_expands_references_as_svc_any_s_expander_does") {
        return;
    }
    use svc_any::dialect::exec_expand::expand_argv;
    let env = expansion_env();
    let mut names: Vec<String> = env.keys().cloned().collect();
    names.extend(["E_UNSET", "E-X", "1E", ""].map(String::from));
    let mut words: Vec<String> = EXPANSION_WORDS.iter().map(|w| w.to_string()).collect();
    words.extend(generate::sample(reference_word(names), 800, 12));

    let recorder = owned(&["/bin/sh", "-c", RECORDER, "fid"]);
    let mut unit = String::from("[Service]\nType=oneshot\n");
    for (k, v) in &env {
        unit.push_str(&format!(
            "Environment={}\n",
            systemd::env_assignment(k, v).unwrap()
        ));
    }
    // The fixed words one per line, so a wrong one is told apart; the generated ones batched.
    let lines: Vec<&[String]> = words[..EXPANSION_WORDS.len()]
        .chunks(1)
        .chain(words[EXPANSION_WORDS.len()..].chunks(ARGS_PER_LINE))
        .collect();
    let lookup = |name: &str| env.get(name).map(String::as_str);
    let mut want = Vec::new();
    for chunk in &lines {
        let mut argv = recorder.clone();
        argv.extend_from_slice(chunk);
        unit.push_str(&format!(
            "ExecStart={}\n",
            systemd::exec_line_expanding(&argv).unwrap()
        ));
        let expanded = expand_argv(&argv, lookup);
        assert_eq!(
            expanded[..4],
            recorder[..],
            "the recorder itself is unchanged"
        );
        want.push(expanded[4..].to_vec());
    }

    let c = Container::boot("systemd", "fid-expand");
    c.write_files(&[("/etc/systemd/system/fid-expand.service".to_string(), unit)]);
    c.sh_out("mkdir -p /run/fid && systemctl daemon-reload && systemctl start fid-expand");
    let record = c.exec(&["cat", "/run/fid/args"]).stdout;
    let mut got: Vec<Vec<&[u8]>> = Vec::new();
    let mut fields = nul_split(&record).into_iter();
    while let Some(n) = fields.next() {
        let n: usize = std::str::from_utf8(n).unwrap().parse().unwrap();
        got.push(fields.by_ref().take(n).collect());
    }
    assert_eq!(got.len(), lines.len(), "one record per ExecStart= line");
    let mut mismatches = Vec::new();
    let mut compared = 0;
    for (i, ((chunk, w), g)) in lines.iter().zip(&want).zip(&got).enumerate() {
        let w: Vec<&[u8]> = w.iter().map(|a| a.as_bytes()).collect();
        if w != *g {
            mismatches.push(format!(
                "line {i} {chunk:?}: svc-any expands to {:?}, systemd gave {:?}",
                w.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>(),
                g.iter()
                    .map(|a| String::from_utf8_lossy(a))
                    .collect::<Vec<_>>()
            ));
        }
        compared += chunk.len();
    }
    let produced: usize = want.iter().map(Vec::len).sum();
    eprintln!(
        "exec_expand (seed {}), expanded by systemd 252 as PID 1 and by svc-any: {compared} words ({} fixed, {} generated) over {} variables into {produced} arguments, {} mismatches",
        generate::seed(),
        EXPANSION_WORDS.len(),
        compared - EXPANSION_WORDS.len(),
        env.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}

/// Values for supervisord's parser: generated ones, and the dialect's own traps.
const INI_VALUES: usize = 1500;
const INI_TRAPS: &[&str] = &[
    "100%",
    "%%",
    "%(here)s",
    "x%(here)sy",
    "%(ENV_HOME)s",
    "%(program_name)s",
    "a ;b",
    "a;b",
    "a\t#b",
    "#x",
    ";x",
    " x",
    "x ",
    "it's",
    "\"q\"",
    "'\"",
    "tab\tin",
    "new\nline",
    "cr\rx",
    "\u{1c}x",
    "x\u{85}",
    "a = b",
    "k: v",
    "[s]",
    "\\",
    "héllo ✓",
    "",
];

/// supervisor's own configuration code (`ServerOptions.realize`, the path supervisord takes at
/// start and on `reread`) reads each file of the batch through a main file's `[include]`; for each program, what it
/// would execute (`shlex.split` of the expanded `command=`, as process.py does) and its
/// `directory=`; a file it refuses gives `null`.
const INI_READER: &str = r#"
import json, shlex, sys, os, io, contextlib, shutil
from supervisor.options import ServerOptions
out = []
for i, text in enumerate(json.load(sys.stdin)):
    # As svc-any's files are read: through the main file's [include].
    d = "/tmp/fid-%d" % i
    os.makedirs(d + "/conf.d")
    path = d + "/supervisord.conf"
    with open(path, "w", encoding="utf-8") as f:
        f.write("[supervisord]\n[include]\nfiles = conf.d/*.conf\n")
    with open(d + "/conf.d/programs.conf", "w", encoding="utf-8") as f:
        f.write(text)
    o = ServerOptions()
    try:
        with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
            o.realize(args=["-c", path])
        got = {}
        for g in o.process_group_configs:
            for p in g.process_configs:
                got[p.name] = {"argv": shlex.split(p.command), "directory": p.directory}
        out.append(got)
    except BaseException:
        out.append(None)
    shutil.rmtree(d)
json.dump(out, sys.stdout)
"#;

#[test]
fn real_supervisord_parser_reads_commands_and_values_back_exactly() {
    if !enabled("real_supervisord_parser_reads_commands_and_values_back_exactly") {
        return;
    }
    let mut values: Vec<String> = INI_TRAPS.iter().map(|v| v.to_string()).collect();
    values.extend(generate::sample(vec(any_value(), INI_VALUES), 1, 7).remove(0));
    // One file with every value it can carry, as a directory and as an argument; one file
    // per refused value, written as a naive writer would (`%` doubled, nothing else).
    let mut carried = Vec::new();
    let mut refused = Vec::new();
    let mut file = String::new();
    for v in &values {
        match supervisord::value(v) {
            Ok(text) => {
                let n = carried.len();
                let argv = vec!["/bin/echo".to_string(), v.clone(), format!("-{v}-")];
                let command =
                    supervisord::command(&argv).expect("a carried value is a carried word");
                file.push_str(&format!(
                    "[program:p{n}]\ncommand={command}\ndirectory={text}\n"
                ));
                carried.push((v.clone(), argv));
            }
            Err(_) => refused.push(v.clone()),
        }
    }
    let mut files = vec![file];
    for v in &refused {
        files.push(format!(
            "[program:p]\ncommand=/bin/true\ndirectory={}\n",
            v.replace('%', "%%")
        ));
    }
    let c = Container::unbooted("supervisord", "fid-ini");
    let out = c.chroot(
        false,
        &["python3", "-c", INI_READER],
        serde_json::to_string(&files).unwrap().as_bytes(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parsed: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let mut mismatches = Vec::new();
    for (n, (v, argv)) in carried.iter().enumerate() {
        let got = &parsed[0][format!("p{n}")];
        if got["directory"] != serde_json::json!(v) || got["argv"] != serde_json::json!(argv) {
            mismatches.push(format!("{v:?}: supervisord read {got}"));
        }
    }
    // A refusal is never needless: the naive line does not come back as the value (an empty
    // `directory=` reads back empty, but means "none": supervisord changes no directory).
    for (v, got) in refused.iter().zip(&parsed[1..]) {
        if !v.is_empty() && got["p"]["directory"] == serde_json::json!(v) {
            mismatches.push(format!("{v:?} was refused, but supervisord reads it back"));
        }
    }
    eprintln!(
        "supervisord escaper (seed {}): {} values carried (each as a directory and in a command), {} refused and shown lost, {} mismatches",
        generate::seed(),
        carried.len(),
        refused.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert!(carried.len() >= 500 && !refused.is_empty());
}
