//! `[groups]`: recorded at install, so that a group's name works without the file, and made
//! native where the manager has such a thing (systemd's GROUP.target).

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{bail, Result};

use crate::backends::{AnyBackend, Backend};
use crate::dialect::render::has_marker;
use crate::model::error::bad;
use crate::model::spec::{self, Service};
use crate::system::files::{self, remove_owned};
use crate::system::host::Ctx;
use crate::system::records::{self, Record};

/// `names` with each installed group replaced by its members and each alias by the service
/// that has it (`sshd` is `ssh`, as systemctl takes an alias), in order, each name once.
pub fn expand_groups(ctx: &Ctx, names: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let mut all: Option<Vec<Record>> = None;
    for name in names {
        let members = match records::load(ctx, name)? {
            Some(_) => vec![name.clone()],
            None => match records::load_group(ctx, name)? {
                Some(g) => g.members,
                None => {
                    let all = match &mut all {
                        Some(all) => all,
                        None => all.insert(records::all(ctx)?),
                    };
                    let owner = all
                        .iter()
                        .find(|r| r.service.daemon.aliases.contains(name))
                        .map(|r| r.service.name.clone());
                    vec![owner.unwrap_or_else(|| name.clone())]
                }
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
        match records::load(ctx, name)? {
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

/// Brings the group records (and the backend's group files) of the groups `services` belong
/// to up to date, after they were installed (`joined`) or uninstalled. Returns whether a file
/// changed (the manager must re-read its definitions).
pub(super) fn update_groups(
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
        for name in records::group_names(ctx) {
            if let Some(g) = records::load_group(ctx, &name)? {
                if services.iter().any(|s| g.members.contains(&s.name)) {
                    groups.insert(name);
                }
            }
        }
    }
    let mut changed = false;
    for group in &groups {
        let group = group.as_str();
        let mut record = records::load_group(ctx, group)?
            .unwrap_or_else(|| records::GroupRecord::new(backend.name(), group));
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
            if files::read_existing(&target)?.as_deref() == Some(f.content.as_bytes()) {
                continue;
            }
            if target.exists() && !has_marker(&target) {
                bail!(
                    "{} exists and was not written by svc-any; remove it to let svc-any make group `{group}`",
                    target.display()
                );
            }
            files::write_atomic(&target, f.content.as_bytes(), f.mode)?;
            ctx.say(format!("wrote {}", target.display()));
            changed = true;
        }
        let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        for old in before.files.iter().filter(|p| !paths.contains(p)) {
            remove_owned(ctx, old)?;
            changed = true;
        }
        record.files = paths;
        if record.members.is_empty() {
            records::remove_group(ctx, group)?;
        } else if record != before {
            records::save_group(ctx, &record)?;
        }
    }
    Ok(changed)
}
