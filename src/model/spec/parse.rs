//! The entry point: a file's text to a [`Project`] of validated services.

use crate::model::error::{bad, BadInput};

use super::deps::check_dependency_cycles;
use super::location::{toml_error, Source};
use super::model::{Level, Project};
use super::raw::{RawProject, RawService};
use super::validate::{check_name, validate};

/// Whether a user or group exists on the target: asked by validation, answered by the system
/// layer (NSS, or an image tree's own passwd and group files), so the model reads no file.
pub trait AccountDb: std::fmt::Debug {
    fn user_exists(&self, name: &str) -> bool;
    fn group_exists(&self, name: &str) -> bool;
}

/// What the parser needs to know about the target host.
#[derive(Debug)]
pub struct ParseOptions {
    /// The level to use when the file does not say (`--user`, or not root).
    pub default_level: Level,
    /// Force this level (the `--user` flag); a file that says otherwise is an error.
    pub forced_level: Option<Level>,
    /// Checks that a named user or group exists; `None` skips the check (e.g. `render`).
    pub accounts: Option<Box<dyn AccountDb>>,
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
