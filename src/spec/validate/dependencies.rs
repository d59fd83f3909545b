//! `after` and `requires`: each entry a service name or a native unit name, never the service
//! itself. Whether the entries form a cycle is a question for the whole file (`deps.rs`).

use crate::error::BadInput;

use super::super::location::Source;
use super::super::raw::S;
use super::names::{check_name, UNIT_SUFFIXES};

pub(super) fn dependency_list(
    src: &Source,
    key: &str,
    v: &Option<S<Vec<S<String>>>>,
    own: &str,
) -> Result<Vec<String>, BadInput> {
    let Some(list) = v else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for item in list.get_ref() {
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
        out.push(dep.clone());
    }
    Ok(out)
}
