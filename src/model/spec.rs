//! The service definition: TOML in, a validated [`Service`] out.
//!
//! Parsing happens in two steps. Serde reads the file into `Raw*` types that keep the byte span
//! of every value, so that every later complaint can name the file, line, column and key. Then
//! `validate` turns the raw values into typed ones (durations, signals, paths). Nothing that
//! fails here ever reaches a backend, and nothing is written before this succeeds.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::error::{bad, BadInput};
use crate::model::signal::Signal;

/// Where a service runs: the system manager, or the invoking user's own manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    System,
    User,
}

/// When the manager brings a dead process back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Restart {
    #[serde(rename = "no")]
    No,
    #[serde(rename = "on-failure")]
    OnFailure,
    #[serde(rename = "always")]
    Always,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::No => "no",
            Restart::OnFailure => "on-failure",
            Restart::Always => "always",
        }
    }
}

/// A resource limit: a number, or no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Limit {
    Value(u64),
    Infinity,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub nofile: Option<Limit>,
    pub nproc: Option<Limit>,
}

/// Where stdout and stderr go when not to the manager's own log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSpec {
    pub file: String,
    /// Rotate when the file grows past this many bytes.
    pub max_size: Option<u64>,
    /// Rotated files to keep.
    pub keep: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheck {
    /// `host:port` that must accept a TCP connection.
    Tcp(String),
    /// `http://host[:port]/path` that must answer 2xx or 3xx.
    Http(String),
    /// A program that must exit 0.
    Exec(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub check: HealthCheck,
    #[serde(with = "crate::model::duration::serde_text")]
    pub timeout: Duration,
}

/// One validated service definition. Every string in here is exactly what the process must see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub name: String,
    pub description: String,
    pub exec: Vec<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<String>,
    pub env: BTreeMap<String, String>,
    pub env_file: Option<String>,
    pub restart: Restart,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_delay: Duration,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_max_delay: Duration,
    /// More than this many automatic restarts within `restart_limit_interval` is a crash loop:
    /// the service is left `failed`. 0 never gives up.
    pub restart_limit: u32,
    #[serde(with = "crate::model::duration::serde_text")]
    pub restart_limit_interval: Duration,
    pub stop_signal: Signal,
    #[serde(with = "crate::model::duration::serde_text")]
    pub stop_timeout: Duration,
    pub reload_signal: Option<Signal>,
    pub success_exit_codes: Vec<u8>,
    pub after: Vec<String>,
    pub requires: Vec<String>,
    pub limits: Limits,
    pub log: Option<LogSpec>,
    pub health: Option<Health>,
    pub instances: Vec<String>,
    pub level: Level,
    /// The `[groups]` of its file that list it (systemd: `PartOf=GROUP.target`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// launchd's labels are reverse-DNS: `PREFIX.NAME` (default `org.svc-any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launchd_label_prefix: Option<String>,
    /// The file it was read from, for the marker line; `None` for the quick form.
    pub source: Option<PathBuf>,
    /// `[export]`: what only a container needs (`svc-any export`); every backend ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<crate::model::export::Export>,
}

/// The placeholder replaced by the instance name in every string of an instanced service.
pub const INSTANCE_PLACEHOLDER: &str = "{instance}";

impl Service {
    /// Exit codes that mean "stopped cleanly": 128 + the stop signal, plus the configured ones.
    /// A JVM (or a shell with a TERM trap) exits 143 when stopped with SIGTERM; without this the
    /// manager would call a clean stop a failure.
    pub fn clean_exit_codes(&self) -> Vec<u8> {
        let mut codes: BTreeSet<u8> = self.success_exit_codes.iter().copied().collect();
        codes.insert(self.stop_signal.exit_code());
        codes.into_iter().collect()
    }

    /// The definition one instance runs with: `{instance}` replaced in every string the process
    /// sees (argv, environment, directory, env_file, log file).
    pub fn for_instance(&self, instance: Option<&str>) -> Service {
        let Some(i) = instance else {
            return self.clone();
        };
        let sub = |s: &String| s.replace(INSTANCE_PLACEHOLDER, i);
        let mut out = self.clone();
        out.exec = self.exec.iter().map(sub).collect();
        out.env = self.env.iter().map(|(k, v)| (k.clone(), sub(v))).collect();
        out.working_dir = self.working_dir.as_ref().map(sub);
        out.env_file = self.env_file.as_ref().map(sub);
        if let Some(log) = &mut out.log {
            log.file = sub(&log.file);
        }
        out
    }

    /// The instance names, or a single `None` for a service without instances.
    pub fn instance_names(&self) -> Vec<Option<&str>> {
        if self.instances.is_empty() {
            vec![None]
        } else {
            self.instances.iter().map(|i| Some(i.as_str())).collect()
        }
    }
}

/// A file's worth of services, and the groups it declares.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub services: BTreeMap<String, Service>,
    pub groups: BTreeMap<String, Vec<String>>,
}

