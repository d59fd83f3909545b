//! Which init system runs here, and how sure we are.
//!
//! A binary on PATH proves nothing (Debian images ship systemctl without systemd running), so
//! detection looks at what is running: PID 1's identity, whether we are in a chroot, and the
//! markers each manager leaves in /run while it runs. Every probe reads below a root path, so
//! tests can build fake hosts; `svc-any detect --explain` prints each probe and its answer.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// One question asked of the host, and its answer.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    pub probe: String,
    pub answer: String,
}

/// The verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Detection {
    /// The name of the backend for it (`crate::backends::NAMES`).
    pub backend: String,
    /// Whether that manager is running here (false in a chroot: write files, start nothing).
    pub live: bool,
    pub reason: String,
    /// Other managers running here under the init (`runsvdir`, `svscan`, a supervisord started
    /// by an init script): live for `--backend NAME`, never chosen by detection.
    pub also_running: Vec<String>,
    /// The distribution and release, from os-release(5); `None` where the tree has none.
    pub distribution: Option<Distribution>,
    pub probes: Vec<Probe>,
}

/// What os-release(5) says of the tree: `debian` `12` "Debian GNU/Linux 12 (bookworm)".
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Distribution {
    /// `ID`: `debian`, `alpine`, `ubuntu`...
    pub id: String,
    /// `ID_LIKE`, split: what a derivative follows (`["debian"]` for Ubuntu).
    pub like: Vec<String>,
    /// `VERSION_ID`: `12`, `3.20.1`; empty on rolling releases.
    pub version_id: String,
    /// `VERSION_CODENAME`: `bookworm`.
    pub codename: String,
    /// `PRETTY_NAME`, for people.
    pub pretty_name: String,
}

/// Reads `ROOT/etc/os-release`, else `ROOT/usr/lib/os-release`, as os-release(5) says.
pub fn distribution(root: &Path) -> Option<Distribution> {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| p.is_file())
        .and_then(|p| os_release::OsRelease::new_from(p).ok())
        .map(|r| Distribution {
            like: r.id_like.split_whitespace().map(String::from).collect(),
            id: r.id,
            version_id: r.version_id,
            codename: r.version_codename,
            pretty_name: r.pretty_name,
        })
}

