//! Who a service's process runs as: its `user` (a name or a number), its `group` (else the
//! user's), and its groups (the user's, from the group database, plus
//! `supplementary_groups`). Resolved in the supervisor before the process is started, as
//! name lookups are not safe in the child; the child only calls setgroups, setgid and setuid
//! with the numbers (see `clone.rs`).

use std::ffi::CString;
use std::path::PathBuf;

use anyhow::{Context, Result};
use nix::unistd::{Gid, Uid};

use crate::model::spec::Service;

/// Who the process runs as, resolved before forking (NSS lookups are not safe after fork).
pub(super) struct Credentials {
    pub(super) uid: Uid,
    pub(super) gid: Gid,
    pub(super) groups: Vec<Gid>,
    pub(super) home: PathBuf,
    pub(super) name: String,
}

pub(super) fn credentials(service: &Service) -> Result<Option<Credentials>> {
    let user = match &service.user {
        None => None,
        Some(u) if u.chars().all(|c| c.is_ascii_digit()) => {
            let uid = Uid::from_raw(u.parse()?);
            Some(nix::unistd::User::from_uid(uid)?.map_or(
                (
                    uid,
                    Gid::from_raw(uid.as_raw()),
                    PathBuf::from("/"),
                    u.clone(),
                ),
                |e| (e.uid, e.gid, e.dir, e.name),
            ))
        }
        Some(u) => {
            let e = nix::unistd::User::from_name(u)?.with_context(|| format!("no user `{u}`"))?;
            Some((e.uid, e.gid, e.dir, e.name))
        }
    };
    let group = match &service.group {
        None => None,
        Some(g) if g.chars().all(|c| c.is_ascii_digit()) => Some(Gid::from_raw(g.parse()?)),
        Some(g) => Some(
            nix::unistd::Group::from_name(g)?
                .with_context(|| format!("no group `{g}`"))?
                .gid,
        ),
    };
    let mut supplementary = Vec::new();
    for g in &service.daemon.supplementary_groups {
        supplementary.push(match g.chars().all(|c| c.is_ascii_digit()) {
            true => Gid::from_raw(g.parse()?),
            false => {
                nix::unistd::Group::from_name(g)?
                    .with_context(|| format!("no group `{g}` (supplementary_groups)"))?
                    .gid
            }
        });
    }
    let with_supplementary = |mut groups: Vec<Gid>| {
        groups.extend(&supplementary);
        groups.sort_by_key(|g| g.as_raw());
        groups.dedup();
        groups
    };
    Ok(match (user, group) {
        // Only more groups: for the supervisor's own user and group.
        (None, None) if !supplementary.is_empty() => {
            let gid = nix::unistd::getegid();
            Some(Credentials {
                uid: nix::unistd::geteuid(),
                gid,
                groups: with_supplementary(vec![gid]),
                home: PathBuf::from("/"),
                name: String::new(),
            })
        }
        (None, None) => None,
        (Some((uid, user_gid, home, name)), group) => {
            let gid = group.unwrap_or(user_gid);
            let cname = CString::new(name.clone())?;
            let groups = nix::unistd::getgrouplist(&cname, gid).unwrap_or_else(|_| vec![gid]);
            Some(Credentials {
                uid,
                gid,
                groups: with_supplementary(groups),
                home,
                name,
            })
        }
        (None, Some(gid)) => {
            let me = nix::unistd::geteuid();
            Some(Credentials {
                uid: me,
                gid,
                groups: with_supplementary(vec![gid]),
                home: PathBuf::from("/"),
                name: String::new(),
            })
        }
    })
}
