//! `svc-any hook deb|rpm ...`: a maintainer script's or RPM scriptlet's arguments mapped to one
//! [`Step`] of the engine's packaging hooks, and `hook snippets`.
//!
//! Exit codes: 2 when a definition does not validate (or the hook was called wrongly), which
//! must fail the package; 0 for everything else, a manager that fails or a policy that forbids
//! included (said on stderr).

use std::path::{Path, PathBuf};

use super::args::{Cli, DebScript, Definition, HookCommand, RpmScriptlet};
use super::definitions::{check_names, load_definitions};
use super::resolve::{flag_level, invocation, Invocation};
use super::snippets;
use crate::engine;
use crate::engine::hook::{self, Step};
use crate::model::error::{bad, BadInput};
use crate::system::accounts::Accounts;
use crate::system::records;
use anyhow::Result;

pub fn run(cli: &Cli, command: &HookCommand) -> Result<i32> {
    match command {
        HookCommand::Snippets {
            format,
            names,
            file,
            script,
        } => {
            check_names(names)?;
            snippets::print(*format, names, file.as_deref(), script.as_deref())?;
            Ok(0)
        }
        HookCommand::Deb {
            script,
            file,
            names,
            args,
        } => {
            check_names(names)?;
            let step = deb_step(*script, args);
            let called = format!("{script:?} {}", args.join(" ")).to_lowercase();
            run_step(cli, step, file.as_deref(), names, called.trim())
        }
        HookCommand::Rpm {
            scriptlet,
            file,
            names,
            args,
        } => {
            check_names(names)?;
            let step = rpm_step(*scriptlet, args)?;
            let called = format!("%{scriptlet:?} {}", args.join(" ")).to_lowercase();
            run_step(cli, step, file.as_deref(), names, called.trim())
        }
    }
}

/// What dpkg's arguments to a maintainer script mean (Debian Policy, chapter 6).
pub fn deb_step(script: DebScript, args: &[String]) -> Option<Step> {
    let action = args.first().map(String::as_str).unwrap_or_default();
    let previous = args.get(1).is_some_and(|v| !v.is_empty());
    match (script, action) {
        (DebScript::Postinst, "configure") if previous => Some(Step::Upgrade),
        (DebScript::Postinst, "configure") => Some(Step::Install),
        (DebScript::Postinst, "abort-upgrade" | "abort-remove" | "abort-deconfigure") => {
            Some(Step::Restore)
        }
        (DebScript::Prerm, "remove") => Some(Step::Stop),
        (DebScript::Prerm, "upgrade" | "deconfigure" | "failed-upgrade") => Some(Step::Note),
        (DebScript::Postrm, "remove") => Some(Step::Remove),
        (DebScript::Postrm, "purge") => Some(Step::Purge),
        // postinst triggered; postrm upgrade, failed-upgrade, abort-install, abort-upgrade,
        // disappear: nothing of svc-any's changed, or the other package's scripts act.
        _ => None,
    }
}

/// What an RPM scriptlet's `$1` means: 1 first install, 2 or more an upgrade, 0 an erase.
pub fn rpm_step(scriptlet: RpmScriptlet, args: &[String]) -> Result<Option<Step>> {
    let Some(count) = args.first() else {
        return Err(bad("the scriptlet's $1 is missing")
            .key("COUNT")
            .hint("call it as `svc-any hook rpm post NAME -- \"$1\"`")
            .into());
    };
    let count: u32 = count.trim().parse().map_err(|_| {
        bad(format!("`{count}` is not a count of installed packages"))
            .key("COUNT")
            .hint("pass the scriptlet's \"$1\"")
    })?;
    Ok(match (scriptlet, count) {
        (RpmScriptlet::Post, 1) => Some(Step::Install),
        (RpmScriptlet::Post, n) if n >= 2 => Some(Step::Upgrade),
        (RpmScriptlet::Preun, 0) => Some(Step::Stop),
        (RpmScriptlet::Preun, _) => Some(Step::Note),
        // RPM has no purge: an erase is the end, so everything goes.
        (RpmScriptlet::Postun, 0) => Some(Step::Purge),
        _ => None,
    })
}

