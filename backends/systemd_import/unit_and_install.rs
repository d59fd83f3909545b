//! The `[Unit]` and `[Install]` sections: description and documentation, dependencies (a
//! well-known target becomes its `$facility`), path conditions, start limits, and where the
//! unit is enabled and under which aliases.

use super::Importer;
use crate::dialect::unit_file::Setting;
use crate::model::spec::Facility;

impl Importer {
    pub(super) fn unit(&mut self, s: &Setting) {
        match s.key.as_str() {
            "Description" => {
                if let Some(v) = self.specifiers(s, &s.value) {
                    self.set("description", v);
                }
            }
            "Documentation" => {
                let list = self
                    .t
                    .entry("documentation")
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.extend(s.value.split_whitespace().map(toml::Value::from));
                }
            }
            "After" | "Requires" | "Wants" | "Before" | "PartOf" | "BindsTo" | "Conflicts" => {
                let key = match s.key.as_str() {
                    "After" => "after",
                    "Requires" => "requires",
                    "Wants" => "wants",
                    "Before" => "before",
                    "PartOf" => "part_of",
                    "BindsTo" => "binds_to",
                    _ => "conflicts",
                };
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                for unit in v.split_whitespace() {
                    let entry = match facility_of(unit) {
                        Some(f) => format!("${}", f.name()),
                        None => unit.to_string(),
                    };
                    if crate::model::spec::Dependency::parse(&entry).is_err() {
                        self.lose(
                            s.line,
                            &s.key,
                            format!("`{unit}` is no unit name svc-any can carry"),
                        );
                        continue;
                    }
                    let list = self.deps.entry(key).or_default();
                    if !list.contains(&entry) {
                        list.push(entry);
                    }
                }
            }
            "ConditionPathExists" => {
                let Some(v) = self.specifiers(s, &s.value) else {
                    return;
                };
                if v.starts_with('|') {
                    self.verbatim("unit", s);
                    return;
                }
                let list = self
                    .t
                    .entry("condition_path_exists")
                    .or_insert(toml::Value::Array(Vec::new()));
                if let toml::Value::Array(a) = list {
                    a.push(v.into());
                }
            }
            "StartLimitIntervalSec" | "StartLimitInterval" => {
                if let Some(d) = self.duration(s) {
                    match d.as_deref() {
                        None | Some("0s") => self.set("restart_limit", 0),
                        Some(d) => self.set("restart_limit_interval", d),
                    }
                }
            }
            "StartLimitBurst" => match s.value.parse::<i64>() {
                Ok(n) if n >= 1 => self.set("restart_limit", n - 1),
                _ => self.lose(
                    s.line,
                    &s.key,
                    "svc-any's restart_limit counts restarts: a burst below 1 has no meaning",
                ),
            },
            _ => self.verbatim("unit", s),
        }
    }

    pub(super) fn install(&mut self, s: &Setting) {
        match s.key.as_str() {
            "WantedBy" => self
                .wanted_by
                .extend(s.value.split_whitespace().map(String::from)),
            "Alias" => {
                for a in s.value.split_whitespace() {
                    match a.strip_suffix(".service") {
                        Some(name) if crate::model::spec::check_name(name).is_ok() => {
                            let list = self
                                .t
                                .entry("aliases")
                                .or_insert(toml::Value::Array(Vec::new()));
                            if let toml::Value::Array(l) = list {
                                l.push(name.into());
                            }
                        }
                        _ => self.lose(
                            s.line,
                            &s.key,
                            format!("`{a}` is not an alias svc-any can make"),
                        ),
                    }
                }
            }
            _ => self.verbatim("install", s),
        }
    }
}

fn facility_of(unit: &str) -> Option<Facility> {
    Facility::ALL.into_iter().find(|f| f.systemd_unit() == unit)
}
