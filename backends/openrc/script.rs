//! The two files OpenRC reads for a service: the init.d script (`openrc-run`, its `depend()`,
//! the calls of the commands around the main one, the directories it makes) and each unit's
//! conf.d, where every value is one single-quoted shell word in a `svc_any_*` variable (the
//! quoting trap in `mod.rs` says why).
//!
//! Kept apart from the calls and the status in `mod.rs`: this is the whole of what a
//! definition means to OpenRC, and it is pure (reads nothing, writes nothing).

use std::time::Duration;

use anyhow::Result;

use super::{log_file, rc_name, Openrc};
use crate::backends::Backend;
use crate::dialect::escape::{sh, Unrepresentable};
use crate::dialect::render;
use crate::model::error::{bad, BadInput};
use crate::model::spec::{self, Dependency, DirKind, Limit, Service, ServiceType};
use crate::system::host::Ctx;

fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("OpenRC scripts are shell: change the value")
    }
}

/// The shell calls of one list of commands: `svc_any_run MAY_FAIL PRIVILEGED "$svc_any_KEY_I_J"...`
/// (the words are in conf.d, one variable each).
fn command_calls(service: &Service, key: &str) -> Vec<String> {
    let list = service
        .daemon
        .commands()
        .into_iter()
        .find(|(k, _)| *k == key)
        .map(|(_, l)| l.clone())
        .unwrap_or_default();
    list.iter()
        .enumerate()
        .map(|(i, c)| {
            let words: Vec<String> = (0..c.exec.len())
                .map(|j| format!("\"$svc_any_{key}_{i}_{j}\""))
                .collect();
            format!(
                "svc_any_run {} {} {}",
                u8::from(c.may_fail),
                u8::from(c.privileged),
                words.join(" ")
            )
        })
        .collect()
}

