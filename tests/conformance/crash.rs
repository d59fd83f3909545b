//! svc-any killed with SIGKILL at every labelled point of install and uninstall
//! (`SVC_ANY_CRASH_AT`, src/crashpoint.rs), as a power cut or the OOM killer would: no file is
//! ever seen half written (each holds its old or its new content, whole, with that version's
//! mode), and running the same command again converges to exactly the tree an uninterrupted run
//! makes: the same files, contents, modes, links and records, and no temporary file left.
//!
//! Every backend, offline (`install --root`): fresh install, update to a changed definition
//! (files rewritten, stale instances removed) and uninstall. `LABEL#N` stops at the Nth time
//! a label is reached, so every write and link of a command is a crash point of its own.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};

use crate::common::backend::Backend;
use crate::common::*;

const INSTALL_LABELS: &[&str] = &[
    "write:before-rename",
    "link:before-rename",
    "install:file-written",
    "install:before-record",
];
const UNINSTALL_LABELS: &[&str] = &["uninstall:links-removed", "uninstall:files-removed"];

/// Two instances, then a changed argument and one instance swapped: the update rewrites every
/// file and removes one instance's files and links.
const V1: &str = "exec = [\"/bin/sleep\", \"{instance}00\"]\ninstances = [\"1\", \"2\"]\nenv = { MODE = \"one\" }\n";
const V2: &str = "exec = [\"/bin/sleep\", \"{instance}0\"]\ninstances = [\"1\", \"3\"]\nenv = { MODE = \"two\" }\n";

/// One entry of a tree: what it is, its mode, and its content or link target.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Dir(u32),
    File(u32, Vec<u8>),
    Link(PathBuf),
}

type Tree = BTreeMap<PathBuf, Entry>;

/// Everything below `root` that matters for "the same state": no times, which a rewrite of
/// identical content would change but nothing reads.
fn tree(root: &Path) -> Tree {
    let mut out = Tree::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.mode() & 0o7777;
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            let e = if meta.is_symlink() {
                Entry::Link(std::fs::read_link(&path).unwrap())
            } else if meta.is_dir() {
                stack.push(path);
                Entry::Dir(mode)
            } else {
                Entry::File(mode, std::fs::read(&path).unwrap())
            };
            out.insert(rel, e);
        }
    }
    out
}

/// The target of a temporary file svc-any writes beside it: `.NAME.svc-any-PID.tmp`.
fn temp_target(path: &Path) -> Option<PathBuf> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (target, pid) = rest.rsplit_once(".svc-any-")?;
    pid.parse::<u32>().ok()?;
    Some(path.with_file_name(target))
}

/// A tree as a system has it before svc-any: the directories every backend of the table
/// writes into, each with someone else's entry, which every command must leave alone.
fn system_tree(name: &str) -> PathBuf {
    let root = scratch(name);
    let own = |dir: &str, entry: &str| {
        let d = root.join(dir);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join(entry), "not svc-any's\n").unwrap();
    };
    for b in crate::BACKENDS {
        for (dir, entry) in b.dirs() {
            own(dir, entry);
        }
    }
    own("var/lib", "other");
    root
}

struct Case<'a> {
    backend: &'a str,
    spec: &'a Path,
}

impl Case<'_> {
    fn run(&self, root: &Path, args: &[&str], crash: Option<&str>) -> std::process::Output {
        let mut cmd = svc_any();
        cmd.args(["--backend", self.backend]).args(args);
        cmd.arg("--root").arg(root);
        if args[0] == "install" {
            cmd.arg("-f").arg(self.spec);
        }
        if let Some(label) = crash {
            cmd.env("SVC_ANY_CRASH_AT", label);
        }
        run(&mut cmd)
    }

    fn ok(&self, root: &Path, args: &[&str]) {
        let out = self.run(root, args, None);
        assert!(
            out.status.success(),
            "{} {args:?}: {}",
            self.backend,
            text(&out.stderr)
        );
    }
}

/// Counts for the report.
#[derive(Default)]
struct Counts {
    crashes: usize,
    failures: Vec<String>,
}

