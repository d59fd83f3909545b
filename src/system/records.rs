//! What svc-any installed: one JSON record per service, so that uninstall removes exactly what
//! was written and every other verb knows the definition without the original file.
//!
//! Records live in `STATE_DIR/services/NAME.json` (see [`crate::system::host::Ctx::state_dir`]), are
//! written atomically, and are plain enough to read with `cat`.
//!
//! A record is readable by every local user, with each `env` value written as `(hidden)`; the
//! values themselves are in `STATE_DIR/services/env/NAME.json`, which only the record's owner
//! (root, or the user at user level) may read. So anyone may ask what is installed and see the
//! names, and a caller who may not read the values gets a definition that says so
//! ([`Service::env_hidden`]) instead of an error.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::dialect::render::{LinkSpec, Plan};
use crate::model::spec::Service;
use crate::system::files;
use crate::system::host::Ctx;

/// 2: `env` values apart, in a file of their own. 1 held them in the record, which was then
/// its owner's alone; such a record is still read, and rewritten as 2 by the next install.
const FORMAT: u32 = 2;

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

/// Where the `env` values of the records are: a directory, so that no service's name (`web.env`
/// is one) can ever be taken for another's values file.
fn values_dir(ctx: &Ctx) -> PathBuf {
    records_dir(ctx).join("env")
}

/// What a command that printed a definition with [`Service::env_hidden`] says on stderr, once.
pub const HIDDEN_NOTE: &str = "environment values are shown as (hidden): you may not read the file they live in; run as root (at user level: as the service's user) to see them";

/// The file that holds `name`'s `env` values, its owner's alone.
pub fn values_path(ctx: &Ctx, name: &str) -> PathBuf {
    values_dir(ctx).join(format!("{name}.json"))
}

pub fn load(ctx: &Ctx, name: &str) -> Result<Option<Record>> {
    let path = record_path(ctx, name);
    let Some(bytes) = files::read_existing(&path)? else {
        return Ok(None);
    };
    let mut record: Record = serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a record svc-any can read; remove it and reinstall",
            path.display()
        )
    })?;
    if record.format >= 2 && !record.service.env.is_empty() {
        fill_values(&values_path(ctx, name), &mut record.service)?;
    }
    Ok(Some(record))
}

/// Puts the real `env` values of `service` in place of the record's `(hidden)` ones, from
/// `path`; where it may not be read (another user's), or a value is not there, the definition
/// stays hidden and says so.
fn fill_values(path: &Path, service: &mut Service) -> Result<()> {
    let values: BTreeMap<String, String> = match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} does not hold environment values svc-any can read; reinstall {}",
                path.display(),
                service.name
            )
        })?,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
            ) =>
        {
            BTreeMap::new()
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut all_known = true;
    for (key, value) in service.env.iter_mut() {
        match values.get(key) {
            Some(real) => *value = real.clone(),
            None => all_known = false,
        }
    }
    if !all_known {
        *service = service.with_env_hidden();
    }
    Ok(())
}

pub fn save(ctx: &Ctx, record: &Record) -> Result<()> {
    let (public, values) = encode(record)?;
    let name = &record.service.name;
    // The values before the record that names them; without values, the record first, then
    // the values it no longer names go.
    if let Some(values) = &values {
        files::write_atomic(&values_path(ctx, name), values, 0o600)?;
    }
    files::write_atomic(&record_path(ctx, name), &public, 0o644)?;
    if values.is_none() {
        remove_values(ctx, name)?;
    }
    Ok(())
}

/// A record staged in a [`files::Transaction`], to be put in place once the transaction is
/// synced.
pub struct Staged {
    name: String,
    /// In the order they go in place: the values before the record that names them.
    paths: Vec<PathBuf>,
    /// The record has no `env`: a values file left from before goes once it is in place.
    drop_values: bool,
}

impl Staged {
    /// Renames the staged files into place; the values of an earlier version go if the record
    /// has none now.
    pub fn commit(self, ctx: &Ctx, tx: &mut files::Transaction) -> Result<()> {
        for path in &self.paths {
            tx.rename(path)?;
        }
        if self.drop_values {
            remove_values(ctx, &self.name)?;
        }
        Ok(())
    }
}

/// Stages `record` in `tx` (see [`files::Transaction`]).
pub fn stage(ctx: &Ctx, tx: &mut files::Transaction, record: &Record) -> Result<Staged> {
    let (public, values) = encode(record)?;
    let name = &record.service.name;
    let mut paths = Vec::new();
    if let Some(values) = &values {
        let path = values_path(ctx, name);
        tx.stage(&path, values, 0o600)?;
        paths.push(path);
    }
    let path = record_path(ctx, name);
    tx.stage(&path, &public, 0o644)?;
    paths.push(path);
    Ok(Staged {
        name: name.clone(),
        paths,
        drop_values: values.is_none(),
    })
}

/// The record as every user may read it, `env` values hidden, and the values apart (`None`
/// without `env`). A definition whose values are hidden is never written: the real ones would
/// be lost.
fn encode(record: &Record) -> Result<(Vec<u8>, Option<Vec<u8>>)> {
    anyhow::ensure!(
        !record.service.env_hidden,
        "refusing to write the record of {}: its environment values are hidden from this user",
        record.service.name
    );
    let mut public = record.clone();
    public.service = record.service.with_env_hidden();
    let values = (!record.service.env.is_empty())
        .then(|| serde_json::to_vec_pretty(&record.service.env).expect("plain data"));
    Ok((
        serde_json::to_vec_pretty(&public).expect("plain data"),
        values,
    ))
}

fn remove_values(ctx: &Ctx, name: &str) -> Result<()> {
    if files::remove(&values_path(ctx, name))? {
        files::remove_dir_if_empty(&values_dir(ctx));
    }
    Ok(())
}

/// Removes `name`'s record: its values first, so that a crash between leaves a record
/// (uninstall runs again) and never values nothing names.
pub fn remove(ctx: &Ctx, name: &str) -> Result<()> {
    remove_values(ctx, name)?;
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
