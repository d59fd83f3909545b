//! Finding the definitions a command names: the quick form after `--`, `-f FILE`,
//! `./NAME.toml`, `./svc-any.toml`, `/etc/svc-any/NAME.toml`.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::args::{Cli, Definition};
use super::resolve::flag_level;
use crate::model::error::bad;
use crate::model::spec::{self, Level, ParseOptions, Project, Service, Source};
use crate::system::accounts::Accounts;

/// Refuses a name that could never be a service (a path, a space): bad input, exit 2.
pub fn check_names(names: &[String]) -> Result<()> {
    for name in names {
        spec::check_name(name).map_err(|m| bad(m).key("NAME"))?;
    }
    Ok(())
}

fn parse_options(cli: &Cli, accounts: Option<Accounts>) -> ParseOptions {
    ParseOptions {
        default_level: flag_level(cli),
        forced_level: cli.user.then_some(Level::User),
        accounts: accounts.map(|a| Box::new(a) as Box<dyn spec::AccountDb>),
    }
}

/// The services a command names: from the quick form, `-f FILE`, `./NAME.toml`,
/// `./svc-any.toml` or `/etc/svc-any/NAME.toml`, in that order.
pub fn load_definitions(
    cli: &Cli,
    def: &Definition,
    accounts: Option<Accounts>,
) -> Result<Vec<Service>> {
    let opts = parse_options(cli, accounts);
    if !def.argv.is_empty() {
        return quick_form(def, &opts);
    }
    let quick_flags = def.user_name.is_some()
        || !def.env.is_empty()
        || def.workdir.is_some()
        || def.restart.is_some();
    if quick_flags {
        return Err(bad("--user-name, --env, --workdir and --restart belong to the quick form")
            .hint("add `-- /absolute/program args...` after them, or put the keys in the definition file")
            .into());
    }
    if let Some(name) = &def.name {
        spec::check_name(name).map_err(|m| bad(m).key("NAME"))?;
    }
    let file = match (&def.file, &def.name) {
        (Some(f), _) => f.clone(),
        (None, Some(name)) => {
            let candidates = [
                PathBuf::from(format!("{name}.toml")),
                PathBuf::from("svc-any.toml"),
                PathBuf::from(format!("/etc/svc-any/{name}.toml")),
            ];
            match candidates.iter().find(|c| c.is_file()) {
                Some(found) => match std::fs::File::open(found) {
                    // Another user's private file (/etc/svc-any/NAME.toml, 0600): what was
                    // installed from it is still known, its values hidden unless they are ours.
                    Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                        match installed_definitions(cli, name)? {
                            Some(services) => {
                                eprintln!(
                                    "svc-any: warning: cannot read {}: {e}; using the definition installed from it",
                                    found.display()
                                );
                                return Ok(services);
                            }
                            None => found.clone(),
                        }
                    }
                    _ => found.clone(),
                },
                // Installed earlier from a file that is not here: its record knows it.
                None => match installed_definitions(cli, name)? {
                    Some(services) => return Ok(services),
                    None => {
                        return Err(bad(format!("no definition for `{name}`"))
                            .hint(format!(
                                "looked for {}, and it is not installed; pass -f FILE, or give the program after `--`",
                                candidates
                                    .iter()
                                    .map(|c| c.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ))
                            .into())
                    }
                },
            }
        }
        (None, None) => {
            return Err(bad("name a service, or give -f FILE")
                .hint("e.g. `svc-any install demo` reads ./demo.toml")
                .into())
        }
    };
    let text = read_definition_file(&file)?;
    let stem = file
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| *s != "svc-any")
        .map(String::from);
    let absolute = std::fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
    let src = Source {
        label: file.display().to_string(),
        text: &text,
        path: Some(absolute),
    };
    // `install web -f anything.toml`: the name on the command line names a one-service file.
    let fallback = def.name.clone().or(stem);
    let project = spec::parse(&src, fallback.as_deref(), &opts)?;
    select(project, def.name.as_deref(), &file)
}

