//! What svc-any installed: one JSON record per service, so that uninstall removes exactly what
//! was written and every other verb knows the definition without the original file.
//!
//! Records live in `STATE_DIR/services/NAME.json` (see [`crate::system::host::Ctx::state_dir`]), are
//! written atomically, and are plain enough to read with `cat`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::dialect::render::{LinkSpec, Plan};
use crate::model::spec::Service;
use crate::system::files;
use crate::system::host::Ctx;

const FORMAT: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Says who owns this file, as the marker line does in generated files.
    pub generated_by: String,
    pub format: u32,
    pub backend: String,
    pub service: Service,
    /// Every file written, as paths on the target system.
    pub files: Vec<PathBuf>,
    /// Links made as part of the installation (not enablement).
    #[serde(default)]
    pub links: Vec<LinkSpec>,
    /// The boot links enable makes (present or not).
    pub enable_links: Vec<LinkSpec>,
    /// Whether the service should start at boot.
    pub enabled: bool,
    /// Directories the install created because they were missing (Debian's OpenRC has no
    /// /etc/conf.d): uninstall removes them once empty, and no other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dirs: Vec<PathBuf>,
}

impl Record {
    /// The record of `plan` installed for `service`.
    pub fn new(backend: &str, service: Service, plan: &Plan, enabled: bool) -> Record {
        Record {
            generated_by: "svc-any".into(),
            format: FORMAT,
            backend: backend.into(),
            service,
            files: plan.files.iter().map(|f| f.path.clone()).collect(),
            links: plan.links.clone(),
            enable_links: plan.enable_links.clone(),
            enabled,
            dirs: Vec::new(),
        }
    }
}

fn records_dir(ctx: &Ctx) -> PathBuf {
    ctx.on_target(&ctx.state_dir().join("services"))
}

fn record_path(ctx: &Ctx, name: &str) -> PathBuf {
    records_dir(ctx).join(format!("{name}.json"))
}

pub fn load(ctx: &Ctx, name: &str) -> Result<Option<Record>> {
    let path = record_path(ctx, name);
    let Some(bytes) = files::read_existing(&path)? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a record svc-any can read; remove it and reinstall",
            path.display()
        )
    })?;
    Ok(Some(record))
}

pub fn save(ctx: &Ctx, record: &Record) -> Result<()> {
    // A record holds the whole definition, `env` values included: its owner's alone.
    files::write_atomic(
        &record_path(ctx, &record.service.name),
        &encode(record),
        0o600,
    )
}

/// Stages `record` in `tx` (see [`files::Transaction`]); returns where it goes, for the rename.
pub fn stage(ctx: &Ctx, tx: &mut files::Transaction, record: &Record) -> Result<PathBuf> {
    let path = record_path(ctx, &record.service.name);
    tx.stage(&path, &encode(record), 0o600)?;
    Ok(path)
}

fn encode(record: &Record) -> Vec<u8> {
    serde_json::to_vec_pretty(record).expect("plain data")
}

pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    files::remove(&record_path(ctx, name))?;
    Ok(())
}

/// The names of the `NAME.json` records in `dir`, sorted (temporary `.NAME...` files skipped).
fn json_names(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".json"))
                .map(String::from)
        })
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Every record, sorted by name.
pub fn all(ctx: &Ctx) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for name in json_names(&records_dir(ctx)) {
        if let Some(r) = load(ctx, &name)? {
            out.push(r);
        }
    }
    Ok(out)
}

/// A `[groups]` entry as installed: its members (in the order they start), and the files the
/// backend wrote for the group itself (systemd's `GROUP.target`). `STATE_DIR/groups/NAME.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRecord {
    pub generated_by: String,
    pub format: u32,
    pub backend: String,
    pub name: String,
    pub members: Vec<String>,
    pub files: Vec<PathBuf>,
}

impl GroupRecord {
    pub fn new(backend: &str, name: &str) -> GroupRecord {
        GroupRecord {
            generated_by: "svc-any".into(),
            format: FORMAT,
            backend: backend.into(),
            name: name.into(),
            members: Vec::new(),
            files: Vec::new(),
        }
    }
}

fn groups_dir(ctx: &Ctx) -> PathBuf {
    ctx.on_target(&ctx.state_dir().join("groups"))
}

fn group_path(ctx: &Ctx, name: &str) -> PathBuf {
    groups_dir(ctx).join(format!("{name}.json"))
}

