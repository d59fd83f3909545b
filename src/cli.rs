//! The command line: parse, find the definitions and the backend, run one verb, map the result
//! to DESIGN.md's exit codes (0 ok, 1 failed, 2 bad input; `status` follows LSB).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

use crate::accounts::Accounts;
use crate::backends::{self, AnyBackend, Backend, LogOptions, Verb};
use crate::detect::{self, Detection};
use crate::engine::{self, InstallOptions};
use crate::error::{bad, exit_code, BadInput};
use crate::host::{self, Ctx};
use crate::render::Renderer;
use crate::spec::{self, Level, ParseOptions, Project, Service, Source};
use crate::{state, status};

#[derive(Parser, Debug)]
#[command(
    name = "svc-any",
    version,
    about = "One service definition, every init system",
    max_term_width = 100
)]
struct Cli {
    /// Use this backend instead of the detected one.
    #[arg(long, global = true, env = "SVC_ANY_BACKEND", value_name = "NAME")]
    backend: Option<String>,
    /// Act on the invoking user's own service manager.
    #[arg(long, global = true)]
    user: bool,
    /// Print only errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    /// Print the manager commands svc-any runs.
    #[arg(short, long, global = true)]
    verbose: bool,
    /// Templates here (NAME.tera) replace the built-in ones.
    #[arg(long, global = true, env = "SVC_ANY_TEMPLATE_DIR", value_name = "DIR")]
    template_dir: Option<PathBuf>,
    /// Detect from this directory instead of / (for tests of detection).
    #[arg(long, global = true, env = "SVC_ANY_PROBE_ROOT", hide = true)]
    probe_root: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Which backend runs here, and why.
    Detect {
        /// Print every probe and its answer.
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print every file install would write. Changes nothing; needs no root.
    Render(Definition),
    /// Write the native files atomically, reload the manager, enable at boot.
    Install {
        #[command(flatten)]
        definition: Definition,
        /// Start the service after installing it.
        #[arg(long)]
        start: bool,
        /// With --start: wait until healthy (or up and stable), at most SECS.
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
        wait: Option<String>,
        /// Do not enable at boot.
        #[arg(long)]
        no_enable: bool,
        /// Overwrite files svc-any did not write.
        #[arg(long)]
        force: bool,
        /// Show what would change, as a diff; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write below DIR (an image or package tree) and call no manager.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Stop, disable and remove exactly what svc-any wrote.
    Uninstall {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Start services.
    Start(ControlArgs),
    /// Stop services.
    Stop(ControlArgs),
    /// Restart services.
    Restart(ControlArgs),
    /// Send services their reload_signal.
    Reload(ControlArgs),
    /// Start at boot.
    Enable {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Do not start at boot.
    Disable {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// State of services (all svc-any manages, when none are named). Exit code as LSB.
    Status {
        names: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a service's output.
    Logs {
        name: String,
        /// Keep following.
        #[arg(short, long)]
        follow: bool,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// Services svc-any manages here.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run the builtin supervisor (the CLI starts it on demand; a container may run it as PID 1).
    Supervisor {
        /// Stay attached: log to stderr, keep running with no services (a container's PID 1).
        #[arg(long)]
        foreground: bool,
        #[arg(long, hide = true, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        #[arg(long, hide = true, value_name = "DIR")]
        runtime_dir: Option<PathBuf>,
        /// Write one byte here once the socket accepts (used by the CLI).
        #[arg(long, hide = true, value_name = "FD")]
        ready_fd: Option<i32>,
    },
}

/// Where a definition comes from: a name, a file, or the quick form after `--`.
#[derive(Args, Debug)]
struct Definition {
    /// Service (or group) name.
    name: Option<String>,
    /// Definition file (NAME.toml or svc-any.toml).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,
    /// Quick form: run as this user.
    #[arg(long, value_name = "USER")]
    user_name: Option<String>,
    /// Quick form: environment variable (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    env: Vec<String>,
    /// Quick form: working directory.
    #[arg(long, value_name = "DIR")]
    workdir: Option<String>,
    /// Quick form: restart policy (no, on-failure, always).
    #[arg(long, value_name = "POLICY")]
    restart: Option<String>,
    /// Quick form: the program (absolute path) and its arguments.
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    argv: Vec<String>,
}

#[derive(Args, Debug)]
struct ControlArgs {
    #[arg(required = true)]
    names: Vec<String>,
    /// Wait until healthy (or up and stable), at most SECS (start and restart).
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "")]
    wait: Option<String>,
}

/// Runs the command line; returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap says 0 for --help/--version and 2 for usage errors, as DESIGN.md wants.
            return e.exit_code();
        }
    };
    crate::set_output(cli.verbose, cli.quiet);
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            match err.chain().find_map(|c| c.downcast_ref::<BadInput>()) {
                Some(b) => eprintln!("svc-any: error: {b}"),
                None => eprintln!("svc-any: error: {err:#}"),
            }
            exit_code(&err)
        }
    }
}

