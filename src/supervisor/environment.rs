//! The environment a service's process gets, built as systemd builds it: `PATH` and `LANG`,
//! the user's `HOME`, `USER` and `LOGNAME` (or the supervisor's, with no user), then the
//! definition's `env_file` and `env_files` in order, then `env`, then what the supervisor
//! adds (`MAINPID` for the commands that act on the main process, `NOTIFY_SOCKET` for a
//! notify service's main process), each overriding what came before. `exec_expand` expands
//! a command's arguments from exactly this (see `child.rs`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use super::credentials::Credentials;
use crate::model::spec::{Service, ServiceType};

/// The PATH a service gets, as systemd gives its services.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment of a program of `service` run as `creds` (`None`: as the supervisor's
/// own user), with `extra_env` last (see `child::Program`); `main` for the main process,
/// the one that gets `notify_socket` (the readiness socket, if bound) with `type = "notify"`.
pub(super) fn for_program(
    service: &Service,
    creds: Option<&Credentials>,
    extra_env: &[(String, String)],
    main: bool,
    notify_socket: Option<&Path>,
) -> Result<BTreeMap<String, String>> {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    env.insert("PATH".into(), DEFAULT_PATH.into());
    if let Ok(lang) = std::env::var("LANG") {
        env.insert("LANG".into(), lang);
    }
    match creds {
        Some(c) if !c.name.is_empty() => {
            env.insert("HOME".into(), c.home.display().to_string());
            env.insert("USER".into(), c.name.clone());
            env.insert("LOGNAME".into(), c.name.clone());
        }
        _ => {
            for var in ["HOME", "USER", "LOGNAME"] {
                if let Ok(v) = std::env::var(var) {
                    env.insert(var.into(), v);
                }
            }
        }
    }
    if let Some(file) = &service.env_file {
        env.extend(read_env_file(Path::new(file))?);
    }
    // In order, as systemd reads its EnvironmentFile= lines; a `-` one may be missing.
    for file in &service.daemon.env_files {
        let path = Path::new(&file.path);
        if file.optional && !path.exists() {
            continue;
        }
        env.extend(read_env_file(path)?);
    }
    env.extend(service.env.clone());
    env.extend(extra_env.iter().cloned());
    if main && service.daemon.service_type == Some(ServiceType::Notify) {
        if let Some(path) = notify_socket {
            env.insert("NOTIFY_SOCKET".into(), path.display().to_string());
        }
    }
    Ok(env)
}

/// `KEY=VALUE` lines, `#` comments, optional quotes around the value (systemd's
/// EnvironmentFile= reading, minus its escapes).
fn read_env_file(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("env_file {}", path.display()))?;
    Ok(crate::dialect::env_file::parse(&text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_files_read_like_systemd_reads_them() {
        let dir = std::env::temp_dir().join(format!("svc-any-envfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("env");
        std::fs::write(
            &path,
            "# comment\nA=1\nexport B = two words \nC=\"quoted\"\nD='single'\n\nE=\n",
        )
        .unwrap();
        let got = read_env_file(&path).unwrap();
        let want: Vec<(String, String)> = [
            ("A", "1"),
            ("B", "two words"),
            ("C", "quoted"),
            ("D", "single"),
            ("E", ""),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
