//! Which version of a manager the files are for. A unit that names a key its systemd does not
//! know is loaded with a warning and the key ignored, so what svc-any writes depends on the
//! version that will read it: the one `render --for MANAGER@VERSION` names, else the tree's
//! own, else the one that runs here. Unknown means the oldest svc-any supports, whose output
//! every later version reads the same.

use std::path::Path;
use std::process::Command;

use crate::model::manager_version::leading_number;
use crate::system::host::Ctx;

/// The systemd version units are written for: `--for systemd@N`; under `--root`, the tree's
/// (by its libsystemd-shared-N.so); where systemd runs, `systemctl --version`; else None.
/// Only a running systemd is asked: the systemctl of a host that does not boot with it says
/// nothing about the systemd that will read the files.
pub fn systemd(ctx: &Ctx) -> Option<u32> {
    if let Some(t) = &ctx.target {
        return (t.manager == "systemd").then(|| t.major()).flatten();
    }
    if ctx.root != Path::new("/") {
        return systemd_of_tree(&ctx.root);
    }
    if ctx.probe_root != Path::new("/") {
        // A fake host (the tests'): its tree is all there is to read.
        return systemd_of_tree(&ctx.probe_root);
    }
    if !Path::new("/run/systemd/system").is_dir() {
        return None;
    }
    let out = Command::new("systemctl").arg("--version").output().ok()?;
    systemctl_version(&String::from_utf8_lossy(&out.stdout))
}

/// `systemd 252 (252.39-1~deb12u1)` on the first line of `systemctl --version`.
pub fn systemctl_version(text: &str) -> Option<u32> {
    let first = text.lines().next()?;
    leading_number(first.strip_prefix("systemd ")?)
}

/// The version in the name of the tree's libsystemd-shared-N.so (every systemd since 231
/// links its programs with it; `-N.so` or, on Fedora, `-N-RELEASE.so`).
pub fn systemd_of_tree(root: &Path) -> Option<u32> {
    let mut dirs = vec![
        root.join("usr/lib/systemd"),
        root.join("lib/systemd"),
        root.join("usr/lib64/systemd"),
    ];
    // Debian's multiarch: /usr/lib/x86_64-linux-gnu/systemd
    if let Ok(entries) = std::fs::read_dir(root.join("usr/lib")) {
        dirs.extend(entries.flatten().map(|e| e.path().join("systemd")));
    }
    dirs.iter()
        .filter_map(|d| std::fs::read_dir(d).ok())
        .flat_map(|entries| entries.flatten())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            leading_number(name.strip_prefix("libsystemd-shared-")?)
        })
        .max()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn systemctl_says_its_version_first() {
        let text = "systemd 247 (247.3-7+deb11u6)\n+PAM +AUDIT +SELINUX\n";
        assert_eq!(systemctl_version(text), Some(247));
        assert_eq!(
            systemctl_version("systemd 257 (257.9-1~deb13u1)\n"),
            Some(257)
        );
        assert_eq!(systemctl_version("openrc (OpenRC) 0.45.2\n"), None);
    }

    #[test]
    fn a_tree_says_its_version_by_its_shared_library() {
        let root = std::env::temp_dir().join(format!("svc-any-version-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        assert_eq!(systemd_of_tree(&root), None);
        let dir = root.join("usr/lib/x86_64-linux-gnu/systemd");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("libsystemd-shared-252.so"), "").unwrap();
        assert_eq!(systemd_of_tree(&root), Some(252));
        std::fs::create_dir_all(root.join("usr/lib64/systemd")).unwrap();
        std::fs::write(
            root.join("usr/lib64/systemd/libsystemd-shared-255.4-1.fc40.so"),
            "",
        )
        .unwrap();
        assert_eq!(systemd_of_tree(&root), Some(255));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