/// Detects the init system of the host whose file system is at `root` (`/` normally).
pub fn detect(root: &Path) -> Detection {
    let mut probes = Vec::new();
    let mut ask = |probe: &str, answer: String| {
        probes.push(Probe {
            probe: probe.into(),
            answer: answer.clone(),
        });
        answer
    };
    let path = |p: &str| -> PathBuf { root.join(p.trim_start_matches('/')) };

    // Every macOS has this file; reading it (not only the build target) lets the tests stand up
    // a fake macOS host.
    let distribution = distribution(root);
    let macos = cfg!(target_os = "macos")
        || path("/System/Library/CoreServices/SystemVersion.plist").is_file();
    if macos {
        ask(
            "operating system (/System/Library/CoreServices/SystemVersion.plist)",
            "macOS".into(),
        );
        return Detection {
            backend: "launchd".into(),
            live: true,
            reason: "macOS always runs launchd as PID 1".into(),
            also_running: Vec::new(),
            distribution,
            probes,
        };
    }
    ask("operating system", std::env::consts::OS.into());
    ask(
        "distribution (/etc/os-release)",
        match &distribution {
            Some(d) if d.pretty_name.is_empty() => format!("{} {}", d.id, d.version_id),
            Some(d) => format!("{} ({} {})", d.pretty_name, d.id, d.version_id),
            None => "unknown (no os-release file)".into(),
        },
    );

    let pid1_comm = std::fs::read_to_string(path("/proc/1/comm"))
        .map(|s| s.trim().to_string())
        .ok();
    let pid1_exe = std::fs::read_link(path("/proc/1/exe")).ok();
    ask(
        "PID 1 (/proc/1/comm, /proc/1/exe)",
        format!(
            "{} ({})",
            pid1_comm.as_deref().unwrap_or("unreadable"),
            pid1_exe
                .as_ref()
                .map_or("unreadable".into(), |p| p.display().to_string())
        ),
    );
    // Without /proc there is no running init to talk to: an image build or a bare chroot.
    let chroot = in_chroot(root).or(pid1_comm.is_none().then_some(true));
    ask(
        "chroot (/proc/1/root is not /)",
        match chroot {
            Some(true) => "yes: the running init belongs to another root".into(),
            Some(false) => "no".into(),
            None => "unknown (cannot read /proc/1/root)".into(),
        },
    );
    let systemd_canary = path("/run/systemd/system").is_dir();
    ask(
        "systemd running (/run/systemd/system)",
        yes_no(systemd_canary),
    );
    let openrc_booted = path("/run/openrc/softlevel").exists();
    ask(
        "OpenRC booted (/run/openrc/softlevel)",
        yes_no(openrc_booted),
    );
    let openrc_installed =
        path("/sbin/openrc-run").exists() || path("/usr/sbin/openrc-run").exists();
    ask(
        "OpenRC installed (/sbin/openrc-run)",
        yes_no(openrc_installed),
    );
    let initd = path("/etc/init.d").is_dir();
    ask("SysV scripts (/etc/init.d)", yes_no(initd));
    let runsvdir = running_supervisor(root, "runsvdir");
    ask("runit's runsvdir running (/proc/*/comm)", yes_no(runsvdir));
    let svscan = running_supervisor(root, "svscan");
    ask("daemontools' svscan running (/proc/*/comm)", yes_no(svscan));
    let installed_init = installed_init(root);
    ask(
        "init installed in this tree (/sbin/init)",
        installed_init.clone().unwrap_or_else(|| "none".into()),
    );

    let supervisord = running_supervisord(root);
    ask(
        "supervisord running (its pid file, /proc/PID/cmdline)",
        match &supervisord {
            Some(pid) => format!("yes (pid {pid}): choose it with --backend supervisord"),
            None => "no".into(),
        },
    );

    let pid1_name = pid1_comm.unwrap_or_default();
    let verdict = |backend: &str, live: bool, reason: String| (backend.to_string(), live, reason);
    let (backend, live, reason) = if chroot == Some(true) {
        // Building an image or running a package's maintainer script: nothing here runs, so
        // install for the init the tree will boot with, and only write files.
        match installed_init.as_deref() {
            Some("systemd") => verdict(
                "systemd",
                false,
                "chroot of a systemd tree: files and boot links only".into(),
            ),
            Some("openrc") => verdict(
                "openrc",
                false,
                "chroot of an OpenRC tree: files and boot links only".into(),
            ),
            Some("sysvinit") => verdict(
                "sysv",
                false,
                "chroot of a SysV tree: files and boot links only".into(),
            ),
            Some("runit") => verdict(
                "runit",
                false,
                "chroot of a runit tree: service directories and links only".into(),
            ),
            _ => verdict(
                "builtin",
                false,
                "chroot with no known init installed".into(),
            ),
        }
    } else if systemd_canary && pid1_name == "systemd" {
        verdict(
            "systemd",
            true,
            "systemd is PID 1 and /run/systemd/system exists".into(),
        )
    } else if systemd_canary {
        verdict(
            "systemd",
            true,
            format!("/run/systemd/system exists (PID 1 is `{pid1_name}`)"),
        )
    } else if pid1_name == "s6-svscan" {
        verdict(
            "s6",
            true,
            "s6-svscan is PID 1: s6-supervise supervises the services".into(),
        )
    } else if pid1_name == "runit" || pid1_name == "runit-init" {
        verdict(
            "runit",
            true,
            "runit is PID 1: runsvdir supervises the services".into(),
        )
    } else if pid1_name == "supervisord" {
        // The container's way: supervisord is the init itself.
        verdict("supervisord", true, "supervisord is PID 1".into())
    } else if openrc_booted && openrc_installed {
        verdict(
            "openrc",
            true,
            "OpenRC booted this system (/run/openrc/softlevel)".into(),
        )
    } else if pid1_name == "init" && initd && installed_init.as_deref() == Some("sysvinit") {
        verdict(
            "sysv",
            true,
            "sysvinit is PID 1 and /etc/init.d holds the scripts".into(),
        )
    } else {
        verdict(
            "builtin",
            true,
            format!("no init system runs here (PID 1 is `{pid1_name}`): svc-any's own supervisor"),
        )
    };
    let mut also_running = Vec::new();
    for (running, name, what) in [
        (runsvdir, "runit", "runsvdir (runit)"),
        (svscan, "daemontools", "svscan (daemontools)"),
    ] {
        if backend != name && running && chroot != Some(true) {
            ask(
                "also running here",
                format!("{what} under another init: choose it with --backend {name}"),
            );
            also_running.push(name.to_string());
        }
    }
    if supervisord.is_some() && backend != "supervisord" && chroot != Some(true) {
        also_running.push("supervisord".to_string());
    }
    Detection {
        backend,
        live,
        reason,
        also_running,
        distribution,
        probes,
    }
}

