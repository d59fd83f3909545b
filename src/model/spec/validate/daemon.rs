//! The keys of `daemon.rs`: readiness, commands around the main one, directories, variable
//! references, least privilege, conditions, more dependencies, `[systemd]` and `not_carried`.
//! Each value is checked here, with its line, so that a backend only decides whether it
//! carries a key, never whether the value makes sense.

use crate::model::error::{bad, BadInput};

use super::super::daemon::{
    Command, Daemon, DirKind, Directories, EnvFile, KillMode, NotCarried, ProtectHome,
    ProtectSystem, ServiceType, SystemdExtras,
};
use super::super::location::{did_you_mean, Source};
use super::super::model::Level;
use super::super::parse::ParseOptions;
use super::super::raw::{RawService, S};
use super::dependencies::dependency_list;
use super::names::check_name;
use super::process::{account_key, check_absolute, check_argv, check_env_name, no_nul};

/// `env_file`: one path (every backend reads it), or a list whose entries may be optional
/// (`-/etc/default/ssh`, as systemd writes it). A single required entry is the plain form.
pub(super) fn env_file(
    src: &Source,
    raw: &Option<S<toml::Value>>,
) -> Result<(Option<String>, Vec<EnvFile>), BadInput> {
    let Some(v) = raw else {
        return Ok((None, Vec::new()));
    };
    let hint = "give an absolute path, or a list of them (a leading `-` makes one optional)";
    let entries: Vec<&str> = match v.get_ref() {
        toml::Value::String(s) => vec![s.as_str()],
        toml::Value::Array(items) => items
            .iter()
            .map(|i| i.as_str())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                src.error(v.span(), "env_file", "every entry must be a string")
                    .hint(hint)
            })?,
        other => {
            return Err(src
                .error(
                    v.span(),
                    "env_file",
                    format!(
                        "invalid type: {}, expected a path or a list",
                        other.type_str()
                    ),
                )
                .hint(hint))
        }
    };
    let plain = matches!(v.get_ref(), toml::Value::String(_));
    let mut files = Vec::new();
    for entry in entries {
        let (optional, path) = match entry.strip_prefix('-') {
            Some(p) if !plain => (true, p),
            _ => (false, entry),
        };
        check_path(path).map_err(|m| {
            src.error(
                v.span(),
                "env_file",
                format!("`{}` {m}", path.escape_debug()),
            )
            .hint(hint)
        })?;
        files.push(EnvFile {
            path: path.to_string(),
            optional,
        });
    }
    if files.is_empty() {
        return Err(src
            .error(v.span(), "env_file", "an empty list of files")
            .hint("list files, or drop the key"));
    }
    Ok(match files.as_slice() {
        [one] if !one.optional => (Some(one.path.clone()), Vec::new()),
        _ => (None, files),
    })
}

/// An absolute path the managers keep as written.
fn check_path(path: &str) -> Result<(), String> {
    check_absolute(path)?;
    if path.ends_with(char::is_whitespace) {
        return Err("ends in white space, which managers strip".into());
    }
    Ok(())
}