fn whole_seconds(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// What `depend()` says: `provide` the aliases, `need` what it requires, `after`, `want` and
/// `before` svc-any's own services, and `use` (or `before`) the OpenRC names of facilities.
pub(super) fn insert_depend(c: &mut tera::Context, service: &Service, backend: &str) -> Result<()> {
    c.insert("provide", &service.daemon.aliases);
    // systemd's After= on a service of the host is OpenRC's own soft `after`, by the name its
    // script has; any other unit of systemd's is refused (a distribution may lack `net` or
    // `localmount`: only facilities are `use`d).
    let host_services: Vec<String> = spec::host_services_after(service)
        .into_iter()
        .map(String::from)
        .collect();
    spec::refuse_systemd_units_but_after_services(service, backend)?;
    let own = |deps: &[Dependency]| -> Vec<String> {
        deps.iter()
            .filter_map(|dep| match dep {
                Dependency::Service(name) => Some(name.clone()),
                Dependency::Native(_) | Dependency::Facility(_) => None,
            })
            .collect()
    };
    let need = own(&service.requires);
    let after: Vec<String> = own(&service.after)
        .into_iter()
        .filter(|d| !need.contains(d))
        .chain(host_services)
        .collect();
    // A facility is a soft `use`: OpenRC starts it first where the runlevel has it, and
    // ignores a name the distribution lacks (Debian's OpenRC has no `net`).
    let mut uses: Vec<String> = Vec::new();
    let mut before = own(&service.daemon.before);
    for (key, dep) in service.all_dependencies() {
        let Dependency::Facility(f) = dep else {
            continue;
        };
        let list = match key.starts_with("before") {
            true => &mut before,
            false => &mut uses,
        };
        if !list.iter().any(|u| u == f.openrc()) {
            list.push(f.openrc().to_string());
        }
    }
    c.insert("need", &need);
    c.insert("after", &after);
    c.insert("uses", &uses);
    c.insert("want", &own(&service.daemon.wants));
    c.insert("before", &before);
    Ok(())
}

impl Openrc {
    pub(super) fn script(&self, ctx: &Ctx, service: &Service) -> Result<String> {
        let mut c = render::context(service);
        let d = &service.daemon;
        debug_assert!(matches!(
            d.service_type,
            None | Some(ServiceType::Simple | ServiceType::Exec | ServiceType::Idle)
        ));
        for key in ["pre_start", "post_start", "post_stop", "reload_exec"] {
            c.insert(key, &command_calls(service, key));
        }
        let stderr_apart = service.log.as_ref().is_some_and(|l| l.stderr.is_some());
        c.insert("stderr_apart", &stderr_apart);
        let documentation: Vec<String> = d
            .documentation
            .iter()
            .map(|u| u.replace(char::is_control, ""))
            .collect();
        c.insert("documentation", &documentation);
        c.insert("umask", &d.umask.map(|u| format!("{u:04o}")));
        c.insert("no_new_privs", &d.no_new_privileges);
        let mut dirs = Vec::new();
        for kind in DirKind::ALL {
            if let Some(x) = d.directories(kind) {
                // The service's user owns them, but /etc's stay root's, as systemd does.
                let owned = kind != DirKind::Config && service.user.is_some();
                dirs.push((
                    kind.key().to_string(),
                    format!("{:04o}", x.mode.unwrap_or(0o755)),
                    owned,
                ));
            }
        }
        c.insert("dirs", &dirs);
        c.insert("runtime_dir", &d.runtime_dir.is_some());
        c.insert(
            "description",
            &sh::quote(&service.description).map_err(field("description"))?,
        );
        let refs: Vec<String> = (1..service.exec.len())
            .map(|i| format!("\"$svc_any_arg_{i}\""))
            .collect();
        c.insert("command_args", &refs.join(" "));
        c.insert("directory", &service.working_dir.is_some());
        c.insert("user", &service.user.is_some());
        c.insert(
            "retry",
            &format!(
                "SIG{}/{}/SIGKILL/5",
                service.stop_signal.name(),
                whole_seconds(service.stop_timeout).max(1)
            ),
        );
        c.insert("respawn_delay", &whole_seconds(service.restart_delay));
        c.insert("respawn_max", &service.restart_limit);
        c.insert(
            "respawn_period",
            &whole_seconds(service.restart_limit_interval),
        );
        let mut ulimit = Vec::new();
        for (flag, limit) in [("-n", service.limits.nofile), ("-u", service.limits.nproc)] {
            match limit {
                Some(Limit::Value(n)) => ulimit.push(format!("{flag} {n}")),
                Some(Limit::Infinity) => ulimit.push(format!("{flag} unlimited")),
                None => {}
            }
        }
        c.insert("rc_ulimit", &(!ulimit.is_empty()).then(|| ulimit.join(" ")));
        c.insert("reload_signal", &service.reload_signal.map(|s| s.name()));
        insert_depend(&mut c, service, self.name())?;
        let env_files: Vec<(usize, bool)> = d
            .env_files
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.optional))
            .collect();
        c.insert("env_files", &env_files);
        let script = ctx.renderer.render("openrc.initd", &c)?;
        // A template from --template-dir written before these keys existed would drop them
        // without a word: every command must be called in the script.
        for key in ["pre_start", "post_start", "post_stop", "reload_exec"] {
            if let Some(call) = command_calls(service, key)
                .into_iter()
                .find(|call| !script.contains(call.as_str()))
            {
                return Err(bad(format!(
                    "the openrc.initd template drops `{call}`, which the definition's {key} asks for"
                ))
                .hint("lay out the command calls in the template (see the built-in one)")
                .into());
            }
        }
        Ok(script)
    }

    pub(super) fn conf(
        &self,
        ctx: &Ctx,
        service: &Service,
        instance: Option<&str>,
    ) -> Result<String> {
        let unit = rc_name(service, instance);
        let s = service.for_instance(instance);
        let mut c = render::context(service);
        c.insert("script", &service.name);
        c.insert("service", &unit);
        c.insert("command", &sh::quote(&s.exec[0]).map_err(field("exec"))?);
        let args: Vec<String> = s.exec[1..]
            .iter()
            .map(|a| sh::quote(a))
            .collect::<Result<_, _>>()
            .map_err(field("exec"))?;
        c.insert("args", &args);
        let quoted = |v: &Option<String>, key: &str| -> Result<Option<String>> {
            Ok(match v {
                Some(v) => Some(sh::quote(v).map_err(field(key))?),
                None => None,
            })
        };
        c.insert("directory", &quoted(&s.working_dir, "working_dir")?);
        let user = s.user.as_ref().map(|u| match &s.group {
            Some(g) => format!("{u}:{g}"),
            None => u.clone(),
        });
        c.insert("user", &quoted(&user, "user")?);
        c.insert(
            "log",
            &sh::quote(&log_file(&s, &unit)).map_err(field("log.file"))?,
        );
        let stderr = s.log.as_ref().and_then(|l| l.stderr.clone());
        c.insert("error_log", &quoted(&stderr, "log.stderr")?);
        c.insert("env_file", &quoted(&s.env_file, "env_file")?);
        c.insert(
            "env_names",
            &s.env.keys().cloned().collect::<Vec<_>>().join(" "),
        );
        let mut env = Vec::new();
        for (k, v) in &s.env {
            env.push((k.clone(), sh::quote(v).map_err(field(&format!("env.{k}")))?));
        }
        c.insert("env", &env);
        let mut words = Vec::new();
        for (key, list) in s.daemon.commands() {
            for (i, command) in list.iter().enumerate() {
                for (j, word) in command.exec.iter().enumerate() {
                    let q = sh::quote(word).map_err(field(&format!("{key}[{i}]")))?;
                    words.push((format!("{key}_{i}_{j}"), q));
                }
            }
        }
        c.insert("words", &words);
        let mut dirs = Vec::new();
        for kind in DirKind::ALL {
            if let Some(x) = s.daemon.directories(kind) {
                let paths: Vec<String> = x
                    .names
                    .iter()
                    .map(|n| format!("{}/{n}", kind.base()))
                    .collect();
                dirs.push((
                    kind.key().to_string(),
                    sh::quote(&paths.join(" ")).map_err(field(kind.key()))?,
                ));
            }
        }
        c.insert("dirs", &dirs);
        let mut env_files = Vec::new();
        for f in &s.daemon.env_files {
            env_files.push(sh::quote(&f.path).map_err(field("env_file"))?);
        }
        c.insert("env_files", &env_files);
        ctx.renderer.render("openrc.confd", &c)
    }
}
