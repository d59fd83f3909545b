//! The install engine: the one place where svc-any changes a system, the same for every backend.
//!
//! Order of work, so that a crash at any point leaves a state the next run converges from:
//! render everything (pure) → refuse conflicts → write files atomically → boot links → record →
//! one manager reload → restart what was running and changed → start. Files carry the marker
//! before the record exists, so a re-run after a crash adopts them instead of refusing them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend, LogOptions, Verb};
use crate::crashpoint;
use crate::error::{bad, BadInput};
use crate::fsutil;
use crate::health;
use crate::host::Ctx;
use crate::render::{has_marker, LinkSpec, Plan, MARKER};
use crate::spec::{self, Service, INSTANCE_PLACEHOLDER};
use crate::state::{self, Record};
use crate::status::{ServiceStatus, State};

/// How long a service without a health check must stay up before `--wait` calls it started.
pub const SETTLE: Duration = Duration::from_secs(1);
/// `--wait` without a number and without a health timeout.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    pub start: bool,
    /// `--wait[=SECS]`: `Some(None)` waits for the service's own timeout.
    pub wait: Option<Option<Duration>>,
    pub enable: bool,
    pub force: bool,
    pub dry_run: bool,
}

/// Prints a line of what was done, unless `-q`.
pub fn say(line: impl AsRef<str>) {
    if !crate::quiet() {
        println!("{}", line.as_ref());
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Change {
    Create,
    Update,
    Same,
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
    force: bool,
) -> Result<Vec<ServicePlan>> {
    let mut out = Vec::new();
    let mut claimed = BTreeSet::new();
    for service in services {
        let plan = render_located(ctx, backend, service)?;
        let previous = state::load(ctx, &service.name)?;
        let mut files = Vec::new();
        for file in &plan.files {
            if !claimed.insert(file.path.clone()) {
                bail!(bad(format!(
                    "two services would write {}",
                    file.path.display()
                )));
            }
            let target = ctx.on_target(&file.path);
            let old = fsutil::read_existing(&target)?;
            let change = match &old {
                None => Change::Create,
                Some(bytes)
                    if bytes == file.content.as_bytes() && mode_of(&target) == Some(file.mode) =>
                {
                    Change::Same
                }
                Some(bytes) => {
                    let ours = String::from_utf8_lossy(bytes).contains(MARKER);
                    if !ours && !force {
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

fn link_present(ctx: &Ctx, link: &LinkSpec) -> bool {
    std::fs::read_link(ctx.on_target(&link.path)).is_ok_and(|t| t == link.target)
}

/// Writes, enables, reloads, (re)starts. Same definition twice: nothing is touched.
pub fn install(
    ctx: &Ctx,
    backend: &AnyBackend,
    services: &[Service],
    opts: &InstallOptions,
) -> Result<()> {
    let plans = prepare(ctx, backend, services, opts.force)?;

    if opts.dry_run {
        for sp in &plans {
            print_dry_run(ctx, sp, opts);
        }
        return Ok(());
    }

    let changed: Vec<&ServicePlan> = plans.iter().filter(|sp| sp.changed()).collect();
    // Which of the changed services run now: those get a restart after the reload.
    let running_before: BTreeSet<String> = if ctx.live && !changed.is_empty() {
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
                eprintln!(
                    "svc-any: warning: cannot tell what runs ({e:#}); nothing will be restarted"
                );
                BTreeSet::new()
            }
        }
    } else {
        BTreeSet::new()
    };

    let mut manager_needs_reload = false;
    for sp in &plans {
        let created_dirs = missing_dirs(ctx, sp, opts.enable);
        for f in &sp.files {
            match f.change {
                Change::Same => say(format!("unchanged {}", f.target.display())),
                change => {
                    fsutil::write_atomic(&f.target, f.content.as_bytes(), f.mode)?;
                    crashpoint::reached("install:file-written");
                    manager_needs_reload = true;
                    say(format!(
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
            if fsutil::remove(&ctx.on_target(&link.path))? {
                say(format!("removed {}", ctx.on_target(&link.path).display()));
                manager_needs_reload = true;
            }
        }
        let enabled = opts.enable || sp.previous.as_ref().is_some_and(|r| r.enabled);
        if opts.enable {
            manager_needs_reload |= backend.enable(ctx, &sp.service, &sp.plan.enable_links)?;
        } else if sp.previous.is_none() && backend.boots_when_installed() {
            backend.disable(ctx, &sp.service, &sp.plan.enable_links)?;
        }
        crashpoint::reached("install:before-record");
        let mut record = Record::new(backend.name(), sp.service.clone(), &sp.plan, enabled);
        record.dirs = sp.previous.as_ref().map_or(Vec::new(), |r| r.dirs.clone());
        for dir in created_dirs {
            if !record.dirs.contains(&dir) {
                record.dirs.push(dir);
            }
        }
        if sp.previous.as_ref() != Some(&record) {
            state::save(ctx, &record)?;
        }
    }

    let installed: Vec<&Service> = plans.iter().map(|sp| &sp.service).collect();
    manager_needs_reload |= update_groups(ctx, backend, &installed, true)?;

    if !ctx.live {
        let why = ctx.offline_reason.as_deref().unwrap_or("offline");
        if opts.start {
            say(format!(
                "not started: {} is not running here ({why}); enabled services start at boot",
                backend.name()
            ));
        }
        return Ok(());
    }
    if manager_needs_reload {
        backend.reload_manager(ctx)?;
        say(format!("reloaded {}", backend.name()));
    }
    let restart: Vec<&Service> = changed
        .iter()
        .filter(|sp| running_before.contains(&sp.service.name))
        .map(|sp| &sp.service)
        .collect();
    if !restart.is_empty() {
        backend.apply_changes(ctx, &restart)?;
        for s in &restart {
            say(format!("restarted {} (its definition changed)", s.name));
        }
    }
    if opts.start {
        let all: Vec<&Service> = plans.iter().map(|sp| &sp.service).collect();
        start_and_wait(ctx, backend, Verb::Start, &all, opts.wait)?;
    }
    Ok(())
}

/// Brings the group records (and the backend's group files) of the groups `services` belong
/// to up to date, after they were installed (`joined`) or uninstalled. Returns whether a file
/// changed (the manager must re-read its definitions).
fn update_groups(
    ctx: &Ctx,
    backend: &AnyBackend,
    services: &[&Service],
    joined: bool,
) -> Result<bool> {
    let mut groups: BTreeSet<String> = services
        .iter()
        .flat_map(|s| s.groups.iter().cloned())
        .collect();
    if !joined {
        // An uninstalled service leaves every group that lists it, whatever its file says now.
        for name in state::group_names(ctx) {
            if let Some(g) = state::load_group(ctx, &name)? {
                if services.iter().any(|s| g.members.contains(&s.name)) {
                    groups.insert(name);
                }
            }
        }
    }
    let mut changed = false;
    for group in &groups {
        let group = group.as_str();
        let mut record = state::load_group(ctx, group)?
            .unwrap_or_else(|| state::GroupRecord::new(backend.name(), group));
        let before = record.clone();
        for s in services {
            let listed = s.groups.iter().any(|g| g == group);
            record.members.retain(|m| *m != s.name);
            if joined && listed {
                record.members.push(s.name.clone());
            }
        }
        let member_records = installed(ctx, &record.members)?;
        let members: Vec<&Service> = spec::dependency_order(
            &member_records
                .iter()
                .map(|r| &r.service)
                .collect::<Vec<_>>(),
        );
        record.members = members.iter().map(|s| s.name.clone()).collect();
        let files = if members.is_empty() {
            Vec::new()
        } else {
            backend.render_group(ctx, group, &members)?
        };
        for f in &files {
            let target = ctx.on_target(&f.path);
            if fsutil::read_existing(&target)?.as_deref() == Some(f.content.as_bytes()) {
                continue;
            }
            if target.exists() && !has_marker(&target) {
                bail!(
                    "{} exists and was not written by svc-any; remove it to let svc-any make group `{group}`",
                    target.display()
                );
            }
            fsutil::write_atomic(&target, f.content.as_bytes(), f.mode)?;
            say(format!("wrote {}", target.display()));
            changed = true;
        }
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        for old in before.files.iter().filter(|p| !paths.contains(p)) {
            remove_owned(ctx, old)?;
            changed = true;
        }
        record.files = paths;
        if record.members.is_empty() {
            state::remove_group(ctx, group)?;
        } else if record != before {
            state::save_group(ctx, &record)?;
        }
    }
    Ok(changed)
}

/// The directories (paths on the target system) that writing `sp`'s files and links will
/// create. svc-any's own state directories are left out: they are svc-any's whoever made them.
fn missing_dirs(ctx: &Ctx, sp: &ServicePlan, enable: bool) -> Vec<PathBuf> {
    let state_dir = ctx.state_dir();
    let mut paths: Vec<&Path> = sp.plan.files.iter().map(|f| f.path.as_path()).collect();
    paths.extend(sp.plan.links.iter().map(|l| l.path.as_path()));
    if enable {
        paths.extend(sp.plan.enable_links.iter().map(|l| l.path.as_path()));
    }
    let mut out = Vec::new();
    for path in paths {
        for dir in path.ancestors().skip(1) {
            if dir.parent().is_none() || ctx.on_target(dir).exists() || dir.starts_with(&state_dir)
            {
                break;
            }
            if !out.iter().any(|d: &PathBuf| d == dir) {
                out.push(dir.to_path_buf());
            }
        }
    }
    out
}

/// What a link is for, in what the engine says about it.
#[derive(Clone, Copy)]
enum LinkKind {
    /// Starts the service at boot.
    Boot,
    /// Part of the installation (an instance's script).
    Install,
}

/// Creates the boot links a plan lists (what `systemctl enable` or `rc-update add` make);
/// returns whether any was made. The default of [`Backend::enable`].
pub fn create_boot_links(ctx: &Ctx, links: &[LinkSpec]) -> Result<bool> {
    create_links(ctx, links, LinkKind::Boot)
}

/// Removes the boot links a plan lists; the default of [`Backend::disable`].
pub fn remove_boot_links(ctx: &Ctx, links: &[LinkSpec]) -> Result<bool> {
    remove_links(ctx, links, LinkKind::Boot)
}

/// Creates missing links; returns whether any was made.
fn create_links(ctx: &Ctx, links: &[LinkSpec], kind: LinkKind) -> Result<bool> {
    let mut made = false;
    for link in links {
        if !link_present(ctx, link) {
            let path = ctx.on_target(&link.path);
            fsutil::symlink_atomic(&link.target, &path)?;
            let what = match kind {
                LinkKind::Boot => "enabled at boot:",
                LinkKind::Install => "linked",
            };
            say(format!(
                "{what} {} -> {}",
                path.display(),
                link.target.display()
            ));
            made = true;
        }
    }
    Ok(made)
}

/// Removes links; returns whether any was removed.
fn remove_links(ctx: &Ctx, links: &[LinkSpec], kind: LinkKind) -> Result<bool> {
    let mut removed = false;
    for link in links {
        let path = ctx.on_target(&link.path);
        if link_present(ctx, link) && fsutil::remove(&path)? {
            match kind {
                LinkKind::Boot => say(format!("disabled at boot: removed {}", path.display())),
                LinkKind::Install => say(format!("removed {}", path.display())),
            }
            removed = true;
            if let Some(dir) = path.parent() {
                fsutil::remove_dir_if_empty(dir);
            }
        }
    }
    Ok(removed)
}

/// Removes a file svc-any wrote, unless someone replaced it with a file of their own.
fn remove_owned(ctx: &Ctx, path: &Path) -> Result<()> {
    let target = ctx.on_target(path);
    if !target.exists() {
        return Ok(());
    }
    if !has_marker(&target) {
        eprintln!(
            "svc-any: warning: kept {}: it no longer carries svc-any's marker",
            target.display()
        );
        return Ok(());
    }
    fsutil::remove(&target)?;
    say(format!("removed {}", target.display()));
    Ok(())
}

fn print_dry_run(ctx: &Ctx, sp: &ServicePlan, opts: &InstallOptions) {
    for f in &sp.files {
        match f.change {
            Change::Same => println!("unchanged {}", f.target.display()),
            Change::Create => {
                println!("would create {} (mode {:o})", f.target.display(), f.mode);
                print!(
                    "{}",
                    unified_diff("/dev/null", &f.target.display().to_string(), "", &f.content)
                );
            }
            Change::Update => {
                println!("would update {}", f.target.display());
                let old = String::from_utf8_lossy(f.old.as_deref().unwrap_or_default());
                let name = f.target.display().to_string();
                print!("{}", unified_diff(&name, &name, &old, &f.content));
            }
        }
    }
    for path in &sp.stale_files {
        println!("would remove {}", ctx.on_target(path).display());
    }
    for link in sp.plan.links.iter().filter(|l| !link_present(ctx, l)) {
        println!(
            "would link {} -> {}",
            ctx.on_target(&link.path).display(),
            link.target.display()
        );
    }
    if opts.enable {
        for link in sp
            .plan
            .enable_links
            .iter()
            .filter(|l| !link_present(ctx, l))
        {
            println!(
                "would enable at boot: {} -> {}",
                ctx.on_target(&link.path).display(),
                link.target.display()
            );
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

/// Stops, disables and removes exactly what the records say svc-any wrote.
pub fn uninstall(ctx: &Ctx, backend: &AnyBackend, names: &[String], dry_run: bool) -> Result<()> {
    let mut records = Vec::new();
    for name in &expand_groups(ctx, names)? {
        match state::load(ctx, name)? {
            Some(r) => records.push(r),
            None => say(format!("{name} is not installed")),
        }
    }
    if dry_run {
        for r in &records {
            println!("would stop {}", r.service.name);
            for l in r.enable_links.iter().filter(|l| link_present(ctx, l)) {
                println!("would remove {}", ctx.on_target(&l.path).display());
            }
            for f in &r.files {
                println!("would remove {}", ctx.on_target(f).display());
            }
            println!(
                "would remove {}",
                state::location(ctx)
                    .join(format!("{}.json", r.service.name))
                    .display()
            );
        }
        return Ok(());
    }
    if records.is_empty() {
        return Ok(());
    }
    let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    if ctx.live {
        // Reverse dependency order: dependants stop before what they depend on.
        let mut order = spec::dependency_order(&services);
        order.reverse();
        backend.control(ctx, Verb::Stop, &order)?;
        for s in &order {
            say(format!("stopped {}", s.name));
        }
    }
    for r in &records {
        backend.disable(ctx, &r.service, &r.enable_links)?;
        remove_links(ctx, &r.links, LinkKind::Install)?;
        crashpoint::reached("uninstall:links-removed");
        for f in &r.files {
            remove_owned(ctx, f)?;
        }
        crashpoint::reached("uninstall:files-removed");
        let mut dirs = r.dirs.clone();
        // Deepest first: a directory holds the ones below it.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            fsutil::remove_dir_if_empty(&ctx.on_target(&dir));
        }
        state::remove(ctx, &r.service.name)?;
    }
    let gone: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    update_groups(ctx, backend, &gone, false)?;
    remove_empty_state_dirs(ctx);
    if ctx.live {
        backend.reload_manager(ctx)?;
        say(format!("reloaded {}", backend.name()));
    }
    Ok(())
}

/// Removes svc-any's own directories that uninstall left empty, deepest first, so that removing
/// the last service leaves the state directory as it was before the first install. Only
/// directories nobody but svc-any puts anything in; a state directory the caller chose with
/// `SVC_ANY_STATE_DIR` is the caller's and stays.
fn remove_empty_state_dirs(ctx: &Ctx) {
    let scope = crate::backends::builtin::scope(ctx);
    let mut dirs = vec![
        state::location(ctx),
        ctx.on_target(&ctx.state_dir().join("groups")),
        ctx.on_target(&scope.enabled_dir()),
        ctx.on_target(&scope.definitions_dir()),
    ];
    if std::env::var_os("SVC_ANY_STATE_DIR").is_none() {
        dirs.push(ctx.on_target(&ctx.state_dir()));
    }
    for dir in dirs {
        fsutil::remove_dir_if_empty(&dir);
    }
}

/// `names` with each installed group replaced by its members, in order, each name once.
pub fn expand_groups(ctx: &Ctx, names: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        let members = match state::load(ctx, name)? {
            Some(_) => vec![name.clone()],
            None => match state::load_group(ctx, name)? {
                Some(g) => g.members,
                None => vec![name.clone()],
            },
        };
        for m in members {
            if !out.contains(&m) {
                out.push(m);
            }
        }
    }
    Ok(out)
}

/// The records of `names` (groups expanded); an unknown name is bad input.
pub fn installed(ctx: &Ctx, names: &[String]) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    for name in &expand_groups(ctx, names)? {
        match state::load(ctx, name)? {
            Some(r) => out.push(r),
            None => {
                return Err(bad(format!("`{name}` is not installed"))
                    .hint(
                        "`svc-any list` shows the services svc-any manages here; install it first",
                    )
                    .into())
            }
        }
    }
    Ok(out)
}

fn require_live(ctx: &Ctx, backend: &AnyBackend) -> Result<()> {
    if !ctx.live {
        bail!(
            "{} is not running here ({}): there is nothing to start or stop",
            backend.name(),
            ctx.offline_reason.as_deref().unwrap_or("offline")
        );
    }
    Ok(())
}

/// start / stop / restart / reload, then `--wait` for start and restart.
pub fn control(
    ctx: &Ctx,
    backend: &AnyBackend,
    verb: Verb,
    names: &[String],
    wait: Option<Option<Duration>>,
) -> Result<()> {
    let records = installed(ctx, names)?;
    if verb == Verb::Reload {
        if let Some(r) = records.iter().find(|r| r.service.reload_signal.is_none()) {
            return Err(bad(format!(
                "`{}` has no reload_signal, so it cannot be reloaded",
                r.service.name
            ))
            .key("reload_signal")
            .hint("add reload_signal = \"HUP\" to the definition, or use restart")
            .into());
        }
    }
    require_live(ctx, backend)?;
    let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    match verb {
        Verb::Start | Verb::Restart => start_and_wait(ctx, backend, verb, &services, wait),
        Verb::Stop => {
            let mut order = spec::dependency_order(&services);
            order.reverse();
            backend.control(ctx, Verb::Stop, &order)?;
            for s in order {
                say(format!("stopped {}", s.name));
            }
            Ok(())
        }
        Verb::Reload => {
            backend.control(ctx, Verb::Reload, &services)?;
            for s in services {
                say(format!("reloaded {}", s.name));
            }
            Ok(())
        }
    }
}

fn start_and_wait(
    ctx: &Ctx,
    backend: &AnyBackend,
    verb: Verb,
    services: &[&Service],
    wait: Option<Option<Duration>>,
) -> Result<()> {
    let order = spec::dependency_order(services);
    backend.control(ctx, verb, &order)?;
    for s in &order {
        say(format!(
            "{} {}",
            if verb == Verb::Start {
                "started"
            } else {
                "restarted"
            },
            s.name
        ));
    }
    if let Some(limit) = wait {
        for s in &order {
            wait_ready(ctx, backend, s, limit)?;
        }
    }
    Ok(())
}

/// Waits until `service` is healthy (the manager runs it and its health check passes) or,
/// without a check, runs and stays up for [`SETTLE`]. On timeout, or once the manager says it
/// ended and will not come back: stop it, show its last log lines, fail.
pub fn wait_ready(
    ctx: &Ctx,
    backend: &AnyBackend,
    service: &Service,
    limit: Option<Duration>,
) -> Result<()> {
    let timeout = limit
        .or(service.health.as_ref().map(|h| h.timeout))
        .unwrap_or(DEFAULT_WAIT);
    let started = Instant::now();
    let mut stable_since: Option<(Vec<Option<u32>>, Instant)> = None;
    let mut ended: Option<String> = None;
    let finished = health::wait_until(timeout, || {
        let Ok(statuses) = backend.status(ctx, &[service]) else {
            return false;
        };
        // Started by us a moment ago, so stopped, dead or failed means it ended by itself and
        // the manager will not bring it back: waiting out the timeout would change nothing.
        if let Some(s) = statuses
            .iter()
            .find(|s| matches!(s.state, State::Stopped | State::Dead | State::Failed))
        {
            ended = Some(match (&s.reason, &s.last_exit) {
                (Some(reason), _) => format!("{}: {reason}", s.state.as_str()),
                (None, Some(exit)) => format!("{}: {exit}", s.state.as_str()),
                (None, None) => s.state.as_str().to_string(),
            });
            return true;
        }
        if !statuses.iter().all(|s| s.state == State::Running) {
            stable_since = None;
            return false;
        }
        // A health check that passes while the manager does not run the service would be
        // answered by something else (an old copy, another program on the port).
        if let Some(h) = &service.health {
            return health::probe(&h.check);
        }
        let pids: Vec<Option<u32>> = statuses.iter().map(|s| s.pid).collect();
        match &stable_since {
            Some((seen, since)) if *seen == pids => since.elapsed() >= SETTLE,
            _ => {
                stable_since = Some((pids, Instant::now()));
                false
            }
        }
    });
    let why = match (finished, ended) {
        (true, None) => {
            say(format!(
                "{} is {} ({:.1}s)",
                service.name,
                if service.health.is_some() {
                    "healthy"
                } else {
                    "up"
                },
                started.elapsed().as_secs_f64()
            ));
            return Ok(());
        }
        (_, Some(ended)) => format!("ended before it became ready ({ended})"),
        (false, None) => format!(
            "did not become ready within {}",
            humantime::format_duration(timeout)
        ),
    };
    eprintln!("svc-any: {} {why}; its last log lines:", service.name);
    let _ = backend.logs(
        ctx,
        service,
        LogOptions {
            follow: false,
            lines: 20,
        },
    );
    let _ = backend.control(ctx, Verb::Stop, &[service]);
    bail!("{} {why}; stopped it", service.name)
}

/// enable / disable: boot links only, as `systemctl enable` without `--now`.
pub fn set_enabled(ctx: &Ctx, backend: &AnyBackend, names: &[String], enable: bool) -> Result<()> {
    let records = installed(ctx, names)?;
    let mut changed = false;
    for mut r in records {
        changed |= if enable {
            backend.enable(ctx, &r.service, &r.enable_links)?
        } else {
            backend.disable(ctx, &r.service, &r.enable_links)?
        };
        if r.enabled != enable {
            r.enabled = enable;
            state::save(ctx, &r)?;
        }
        if !changed {
            say(format!(
                "{} is already {}",
                r.service.name,
                if enable { "enabled" } else { "disabled" }
            ));
        }
    }
    if changed && ctx.live {
        backend.reload_manager(ctx)?;
    }
    Ok(())
}

/// Status of `names`, or of every installed service when none are named; the manager is asked
/// once for all of them.
pub fn status(ctx: &Ctx, backend: &AnyBackend, names: &[String]) -> Result<Vec<ServiceStatus>> {
    let wanted: Vec<(String, Option<Record>)> = if names.is_empty() {
        state::all(ctx)?
            .into_iter()
            .map(|r| (r.service.name.clone(), Some(r)))
            .collect()
    } else {
        expand_groups(ctx, names)?
            .iter()
            .map(|n| Ok((n.clone(), state::load(ctx, n)?)))
            .collect::<Result<_>>()?
    };
    let installed: Vec<&Service> = wanted
        .iter()
        .filter_map(|(_, r)| r.as_ref().map(|r| &r.service))
        .collect();
    let mut answers = if ctx.live && !installed.is_empty() {
        backend.status(ctx, &installed)?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for (name, record) in wanted {
        match record {
            None => out.push(ServiceStatus::not_installed(&name, backend.name())),
            Some(_) if ctx.live => {
                let (mine, rest): (Vec<_>, Vec<_>) =
                    answers.into_iter().partition(|s| s.name == name);
                answers = rest;
                out.extend(mine);
            }
            // Installed, but no manager to ask (a chroot): say what the record knows.
            Some(r) => out.push(ServiceStatus {
                state: State::Unknown,
                enabled: Some(r.enabled),
                ..ServiceStatus::not_installed(&name, backend.name())
            }),
        }
    }
    Ok(out)
}

/// The log files of a service whose output goes to `log.file` (one per instance).
pub fn log_files(service: &Service, file: &str) -> Vec<PathBuf> {
    service
        .instance_names()
        .into_iter()
        .map(|i| {
            PathBuf::from(match i {
                Some(i) => file.replace(INSTANCE_PLACEHOLDER, i),
                None => file.to_string(),
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Shows the end of log files, following them with `-f`.
pub fn tail_files(files: &[PathBuf], options: LogOptions) -> Result<i32> {
    let mut cmd = crate::process::tool("tail")?;
    cmd.args(["-n", &options.lines.to_string()]);
    if options.follow {
        cmd.arg("-F");
    }
    cmd.arg("--").args(files);
    crate::process::interactive(&mut cmd)
}
