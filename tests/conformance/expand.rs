//! `exec_expand = true`: the same probe on every backend. Where the key is carried (systemd
//! expands natively; svc-any's supervisor, and SysV and OpenRC through it, expands with
//! src/dialect/exec_expand.rs) the probe must receive the same arguments, which are also what
//! the expander computes; elsewhere install is refused, naming the key and the backend, and
//! nothing is written.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::backend::{self, assert_gone, assert_made, Backend};
use crate::common::host::Host;
use crate::common::probe;

/// The backends that carry `exec_expand`.
const CARRIED_BY: &[&str] = &["systemd", "openrc", "sysv", "builtin"];

/// The references, one of each rule: whole words split (and unquoted), braced ones exact,
/// unset and empty variables, `$$`, and a variable from the env file.
const ARGS: &[&str] = &[
    "$WORDS",
    "${WORDS}",
    "<${WORDS}>",
    "x${EMPTY}y",
    "$EMPTY",
    "${EMPTY}",
    "$UNSET",
    "${UNSET}",
    "$$",
    "a$$b",
    "$$WORDS",
    "$QUOTED",
    "${QUOTED}",
    "$FROM_FILE",
    "$CRLF",
];

/// `env`: white space of every kind, empty, quotes and a backslash.
const ENV: &[(&str, &str)] = &[
    ("WORDS", " one  two\tthree\nfour "),
    ("EMPTY", ""),
    ("QUOTED", "\"a b\" 'c  d' e\\ f"),
    ("CRLF", "x\r\ny"),
];

/// What the probe receives, as systemd's rules give it.
const EXPECTED: &[&str] = &[
    "one",
    "two",
    "three",
    "four",
    " one  two\tthree\nfour ",
    "< one  two\tthree\nfour >",
    "xy",
    "",
    "",
    "$",
    "a$b",
    "$WORDS",
    "a b",
    "c  d",
    "e f",
    "\"a b\" 'c  d' e\\ f",
    "--from-file",
    "two",
    "x",
    "y",
];

pub fn probe(h: &Host, b: &dyn Backend) {
    let scratch = h.scratch();
    let record = format!("{scratch}/expand.json");
    let post = format!("{scratch}/expand-post");
    let env_file = format!("{scratch}/expand.env");
    let mut exec = vec![format!("{}/probe.py", h.share()), record.clone()];
    exec.extend(ARGS.iter().map(|a| a.to_string()));
    let env: toml::Table = ENV
        .iter()
        .map(|(k, v)| (k.to_string(), toml::Value::from(*v)))
        .collect();
    // What the expander makes of the arguments, from the same variables.
    let mut vars: BTreeMap<&str, &str> = ENV.iter().copied().collect();
    vars.insert("FROM_FILE", "--from-file two");
    let args: Vec<String> = ARGS.iter().map(|a| a.to_string()).collect();
    let expanded = svc_any::dialect::exec_expand::expand_argv(&args, |n| vars.get(n).copied());
    assert_eq!(expanded, EXPECTED, "svc-any's expander");

    let mut def = toml::Table::new();
    def.insert("exec".into(), exec.into());
    def.insert("exec_expand".into(), true.into());
    def.insert("env".into(), env.into());
    let before = backend::comparable(b, &backend::owned(h, b, true));
    if !CARRIED_BY.contains(&b.name()) {
        // The key alone, so that it is the one refused.
        h.define("expand", &toml::to_string(&def).unwrap());
        let out = h.svc_any(&["install", "expand", "--start"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", b.name());
        assert!(
            stderr.contains(&format!("not carried by {}: exec_expand", b.name())),
            "{stderr}"
        );
        h.undefine("expand");
        assert_eq!(
            backend::comparable(b, &backend::owned(h, b, true)),
            before,
            "a refused install wrote nothing"
        );
        return;
    }
    h.sh_out(&format!(
        "printf 'FROM_FILE=--from-file two\\n' > '{env_file}'"
    ));
    def.insert(
        "env_file".into(),
        vec![format!("-{scratch}/expand-missing.env"), env_file.clone()].into(),
    );
    // MAINPID: the main process as a whole word and inside one.
    let script = format!("printf '%s\\n' \"$$#\" \"$$@\" > '{post}'");
    let post_start = vec![
        "/bin/sh",
        "-c",
        script.as_str(),
        "sh",
        "$MAINPID",
        "${MAINPID}x",
    ];
    def.insert(
        "post_start".into(),
        toml::Value::Array(vec![post_start.into()]),
    );
    h.define("expand", &toml::to_string(&def).unwrap());
    h.ok(&["install", "expand", "--start"]);
    assert_made(h, b, "expand", &[]);
    assert!(
        h.wait_for(Duration::from_secs(10), &format!("test -s '{record}'")),
        "the probe did not run"
    );
    let got = h.record(&record);
    let argv: Vec<Vec<u8>> = got["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(probe::bytes)
        .collect();
    let want: Vec<&[u8]> = EXPECTED.iter().map(|a| a.as_bytes()).collect();
    assert_eq!(
        argv,
        want,
        "{}: the probe's arguments, as text: {:?}",
        b.name(),
        argv.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
    for (k, v) in ENV {
        assert_eq!(probe::bytes(&got["env"][k]), v.as_bytes(), "env {k}");
    }
    println!(
        "{}: exec_expand: {} references, {} arguments as systemd's rules give them",
        b.name(),
        ARGS.len(),
        EXPECTED.len()
    );

    assert!(
        h.wait_for(Duration::from_secs(10), &format!("test -s '{post}'")),
        "post_start did not run"
    );
    let pid = h.status("expand").1["pid"].as_u64().expect("a main pid");
    assert_eq!(
        h.sh_out(&format!("cat '{post}'")),
        format!("2\n{pid}\n{pid}x"),
        "post_start's $MAINPID"
    );
    h.ok(&["uninstall", "expand"]);
    assert_gone(h, b, "expand", &[]);
    assert_eq!(
        backend::comparable(b, &backend::owned(h, b, true)),
        before,
        "uninstall left the tree changed"
    );
    h.undefine("expand");
}
