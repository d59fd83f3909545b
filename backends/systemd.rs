//! systemd: a unit file per service (`NAME.service`, or the template `NAME@.service` for
//! `instances`), driven with `systemctl` and read with `journalctl`.
//!
//! The traps this module owns:
//! - `ExecStart=` expands `%` specifiers and, at run time, `$VAR`: the line carries the `:`
//!   prefix and every argument is quoted by [`crate::dialect::escape::systemd`].
//! - A JVM (or a shell with a TERM trap) stopped with SIGTERM exits 143, which systemd would call
//!   a failure: `SuccessExitStatus=` lists 128 + the stop signal and the signal itself.
//! - `systemd-analyze verify` exits 0 on warnings; the tests demand an empty stderr instead.
//! - systemd before 254 (Debian 11's 247, Debian 12's 252) has no restart backoff: only
//!   `RestartSec=` is emitted, and the start limit (5 starts in 10 s) ends a crash loop in
//!   `failed`. From 254 on, `restart_max_delay` becomes `RestartSteps=`/`RestartMaxDelaySec=`
//!   (`backoff_lines`). The version is `render --for`'s, the tree's or the running one's
//!   ([`crate::system::version::systemd`]); unknown renders for the oldest, which every later
//!   systemd reads the same. Every other key emitted exists in 247.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::backends::carried::{self, Verdict};
use crate::backends::{Backend, LogOptions, Verb};
use crate::dialect::escape::{systemd as esc, Unrepresentable};
use crate::dialect::render::{self, FileSpec, LinkSpec, Plan};
use crate::model::duration::seconds_text;
use crate::model::error::{bad, BadInput};
use crate::model::signal::Signal;
use crate::model::spec::{
    Command as SpecCommand, Dependency, DirKind, Facility, KillMode, Level, Limit, ProtectHome,
    ProtectSystem, Service, Used, INSTANCE_PLACEHOLDER,
};
use crate::model::status::{LastExit, ServiceStatus, State};
use crate::system::bootlinks;
use crate::system::host::Ctx;
use crate::system::process;
use crate::system::version;

pub struct Systemd;

/// The directory the manager of `ctx.level` loads admin units from.
fn unit_dir(ctx: &Ctx) -> PathBuf {
    match ctx.level {
        Level::System => PathBuf::from("/etc/systemd/system"),
        Level::User => ctx.user_config_dir().join("systemd/user"),
    }
}

/// The unit file's name: `NAME.service`, or `NAME@.service` for an instanced service.
fn unit_file_name(service: &Service) -> String {
    if service.instances.is_empty() {
        format!("{}.service", service.name)
    } else {
        format!("{}@.service", service.name)
    }
}

/// The units that run: one, or `NAME@INSTANCE.service` for each instance.
fn unit_names(service: &Service) -> Vec<(Option<String>, String)> {
    service
        .instance_names()
        .into_iter()
        .map(|i| match i {
            None => (None, format!("{}.service", service.name)),
            Some(i) => (
                Some(i.to_string()),
                format!("{}@{}.service", service.name, i),
            ),
        })
        .collect()
}

/// A dependency as a unit name: svc-any names get `.service`, systemd's own units pass through,
/// a facility is its target (or socket).
fn dependency_unit(dep: &Dependency) -> String {
    match dep {
        Dependency::Service(name) => format!("{name}.service"),
        Dependency::Native(unit) => unit.clone(),
        Dependency::Facility(f) => f.systemd_unit().to_string(),
    }
}

/// systemd carries every key: the one place a refusal would go.
fn carries(used: &Used, _service: &Service) -> Verdict {
    match used.key {
        "log.timestamps" => Err(NO_STAMPS),
        _ => Ok(()),
    }
}

/// `logs`'s options as journalctl's.
fn journal_options(cmd: &mut std::process::Command, options: LogOptions) {
    let lines = match options.lines {
        usize::MAX => "all".to_string(),
        n => n.to_string(),
    };
    cmd.args(["--no-pager", "--lines", &lines]);
    if let Some(since) = options.since {
        cmd.arg(format!("--since=@{since}"));
    }
    if options.follow {
        cmd.arg("--follow");
    }
}

/// Why a stamp on each line of `log.file` is svc-any's supervisor's alone.
const NO_STAMPS: &str =
    "systemd writes log.file as the process wrote it, with no time on its lines \
     (drop [log]: the journal keeps a time for every line)";

/// One `Exec*=` value: `-` for may-fail, `+` for privileged, then the escaped line.
fn command_line(command: &SpecCommand, expand: bool) -> Result<String, Unrepresentable> {
    let line = match expand {
        true => esc::exec_line_expanding(&command.exec)?,
        false => esc::exec_line(&command.exec)?,
    };
    let mut prefix = String::new();
    if command.may_fail {
        prefix.push('-');
    }
    if command.privileged {
        prefix.push('+');
    }
    Ok(prefix + &line)
}

fn wanted_by(ctx: &Ctx) -> &'static str {
    match ctx.level {
        Level::System => "multi-user.target",
        Level::User => "default.target",
    }
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Value(n) => n.to_string(),
        Limit::Infinity => "infinity".into(),
    }
}

/// Maps an escaper's refusal to bad input naming the key.
fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("systemd cannot carry it in a unit file; change the value")
    }
}

