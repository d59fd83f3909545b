//! `svc-any check FILE [--root DIR]`: what a package build runs before it ships a definition.
//! The file must validate, every backend must render it (or be `--skip`ped), and the
//! programs, users and groups it names must exist: in the package tree `--root DIR` first
//! (users and groups from its `etc/passwd` and `etc/group`, where it has them), then on this
//! host. Any problem is listed, and the exit code is 2.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::args::{CheckArgs, Cli, Definition};
use super::definitions::load_definitions;
use super::resolve::{context, level_of};
use crate::backends::{self, Backend};
use crate::engine;
use crate::model::error::bad;
use crate::model::spec::{self, Service};
use crate::system::accounts::Accounts;
use anyhow::Result;

pub fn run(cli: &Cli, args: &CheckArgs) -> Result<i32> {
    for name in &args.skip {
        if backends::by_name(name).is_none() {
            return Err(bad(format!("unknown backend `{name}`"))
                .key("--skip")
                .hint(format!("known backends: {}", backends::NAMES.join(", ")))
                .into());
        }
    }
    if let Some(root) = &args.root {
        if !root.is_dir() {
            return Err(bad(format!("--root {} is not a directory", root.display())).into());
        }
    }
    // Users and groups: the tree's own databases where it has them, else this host's.
    let accounts = match &args.root {
        Some(root) if root.join("etc/passwd").is_file() => Accounts::Tree(root.clone()),
        _ => Accounts::Host,
    };
    let def = Definition {
        name: None,
        file: Some(args.file.clone()),
        user_name: None,
        env: Vec::new(),
        workdir: None,
        restart: None,
        argv: Vec::new(),
    };
    let services = load_definitions(cli, &def, Some(accounts))?;
    let refs: Vec<&Service> = services.iter().collect();
    let services: Vec<&Service> = spec::dependency_order(&refs);
    println!(
        "{}: valid ({})",
        args.file.display(),
        services
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let owned: Vec<Service> = services.iter().map(|s| (*s).clone()).collect();
    let ctx = context(cli, level_of(cli, &owned)?, None)?;
    let mut problems: Vec<String> = Vec::new();
    for name in backends::NAMES {
        if args.skip.iter().any(|s| s == name) {
            println!("  {name:<8} skipped");
            continue;
        }
        let backend = backends::by_name(name).expect("a known name");
        for service in &services {
            match engine::render_located(&ctx, &backend, service) {
                Ok(plan) => println!(
                    "  {name:<8} {}: {}",
                    service.name,
                    plan.files
                        .iter()
                        .map(|f| f.path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Err(e) => {
                    println!("  {name:<8} {}: refused", service.name);
                    problems.push(format!("{}: {}: {e:#}", backend.name(), service.name));
                }
            }
        }
    }
    for service in &services {
        for program in programs(service) {
            match find(&program, args.root.as_deref()) {
                Found::Executable(at) => println!("  program  {program}: {}", at.display()),
                Found::NotExecutable(at) => problems.push(format!(
                    "{}: `exec`: {} is not executable",
                    service.name,
                    at.display()
                )),
                Found::Missing => problems.push(format!(
                    "{}: `exec`: the program {program} is not in {}",
                    service.name,
                    match &args.root {
                        Some(root) => format!("{} nor on this host", root.display()),
                        None => "this host (pass --root with the package's tree)".into(),
                    }
                )),
            }
        }
    }
    if problems.is_empty() {
        println!("ok");
        return Ok(0);
    }
    for p in &problems {
        eprintln!("svc-any: error: {p}");
    }
    Ok(crate::model::error::EXIT_BAD_INPUT)
}

/// Every instance's program, each once.
fn programs(service: &Service) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for instance in service.instance_names() {
        let p = service.for_instance(instance).exec[0].clone();
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

enum Found {
    Executable(PathBuf),
    NotExecutable(PathBuf),
    Missing,
}

fn find(program: &str, root: Option<&Path>) -> Found {
    let rel = program.trim_start_matches('/');
    let candidates = root
        .map(|r| r.join(rel))
        .into_iter()
        .chain(std::iter::once(PathBuf::from(program)));
    let mut seen = None;
    for path in candidates {
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => {
                return Found::Executable(path)
            }
            Ok(_) => seen = seen.or(Some(path)),
            Err(_) => {}
        }
    }
    seen.map_or(Found::Missing, Found::NotExecutable)
}
