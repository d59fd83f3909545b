//! Install: render everything (pure) → refuse conflicts → write files atomically → boot links
//! → record → one manager reload → restart what was running and changed → start. Files carry the
//! marker before the record exists, so a re-run after a crash adopts them instead of refusing
//! them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};

use super::control::start_and_wait_from;
use super::groups::update_groups;
use crate::backends::{AnyBackend, Backend, Verb};
use crate::dialect::render::{LinkSpec, Plan, MARKER};
use crate::model::error::{bad, BadInput};
use crate::model::spec::{self, Service};
use crate::model::status::State;
use crate::system::bootlinks::{create_links, link_present, LinkKind};
use crate::system::crashpoint;
use crate::system::files;
use crate::system::files::remove_owned;
use crate::system::host::Ctx;
use crate::system::records::{self, Record};

#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub start: bool,
    /// `--wait[=SECS]`: `Some(None)` waits for the service's own timeout.
    pub wait: Option<Option<Duration>>,
    pub enable: bool,
    pub force: bool,
    pub dry_run: bool,
    /// Leave running what changed: the caller decides about restarts (a package hook asks the
    /// policy layer first).
    pub leave_running: bool,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Change {
    Create,
    Update,
    Same,
    /// The file is there and the caller may not read it (root's, holding `env` values): a dry
    /// run cannot say what would change. Never met by a real install, which stops at the read.
    Unreadable,
}

struct FileAction {
    target: PathBuf,
    mode: u32,
    content: String,
    old: Option<Vec<u8>>,
    change: Change,
}

struct ServicePlan {
    service: Service,
    plan: Plan,
    files: Vec<FileAction>,
    stale_files: Vec<PathBuf>,
    stale_links: Vec<LinkSpec>,
    previous: Option<Record>,
}

impl ServicePlan {
    fn changed(&self) -> bool {
        self.files.iter().any(|f| f.change != Change::Same) || !self.stale_files.is_empty()
    }
}

