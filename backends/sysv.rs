//! SysV init (`/etc/init.d` LSB scripts, runlevel links), as on Debian with sysvinit-core.
//!
//! SysV starts and stops but never supervises: a killed daemon stays dead. svc-any's promise
//! that `restart` holds on every backend is kept by its own supervisor (the builtin backend):
//! the LSB script is a thin client of it, so restart policy, backoff, crash-loop limit, stop
//! signal and timeout, and log files behave exactly as under the builtin backend. (inittab
//! `respawn` was the alternative: no delay, no backoff, no stop timeout, no status an LSB
//! script could report, and an edit of /etc/inittab for every service.)
//!
//! Enabling asks `update-rc.d` (Debian; insserv orders the links from the LSB header), else
//! `chkconfig` (Red Hat family), else makes rc?.d links itself, as it also does for `--root`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::backends::carried::{self, Verdict};
use crate::backends::{builtin, Backend, Builtin, LogOptions, Verb};
use crate::dialect::escape::sh;
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::spec::{self, Dependency, Service, Used};
use crate::model::status::ServiceStatus;
use crate::system::host::Ctx;
use crate::system::process;

pub struct Sysv;

const INIT_D: &str = "/etc/init.d";
/// Runlevels a service starts in, and those it is stopped in, as the LSB header says.
const START_LEVELS: &[u8] = &[2, 3, 4, 5];
const STOP_LEVELS: &[u8] = &[0, 1, 6];

fn script_path(service: &Service) -> PathBuf {
    PathBuf::from(INIT_D).join(&service.name)
}

/// The rc?.d links for `--root` trees and hosts without update-rc.d or chkconfig.
fn rc_links(service: &Service) -> Vec<LinkSpec> {
    let target = PathBuf::from("../init.d").join(&service.name);
    START_LEVELS
        .iter()
        .map(|l| (l, 'S'))
        .chain(STOP_LEVELS.iter().map(|l| (l, 'K')))
        .map(|(level, kind)| LinkSpec {
            path: PathBuf::from(format!("/etc/rc{level}.d/{kind}20{}", service.name)),
            target: target.clone(),
        })
        .collect()
}

/// Whether an rc?.d entry (`S01NAME`, `K20NAME`) is the service's; `kinds` is "S", "K" or "SK".
fn is_rc_link_of(entry: &str, name: &str, kinds: &str) -> bool {
    let b = entry.as_bytes();
    b.len() > 3
        && kinds.as_bytes().contains(&b[0])
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && entry[3..] == *name
}

/// Whether the service has an rc?.d link of `kinds` in runlevel `level`.
fn has_rc_link(ctx: &Ctx, level: u8, name: &str, kinds: &str) -> bool {
    let dir = ctx.on_target(Path::new(&format!("/etc/rc{level}.d")));
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|f| is_rc_link_of(f, name, kinds))
    })
}

/// Whether an rc2.d link starts the service (how SysV records "enabled").
fn enabled_in_rc2(ctx: &Ctx, name: &str) -> bool {
    has_rc_link(ctx, 2, name, "S")
}

/// The native enabling tool here, if the host has one and we act on the live root.
fn native_tool(ctx: &Ctx) -> Option<&'static str> {
    if ctx.root != Path::new("/") {
        return None;
    }
    ["update-rc.d", "chkconfig"]
        .into_iter()
        .find(|t| process::find_tool(t).is_ok())
}

/// What the LSB script and the supervisor behind it carry: the supervisor's keys, and the
/// facilities of `after` and `requires`, which the LSB header names (`$network`...). `wants`
/// is the supervisor's (the script's start asks it, which starts what the unit wants), not
/// the header's: `Should-Start:` would order the boot, which systemd's `Wants=` does not.
fn carries(used: &Used, service: &Service) -> Verdict {
    let facility = used.value.as_deref().is_some_and(|v| v.starts_with("\"$"));
    match used.key {
        "after" | "requires" if facility => Ok(()),
        // A script is put before another by name (`X-Start-Before:`); insserv takes no facility
        // there, and a script cannot join one without insserv.conf.
        "before" if facility => Err("an LSB script cannot order itself before a facility"),
        // More names in `Provides:`, which other scripts' headers may depend on (as OpenRC's
        // `provide`); the script itself keeps the service's name.
        "aliases" => Ok(()),
        _ => crate::backends::builtin::carries(used, service),
    }
}

