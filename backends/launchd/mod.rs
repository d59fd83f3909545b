//! launchd (macOS): one property list per service, or per instance, driven with the current
//! `launchctl` interface (`bootstrap`, `bootout`, `kickstart`, `kill`, `print`, `enable`,
//! `disable`), never the deprecated `load`/`unload`.
//!
//! The traps this module owns:
//! - The plist is XML written by the `plist` crate from the table the template renders, so no
//!   string is ever spliced into XML by hand; what XML cannot carry at all (C0 controls, a
//!   carriage return) is refused by [`crate::dialect::escape::plist`].
//! - launchd loads every plist in its directories at boot: "installed, not enabled" is a
//!   `launchctl disable` override in launchd's own database, not a missing link.
//! - launchd reads a plist only when it is bootstrapped: a changed definition is applied with
//!   `bootout` then `bootstrap`; `kickstart -k` would restart the old one.
//! - `KeepAlive = true` restarts a job that exits for any reason, so "stop" must be `bootout`;
//!   a signal sent with `kill` is only a restart.
//! - launchd opens `StandardOutPath` but does not create its directory.
//! - launchd has no dependencies, no exit-code lists, no environment files, no restart limit and
//!   no backoff. Environment files are refused at install; the rest is in the README.
//!
//! Where each part lives: `plist` renders a job's property list (and reads its marker back);
//! `launchctl` loads, unloads and drives jobs; `status` reads what `launchctl print` and
//! `print-disabled` say into svc-any's status model. This file holds the jobs, their paths and
//! domain, and the [`Backend`] methods that put the parts together.

mod launchctl;
mod plist;
mod status;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use anyhow::{anyhow, Result};

use crate::backends::carried;
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::render::{self, FileSpec, Plan};
use crate::model::spec::{self, Level, Service};
use crate::model::status::ServiceStatus;
use crate::system::host::Ctx;

use self::plist::{carries, marked_service, plist_xml};
use self::status::{parse_disabled, status_from_print};
pub use self::status::{parse_print, PrintedJob};

pub struct Launchd;

/// The reverse-DNS prefix of labels unless a definition sets `launchd.label_prefix`.
pub const DEFAULT_LABEL_PREFIX: &str = "org.svc-any";

/// One launchd job: a service, or one instance of it, with its own label and plist.
struct Job {
    /// The definition this job runs (`{instance}` already replaced).
    service: Service,
    instance: Option<String>,
    label: String,
}

fn jobs(service: &Service) -> Vec<Job> {
    let prefix = service
        .launchd_label_prefix
        .as_deref()
        .unwrap_or(DEFAULT_LABEL_PREFIX);
    service
        .instance_names()
        .into_iter()
        .map(|instance| Job {
            service: service.for_instance(instance),
            instance: instance.map(String::from),
            label: match instance {
                Some(i) => format!("{prefix}.{}@{i}", service.name),
                None => format!("{prefix}.{}", service.name),
            },
        })
        .collect()
}

/// `/Library/LaunchDaemons` for the system, `~/Library/LaunchAgents` for a user.
fn plist_dir(ctx: &Ctx) -> PathBuf {
    match ctx.level {
        Level::System => PathBuf::from("/Library/LaunchDaemons"),
        Level::User => ctx.home.join("Library/LaunchAgents"),
    }
}

fn plist_path(ctx: &Ctx, label: &str) -> PathBuf {
    plist_dir(ctx).join(format!("{label}.plist"))
}

/// Where stderr goes: `log.stderr`, else with stdout.
fn error_path(ctx: &Ctx, job: &Job) -> PathBuf {
    match job.service.log.as_ref().and_then(|l| l.stderr.as_ref()) {
        Some(file) => PathBuf::from(file),
        None => log_path(ctx, job),
    }
}

/// Where output goes without `log.file`: macOS keeps logs in `Library/Logs`.
fn default_log(ctx: &Ctx, label: &str) -> PathBuf {
    let dir = match ctx.level {
        Level::System => PathBuf::from("/Library/Logs/svc-any"),
        Level::User => ctx.home.join("Library/Logs/svc-any"),
    };
    dir.join(format!("{label}.log"))
}

fn log_path(ctx: &Ctx, job: &Job) -> PathBuf {
    match &job.service.log {
        Some(log) => PathBuf::from(&log.file),
        None => default_log(ctx, &job.label),
    }
}

/// The launchd domain of a level: `system` for daemons; for a user's agents `gui/UID` while that
/// user owns the console (a login session, where agents normally live), else `user/UID`, which
/// exists without a login (over ssh, on a build server).
pub fn domain(level: Level, uid: u32, console_owner: Option<u32>) -> String {
    match level {
        Level::System => "system".into(),
        Level::User if console_owner == Some(uid) => format!("gui/{uid}"),
        Level::User => format!("user/{uid}"),
    }
}