/// The defaults that apply where a key is absent.
pub mod defaults {
    use std::time::Duration;
    pub const RESTART_DELAY: Duration = Duration::from_secs(1);
    pub const RESTART_MAX_DELAY: Duration = Duration::from_secs(60);
    /// systemd's own defaults (StartLimitBurst=5 in StartLimitIntervalSec=10s), on every backend.
    pub const RESTART_LIMIT: u32 = 5;
    pub const RESTART_LIMIT_INTERVAL: Duration = Duration::from_secs(10);
    pub const STOP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(30);
    pub const LOG_KEEP: u32 = 5;
}

// ---------------------------------------------------------------------------------------------
// Raw, span-carrying form
// ---------------------------------------------------------------------------------------------

/// Every key a service table may hold; used for did-you-mean.
pub const SERVICE_KEYS: &[&str] = &[
    "name",
    "description",
    "exec",
    "user",
    "group",
    "working_dir",
    "env",
    "env_file",
    "restart",
    "restart_delay",
    "restart_max_delay",
    "restart_limit",
    "restart_limit_interval",
    "stop_signal",
    "stop_timeout",
    "reload_signal",
    "success_exit_codes",
    "after",
    "requires",
    "limits",
    "log",
    "health",
    "instances",
    "level",
    "launchd",
    "export",
];

type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawService {
    name: Option<S<String>>,
    description: Option<S<String>>,
    exec: Option<S<Vec<S<String>>>>,
    user: Option<S<String>>,
    group: Option<S<String>>,
    working_dir: Option<S<String>>,
    env: Option<BTreeMap<S<String>, S<String>>>,
    env_file: Option<S<String>>,
    restart: Option<S<String>>,
    restart_delay: Option<S<toml::Value>>,
    restart_max_delay: Option<S<toml::Value>>,
    restart_limit: Option<S<i64>>,
    restart_limit_interval: Option<S<toml::Value>>,
    stop_signal: Option<S<String>>,
    stop_timeout: Option<S<toml::Value>>,
    reload_signal: Option<S<String>>,
    success_exit_codes: Option<S<Vec<S<i64>>>>,
    after: Option<S<Vec<S<String>>>>,
    requires: Option<S<Vec<S<String>>>>,
    limits: Option<RawLimits>,
    log: Option<RawLog>,
    health: Option<RawHealth>,
    instances: Option<S<Vec<S<String>>>>,
    level: Option<S<String>>,
    launchd: Option<RawLaunchd>,
    export: Option<crate::model::export::RawExport>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLaunchd {
    label_prefix: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    nofile: Option<S<toml::Value>>,
    nproc: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    file: Option<S<String>>,
    max_size: Option<S<toml::Value>>,
    keep: Option<S<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    tcp: Option<S<String>>,
    http: Option<S<String>>,
    exec: Option<S<Vec<S<String>>>>,
    timeout: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProject {
    services: BTreeMap<String, RawService>,
    #[serde(default)]
    groups: BTreeMap<String, S<Vec<S<String>>>>,
}

// ---------------------------------------------------------------------------------------------
// Locating errors in the source
// ---------------------------------------------------------------------------------------------

/// The text being parsed and what to call it in messages.
pub struct Source<'a> {
    /// `demo.toml`, or `<command line>` for the quick form.
    pub label: String,
    pub text: &'a str,
    pub path: Option<PathBuf>,
}

impl Source<'_> {
    /// `label:line:col` of a byte offset (1-based, columns in characters).
    fn locate(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{}:{}", self.label, line, col)
    }

    fn error(&self, span: Range<usize>, key: &str, message: impl Into<String>) -> BadInput {
        bad(message).at(self.locate(span.start)).key(key)
    }

    /// The key on the line of `offset` (`key = value`), under the `[table]` it is in
    /// (`env.A`), for messages from the TOML parser.
    fn key_on_line(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"');
        if key.is_empty() || key.starts_with('[') {
            return None;
        }
        let table = self.text[..start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && !l.starts_with("[["))
            .map(|l| l.trim_start_matches('[').trim_end_matches(']').trim());
        Some(match table {
            Some(t) if !t.is_empty() => format!("{t}.{key}"),
            _ => key.to_string(),
        })
    }
}

impl Source<'_> {
    /// `label:line:col` of the value `key` names (`exec[1]`, `env.FOO`, `log.file`; the last
    /// part may list alternatives, `services.a.after/requires`), or of the innermost enclosing
    /// value the file has (the `[log]` that lacks `file`). For complaints made after parsing,
    /// when the spans are gone.
    pub fn locate_key(&self, key: &str) -> Option<String> {
        let doc = toml::de::DeTable::parse(self.text).ok()?;
        let (stem, last) = match key.rsplit_once('.') {
            Some((stem, last)) => (format!("{stem}."), last),
            None => (String::new(), key),
        };
        let found: Vec<(bool, Range<usize>)> = last
            .split('/')
            .filter_map(|alt| find_value(doc.get_ref(), &format!("{stem}{alt}")))
            .collect();
        let (_, span) = found
            .iter()
            .find(|(whole, _)| *whole)
            .or(found.first())?
            .clone();
        Some(self.locate(span.start))
    }

    /// Gives a complaint without a line (made after parsing) the line of its key; `prefix`
    /// leads to the service's table (`services.NAME.`) in a file of several.
    fn place(&self, mut err: BadInput, prefix: &str) -> BadInput {
        let unplaced = err.location.as_deref().is_none_or(|l| l == self.label);
        if let (true, Some(key)) = (unplaced, &err.key) {
            let key = match key.starts_with("services.") {
                true => key.clone(),
                false => format!("{prefix}{key}"),
            };
            err.location = Some(self.locate_key(&key).unwrap_or_else(|| self.label.clone()));
        }
        err
    }
}