/// Everything else of `daemon.rs`. `exec` has been checked; with `exec_expand` its program may
/// not hold `$` (systemd never expands the program path).
pub(super) fn daemon(
    src: &Source,
    raw: &RawService,
    own_name: &str,
    exec: &[String],
    opts: &ParseOptions,
    level: Level,
) -> Result<Daemon, BadInput> {
    let mut d = Daemon {
        exec_expand: flag(&raw.exec_expand),
        ..Daemon::default()
    };
    if let Some(t) = &raw.service_type {
        d.service_type =
            Some(ServiceType::from_name(t.get_ref()).ok_or_else(|| {
                one_of(src, t, "type", ServiceType::NAMES, "unknown service type")
            })?);
    }
    if let Some(p) = &raw.pid_file {
        check_path(p.get_ref()).map_err(|m| {
            src.error(
                p.span(),
                "pid_file",
                format!("`{}` {m}", p.get_ref().escape_debug()),
            )
        })?;
        d.pid_file = Some(p.get_ref().clone());
    }
    d.remain_after_exit = flag(&raw.remain_after_exit);
    if d.exec_expand {
        if exec[0].contains('$') {
            return Err(bad("systemd never expands variables in the program path")
                .at(src.label.clone())
                .key("exec[0]")
                .hint("give the program's path literally"));
        }
        for (i, arg) in exec.iter().enumerate().skip(1) {
            check_references(arg)
                .map_err(|m| bad(m).at(src.label.clone()).key(format!("exec[{i}]")))?;
        }
    }
    for (key, raw_list, out) in [
        ("pre_start", &raw.pre_start, &mut d.pre_start),
        ("post_start", &raw.post_start, &mut d.post_start),
        ("stop_exec", &raw.stop_exec, &mut d.stop_exec),
        ("post_stop", &raw.post_stop, &mut d.post_stop),
        ("reload_exec", &raw.reload_exec, &mut d.reload_exec),
    ] {
        *out = commands(src, key, raw_list, d.exec_expand)?;
    }
    if !d.reload_exec.is_empty() && raw.reload_signal.is_some() {
        let span = raw.reload_signal.as_ref().map_or(0..0, |s| s.span());
        return Err(src
            .error(span, "reload_signal", "both reload_signal and reload_exec are set")
            .hint("keep one: reload_exec = [[\"/bin/kill\", \"-HUP\", \"$MAINPID\"]] with exec_expand = true sends a signal too"));
    }
    for (kind, names, mode) in [
        (DirKind::Runtime, &raw.runtime_dir, &raw.runtime_dir_mode),
        (DirKind::State, &raw.state_dir, &raw.state_dir_mode),
        (DirKind::Logs, &raw.logs_dir, &raw.logs_dir_mode),
        (DirKind::Config, &raw.config_dir, &raw.config_dir_mode),
    ] {
        let dirs = directories(src, kind, names, mode)?;
        match kind {
            DirKind::Runtime => d.runtime_dir = dirs,
            DirKind::State => d.state_dir = dirs,
            DirKind::Logs => d.logs_dir = dirs,
            DirKind::Config => d.config_dir = dirs,
        }
    }
    if let Some(k) = &raw.kill_mode {
        d.kill_mode = Some(match k.get_ref().as_str() {
            "group" => KillMode::Group,
            "process" => KillMode::Process,
            "mixed" => KillMode::Mixed,
            _ => {
                return Err(one_of(
                    src,
                    k,
                    "kill_mode",
                    &["group", "process", "mixed"],
                    "unknown kill mode",
                ))
            }
        });
    }
    d.restart_prevent_exit_codes = super::lifecycle::exit_codes(
        src,
        "restart_prevent_exit_codes",
        &raw.restart_prevent_exit_codes,
    )?;
    d.wants = dependency_list(src, "wants", &raw.wants, own_name, raw.instances.is_some())?;
    d.before = dependency_list(
        src,
        "before",
        &raw.before,
        own_name,
        raw.instances.is_some(),
    )?;
    d.part_of = dependency_list(
        src,
        "part_of",
        &raw.part_of,
        own_name,
        raw.instances.is_some(),
    )?;
    d.binds_to = dependency_list(
        src,
        "binds_to",
        &raw.binds_to,
        own_name,
        raw.instances.is_some(),
    )?;
    d.conflicts = dependency_list(
        src,
        "conflicts",
        &raw.conflicts,
        own_name,
        raw.instances.is_some(),
    )?;
    for item in raw.documentation.iter().flat_map(|l| l.get_ref()) {
        check_documentation(item.get_ref())
            .map_err(|m| src.error(item.span(), "documentation", m))?;
        d.documentation.push(item.get_ref().clone());
    }
    for item in raw.aliases.iter().flat_map(|l| l.get_ref()) {
        check_name(item.get_ref()).map_err(|m| src.error(item.span(), "aliases", m))?;
        if item.get_ref() == own_name {
            return Err(src.error(item.span(), "aliases", "an alias of the service's own name"));
        }
        d.aliases.push(item.get_ref().clone());
    }
    if let Some(u) = &raw.umask {
        d.umask = Some(octal(src, "umask", u, 0o777)?);
    }
    for group in raw.supplementary_groups.iter().flat_map(|l| l.get_ref()) {
        if let Some(g) = account_key(
            src,
            "supplementary_groups",
            &Some(group.clone()),
            opts,
            level,
        )? {
            d.supplementary_groups.push(g);
        }
    }
    d.no_new_privileges = flag(&raw.no_new_privileges);
    if let Some(list) = &raw.capabilities {
        let mut caps = Vec::new();
        for cap in list.get_ref() {
            let name = cap.get_ref();
            if !CAPABILITIES.contains(&name.as_str()) {
                let near = did_you_mean(name, CAPABILITIES)
                    .map_or(String::new(), |n| format!(" (did you mean {n}?)"));
                return Err(src
                    .error(
                        cap.span(),
                        "capabilities",
                        format!("`{}` is no Linux capability{near}", name.escape_debug()),
                    )
                    .hint("names as capabilities(7) writes them: CAP_NET_BIND_SERVICE"));
            }
            caps.push(name.clone());
        }
        d.capabilities = Some(caps);
    }
    d.private_tmp = flag(&raw.private_tmp);
    d.private_devices = flag(&raw.private_devices);
    if let Some(v) = &raw.protect_system {
        d.protect_system = match v.get_ref() {
            toml::Value::Boolean(false) => None,
            toml::Value::Boolean(true) => Some(ProtectSystem::Yes),
            toml::Value::String(s) if s == "full" => Some(ProtectSystem::Full),
            toml::Value::String(s) if s == "strict" => Some(ProtectSystem::Strict),
            other => {
                return Err(src
                    .error(
                        v.span(),
                        "protect_system",
                        format!("`{other}` is not a protect_system value"),
                    )
                    .hint("use true, false, \"full\" or \"strict\""))
            }
        };
    }
    if let Some(v) = &raw.protect_home {
        d.protect_home = match v.get_ref() {
            toml::Value::Boolean(false) => None,
            toml::Value::Boolean(true) => Some(ProtectHome::Yes),
            toml::Value::String(s) if s == "read-only" => Some(ProtectHome::ReadOnly),
            toml::Value::String(s) if s == "tmpfs" => Some(ProtectHome::Tmpfs),
            other => {
                return Err(src
                    .error(
                        v.span(),
                        "protect_home",
                        format!("`{other}` is not a protect_home value"),
                    )
                    .hint("use true, false, \"read-only\" or \"tmpfs\""))
            }
        };
    }
    d.read_only_paths = prefixed_paths(src, "read_only_paths", &raw.read_only_paths, '-')?;
    d.read_write_paths = prefixed_paths(src, "read_write_paths", &raw.read_write_paths, '-')?;
    d.condition_path_exists = prefixed_paths(
        src,
        "condition_path_exists",
        &raw.condition_path_exists,
        '!',
    )?;
    for (name, path) in raw.credentials.iter().flatten() {
        check_credential_name(name.get_ref()).map_err(|m| {
            src.error(name.span(), "credentials", m)
                .hint("a file name: letters, digits, `_`, `-` and `.`")
        })?;
        check_path(path.get_ref()).map_err(|m| {
            src.error(
                path.span(),
                "credentials",
                format!("`{}` {m}", path.get_ref().escape_debug()),
            )
            .hint("the absolute path of the file that holds the secret")
        })?;
        d.credentials
            .insert(name.get_ref().clone(), path.get_ref().clone());
    }
    if let Some(t) = &raw.systemd {
        d.systemd = systemd_table(src, t, &d, raw)?;
    }
    if let Some(n) = &raw.not_carried {
        d.not_carried = match n.get_ref().as_str() {
            "refuse" => NotCarried::Refuse,
            "warn" => NotCarried::Warn,
            _ => {
                return Err(one_of(
                    src,
                    n,
                    "not_carried",
                    &["refuse", "warn"],
                    "unknown not_carried policy",
                ))
            }
        };
    }
    Ok(d)
}