fn run(cli: Cli) -> Result<i32> {
    let probe_root = cli.probe_root.clone().unwrap_or_else(|| PathBuf::from("/"));
    match &cli.command {
        Command::Detect { explain, json } => {
            let d = detect::detect(&probe_root);
            if *json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else if *explain {
                print!("{}", d.explain());
            } else {
                println!("{}", d.backend);
            }
            Ok(0)
        }
        Command::Render(def) => {
            let services = load_definitions(&cli, def, None)?;
            let ctx = context(&cli, level_of(&cli, &services)?, None)?;
            let backend = pick_backend(&cli, &ctx.root)?.0;
            for (i, service) in services.iter().enumerate() {
                let plan = crate::engine::render_located(&ctx, &backend, service)?;
                for (j, file) in plan.files.iter().enumerate() {
                    if i + j > 0 {
                        println!();
                    }
                    println!("### {} (mode {:o})", file.path.display(), file.mode);
                    print!("{}", file.content);
                }
                for link in &plan.enable_links {
                    println!(
                        "### enable: {} -> {}",
                        link.path.display(),
                        link.target.display()
                    );
                }
            }
            // The files that make each group native (systemd's GROUP.target).
            let all: Vec<&Service> = spec::dependency_order(&services.iter().collect::<Vec<_>>());
            let mut groups: Vec<&str> = all
                .iter()
                .flat_map(|s| s.groups.iter().map(String::as_str))
                .collect();
            groups.sort_unstable();
            groups.dedup();
            for group in groups {
                let members: Vec<&Service> = all
                    .iter()
                    .copied()
                    .filter(|s| s.groups.iter().any(|g| g == group))
                    .collect();
                for file in backend.render_group(&ctx, group, &members)? {
                    println!();
                    println!("### {} (mode {:o})", file.path.display(), file.mode);
                    print!("{}", file.content);
                }
            }
            Ok(0)
        }
        Command::Install {
            definition,
            start,
            wait,
            no_enable,
            force,
            dry_run,
            root,
        } => {
            let accounts = match root {
                Some(dir) => Accounts::Tree(dir.clone()),
                None => Accounts::Host,
            };
            let services = load_definitions(&cli, definition, Some(accounts))?;
            let ctx = context(&cli, level_of(&cli, &services)?, root.as_deref())?;
            let (backend, ctx) = with_backend(&cli, ctx)?;
            let opts = InstallOptions {
                start: *start || wait.is_some(),
                wait: parse_wait(wait.as_deref())?,
                enable: !*no_enable,
                force: *force,
                dry_run: *dry_run,
            };
            engine::install(&ctx, &backend, &services, &opts)?;
            Ok(0)
        }
        Command::Uninstall {
            names,
            dry_run,
            root,
        } => {
            check_names(names)?;
            let (backend, ctx) =
                with_backend(&cli, context(&cli, flag_level(&cli), root.as_deref())?)?;
            engine::uninstall(&ctx, &backend, names, *dry_run)?;
            Ok(0)
        }
        Command::Start(args)
        | Command::Stop(args)
        | Command::Restart(args)
        | Command::Reload(args) => {
            let verb = match &cli.command {
                Command::Start(_) => Verb::Start,
                Command::Stop(_) => Verb::Stop,
                Command::Restart(_) => Verb::Restart,
                _ => Verb::Reload,
            };
            check_names(&args.names)?;
            let (backend, ctx) = with_backend(&cli, context(&cli, flag_level(&cli), None)?)?;
            engine::control(
                &ctx,
                &backend,
                verb,
                &args.names,
                parse_wait(args.wait.as_deref())?,
            )?;
            Ok(0)
        }
        Command::Enable { names, root } | Command::Disable { names, root } => {
            check_names(names)?;
            let enable = matches!(cli.command, Command::Enable { .. });
            let (backend, ctx) =
                with_backend(&cli, context(&cli, flag_level(&cli), root.as_deref())?)?;
            engine::set_enabled(&ctx, &backend, names, enable)?;
            Ok(0)
        }
        Command::Status { names, json } => {
            check_names(names)?;
            let (backend, ctx) = with_backend(&cli, context(&cli, flag_level(&cli), None)?)?;
            let statuses = engine::status(&ctx, &backend, names)?;
            if *json {
                println!("{}", status::to_json(&statuses));
            } else if statuses.is_empty() {
                println!("svc-any manages no services here");
            } else {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                print!("{}", status::to_table(&statuses, now));
            }
            Ok(status::exit_code(&statuses))
        }
        Command::Logs {
            name,
            follow,
            lines,
        } => {
            check_names(std::slice::from_ref(name))?;
            let (backend, ctx) = with_backend(&cli, context(&cli, flag_level(&cli), None)?)?;
            let record = engine::installed(&ctx, std::slice::from_ref(name))?.remove(0);
            backend.logs(
                &ctx,
                &record.service,
                LogOptions {
                    follow: *follow,
                    lines: *lines,
                },
            )
        }
        Command::Supervisor {
            foreground,
            state_dir,
            runtime_dir,
            ready_fd,
        } => {
            // No render context: a long-lived process should not carry the template engine.
            let level = flag_level(&cli);
            let scope = crate::supervisor::Scope {
                state_dir: match state_dir {
                    Some(d) => d.clone(),
                    None => host::state_dir(level, &host::home_dir()?),
                },
                runtime_dir: runtime_dir
                    .clone()
                    .unwrap_or_else(|| host::runtime_dir(level)),
            };
            crate::supervisor::run(crate::supervisor::Options {
                scope,
                level,
                foreground: *foreground,
                ready_fd: *ready_fd,
            })
        }
        Command::List { json } => {
            let (backend, ctx) = with_backend(&cli, context(&cli, flag_level(&cli), None)?)?;
            list(&ctx, &backend, *json)?;
            Ok(0)
        }
    }
}