/// The pid of a supervisord that runs here, from the pid files Debian's, RHEL's and the
/// default configuration write (`/run/supervisord.pid`, `/var/run/...`, `/tmp/...`), if that
/// process's command line names supervisord. Never the verdict over the init that runs it:
/// an operator chooses it with `--backend supervisord`.
fn running_supervisord(root: &Path) -> Option<u32> {
    [
        "run/supervisord.pid",
        "var/run/supervisord.pid",
        "tmp/supervisord.pid",
    ]
    .iter()
    .filter_map(|f| std::fs::read_to_string(root.join(f)).ok())
    .filter_map(|t| t.trim().parse::<u32>().ok())
    .find(|pid| {
        std::fs::read(root.join(format!("proc/{pid}/cmdline")))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("supervisord"))
    })
}

impl Detection {
    /// The backend an operator chose (`--backend`, `SVC_ANY_BACKEND`) over what was detected,
    /// kept in the reason and the probes so that `--explain` still shows both.
    pub fn choose(&mut self, backend: &str) {
        if backend == self.backend {
            return;
        }
        self.probes.push(Probe {
            probe: "chosen (--backend, SVC_ANY_BACKEND)".into(),
            answer: backend.into(),
        });
        self.reason = format!(
            "chosen with --backend or SVC_ANY_BACKEND (detected: {}, {})",
            self.backend, self.reason
        );
        self.backend = backend.into();
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.into()
}

/// Whether a process named `comm` runs (read from `/proc/*/comm` below `root`).
fn running_supervisor(root: &Path, comm: &str) -> bool {
    let Ok(entries) = std::fs::read_dir(root.join("proc")) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            && std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == comm)
    })
}

/// Compares the root directory of PID 1 with ours: a chroot sees a different inode.
fn in_chroot(root: &Path) -> Option<bool> {
    let ours = std::fs::metadata(root).ok()?;
    let init = std::fs::metadata(root.join("proc/1/root")).ok()?;
    Some(ours.dev() != init.dev() || ours.ino() != init.ino())
}

/// Which init the tree boots with, from where `/sbin/init` leads.
fn installed_init(root: &Path) -> Option<String> {
    let init = root.join("sbin/init");
    let target = std::fs::read_link(&init)
        .ok()
        .map(|t| t.display().to_string());
    let name = match target.as_deref() {
        Some(t) if t.contains("systemd") => "systemd",
        Some(t) if t.contains("openrc") => "openrc",
        Some(t) if t.contains("runit") => "runit",
        Some(_) => "unknown",
        None if init.is_file() => {
            if root.join("sbin/openrc-run").exists() || root.join("usr/sbin/openrc-run").exists() {
                "openrc"
            } else {
                "sysvinit"
            }
        }
        None => return None,
    };
    Some(name.into())
}

impl Detection {
    /// The `--explain` text: every probe, then the verdict.
    pub fn explain(&self) -> String {
        let width = self.probes.iter().map(|p| p.probe.len()).max().unwrap_or(0);
        let mut out = String::new();
        for p in &self.probes {
            out.push_str(&format!("  {:<width$}  {}\n", p.probe, p.answer));
        }
        out.push_str(&format!(
            "=> {}{}: {}\n",
            self.backend,
            if self.live { "" } else { " (offline)" },
            self.reason
        ));
        out
    }
}