/// The span of the value at `key` (`a.b[2].c`): whether the whole key was found, and the span
/// of the innermost value reached. Table keys may hold dots (service names do): the longest
/// key that fits is taken.
fn find_value(table: &toml::de::DeTable, key: &str) -> Option<(bool, Range<usize>)> {
    let (name, value) = table
        .iter()
        .filter(|(k, _)| {
            let k: &str = k.get_ref();
            key == k
                || key
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
        .max_by_key(|(k, _)| k.get_ref().len())?;
    let mut rest = &key[name.get_ref().len()..];
    let mut value = value;
    while let Some(after) = rest.strip_prefix('[') {
        let (index, tail) = after.split_once(']')?;
        let item = index
            .parse::<usize>()
            .ok()
            .and_then(|i| value.get_ref().as_array()?.get(i));
        match item {
            Some(item) => value = item,
            None => return Some((false, value.span())),
        }
        rest = tail;
    }
    match rest.strip_prefix('.') {
        None => Some((rest.is_empty(), value.span())),
        Some(inner) => match value.get_ref().as_table() {
            Some(t) => find_value(t, inner).or(Some((false, value.span()))),
            None => Some((false, value.span())),
        },
    }
}

/// Where `err`, a backend's refusal of a value (it names the key, not the line), sits in the
/// definition file `service` was read from.
pub fn place_in_definition(service: &Service, err: BadInput) -> BadInput {
    let Some(path) = &service.source else {
        return err;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return err;
    };
    let src = Source {
        label: path.display().to_string(),
        text: &text,
        path: None,
    };
    let in_project = text
        .lines()
        .any(|l| l.trim_start().starts_with("[services."));
    let prefix = match in_project {
        true => format!("services.{}.", service.name),
        false => String::new(),
    };
    src.place(err, &prefix)
}

/// Turns a serde/TOML error into a located message, with a suggestion for a misspelt key.
fn toml_error(src: &Source, err: toml::de::Error) -> BadInput {
    let message = err.message().trim().to_string();
    let offset = err.span().map_or(0, |s| s.start);
    let mut out = bad(message.clone()).at(src.locate(offset));
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected: Vec<&str> = message
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        out = out.key(unknown);
        out.message = format!("unknown key `{unknown}`");
        out.hint = Some(match did_you_mean(unknown, &expected) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("known keys here: {}", expected.join(", ")),
        });
    } else if let Some(key) = src.key_on_line(offset) {
        out = out.key(key);
    }
    if out.message.starts_with("invalid type") {
        out.hint =
            Some("check the value's type: strings are quoted, lists are [\"a\", \"b\"]".into());
    }
    out
}

/// The closest candidate within a small edit distance.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // A cut-short word (`on-fail`) is as likely a slip as a typo.
    if word.len() >= 3 {
        if let Some(c) = candidates.iter().find(|c| c.starts_with(word)) {
            return Some(c);
        }
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// What the parser needs to know about the target host.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The level to use when the file does not say (`--user`, or not root).
    pub default_level: Level,
    /// Force this level (the `--user` flag); a file that says otherwise is an error.
    pub forced_level: Option<Level>,
    /// Checks that a named user or group exists; `None` skips the check (e.g. `render`).
    pub accounts: Option<crate::system::accounts::Accounts>,
}

/// Parses a file that holds one service (`NAME.toml`, `name` optional) or several
/// (`[services.NAME]`, plus `[groups]`).
pub fn parse(
    src: &Source,
    fallback_name: Option<&str>,
    opts: &ParseOptions,
) -> Result<Project, BadInput> {
    let table: toml::Table = toml::from_str(src.text).map_err(|e| toml_error(src, e))?;
    let mut project = Project::default();
    if table.contains_key("services") {
        let raw: RawProject = toml::from_str(src.text).map_err(|e| toml_error(src, e))?;
        for (name, raw_service) in raw.services {
            let service = validate(src, raw_service, Some(&name), opts)
                .map_err(|e| src.place(e, &format!("services.{name}.")))?;
            if service.name != name {
                return Err(src
                    .place(
                        bad(format!("service `{name}` sets name = \"{}\"", service.name))
                            .key(format!("services.{name}.name")),
                        "",
                    )
                    .hint("drop `name`: in svc-any.toml the table key is the name"));
            }
            project.services.insert(name, service);
        }
        for (group, members) in raw.groups {
            check_name(&group).map_err(|m| src.error(members.span(), "groups", m))?;
            if project.services.contains_key(&group) {
                return Err(src
                    .error(
                        members.span(),
                        &format!("groups.{group}"),
                        format!("`{group}` names both a service and a group"),
                    )
                    .hint("`svc-any start NAME` must mean one thing: rename the group"));
            }
            let mut names = Vec::new();
            for member in members.into_inner() {
                if !project.services.contains_key(member.get_ref()) {
                    return Err(src
                        .error(
                            member.span(),
                            &format!("groups.{group}"),
                            format!("no service `{}` in this file", member.get_ref()),
                        )
                        .hint("a group lists services defined under [services.NAME]"));
                }
                names.push(member.into_inner());
            }
            for member in &names {
                if let Some(service) = project.services.get_mut(member) {
                    if !service.groups.contains(&group) {
                        service.groups.push(group.clone());
                    }
                }
            }
            project.groups.insert(group, names);
        }
    } else {
        let raw: RawService = toml::from_str(src.text).map_err(|e| toml_error(src, e))?;
        let service = validate(src, raw, fallback_name, opts).map_err(|e| src.place(e, ""))?;
        project.services.insert(service.name.clone(), service);
    }
    check_dependency_cycles(&project).map_err(|e| src.place(e, ""))?;
    Ok(project)
}

