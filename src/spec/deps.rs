//! The graph `after` and `requires` draw across services: no cycles within a file, and the
//! order to start (or, reversed, to stop) a set of services in.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{bad, BadInput};

use super::model::{Project, Service};

/// `after` and `requires` across one file must not loop.
pub(super) fn check_dependency_cycles(project: &Project) -> Result<(), BadInput> {
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
    use crate::spec::{parse, Level, ParseOptions, Source};

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
