//! What a definition needs from the host that validation cannot see: its program, its working
//! directory, its environment file. Missing at install, it is a warning (a package may bring the
//! file later, and an image build never has it yet); missing at start, svc-any refuses before the
//! manager fails in its own words.

use std::os::unix::fs::PermissionsExt;

use crate::model::error::{bad, BadInput};
use crate::model::spec::Service;
use crate::system::host::Ctx;

/// What is missing for `service` (every instance) on the target, as bad input naming the key.
/// `alongside` are the services installed or started with it, which `requires` may name.
pub fn missing(ctx: &Ctx, service: &Service, alongside: &[&str]) -> Vec<BadInput> {
    let mut problems = Vec::new();
    for (i, dep) in service.requires.iter().enumerate() {
        if let Some(name) = dep.service() {
            let known = alongside.contains(&name)
                || crate::system::records::load(ctx, name)
                    .ok()
                    .flatten()
                    .is_some();
            if !known {
                problems.push(
                    bad(format!(
                        "`{name}` is required, but svc-any has not installed it here"
                    ))
                    .key(format!("requires[{i}]"))
                    .hint(format!("install {name} first, or remove it from requires")),
                );
            }
        }
    }
    for instance in service.instance_names() {
        let s = service.for_instance(instance);
        let program = ctx.on_target(std::path::Path::new(&s.exec[0]));
        match std::fs::metadata(&program) {
            Err(_) => problems.push(
                bad(format!("the program {} does not exist", s.exec[0]))
                    .key("exec")
                    .hint("install it first, or correct exec[0]"),
            ),
            Ok(m) if m.is_dir() || m.permissions().mode() & 0o111 == 0 => problems.push(
                bad(format!("the program {} is not executable", s.exec[0]))
                    .key("exec")
                    .hint(format!("chmod +x {}", s.exec[0])),
            ),
            Ok(_) => {}
        }
        if let Some(dir) = &s.working_dir {
            if !ctx.on_target(std::path::Path::new(dir)).is_dir() {
                problems.push(
                    bad(format!("the working directory {dir} does not exist"))
                        .key("working_dir")
                        .hint(format!("mkdir -p {dir}")),
                );
            }
        }
        let required = s
            .daemon
            .env_files
            .iter()
            .filter(|f| !f.optional)
            .map(|f| &f.path);
        for file in s.env_file.iter().chain(required) {
            if !ctx.on_target(std::path::Path::new(file)).is_file() {
                problems.push(
                    bad(format!("the environment file {file} does not exist"))
                        .key("env_file")
                        .hint("create it, or remove env_file"),
                );
            }
        }
    }
    problems.dedup_by(|a, b| a.message == b.message);
    problems
}

/// Environment files of `service` that every local user may read: svc-any keeps its own
/// copies of `env` private, but an `env_file` is the user's, and often holds passwords.
pub fn exposed(ctx: &Ctx, service: &Service) -> Vec<BadInput> {
    let files = service
        .env_file
        .iter()
        .chain(service.daemon.env_files.iter().map(|f| &f.path));
    let mut problems = Vec::new();
    for file in files {
        // `{instance}` in a path names several files; none of them is known here.
        if file.contains(crate::model::spec::INSTANCE_PLACEHOLDER) {
            continue;
        }
        let path = ctx.on_target(std::path::Path::new(file));
        if let Ok(m) = std::fs::metadata(&path) {
            if m.is_file() && m.permissions().mode() & 0o004 != 0 {
                problems.push(
                    bad(format!(
                        "the environment file {file} is readable by every local user"
                    ))
                    .key("env_file")
                    .hint(format!(
                        "if it holds secrets: chmod 600 {file} (or 640 and a group of the service's)"
                    )),
                );
            }
        }
    }
    problems
}