fn validate(
    src: &Source,
    raw: RawService,
    fallback_name: Option<&str>,
    opts: &ParseOptions,
) -> Result<Service, BadInput> {
    let name = match (&raw.name, fallback_name) {
        (Some(n), _) => {
            check_name(n.get_ref()).map_err(|m| src.error(n.span(), "name", m))?;
            n.get_ref().clone()
        }
        (None, Some(n)) => {
            check_name(n).map_err(|m| bad(m).at(src.label.clone()).key("name"))?;
            n.to_string()
        }
        (None, None) => {
            return Err(bad("no service name")
                .at(src.label.clone())
                .key("name")
                .hint("add name = \"NAME\" or name the file NAME.toml"))
        }
    };

    let exec_raw = raw.exec.ok_or_else(|| {
        bad("missing `exec`, the program to run")
            .at(src.label.clone())
            .key("exec")
            .hint("add exec = [\"/absolute/path/to/program\", \"arg\", ...]")
    })?;
    let exec = string_list(src, "exec", exec_raw)?;
    check_argv(src, "exec", &exec)?;

    let level = match (&raw.level, opts.forced_level) {
        (Some(l), forced) => {
            let level = match l.get_ref().as_str() {
                "system" => Level::System,
                "user" => Level::User,
                other => {
                    return Err(src
                        .error(l.span(), "level", format!("unknown level `{other}`"))
                        .hint("use \"system\" or \"user\""))
                }
            };
            if let Some(forced) = forced.filter(|f| *f != level) {
                return Err(src
                    .error(
                        l.span(),
                        "level",
                        format!("the file says {level:?} level, the command line says {forced:?}"),
                    )
                    .hint("drop `level` from the file or the --user flag from the command"));
            }
            level
        }
        (None, Some(forced)) => forced,
        (None, None) => opts.default_level,
    };

    let check_text = |key: &str, v: &Option<S<String>>| -> Result<Option<String>, BadInput> {
        match v {
            None => Ok(None),
            Some(s) => {
                no_nul(s.get_ref()).map_err(|m| src.error(s.span(), key, m))?;
                Ok(Some(s.get_ref().clone()))
            }
        }
    };
    let description =
        check_text("description", &raw.description)?.unwrap_or_else(|| format!("{name} (svc-any)"));
    if description.chars().any(char::is_control) {
        return Err(
            bad("control characters (newline, tab...) are not allowed in a description")
                .at(src.locate(raw.description.as_ref().map_or(0, |d| d.span().start)))
                .key("description"),
        );
    }

    let user = account_key(src, "user", &raw.user, opts, level)?;
    let group = account_key(src, "group", &raw.group, opts, level)?;
    let working_dir = path_key(src, "working_dir", &raw.working_dir)?;
    let env_file = path_key(src, "env_file", &raw.env_file)?;

    let mut env = BTreeMap::new();
    for (k, v) in raw.env.unwrap_or_default() {
        let key = format!("env.{}", k.get_ref());
        check_env_name(k.get_ref()).map_err(|m| {
            src.error(k.span(), &key, m)
                .hint("environment names are letters, digits and _, not starting with a digit")
        })?;
        no_nul(v.get_ref()).map_err(|m| src.error(v.span(), &key, m))?;
        env.insert(k.into_inner(), v.into_inner());
    }

    let restart = match &raw.restart {
        None => Restart::OnFailure,
        Some(r) => match r.get_ref().as_str() {
            "no" => Restart::No,
            "on-failure" => Restart::OnFailure,
            "always" => Restart::Always,
            other => {
                let hint = match did_you_mean(other, &["no", "on-failure", "always"]) {
                    Some(near) => format!(
                        "did you mean \"{near}\"? (one of \"no\", \"on-failure\", \"always\")"
                    ),
                    None => "use \"no\", \"on-failure\" or \"always\"".to_string(),
                };
                return Err(src
                    .error(
                        r.span(),
                        "restart",
                        format!("unknown restart policy `{other}`"),
                    )
                    .hint(hint));
            }
        },
    };
    let restart_delay =
        duration_key(src, "restart_delay", &raw.restart_delay)?.unwrap_or(defaults::RESTART_DELAY);
    let restart_max_delay = duration_key(src, "restart_max_delay", &raw.restart_max_delay)?
        .unwrap_or(defaults::RESTART_MAX_DELAY.max(restart_delay));
    if restart_max_delay < restart_delay {
        let span = raw.restart_max_delay.as_ref().map_or(0..0, |s| s.span());
        return Err(src
            .error(
                span,
                "restart_max_delay",
                "restart_max_delay is shorter than restart_delay",
            )
            .hint("the backoff grows from restart_delay up to restart_max_delay"));
    }
    let restart_limit = match &raw.restart_limit {
        None => defaults::RESTART_LIMIT,
        Some(n) => u32::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or_else(|| {
                src.error(
                    n.span(),
                    "restart_limit",
                    format!("{} is not a restart count", n.get_ref()),
                )
                .hint("a count from 0 (never give up) to 10000")
            })?,
    };
    let restart_limit_interval =
        duration_key(src, "restart_limit_interval", &raw.restart_limit_interval)?
            .unwrap_or(defaults::RESTART_LIMIT_INTERVAL);
    if restart_limit_interval.is_zero() {
        let span = raw
            .restart_limit_interval
            .as_ref()
            .map_or(0..0, |s| s.span());
        return Err(src
            .error(span, "restart_limit_interval", "the interval is zero")
            .hint("give a duration such as \"10s\", or restart_limit = 0 to never give up"));
    }
    let stop_timeout =
        duration_key(src, "stop_timeout", &raw.stop_timeout)?.unwrap_or(defaults::STOP_TIMEOUT);
    let stop_signal = signal_key(src, "stop_signal", &raw.stop_signal)?.unwrap_or(Signal::TERM);
    let reload_signal = signal_key(src, "reload_signal", &raw.reload_signal)?;

    let mut success_exit_codes = Vec::new();
    if let Some(codes) = raw.success_exit_codes {
        for code in codes.into_inner() {
            let value = *code.get_ref();
            let ok = u8::try_from(value).map_err(|_| {
                src.error(
                    code.span(),
                    "success_exit_codes",
                    format!("{value} is not an exit code"),
                )
                .hint("exit codes are 0 to 255")
            })?;
            success_exit_codes.push(ok);
        }
    }

    let after = dependency_list(src, "after", raw.after, &name)?;
    let requires = dependency_list(src, "requires", raw.requires, &name)?;

    let limits = match raw.limits {
        None => Limits::default(),
        Some(l) => Limits {
            nofile: limit_key(src, "limits.nofile", &l.nofile)?,
            nproc: limit_key(src, "limits.nproc", &l.nproc)?,
        },
    };

    let log = match raw.log {
        None => None,
        Some(l) => {
            let file = path_key(src, "log.file", &l.file)?.ok_or_else(|| {
                bad("a [log] table needs `file`")
                    .at(src.label.clone())
                    .key("log.file")
                    .hint("add file = \"/var/log/NAME.log\", or drop [log] to use the manager's own log")
            })?;
            let max_size = match &l.max_size {
                None => None,
                Some(v) => Some(
                    crate::model::duration::parse_size(v.get_ref()).map_err(|m| {
                        src.error(v.span(), "log.max_size", m)
                            .hint("write a size like \"10M\", \"512K\" or a number of bytes")
                    })?,
                ),
            };
            let keep = match &l.keep {
                None => defaults::LOG_KEEP,
                Some(k) => u32::try_from(*k.get_ref())
                    .ok()
                    .filter(|k| *k <= 1000)
                    .ok_or_else(|| src.error(k.span(), "log.keep", "keep must be 0 to 1000"))?,
            };
            Some(LogSpec {
                file,
                max_size,
                keep,
            })
        }
    };

    let health = match raw.health {
        None => None,
        Some(h) => Some(health_key(src, h)?),
    };

    let instances = match raw.instances {
        None => Vec::new(),
        Some(list) => {
            let span = list.span();
            let names = string_list(src, "instances", list)?;
            if names.is_empty() {
                return Err(src
                    .error(span, "instances", "an empty list of instances")
                    .hint("list instance names, or drop the key"));
            }
            let mut seen = BTreeSet::new();
            for i in &names {
                check_instance_name(i).map_err(|m| src.error(span.clone(), "instances", m))?;
                if !seen.insert(i) {
                    return Err(src.error(
                        span.clone(),
                        "instances",
                        format!("instance `{i}` is listed twice"),
                    ));
                }
            }
            if name.contains('@') {
                return Err(src
                    .error(span, "instances", "a name with `@` cannot have instances")
                    .hint(
                        "drop the `@` from the name: svc-any names instances NAME@INSTANCE itself",
                    ));
            }
            names
        }
    };

    let launchd_label_prefix = match raw.launchd.and_then(|l| l.label_prefix) {
        None => None,
        Some(p) => {
            check_label_prefix(p.get_ref())
                .map_err(|m| src.error(p.span(), "launchd.label_prefix", m))?;
            Some(p.into_inner())
        }
    };

    let export = match raw.export.map(|e| e.validate()).transpose() {
        Ok(export) => export,
        Err(e) => return Err(src.error(e.span, &e.key, e.message).hint(e.hint)),
    };

    let service = Service {
        name,
        description,
        exec,
        user,
        group,
        working_dir,
        env,
        env_file,
        restart,
        restart_delay,
        restart_max_delay,
        restart_limit,
        restart_limit_interval,
        stop_signal,
        stop_timeout,
        reload_signal,
        success_exit_codes,
        after,
        requires,
        limits,
        log,
        health,
        instances,
        level,
        groups: Vec::new(),
        launchd_label_prefix,
        source: src.path.clone(),
        export,
    };
    check_placeholders(&service)?;
    Ok(service)
}