/// Where a service's `env` values go, and the `EnvironmentFile=` line that reads them: a file
/// in svc-any's state directory that only its owner reads (0600), since the unit itself is
/// readable by every local user and the values may be secrets. Values that name the instance
/// get a file per instance (an environment file has no `%i`); its path has one instead.
fn secret_env(ctx: &Ctx, service: &Service) -> Result<Option<(String, Vec<FileSpec>)>> {
    if service.env.is_empty() {
        return Ok(None);
    }
    let dir = ctx.state_dir().join("env");
    let per_instance = !service.instances.is_empty()
        && service
            .env
            .values()
            .any(|v| v.contains(INSTANCE_PLACEHOLDER));
    let mut files = Vec::new();
    let instances: Vec<Option<&str>> = match per_instance {
        true => service.instance_names(),
        false => vec![None],
    };
    for instance in instances {
        let mut content = format!(
            "{}\n# The environment of {}: only its owner may read it.\n",
            render::marker_line("#", &service.name, service.source.as_deref()),
            service.name
        );
        for (k, v) in &service.env {
            let v = match instance {
                Some(i) => v.replace(INSTANCE_PLACEHOLDER, i),
                None => v.clone(),
            };
            content.push_str(&esc::env_file_line(k, &v).map_err(field(&format!("env.{k}")))?);
        }
        let file = match instance {
            Some(i) => format!("{}@{i}.env", service.name),
            None => format!("{}.env", service.name),
        };
        files.push(FileSpec {
            path: dir.join(file),
            mode: 0o600,
            content,
        });
    }
    let path = match per_instance {
        true => dir.join(format!("{}@{INSTANCE_PLACEHOLDER}.env", service.name)),
        false => dir.join(format!("{}.env", service.name)),
    };
    let path = esc::raw_value(&path.display().to_string()).map_err(field("env"))?;
    let line = format!(
        "EnvironmentFile={}",
        path.replace(INSTANCE_PLACEHOLDER, "%i")
    );
    Ok(Some((line, files)))
}

/// Replaces `{instance}` with systemd's `%i` (after escaping, which leaves braces alone).
/// Native backoff on systemd >= 254: from `RestartSec=` to `RestartMaxDelaySec=` in as many
/// steps as svc-any's doubling takes (systemd grows the delay geometrically between the two,
/// which is the same curve). Older versions get nothing: their fixed `RestartSec=` is the
/// documented fallback.
fn backoff_lines(service: &Service, version: Option<u32>) -> Vec<String> {
    let (delay, max) = (service.restart_delay, service.restart_max_delay);
    if version.is_none_or(|v| v < 254) || delay.is_zero() || max <= delay {
        return Vec::new();
    }
    let steps = (max.as_secs_f64() / delay.as_secs_f64())
        .log2()
        .ceil()
        .max(1.0) as u32;
    vec![
        format!("RestartSteps={steps}"),
        format!("RestartMaxDelaySec={}", seconds_text(max)),
    ]
}

fn with_instance(service: &Service, text: String) -> String {
    if service.instances.is_empty() {
        text
    } else {
        text.replace(INSTANCE_PLACEHOLDER, "%i")
    }
}

impl Systemd {
    fn context(&self, ctx: &Ctx, service: &Service) -> Result<tera::Context> {
        let inst = |text: String| with_instance(service, text);
        let mut c = render::context(service);
        c.insert(
            "description",
            &inst(esc::raw_value(&service.description).map_err(field("description"))?),
        );
        let deps = |list: &[Dependency]| {
            list.iter()
                .map(|d| inst(dependency_unit(d)))
                .collect::<Vec<_>>()
        };
        let mut after = deps(&service.after);
        // A hard dependency is also started first, as on every other backend.
        after.extend(
            deps(&service.requires)
                .into_iter()
                .filter(|d| !after.contains(d))
                .collect::<Vec<_>>(),
        );
        c.insert("after", &after);
        c.insert("requires", &deps(&service.requires));
        let part_of: Vec<String> = service
            .groups
            .iter()
            .map(|g| format!("{g}.target"))
            .collect();
        c.insert("part_of", &part_of);
        let exec_start = match service.daemon.exec_expand {
            true => esc::exec_line_expanding(&service.exec),
            false => esc::exec_line(&service.exec),
        };
        c.insert("exec_start", &inst(exec_start.map_err(field("exec"))?));
        c.insert(
            "service_type",
            service.daemon.service_type.map_or("exec", |t| t.as_str()),
        );
        // Without the `:` prefix on purpose: $MAINPID must be expanded here.
        let reload = service
            .reload_signal
            .map(|s| format!("/bin/kill -s {} $MAINPID", s.name()));
        c.insert("exec_reload", &reload);
        c.insert("user", &service.user.clone().map(inst));
        c.insert("group", &service.group.clone().map(inst));
        let working_directory = match &service.working_dir {
            Some(d) => Some(inst(esc::raw_value(d).map_err(field("working_dir"))?)),
            None => None,
        };
        c.insert("working_directory", &working_directory);
        // `env` values are not in the unit, which every local user may read: see `secret_env`.
        c.insert("environment", &Vec::<String>::new());
        let environment_file = match &service.env_file {
            Some(f) => Some(inst(esc::raw_value(f).map_err(field("env_file"))?)),
            None => None,
        };
        c.insert("environment_file", &environment_file);
        // systemd counts starts, the first included; svc-any counts automatic restarts.
        // StartLimitIntervalSec=0 turns the limit off, as restart_limit = 0 means.
        let (interval, burst) = match service.restart_limit {
            0 => ("0".to_string(), 1),
            n => (seconds_text(service.restart_limit_interval), n + 1),
        };
        c.insert("start_limit_interval_sec", &interval);
        c.insert("start_limit_burst", &burst);
        c.insert("restart", service.restart.as_str());
        let (unit_lines, mut service_lines, install_lines) = self.daemon_lines(service)?;
        service_lines.extend(backoff_lines(service, version::systemd(ctx)));
        // Last of the environment files, so that `env` wins over `env_file`, as everywhere.
        service_lines.extend(secret_env(ctx, service)?.map(|(line, _)| line));
        c.insert("unit_lines", &unit_lines);
        c.insert("service_lines", &service_lines);
        c.insert("install_lines", &install_lines);
        c.insert("restart_sec", &seconds_text(service.restart_delay));
        c.insert("kill_signal", &service.stop_signal.sig_name());
        let timeout_stop = match service.daemon.stop_timeout_infinity {
            true => "infinity".to_string(),
            false => seconds_text(service.stop_timeout),
        };
        c.insert("timeout_stop_sec", &timeout_stop);
        let mut success: Vec<String> = service
            .clean_exit_codes()
            .iter()
            .map(|c| c.to_string())
            .collect();
        success.push(service.stop_signal.sig_name());
        c.insert("success_exit_status", &success.join(" "));
        c.insert("limit_nofile", &service.limits.nofile.map(limit_text));
        c.insert("limit_nproc", &service.limits.nproc.map(limit_text));
        let standard_output = match &service.log {
            Some(log) => Some(format!(
                "append:{}",
                inst(esc::raw_value(&log.file).map_err(field("log.file"))?)
            )),
            None => None,
        };
        c.insert("standard_output", &standard_output);
        let standard_error = match service.log.as_ref().and_then(|l| l.stderr.as_ref()) {
            Some(file) => format!(
                "append:{}",
                inst(esc::raw_value(file).map_err(field("log.stderr"))?)
            ),
            None => "inherit".to_string(),
        };
        c.insert("standard_error", &standard_error);
        c.insert("wanted_by", wanted_by(ctx));
        Ok(c)
    }