fn run_step(
    cli: &Cli,
    step: Option<Step>,
    file: Option<&Path>,
    names: &[String],
    called: &str,
) -> Result<i32> {
    let Some(step) = step else {
        if !cli.quiet {
            println!(
                "svc-any: {}: nothing to do for `{called}`",
                names.join(", ")
            );
        }
        return Ok(0);
    };
    // dpkg --root with --force-script-chrootless: the script runs here, for that tree.
    let dpkg_root = std::env::var_os("DPKG_ROOT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    let root = dpkg_root.as_deref();

    // The definitions first: one that does not validate is the one thing that fails.
    let mut services = Vec::new();
    let mut missing = Vec::new();
    if step.installs() {
        for name in names {
            let path = definition_path(file, name, root);
            if !path.exists() {
                missing.push((name.clone(), path));
                continue;
            }
            let def = Definition {
                name: Some(name.clone()),
                file: Some(path),
                user_name: None,
                env: Vec::new(),
                workdir: None,
                restart: None,
                argv: Vec::new(),
            };
            let accounts = match root {
                Some(r) => Accounts::Tree(r.to_path_buf()),
                None => Accounts::Host,
            };
            for mut service in load_definitions(cli, &def, Some(accounts))? {
                if let (Some(root), Some(source)) = (root, &service.source) {
                    if let Ok(rel) = source.strip_prefix(root) {
                        service.source = Some(Path::new("/").join(rel));
                    }
                }
                services.push(service);
            }
        }
    }

    let Invocation { mut ctx, backend } = match invocation(cli, flag_level(cli), root) {
        Ok(i) => i,
        Err(e) if is_bad_input(&e) => return Err(e),
        Err(e) => {
            eprintln!(
                "svc-any: warning: {e:#}; {} left as it was",
                names.join(", ")
            );
            return Ok(0);
        }
    };
    if let Some(r) = root {
        ctx.offline_reason = Some(format!(
            "DPKG_ROOT={}: dpkg installs into another tree",
            r.display()
        ));
    }
    for (name, path) in missing {
        match records::load(&ctx, &name).ok().flatten() {
            Some(record) if step != Step::Install => {
                ctx.warn(format!(
                    "warning: {name}: {} is gone (an admin may have deleted it); keeping the installed definition",
                    path.display()
                ));
                services.push(record.service);
            }
            _ => {
                return Err(bad(format!(
                    "no definition for `{name}`: {} does not exist",
                    path.display()
                ))
                .hint("the package must ship it (as a conffile), or the hook name it with -f FILE")
                .into())
            }
        }
    }
    // What this backend refuses is as bad as what validation refuses.
    for service in &services {
        if let Err(e) = engine::render_located(&ctx, &backend, service) {
            if is_bad_input(&e) {
                return Err(e);
            }
            ctx.warn(format!("warning: {}: {e:#}", service.name));
        }
    }

    if step.installs() {
        hook::configure(&ctx, &backend, step, &services);
    } else {
        hook::act(&ctx, &backend, step, names);
    }
    Ok(0)
}

/// `-f FILE`, else `/etc/svc-any/NAME.toml`, below `$DPKG_ROOT` when that is set.
fn definition_path(file: Option<&Path>, name: &str, root: Option<&Path>) -> PathBuf {
    let path = file.map_or_else(
        || PathBuf::from(format!("/etc/svc-any/{name}.toml")),
        Path::to_path_buf,
    );
    match (root, path.strip_prefix("/")) {
        (Some(root), Ok(rel)) => root.join(rel),
        _ => path,
    }
}

fn is_bad_input(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<BadInput>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dpkg_arguments_map_as_debian_policy_defines_them() {
        use DebScript::*;
        let cases: &[(DebScript, &[&str], Option<Step>)] = &[
            (Postinst, &["configure", ""], Some(Step::Install)),
            (Postinst, &["configure"], Some(Step::Install)),
            (Postinst, &["configure", "1.0-1"], Some(Step::Upgrade)),
            (Postinst, &["abort-upgrade", "2.0"], Some(Step::Restore)),
            (Postinst, &["abort-remove"], Some(Step::Restore)),
            (
                Postinst,
                &["abort-deconfigure", "in-favour", "x", "1"],
                Some(Step::Restore),
            ),
            (Postinst, &["triggered", "/usr"], None),
            (Postinst, &[], None),
            (Prerm, &["remove"], Some(Step::Stop)),
            (Prerm, &["upgrade", "2.0"], Some(Step::Note)),
            (
                Prerm,
                &["deconfigure", "in-favour", "x", "1"],
                Some(Step::Note),
            ),
            (Prerm, &["failed-upgrade", "1.0", "2.0"], Some(Step::Note)),
            (Postrm, &["remove"], Some(Step::Remove)),
            (Postrm, &["purge"], Some(Step::Purge)),
            (Postrm, &["upgrade", "2.0"], None),
            (Postrm, &["failed-upgrade", "1.0", "2.0"], None),
            (Postrm, &["abort-install"], None),
            (Postrm, &["abort-upgrade", "1.0"], None),
            (Postrm, &["disappear", "other", "1.0"], None),
        ];
        for (script, a, want) in cases {
            assert_eq!(deb_step(*script, &args(a)), *want, "{script:?} {a:?}");
        }
    }

    #[test]
    fn rpm_counts_map_to_install_upgrade_and_erase() {
        use RpmScriptlet::*;
        let cases: &[(RpmScriptlet, &str, Option<Step>)] = &[
            (Post, "1", Some(Step::Install)),
            (Post, "2", Some(Step::Upgrade)),
            (Post, "3", Some(Step::Upgrade)),
            (Preun, "0", Some(Step::Stop)),
            (Preun, "1", Some(Step::Note)),
            (Postun, "0", Some(Step::Purge)),
            (Postun, "1", None),
        ];
        for (scriptlet, count, want) in cases {
            assert_eq!(
                rpm_step(*scriptlet, &args(&[count])).unwrap(),
                *want,
                "{scriptlet:?} {count}"
            );
        }
        assert!(rpm_step(Post, &[]).is_err());
        assert!(rpm_step(Post, &args(&["x"])).is_err());
    }
}