// ---------------------------------------------------------------------------------------------
// Field checks
// ---------------------------------------------------------------------------------------------

/// A reverse-DNS prefix for launchd labels: dot-separated words of letters, digits and `-`.
fn check_label_prefix(prefix: &str) -> Result<(), String> {
    let word_ok = |w: &str| {
        !w.is_empty()
            && w.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if prefix.len() > 128 || !prefix.split('.').all(word_ok) {
        return Err(format!(
            "`{}` is not a reverse-DNS prefix: write dot-separated words of letters, digits, `-` and `_`, like \"com.example\"",
            prefix.escape_debug()
        ));
    }
    Ok(())
}

/// Systemd unit suffixes: a service name ending in one would make a confusing unit name.
const UNIT_SUFFIXES: &[&str] = &[
    ".service", ".target", ".socket", ".timer", ".mount", ".path", ".slice", ".scope", ".device",
    ".swap",
];

/// A service or group name: `[A-Za-z0-9][A-Za-z0-9_.@-]*`, at most 64 characters, never a path.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".into());
    }
    if name.len() > 64 {
        return Err(format!(
            "the name is {} characters long; the limit is 64",
            name.len()
        ));
    }
    let mut chars = name.chars();
    let first = chars.next().unwrap_or(' ');
    if !first.is_ascii_alphanumeric() {
        return Err(format!(
            "the name `{}` must start with a letter or digit",
            name.escape_debug()
        ));
    }
    if let Some(badc) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "_.@-".contains(*c)))
    {
        return Err(format!(
            "the name `{}` holds `{}`; a name is letters, digits and _ . @ - only (never a path)",
            name.escape_debug(),
            badc.escape_debug()
        ));
    }
    if let Some(suffix) = UNIT_SUFFIXES.iter().find(|s| name.ends_with(*s)) {
        return Err(format!(
            "the name `{name}` ends in `{suffix}`; give the bare service name"
        ));
    }
    Ok(())
}

