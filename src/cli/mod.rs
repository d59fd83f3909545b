//! The command line: parse (`args`) → resolve (`resolve`, `definitions`) → run one verb,
//! and map the result to DESIGN.md's exit codes (0 ok, 1 failed, 2 bad input; `status` follows
//! LSB).

mod args;
mod check;
mod definitions;
mod export;
mod hook;
mod import;
mod resolve;
mod snippets;
mod terminal;
mod views;

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;

use self::args::{Cli, Command};
use self::definitions::{check_names, load_definitions};
use self::resolve::{flag_level, invocation, level_of, Invocation};
use self::terminal::color_stdout;
use self::views::{list, render, show, ListOutput, Versioned};
use crate::backends::{Backend, LogOptions, Verb};
use crate::engine::{self, InstallOptions};
use crate::model::error::{exit_code, BadInput};
use crate::model::spec::{Level, Service};
use crate::model::status;
use crate::system::accounts::Accounts;
use crate::system::detect;
use crate::system::host;

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
    if !matches!(cli.command, Command::Supervisor { .. }) {
        // `svc-any status | head` should end quietly, as other tools do, not panic on EPIPE.
        // Not for the supervisor: a client that hangs up must never kill it.
        // SAFETY: set before any thread starts; the default action is always valid.
        unsafe {
            let _ = nix::sys::signal::signal(
                nix::sys::signal::Signal::SIGPIPE,
                nix::sys::signal::SigHandler::SigDfl,
            );
        }
    }
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
            let mut d = detect::detect(&probe_root);
            if let Some(chosen) = cli.backend.as_deref() {
                if crate::backends::by_name(chosen).is_none() {
                    return Err(
                        crate::model::error::bad(format!("unknown backend `{chosen}`"))
                            .key("--backend")
                            .hint(format!(
                                "known backends: {}",
                                crate::backends::NAMES.join(", ")
                            ))
                            .into(),
                    );
                }
                d.choose(chosen);
            }
            if *json {
                let doc = Versioned {
                    schema: status::JSON_SCHEMA,
                    body: &d,
                };
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else if *explain {
                print!("{}", d.explain());
            } else {
                println!("{}", d.backend);
            }
            Ok(0)
        }
        Command::Render {
            definition,
            for_version,
        } => {
            let services = load_definitions(&cli, definition, None)?;
            let mut ctx = resolve::context(&cli, level_of(&cli, &services)?, None)?;
            ctx.target = for_version.clone();
            let requested = cli
                .backend
                .as_deref()
                .or(for_version.as_ref().map(|v| v.manager.as_str()));
            // render is pure: a backend named on the command line needs no look at the host.
            let backend = match requested {
                Some(name) => crate::manager::backend_named(name)?,
                None => crate::manager::pick_backend(&ctx, None)?.0,
            };
            render(&ctx, &backend, &services)?;
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
            if wait.is_some() && !*start {
                return Err(
                    crate::model::error::bad("--wait waits for a start: add --start")
                        .key("--wait")
                        .hint("svc-any install NAME --start --wait")
                        .into(),
                );
            }
            let accounts = match root {
                Some(dir) => Accounts::Tree(dir.clone()),
                None => Accounts::Host,
            };
            let services = load_definitions(&cli, definition, Some(accounts))?;
            let level = level_of(&cli, &services)?;
            if level == Level::System && root.is_none() && !host::is_root() && !*dry_run {
                return Err(crate::model::error::bad(
                    "installing a system-level service needs root",
                )
                .key("level")
                .hint("run it as root (sudo svc-any ...), or install it for yourself with --user")
                .into());
            }
            let Invocation { ctx, backend } = invocation(&cli, level, root.as_deref())?;
            let opts = InstallOptions {
                start: *start,
                wait: wait.map(|w| w.limit()),
                enable: !*no_enable,
                force: *force,
                dry_run: *dry_run,
                leave_running: false,
            };
            engine::install(&ctx, &backend, &services, &opts)?;
            Ok(0)
        }
        Command::Uninstall {
            names,
            dry_run,
            purge,
            root,
        } => {
            check_names(names)?;
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), root.as_deref())?;
            if *purge {
                engine::purge(&ctx, &backend, names, *dry_run)?;
            } else {
                engine::uninstall(&ctx, &backend, names, *dry_run)?;
            }
            Ok(0)
        }
        Command::TryRestart(args) | Command::Reset(args) => {
            check_names(&args.names)?;
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            let wait = args.wait.map(|w| w.limit());
            if matches!(cli.command, Command::TryRestart(_)) {
                engine::try_restart(&ctx, &backend, &args.names, wait)?;
            } else {
                engine::reset(&ctx, &backend, &args.names, wait)?;
            }
            Ok(0)
        }
        Command::Hook(command) => hook::run(&cli, command),
        Command::Check(args) => check::run(&cli, args),
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
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            engine::control(
                &ctx,
                &backend,
                verb,
                &args.names,
                args.wait.map(|w| w.limit()),
            )?;
            Ok(0)
        }
        Command::Enable { names, root } | Command::Disable { names, root } => {
            check_names(names)?;
            let enable = matches!(cli.command, Command::Enable { .. });
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), root.as_deref())?;
            engine::set_enabled(&ctx, &backend, names, enable)?;
            Ok(0)
        }
        Command::Status { names, json } => {
            check_names(names)?;
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            // A table needs no field only a slow question answers; --json has every one.
            let statuses = if *json {
                engine::status(&ctx, &backend, names)?
            } else {
                engine::status_summary(&ctx, &backend, names)?
            };
            if *json {
                println!("{}", status::to_json(&statuses));
            } else if statuses.is_empty() {
                println!("svc-any manages no services here");
            } else {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                print!("{}", status::to_table(&statuses, now, color_stdout()));
            }
            Ok(status::exit_code(&statuses))
        }
        Command::Logs {
            names,
            follow,
            lines,
            since,
        } => {
            check_names(names)?;
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            let records = engine::installed(&ctx, names)?;
            if since.is_some() {
                for record in &records {
                    if let Err(why) = backend.log_times(&record.service) {
                        return Err(crate::model::error::bad(format!(
                            "--since: {} cannot tell when {}'s lines were written: {why}",
                            backend.name(),
                            record.service.name
                        ))
                        .hint("drop --since (-n shows the last lines)")
                        .into());
                    }
                }
            }
            let options = LogOptions {
                follow: *follow,
                lines: lines.unwrap_or(if since.is_some() { usize::MAX } else { 50 }),
                since: *since,
            };
            if let [one] = records.as_slice() {
                return backend.logs(&ctx, &one.service, options);
            }
            let services: Vec<&Service> = records.iter().map(|r| &r.service).collect();
            backend.logs_of_several(&ctx, &services, options)
        }
        Command::Export {
            target,
            names,
            file,
            output,
        } => export::run(*target, names, file.as_deref(), output.as_deref()),
        Command::Supervisor {
            foreground,
            boot,
            state_dir,
            runtime_dir,
            ready_fd,
        } => {
            // No render context: a long-lived process should not carry the template engine.
            let level = flag_level(&cli);
            let home = host::home_dir()?;
            let scope = crate::supervisor::Scope {
                state_dir: match state_dir {
                    Some(d) => d.clone(),
                    None => host::state_dir(level, &home),
                },
                runtime_dir: runtime_dir
                    .clone()
                    .unwrap_or_else(|| host::runtime_dir(level, &home)),
            };
            crate::supervisor::run(crate::supervisor::Options {
                scope,
                level,
                foreground: *foreground,
                boot: *boot,
                ready_fd: *ready_fd,
            })
        }
        Command::Import { path, instances } => import::run(path, instances),
        Command::Show { name, json } => {
            check_names(std::slice::from_ref(name))?;
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            show(&ctx, &backend, name, *json)
        }
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "svc-any", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command).render(&mut std::io::stdout())?;
            Ok(0)
        }
        Command::List { json } => {
            let Invocation { ctx, backend } = invocation(&cli, flag_level(&cli), None)?;
            let entries = list(&ctx, &backend)?;
            if *json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&Versioned {
                        schema: status::JSON_SCHEMA,
                        body: ListOutput { services: entries },
                    })?
                );
            } else {
                for e in entries {
                    let enabled = match e.enabled {
                        Some(true) => "enabled",
                        Some(false) => "disabled",
                        None => "no record",
                    };
                    println!("{}\t{}\t{}", e.name, e.backend, enabled);
                }
            }
            Ok(0)
        }
    }
}
