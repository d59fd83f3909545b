//! The crate as a library: one [`Manager`] over the same engine the command line uses, so a
//! program can install and control itself (or anything else) as a service on whatever init
//! system runs, as the command line would.
//!
//! ```no_run
//! use std::time::Duration;
//! use svc_any::{Level, Manager};
//!
//! fn main() -> anyhow::Result<()> {
//!     // The host's init system (svc-any's own supervisor where none runs), at system level.
//!     let manager = Manager::detect(Level::System)?;
//!     let me = std::env::current_exe()?;
//!     let service = svc_any::quick_definition(
//!         "my-daemon",
//!         &[me.to_str().unwrap(), "--serve"],
//!         Level::System,
//!     )?;
//!     manager.install(&[service])?;
//!     manager.start(&["my-daemon"], Some(Duration::from_secs(10)))?;
//!     for status in manager.status(&["my-daemon"])? {
//!         println!("{} is {}", status.name, status.state.as_str());
//!     }
//!     manager.uninstall(&["my-daemon"])?;
//!     Ok(())
//! }
//! ```
//!
//! `examples/self_service.rs` is that program, run by the test suite under svc-any's own
//! supervisor.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};

use crate::backends::{self, AnyBackend, Backend, Verb};
use crate::dialect::render::Renderer;
use crate::engine::{self, InstallOptions};
use crate::model::error::bad;
use crate::model::spec::{self, Level, ParseOptions, Service, Source};
use crate::model::status::ServiceStatus;
use crate::system::detect::{self, Detection};
use crate::system::host::{self, Ctx};
use crate::system::report::{Reporter, Silent};

/// One init system on one host (or image tree), and what svc-any does through it.
pub struct Manager {
    ctx: Ctx,
    backend: AnyBackend,
}

impl Manager {
    /// The running host's init system, detected as `svc-any detect` does; built-in templates;
    /// nothing printed (see [`Manager::with_reporter`]).
    pub fn detect(level: Level) -> Result<Manager> {
        Manager::open(host_context(level, None, None)?, None)
    }

    /// A backend by name (`systemd`, `openrc`, `sysv`, `launchd`, `builtin`) instead of the
    /// detected one; a manager that does not run here only gets files written.
    pub fn with_backend(level: Level, backend: &str) -> Result<Manager> {
        Manager::open(host_context(level, None, None)?, Some(backend))
    }

    /// Picks the backend for `ctx` (the `requested` one, else the detected one) and decides
    /// whether its manager is live here: a manager that is not the running one, or a host in
    /// a chroot, gets files and boot links only.
    pub fn open(mut ctx: Ctx, requested: Option<&str>) -> Result<Manager> {
        let (backend, detection) = pick_backend(&ctx, requested)?;
        if ctx.live {
            let running = if backend.name() == "builtin" {
                // svc-any's own supervisor runs on any booted host (SysV scripts rely on it);
                // only a chroot or an image tree has nothing to run it in.
                detection.live
            } else {
                let name = backend.name().to_string();
                detection.live
                    && (detection.backend == name || detection.also_running.contains(&name))
            };
            if !running {
                ctx.live = false;
                ctx.offline_reason = Some(if detection.backend != backend.name() {
                    format!("detected {}: {}", detection.backend, detection.reason)
                } else {
                    detection.reason.clone()
                });
            }
        }
        Ok(Manager { ctx, backend })
    }

    /// Where the manager's words go (progress, warnings, the commands it runs).
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Manager {
        self.ctx.report = reporter;
        self
    }

    /// The backend's name, as `--backend` takes it.
    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    pub fn ctx(&self) -> &Ctx {
        &self.ctx
    }

    pub fn backend(&self) -> &AnyBackend {
        &self.backend
    }

    /// The context and backend, for callers that drive the engine themselves.
    pub fn into_parts(self) -> (Ctx, AnyBackend) {
        (self.ctx, self.backend)
    }

    /// Writes the native definitions atomically and enables them at boot; starts nothing.
    /// Installing the same definitions again changes nothing.
    pub fn install(&self, services: &[Service]) -> Result<()> {
        engine::install(
            &self.ctx,
            &self.backend,
            services,
            &InstallOptions {
                enable: true,
                ..InstallOptions::default()
            },
        )
    }