fn check_instance_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !name.starts_with(['.', '-']);
    if ok {
        Ok(())
    } else {
        Err(format!(
            "instance `{}`: instance names are 1-32 letters, digits, _ . - (not starting with . or -)",
            name.escape_debug()
        ))
    }
}

/// A portable environment variable name, safe in every backend's dialect.
pub fn check_env_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid environment variable name",
            name.escape_debug()
        ))
    }
}

/// The kernel's limit on one argument or environment string, NUL included (MAX_ARG_STRLEN).
pub const MAX_ARG_BYTES: usize = 128 * 1024;

/// What every backend needs of a string that reaches a process: no NUL, and short enough for
/// execve(2) to accept.
fn no_nul(value: &str) -> Result<(), String> {
    if value.contains('\0') {
        Err("a NUL byte cannot reach a process (argv and environment strings end at NUL)".into())
    } else if value.len() >= MAX_ARG_BYTES {
        Err(format!(
            "{} bytes is more than the kernel passes in one argument or environment string ({} at most)",
            value.len(),
            MAX_ARG_BYTES - 1
        ))
    } else {
        Ok(())
    }
}

fn string_list(src: &Source, key: &str, list: S<Vec<S<String>>>) -> Result<Vec<String>, BadInput> {
    let mut out = Vec::new();
    for item in list.into_inner() {
        no_nul(item.get_ref()).map_err(|m| src.error(item.span(), key, m))?;
        out.push(item.into_inner());
    }
    Ok(out)
}

fn check_argv(src: &Source, key: &str, argv: &[String]) -> Result<(), BadInput> {
    let Some(program) = argv.first() else {
        return Err(bad("the program list is empty")
            .at(src.label.clone())
            .key(key)
            .hint("give the program and its arguments: [\"/usr/bin/prog\", \"--flag\"]"));
    };
    check_absolute(program).map_err(|m| {
        bad(format!("the program `{}` {m}", program.escape_debug()))
            .at(src.label.clone())
            .key(format!("{key}[0]"))
            .hint("give the full path, e.g. `command -v PROG` tells where it is")
    })
}

/// An absolute, normalized path: starts with `/`, no `.` or `..` components, no control
/// characters. Managers either reject or silently rewrite anything else.
pub fn check_absolute(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("is not an absolute path".into());
    }
    if path.chars().any(char::is_control) {
        return Err("holds a control character".into());
    }
    if Path::new(path)
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::CurDir))
        || path.split('/').any(|c| c == "." || c == "..")
    {
        return Err("holds a `.` or `..` component".into());
    }
    Ok(())
}

