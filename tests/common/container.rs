//! A real init system booted as PID 1 of a container (tests/harness/box.sh), for end-to-end
//! tests. Needs root; enabled by `SVC_ANY_E2E=1` (tests/run sets it). Under CI a disabled
//! end-to-end test fails instead of skipping, so a green CI always means they ran.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::{bin, text};

/// Whether end-to-end tests run here; explains itself when they do not.
pub fn enabled(test: &str) -> bool {
    if std::env::var("SVC_ANY_E2E").as_deref() == Ok("1") {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("{test}: end-to-end tests must run in CI; set SVC_ANY_E2E=1 (as root), as tests/run does");
    }
    eprintln!("skipping {test}: set SVC_ANY_E2E=1 and run as root (`tests/run` does both)");
    false
}

/// The matrix's cell selector: `SVC_ANY_RELEASE` (11, 12, 13, or busybox) picks the trees that
/// every box profile boots, so the one conformance suite runs on Debian 11, 12 (the default)
/// and 13, and its OpenRC rows on the Alpine-like busybox tree (tests/matrix sets it).
pub fn release() -> Option<String> {
    std::env::var("SVC_ANY_RELEASE")
        .ok()
        .filter(|r| !r.is_empty() && r != "12")
}

/// The Debian release (os-release's VERSION_ID) of the selected trees.
pub fn debian_version() -> String {
    match release().as_deref() {
        None | Some("busybox") => "12".into(),
        Some(r) => r.into(),
    }
}

/// The box.sh profile of `profile` in the selected release: `systemd` becomes `systemd-11`.
pub fn cell_profile(profile: &str) -> String {
    match release() {
        Some(r) => format!("{profile}-{r}"),
        None => profile.to_string(),
    }
}

pub struct Container {
    profile: String,
    instance: String,
}

/// The binary bound into every container as /usr/local/bin/svc-any: `SVC_ANY_BIN` (tests/run
/// sets it to the static musl release build, the one that ships and the one every Debian
/// release and the busybox tree can run), else this test run's own build.
pub fn tested_bin() -> PathBuf {
    std::env::var_os("SVC_ANY_BIN").map_or_else(bin, PathBuf::from)
}

fn harness() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/box.sh")
}

impl Container {
    /// Builds the tree if needed and boots a fresh container of `profile`. `instance` keeps
    /// tests that run at the same time in separate containers; `SVC_ANY_BOX_PREFIX` goes in
    /// front of it, so two checkouts tested on one machine never share a container.
    pub fn boot(profile: &str, instance: &str) -> Container {
        Container::boot_exact(&cell_profile(profile), instance)
    }

    /// Boots the box.sh profile `profile` as named, whatever release SVC_ANY_RELEASE selects.
    pub fn boot_exact(profile: &str, instance: &str) -> Container {
        let prefix = std::env::var("SVC_ANY_BOX_PREFIX").unwrap_or_default();
        let c = Container {
            profile: profile.into(),
            instance: format!("{prefix}{instance}"),
        };
        let out = c.harness(&["build", &c.profile]);
        assert!(
            out.status.success(),
            "box.sh build {}:\n{}",
            c.profile,
            text(&out.stderr)
        );
        let out = c.harness(&["up", &c.profile]);
        assert!(
            out.status.success(),
            "box.sh up {}:\n{}{}",
            c.profile,
            text(&out.stdout),
            text(&out.stderr)
        );
        c
    }

    /// A container of `profile` that is not booted: [`Container::chroot`] works on its tree as
    /// an image build would, then [`Container::boot_kept`] boots what that left.
    pub fn unbooted(profile: &str, instance: &str) -> Container {
        let prefix = std::env::var("SVC_ANY_BOX_PREFIX").unwrap_or_default();
        let c = Container {
            profile: cell_profile(profile),
            instance: format!("{prefix}{instance}"),
        };
        let out = c.harness(&["build", &c.profile]);
        assert!(
            out.status.success(),
            "box.sh build {}:\n{}",
            c.profile,
            text(&out.stderr)
        );
        let _ = c.harness(&["down", &c.profile]);
        c
    }

    /// Runs `argv` chrooted into the tree of a container that is down (box.sh chroot), with
    /// `input` on its stdin; `keep` keeps what earlier chroots and boots left.
    pub fn chroot(&self, keep: bool, argv: &[&str], input: &[u8]) -> Output {
        let mut args = vec!["chroot", self.profile.as_str()];
        if keep {
            args.push("--keep");
        }
        args.extend_from_slice(argv);
        self.run_with_input(&args, input)
    }

    /// Boots with the state the last chroot or boot left.
    pub fn boot_kept(&self) {
        let out = self.harness(&["up", &self.profile, "--keep"]);
        assert!(
            out.status.success(),
            "box.sh up --keep:\n{}{}",
            text(&out.stdout),
            text(&out.stderr)
        );
    }