fn prepare(
    ctx: &Ctx,
    backend: &AnyBackend,
    services: &[Service],
    opts: &InstallOptions,
) -> Result<Vec<ServicePlan>> {
    let mut out = Vec::new();
    let mut claimed = BTreeSet::new();
    for service in services {
        let plan = render_located(ctx, backend, service)?;
        let previous = records::load(ctx, &service.name)?;
        let mut files = Vec::new();
        for file in &plan.files {
            if !claimed.insert(file.path.clone()) {
                bail!(bad(format!(
                    "two services would write {}",
                    file.path.display()
                )));
            }
            let target = ctx.on_target(&file.path);
            let old = match files::read_existing(&target) {
                Err(e) if opts.dry_run && files::is_permission_denied(&e) => {
                    files.push(FileAction {
                        target,
                        mode: file.mode,
                        content: file.content.clone(),
                        old: None,
                        change: Change::Unreadable,
                    });
                    continue;
                }
                read => read?,
            };
            let change = match &old {
                None => Change::Create,
                Some(bytes)
                    if bytes == file.content.as_bytes() && mode_of(&target) == Some(file.mode) =>
                {
                    Change::Same
                }
                Some(bytes) => {
                    let ours = String::from_utf8_lossy(bytes).contains(MARKER);
                    if !ours && !opts.force {
                        return Err(bad(format!(
                            "{} exists and was not written by svc-any",
                            target.display()
                        ))
                        .key("name")
                        .hint("choose another name, or pass --force to overwrite it")
                        .into());
                    }
                    Change::Update
                }
            };
            files.push(FileAction {
                target,
                mode: file.mode,
                content: file.content.clone(),
                old,
                change,
            });
        }
        let (stale_files, stale_links) = match &previous {
            Some(rec) => (
                rec.files
                    .iter()
                    .filter(|f| !plan.files.iter().any(|p| &p.path == *f))
                    .cloned()
                    .collect(),
                rec.enable_links
                    .iter()
                    .chain(&rec.links)
                    .filter(|l| !plan.enable_links.contains(l) && !plan.links.contains(l))
                    .cloned()
                    .collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        out.push(ServicePlan {
            service: service.clone(),
            plan,
            files,
            stale_files,
            stale_links,
            previous,
        });
    }
    Ok(out)
}

/// The backend's plan; a value it refuses is reported at its line in the definition file.
pub fn render_located(ctx: &Ctx, backend: &AnyBackend, service: &Service) -> Result<Plan> {
    backend
        .render(ctx, service)
        .map_err(|e| match e.downcast::<BadInput>() {
            Ok(b) => spec::place_in_definition(service, b).into(),
            Err(e) => e,
        })
}

fn mode_of(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

/// Writes, enables, reloads, (re)starts. Same definition twice: nothing is touched.
pub fn install(
    ctx: &Ctx,
    backend: &AnyBackend,
    services: &[Service],
    opts: &InstallOptions,
) -> Result<()> {
    install_changed(ctx, backend, services, opts).map(drop)
}

/// [`install`], returning the names of the services whose files it wrote or removed.
pub fn install_changed(
    ctx: &Ctx,
    backend: &AnyBackend,
    services: &[Service],
    opts: &InstallOptions,
) -> Result<Vec<String>> {
    if !opts.dry_run {
        // A definition read from a record whose values the caller may not read says `(hidden)`
        // where they were: written, it would replace the service's real environment.
        if let Some(s) = services.iter().find(|s| s.env_hidden) {
            return Err(bad(format!(
                "the environment values of {} are hidden from you: an install would write `(hidden)` in their place",
                s.name
            ))
            .key("env")
            .hint("run as root, or give the definition with -f FILE")
            .into());
        }
    }
    let plans = prepare(ctx, backend, services, opts)?;
    // Only a warning: a package may bring the program later, an image tree may lack it yet.
    let alongside: Vec<&str> = services.iter().map(|s| s.name.as_str()).collect();
    for service in services {
        let missing = super::preflight::missing(ctx, service, &alongside);
        for problem in missing
            .iter()
            .chain(&super::preflight::exposed(ctx, service))
        {
            ctx.warn(format!("warning: {}: {problem}", service.name));
        }
    }

    if opts.dry_run {
        for sp in &plans {
            print_dry_run(ctx, sp, opts);
        }
        if plans.iter().any(|sp| sp.service.env_hidden) {
            ctx.warn(records::HIDDEN_NOTE);
        }
        return Ok(Vec::new());
    }

    let changed: Vec<&ServicePlan> = plans.iter().filter(|sp| sp.changed()).collect();
    let changed_names: Vec<String> = changed.iter().map(|sp| sp.service.name.clone()).collect();
    // Which of the changed services run now: those get a restart after the reload.
    let running_before: BTreeSet<String> = if ctx.live && !changed.is_empty() && !opts.leave_running
    {
        let installed: Vec<&Service> = changed
            .iter()
            .filter(|sp| sp.previous.is_some())
            .map(|sp| &sp.service)
            .collect();
        // A manager that cannot answer must not block the install that may be the fix.
        match backend.status(ctx, &installed) {
            Ok(statuses) => statuses
                .into_iter()
                .filter(|s| s.state == State::Running)
                .map(|s| s.name)
                .collect(),
            Err(e) => {
                ctx.warn(format!(
                    "warning: cannot tell what runs ({e:#}); nothing will be restarted"
                ));
                BTreeSet::new()
            }
        }
    } else {
        BTreeSet::new()
    };

    // Every new file and record is written first, made durable with one sync, and only then
    // renamed into place, service by service, in the order a crash can be recovered from:
    // files (carrying the marker), links, then the record.
    let mut tx = files::Transaction::begin();
    let mut claimed_dirs = BTreeSet::new();
    let mut staged = Vec::new();
    for sp in &plans {
        let created_dirs = missing_dirs(ctx, sp, opts.enable, &mut claimed_dirs);
        for f in sp.files.iter().filter(|f| f.change != Change::Same) {
            tx.stage(&f.target, f.content.as_bytes(), f.mode)?;
        }
        let enabled = opts.enable || sp.previous.as_ref().is_some_and(|r| r.enabled);
        let mut record = Record::new(backend.name(), sp.service.clone(), &sp.plan, enabled);
        record.dirs = sp.previous.as_ref().map_or(Vec::new(), |r| r.dirs.clone());
        for dir in created_dirs {
            if !record.dirs.contains(&dir) {
                record.dirs.push(dir);
            }
        }
        let record_staged = if sp.previous.as_ref() != Some(&record) {
            Some(records::stage(ctx, &mut tx, &record)?)
        } else {
            None
        };
        staged.push(record_staged);
    }
    tx.sync()?;

    let mut manager_needs_reload = false;
    for (sp, record_staged) in plans.iter().zip(staged) {
        for f in &sp.files {
            match f.change {
                Change::Same => ctx.say(format!("unchanged {}", f.target.display())),
                change => {
                    tx.rename(&f.target)?;
                    crashpoint::reached("install:file-written");
                    manager_needs_reload = true;
                    ctx.say(format!(
                        "{} {}",
                        if change == Change::Create {
                            "created"
                        } else {
                            "updated"
                        },
                        f.target.display()
                    ));
                }
            }
        }
        manager_needs_reload |= create_links(ctx, &sp.plan.links, LinkKind::Install)?;
        for path in &sp.stale_files {
            remove_owned(ctx, path)?;
            manager_needs_reload = true;
        }
        for link in &sp.stale_links {
            if files::remove(&ctx.on_target(&link.path))? {
                ctx.say(format!("removed {}", ctx.on_target(&link.path).display()));
                manager_needs_reload = true;
            }
        }
        if opts.enable {
            manager_needs_reload |= backend.enable(ctx, &sp.service, &sp.plan.enable_links)?;
        } else if sp.previous.is_none() && backend.boots_when_installed() {
            backend.disable(ctx, &sp.service, &sp.plan.enable_links)?;
        }
        crashpoint::reached("install:before-record");
        if let Some(record) = record_staged {
            record.commit(ctx, &mut tx)?;
        }
    }

    let installed: Vec<&Service> = plans.iter().map(|sp| &sp.service).collect();
    manager_needs_reload |= update_groups(ctx, backend, &installed, true)?;
    tx.finish()?;

    if !ctx.live {
        let why = ctx.offline_reason.as_deref().unwrap_or("offline");
        if opts.start {
            ctx.say(format!(
                "not started: {} is not running here ({why}); enabled services start at boot",
                backend.name()
            ));
        }
        return Ok(changed_names);
    }
    // Before the reload: a manager may start a service as it loads it.
    let marks: Vec<(String, crate::system::logfiles::LogMark)> = if opts.start {
        plans
            .iter()
            .map(|sp| {
                let files = backend.log_files(ctx, &sp.service);
                (
                    sp.service.name.clone(),
                    crate::system::logfiles::LogMark::take(&files),
                )
            })
            .collect()
    } else {
        Vec::new()
    };
    if manager_needs_reload {
        let names: Vec<&str> = plans.iter().map(|sp| sp.service.name.as_str()).collect();
        backend.reload_definitions(ctx, &names)?;
        ctx.say(format!("reloaded {}", backend.name()));
    }
    let restart: Vec<&Service> = changed
        .iter()
        .filter(|sp| running_before.contains(&sp.service.name))
        .map(|sp| &sp.service)
        .collect();
    if !restart.is_empty() {
        backend.apply_changes(ctx, &restart)?;
        for s in &restart {
            ctx.say(format!("restarted {} (its definition changed)", s.name));
        }
    }
    if opts.start {
        let all: Vec<&Service> = plans.iter().map(|sp| &sp.service).collect();
        start_and_wait_from(ctx, backend, Verb::Start, &all, opts.wait, &marks)?;
    }
    Ok(changed_names)
}

/// The directories (paths on the target system) that writing `sp`'s files and links will
/// create. svc-any's own state directories are left out: they are svc-any's whoever made them.
/// `claimed` holds those an earlier service of the same install creates: they are its.
fn missing_dirs(
    ctx: &Ctx,
    sp: &ServicePlan,
    enable: bool,
    claimed: &mut BTreeSet<PathBuf>,
) -> Vec<PathBuf> {
    let state_dir = ctx.state_dir();
    let mut paths: Vec<&Path> = sp.plan.files.iter().map(|f| f.path.as_path()).collect();
    paths.extend(sp.plan.links.iter().map(|l| l.path.as_path()));
    if enable {
        paths.extend(sp.plan.enable_links.iter().map(|l| l.path.as_path()));
    }
    let mut out = Vec::new();
    // An install finds the directories that one killed before its record made, holding
    // nothing but what this plan writes: those are its own too.
    for path in paths {
        for dir in path.ancestors().skip(1) {
            if dir.parent().is_none() || claimed.contains(dir) || dir.starts_with(&state_dir) {
                break;
            }
            if ctx.on_target(dir).exists() && !only_planned(ctx, &sp.plan, dir) {
                break;
            }
            if !out.iter().any(|d: &PathBuf| d == dir) {
                out.push(dir.to_path_buf());
            }
        }
    }
    claimed.extend(out.iter().cloned());
    out
}

/// Whether the directory `dir` (a path on the target) holds something, and nothing but files,
/// links and directories of `plan`'s, all the way down.
fn only_planned(ctx: &Ctx, plan: &Plan, dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(ctx.on_target(dir)) else {
        return false;
    };
    // An empty directory was there before: a killed install leaves what it wrote in its own.
    let entries: Vec<_> = entries.flatten().collect();
    !entries.is_empty()
        && entries.iter().all(|e| {
            let p = dir.join(e.file_name());
            // A planned file's temporary copy, which the killed install left (`.NAME.svc-any-PID.tmp`).
            let temp_of = |q: &Path| {
                let name = e.file_name().to_string_lossy().into_owned();
                q.parent() == Some(dir)
                    && q.file_name().is_some_and(|n| {
                        name.starts_with(&format!(".{}.svc-any-", n.to_string_lossy()))
                            && name.ends_with(".tmp")
                    })
            };
            let file = plan.files.iter().any(|f| f.path == p || temp_of(&f.path));
            let link = plan.links.iter().any(|l| l.path == p || temp_of(&l.path));
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            file || link || (is_dir && only_planned(ctx, plan, &p))
        })
}

fn print_dry_run(ctx: &Ctx, sp: &ServicePlan, opts: &InstallOptions) {
    for f in &sp.files {
        match f.change {
            Change::Same => ctx
                .report
                .output(&format!("unchanged {}", f.target.display())),
            Change::Create => {
                ctx.report.output(&format!(
                    "would create {} (mode {:o})",
                    f.target.display(),
                    f.mode
                ));
                let diff =
                    unified_diff("/dev/null", &f.target.display().to_string(), "", &f.content);
                ctx.report.output(diff.trim_end_matches('\n'));
            }
            Change::Update => {
                ctx.report
                    .output(&format!("would update {}", f.target.display()));
                let old = String::from_utf8_lossy(f.old.as_deref().unwrap_or_default());
                let name = f.target.display().to_string();
                let diff = unified_diff(&name, &name, &old, &f.content);
                ctx.report.output(diff.trim_end_matches('\n'));
            }
            Change::Unreadable => ctx.report.output(&format!(
                "may update {} (mode {:o}): you may not read it, so no diff; run as root to see it",
                f.target.display(),
                f.mode
            )),
        }
    }
    for path in &sp.stale_files {
        ctx.report
            .output(&format!("would remove {}", ctx.on_target(path).display()));
    }
    for link in sp.plan.links.iter().filter(|l| !link_present(ctx, l)) {
        ctx.report.output(&format!(
            "would link {} -> {}",
            ctx.on_target(&link.path).display(),
            link.target.display()
        ));
    }
    if opts.enable {
        for link in sp
            .plan
            .enable_links
            .iter()
            .filter(|l| !link_present(ctx, l))
        {
            ctx.report.output(&format!(
                "would enable at boot: {} -> {}",
                ctx.on_target(&link.path).display(),
                link.target.display()
            ));
        }
    }
}

fn unified_diff(old_name: &str, new_name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}
