//! From what was parsed to what a verb acts on: the level, the context (root, liveness,
//! templates, reporter) and the backend, decided once per command.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;

use super::args::Cli;
use super::Terminal;
use crate::backends::{self, AnyBackend, Backend};
use crate::dialect::render::Renderer;
use crate::model::error::bad;
use crate::model::spec::{self, Level, Service};
use crate::system::detect::{self, Detection};
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
    if let Some(dir) = root {
        if !dir.is_dir() {
            return Err(bad(format!("--root {} is not a directory", dir.display())).into());
        }
    }
    Ok(Ctx {
        root: root.map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
        level,
        live: root.is_none(),
        offline_reason: root.map(|_| "--root".to_string()),
        renderer: Renderer::new(cli.template_dir.as_deref())?,
        home: host::home_dir()?,
        probe_root: cli.probe_root.clone().unwrap_or_else(|| PathBuf::from("/")),
        report: Arc::new(Terminal {
            quiet: cli.quiet,
            verbose: cli.verbose,
        }),
    })
}

/// The backend to use and the detection behind it.
pub fn pick_backend(cli: &Cli, root: &Path) -> Result<(AnyBackend, Detection)> {
    let probe_root = match (&cli.probe_root, root == Path::new("/")) {
        (Some(p), _) => p.clone(),
        (None, true) => PathBuf::from("/"),
        (None, false) => root.to_path_buf(),
    };
    let detection = detect::detect(&probe_root);
    let name = cli
        .backend
        .clone()
        .unwrap_or_else(|| detection.backend.clone());
    match backends::by_name(&name) {
        Some(backend) => Ok((backend, detection)),
        None => {
            let known = backends::NAMES.join(", ");
            let hint = match spec::did_you_mean(&name, backends::NAMES) {
                Some(near) => format!("did you mean `{near}`? (known: {known})"),
                None => format!("known backends: {known}"),
            };
            Err(bad(format!("unknown backend `{name}`"))
                .key("--backend")
                .hint(hint)
                .into())
        }
    }
}

/// Picks the backend and decides whether its manager is live here.
pub fn with_backend(cli: &Cli, mut ctx: Ctx) -> Result<(AnyBackend, Ctx)> {
    let (backend, detection) = pick_backend(cli, &ctx.root.clone())?;
    if ctx.live {
        if backend.name() == "builtin" {
            // svc-any's own supervisor runs on any booted host (SysV scripts rely on it);
            // only a chroot or an image tree has nothing to run it in.
            if !detection.live {
                ctx.live = false;
                ctx.offline_reason = Some(detection.reason.clone());
            }
        } else if detection.backend != backend.name() {
            ctx.live = false;
            ctx.offline_reason = Some(format!(
                "detected {}: {}",
                detection.backend, detection.reason
            ));
        } else if !detection.live {
            ctx.live = false;
            ctx.offline_reason = Some(detection.reason.clone());
        }
    }
    Ok((backend, ctx))
}
