//! Reading the definitions of a scope (`STATE_DIR/builtin/NAME.toml`) for a reload.
//!
//! Two rules keep a reload cheap and safe at any scale:
//! - Only what changed is read. Each file's identity and times are kept from the last time it
//!   was read ([`Stamp`]); a full reload (SIGHUP, or a request naming nothing) lists the
//!   directory and parses only the files whose stamp differs, and a request naming services
//!   reads only theirs. Install rewrites a file by renaming a new one over it, so a changed
//!   file always has a new stamp.
//! - A definition that cannot be read is never taken for a deleted one. Only a file that is
//!   not there is gone; a file that cannot be opened (no descriptor left, no permission) or
//!   does not parse leaves its units exactly as they were, and a directory that cannot be
//!   listed completely changes nothing at all.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::protocol::unit_key;
use super::Scope;
use crate::model::spec::Service;

/// One unit as its definition file describes it.
pub struct Definition {
    pub name: String,
    pub instance: Option<String>,
    pub service: Service,
    pub enabled: bool,
}

/// What tells one version of a file from another without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// What reading one definition file found.
pub enum Read {
    /// The file as it is now, and the units it defines (one per instance).
    Defined(Stamp, Vec<(String, Definition)>),
    /// There is no such file: the service was uninstalled.
    Gone,
    /// It is there but cannot be read or parsed, for this reason.
    Unreadable(String),
}

/// The file that defines service `name`.
pub fn path(scope: &Scope, name: &str) -> PathBuf {
    scope.definitions_dir().join(format!("{name}.toml"))
}

/// The stamp of `name`'s file as it is now: `Ok(None)` if there is none.
pub fn stamp(scope: &Scope, name: &str) -> std::io::Result<Option<Stamp>> {
    match std::fs::metadata(path(scope, name)) {
        Ok(meta) => Ok(Some(Stamp::of(&meta))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Reads and parses `name`'s file. `enabled` says whether a unit key starts at boot.
pub fn read(scope: &Scope, name: &str, enabled: &dyn Fn(&str) -> bool) -> Read {
    let path = path(scope, name);
    let (stamp, text) = match std::fs::File::open(&path).and_then(|mut f| {
        use std::io::Read as _;
        let meta = f.metadata()?;
        let mut text = String::new();
        f.read_to_string(&mut text)?;
        Ok((Stamp::of(&meta), text))
    }) {
        Ok(read) => read,
        Err(e) if e.kind() == ErrorKind::NotFound => return Read::Gone,
        Err(e) => return Read::Unreadable(format!("{}: {e}", path.display())),
    };
    let service: Service = match toml::from_str(&text) {
        Ok(s) => s,
        Err(e) => return Read::Unreadable(format!("{}: {e}", path.display())),
    };
    let units = service
        .instance_names()
        .into_iter()
        .map(|instance| {
            let key = unit_key(&service.name, instance);
            let definition = Definition {
                name: service.name.clone(),
                instance: instance.map(String::from),
                service: service.for_instance(instance),
                enabled: enabled(&key),
            };
            (key, definition)
        })
        .collect();
    Read::Defined(stamp, units)
}

/// The services the directory holds a definition for, by name; an error if it cannot be
/// listed completely (a missing directory holds none).
pub fn list(scope: &Scope) -> std::io::Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(scope.definitions_dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e),
    };
    let mut names = BTreeSet::new();
    for entry in entries {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        // Temporary files of a write in progress start with a dot (and end in .tmp).
        if let Some(service) = name.strip_suffix(".toml").filter(|n| !n.starts_with('.')) {
            names.insert(service.to_string());
        }
    }
    Ok(names)
}

/// The unit keys with a boot link in `STATE/builtin/enabled/`; an error if it cannot be
/// listed completely (a missing directory holds none).
pub fn enabled_keys(scope: &Scope) -> std::io::Result<BTreeSet<String>> {
    let entries = match std::fs::read_dir(scope.enabled_dir()) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(BTreeSet::new()),
        Err(e) => return Err(e),
    };
    let mut keys = BTreeSet::new();
    for entry in entries {
        if let Some(key) = entry?.file_name().to_str() {
            keys.insert(key.to_string());
        }
    }
    Ok(keys)
}

/// Whether unit `key` has a boot link (one look, for a reload that names its services).
pub fn is_enabled(scope: &Scope, key: &str) -> bool {
    scope.enabled_dir().join(key).symlink_metadata().is_ok()
}