    /// The lines of the keys of `daemon.rs` (and the env files of a list), by section, each
    /// `Setting=value` with the value escaped for its dialect.
    #[allow(clippy::type_complexity)]
    fn daemon_lines(&self, service: &Service) -> Result<(Vec<String>, Vec<String>, Vec<String>)> {
        let d = &service.daemon;
        let inst = |text: String| with_instance(service, text);
        let (mut unit, mut svc, mut install) = (Vec::new(), Vec::new(), Vec::new());
        for uri in &d.documentation {
            unit.push(format!(
                "Documentation={}",
                esc::raw_value(uri).map_err(field("documentation"))?
            ));
        }
        // network-online.target is passive: ordering after it means something only once it is
        // pulled in (not so for `before`, `conflicts`...).
        let wants_online = service
            .dependencies()
            .any(|(_, dep)| *dep == Dependency::Facility(Facility::NetworkOnline))
            && !d
                .wants
                .contains(&Dependency::Facility(Facility::NetworkOnline));
        if wants_online {
            unit.push("Wants=network-online.target".to_string());
        }
        for (key, list) in d.dependency_lists() {
            let setting = match key {
                "wants" => "Wants",
                "before" => "Before",
                "part_of" => "PartOf",
                "binds_to" => "BindsTo",
                _ => "Conflicts",
            };
            for dep in list {
                unit.push(format!("{setting}={}", inst(dependency_unit(dep))));
            }
        }
        for (name, path) in &d.credentials {
            svc.push(format!(
                "LoadCredential={name}:{}",
                inst(esc::path_word(path).map_err(field("credentials"))?)
            ));
        }
        for path in &d.condition_path_exists {
            let key = "condition_path_exists";
            unit.push(format!(
                "ConditionPathExists={}",
                inst(esc::raw_value(path).map_err(field(key))?)
            ));
        }
        for (k, v) in &d.systemd.unit {
            unit.push(format!("{k}={v}"));
        }
        if let Some(p) = &d.pid_file {
            svc.push(format!(
                "PIDFile={}",
                inst(esc::raw_value(p).map_err(field("pid_file"))?)
            ));
        }
        if d.remain_after_exit {
            svc.push("RemainAfterExit=yes".to_string());
        }
        for (key, setting, list) in [
            ("pre_start", "ExecStartPre", &d.pre_start),
            ("post_start", "ExecStartPost", &d.post_start),
            ("reload_exec", "ExecReload", &d.reload_exec),
            ("stop_exec", "ExecStop", &d.stop_exec),
            ("post_stop", "ExecStopPost", &d.post_stop),
        ] {
            for (i, command) in list.iter().enumerate() {
                let line =
                    command_line(command, d.exec_expand).map_err(field(&format!("{key}[{i}]")))?;
                svc.push(format!("{setting}={}", inst(line)));
            }
        }
        for f in &d.env_files {
            let path = inst(esc::raw_value(&f.path).map_err(field("env_file"))?);
            let dash = if f.optional { "-" } else { "" };
            svc.push(format!("EnvironmentFile={dash}{path}"));
        }
        for kind in DirKind::ALL {
            if let Some(dirs) = d.directories(kind) {
                let names: Vec<String> = dirs.names.iter().map(|n| inst(n.clone())).collect();
                svc.push(format!("{}={}", kind.systemd(), names.join(" ")));
                if let Some(mode) = dirs.mode {
                    svc.push(format!("{}Mode={mode:04o}", kind.systemd()));
                }
            }
        }
        if let Some(k) = d.kill_mode {
            let mode = match k {
                KillMode::Group => "control-group",
                KillMode::Process => "process",
                KillMode::Mixed => "mixed",
            };
            svc.push(format!("KillMode={mode}"));
        }
        if !d.restart_prevent_exit_codes.is_empty() {
            let codes: Vec<String> = d
                .restart_prevent_exit_codes
                .iter()
                .map(u8::to_string)
                .collect();
            svc.push(format!("RestartPreventExitStatus={}", codes.join(" ")));
        }
        if let Some(u) = d.umask {
            svc.push(format!("UMask={u:04o}"));
        }
        if !d.supplementary_groups.is_empty() {
            svc.push(format!(
                "SupplementaryGroups={}",
                d.supplementary_groups.join(" ")
            ));
        }
        if d.no_new_privileges {
            svc.push("NoNewPrivileges=yes".to_string());
        }
        if let Some(caps) = &d.capabilities {
            svc.push(format!("CapabilityBoundingSet={}", caps.join(" ")));
            svc.push(format!("AmbientCapabilities={}", caps.join(" ")));
        }
        if d.private_tmp {
            svc.push("PrivateTmp=yes".to_string());
        }
        if d.private_devices {
            svc.push("PrivateDevices=yes".to_string());
        }
        if let Some(p) = d.protect_system {
            let v = match p {
                ProtectSystem::Yes => "yes",
                ProtectSystem::Full => "full",
                ProtectSystem::Strict => "strict",
            };
            svc.push(format!("ProtectSystem={v}"));
        }
        if let Some(p) = d.protect_home {
            let v = match p {
                ProtectHome::Yes => "yes",
                ProtectHome::ReadOnly => "read-only",
                ProtectHome::Tmpfs => "tmpfs",
            };
            svc.push(format!("ProtectHome={v}"));
        }
        for (key, setting, list) in [
            ("read_only_paths", "ReadOnlyPaths", &d.read_only_paths),
            ("read_write_paths", "ReadWritePaths", &d.read_write_paths),
        ] {
            for p in list {
                let (dash, path) = match p.strip_prefix('-') {
                    Some(rest) => ("-", rest),
                    None => ("", p.as_str()),
                };
                svc.push(format!(
                    "{setting}={dash}{}",
                    inst(esc::path_word(path).map_err(field(key))?)
                ));
            }
        }
        for (k, v) in &d.systemd.service {
            svc.push(format!("{k}={v}"));
        }
        for alias in &d.aliases {
            let suffix = if service.instances.is_empty() {
                ""
            } else {
                "@"
            };
            install.push(format!("Alias={alias}{suffix}.service"));
        }
        for (k, v) in &d.systemd.install {
            install.push(format!("{k}={v}"));
        }
        Ok((unit, svc, install))
    }

