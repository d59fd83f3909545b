//! Driving launchd with `launchctl`: `print` to see whether a job is loaded, `bootstrap` and
//! `bootout` (a changed plist is read only when a job is loaded again), and the `enable` and
//! `disable` overrides that decide what loads at boot.

use std::process::Command;

use anyhow::{Context as _, Result};

use super::status::{parse_print, PrintedJob};
use super::{ctx_domain, error_path, jobs, log_path, plist_path, Job, Launchd};
use crate::model::spec::Service;
use crate::system::host::Ctx;
use crate::system::process;

impl Launchd {
    pub(super) fn launchctl(&self) -> Result<Command> {
        process::tool("launchctl")
    }

    /// `launchctl print DOMAIN/LABEL`: `None` when the job is not loaded.
    pub(super) fn print(&self, ctx: &Ctx, domain: &str, label: &str) -> Result<Option<PrintedJob>> {
        let mut cmd = self.launchctl()?;
        cmd.arg("print").arg(format!("{domain}/{label}"));
        ctx.report.command(&process::describe(&cmd));
        let out = cmd
            .stdin(std::process::Stdio::null())
            .output()
            .context("running launchctl print")?;
        // launchctl answers 113 ("Could not find service") for a job that is not loaded.
        if !out.status.success() {
            return Ok(None);
        }
        Ok(Some(parse_print(&String::from_utf8_lossy(&out.stdout))))
    }

    pub(super) fn run(&self, ctx: &Ctx, args: &[&str]) -> Result<()> {
        let mut cmd = self.launchctl()?;
        ctx.run(cmd.args(args))?;
        Ok(())
    }

    fn bootstrap(&self, ctx: &Ctx, domain: &str, job: &Job) -> Result<()> {
        // launchd opens the logs but does not make their directories.
        for log in [log_path(ctx, job), error_path(ctx, job)] {
            if let Some(dir) = log.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating the log directory {}", dir.display()))?;
            }
        }
        let path = plist_path(ctx, &job.label);
        self.run(ctx, &["bootstrap", domain, &path.to_string_lossy()])
    }

    /// Unloads (and so stops) a loaded job, then loads it again from its current plist.
    pub(super) fn reload_job(
        &self,
        ctx: &Ctx,
        domain: &str,
        job: &Job,
        loaded: bool,
    ) -> Result<()> {
        if loaded {
            self.run(ctx, &["bootout", &format!("{domain}/{}", job.label)])?;
        }
        self.bootstrap(ctx, domain, job)
    }
}

impl Launchd {
    /// `launchctl enable|disable DOMAIN/LABEL`: launchd's own record of what loads at boot.
    /// Offline (an image under `--root`) there is no launchd to ask: installed plists load.
    pub(super) fn set_override(&self, ctx: &Ctx, service: &Service, verb: &str) -> Result<bool> {
        if !ctx.live {
            if verb == "disable" {
                ctx.warn(format!(
                    "warning: {} will start at boot: launchd's disable override can only be set on the running system",
                    service.name
                ));
            }
            return Ok(false);
        }
        let domain = ctx_domain(ctx);
        for job in jobs(service) {
            self.run(ctx, &[verb, &format!("{domain}/{}", job.label)])?;
        }
        Ok(false)
    }
}