    /// Starts the services; with `wait`, returns once each is healthy (or up and stable), and
    /// fails with the reason (and stops it) if it is not within that time.
    pub fn start(&self, names: &[&str], wait: Option<Duration>) -> Result<()> {
        self.control(Verb::Start, names, wait.map(Some))
    }

    pub fn stop(&self, names: &[&str]) -> Result<()> {
        self.control(Verb::Stop, names, None)
    }

    pub fn restart(&self, names: &[&str], wait: Option<Duration>) -> Result<()> {
        self.control(Verb::Restart, names, wait.map(Some))
    }

    /// One status per service (per instance), from the manager itself.
    pub fn status(&self, names: &[&str]) -> Result<Vec<ServiceStatus>> {
        engine::status(&self.ctx, &self.backend, &owned(names))
    }

    /// Stops, disables and removes exactly what install wrote.
    pub fn uninstall(&self, names: &[&str]) -> Result<()> {
        engine::uninstall(&self.ctx, &self.backend, &owned(names), false)
    }

    fn control(&self, verb: Verb, names: &[&str], wait: Option<Option<Duration>>) -> Result<()> {
        engine::control(&self.ctx, &self.backend, verb, &owned(names), wait)
    }
}

fn owned(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| n.to_string()).collect()
}

/// The context of a command on this host (or, with `root`, on an image tree: files only),
/// with the built-in templates (or those in `template_dir` first) and a silent reporter.
pub fn host_context(level: Level, root: Option<&Path>, template_dir: Option<&Path>) -> Result<Ctx> {
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
        renderer: Renderer::new(template_dir)?,
        home: host::home_dir()?,
        probe_root: PathBuf::from("/"),
        report: Arc::new(Silent),
        target: None,
    })
}

/// The backend to use and the detection behind it. Detection reads the probe root, or the
/// image tree itself when svc-any writes into one.
pub fn pick_backend(ctx: &Ctx, requested: Option<&str>) -> Result<(AnyBackend, Detection)> {
    let probe_root = if ctx.probe_root == Path::new("/") {
        &ctx.root
    } else {
        &ctx.probe_root
    };
    let detection = detect::detect(probe_root);
    let name = requested.unwrap_or(&detection.backend).to_string();
    Ok((backend_named(&name)?, detection))
}

/// The backend called `name`, without a look at the host: for what renders and runs nothing.
pub fn backend_named(name: &str) -> Result<AnyBackend> {
    backends::by_name(name).ok_or_else(|| {
        let known = backends::NAMES.join(", ");
        let hint = match spec::did_you_mean(name, backends::NAMES) {
            Some(near) => format!("did you mean `{near}`? (known: {known})"),
            None => format!("known backends: {known}"),
        };
        bad(format!("unknown backend `{name}`"))
            .key("--backend")
            .hint(hint)
            .into()
    })
}

/// A definition from TOML text (a `NAME.toml` or an `svc-any.toml`), validated exactly as
/// `svc-any install -f FILE` validates it; `name` names a one-service file.
pub fn parse_definitions(toml: &str, name: Option<&str>, level: Level) -> Result<Vec<Service>> {
    let src = Source {
        label: name.map_or_else(|| "<definition>".into(), |n| format!("<{n}>")),
        text: toml,
        path: None,
    };
    let opts = ParseOptions {
        default_level: level,
        forced_level: None,
        accounts: None,
    };
    Ok(spec::parse(&src, name, &opts)?
        .services
        .into_values()
        .collect())
}

/// The quick form's definition: `name` runs `argv` (`argv[0]` absolute), restarted on failure.
pub fn quick_definition(name: &str, argv: &[&str], level: Level) -> Result<Service> {
    let mut table = toml::Table::new();
    table.insert(
        "exec".into(),
        toml::Value::Array(argv.iter().map(|a| (*a).into()).collect()),
    );
    let text = toml::to_string(&table).context("encoding the definition")?;
    parse_definitions(&text, Some(name), level)?
        .pop()
        .context("the quick form defines one service")
}