    /// `systemctl enable|disable` of the units `Also=` names, as `systemctl enable` of this
    /// unit would; offline, in the tree (`--root`).
    fn also(&self, ctx: &Ctx, service: &Service, verb: &str) -> Result<()> {
        let also: Vec<&str> = service
            .daemon
            .systemd
            .install
            .iter()
            .filter(|(k, _)| k == "Also")
            .flat_map(|(_, v)| v.split_whitespace())
            .collect();
        if also.is_empty() {
            return Ok(());
        }
        let mut cmd = self.systemctl(ctx)?;
        if !ctx.live {
            cmd.arg(format!("--root={}", ctx.root.display()));
        }
        ctx.run(cmd.arg(verb).arg("--").args(&also))?;
        ctx.say(format!("{verb}d with it (Also=): {}", also.join(" ")));
        Ok(())
    }

    fn systemctl(&self, ctx: &Ctx) -> Result<Command> {
        let mut cmd = process::tool("systemctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
            user_bus_env(&mut cmd);
        }
        Ok(cmd)
    }
}

/// `systemctl --user` finds the user manager through `$XDG_RUNTIME_DIR`; a `su`/`runuser`
/// session may lack it, and the manager's directory is always `/run/user/UID`.
fn user_bus_env(cmd: &mut Command) {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        let dir = format!("/run/user/{}", nix::unistd::geteuid());
        if Path::new(&dir).is_dir() {
            cmd.env("XDG_RUNTIME_DIR", dir);
        }
    }
}