/// The named service or group from a project, or all of it.
fn select(mut project: Project, name: Option<&str>, file: &Path) -> Result<Vec<Service>> {
    let Some(name) = name else {
        return Ok(project.services.into_values().collect());
    };
    if let Some(service) = project.services.remove(name) {
        return Ok(vec![service]);
    }
    if let Some(members) = project.groups.get(name) {
        return Ok(members
            .iter()
            .filter_map(|m| project.services.get(m).cloned())
            .collect());
    }
    Err(bad(format!(
        "{} defines no service or group `{name}`",
        file.display()
    ))
    .hint(format!(
        "it defines: {}",
        project
            .services
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .into())
}

/// `svc-any install NAME [--user-name U] [--env K=V] [--workdir D] [--restart R] -- PROG ARGS`,
/// validated by the same parser as a file, so the same checks and messages apply.
fn quick_form(def: &Definition, opts: &ParseOptions) -> Result<Vec<Service>> {
    let name = def
        .name
        .clone()
        .ok_or_else(|| bad("the quick form needs a NAME before `--`").key("NAME"))?;
    let mut table = toml::Table::new();
    table.insert("name".into(), name.clone().into());
    table.insert(
        "exec".into(),
        toml::Value::Array(def.argv.iter().map(|a| a.clone().into()).collect()),
    );
    if let Some(u) = &def.user_name {
        table.insert("user".into(), u.clone().into());
    }
    if let Some(w) = &def.workdir {
        table.insert("working_dir".into(), w.clone().into());
    }
    if let Some(r) = &def.restart {
        table.insert("restart".into(), r.clone().into());
    }
    let mut env = toml::Table::new();
    for kv in &def.env {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| bad(format!("--env {kv} is not KEY=VALUE")).key("--env"))?;
        env.insert(k.to_string(), v.into());
    }
    if !env.is_empty() {
        table.insert("env".into(), env.into());
    }
    let text = toml::to_string(&table).context("encoding the quick form")?;
    let src = Source {
        label: "<command line>".into(),
        text: &text,
        path: None,
    };
    let parsed = spec::parse(&src, Some(&name), opts).map_err(|mut e| {
        // The text parsed was made from flags: point at the flag, not at a line of it.
        let key = e.key.clone().unwrap_or_default();
        let flag = match key.split(['.', '[']).next().unwrap_or_default() {
            "exec" => "the program after `--`",
            "user" | "group" => "--user-name",
            "working_dir" => "--workdir",
            "restart" => "--restart",
            "env" => "--env",
            _ => "the command line",
        };
        e.location = Some(format!("command line, {flag}"));
        e
    })?;
    Ok(parsed.services.into_values().collect())
}

/// No definition is anywhere near this size; a larger file (or `/dev/zero`) is a mistake, and
/// reading it whole would never end.
const MAX_DEFINITION_BYTES: u64 = 1 << 20;

fn read_definition_file(file: &Path) -> Result<String> {
    use std::io::Read;
    let cannot = |e: std::io::Error| bad(format!("cannot read {}: {e}", file.display()));
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .map_err(cannot)?
        .take(MAX_DEFINITION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_DEFINITION_BYTES {
        return Err(bad(format!(
            "{} is larger than {} KiB: not a definition",
            file.display(),
            MAX_DEFINITION_BYTES >> 10
        ))
        .hint("pass the service's NAME.toml or svc-any.toml")
        .into());
    }
    String::from_utf8(bytes).map_err(|_| {
        bad(format!("{} is not UTF-8 text", file.display()))
            .hint("a definition is a TOML file")
            .into()
    })
}

/// The definitions of an installed service (or of every member of an installed group), from
/// the records install left: `render NAME` and `install NAME --dry-run` work without the file.
/// A user's own services first; then, unless `--user` said so, the system's, whose records
/// every user may read. Where the caller may not read a record's `env` values, they read
/// `(hidden)` ([`Service::env_hidden`]).
fn installed_definitions(cli: &Cli, name: &str) -> Result<Option<Vec<Service>>> {
    let mut levels = vec![flag_level(cli)];
    if levels[0] == Level::User && !cli.user {
        levels.push(Level::System);
    }
    let last = levels.len() - 1;
    for (i, level) in levels.into_iter().enumerate() {
        match installed_at(cli, level, name) {
            Ok(None) => continue,
            // Own records the user may not read (`su` keeps root's HOME) hold nothing of theirs.
            Err(e) if i < last && crate::system::files::is_permission_denied(&e) => continue,
            found => return found,
        }
    }
    Ok(None)
}

/// [`installed_definitions`] at one level: `None` unless every member is installed there.
fn installed_at(cli: &Cli, level: Level, name: &str) -> Result<Option<Vec<Service>>> {
    let ctx = super::resolve::context(cli, level, None)?;
    let names = crate::engine::expand_groups(&ctx, &[name.to_string()])?;
    let mut services = Vec::new();
    for n in names {
        match crate::system::records::load(&ctx, &n)? {
            Some(r) => services.push(r.service),
            None => return Ok(None),
        }
    }
    Ok(Some(services))
}