fn list(ctx: &Ctx, backend: &AnyBackend, json: bool) -> Result<()> {
    let records = state::all(ctx)?;
    let mut names: Vec<String> = records.iter().map(|r| r.service.name.clone()).collect();
    // Files with the marker but no record (a record lost by hand): still svc-any's.
    for found in backend.list(ctx)? {
        if !names.contains(&found) {
            names.push(found);
        }
    }
    names.sort();
    let rows: Vec<serde_json::Value> = names
        .iter()
        .map(|name| {
            let record = records.iter().find(|r| &r.service.name == name);
            serde_json::json!({
                "name": name,
                "backend": record.map_or(backend.name(), |r| r.backend.as_str()),
                "level": record.map(|r| r.service.level),
                "enabled": record.map(|r| r.enabled),
                "instances": record.map(|r| r.service.instances.clone()),
                "files": record.map(|r| r.files.clone()),
                "recorded": record.is_some(),
            })
        })
        .collect();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "services": rows }))?
        );
    } else {
        for row in rows {
            let enabled = match row["enabled"].as_bool() {
                Some(true) => "enabled",
                Some(false) => "disabled",
                None => "no record",
            };
            println!(
                "{}\t{}\t{}",
                row["name"].as_str().unwrap_or_default(),
                row["backend"].as_str().unwrap_or_default(),
                enabled
            );
        }
    }
    Ok(())
}