fn path_key(src: &Source, key: &str, v: &Option<S<String>>) -> Result<Option<String>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let path = v.get_ref();
    check_absolute(path).map_err(|m| {
        src.error(v.span(), key, format!("`{}` {m}", path.escape_debug()))
            .hint("give an absolute path such as /srv/app")
    })?;
    if path.ends_with(char::is_whitespace) {
        return Err(src.error(
            v.span(),
            key,
            "the path ends in white space, which managers strip",
        ));
    }
    Ok(Some(path.clone()))
}

fn account_key(
    src: &Source,
    key: &str,
    v: &Option<S<String>>,
    opts: &ParseOptions,
    level: Level,
) -> Result<Option<String>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let name = v.get_ref();
    if level == Level::User {
        return Err(src
            .error(
                v.span(),
                key,
                "a user-level service always runs as the user who installs it",
            )
            .hint(format!("drop `{key}`, or install at system level as root")));
    }
    let numeric = !name.is_empty() && name.chars().all(|c| c.is_ascii_digit());
    let portable = {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            && name.len() <= 31
    };
    if !numeric && !portable {
        return Err(src
            .error(v.span(), key, format!("`{}` is not a valid {key} name", name.escape_debug()))
            .hint("names are lower-case letters, digits, _ and -, starting with a letter or _ (or a numeric id)"));
    }
    if let Some(accounts) = &opts.accounts {
        let exists = if key == "user" {
            accounts.user_exists(name)
        } else {
            accounts.group_exists(name)
        };
        if !exists {
            return Err(src
                .error(v.span(), key, format!("no {key} `{name}` on this system"))
                .hint(format!(
                    "create it first (e.g. `useradd --system {name}`), or fix the name"
                )));
        }
    }
    Ok(Some(name.clone()))
}

fn duration_key(
    src: &Source,
    key: &str,
    v: &Option<S<toml::Value>>,
) -> Result<Option<Duration>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let hint = "write a duration as a string with a unit: \"500ms\", \"1s\", \"2m\"";
    match v.get_ref() {
        toml::Value::String(s) => crate::model::duration::parse_duration(s)
            .map(Some)
            .map_err(|m| src.error(v.span(), key, m).hint(hint)),
        other => Err(src
            .error(
                v.span(),
                key,
                format!("expected a duration string, found {}", other.type_str()),
            )
            .hint(hint)),
    }
}

fn signal_key(src: &Source, key: &str, v: &Option<S<String>>) -> Result<Option<Signal>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    Signal::from_name(v.get_ref()).map(Some).ok_or_else(|| {
        src.error(
            v.span(),
            key,
            format!("unknown signal `{}`", v.get_ref().escape_debug()),
        )
        .hint(format!("use one of {}", Signal::names().join(", ")))
    })
}

fn limit_key(
    src: &Source,
    key: &str,
    v: &Option<S<toml::Value>>,
) -> Result<Option<Limit>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    let hint = "a limit is a positive number or \"infinity\"";
    match v.get_ref() {
        toml::Value::Integer(n) if *n > 0 => Ok(Some(Limit::Value(*n as u64))),
        toml::Value::String(s) if s == "infinity" || s == "unlimited" => Ok(Some(Limit::Infinity)),
        _ => Err(src
            .error(v.span(), key, format!("`{}` is not a limit", v.get_ref()))
            .hint(hint)),
    }
}

fn health_key(src: &Source, h: RawHealth) -> Result<Health, BadInput> {
    let timeout =
        duration_key(src, "health.timeout", &h.timeout)?.unwrap_or(defaults::HEALTH_TIMEOUT);
    let given = [h.tcp.is_some(), h.http.is_some(), h.exec.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        return Err(bad(format!(
            "[health] needs exactly one of tcp, http, exec (found {given})"
        ))
        .at(src.label.clone())
        .key("health")
        .hint("e.g. tcp = \"127.0.0.1:8080\" or http = \"http://127.0.0.1:8080/health\""));
    }
    let check = if let Some(tcp) = h.tcp {
        crate::system::health::parse_tcp_target(tcp.get_ref())
            .map_err(|m| src.error(tcp.span(), "health.tcp", m))?;
        HealthCheck::Tcp(tcp.into_inner())
    } else if let Some(http) = h.http {
        crate::system::health::parse_http_url(http.get_ref())
            .map_err(|m| src.error(http.span(), "health.http", m))?;
        HealthCheck::Http(http.into_inner())
    } else {
        let argv = string_list(src, "health.exec", h.exec.expect("counted above"))?;
        check_argv(src, "health.exec", &argv)?;
        HealthCheck::Exec(argv)
    };
    Ok(Health { check, timeout })
}

fn dependency_list(
    src: &Source,
    key: &str,
    v: Option<S<Vec<S<String>>>>,
    own: &str,
) -> Result<Vec<String>, BadInput> {
    let Some(list) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in list.into_inner() {
        let dep = item.get_ref();
        // A native unit name (`network-online.target`) passes through to managers that have it.
        let bare = UNIT_SUFFIXES
            .iter()
            .find_map(|s| dep.strip_suffix(s))
            .unwrap_or(dep);
        check_name(bare).map_err(|m| src.error(item.span(), key, m))?;
        if bare == own {
            return Err(src.error(item.span(), key, format!("`{own}` cannot depend on itself")));
        }
        out.push(item.into_inner());
    }
    Ok(out)
}

