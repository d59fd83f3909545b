//! The definition made once every setting is read: systemd's defaults where they differ from
//! svc-any's, environment files, capabilities, dependencies and the notes they call for, the
//! targets the unit is enabled in, the commands (expanded or not), and the `[systemd]` table
//! for what no portable key says.

use super::commands::expanded;
use super::{Imported, Importer, Loss};
use crate::model::spec::Facility;

impl Importer {
    pub(super) fn finish(mut self) -> Result<Imported, Vec<Loss>> {
        let t = &mut self.t;
        // systemd's defaults where they differ from svc-any's.
        t.entry("type").or_insert("simple".into());
        t.entry("restart").or_insert("no".into());
        t.entry("restart_delay").or_insert("100ms".into());
        t.entry("stop_timeout").or_insert("1m 30s".into());
        if !t.contains_key("restart_limit") {
            t.insert("restart_limit".into(), 4.into());
        }
        let stop = t
            .get("stop_signal")
            .and_then(|v| v.as_str())
            .unwrap_or("TERM")
            .to_string();
        if let Some(toml::Value::Array(codes)) = t.get_mut("success_exit_codes") {
            // 128 + the stop signal is clean in svc-any anyway.
            if let Some(sig) = crate::model::signal::Signal::from_name(&stop) {
                codes.retain(|c| c.as_integer() != Some(i64::from(sig.exit_code())));
            }
            if codes.is_empty() {
                t.remove("success_exit_codes");
            }
        }
        if !self.env.is_empty() {
            t.insert(
                "env".into(),
                toml::Value::Table(std::mem::take(&mut self.env)),
            );
        }
        match self.env_files.as_slice() {
            [] => {}
            [one] if !one.starts_with('-') => {
                t.insert("env_file".into(), one.clone().into());
            }
            many => {
                t.insert(
                    "env_file".into(),
                    toml::Value::Array(many.iter().map(|f| f.clone().into()).collect()),
                );
            }
        }
        // Capabilities: portable when the bounding and ambient sets are the same plain list.
        match (&self.caps_bounding, &self.caps_ambient) {
            (None, None) => {}
            (Some(b), Some(a)) if b == a && !b.iter().any(|c| c == "~") => {
                t.insert(
                    "capabilities".into(),
                    toml::Value::Array(b.iter().map(|c| c.clone().into()).collect()),
                );
            }
            // An empty bounding set leaves no capability to be ambient: the same as `[]`.
            (Some(b), None) if b.is_empty() => {
                t.insert("capabilities".into(), toml::Value::Array(Vec::new()));
            }
            // A root service has every capability of its bounding set already: the ambient
            // set svc-any adds changes nothing.
            (Some(b), None) if !b.iter().any(|c| c == "~") && !t.contains_key("user") => {
                t.insert(
                    "capabilities".into(),
                    toml::Value::Array(b.iter().map(|c| c.clone().into()).collect()),
                );
                self.notes.push("AmbientCapabilities= is set to the bounding set, which changes nothing for a root service".into());
            }
            _ => {
                for (_, key, value) in &self.caps_lines {
                    let table = self.systemd.entry("service").or_default();
                    push_verbatim(table, key, value);
                }
            }
        }
        // Dependencies; svc-any orders after what it requires, and pulls in network-online.
        for (key, list) in &self.deps {
            t.insert(
                (*key).into(),
                toml::Value::Array(list.iter().map(|d| d.clone().into()).collect()),
            );
        }
        let after = self.deps.get("after").cloned().unwrap_or_default();
        for r in self.deps.get("requires").into_iter().flatten() {
            if !after.contains(r) {
                self.notes.push(format!(
                    "svc-any orders after what it requires: After={} is added",
                    unit_of(r)
                ));
            }
        }
        if after
            .iter()
            .chain(self.deps.get("requires").into_iter().flatten())
            .any(|d| d == "$network-online")
            && !self
                .deps
                .get("wants")
                .is_some_and(|w| w.iter().any(|d| d == "$network-online"))
        {
            self.notes.push(
                "network-online.target is pulled in (Wants=), as systemd advises for After=".into(),
            );
        }
        // svc-any always enables in multi-user.target; further targets go into [systemd.install].
        let multi_user = "multi-user.target".to_string();
        match self.wanted_by.as_slice() {
            [] => self.notes.push("a unit without WantedBy= is enabled in multi-user.target by `svc-any install`; use --no-enable to leave it off".into()),
            all if all.contains(&multi_user) => {
                for other in all.iter().filter(|t| **t != multi_user) {
                    let table = self.systemd.entry("install").or_default();
                    push_verbatim(table, "WantedBy", other);
                }
            }
            other => self.losses.push(Loss {
                line: 0,
                key: "WantedBy".into(),
                why: format!("svc-any enables system services in multi-user.target, not only {}", other.join(" ")),
            }),
        }
        // Commands: with systemd's expansion where any line without `:` uses a `$`.
        let expand = self
            .commands
            .iter()
            .any(|(_, _, _, argv, no_expand)| !no_expand && argv.iter().any(|a| a.contains('$')));
        if expand {
            t.insert("exec_expand".into(), true.into());
        }
        let commands = std::mem::take(&mut self.commands);
        for (line, target, mut marker, argv, no_expand) in commands {
            if self.permissions_start_only && target != "exec" && !marker.contains('+') {
                marker.push('+');
            }
            let argv = match expand {
                false => argv,
                true => match expanded(argv, no_expand) {
                    Ok(a) => a,
                    Err(why) => {
                        self.lose(line, &format!("Exec ({target})"), why);
                        continue;
                    }
                },
            };
            let t = &mut self.t;
            let words = toml::Value::Array(argv.iter().map(|a| a.clone().into()).collect());
            if target == "exec" {
                t.insert("exec".into(), words);
                continue;
            }
            let item = if marker.is_empty() {
                words
            } else {
                let mut c = toml::Table::new();
                c.insert("exec".into(), words);
                if marker.contains('-') {
                    c.insert("may_fail".into(), true.into());
                }
                if marker.contains('+') {
                    c.insert("privileged".into(), true.into());
                }
                toml::Value::Table(c)
            };
            let list = t.entry(target).or_insert(toml::Value::Array(Vec::new()));
            if let toml::Value::Array(a) = list {
                a.push(item);
            }
        }
        if !self.t.contains_key("exec") && !self.losses.iter().any(|l| l.key == "ExecStart") {
            self.losses.push(Loss {
                line: 0,
                key: "ExecStart".into(),
                why: "no ExecStart=: svc-any runs a program".into(),
            });
        }
        let portable = self.systemd.is_empty();
        if !portable {
            let mut st = self.systemd.remove("service").unwrap_or_default();
            for section in ["unit", "install"] {
                if let Some(sub) = self.systemd.remove(section) {
                    st.insert(section.into(), toml::Value::Table(sub));
                }
            }
            self.t.insert("systemd".into(), toml::Value::Table(st));
        }
        if !self.losses.is_empty() {
            self.losses.sort_by_key(|l| l.line);
            return Err(self.losses);
        }
        Ok(Imported {
            name: self.name,
            table: self.t,
            notes: self.notes,
            portable,
        })
    }
}

fn push_verbatim(table: &mut toml::Table, key: &str, value: &str) {
    match table.get_mut(key) {
        Some(toml::Value::Array(a)) => a.push(value.into()),
        Some(other) => {
            let first = other.clone();
            *other = toml::Value::Array(vec![first, value.into()]);
        }
        None => {
            table.insert(key.into(), value.into());
        }
    }
}

fn unit_of(dep: &str) -> String {
    match dep.strip_prefix('$') {
        Some(f) => facility_by_name(f).map_or(dep.to_string(), |f| f.systemd_unit().to_string()),
        None if dep.contains('.') => dep.to_string(),
        None => format!("{dep}.service"),
    }
}

fn facility_by_name(name: &str) -> Option<Facility> {
    Facility::ALL.into_iter().find(|f| f.name() == name)
}
