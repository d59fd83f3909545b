//! Helpers shared by the behaviour tests: run the real binary, make scratch trees, boot
//! containers; for the conformance suite (tests/conformance/), where a scenario runs (host.rs)
//! and each backend's adapter (backend.rs, backends/).
#![allow(dead_code)]

pub mod backend;
pub mod backends;
pub mod container;
pub mod generate;
pub mod host;
pub mod probe;
pub mod scope;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The svc-any binary cargo built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_svc-any"))
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A command for svc-any with a predictable environment: no backend from the caller's
/// environment, a fixed HOME, and detection read from an empty fake host unless overridden.
pub fn svc_any() -> Command {
    let mut cmd = Command::new(bin());
    cmd.env_remove("SVC_ANY_BACKEND")
        .env_remove("SVC_ANY_TEMPLATE_DIR")
        .env_remove("XDG_CONFIG_HOME")
        .env_remove("XDG_STATE_HOME")
        .env("HOME", "/home/test")
        .stdin(Stdio::null());
    cmd
}

/// Runs and captures; never panics on a non-zero exit (tests assert the code).
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("svc-any runs")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A line of a log svc-any's supervisor wrote, its stamp (`2026-11-30T23:41:07.123456Z `)
/// checked and taken off: the time it names, and the line as the service wrote it.
pub fn unstamp(line: &str) -> (std::time::SystemTime, &str) {
    let (stamp, rest) = line
        .split_once(' ')
        .unwrap_or_else(|| panic!("no stamp on {line:?}"));
    assert!(
        stamp.len() == 27 && stamp.as_bytes()[10] == b'T' && stamp.ends_with('Z'),
        "not an RFC 3339 stamp with microseconds: {line:?}"
    );
    let at = humantime::parse_rfc3339(stamp).unwrap_or_else(|e| panic!("{e}: {line:?}"));
    (at, rest)
}

/// `logs` output with every line's stamp checked and taken off (after `NAME | ` where lines
/// are prefixed with their service).
pub fn unstamped(text: &str) -> String {
    text.lines()
        .map(|line| match line.split_once(" | ") {
            Some((name, rest)) if !line.starts_with(|c: char| c.is_ascii_digit()) => {
                format!("{name} | {}\n", unstamp(rest).1)
            }
            _ => format!("{}\n", unstamp(line).1),
        })
        .collect()
}

/// A fresh directory under the target dir, removed first if a previous run left it.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every path below `root` with its kind, size, mode, mtime and link target: equal snapshots
/// mean nothing on disk changed.
pub fn snapshot(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let link = std::fs::read_link(&path)
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            out.push(format!(
                "{} {:o} {} {}.{} {}",
                path.strip_prefix(root).unwrap().display(),
                meta.mode(),
                meta.len(),
                meta.mtime(),
                meta.mtime_nsec(),
                link
            ));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Compares `actual` with `tests/golden/DIR/NAME`; `SVC_ANY_BLESS=1` rewrites the file after an
/// intended change.
pub fn golden(dir: &str, name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(dir)
        .join(name);
    if std::env::var_os("SVC_ANY_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("missing golden file {}", path.display()));
    assert_eq!(actual, expected, "render differs from {}", path.display());
}

/// `svc-any --backend BACKEND render -f` of a definition in tests/fixtures/specs/.
pub fn render_fixture(backend: &str, fixture: &str) -> std::process::Output {
    let file = fixtures().join("specs").join(fixture);
    run(svc_any()
        .args(["--backend", backend, "render", "-f"])
        .arg(&file))
}

/// What a render of a fixture prints, which must succeed, with the fixtures' directory written
/// `<fixtures>` so that golden files do not depend on the checkout's path.
pub fn rendered_fixture(backend: &str, fixture: &str) -> String {
    let out = render_fixture(backend, fixture);
    assert!(
        out.status.success(),
        "render {fixture} for {backend}: {}",
        text(&out.stderr)
    );
    text(&out.stdout).replace(
        &fixtures().join("specs").display().to_string(),
        "<fixtures>",
    )
}

/// What no run directory (runit, daemontools, s6) carries: each definition and the key its
/// refusal must name.
#[allow(dead_code)] // used by the run-directory render tests only
pub const RUN_DIR_REFUSALS: &[(&str, &str)] = &[
    (
        "exec = [\"/bin/sleep\", \"1\"]\nenv_file = \"/etc/default/x\"\n",
        "env_file",
    ),
    (
        "exec = [\"/bin/sleep\", \"1\"]\n[log]\nfile = \"/var/log/x.log\"\n",
        "log",
    ),
    (
        "exec = [\"/bin/sleep\", \"1\"]\nlimits = { nproc = \"infinity\" }\n",
        "limits.nproc",
    ),
    (
        "exec = [\"/bin/sleep\", \"1\"]\ntype = \"notify\"\n",
        "type",
    ),
    (
        "exec = [\"/bin/sleep\", \"1\"]\nafter = [\"network-online.target\"]\n",
        "after",
    ),
];

/// `render -f` of each definition of `cases` for `backend` exits 2 with an error naming the
/// case's key and the backend.
pub fn refused_naming_key_and_backend(backend: &str, cases: &[(&str, &str)]) {
    for (toml, key) in cases {
        let dir = scratch(&format!("{backend}-refused-{}", key.replace('.', "-")));
        let def = dir.join("x.toml");
        std::fs::write(&def, toml).unwrap();
        let out = run(svc_any()
            .args(["--backend", backend, "render", "-f"])
            .arg(&def));
        assert_eq!(out.status.code(), Some(2), "{key}: {}", text(&out.stdout));
        let err = text(&out.stderr);
        assert!(
            err.contains(key) && err.contains(backend),
            "{key} on {backend}: {err}"
        );
    }
}

/// The files a render prints, as (path, content); its `### enable:` lines are links, not files.
pub fn emitted_files(rendered: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in rendered.lines() {
        if let Some(rest) = line.strip_prefix("### ") {
            if !rest.starts_with("enable:") {
                out.push((
                    rest.split(" (mode").next().unwrap().to_string(),
                    String::new(),
                ));
            }
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.1.push_str(line);
            last.1.push('\n');
        }
    }
    out
}

/// `sh -n` and `dash -n` accept `script` (`label` names it in a failure).
pub fn parses_in_sh_and_dash(label: &str, script: &str) {
    let dir = scratch(&format!("syntax-{}-{label}", std::process::id()));
    let path = dir.join("script");
    std::fs::write(&path, script).unwrap();
    for shell in ["sh", "dash"] {
        let out = std::process::Command::new(shell)
            .arg("-n")
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{shell} -n {label}: {}",
            text(&out.stderr)
        );
    }
}
