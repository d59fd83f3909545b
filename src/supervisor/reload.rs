//! Reloading definitions (SIGHUP, or the `reload` request): the files [`super::definitions`]
//! reads become units, new ones stopped, changed ones taking effect at their next start, and
//! the units of a file that is gone stopped and then forgotten. A unit's own reload
//! (`reload_exec`, `reload_signal`) is another thing: see `requests.rs` and `jobs.rs`.

use std::collections::{BTreeSet, VecDeque};

use super::daemon::{Known, Supervisor};
use super::definitions::{self, Read};
use super::machine::AfterStop;
use super::unit::Unit;

impl Supervisor {
    /// Re-reads definitions (see [`definitions`]): those of `services`, or with none named
    /// every file that changed since it was last read. New units appear stopped, changed ones
    /// take effect at their next start, the units of a file that is gone are stopped and
    /// forgotten, and those of a file that cannot be read stay as they were. With none left,
    /// the supervisor ends.
    pub(super) fn reload(&mut self, services: &[String]) {
        if services.is_empty() {
            self.reload_all();
        } else {
            for name in services {
                self.reload_service(name, None);
            }
        }
        if self.units.is_empty() && !self.foreground {
            // Nothing to supervise: leave no process and no runtime files behind.
            self.shutdown.get_or_insert_with(VecDeque::new);
        }
    }

    fn reload_all(&mut self) {
        let names = match definitions::list(&self.scope) {
            Ok(names) => names,
            Err(e) => {
                self.event(&format!(
                    "cannot list {}: {e}; every unit stays as it was",
                    self.scope.definitions_dir().display()
                ));
                return;
            }
        };
        // Without a complete list of boot links, each unit's is looked at by itself.
        let enabled = definitions::enabled_keys(&self.scope).ok();
        let gone: Vec<String> = self
            .files
            .keys()
            .filter(|name| !names.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            self.forget_service(&name);
        }
        for name in &names {
            let unchanged = match (self.files.get(name), definitions::stamp(&self.scope, name)) {
                (Some(known), Ok(Some(now))) => known.stamp == now,
                _ => false,
            };
            if !unchanged {
                self.reload_service(name, enabled.as_ref());
                continue;
            }
            let keys = self.files[name].keys.clone();
            for key in keys {
                let on = match &enabled {
                    Some(set) => set.contains(&key),
                    None => definitions::is_enabled(&self.scope, &key),
                };
                if let Some(unit) = self.units.get_mut(&key) {
                    unit.enabled = on;
                }
            }
        }
    }

    /// Reads service `name`'s file again; `enabled` is the set of boot links if known.
    fn reload_service(&mut self, name: &str, enabled: Option<&BTreeSet<String>>) {
        let scope = self.scope.clone();
        let is_enabled = |key: &str| match enabled {
            Some(set) => set.contains(key),
            None => definitions::is_enabled(&scope, key),
        };
        match definitions::read(&self.scope, name, &is_enabled) {
            Read::Gone => self.forget_service(name),
            Read::Unreadable(why) => {
                self.event(&format!("cannot read {why}; its units stay as they were"))
            }
            Read::Defined(stamp, units) => {
                let keys: Vec<String> = units.iter().map(|(k, _)| k.clone()).collect();
                let before = self.files.insert(
                    name.to_string(),
                    Known {
                        stamp,
                        keys: keys.clone(),
                    },
                );
                let dropped: Vec<String> = before
                    .map(|k| k.keys)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|k| !keys.contains(k))
                    .collect();
                self.remove_units(&dropped);
                for (key, definition) in units {
                    match self.units.get_mut(&key) {
                        Some(unit) => unit.redefine(&self.scope, definition),
                        None => {
                            let unit = Unit::new(&self.scope, definition);
                            self.units.insert(key, unit);
                        }
                    }
                }
            }
        }
    }

    /// The definition of `name` is gone: its units stop and are forgotten.
    fn forget_service(&mut self, name: &str) {
        let keys = self.files.remove(name).map(|k| k.keys).unwrap_or_default();
        self.remove_units(&keys);
    }

    fn remove_units(&mut self, keys: &[String]) {
        self.set_wanted_up(keys, false);
        for key in keys {
            self.stop(key, AfterStop::Remove);
        }
    }

    /// Forgets a unit whose definition is gone (it has stopped).
    pub(super) fn remove_unit(&mut self, key: &str) {
        if let Some(unit) = self.units.remove(key) {
            for stream in unit.streams() {
                for token in stream.tokens() {
                    self.outputs.forget(token);
                }
            }
        }
    }
}