/// Crashes `args` at every occurrence of every label, each time in a tree made by `prepare`;
/// checks the tree after the crash against `before` and `after` (an uninterrupted run), then
/// runs `args` again and wants exactly `after`.
fn crash_everywhere(
    case: &Case,
    what: &str,
    labels: &[&str],
    args: &[&str],
    prepare: &dyn Fn(&Path),
    counts: &mut Counts,
) {
    let clean = system_tree(&format!("crash-{}-{what}-clean", case.backend));
    prepare(&clean);
    let before = tree(&clean);
    case.ok(&clean, args);
    let after = tree(&clean);
    assert_ne!(before, after, "{what} changes the tree");

    for label in labels {
        for n in 1.. {
            let crash = format!("{label}#{n}");
            let root = system_tree(&format!("crash-{}-{what}", case.backend));
            prepare(&root);
            let out = case.run(&root, args, Some(&crash));
            if out.status.success() {
                // The label is reached fewer than n times: every occurrence was a crash point.
                // An update that makes no new link never reaches link:before-rename; a first
                // install passes every label.
                assert!(
                    n > 1 || what != "install",
                    "{} {what}: {label} is never reached",
                    case.backend
                );
                break;
            }
            assert_eq!(
                out.status.signal(),
                Some(9),
                "{} {what} at {crash}: {}",
                case.backend,
                text(&out.stderr)
            );
            counts.crashes += 1;
            let context = format!("{} {what} killed at {crash}", case.backend);
            if let Err(e) = whole_files(&tree(&root), &before, &after) {
                counts.failures.push(format!("{context}: {e}"));
            }
            case.ok(&root, args);
            if tree(&root) != after {
                counts.failures.push(format!(
                    "{context}: running it again did not converge:\n{}",
                    difference(&tree(&root), &after)
                ));
            }
        }
    }
}

/// Every file in `crashed` is whole: its content and mode are those of `before` or of `after`
/// at that path; a temporary file holds exactly the new content of its target.
fn whole_files(crashed: &Tree, before: &Tree, after: &Tree) -> Result<(), String> {
    for (path, entry) in crashed {
        if !matches!(entry, Entry::File(..)) {
            continue;
        }
        if let Some(target) = temp_target(path) {
            if after.get(&target) != Some(entry) {
                return Err(format!(
                    "temporary {} is not the complete new {}",
                    path.display(),
                    target.display()
                ));
            }
            continue;
        }
        if before.get(path) != Some(entry) && after.get(path) != Some(entry) {
            return Err(format!(
                "{} is neither its old nor its new version",
                path.display()
            ));
        }
    }
    Ok(())
}

fn difference(got: &Tree, want: &Tree) -> String {
    let mut lines = Vec::new();
    for (path, e) in got {
        if want.get(path) != Some(e) {
            lines.push(format!("  has  {} {e:?}", path.display()));
        }
    }
    for (path, e) in want {
        if got.get(path) != Some(e) {
            lines.push(format!("  want {} {e:?}", path.display()));
        }
    }
    lines.join("\n")
}

/// Crashes at every point of install, update and uninstall with `b`, and the round trip.
pub fn converge(b: &dyn Backend) {
    let backend = b.name();
    let dir = scratch(&format!("crash-{backend}-spec"));
    let (v1, v2) = (dir.join("v1/web.toml"), dir.join("v2/web.toml"));
    for (path, body) in [(&v1, V1), (&v2, V2)] {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let first = Case { backend, spec: &v1 };
    let second = Case { backend, spec: &v2 };
    let mut counts = Counts::default();

    crash_everywhere(
        &first,
        "install",
        INSTALL_LABELS,
        &["install"],
        &|_| {},
        &mut counts,
    );
    crash_everywhere(
        &second,
        "update",
        INSTALL_LABELS,
        &["install"],
        &|root| first.ok(root, &["install"]),
        &mut counts,
    );
    crash_everywhere(
        &first,
        "uninstall",
        UNINSTALL_LABELS,
        &["uninstall", "web"],
        &|root| first.ok(root, &["install"]),
        &mut counts,
    );

    // Uninstall must also restore the tree exactly, crash or not (checked above as "after").
    let root = system_tree(&format!("crash-{backend}-roundtrip"));
    let pristine = tree(&root);
    first.ok(&root, &["install"]);
    first.ok(&root, &["uninstall", "web"]);
    assert_eq!(
        tree(&root),
        pristine,
        "{backend}: uninstall left the tree changed:\n{}",
        difference(&tree(&root), &pristine)
    );

    eprintln!(
        "crash safety, {backend}: {} crashes (install, update, uninstall), {} failures",
        counts.crashes,
        counts.failures.len()
    );
    assert!(counts.failures.is_empty(), "{}", counts.failures.join("\n"));
}