impl Backend for Systemd {
    fn name(&self) -> &'static str {
        "systemd"
    }

    fn render(&self, ctx: &Ctx, service: &Service) -> Result<Plan> {
        let service = &carried::check(ctx, self.name(), service, carries)?;
        let context = self.context(ctx, service)?;
        let content = ctx.renderer.render("systemd.service", &context)?;
        // A template from --template-dir written before these keys existed would drop them
        // without a word: every line they make must be in the unit.
        let (unit, mut svc, install) = self.daemon_lines(service)?;
        let secrets = secret_env(ctx, service)?;
        if let Some((line, _)) = &secrets {
            svc.push(line.clone());
        }
        if let Some(lost) = unit
            .iter()
            .chain(&svc)
            .chain(&install)
            .find(|l| !content.lines().any(|c| c == l.as_str()))
        {
            return Err(bad(format!(
                "the systemd.service template drops `{lost}`, which the definition asks for"
            ))
            .hint("lay out unit_lines, service_lines and install_lines in the template (see the built-in one)")
            .into());
        }
        let dir = unit_dir(ctx);
        let file = dir.join(unit_file_name(service));
        let wants = dir.join(format!("{}.wants", wanted_by(ctx)));
        let mut links: Vec<PathBuf> = unit_names(service)
            .into_iter()
            .map(|(_, unit)| wants.join(unit))
            .collect();
        // Further targets from `[systemd.install] WantedBy`: the links `systemctl enable` makes.
        for (k, target) in &service.daemon.systemd.install {
            if k == "WantedBy" {
                let more = dir.join(format!("{target}.wants"));
                links.extend(unit_names(service).into_iter().map(|(_, u)| more.join(u)));
            }
        }
        // What `systemctl enable` makes for Alias=: a link by the other name.
        if service.instances.is_empty() {
            links.extend(
                service
                    .daemon
                    .aliases
                    .iter()
                    .map(|a| dir.join(format!("{a}.service"))),
            );
        }
        let mut plan = Plan::one_file(file, 0o644, content, links);
        plan.files
            .extend(secrets.into_iter().flat_map(|(_, files)| files));
        Ok(plan)
    }

    fn reload_manager(&self, ctx: &Ctx) -> Result<()> {
        let mut cmd = self.systemctl(ctx)?;
        ctx.run(cmd.arg("daemon-reload"))?;
        Ok(())
    }

    /// The unit's own links, then, the first time, what `[systemd.install] Also=` names, by
    /// `systemctl enable` (the units are the package's, svc-any does not know their links).
    fn enable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = bootlinks::create_boot_links(ctx, links)?;
        if changed {
            self.also(ctx, service, "enable")?;
        }
        Ok(changed)
    }

    fn disable(&self, ctx: &Ctx, service: &Service, links: &[LinkSpec]) -> Result<bool> {
        let changed = bootlinks::remove_boot_links(ctx, links)?;
        if changed {
            self.also(ctx, service, "disable")?;
        }
        Ok(changed)
    }

    fn control(&self, ctx: &Ctx, verb: Verb, services: &[&Service]) -> Result<()> {
        let units: Vec<String> = services
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        if units.is_empty() {
            return Ok(());
        }
        if matches!(verb, Verb::Start | Verb::Restart) {
            // StartLimitBurst= counts every start, so a few deliberate restarts within the
            // interval would be refused as a crash loop ("start ... attempted too often").
            // restart_limit is about crashes: a start someone asks for clears the count, as
            // the builtin supervisor does. Failure here is harmless; the start says what's wrong.
            let mut reset = self.systemctl(ctx)?;
            let _ = ctx.run(reset.arg("reset-failed").arg("--").args(&units));
        }
        let mut cmd = self.systemctl(ctx)?;
        ctx.run(cmd.arg(verb.as_str()).arg("--").args(&units))?;
        Ok(())
    }

    fn status(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let targets: Vec<(&Service, Option<String>, String)> = services
            .iter()
            .flat_map(|s| unit_names(s).into_iter().map(move |(i, u)| (*s, i, u)))
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.systemctl(ctx)?;
        cmd.args(["show", "--property", SHOW_PROPERTIES, "--"]);
        cmd.args(targets.iter().map(|(_, _, u)| u));
        let text = ctx.run(&mut cmd)?;
        let blocks = parse_show(&text);
        if blocks.len() != targets.len() {
            anyhow::bail!(
                "systemctl show answered {} units for {} asked",
                blocks.len(),
                targets.len()
            );
        }
        Ok(targets
            .into_iter()
            .zip(blocks)
            .map(|((service, instance, unit), props)| {
                status_from_show(&service.name, instance, unit, &props)
            })
            .collect())
    }

    /// One `systemctl list-units` for every state (one D-Bus call, where `systemctl show`
    /// makes one per unit and costs about as much as 40 of it for 200 units). A unit that
    /// runs gets its pid from its cgroup and its start time from the kernel, a stopped one
    /// nothing more; every other unit (failed, activating, not loaded, or one whose main
    /// process cannot be told from its cgroup) is asked with `systemctl show`, as
    /// [`Backend::status`] does. Restarts and the last exit are left empty for the units
    /// that simply run or are stopped.
    fn status_summary(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<ServiceStatus>> {
        let targets: Vec<(&Service, Option<String>, String)> = services
            .iter()
            .flat_map(|s| unit_names(s).into_iter().map(move |(i, u)| (*s, i, u)))
            .collect();
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.systemctl(ctx)?;
        cmd.args([
            "list-units",
            "--all",
            "--plain",
            "--no-legend",
            "--no-pager",
            "--",
        ]);
        cmd.args(targets.iter().map(|(_, _, u)| u));
        let listing = ctx.run(&mut cmd)?;
        let listed = parse_list_units(&listing);
        let cgroups = cgroup_dir(ctx);
        let clock = BootClock::read();
        let mut out: Vec<Option<ServiceStatus>> = Vec::new();
        let mut ask: Vec<&Service> = Vec::new();
        for (service, instance, unit) in &targets {
            let enabled = Some(boot_link(ctx, unit).symlink_metadata().is_ok());
            let status = |state, pid: Option<u32>| ServiceStatus {
                name: service.name.clone(),
                instance: instance.clone(),
                backend: "systemd".into(),
                unit: unit.clone(),
                state,
                pid,
                since: pid.and_then(|p| clock.as_ref()?.started_at(p)),
                restarts: None,
                last_exit: None,
                enabled,
                reason: None,
            };
            let known = match listed.get(unit.as_str()).map(|(l, a, s)| (*l, *a, *s)) {
                Some(("loaded", "active", "running")) => cgroups
                    .as_ref()
                    .and_then(|dir| main_pid(&dir.join(unit)))
                    .map(|pid| status(State::Running, Some(pid))),
                Some(("loaded", "inactive", "dead")) => Some(status(State::Stopped, None)),
                _ => None,
            };
            if known.is_none() && !ask.iter().any(|s| std::ptr::eq(*s, *service)) {
                ask.push(service);
            }
            out.push(known);
        }
        if ask.is_empty() {
            return Ok(out.into_iter().flatten().collect());
        }
        // The whole of each service asked for is taken from the full answer.
        let full = self.status(ctx, &ask)?;
        let mut merged = Vec::new();
        for ((service, _, unit), known) in targets.iter().zip(out) {
            if ask.iter().any(|s| std::ptr::eq(*s, *service)) {
                if let Some(s) = full.iter().find(|s| s.unit == *unit) {
                    merged.push(s.clone());
                }
            } else if let Some(s) = known {
                merged.push(s);
            }
        }
        Ok(merged)
    }

    /// The journal keeps a time for every line; a `log.file` gets the lines as they came.
    fn log_times(&self, service: &Service) -> Result<(), &'static str> {
        match &service.log {
            Some(_) => Err(NO_STAMPS),
            None => Ok(()),
        }
    }

    fn logs(&self, ctx: &Ctx, service: &Service, options: LogOptions) -> Result<i32> {
        if service.log.is_some() {
            return crate::system::logfiles::tail_files(
                ctx,
                &self.log_files(ctx, service),
                options,
            );
        }
        let mut cmd = process::tool("journalctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
        }
        journal_options(&mut cmd, options);
        for (_, unit) in unit_names(service) {
            cmd.args(["--unit", &unit]);
        }
        ctx.run_attached(&mut cmd)
    }

    /// The journal names each line's unit: one `journalctl` for all of them.
    fn logs_of_several(
        &self,
        ctx: &Ctx,
        services: &[&Service],
        options: LogOptions,
    ) -> Result<i32> {
        let in_files = services.iter().filter(|s| s.log.is_some()).count();
        if in_files == services.len() {
            let sources = super::log_sources(self, ctx, services);
            return crate::system::logfiles::show_prefixed(ctx, &sources, options);
        }
        if in_files > 0 {
            return Err(
                bad("these services log to different places (the journal, and log.file)")
                    .key("log.file")
                    .hint("ask for the ones with log.file and the others in two commands")
                    .into(),
            );
        }
        let mut cmd = process::tool("journalctl")?;
        if ctx.level == Level::User {
            cmd.arg("--user");
        }
        journal_options(&mut cmd, options);
        for service in services {
            for (_, unit) in unit_names(service) {
                cmd.args(["--unit", &unit]);
            }
        }
        ctx.run_attached(&mut cmd)
    }

    fn render_group(&self, ctx: &Ctx, group: &str, members: &[&Service]) -> Result<Vec<FileSpec>> {
        let mut c = tera::Context::new();
        c.insert("marker", &render::marker_line("#", group, None));
        c.insert("name", group);
        let units: Vec<String> = members
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        c.insert("members", &units);
        Ok(vec![FileSpec {
            path: unit_dir(ctx).join(format!("{group}.target")),
            mode: 0o644,
            content: ctx.renderer.render("systemd.target", &c)?,
        }])
    }

    /// `systemctl try-restart`: systemd restarts exactly the units that are active.
    fn try_restart(&self, ctx: &Ctx, services: &[&Service]) -> Result<Vec<String>> {
        let running = super::running_labels(&self.status(ctx, services)?);
        let units: Vec<String> = services
            .iter()
            .flat_map(|s| unit_names(s))
            .map(|(_, u)| u)
            .collect();
        if !units.is_empty() {
            let mut cmd = self.systemctl(ctx)?;
            ctx.run(cmd.arg("try-restart").arg("--").args(&units))?;
        }
        Ok(running)
    }

    fn list(&self, ctx: &Ctx) -> Result<Vec<String>> {
        let dir = ctx.on_target(&unit_dir(ctx));
        Ok(render::marked_names(&dir, ".service")
            .into_iter()
            .map(|n| n.trim_end_matches('@').to_string())
            .collect())
    }
}