/// Every string that may carry `{instance}`; it must appear only in instanced services, and a
/// near-miss like `{instanse}` is a typo, not text to pass through.
fn check_placeholders(service: &Service) -> Result<(), BadInput> {
    let mut fields: Vec<(String, &str)> = Vec::new();
    for (i, a) in service.exec.iter().enumerate() {
        fields.push((format!("exec[{i}]"), a));
    }
    for (k, v) in &service.env {
        fields.push((format!("env.{k}"), v));
    }
    fields.push(("description".into(), &service.description));
    for (key, value) in [
        ("working_dir", &service.working_dir),
        ("env_file", &service.env_file),
    ] {
        if let Some(v) = value {
            fields.push((key.into(), v));
        }
    }
    let log_file;
    if let Some(l) = &service.log {
        log_file = l.file.clone();
        fields.push(("log.file".into(), &log_file));
    }
    for (key, value) in fields {
        for word in braced_words(value) {
            if word == "instance" {
                if service.instances.is_empty() {
                    return Err(bad("uses {instance} but the service has no instances")
                        .key(key)
                        .hint("add instances = [\"1\", \"2\"], or remove {instance}"));
                }
            } else if strsim::damerau_levenshtein(word, "instance") <= 2 {
                return Err(bad(format!("unknown placeholder {{{word}}}"))
                    .key(key)
                    .hint("did you mean {instance}?"));
            }
        }
    }
    Ok(())
}

/// The identifiers written as `{word}` in a string.
fn braced_words(s: &str) -> impl Iterator<Item = &str> {
    s.split('{').skip(1).filter_map(|rest| {
        let (word, _) = rest.split_once('}')?;
        (!word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .then_some(word)
    })
}

/// `after` and `requires` across one file must not loop.
fn check_dependency_cycles(project: &Project) -> Result<(), BadInput> {
    fn visit<'a>(
        name: &'a str,
        project: &'a Project,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Result<(), BadInput> {
        if let Some(pos) = path.iter().position(|p| *p == name) {
            let mut cycle: Vec<&str> = path[pos..].to_vec();
            cycle.push(name);
            return Err(bad(format!("dependency cycle: {}", cycle.join(" -> ")))
                .key(format!("services.{}.after/requires", path[pos]))
                .hint("break the loop: one of these must not wait for the other"));
        }
        if done.contains(name) {
            return Ok(());
        }
        let Some(service) = project.services.get(name) else {
            return Ok(());
        };
        path.push(name);
        for dep in service.after.iter().chain(&service.requires) {
            visit(dep, project, path, done)?;
        }
        path.pop();
        done.insert(name);
        Ok(())
    }
    let mut done = BTreeSet::new();
    for name in project.services.keys() {
        visit(name, project, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

/// Orders services so that each comes after everything it depends on (for start; reverse it for
/// stop). Dependencies outside the set are ignored. Several entries may share a name (the
/// supervisor orders one per instance): each is placed, and a dependency on that name waits for
/// all of them.
pub fn dependency_order<'a>(services: &[&'a Service]) -> Vec<&'a Service> {
    let mut unplaced: BTreeMap<&str, usize> = BTreeMap::new();
    for s in services {
        *unplaced.entry(s.name.as_str()).or_default() += 1;
    }
    let mut placed = vec![false; services.len()];
    let mut out = Vec::new();
    while out.len() < services.len() {
        let before = out.len();
        for (i, s) in services.iter().enumerate() {
            if placed[i] {
                continue;
            }
            let ready = s
                .after
                .iter()
                .chain(&s.requires)
                .all(|d| unplaced.get(d.as_str()).is_none_or(|n| *n == 0));
            if ready {
                placed[i] = true;
                *unplaced.get_mut(s.name.as_str()).unwrap() -= 1;
                out.push(*s);
            }
        }
        if out.len() == before {
            // A cycle cannot pass validation; keep the rest in the given order regardless.
            out.extend(
                services
                    .iter()
                    .zip(&placed)
                    .filter(|(_, p)| !**p)
                    .map(|(s, _)| *s),
            );
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(text: &str) -> Project {
        let src = Source {
            label: "t".into(),
            text,
            path: None,
        };
        let opts = ParseOptions {
            default_level: Level::System,
            forced_level: None,
            accounts: None,
        };
        parse(&src, None, &opts).unwrap()
    }

    #[test]
    fn dependency_order_keeps_every_instance_and_waits_for_all_of_them() {
        let p = project(
            "[services.db]\nexec = [\"/bin/true\"]\ninstances = [\"1\", \"2\"]\n\
             [services.web]\nexec = [\"/bin/true\"]\nafter = [\"db\"]\ninstances = [\"a\", \"b\"]\n",
        );
        // One entry per instance, as the supervisor orders its units, dependants first.
        let units: Vec<Service> = ["web", "web", "db", "db"]
            .iter()
            .map(|n| p.services[*n].clone())
            .collect();
        let refs: Vec<&Service> = units.iter().collect();
        let order: Vec<&str> = dependency_order(&refs)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        assert_eq!(order, ["db", "db", "web", "web"]);
    }
}
