//! Boot links: the symlinks that make a service start at boot (`multi-user.target.wants/`,
//! `/etc/runlevels/default/`, `rc?.d/`) and the ones an installation needs (an OpenRC
//! instance's script). Made and removed atomically, each only if it is not already so.

use anyhow::Result;

use crate::dialect::render::LinkSpec;
use crate::system::files;
use crate::system::host::Ctx;

/// Whether the link is there and points where the plan says.
pub fn link_present(ctx: &Ctx, link: &LinkSpec) -> bool {
    std::fs::read_link(ctx.on_target(&link.path)).is_ok_and(|t| t == link.target)
}

/// What a link is for, in what the engine says about it.
#[derive(Clone, Copy)]
pub enum LinkKind {
    /// Starts the service at boot.
    Boot,
    /// Part of the installation (an instance's script).
    Install,
}

/// Creates the boot links a plan lists (what `systemctl enable` or `rc-update add` make);
/// returns whether any was made. What most backends' `enable` does.
pub fn create_boot_links(ctx: &Ctx, links: &[LinkSpec]) -> Result<bool> {
    create_links(ctx, links, LinkKind::Boot)
}

/// Removes the boot links a plan lists; what most backends' `disable` does.
pub fn remove_boot_links(ctx: &Ctx, links: &[LinkSpec]) -> Result<bool> {
    remove_links(ctx, links, LinkKind::Boot)
}

/// Creates missing links; returns whether any was made.
pub fn create_links(ctx: &Ctx, links: &[LinkSpec], kind: LinkKind) -> Result<bool> {
    let mut made = false;
    for link in links {
        if !link_present(ctx, link) {
            let path = ctx.on_target(&link.path);
            files::symlink_atomic(&link.target, &path)?;
            let what = match kind {
                LinkKind::Boot => "enabled at boot:",
                LinkKind::Install => "linked",
            };
            ctx.say(format!(
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
pub fn remove_links(ctx: &Ctx, links: &[LinkSpec], kind: LinkKind) -> Result<bool> {
    let mut removed = false;
    for link in links {
        let path = ctx.on_target(&link.path);
        if link_present(ctx, link) && files::remove(&path)? {
            match kind {
                LinkKind::Boot => ctx.say(format!("disabled at boot: removed {}", path.display())),
                LinkKind::Install => ctx.say(format!("removed {}", path.display())),
            }
            removed = true;
            // A boot link's directory (`.wants/`) goes with its last link; an installed link
            // lives in the manager's own directory (a scan directory that may be empty before
            // the first service), which uninstall removes only if the record says it made it.
            if let (LinkKind::Boot, Some(dir)) = (&kind, path.parent()) {
                files::remove_dir_if_empty(dir);
            }
        }
    }
    Ok(removed)
}