    /// box.sh with this container's settings.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("bash");
        cmd.arg(harness())
            .args(args)
            .env("SVC_ANY_BOX", &self.instance)
            .env("SVC_ANY_BIN", tested_bin())
            .env(
                "SVC_ANY_BOX_SHARE",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"),
            )
            .stdin(Stdio::null());
        cmd
    }

    fn harness(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        if !matches!(args.first(), Some(&"up" | &"reboot")) {
            return cmd.output().expect("bash runs box.sh");
        }
        // Booting leaves the container running in the background: capture through files, so
        // a pipe it might inherit cannot keep this call waiting for an end of file.
        let dir = std::env::temp_dir();
        let tag = format!("svc-any-box-{}-{}", self.instance, std::process::id());
        let (out_path, err_path) = (
            dir.join(format!("{tag}.out")),
            dir.join(format!("{tag}.err")),
        );
        let status = cmd
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .status()
            .expect("bash runs box.sh");
        let output = Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        };
        let _ = std::fs::remove_file(out_path);
        let _ = std::fs::remove_file(err_path);
        output
    }

    /// Runs a command inside, as root.
    pub fn exec(&self, argv: &[&str]) -> Output {
        let mut args = vec!["exec", self.profile.as_str()];
        args.extend_from_slice(argv);
        self.harness(&args)
    }

    /// Runs a command inside with `input` on its stdin: carries any bytes, of any size (an
    /// argument of `sh -c` stops at 128 KiB).
    pub fn exec_input(&self, argv: &[&str], input: &[u8]) -> Output {
        let mut args = vec!["exec", self.profile.as_str()];
        args.extend_from_slice(argv);
        self.run_with_input(&args, input)
    }

    /// box.sh `args` with `input` on its stdin.
    fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash runs box.sh");
        // A thread writes so that a command which answers before reading all its input
        // cannot deadlock against us.
        let mut stdin = child.stdin.take().unwrap();
        let input = input.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().expect("box.sh exec finishes");
        let _ = writer.join();
        out
    }

    /// Writes files inside (parent directories made), byte for byte, in one call.
    pub fn write_files(&self, files: &[(String, String)]) {
        let map: serde_json::Map<String, serde_json::Value> = files
            .iter()
            .map(|(p, c)| (p.clone(), c.as_str().into()))
            .collect();
        let script = r#"
import json, os, sys
for path, content in json.load(sys.stdin).items():
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(content.encode())
"#;
        let out = self.exec_input(
            &["python3", "-c", script],
            serde_json::to_string(&map).unwrap().as_bytes(),
        );
        assert!(
            out.status.success(),
            "writing {} files inside failed:\n{}",
            files.len(),
            text(&out.stderr)
        );
    }

    /// Runs a shell snippet inside.
    pub fn sh(&self, script: &str) -> Output {
        self.exec(&["sh", "-c", script])
    }

    /// The snippet's trimmed stdout; panics if it fails.
    pub fn sh_out(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` failed ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout).trim().to_string()
    }

    /// svc-any inside the container.
    pub fn svc_any(&self, args: &[&str]) -> Output {
        let mut argv = vec!["svc-any"];
        argv.extend_from_slice(args);
        self.exec(&argv)
    }

    /// svc-any inside, which must succeed; its stdout.
    pub fn svc_any_ok(&self, args: &[&str]) -> String {
        let out = self.svc_any(args);
        assert!(
            out.status.success(),
            "svc-any {args:?} failed ({}):\n{}{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    pub fn succeeds(&self, script: &str) -> bool {
        self.sh(script).status.success()
    }

    /// Polls `script` every 100 ms until it succeeds; false after `timeout`.
    pub fn wait_for(&self, timeout: std::time::Duration, script: &str) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if self.succeeds(script) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        false
    }

    /// Whether `http://127.0.0.1:PORT/` answers 200 inside.
    pub fn http_ok(&self, port: u16) -> bool {
        self.succeeds(&format!(
            "python3 -c 'import urllib.request,sys; sys.exit(urllib.request.urlopen(\"http://127.0.0.1:{port}/\", timeout=2).status != 200)'"
        ))
    }

    /// Clean shutdown and boot with the state kept.
    pub fn reboot(&self) {
        let out = self.harness(&["reboot", &self.profile]);
        assert!(
            out.status.success(),
            "box.sh reboot:\n{}",
            text(&out.stderr)
        );
    }
}

impl Drop for Container {
    /// Killed, not shut down: nothing is checked after a test, and the next boot of this
    /// name starts from a fresh disk (an OpenRC shutdown alone takes about 4 s).
    fn drop(&mut self) {
        let _ = self.harness(&["down", &self.profile, "--kill"]);
    }
}
