//! What the packaging hooks (`svc-any hook deb|rpm`) remember about a service between one
//! maintainer script and the next: `STATE_DIR/packages/NAME.json`.
//!
//! - `enabled`: the admin's choice of starting it at boot, as the last hook saw it. An upgrade
//!   reads the boot links themselves (what deb-systemd-helper's `was-enabled` does), so this
//!   matters only once `postrm remove` has taken the links away: a reinstall restores it.
//! - `removed`: the package was removed but not purged.
//! - `running`: whether it ran when the last `prerm` looked (an `abort-*` puts that back).
//! - `program`: the program files as the running process last got them, so an upgrade restarts
//!   it only if its definition or its program changed; `stale` says a needed restart did not
//!   happen (the policy forbade it, the manager failed), so the next hook still does it.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::model::spec::Service;
use crate::system::files;
use crate::system::host::Ctx;

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageState {
    pub generated_by: String,
    pub format: u32,
    pub enabled: bool,
    pub removed: bool,
    #[serde(default)]
    pub running: Option<bool>,
    #[serde(default)]
    pub program: Vec<Fingerprint>,
    #[serde(default)]
    pub stale: bool,
}

impl PackageState {
    pub fn new(enabled: bool) -> PackageState {
        PackageState {
            generated_by: "svc-any".into(),
            format: FORMAT,
            enabled,
            removed: false,
            running: None,
            program: Vec::new(),
            stale: false,
        }
    }
}

/// One program file as it was: its path on the target, size and FNV-1a hash of its bytes.
/// Content, not inode or mtime: dpkg replaces every file of an upgraded package, changed or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub path: String,
    /// `None` when the file is missing.
    pub size: Option<u64>,
    pub fnv1a64: Option<String>,
}

/// The directory of the states on the target.
pub fn location(ctx: &Ctx) -> PathBuf {
    ctx.on_target(&ctx.state_dir().join("packages"))
}

fn path(ctx: &Ctx, name: &str) -> PathBuf {
    location(ctx).join(format!("{name}.json"))
}

pub fn load(ctx: &Ctx, name: &str) -> Result<Option<PackageState>> {
    let path = path(ctx, name);
    let Some(bytes) = files::read_existing(&path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .with_context(|| format!("{} is not a state svc-any can read", path.display()))
}

pub fn save(ctx: &Ctx, name: &str, state: &PackageState) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(state).expect("plain data");
    files::write_atomic(&path(ctx, name), &bytes, 0o644)
}

/// Forgets the service (purge); the directory goes once empty.
pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    files::remove(&path(ctx, name))?;
    files::remove_dir_if_empty(&location(ctx));
    Ok(())
}

/// The files whose change means the process must restart: `exec[0]` and every other
/// absolute argument that names a regular file (the script an interpreter runs, a
/// configuration file), for every instance, each once.
pub fn program_files(service: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for instance in service.instance_names() {
        let s = service.for_instance(instance);
        for (i, arg) in s.exec.iter().enumerate() {
            let candidate = i == 0 || (arg.starts_with('/') && !arg.contains('\0'));
            if candidate && !out.contains(arg) {
                out.push(arg.clone());
            }
        }
    }
    out
}

/// Fingerprints of `service`'s program files on the target. An argument that is no regular
/// file (a directory, a path that does not exist) is left out, except `exec[0]`.
pub fn fingerprint(ctx: &Ctx, service: &Service) -> Vec<Fingerprint> {
    let program = service.exec.first().cloned().unwrap_or_default();
    program_files(service)
        .into_iter()
        .filter_map(|p| {
            let on_target = ctx.on_target(Path::new(&p));
            let is_file = std::fs::metadata(&on_target).is_ok_and(|m| m.is_file());
            if !is_file && p != program {
                return None;
            }
            let hashed = is_file.then(|| hash_file(&on_target)).flatten();
            Some(Fingerprint {
                path: p,
                size: hashed.map(|(size, _)| size),
                fnv1a64: hashed.map(|(_, h)| format!("{h:016x}")),
            })
        })
        .collect()
}

/// Size and 64-bit FNV-1a of a file's bytes: stable across svc-any versions and platforms
/// (std's hasher promises neither), and fast enough for any program.
fn hash_file(path: &Path) -> Option<(u64, u64)> {
    let mut file = std::fs::File::open(path).ok()?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut size = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer).ok()?;
        if n == 0 {
            return Some((size, hash));
        }
        size += n as u64;
        for byte in &buffer[..n] {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        let dir = std::env::temp_dir().join(format!("svc-any-fnv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (text, want) in [
            ("", 0xcbf2_9ce4_8422_2325u64),
            ("a", 0xaf63_dc4c_8601_ec8c),
            ("foobar", 0x8594_4171_f739_67e8),
        ] {
            let p = dir.join("f");
            std::fs::write(&p, text).unwrap();
            assert_eq!(hash_file(&p), Some((text.len() as u64, want)), "{text:?}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
