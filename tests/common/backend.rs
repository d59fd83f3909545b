//! One backend's adapter for the conformance scenarios (tests/conformance/): where it runs and
//! what its manager itself says. The scenarios know nothing of any manager; everything that
//! differs between backends is a method here, and each backend implements it once, in
//! tests/common/backends/. A method with a default is one most backends share.

use std::time::Duration;

use super::container::{enabled, Container};
use super::host::Host;

/// What install makes for a service, as a scenario checks it: present after install, gone
/// after uninstall.
pub enum Made {
    /// A generated file, at this path; install reports it `created`, `updated` or `unchanged`.
    File(String),
    /// Symbolic links matching this shell pattern (boot links, instance links); at least one.
    Link(String),
}

/// How a process ended, as the restart table sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// A new process runs.
    Restarted,
    /// Nothing comes back; the state it settles in.
    Stays(&'static str),
}

pub trait Backend: Sync {
    /// What `svc-any detect` prints and `--backend` takes; its tests' module.
    fn name(&self) -> &'static str;

    /// The tests/harness/box.sh profile whose PID 1 is this init system; None: a scope of the
    /// builtin supervisor on this machine.
    fn profile(&self) -> Option<&'static str>;

    /// PID 1's command name where this init system runs.
    fn init(&self) -> Option<&'static str> {
        None
    }

    /// The directories, relative to /, that this backend writes into, each with the name of
    /// an entry someone else could have there (the crash tests plant one and want it kept).
    fn dirs(&self) -> &'static [(&'static str, &'static str)];

    /// What install makes for `name` with these `instances` (none: a plain service), beyond
    /// svc-any's own record.
    fn made(&self, h: &Host, name: &str, instances: &[&str]) -> Vec<Made>;

    /// Panics unless the manager itself agrees with `s`, svc-any's status entry for `name`
    /// (its `state`, `pid`, `instance` and, where the manager keeps it, `last_exit`).
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value);

    /// Whether the manager starts `name` at boot, by its own account.
    fn enabled(&self, h: &Host, name: &str) -> bool;

    /// Checks that the files generated for `name` parse as the manager will read them.
    fn parses(&self, h: &Host, name: &str);

    /// The manager's own command for `verb` ("start" or "stop") of `name`, if it has one
    /// besides svc-any.
    fn native(&self, verb: &str, name: &str) -> Option<String> {
        let _ = (verb, name);
        None
    }

    /// A command any local user may run that shows what the manager knows of `name` (its
    /// environment included, where it keeps one), if it has one.
    fn public_view(&self, name: &str) -> Option<String> {
        let _ = name;
        None
    }

    /// The pid of the process, other than PID 1, that keeps `name` running for the manager
    /// (supervise-daemon, svc-any's supervisor, runsv...), if there is one.
    fn keeper(&self, h: &Host, name: &str) -> Option<u32> {
        let _ = (h, name);
        None
    }

    /// The flapper's stop/start/restart cycles. Where every start settles for a second by the
    /// manager's design (supervisord's startsecs, supervise's pause between starts, `sv -w`
    /// polling every 420 ms) a cycle takes seconds, and fewer of them keep the suite within
    /// CI's time; every step of each is still checked.
    fn flap_cycles(&self) -> usize {
        100
    }

    /// Whether the keeper is the manager itself (supervisord): once it is killed, nothing can
    /// say more of a service than `unknown`.
    fn keeper_is_the_manager(&self) -> bool {
        false
    }

    /// Whether svc-any's own supervisor keeps the services running (no manager of its own
    /// does).
    fn supervised_by_svc_any(&self) -> bool {
        false
    }

    /// The outcome on this backend, given the restart table's.
    fn restart(&self, table: Outcome) -> Outcome {
        table
    }

    /// The delay the manager really waits before a restart, given `restart_delay`.
    fn restart_delay(&self, asked: Duration) -> Duration {
        asked
    }

    /// Whether `status` can say how the last process ended; `running`: a new one runs since.
    fn knows_last_exit(&self, running: bool) -> bool {
        let _ = running;
        true
    }

    /// How many times the manager has reloaded its configuration, where it has such a step.
    fn reloads(&self, h: &Host) -> Option<usize> {
        let _ = h;
        None
    }

    /// Paths below /etc, /run and /var/lib that the manager changes by itself while it runs,
    /// none of them svc-any's.
    fn bookkeeping(&self) -> &'static [&'static str] {
        &[]
    }

    /// What of one line of `owned` (below) must read the same after install and uninstall;
    /// None: nothing. A directory's time follows its entries: its kind and mode stay.
    fn comparable(&self, line: &str) -> Option<String> {
        let f: Vec<&str> = line.split(' ').collect();
        Some(match f.as_slice() {
            [path, "d", mode, ..] => format!("{path} d {mode}"),
            _ => line.to_string(),
        })
    }

    /// Whether a generated file at `path` is a script the manager executes (0755; the rest
    /// is 0644).
    fn executable(&self, path: &str) -> bool {
        path.starts_with("/etc/init.d/")
    }

    /// Whether the dialect carries Unicode noncharacters.
    fn carries_noncharacters(&self) -> bool {
        true
    }
}

