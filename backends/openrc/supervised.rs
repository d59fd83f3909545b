//! A service supervise-daemon cannot carry (notify readiness, a forking daemon, stop commands,
//! kill modes, sandboxing...) but svc-any's own supervisor can: OpenRC still orders it
//! (`depend()`) and tracks it (started, stopped), and its script's functions ask the
//! supervisor, which runs it from the builtin backend's own file, as SysV's scripts do.
//!
//! Which way a service goes is decided from its definition alone ([`leans_on_supervisor`]),
//! so every verb finds the same answer as the install did.

use std::path::PathBuf;

use anyhow::Result;

use super::script::insert_depend;
use super::{carries as natively, Openrc, INIT_D};
use crate::backends::carried::{self, Verdict};
use crate::backends::{builtin, Backend};
use crate::dialect::escape::sh;
use crate::dialect::render::{self, FileSpec, Plan};
use crate::model::spec::{Service, Used};
use crate::system::host::Ctx;

/// What an OpenRC script in front of the supervisor carries: what `depend()` says (aliases as
/// `provide`, the ordering keys, facilities), and every key the supervisor runs.
pub(super) fn carries(used: &Used, service: &Service) -> Verdict {
    let facility = used.value.as_deref().is_some_and(|v| v.starts_with("\"$"));
    match used.key {
        "aliases" | "before" => Ok(()),
        "after" | "requires" | "wants" if facility => Ok(()),
        _ => builtin::carries(used, service),
    }
}

/// The keys of `service` supervise-daemon does not carry and the supervisor does: none, and
/// OpenRC runs it natively.
pub(super) fn gained(service: &Service) -> Vec<String> {
    carried::used(service)
        .iter()
        .filter(|u| natively(u, service).is_err() && carries(u, service).is_ok())
        .map(Used::describe)
        .collect()
}

/// Whether `service` runs under svc-any's supervisor rather than supervise-daemon: when that
/// carries a key supervise-daemon cannot, for a service without instances (OpenRC's
/// `NAME.INSTANCE` scripts are supervise-daemon's only).
pub(super) fn leans_on_supervisor(service: &Service) -> bool {
    service.instances.is_empty() && !gained(service).is_empty()
}

impl Openrc {
    /// The script in front of the supervisor, and the supervisor's own definition.
    pub(super) fn supervised_plan(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let reasons = gained(service).join(", ");
        let service = &carried::check(ctx, self.name(), service, carries)?;
        let mut c = render::context(service);
        insert_depend(&mut c, service, self.name())?;
        c.insert("name", &service.name);
        c.insert("quoted_name", &sh::quote(&service.name)?);
        c.insert("description", &sh::quote(&service.description)?);
        c.insert("reasons", &reasons.replace(char::is_control, " "));
        builtin::insert_script_context(&mut c, service)?;
        let script = ctx.renderer.render("openrc.supervised", &c)?;
        let script_path = PathBuf::from(INIT_D).join(&service.name);
        let mut files = vec![FileSpec {
            path: script_path.clone(),
            mode: 0o755,
            content: script,
        }];
        files.extend(builtin::behind_a_script(ctx, service)?);
        Ok(Plan {
            files,
            links: Vec::new(),
            // What `rc-update add NAME default` makes.
            enable_links: vec![render::LinkSpec {
                path: PathBuf::from(super::RUNLEVEL).join(&service.name),
                target: script_path,
            }],
        })
    }
}
