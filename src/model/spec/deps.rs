//! Dependencies: what one entry of `after` or `requires` names ([`Dependency`], decided once
//! at validation), and the graph the entries draw across services (no cycles within a file; the
//! order to start, or reversed to stop, a set of services in).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::error::{bad, BadInput};

use super::model::{Project, Service};
use super::validate::check_name;

/// The unit types of systemd. An entry that ends in one names a unit of systemd's own; a
/// service name may not end in one (`check_name`), so the two readings never overlap.
pub(super) const SYSTEMD_UNIT_SUFFIXES: &[&str] = &[
    ".service",
    ".socket",
    ".device",
    ".mount",
    ".automount",
    ".swap",
    ".target",
    ".path",
    ".timer",
    ".slice",
    ".scope",
];

/// A well-known point of the boot that every manager has its own name for. Written `$NAME`
/// (`$network-online`), or as systemd's target (`network-online.target`), which means the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Facility {
    /// The network is configured (systemd `network-online.target`, LSB `$network`).
    NetworkOnline,
    /// Network management has started, not that it is up (systemd `network.target`).
    Network,
    /// Host names resolve (systemd `nss-lookup.target`, LSB `$named`).
    NssLookup,
    /// The clock is synchronized (systemd `time-sync.target`, LSB `$time`).
    TimeSync,
    /// Local file systems are mounted (`local-fs.target`, `$local_fs`).
    LocalFs,
    /// Remote file systems are mounted (`remote-fs.target`, `$remote_fs`).
    RemoteFs,
    /// The system logger runs (`syslog.socket`, `$syslog`).
    Syslog,
}

impl Facility {
    pub const ALL: [Facility; 7] = [
        Facility::NetworkOnline,
        Facility::Network,
        Facility::NssLookup,
        Facility::TimeSync,
        Facility::LocalFs,
        Facility::RemoteFs,
        Facility::Syslog,
    ];

    /// The portable name, without the `$`.
    pub fn name(self) -> &'static str {
        match self {
            Facility::NetworkOnline => "network-online",
            Facility::Network => "network",
            Facility::NssLookup => "nss-lookup",
            Facility::TimeSync => "time-sync",
            Facility::LocalFs => "local-fs",
            Facility::RemoteFs => "remote-fs",
            Facility::Syslog => "syslog",
        }
    }

    /// systemd's unit for it.
    pub fn systemd_unit(self) -> &'static str {
        match self {
            Facility::NetworkOnline => "network-online.target",
            Facility::Network => "network.target",
            Facility::NssLookup => "nss-lookup.target",
            Facility::TimeSync => "time-sync.target",
            Facility::LocalFs => "local-fs.target",
            Facility::RemoteFs => "remote-fs.target",
            Facility::Syslog => "syslog.socket",
        }
    }

    /// The LSB facility (`Required-Start:` and friends).
    pub fn lsb(self) -> &'static str {
        match self {
            Facility::NetworkOnline | Facility::Network => "$network",
            Facility::NssLookup => "$named",
            Facility::TimeSync => "$time",
            Facility::LocalFs => "$local_fs",
            Facility::RemoteFs => "$remote_fs",
            Facility::Syslog => "$syslog",
        }
    }

    /// OpenRC's name for the service that provides it (Alpine's and Gentoo's: `networking`
    /// provides `net`, `localmount`, `netmount`, `ntp-client`, `logger`, `dns`).
    pub fn openrc(self) -> &'static str {
        match self {
            Facility::NetworkOnline | Facility::Network => "net",
            Facility::NssLookup => "dns",
            Facility::TimeSync => "ntp-client",
            Facility::LocalFs => "localmount",
            Facility::RemoteFs => "netmount",
            Facility::Syslog => "logger",
        }
    }

    fn by_name(name: &str) -> Option<Facility> {
        Facility::ALL.into_iter().find(|f| f.name() == name)
    }

    fn by_systemd_unit(unit: &str) -> Option<Facility> {
        Facility::ALL.into_iter().find(|f| f.systemd_unit() == unit)
    }
}