fn check_names(names: &[String]) -> Result<()> {
    for name in names {
        spec::check_name(name).map_err(|m| bad(m).key("NAME"))?;
    }
    Ok(())
}

fn parse_wait(wait: Option<&str>) -> Result<Option<Option<Duration>>> {
    match wait {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(secs) => {
            let n: f64 = secs
                .parse()
                .ok()
                .filter(|n: &f64| *n >= 0.0 && n.is_finite())
                .ok_or_else(|| {
                    bad(format!("--wait={secs} is not a number of seconds"))
                        .hint("e.g. --wait=30, or --wait alone")
                })?;
            Ok(Some(Some(Duration::from_secs_f64(n))))
        }
    }
}

/// The level the flags and the invoking user ask for.
fn flag_level(cli: &Cli) -> Level {
    if cli.user || !host::is_root() {
        Level::User
    } else {
        Level::System
    }
}

/// One command acts on one manager: every definition must agree on the level.
fn level_of(cli: &Cli, services: &[Service]) -> Result<Level> {
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

fn context(cli: &Cli, level: Level, root: Option<&Path>) -> Result<Ctx> {
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
    })
}

/// The backend to use and the detection behind it.
fn pick_backend(cli: &Cli, root: &Path) -> Result<(AnyBackend, Detection)> {
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
    if let Some(b) = backends::by_name(&name) {
        return Ok((b, detection));
    }
    let known = detect::BACKEND_NAMES.join(", ");
    let hint = match spec::did_you_mean(&name, detect::BACKEND_NAMES) {
        Some(near) => format!("did you mean `{near}`? (known: {known})"),
        None => format!("known backends: {known}"),
    };
    Err(bad(format!("unknown backend `{name}`"))
        .key("--backend")
        .hint(hint)
        .into())
}

/// Picks the backend and decides whether its manager is live here.
fn with_backend(cli: &Cli, mut ctx: Ctx) -> Result<(AnyBackend, Ctx)> {
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

// ---------------------------------------------------------------------------------------------
// Finding definitions
// ---------------------------------------------------------------------------------------------

fn parse_options(cli: &Cli, accounts: Option<Accounts>) -> ParseOptions {
    ParseOptions {
        default_level: flag_level(cli),
        forced_level: cli.user.then_some(Level::User),
        accounts,
    }
}

/// The services a command names: from the quick form, `-f FILE`, `./NAME.toml`,
/// `./svc-any.toml` or `/etc/svc-any/NAME.toml`, in that order.
fn load_definitions(
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
            candidates
                .iter()
                .find(|c| c.is_file())
                .cloned()
                .ok_or_else(|| {
                    bad(format!("no definition for `{name}`")).hint(format!(
                        "looked for {}; pass -f FILE, or give the program after `--`",
                        candidates
                            .iter()
                            .map(|c| c.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                })?
        }
        (None, None) => {
            return Err(bad("name a service, or give -f FILE")
                .hint("e.g. `svc-any install demo` reads ./demo.toml")
                .into())
        }
    };
    let text = std::fs::read_to_string(&file)
        .map_err(|e| bad(format!("cannot read {}: {e}", file.display())))?;
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
    Ok(spec::parse(&src, Some(&name), opts)?
        .services
        .into_values()
        .collect())
}
