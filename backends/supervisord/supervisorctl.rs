//! Driving supervisord with `supervisorctl`: `reread` and `update` to apply changed files, and
//! a changed `autostart` applied to one service's programs without changing whether they run.

use anyhow::{anyhow, Context as _, Result};

use super::status::Snapshot;
use super::{units, Supervisord};
use crate::model::spec::Service;
use crate::system::host::Ctx;
use crate::system::process;

impl Supervisord {
    /// `supervisorctl ARGS`: its output, and whether it exited 0.
    pub(super) fn ctl(&self, ctx: &Ctx, args: &[&str]) -> Result<(bool, String)> {
        let mut cmd = process::tool("supervisorctl")?;
        cmd.args(args);
        ctx.report.command(&process::describe(&cmd));
        let out = cmd
            .output()
            .with_context(|| "running supervisorctl".to_string())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Applies the configuration of the named groups (added, changed or removed), one
    /// `update` each, in the order given.
    pub(super) fn update(&self, ctx: &Ctx, groups: &[String]) -> Result<()> {
        for group in groups {
            let (ok, text) = self.ctl(ctx, &["update", group])?;
            if !ok || text.contains("ERROR") {
                return Err(anyhow!(
                    "supervisorctl update {group} failed: {}",
                    text.trim()
                ));
            }
        }
        Ok(())
    }

    /// `reread`, as lines `GROUP: available|changed|disappeared`.
    pub(super) fn reread(&self, ctx: &Ctx) -> Result<Vec<(String, String)>> {
        let (ok, text) = self.ctl(ctx, &["reread"])?;
        if !ok {
            return Err(anyhow!("supervisorctl reread failed: {}", text.trim()));
        }
        Ok(text
            .lines()
            .filter_map(|l| {
                let (name, what) = l.rsplit_once(": ")?;
                matches!(what, "available" | "changed" | "disappeared")
                    .then(|| (name.trim().to_string(), what.to_string()))
            })
            .collect())
    }
    /// Applies a changed `autostart` to the service's programs now, leaving each in the state
    /// it was in (supervisord stops a program it re-adds, and starts it if autostart).
    pub(super) fn apply_autostart(&self, ctx: &Ctx, service: &Service) -> Result<()> {
        if !ctx.live {
            return Ok(());
        }
        let before = self.snapshot(ctx)?;
        let mine = |snap: &Snapshot| -> Vec<(String, bool)> {
            units(service)
                .into_iter()
                .filter_map(|(_, unit)| {
                    let p = snap.info.iter().find(|p| p.name == unit)?;
                    Some((
                        unit,
                        matches!(p.statename.as_str(), "RUNNING" | "STARTING" | "BACKOFF"),
                    ))
                })
                .collect()
        };
        let was = mine(&before);
        if was.is_empty() {
            // Not loaded yet: the install's own reload adds it.
            return Ok(());
        }
        self.reread(ctx)?;
        self.update(ctx, std::slice::from_ref(&service.name))?;
        let now = mine(&self.snapshot(ctx)?);
        for (unit, running) in was {
            let runs_now = now.iter().any(|(u, r)| *u == unit && *r);
            let spec = format!("{}:{unit}", service.name);
            if running && !runs_now {
                self.ctl(ctx, &["start", &spec])?;
            } else if !running && runs_now {
                self.ctl(ctx, &["stop", &spec])?;
            }
        }
        Ok(())
    }
}
