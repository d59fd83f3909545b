//! Uninstall: stop, disable, remove exactly what the record says install wrote, and nothing
//! a person put there since.

use anyhow::Result;

use super::groups::update_groups;
use super::*;
use crate::backends::{AnyBackend, Backend};
use crate::model::spec::{self, Service};
use crate::system::bootlinks::{link_present, remove_links, LinkKind};
use crate::system::crashpoint;
use crate::system::files;
use crate::system::files::remove_owned;
use crate::system::host::Ctx;
use crate::system::records::{self};

/// Stops, disables and removes exactly what the records say svc-any wrote.
pub fn uninstall(ctx: &Ctx, backend: &AnyBackend, names: &[String], dry_run: bool) -> Result<()> {
    let mut records = Vec::new();
    for name in &expand_groups(ctx, names)? {
        match records::load(ctx, name)? {
            Some(r) => records.push(r),
            None => ctx.say(format!("{name} is not installed")),
        }
    }
    if dry_run {
        for r in &records {
            ctx.report.output(&format!("would stop {}", r.service.name));
            for l in r.enable_links.iter().filter(|l| link_present(ctx, l)) {
                ctx.report.output(&format!(
                    "would remove {}",
                    ctx.on_target(&l.path).display()
                ));
            }
            for f in &r.files {
                ctx.report
                    .output(&format!("would remove {}", ctx.on_target(f).display()));
            }
            let values = records::values_path(ctx, &r.service.name);
            if values.exists() {
                ctx.report
                    .output(&format!("would remove {}", values.display()));
            }
            ctx.report.output(&format!(
                "would remove {}",
                records::location(ctx)
                    .join(format!("{}.json", r.service.name))
                    .display()
            ));
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
        super::stop::stop_verified(ctx, backend, &order, None)?;
        for s in &order {
            ctx.say(format!("stopped {}", s.name));
        }
    }
    // Each directory is synced once, at the end, rather than after every removal.
    let tx = files::Transaction::begin();
    for listed in &records {
        // Read again: an earlier one of this batch may have handed it a directory.
        let fresh = records::load(ctx, &listed.service.name)?;
        let r = fresh.as_ref().unwrap_or(listed);
        if backend.disables_on_uninstall() {
            backend.disable(ctx, &r.service, &r.enable_links)?;
        }
        remove_links(ctx, &r.links, LinkKind::Install)?;
        crashpoint::reached("uninstall:links-removed");
        backend.forget(ctx, &r.service)?;
        for f in &r.files {
            remove_owned(ctx, f)?;
        }
        crashpoint::reached("uninstall:files-removed");
        let mut dirs = r.dirs.clone();
        // Deepest first: a directory holds the ones below it.
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for dir in dirs {
            let on_target = ctx.on_target(&dir);
            files::remove_dir_if_empty(&on_target);
            if on_target.is_dir() {
                hand_over_dir(ctx, &r.service.name, &dir)?;
            }
        }
        records::clear_failure(ctx, &r.service.name)?;
        records::forget_running(ctx, &r.service.name);
        records::remove(ctx, &r.service.name)?;
    }
    let gone: Vec<&Service> = records.iter().map(|r| &r.service).collect();
    update_groups(ctx, backend, &gone, false)?;
    tx.finish()?;
    remove_empty_state_dirs(ctx);
    if ctx.live {
        let names: Vec<&str> = gone.iter().map(|s| s.name.as_str()).collect();
        backend.reload_definitions(ctx, &names)?;
        ctx.say(format!("reloaded {}", backend.name()));
    }
    Ok(())
}

/// A directory svc-any created for `leaving` still holds another service's files (Debian's
/// OpenRC has no /etc/conf.d until svc-any makes one): the service whose files are there now
/// records it, so the last one out removes it.
fn hand_over_dir(ctx: &Ctx, leaving: &str, dir: &std::path::Path) -> Result<()> {
    for mut other in records::all(ctx)? {
        if other.service.name != leaving
            && other.files.iter().any(|f| f.starts_with(dir))
            && !other.dirs.iter().any(|d| d == dir)
        {
            other.dirs.push(dir.to_path_buf());
            records::save(ctx, &other)?;
            return Ok(());
        }
    }
    Ok(())
}

/// Removes svc-any's own directories that uninstall left empty, deepest first, so that removing
/// the last service leaves the state directory as it was before the first install. Only
/// directories nobody but svc-any puts anything in; a state directory the caller chose with
/// `SVC_ANY_STATE_DIR` is the caller's and stays.
fn remove_empty_state_dirs(ctx: &Ctx) {
    let scope = crate::supervisor::Scope::of(ctx);
    let mut dirs = vec![
        records::location(ctx),
        ctx.on_target(&ctx.state_dir().join("groups")),
        ctx.on_target(&ctx.state_dir().join("env")),
        ctx.on_target(&ctx.state_dir().join("running")),
        ctx.on_target(&scope.enabled_dir()),
        ctx.on_target(&scope.definitions_dir()),
    ];
    if std::env::var_os("SVC_ANY_STATE_DIR").is_none() {
        dirs.push(ctx.on_target(&ctx.state_dir()));
    }
    for dir in dirs {
        files::remove_dir_if_empty(&dir);
    }
}