/// Names of the installed groups, sorted.
pub fn group_names(ctx: &Ctx) -> Vec<String> {
    json_names(&groups_dir(ctx))
}

pub fn load_group(ctx: &Ctx, name: &str) -> Result<Option<GroupRecord>> {
    let path = group_path(ctx, name);
    let Some(bytes) = files::read_existing(&path)? else {
        return Ok(None);
    };
    let record = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a group record svc-any can read; remove it and reinstall",
            path.display()
        )
    })?;
    Ok(Some(record))
}

pub fn save_group(ctx: &Ctx, record: &GroupRecord) -> Result<()> {
    let bytes = serde_json::to_vec_pretty(record).expect("plain data");
    files::write_atomic(&group_path(ctx, &record.name), &bytes, 0o644)
}

pub fn remove_group(ctx: &Ctx, name: &str) -> Result<()> {
    files::remove(&group_path(ctx, name))?;
    Ok(())
}

/// The record's directory on the target, for messages.
pub fn location(ctx: &Ctx) -> PathBuf {
    records_dir(ctx)
}

/// Where a start that `--wait` gave up on is remembered: `STATE_DIR/failed/NAME`, one line
/// saying why. svc-any stopped the service itself, so the manager calls it stopped; this is
/// how `status` still says failed, and why, until the next start.
pub fn failures_location(ctx: &Ctx) -> PathBuf {
    ctx.on_target(&ctx.state_dir().join("failed"))
}

pub fn save_failure(ctx: &Ctx, name: &str, reason: &str) -> Result<()> {
    files::write_atomic(
        &failures_location(ctx).join(name),
        format!("{reason}\n").as_bytes(),
        0o644,
    )
}

pub fn load_failure(ctx: &Ctx, name: &str) -> Option<String> {
    std::fs::read_to_string(failures_location(ctx).join(name))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// Every start `--wait` gave up on, by service: one look at the directory, not one per service.
pub fn failed_starts(ctx: &Ctx) -> std::collections::BTreeMap<String, String> {
    let Ok(entries) = std::fs::read_dir(failures_location(ctx)) else {
        return Default::default();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if name.starts_with('.') {
                return None;
            }
            let reason = std::fs::read_to_string(e.path()).ok()?;
            Some((name, reason.trim_end().to_string()))
        })
        .collect()
}

/// Forgets a failed start (a new start, or uninstall); the directory goes once empty.
pub fn clear_failure(ctx: &Ctx, name: &str) -> Result<()> {
    let dir = failures_location(ctx);
    if files::remove(&dir.join(name))? {
        files::remove_dir_if_empty(&dir);
    }
    Ok(())
}

/// A process svc-any saw run a service: its unit's label, pid and start time (so that a pid
/// reused by another process is never taken for it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub label: String,
    pub pid: u32,
    pub start_time: u64,
}

/// Where the processes last seen running a service are remembered: `STATE_DIR/running/NAME`,
/// one `PID START LABEL` line each. A manager that loses track of its service (its own
/// supervisor killed) no longer names it; `stop` still finds it here.
fn running_path(ctx: &Ctx, name: &str) -> PathBuf {
    ctx.on_target(&ctx.state_dir().join("running").join(name))
}

/// Remembers `seen` for `name`, unless that is what is remembered already (a status asked
/// again writes nothing). Best effort: a user who may not write the state directory may still
/// ask.
pub fn remember_running(ctx: &Ctx, name: &str, seen: &[Seen]) {
    if seen.is_empty() || remembered_running(ctx, name) == seen {
        return;
    }
    let text: String = seen
        .iter()
        .map(|s| format!("{} {} {}\n", s.pid, s.start_time, s.label))
        .collect();
    let path = running_path(ctx, name);
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = files::write_atomic(&path, text.as_bytes(), 0o644);
}

pub fn remembered_running(ctx: &Ctx, name: &str) -> Vec<Seen> {
    let Ok(text) = std::fs::read_to_string(running_path(ctx, name)) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ' ');
            Some(Seen {
                pid: f.next()?.parse().ok()?,
                start_time: f.next()?.parse().ok()?,
                label: f.next()?.to_string(),
            })
        })
        .collect()
}

/// Forgets what ran `name` (it was stopped, or uninstalled); the directory goes once empty.
pub fn forget_running(ctx: &Ctx, name: &str) {
    let path = running_path(ctx, name);
    if files::remove(&path).unwrap_or(false) {
        if let Some(dir) = path.parent() {
            files::remove_dir_if_empty(dir);
        }
    }
}