fn flag(v: &Option<S<bool>>) -> bool {
    v.as_ref().is_some_and(|b| *b.get_ref())
}

fn one_of(src: &Source, v: &S<String>, key: &str, names: &[&str], what: &str) -> BadInput {
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let hint = match did_you_mean(v.get_ref(), names) {
        Some(near) => format!("did you mean \"{near}\"? (one of {list})"),
        None => format!("use one of {list}"),
    };
    src.error(
        v.span(),
        key,
        format!("{what} `{}`", v.get_ref().escape_debug()),
    )
    .hint(hint)
}

/// The variable references systemd expands when a line has no `:` prefix: an argument that is
/// exactly `$NAME`, `${NAME}` anywhere, and `$$` for a `$`. Any other `$` reaches the program
/// unchanged; where a name follows it (`--port=$PORT`) that is never what its writer meant:
/// refused, with the fix. `$(` or `$!` pass as systemd passes them.
pub fn check_references(arg: &str) -> Result<(), String> {
    if let Some(name) = arg.strip_prefix('$') {
        if !name.starts_with(['{', '$']) {
            return check_env_name(name).map_err(|m| {
                format!("{m}: an argument `$NAME` is replaced by the variable's words")
            });
        }
    }
    let mut rest = arg;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("`{}`: `${{` without its `}}`", arg.escape_debug()))?;
            check_env_name(&braced[..end]).map_err(|m| format!("in `${{...}}`: {m}"))?;
            rest = &braced[end + 1..];
        } else if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{}`: systemd expands `$NAME` only as a whole argument; write `${{NAME}}` \
                 inside an argument, or `$$` for a literal `$`",
                arg.escape_debug()
            ));
        } else {
            rest = after;
        }
    }
    Ok(())
}

/// A list of commands: each an argv list, or a table `{ exec = [...], may_fail, privileged }`.
fn commands(
    src: &Source,
    key: &str,
    raw: &Option<S<Vec<S<toml::Value>>>>,
    expand: bool,
) -> Result<Vec<Command>, BadInput> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let hint = format!(
        "write {key} = [[\"/usr/bin/prog\", \"arg\"]], or {key} = [{{ exec = [\"/usr/bin/prog\"], may_fail = true }}]"
    );
    let mut out = Vec::new();
    for (i, item) in list.get_ref().iter().enumerate() {
        let at = |m: String| src.error(item.span(), &format!("{key}[{i}]"), m);
        let (argv, may_fail, privileged) = match item.get_ref() {
            toml::Value::Array(a) => (a.clone(), false, false),
            toml::Value::Table(t) => {
                let mut argv = None;
                let (mut may_fail, mut privileged) = (false, false);
                for (k, v) in t {
                    match (k.as_str(), v) {
                        ("exec", toml::Value::Array(a)) => argv = Some(a.clone()),
                        ("may_fail", toml::Value::Boolean(b)) => may_fail = *b,
                        ("privileged", toml::Value::Boolean(b)) => privileged = *b,
                        ("exec" | "may_fail" | "privileged", other) => {
                            return Err(at(format!("invalid type: {} for `{k}`", other.type_str()))
                                .hint(hint.clone()))
                        }
                        (other, _) => {
                            let known = ["exec", "may_fail", "privileged"];
                            let h = match did_you_mean(other, &known) {
                                Some(n) => format!("did you mean `{n}`?"),
                                None => "known keys here: exec, may_fail, privileged".into(),
                            };
                            return Err(at(format!("unknown key `{other}`")).hint(h));
                        }
                    }
                }
                let argv = argv
                    .ok_or_else(|| at("a command table needs `exec`".into()).hint(hint.clone()))?;
                (argv, may_fail, privileged)
            }
            other => {
                return Err(at(format!(
                    "invalid type: {}, expected a command (a list of strings)",
                    other.type_str()
                ))
                .hint(hint))
            }
        };
        let mut exec = Vec::new();
        for a in &argv {
            let s = a.as_str().ok_or_else(|| {
                at(format!("invalid type: {} in an argv", a.type_str())).hint(hint.clone())
            })?;
            no_nul(s).map_err(at)?;
            exec.push(s.to_string());
        }
        let ckey = format!("{key}[{i}]");
        check_argv(src, &ckey, &exec).map_err(|e| src.place_at(e, item.span()))?;
        if expand {
            if exec[0].contains('$') {
                return Err(at(
                    "systemd never expands variables in the program path".into()
                ));
            }
            for a in &exec[1..] {
                check_references(a).map_err(at)?;
            }
        }
        out.push(Command {
            exec,
            may_fail,
            privileged,
        });
    }
    Ok(out)
}

/// A name below the kind's base: relative, normalized, no odd bytes.
fn check_dir_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.starts_with('/') {
        return Err(format!(
            "`{}` must be a relative name (the base directory is implied)",
            name.escape_debug()
        ));
    }
    if name
        .split('/')
        .any(|c| c.is_empty() || c == "." || c == "..")
    {
        return Err(format!(
            "`{}` holds an empty, `.` or `..` component",
            name.escape_debug()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.-/@{}".contains(*c)))
    {
        return Err(format!(
            "`{}` holds {c:?}; names are letters, digits and _ . - @ /",
            name.escape_debug()
        ));
    }
    Ok(())
}

fn directories(
    src: &Source,
    kind: DirKind,
    raw: &Option<S<toml::Value>>,
    mode: &Option<S<toml::Value>>,
) -> Result<Option<Directories>, BadInput> {
    let key = kind.key();
    let mode_key = format!("{key}_mode");
    let Some(v) = raw else {
        if let Some(m) = mode {
            return Err(src
                .error(m.span(), &mode_key, format!("`{mode_key}` without `{key}`"))
                .hint(format!("add {key} = \"NAME\", or drop the mode")));
        }
        return Ok(None);
    };
    let hint = format!(
        "a name relative to {} (or a list of them), e.g. {key} = \"myapp\"",
        kind.base()
    );
    let names: Vec<String> = match v.get_ref() {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(a) => a
            .iter()
            .map(|i| i.as_str().map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| {
                src.error(v.span(), key, "every entry must be a string")
                    .hint(hint.clone())
            })?,
        other => {
            return Err(src
                .error(v.span(), key, format!("invalid type: {}", other.type_str()))
                .hint(hint))
        }
    };
    if names.is_empty() {
        return Err(src.error(v.span(), key, "an empty list").hint(hint));
    }
    for n in &names {
        check_dir_name(n).map_err(|m| src.error(v.span(), key, m).hint(hint.clone()))?;
    }
    let mode = match mode {
        Some(m) => Some(octal(src, &mode_key, m, 0o7777)?),
        None => None,
    };
    Ok(Some(Directories { names, mode }))
}

/// Permission bits: `"0755"` or a TOML octal integer (`0o755`), at most `max`.
fn octal(src: &Source, key: &str, v: &S<toml::Value>, max: u32) -> Result<u32, BadInput> {
    let hint = "write the bits in octal as a string, \"0750\", or as 0o750";
    let n = match v.get_ref() {
        toml::Value::String(s) if !s.is_empty() && s.len() <= 4 => u32::from_str_radix(s, 8).ok(),
        toml::Value::Integer(i) => u32::try_from(*i).ok(),
        _ => None,
    };
    n.filter(|n| *n <= max).ok_or_else(|| {
        src.error(v.span(), key, format!("`{}` is not a mode", v.get_ref()))
            .hint(hint)
    })
}

/// Absolute paths, each perhaps with `prefix` in front (`-` optional, `!` negated).
fn prefixed_paths(
    src: &Source,
    key: &str,
    raw: &Option<S<Vec<S<String>>>>,
    prefix: char,
) -> Result<Vec<String>, BadInput> {
    let mut out = Vec::new();
    for item in raw.iter().flat_map(|l| l.get_ref()) {
        let s = item.get_ref();
        let path = s.strip_prefix(prefix).unwrap_or(s);
        check_path(path).map_err(|m| {
            src.error(item.span(), key, format!("`{}` {m}", path.escape_debug()))
                .hint(format!(
                    "an absolute path, with a leading `{prefix}` if {}",
                    if prefix == '-' {
                        "it may be missing"
                    } else {
                        "it must not exist"
                    }
                ))
        })?;
        out.push(s.clone());
    }
    Ok(out)
}

/// A credential's name is the name of a file in the service's credentials directory.
fn check_credential_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "`{}` is not a credential name",
            name.escape_debug()
        )),
    }
}

/// systemd's `Documentation=` accepts these URI schemes only.
fn check_documentation(uri: &str) -> Result<(), String> {
    let ok = ["http://", "https://", "file:", "info:", "man:"]
        .iter()
        .any(|s| uri.starts_with(s) && uri.len() > s.len())
        && !uri.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a documentation URI: http://, https://, file:, info: or man:, without spaces",
            uri.escape_debug()
        ))
    }
}

/// Settings svc-any writes itself on every unit: `[systemd]` may not repeat them.
const ALWAYS_WRITTEN: &[&str] = &[
    "Description",
    "StartLimitIntervalSec",
    "StartLimitBurst",
    "Type",
    "ExecStart",
    "Restart",
    "RestartSec",
    "KillSignal",
    "TimeoutStopSec",
    "SuccessExitStatus",
    "WantedBy",
];

/// Settings a portable key writes, by key: `[systemd]` may use them only while that key is unset.
fn written_by_key(d: &Daemon, raw: &RawService) -> Vec<(&'static str, &'static [&'static str])> {
    let mut out: Vec<(&'static str, &'static [&'static str])> = Vec::new();
    let mut when = |set: bool, key: &'static str, settings: &'static [&'static str]| {
        if set {
            out.push((key, settings));
        }
    };
    when(d.pid_file.is_some(), "pid_file", &["PIDFile"]);
    when(
        d.remain_after_exit,
        "remain_after_exit",
        &["RemainAfterExit"],
    );
    when(!d.pre_start.is_empty(), "pre_start", &["ExecStartPre"]);
    when(!d.post_start.is_empty(), "post_start", &["ExecStartPost"]);
    when(!d.stop_exec.is_empty(), "stop_exec", &["ExecStop"]);
    when(!d.post_stop.is_empty(), "post_stop", &["ExecStopPost"]);
    when(
        !d.reload_exec.is_empty() || raw.reload_signal.is_some(),
        "reload_exec",
        &["ExecReload"],
    );
    when(
        d.runtime_dir.is_some(),
        "runtime_dir",
        &["RuntimeDirectory", "RuntimeDirectoryMode"],
    );
    when(
        d.state_dir.is_some(),
        "state_dir",
        &["StateDirectory", "StateDirectoryMode"],
    );
    when(
        d.logs_dir.is_some(),
        "logs_dir",
        &["LogsDirectory", "LogsDirectoryMode"],
    );
    when(
        d.config_dir.is_some(),
        "config_dir",
        &["ConfigurationDirectory", "ConfigurationDirectoryMode"],
    );
    when(d.kill_mode.is_some(), "kill_mode", &["KillMode"]);
    when(
        !d.restart_prevent_exit_codes.is_empty(),
        "restart_prevent_exit_codes",
        &["RestartPreventExitStatus"],
    );
    when(raw.user.is_some(), "user", &["User"]);
    when(raw.group.is_some(), "group", &["Group"]);
    when(
        raw.working_dir.is_some(),
        "working_dir",
        &["WorkingDirectory"],
    );
    when(raw.env.is_some(), "env", &["Environment"]);
    when(raw.env_file.is_some(), "env_file", &["EnvironmentFile"]);
    when(
        raw.log.is_some(),
        "log",
        &["StandardOutput", "StandardError"],
    );
    when(
        raw.limits.as_ref().is_some_and(|l| l.nofile.is_some()),
        "limits.nofile",
        &["LimitNOFILE"],
    );
    when(
        raw.limits.as_ref().is_some_and(|l| l.nproc.is_some()),
        "limits.nproc",
        &["LimitNPROC"],
    );
    when(d.umask.is_some(), "umask", &["UMask"]);
    when(
        !d.supplementary_groups.is_empty(),
        "supplementary_groups",
        &["SupplementaryGroups"],
    );
    when(
        d.no_new_privileges,
        "no_new_privileges",
        &["NoNewPrivileges"],
    );
    when(
        d.capabilities.is_some(),
        "capabilities",
        &["CapabilityBoundingSet", "AmbientCapabilities"],
    );
    when(d.private_tmp, "private_tmp", &["PrivateTmp"]);
    when(d.private_devices, "private_devices", &["PrivateDevices"]);
    when(
        d.protect_system.is_some(),
        "protect_system",
        &["ProtectSystem"],
    );
    when(d.protect_home.is_some(), "protect_home", &["ProtectHome"]);
    when(
        !d.read_only_paths.is_empty(),
        "read_only_paths",
        &["ReadOnlyPaths"],
    );
    when(
        !d.read_write_paths.is_empty(),
        "read_write_paths",
        &["ReadWritePaths"],
    );
    when(
        !d.credentials.is_empty(),
        "credentials",
        &["LoadCredential"],
    );
    when(
        !d.condition_path_exists.is_empty(),
        "condition_path_exists",
        &["ConditionPathExists"],
    );
    when(
        !d.documentation.is_empty(),
        "documentation",
        &["Documentation"],
    );
    when(!d.aliases.is_empty(), "aliases", &["Alias"]);
    when(
        raw.after.is_some() || raw.requires.is_some(),
        "after/requires",
        &[],
    );
    out
}

/// `[systemd]`: lines carried verbatim. A key must look like a systemd setting, a value fit on
/// one line, and nothing may say again what svc-any writes itself.
fn systemd_table(
    src: &Source,
    table: &S<toml::Table>,
    d: &Daemon,
    raw: &RawService,
) -> Result<SystemdExtras, BadInput> {
    let mut out = SystemdExtras::default();
    let by_key = written_by_key(d, raw);
    let located = |key: &str, message: String| -> BadInput {
        let full = format!("systemd.{key}");
        let at = src
            .locate_key(&full)
            .unwrap_or_else(|| src.locate(table.span().start));
        bad(message).at(at).key(full)
    };
    let lines = |section: &str,
                 t: &toml::Table,
                 into: &mut Vec<(String, String)>|
     -> Result<(), BadInput> {
        for (k, v) in t {
            let path = match section {
                "service" => k.clone(),
                s => format!("{s}.{k}"),
            };
            let setting_ok = k.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && k.chars().all(|c| c.is_ascii_alphanumeric());
            if !setting_ok {
                return Err(located(&path, format!("`{k}` is not a systemd setting name"))
                    .hint("settings are written as systemd writes them: ProtectKernelTunables = \"yes\""));
            }
            if section == "install" && k == "Also" {
                let values: Vec<&str> = match v {
                    toml::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                let bad_unit = values.iter().flat_map(|v| v.split_whitespace()).find(|u| {
                    !matches!(
                        super::super::deps::Dependency::parse(u),
                        Ok(super::super::deps::Dependency::Native(_))
                    )
                });
                if let Some(u) = bad_unit {
                    return Err(located(&path, format!("`{u}` is not a systemd unit name for Also="))
                        .hint("Also = [\"NAME.socket\"]: units svc-any enables with this one through systemctl"));
                }
            }
            let further_target = section == "install" && k == "WantedBy";
            if further_target {
                let values = match v {
                    toml::Value::Array(a) => {
                        a.iter().filter_map(|x| x.as_str()).collect::<Vec<_>>()
                    }
                    other => other.as_str().into_iter().collect(),
                };
                if let Some(t) = values.iter().find(|t| {
                    !t.ends_with(".target")
                        || t.contains(char::is_whitespace)
                        || **t == "multi-user.target"
                }) {
                    return Err(located(&path, format!("`{t}`: svc-any enables in multi-user.target itself; further WantedBy= are single .target names"))
                        .hint("WantedBy = [\"printer.target\"]"));
                }
            } else if ALWAYS_WRITTEN.contains(&k.as_str()) {
                return Err(located(&path, format!("svc-any writes `{k}=` itself"))
                    .hint("use the portable key for it (see the README's systemd table)"));
            }
            if let Some((key, _)) = by_key.iter().find(|(_, s)| s.contains(&k.as_str())) {
                return Err(
                    located(&path, format!("`{key}` already writes `{k}=`")).hint(format!(
                        "keep one: the portable `{key}`, or drop it for `[systemd] {k}`"
                    )),
                );
            }
            if matches!(
                k.as_str(),
                "After" | "Requires" | "Wants" | "Before" | "PartOf" | "BindsTo" | "Conflicts"
            ) {
                return Err(located(&path, format!("`{k}=` is a dependency"))
                    .hint("use the portable keys after, requires, wants, before, part_of, binds_to, conflicts"));
            }
            let values: Vec<String> = match v {
                toml::Value::Array(a) => a.iter().map(scalar).collect::<Option<_>>(),
                other => scalar(other).map(|s| vec![s]),
            }
            .ok_or_else(|| {
                located(
                    &path,
                    "a value is a string, number, boolean or a list of them".into(),
                )
            })?;
            for value in values {
                if value.contains(['\n', '\r', '\0']) || value.ends_with('\\') {
                    return Err(located(
                        &path,
                        "a value must fit on one line and not end in `\\`".into(),
                    ));
                }
                into.push((k.clone(), value));
            }
        }
        Ok(())
    };
    let mut service = toml::Table::new();
    for (k, v) in table.get_ref() {
        match (k.as_str(), v) {
            ("unit", toml::Value::Table(t)) => lines("unit", t, &mut out.unit)?,
            ("install", toml::Value::Table(t)) => lines("install", t, &mut out.install)?,
            _ => {
                service.insert(k.clone(), v.clone());
            }
        }
    }
    lines("service", &service, &mut out.service)?;
    Ok(out)
}

/// A TOML scalar as systemd text (booleans as `yes`/`no`).
fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Boolean(b) => Some(if *b { "yes" } else { "no" }.into()),
        _ => None,
    }
}

/// capabilities(7), Linux 6.1.
const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];
