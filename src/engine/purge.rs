//! Purge: uninstall, then everything else svc-any wrote for the services: their output (each
//! log file svc-any chose, rotated copies too), a remembered failure, what the packaging hooks
//! remembered. Once the scope holds no service any more, svc-any's own supervisor log goes
//! too, so that purging the last service leaves the system as it was before the first install.
//! (The systemd journal keeps what it has: journald rotates it, and nothing removes one unit's
//! entries.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;

use super::uninstall::uninstall;
use super::*;
use crate::backends::{AnyBackend, Backend};
use crate::supervisor::Scope;
use crate::system::files;
use crate::system::host::Ctx;
use crate::system::{packages, records};

/// How long a supervisor left with nothing to supervise may take to exit before its log goes.
const SUPERVISOR_EXIT: Duration = Duration::from_secs(5);

/// Uninstalls `names` (groups expanded) and removes their logs and state.
pub fn purge(ctx: &Ctx, backend: &AnyBackend, names: &[String], dry_run: bool) -> Result<()> {
    let names = expand_groups(ctx, names)?;
    let mut logs: Vec<PathBuf> = Vec::new();
    for name in &names {
        if let Some(r) = records::load(ctx, name)? {
            for file in backend.log_files(ctx, &r.service) {
                logs.extend(with_rotations(&ctx.on_target(&file)));
            }
        }
    }
    if dry_run {
        uninstall(ctx, backend, &names, true)?;
        for log in &logs {
            ctx.report
                .output(&format!("would remove {}", log.display()));
        }
        return Ok(());
    }
    uninstall(ctx, backend, &names, false)?;
    for log in &logs {
        if files::remove(log)? {
            ctx.say(format!("removed {}", log.display()));
        }
        if let Some(dir) = log.parent() {
            files::remove_dir_if_empty(dir);
        }
    }
    for name in &names {
        records::clear_failure(ctx, name)?;
        packages::remove(ctx, name)?;
    }
    if records::all(ctx)?.is_empty() && matches!(backend.name(), "builtin" | "sysv") {
        remove_supervisor_log(ctx, backend);
    }
    files::remove_dir_if_empty(&ctx.on_target(&ctx.state_dir().join("services")));
    if std::env::var_os("SVC_ANY_STATE_DIR").is_none() {
        files::remove_dir_if_empty(&ctx.on_target(&ctx.state_dir()));
    }
    Ok(())
}

/// `file` and the copies rotation left beside it (`FILE.1`, `FILE.2`...), those that exist.
fn with_rotations(file: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(base)) = (file.parent(), file.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| {
            e.file_name().to_str().is_some_and(|n| {
                n == base
                    || n.strip_prefix(base)
                        .and_then(|rest| rest.strip_prefix('.'))
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// The scope's supervisor exits once it has nothing to supervise (uninstall's reload told it);
/// then its own log, and the log directory if that leaves it empty.
fn remove_supervisor_log(ctx: &Ctx, backend: &AnyBackend) {
    let scope = Scope::of(ctx);
    if ctx.live {
        let deadline = Instant::now() + SUPERVISOR_EXIT;
        while !backend.idle(ctx) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if !backend.idle(ctx) {
            ctx.warn("warning: svc-any's supervisor has not exited yet: its log stays");
            return;
        }
    }
    let logs = ctx.on_target(&scope.logs_dir());
    for log in with_rotations(&logs.join("supervisor.log")) {
        if files::remove(&log).unwrap_or(false) {
            ctx.say(format!("removed {}", log.display()));
        }
    }
    files::remove_dir_if_empty(&logs);
}