fn ctx_domain(ctx: &Ctx) -> String {
    let console = std::fs::metadata(ctx.probe_root.join("dev/console"))
        .ok()
        .map(|m| m.uid());
    domain(ctx.level, nix::unistd::geteuid().as_raw(), console)
}

impl Backend for Launchd {
    fn name(&self) -> &'static str {
        "launchd"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        // launchd orders nothing (svc-any orders the starts it makes), but a systemd unit has
        // no meaning here at all: refused like everywhere outside systemd.
        spec::refuse_systemd_units(service, self.name())?;
        let mut files = Vec::new();
        for job in jobs(service) {
            let table = ctx
                .renderer
                .render("launchd.plist", &self.context(ctx, &job)?)?;
            let marker = render::marker_line("", &service.name, service.source.as_deref());
            files.push(FileSpec {
                path: plist_path(ctx, &job.label),
                mode: render::mode_for_values(service),
                content: plist_xml(&table, marker.trim())?,
            });
        }
        Ok(Plan {
            files,
            links: Vec::new(),
            enable_links: Vec::new(),
        })
    }

    /// launchd has no global re-read: each job is read when it is bootstrapped.
    fn reload_manager(&self, _ctx: &Ctx) -> Result<()> {
        Ok(())
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let domain = ctx_domain(ctx);
        for service in services {
            for job in jobs(service) {
                let target = format!("{domain}/{}", job.label);
                if verb == Verb::Reload {
                    let signal = job
                        .service
                        .reload_signal
                        .ok_or_else(|| anyhow!("{} has no reload_signal", service.name))?;
                    self.run(ctx, &["kill", &signal.sig_name(), &target])?;
                    continue;
                }
                let printed = self.print(ctx, &domain, &job.label)?;
                let running = printed.as_ref().is_some_and(|p| p.state == "running");
                match verb {
                    // A loaded job that is not running may hold an older plist: load it again.
                    Verb::Start if running => {}
                    Verb::Start => self.reload_job(ctx, &domain, &job, printed.is_some())?,
                    Verb::Stop if printed.is_some() => self.run(ctx, &["bootout", &target])?,
                    Verb::Stop => {}
                    Verb::Restart if running => self.run(ctx, &["kickstart", "-k", &target])?,
                    Verb::Restart => self.reload_job(ctx, &domain, &job, printed.is_some())?,
                    Verb::Reload => unreachable!("reload is sent above"),
                }
            }
        }
        Ok(())
    }

    fn apply_changes(&self, ctx: &Ctx, services: &[&Service]) -> Result<()> {
        let domain = ctx_domain(ctx);
        for service in services {
            for job in jobs(service) {
                let loaded = self.print(ctx, &domain, &job.label)?.is_some();
                self.reload_job(ctx, &domain, &job, loaded)?;
            }
        }
        Ok(())
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let domain = ctx_domain(ctx);
        let mut cmd = self.launchctl()?;
        let disabled = parse_disabled(&ctx.run(cmd.arg("print-disabled").arg(&domain))?);
        let mut out = Vec::new();
        for service in services {
            for job in jobs(service) {
                let printed = self.print(ctx, &domain, &job.label)?;
                let mut status = status_from_print(&job.service, printed.as_ref());
                status.name = service.name.clone();
                status.instance = job.instance.clone();
                status.enabled = Some(!disabled.contains(&job.label));
                status.unit = job.label;
                out.push(status);
            }
        }
        Ok(out)
    }

    fn log_times(&self, _service: &Service) -> Result<(), &'static str> {
        Err(
            "launchd writes the service's output to its log file as it came, with no time on \
             its lines",
        )
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        crate::system::logfiles::tail_files(ctx, &self.log_files(ctx, service), options)
    }

    fn log_files(&self, ctx: &Ctx, service: &Service) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = jobs(service).iter().map(|j| log_path(ctx, j)).collect();
        files.dedup();
        files.extend(crate::system::logfiles::stderr_files(service));
        files
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(&plist_dir(ctx));
        let mut names: Vec<String> = render::marked_files(&dir)
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|text| marked_service(&text))
            .collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn enable(&self, ctx: &Ctx, service: &Service, _links: &[render::LinkSpec]) -> Result<bool> {
        self.set_override(ctx, service, "enable")
    }

    fn disable(&self, ctx: &Ctx, service: &Service, _links: &[render::LinkSpec]) -> Result<bool> {
        self.set_override(ctx, service, "disable")
    }

    fn boots_when_installed(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_live_in_the_console_users_gui_domain_else_the_user_domain() {
        assert_eq!(domain(Level::System, 0, Some(501)), "system");
        assert_eq!(domain(Level::User, 501, Some(501)), "gui/501");
        assert_eq!(domain(Level::User, 502, Some(501)), "user/502");
        assert_eq!(domain(Level::User, 502, None), "user/502");
    }
}