impl Backend for Sysv {
    fn name(&self) -> &'static str {
        "sysv"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        let mut c = render::context(service);
        c.insert("name", &service.name);
        c.insert("aliases", &service.daemon.aliases);
        c.insert("quoted_name", &sh::quote(&service.name)?);
        let mut required = vec!["$remote_fs".to_string(), "$syslog".to_string()];
        // systemd's After= on a service of the host is LSB's `Should-Start:`, by the name its
        // script provides; any other unit of systemd's is refused.
        let should_start = spec::host_services_after(service);
        spec::refuse_systemd_units_but_after_services(service, self.name())?;
        c.insert("should_start", &should_start.join(" "));
        let start_before: Vec<&str> = service
            .daemon
            .before
            .iter()
            .filter_map(Dependency::service)
            .collect();
        c.insert("start_before", &start_before.join(" "));
        for dep in service.requires.iter().chain(&service.after) {
            let name = match dep {
                Dependency::Service(name) => name.clone(),
                Dependency::Facility(f) => f.lsb().to_string(),
                // Refused above.
                Dependency::Native(_) => continue,
            };
            if !required.contains(&name) {
                required.push(name);
            }
        }
        c.insert("required", &required.join(" "));
        c.insert("short", &service.description);
        builtin::insert_script_context(&mut c, service)?;
        let script = ctx.renderer.render("sysv.initd", &c)?;
        let mut files = vec![FileSpec {
            path: script_path(service),
            mode: 0o755,
            content: script,
        }];
        files.extend(builtin::behind_a_script(ctx, service)?);
        Ok(Plan {
            files,
            links: Vec::new(),
            enable_links: rc_links(service),
        })
    }

    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        Builtin.reload_manager(ctx)
    }

    fn reload_definitions(&self, ctx: &Ctx, services: &[&str]) -> Result<()> {
        Builtin.reload_definitions(ctx, services)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        Builtin.control(ctx, verb, services)
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let mut statuses = Builtin.status(ctx, services)?;
        for s in &mut statuses {
            s.backend = "sysv".into();
            s.enabled = Some(enabled_in_rc2(ctx, &s.name));
        }
        Ok(statuses)
    }

    /// The service runs under svc-any's supervisor, which stamps its lines.
    fn log_times(&self, service: &Service) -> Result<(), &'static str> {
        Builtin.log_times(service)
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        Builtin.logs(ctx, service, options)
    }

    fn log_files(&self, ctx: &Ctx, service: &Service) -> Vec<std::path::PathBuf> {
        Builtin.log_files(ctx, service)
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(Path::new(INIT_D));
        Ok(render::marked_names(&dir, ""))
    }

    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        Builtin.try_restart(ctx, services)
    }

    fn idle(&self, ctx: &Ctx) -> bool {
        Builtin.idle(ctx)
    }

    /// An S link in rc2.d, whatever its number (insserv renumbers; `update-rc.d NAME
    /// disable` turns S links into K links).
    fn is_enabled(&self, ctx: &Ctx, service: &Service, _links: &[LinkSpec]) -> bool {
        enabled_in_rc2(ctx, &service.name)
    }

    fn enable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let Some(tool) = native_tool(ctx) else {
            // Link by link, each one checked: an rc2.d link alone (an install killed halfway
            // through the links) must not pass for the whole set.
            return crate::system::bootlinks::create_boot_links(ctx, links);
        };
        if enabled_in_rc2(ctx, &service.name) {
            return Ok(false);
        }
        match tool {
            "update-rc.d" => run(
                ctx,
                Command::new("update-rc.d").args([&service.name, "defaults"]),
            )?,
            tool => run(ctx, Command::new(tool).args(["--add", &service.name]))?,
        }
        ctx.say(format!("enabled at boot: {} (rc?.d links)", service.name));
        Ok(true)
    }

    fn disable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let any_link = (0..=6).any(|level| has_rc_link(ctx, level, &service.name, "SK"));
        if !any_link {
            return Ok(false);
        }
        match native_tool(ctx) {
            // -f: the script is still there; every rc?.d link goes, as uninstall promises.
            Some("update-rc.d") => run(
                ctx,
                Command::new("update-rc.d").args(["-f", &service.name, "remove"]),
            )?,
            Some(tool) => run(ctx, Command::new(tool).args(["--del", &service.name]))?,
            None => return crate::system::bootlinks::remove_boot_links(ctx, links),
        }
        ctx.say(format!(
            "disabled at boot: {} (rc?.d links removed)",
            service.name
        ));
        Ok(true)
    }
}

fn run(ctx: &Ctx, cmd: &mut Command) -> Result<()> {
    ctx.run(cmd).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rc_links_are_recognised_by_name_not_by_prefix() {
        assert!(is_rc_link_of("S01web", "web", "S"));
        assert!(is_rc_link_of("K20web", "web", "SK"));
        assert!(!is_rc_link_of("K20web", "web", "S"));
        assert!(!is_rc_link_of("S01webapp", "web", "S"));
        assert!(!is_rc_link_of("README", "web", "SK"));
        assert!(!is_rc_link_of("Sxxweb", "web", "S"));
    }
}
