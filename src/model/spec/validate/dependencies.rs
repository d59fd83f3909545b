//! `after` and `requires`: each entry read once into a [`Dependency`], and never the service
//! itself. Whether the entries form a cycle is a question for the whole file (`deps.rs`).

use crate::model::error::BadInput;

use super::super::deps::Dependency;
use super::super::location::Source;
use super::super::raw::S;

pub(super) fn dependency_list(
    src: &Source,
    key: &str,
    v: &Option<S<Vec<S<String>>>>,
    own: &str,
    instanced: bool,
) -> Result<Vec<Dependency>, BadInput> {
    let Some(list) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in list.get_ref() {
        let dep = Dependency::parse(item.get_ref()).map_err(|m| src.error(item.span(), key, m))?;
        // `web.service` is `web` itself to systemd (its own `web.socket` is another unit, and
        // so is `web.service` to the instances `web@1.service` of an instanced `web`).
        let itself = match &dep {
            Dependency::Service(name) => name == own,
            Dependency::Native(unit) => !instanced && *unit == format!("{own}.service"),
            Dependency::Facility(_) => false,
        };
        if itself {
            return Err(src.error(item.span(), key, format!("`{own}` cannot depend on itself")));
        }
        out.push(dep);
    }
    Ok(out)
}