/// `systemctl list-units --plain --no-legend` prints `UNIT LOAD ACTIVE SUB DESCRIPTION...`,
/// one unit a line (only units systemd has loaded).
fn parse_list_units(text: &str) -> std::collections::HashMap<&str, (&str, &str, &str)> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some((words.next()?, (words.next()?, words.next()?, words.next()?)))
        })
        .collect()
}

/// The boot link `enable` makes for `unit`: what `UnitFileState=enabled` means for a unit
/// svc-any installed.
fn boot_link(ctx: &Ctx, unit: &str) -> PathBuf {
    ctx.on_target(
        &unit_dir(ctx)
            .join(format!("{}.wants", wanted_by(ctx)))
            .join(unit),
    )
}

/// The cgroup directory the manager of `ctx.level` puts its services' cgroups in:
/// `system.slice` beside systemd's own, or a user manager's `app.slice`.
fn cgroup_dir(ctx: &Ctx) -> Option<PathBuf> {
    let unified = Path::new("/sys/fs/cgroup");
    let (mount, manager) = if unified.join("cgroup.controllers").exists() {
        let own = std::fs::read_to_string("/proc/1/cgroup").ok()?;
        let path = own.lines().find_map(|l| l.strip_prefix("0::"))?.to_string();
        (unified.to_path_buf(), path)
    } else {
        let own = std::fs::read_to_string("/proc/1/cgroup").ok()?;
        let path = own
            .lines()
            .find_map(|l| l.split_once(":name=systemd:").map(|(_, p)| p.to_string()))?;
        (unified.join("systemd"), path)
    };
    // PID 1's cgroup is `/init.scope` below the manager's root (`/` on a host, the container's
    // own root inside one).
    let root = mount.join(
        Path::new(&manager)
            .parent()
            .unwrap_or(Path::new("/"))
            .strip_prefix("/")
            .ok()?,
    );
    let dir = match ctx.level {
        Level::System => root.join("system.slice"),
        Level::User => {
            let uid = nix::unistd::geteuid();
            root.join(format!(
                "user.slice/user-{uid}.slice/user@{uid}.service/app.slice"
            ))
        }
    };
    dir.is_dir().then_some(dir)
}

/// The main process of the service whose cgroup is `dir`: the one process in it whose parent
/// is not (the manager forked it). Several such (an orphan adopted by the manager, a reload
/// command running) or none: not known here.
fn main_pid(dir: &Path) -> Option<u32> {
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).ok()?;
    let pids: Vec<u32> = procs
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    let mut main = None;
    for pid in &pids {
        let parent = parent_of(*pid)?;
        if !pids.contains(&parent) {
            if main.is_some() {
                return None;
            }
            main = Some(*pid);
        }
    }
    main
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// What turns a process's start time (ticks since boot) into seconds since the epoch; read
/// once per command (/proc/stat is not cheap to read).
struct BootClock {
    boot: u64,
    ticks_per_second: u64,
}