/// What one entry of `after` or `requires` names. [`Dependency::parse`] is the only place that
/// reads the entry's text; backends match on the variants. Stored and serialized as the entry
/// was written, so install records and the supervisor's definitions read the same as before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Dependency {
    /// A service of this definition or one svc-any installed, by its svc-any name (`db`).
    Service(String),
    /// A unit of systemd's own, as written (`postgresql.service`, `network-online.target`).
    /// Only systemd can wait for it; elsewhere see [`refuse_systemd_units`].
    Native(String),
    /// A well-known point of the boot, mapped to each manager's own name for it.
    Facility(Facility),
}

impl Dependency {
    /// Reads an entry: a name with a systemd unit suffix is a systemd unit, anything else an
    /// svc-any service name. Either way the name must be one `check_name` accepts, less the
    /// suffix, so that no entry can smuggle in a path or a byte a manager would misread.
    pub fn parse(entry: &str) -> Result<Dependency, String> {
        if let Some(name) = entry.strip_prefix('$') {
            let names: Vec<&str> = Facility::ALL.iter().map(|f| f.name()).collect();
            return Facility::by_name(name)
                .map(Dependency::Facility)
                .ok_or_else(|| {
                    let near = match super::location::did_you_mean(name, &names) {
                        Some(n) => format!(" (did you mean `${n}`?)"),
                        None => String::new(),
                    };
                    format!(
                        "`{}` is no facility svc-any knows{near}; the facilities are {}",
                        entry.escape_debug(),
                        names
                            .iter()
                            .map(|n| format!("${n}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                });
        }
        if let Some(f) = Facility::by_systemd_unit(entry) {
            return Ok(Dependency::Facility(f));
        }
        // `db@{instance}`: the same instance of another service (systemd's `db@%i.service`).
        let plain = entry.replace(super::model::INSTANCE_PLACEHOLDER, "i");
        match unit_stem(entry) {
            Some(_) => {
                check_name(unit_stem(&plain).unwrap_or(&plain))?;
                Ok(Dependency::Native(entry.to_string()))
            }
            None => {
                check_name(&plain)?;
                Ok(Dependency::Service(entry.to_string()))
            }
        }
    }

    /// The entry as the definition writes it (a facility as `$NAME`).
    pub fn as_written(&self) -> String {
        match self {
            Dependency::Service(name) | Dependency::Native(name) => name.clone(),
            Dependency::Facility(f) => format!("${}", f.name()),
        }
    }

    /// The svc-any service this names, if it names one.
    pub fn service(&self) -> Option<&str> {
        match self {
            Dependency::Service(name) => Some(name),
            Dependency::Native(_) | Dependency::Facility(_) => None,
        }
    }

    /// The name less any unit suffix: `db` for both `db` and `db.service`.
    pub fn stem(&self) -> &str {
        match self {
            Dependency::Service(name) | Dependency::Native(name) => unit_stem(name).unwrap_or(name),
            Dependency::Facility(f) => f.name(),
        }
    }

    /// Whether this is a systemd target: a point in systemd's boot (`network-online.target`)
    /// that no process stands behind.
    pub fn is_systemd_target(&self) -> bool {
        matches!(self, Dependency::Native(unit) if unit.ends_with(".target"))
    }
}

impl TryFrom<String> for Dependency {
    type Error = String;

    fn try_from(entry: String) -> Result<Self, String> {
        Dependency::parse(&entry)
    }
}

impl From<Dependency> for String {
    fn from(dep: Dependency) -> String {
        dep.as_written()
    }
}

/// `entry` less its systemd unit suffix, if it has one.
fn unit_stem(entry: &str) -> Option<&str> {
    SYSTEMD_UNIT_SUFFIXES
        .iter()
        .find_map(|suffix| entry.strip_suffix(suffix))
}

/// For a manager that has no systemd units (every backend but systemd): refuses the first
/// dependency on a systemd unit, naming its key, its value and `backend`. Rendered as if it were
/// a service name, `db.service` would make the manager wait for a service that does not exist;
/// left out, the order the definition asked for would be silently lost. The well-known targets
/// are facilities ([`Facility`]), which every backend maps to its own names.
/// The services of the host that `after` names as systemd units (`auditd` for
/// `auditd.service`): systemd's After= orders against one only when it starts too, which a
/// manager without systemd's units says in its own words (LSB `Should-Start:`, OpenRC's soft
/// `after`, the supervisor's order against its service of that name, if any).
pub fn host_services_after(service: &Service) -> Vec<&str> {
    service
        .after
        .iter()
        .filter(|d| is_host_service(d))
        .map(Dependency::stem)
        .collect()
}

/// A systemd service unit of the host, not one per instance (`db@{instance}.service` has its
/// own verdict per backend).
fn is_host_service(dep: &Dependency) -> bool {
    matches!(dep, Dependency::Native(unit)
        if unit.ends_with(".service") && !unit.contains(super::model::INSTANCE_PLACEHOLDER))
}

/// [`refuse_systemd_units`], but for the host's services in `after`, which a backend that says
/// [`host_services_after`] in its own words carries.
pub fn refuse_systemd_units_but_after_services(
    service: &Service,
    backend: &str,
) -> Result<(), BadInput> {
    let mut others = service.clone();
    others.after.retain(|d| !is_host_service(d));
    refuse_systemd_units(&others, backend)
}

pub fn refuse_systemd_units(service: &Service, backend: &str) -> Result<(), BadInput> {
    for (key, dep) in service.all_dependencies() {
        let Dependency::Native(unit) = dep else {
            continue;
        };
        let stem = dep.stem();
        let hint = if dep.is_systemd_target() {
            format!(
                "a systemd target other than the facilities ({}) has no meaning here: remove \
                 it, or install for systemd only",
                Facility::ALL
                    .iter()
                    .map(|f| format!("${}", f.name()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "if svc-any installs it, use its svc-any name, \"{stem}\"; otherwise remove \
                 it, since only systemd can wait for a systemd unit"
            )
        };
        return Err(bad(format!(
            "`{unit}` names a systemd unit, which {backend} cannot depend on"
        ))
        .key(key)
        .hint(hint));
    }
    Ok(())
}

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
        // `after = ["db.service"]` is after this file's `db` too: svc-any installs it as
        // db.service on systemd, and the others order by it (`host_services_after`).
        let deps = service
            .after
            .iter()
            .chain(&service.requires)
            .filter_map(Dependency::service)
            .chain(host_services_after(service));
        for dep in deps {
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

/// The services of the set `s` starts after: those its `after` and `requires` name, those that
/// name it in `before`, and those `before` a facility it is `after` (a name server `before =
/// ["$nss-lookup"]` comes ahead of a service `after = ["$nss-lookup"]`, as systemd orders both
/// against the target).
fn waits_for<'a>(s: &'a Service, services: &[&'a Service]) -> Vec<&'a str> {
    let mut out: Vec<&str> = s
        .after
        .iter()
        .chain(&s.requires)
        .filter_map(Dependency::service)
        .chain(host_services_after(s))
        .collect();
    let facilities: Vec<Facility> = s
        .after
        .iter()
        .chain(&s.requires)
        .filter_map(|d| match d {
            Dependency::Facility(f) => Some(*f),
            _ => None,
        })
        .collect();
    for other in services {
        if other.name == s.name {
            continue;
        }
        let ahead = other.daemon.before.iter().any(|d| match d {
            Dependency::Service(name) => *name == s.name || s.daemon.aliases.contains(name),
            Dependency::Facility(f) => facilities.contains(f),
            Dependency::Native(_) => false,
        });
        if ahead {
            out.push(other.name.as_str());
        }
    }
    out
}

/// Orders services so that each comes after everything it waits for (`waits_for`: for start;
/// reverse it for stop). Dependencies outside the set are ignored. Several entries may share a
/// name (the supervisor orders one per instance): each is placed, and a dependency on that name
/// waits for all of them.
pub fn dependency_order<'a>(services: &[&'a Service]) -> Vec<&'a Service> {
    let mut unplaced: BTreeMap<&str, usize> = BTreeMap::new();
    for s in services {
        *unplaced.entry(s.name.as_str()).or_default() += 1;
    }
    // A dependency may name a service by one of its aliases.
    let mut named: BTreeMap<&str, &str> = BTreeMap::new();
    for s in services {
        for alias in &s.daemon.aliases {
            named.insert(alias.as_str(), s.name.as_str());
        }
    }
    let waits: Vec<Vec<&str>> = services
        .iter()
        .map(|s| {
            waits_for(s, services)
                .into_iter()
                .map(|d| named.get(d).copied().unwrap_or(d))
                .collect()
        })
        .collect();
    let mut placed = vec![false; services.len()];
    let mut out = Vec::new();
    while out.len() < services.len() {
        let before = out.len();
        for (i, s) in services.iter().enumerate() {
            if placed[i] {
                continue;
            }
            let ready = waits[i]
                .iter()
                .all(|d| unplaced.get(d).is_none_or(|n| *n == 0));
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
        crate::model::spec::parse_test_text(text, None).unwrap()
    }

    /// The order `dependency_order` puts the named services of `p` in, given in this order.
    fn order_of<'a>(p: &'a Project, names: &[&str]) -> Vec<&'a str> {
        let refs: Vec<&Service> = names.iter().map(|n| &p.services[*n]).collect();
        dependency_order(&refs)
            .iter()
            .map(|s| s.name.as_str())
            .collect()
    }

    fn refusal(text: &str, backend: &str) -> Option<BadInput> {
        let p = project(text);
        p.services
            .values()
            .find_map(|s| refuse_systemd_units(s, backend).err())
    }

    #[test]
    fn an_entry_is_read_once_by_its_suffix() {
        let read = |entry: &str| Dependency::parse(entry).unwrap();
        assert_eq!(read("db"), Dependency::Service("db".into()));
        assert_eq!(read("db.service"), Dependency::Native("db.service".into()));
        // Dots alone do not make a unit: reverse-DNS service names are services.
        assert_eq!(
            read("com.example.api"),
            Dependency::Service("com.example.api".into())
        );
        for unit in [
            "multi-user.target",
            "dev-sda1.device",
            "home.automount",
            "x.socket",
        ] {
            assert_eq!(read(unit), Dependency::Native(unit.into()), "{unit}");
        }
        assert!(read("multi-user.target").is_systemd_target());
        // The well-known targets are facilities, written either way.
        assert_eq!(
            read("network-online.target"),
            Dependency::Facility(Facility::NetworkOnline)
        );
        assert_eq!(read("$time-sync"), Dependency::Facility(Facility::TimeSync));
        assert_eq!(read("$syslog").as_written(), "$syslog");
        let err = Dependency::parse("$network-onlin").unwrap_err();
        assert!(err.contains("did you mean `$network-online`?"), "{err}");
        assert!(Dependency::parse("$named").is_err());
        assert!(!read("db.service").is_systemd_target());
        assert!(!read("db").is_systemd_target());
        assert_eq!(read("db.service").stem(), "db");
        assert_eq!(read("db.service").service(), None);
        assert_eq!(read("db").service(), Some("db"));
    }

    #[test]
    fn an_entry_is_a_name_with_or_without_its_suffix() {
        for bad in [
            "",
            "../db",
            "db/x.service",
            ".service",
            "a b",
            "db.service.service",
        ] {
            assert!(Dependency::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn records_keep_the_entries_as_written() {
        let p = project(
            "name = \"web\"\nexec = [\"/bin/true\"]\n\
             after = [\"db\", \"network-online.target\"]\nrequires = [\"cache.service\"]\n",
        );
        let web = &p.services["web"];
        let json = serde_json::to_value(web).unwrap();
        // A facility is recorded by its portable name, however it was written.
        assert_eq!(json["after"], serde_json::json!(["db", "$network-online"]));
        assert_eq!(json["requires"], serde_json::json!(["cache.service"]));
        let back: Service = serde_json::from_value(json).unwrap();
        assert_eq!(&back, web);
        // The builtin supervisor reads its definitions back from TOML.
        let back: Service = toml::from_str(&toml::to_string(web).unwrap()).unwrap();
        assert_eq!(&back, web);
    }

    #[test]
    fn a_service_cannot_depend_on_its_own_unit() {
        let text = "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"web.service\"]\n";
        let err = crate::model::spec::parse_test_text(text, None).unwrap_err();
        assert_eq!(err.key.as_deref(), Some("after"));
        assert!(err.message.contains("cannot depend on itself"), "{err}");
    }

    #[test]
    fn a_manager_without_units_refuses_a_unit_and_a_target_but_not_a_facility() {
        let err = refusal(
            "name = \"web\"\nexec = [\"/bin/true\"]\n\
             after = [\"db\", \"network-online.target\", \"db.service\"]\n",
            "openrc",
        )
        .expect("db.service refused");
        assert_eq!(err.key.as_deref(), Some("after[2]"));
        assert!(err.message.contains("`db.service`"), "{err}");
        assert!(err.message.contains("openrc"), "{err}");
        assert!(err.hint.unwrap().contains("\"db\""));
        assert!(refusal(
            "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"db\", \"network-online.target\"]\n",
            "sysv",
        )
        .is_none());
        // A target that is no facility has no meaning elsewhere: refused, not left out.
        let err = refusal(
            "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"multi-user.target\"]\n",
            "sysv",
        )
        .expect("multi-user.target refused");
        assert_eq!(err.key.as_deref(), Some("after[0]"));
        assert!(err.hint.unwrap().contains("$network-online"));
        // `requires` is checked first, and named as such.
        let err = refusal(
            "name = \"web\"\nexec = [\"/bin/true\"]\nafter = [\"a.socket\"]\nrequires = [\"b.mount\"]\n",
            "sysv",
        )
        .expect("b.mount refused");
        assert_eq!(err.key.as_deref(), Some("requires[0]"));
    }

    #[test]
    fn after_a_unit_of_a_service_of_the_file_can_close_a_cycle() {
        // On systemd svc-any's `a` is a.service: after it is after `a`, here a cycle.
        let err = crate::model::spec::parse_test_text(
            "[services.a]\nexec = [\"/bin/true\"]\nafter = [\"b\"]\n\
             [services.b]\nexec = [\"/bin/true\"]\nafter = [\"a.service\"]\n",
            None,
        )
        .unwrap_err();
        assert!(err.message.contains("dependency cycle"), "{err:?}");
        // A target names no service: no order, no cycle.
        let p = project(
            "[services.a]\nexec = [\"/bin/true\"]\nafter = [\"b\"]\n\
             [services.b]\nexec = [\"/bin/true\"]\nafter = [\"a.target\"]\n",
        );
        assert_eq!(order_of(&p, &["a", "b"]), ["b", "a"]);
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

    #[test]
    fn before_orders_as_after_does_from_the_other_side_and_through_a_facility() {
        let p = project(
            "[services.web]\nexec = [\"/bin/true\"]\nafter = [\"$nss-lookup\"]\n\
             [services.cache]\nexec = [\"/bin/true\"]\n\
             [services.dns]\nexec = [\"/bin/true\"]\nbefore = [\"$nss-lookup\", \"cache\"]\n",
        );
        let refs: Vec<&Service> = ["web", "cache", "dns"]
            .iter()
            .map(|n| &p.services[*n])
            .collect();
        let order: Vec<&str> = dependency_order(&refs)
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        // dns ahead of the name lookups web waits for, and of cache, which it names.
        assert_eq!(order, ["dns", "web", "cache"]);
    }

    #[test]
    fn a_dependency_may_name_a_service_by_its_alias() {
        let p = project(
            "[services.web]\nexec = [\"/bin/true\"]\nafter = [\"sshd\"]\n\
             [services.ssh]\nexec = [\"/bin/true\"]\naliases = [\"sshd\"]\n",
        );
        assert_eq!(order_of(&p, &["web", "ssh"]), ["ssh", "web"]);
    }

    #[test]
    fn after_a_host_service_orders_after_a_service_of_that_name() {
        let p = project(
            "[services.varnishncsa]\nexec = [\"/bin/true\"]\nafter = [\"varnish.service\"]\n\
             [services.varnish]\nexec = [\"/bin/true\"]\n",
        );
        assert_eq!(
            order_of(&p, &["varnishncsa", "varnish"]),
            ["varnish", "varnishncsa"]
        );
    }
}