/// A fresh host for one test, or None (and why) where it cannot run here.
pub fn boot(b: &dyn Backend, test: &str, tag: &str) -> Option<Host> {
    let h = match b.profile() {
        Some(profile) if enabled(test) => Host::Box(Container::boot(profile, tag)),
        Some(_) => return None,
        None => Host::local(&format!("{}-{tag}", b.name())),
    };
    assert_eq!(h.sh_out("svc-any detect"), b.name(), "the live backend");
    if let Host::Box(_) = &h {
        // The cell is the one asked for (SVC_ANY_RELEASE), by svc-any's own os-release reading.
        let detected: serde_json::Value =
            serde_json::from_str(&h.sh_out("svc-any detect --json")).unwrap();
        let want = super::container::debian_version();
        assert_eq!(
            (
                &detected["distribution"]["id"],
                &detected["distribution"]["version_id"]
            ),
            (&"debian".into(), &want.into()),
            "{test}: the release of the cell"
        );
    }
    Some(h)
}

/// Every entry below the directories svc-any writes into for `b` (and its state and, with
/// `runtime`, the supervisor's runtime), with times: equal listings mean nothing changed.
pub fn owned(h: &Host, b: &dyn Backend, runtime: bool) -> String {
    let mut roots: Vec<String> = Vec::new();
    for (dir, _) in b.dirs() {
        let dir = format!("/{dir}");
        if !roots.iter().any(|r| dir.starts_with(&format!("{r}/"))) {
            roots.push(dir);
        }
    }
    roots.push(h.state_dir());
    if runtime {
        roots.push(h.runtime_dir());
    }
    h.find(&roots, &h.logs(), "%p %y %m %T@ %l\\n")
}

/// What `owned` must keep across install and uninstall, sorted again: `comparable` may
/// rename entries.
pub fn comparable(b: &dyn Backend, listing: &str) -> Vec<String> {
    let mut kept: Vec<String> = listing.lines().filter_map(|l| b.comparable(l)).collect();
    kept.sort();
    kept
}

/// Asserts what `made` says: every file a regular file, every pattern matching links only.
pub fn assert_made(h: &Host, b: &dyn Backend, name: &str, instances: &[&str]) {
    for m in b.made(h, name, instances) {
        let (what, test) = match &m {
            Made::File(p) => (p, format!("test -f '{p}' && ! test -L '{p}'")),
            Made::Link(p) => (
                p,
                format!("n=0; for f in {p}; do test -L \"$f\" || exit 1; n=1; done; test $n = 1"),
            ),
        };
        assert!(h.succeeds(&test), "{}: install made no {what}", b.name());
    }
}

/// Asserts that nothing `made` lists is left.
pub fn assert_gone(h: &Host, b: &dyn Backend, name: &str, instances: &[&str]) {
    for m in b.made(h, name, instances) {
        let p = match &m {
            Made::File(p) => format!("'{p}'"),
            Made::Link(p) => p.clone(),
        };
        assert!(
            !h.succeeds(&format!(
                "for f in {p}; do if test -e \"$f\" || test -L \"$f\"; then exit 0; fi; done; exit 1"
            )),
            "{}: uninstall left {p}",
            b.name()
        );
    }
}