impl BootClock {
    fn read() -> Option<BootClock> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let boot = stat
            .lines()
            .find_map(|l| l.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()?;
        // SAFETY: sysconf reads a constant of the system.
        let ticks = unsafe { nix::libc::sysconf(nix::libc::_SC_CLK_TCK) };
        (ticks > 0).then_some(BootClock {
            boot,
            ticks_per_second: ticks as u64,
        })
    }

    /// When `pid` started, in seconds since the epoch.
    fn started_at(&self, pid: u32) -> Option<u64> {
        let ticks = crate::system::processes::start_time(pid)?;
        Some(self.boot + ticks / self.ticks_per_second)
    }
}

/// Seconds since the epoch of a CLOCK_MONOTONIC time in microseconds (a container shares the
/// host's monotonic clock).
fn wall_clock_of_monotonic(us: u64) -> Option<u64> {
    use nix::time::{clock_gettime, ClockId};
    let mono = clock_gettime(ClockId::CLOCK_MONOTONIC).ok()?;
    let real = clock_gettime(ClockId::CLOCK_REALTIME).ok()?;
    let now_us = mono.tv_sec() as u64 * 1_000_000 + mono.tv_nsec() as u64 / 1000;
    let ago = now_us.checked_sub(us)? / 1_000_000;
    (real.tv_sec() as u64).checked_sub(ago)
}

const SHOW_PROPERTIES: &str =
    "Id,LoadState,ActiveState,SubState,MainPID,NRestarts,ExecMainCode,ExecMainStatus,StateChangeTimestampMonotonic,UnitFileState,Result,ConditionResult";

/// `systemctl show` prints `Key=value` lines, one blank line between units, in the order asked.
fn parse_show(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut blocks = Vec::new();
    let mut current = std::collections::HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            if !current.is_empty() {
                blocks.push(std::mem::take(&mut current));
            }
        } else if let Some((k, v)) = line.split_once('=') {
            current.insert(k.to_string(), v.to_string());
        }
    }
    if !current.is_empty() {
        blocks.push(current);
    }
    blocks
}

