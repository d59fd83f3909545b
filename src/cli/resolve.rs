//! From what was parsed to what a verb acts on: the level, the context (root, liveness,
//! templates, reporter) and the backend, decided once per command.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;

use super::args::Cli;
use super::terminal::Terminal;
use crate::backends::AnyBackend;
use crate::manager::{self, Manager};
use crate::model::error::bad;
use crate::model::spec::{Level, Service};
use crate::system::host::{self, Ctx};

/// What one command acts on: where, through which backend.
pub struct Invocation {
    pub ctx: Ctx,
    pub backend: AnyBackend,
}

/// The context and backend for a command at `level`, writing below `root` if given.
pub fn invocation(cli: &Cli, level: Level, root: Option<&Path>) -> Result<Invocation> {
    let (backend, ctx) = with_backend(cli, context(cli, level, root)?)?;
    Ok(Invocation { ctx, backend })
}

/// The level the flags and the invoking user ask for.
pub fn flag_level(cli: &Cli) -> Level {
    if cli.user || !host::is_root() {
        Level::User
    } else {
        Level::System
    }
}

/// One command acts on one manager: every definition must agree on the level.
pub fn level_of(cli: &Cli, services: &[Service]) -> Result<Level> {
    let mut levels = services.iter().map(|s| s.level);
    let first = levels.next().unwrap_or_else(|| flag_level(cli));
    if levels.any(|l| l != first) {
        return Err(bad("these services mix system and user level")
            .key("level")
            .hint("install system and user services with separate commands")
            .into());
    }
    Ok(first)
}

pub fn context(cli: &Cli, level: Level, root: Option<&Path>) -> Result<Ctx> {
    let mut ctx = manager::host_context(level, root, cli.template_dir.as_deref())?;
    if let Some(probe_root) = &cli.probe_root {
        ctx.probe_root = probe_root.clone();
    }
    ctx.report = Arc::new(Terminal::new(cli.quiet, cli.verbose));
    Ok(ctx)
}

/// Picks the backend (`--backend`, else the detected one) and decides whether its manager is
/// live here.
pub fn with_backend(cli: &Cli, ctx: Ctx) -> Result<(AnyBackend, Ctx)> {
    let (ctx, backend) = Manager::open(ctx, cli.backend.as_deref())?.into_parts();
    Ok((backend, ctx))
}