fn status_from_show(
    name: &str,
    instance: Option<String>,
    unit: String,
    props: &std::collections::HashMap<String, String>,
) -> ServiceStatus {
    let get = |k: &str| props.get(k).map(String::as_str).unwrap_or("");
    let state = match (get("LoadState"), get("ActiveState"), get("SubState")) {
        ("not-found", _, _) => State::NotInstalled,
        (_, "active" | "reloading" | "deactivating", _) => State::Running,
        (_, "activating", _) => State::Starting,
        (_, "inactive", _) => State::Stopped,
        // systemd says `failed` both when the process ended uncleanly and Restart= did not
        // bring it back, and when it gave up (start limit, a start that could not run). The
        // model, like the builtin supervisor, calls the first `dead`.
        (_, "failed", _) if matches!(get("Result"), "exit-code" | "signal" | "core-dump") => {
            State::Dead
        }
        (_, "failed", _) => State::Failed,
        _ => State::Unknown,
    };
    let pid = get("MainPID").parse::<u32>().ok().filter(|p| *p != 0);
    // The monotonic stamp, in microseconds (0: never), is printed raw by every version;
    // `--timestamp=unix` for the wall clock one came only in systemd 251 (Debian 11 has 247).
    let since = get("StateChangeTimestampMonotonic")
        .parse::<u64>()
        .ok()
        .filter(|us| *us != 0)
        .and_then(wall_clock_of_monotonic);
    let status: i32 = get("ExecMainStatus").parse().unwrap_or(0);
    // ExecMainCode is a CLD_* code: 1 exited, 2 killed, 3 dumped core; 0 never ran.
    let last_exit = match get("ExecMainCode") {
        "1" => Some(LastExit::Exited { code: status }),
        "2" | "3" => Some(LastExit::Killed {
            signal: Signal::from_name(&status.to_string())
                .map_or(status.to_string(), |s| s.name().to_string()),
        }),
        _ => None,
    };
    let enabled = match get("UnitFileState") {
        "enabled" | "enabled-runtime" | "static" | "alias" => Some(true),
        "" => None,
        _ => Some(false),
    };
    ServiceStatus {
        name: name.to_string(),
        instance,
        backend: "systemd".into(),
        unit,
        state,
        pid: if state == State::NotInstalled {
            None
        } else {
            pid
        },
        since,
        restarts: get("NRestarts").parse().ok(),
        last_exit,
        enabled: if state == State::NotInstalled {
            None
        } else {
            enabled
        },
        // `Result=` says why a unit failed (exit-code, signal, start-limit-hit...); a start
        // skipped for a condition (condition_path_exists) leaves it inactive with
        // `ConditionResult=no`.
        reason: match (get("Result"), get("ConditionResult")) {
            ("" | "success", "no") if state == State::Stopped => {
                Some("not started: a condition was not met".to_string())
            }
            ("" | "success", _) => None,
            (other, _) => Some(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The journal is asked for the time itself, for one service or several, and `--since`
    /// without `-n` means every line since.
    #[test]
    fn logs_options_reach_journalctl() {
        let args = |options: LogOptions| {
            let mut cmd = std::process::Command::new("journalctl");
            journal_options(&mut cmd, options);
            cmd.get_args()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
        };
        let plain = LogOptions {
            follow: false,
            lines: 50,
            since: None,
        };
        assert_eq!(args(plain), ["--no-pager", "--lines", "50"]);
        let since = LogOptions {
            follow: true,
            lines: usize::MAX,
            since: Some(1_796_082_067),
        };
        assert_eq!(
            args(since),
            [
                "--no-pager",
                "--lines",
                "all",
                "--since=@1796082067",
                "--follow"
            ]
        );
    }

    const SHOW: &str = "Id=demo.service\nLoadState=loaded\nActiveState=active\nSubState=running\nMainPID=4242\n\
NRestarts=1\nExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=MONO\nUnitFileState=enabled\n\n\
Id=gone.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n\
ExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=0\nUnitFileState=\n\n\
Id=jvm.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=5\n\
ExecMainCode=2\nExecMainStatus=9\nStateChangeTimestampMonotonic=1\nUnitFileState=disabled\n\
Result=start-limit-hit\n\n\
Id=once.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\nMainPID=0\nNRestarts=0\n\
ExecMainCode=1\nExecMainStatus=1\nStateChangeTimestampMonotonic=1\nUnitFileState=enabled\n\
Result=exit-code\n\n\
Id=cond.service\nLoadState=loaded\nActiveState=inactive\nSubState=dead\nMainPID=0\nNRestarts=0\n\
ExecMainCode=0\nExecMainStatus=0\nStateChangeTimestampMonotonic=1\nUnitFileState=enabled\n\
Result=success\nConditionResult=no\n";

    #[test]
    fn show_output_maps_to_the_status_model() {
        // The running unit changed state 5 s ago, by the monotonic clock.
        use nix::time::{clock_gettime, ClockId};
        let mono = clock_gettime(ClockId::CLOCK_MONOTONIC).unwrap();
        let five_s_ago = (mono.tv_sec() as u64 - 5) * 1_000_000;
        let show = SHOW.replace("MONO", &five_s_ago.to_string());
        let real = clock_gettime(ClockId::CLOCK_REALTIME).unwrap().tv_sec() as u64;
        let blocks = parse_show(&show);
        assert_eq!(blocks.len(), 5);
        // A start skipped by a condition: stopped, and status says why.
        let skipped = status_from_show("cond", None, "cond.service".into(), &blocks[4]);
        assert_eq!(skipped.state, State::Stopped);
        assert_eq!(
            skipped.reason.as_deref(),
            Some("not started: a condition was not met")
        );
        let running = status_from_show("demo", None, "demo.service".into(), &blocks[0]);
        assert_eq!(running.state, State::Running);
        assert_eq!(running.pid, Some(4242));
        let since = running.since.expect("a state change time");
        assert!(
            (real - 7..=real - 4).contains(&since),
            "{since}, now {real}"
        );
        assert_eq!(running.restarts, Some(1));
        assert_eq!(running.enabled, Some(true));
        assert_eq!(running.last_exit, None);
        let gone = status_from_show("gone", None, "gone.service".into(), &blocks[1]);
        assert_eq!(gone.state, State::NotInstalled);
        assert_eq!(gone.enabled, None);
        let failed = status_from_show("jvm", None, "jvm.service".into(), &blocks[2]);
        assert_eq!(failed.state, State::Failed);
        assert_eq!(
            failed.last_exit,
            Some(LastExit::Killed {
                signal: "KILL".into()
            })
        );
        assert_eq!(failed.enabled, Some(false));
        assert_eq!(failed.reason.as_deref(), Some("start-limit-hit"));
        // Ended uncleanly and not restarted (Restart=no): dead, as the builtin says.
        let dead = status_from_show("once", None, "once.service".into(), &blocks[3]);
        assert_eq!(dead.state, State::Dead);
        assert_eq!(dead.last_exit, Some(LastExit::Exited { code: 1 }));
        assert_eq!(dead.reason.as_deref(), Some("exit-code"));
    }

    #[test]
    fn list_units_gives_each_listed_unit_its_three_states() {
        let text = "a.service loaded active running a service\n\
                    b@1.service loaded inactive dead the b service, instance 1\n\
                    gone.service not-found inactive dead gone.service\n";
        let listed = parse_list_units(text);
        assert_eq!(listed.len(), 3);
        assert_eq!(listed["a.service"], ("loaded", "active", "running"));
        assert_eq!(listed["b@1.service"], ("loaded", "inactive", "dead"));
        assert_eq!(listed["gone.service"], ("not-found", "inactive", "dead"));
    }

    #[test]
    fn the_main_process_is_the_one_whose_parent_is_outside_the_cgroup() {
        let dir = std::env::temp_dir().join(format!("svc-any-cgroup-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = std::process::id();
        let child = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        // This test's process and its child: the child's parent is in the set.
        std::fs::write(dir.join("cgroup.procs"), format!("{me}\n{}\n", child.id())).unwrap();
        assert_eq!(main_pid(&dir), Some(me));
        // Two whose parents are outside: not known.
        let other = std::process::Command::new("/bin/sleep")
            .arg("10")
            .spawn()
            .unwrap();
        std::fs::write(
            dir.join("cgroup.procs"),
            format!("{}\n{}\n", child.id(), other.id()),
        )
        .unwrap();
        assert_eq!(main_pid(&dir), None);
        for mut c in [child, other] {
            let _ = c.kill();
            let _ = c.wait();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn dependencies_become_unit_names() {
        let unit = |entry: &str| dependency_unit(&Dependency::parse(entry).unwrap());
        assert_eq!(unit("db"), "db.service");
        assert_eq!(unit("network-online.target"), "network-online.target");
        assert_eq!(unit("com.example.api"), "com.example.api.service");
        // Every unit type is systemd's own, the rarer ones too.
        assert_eq!(unit("dev-sda1.device"), "dev-sda1.device");
        assert_eq!(unit("home.automount"), "home.automount");
    }
}
