//! svc-any's own supervisor in a scope of its own on this machine (where no init system
//! runs, it is the default): its definitions, enabled links and pids/ files.

use crate::common::backend::{Backend, Made};
use crate::common::host::Host;

pub struct Builtin;

/// The supervisor's name for the unit of svc-any's status entry `s` of `name`.
fn unit(name: &str, s: &serde_json::Value) -> String {
    match s["instance"].as_str() {
        Some(i) => format!("{name}@{i}"),
        None => name.to_string(),
    }
}

impl Backend for Builtin {
    fn name(&self) -> &'static str {
        "builtin"
    }

    fn profile(&self) -> Option<&'static str> {
        None
    }

    fn dirs(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    fn made(&self, h: &Host, name: &str, instances: &[&str]) -> Vec<Made> {
        let dir = format!("{}/builtin", h.state_dir());
        let mut made = vec![Made::File(format!("{dir}/{name}.toml"))];
        if instances.is_empty() {
            made.push(Made::Link(format!("{dir}/enabled/{name}")));
        }
        for i in instances {
            made.push(Made::Link(format!("{dir}/enabled/{name}@{i}")));
        }
        made
    }

    /// RUN/pids/UNIT, the supervisor's record on disk, exists exactly while the unit runs.
    fn agrees(&self, h: &Host, name: &str, s: &serde_json::Value) {
        let unit = unit(name, s);
        let record = h.sh(&format!("cat '{}/pids/{unit}'", h.runtime_dir()));
        let record = record
            .status
            .success()
            .then(|| String::from_utf8_lossy(&record.stdout).into_owned());
        match (s["state"].as_str(), s["pid"].as_u64()) {
            (Some("running"), Some(pid)) => assert!(
                record
                    .as_deref()
                    .is_some_and(|r| r.starts_with(&format!("{pid} "))),
                "pids/{unit}: {record:?}, want {pid}"
            ),
            (state, _) => assert!(record.is_none(), "pids/{unit} left while {state:?}"),
        }
    }

    fn enabled(&self, h: &Host, name: &str) -> bool {
        h.succeeds(&format!(
            "test -L '{}/builtin/enabled/{name}'",
            h.state_dir()
        ))
    }

    fn parses(&self, h: &Host, name: &str) {
        let path = format!("{}/builtin/{name}.toml", h.state_dir());
        let definition = h.sh_out(&format!("cat '{path}'"));
        if let Err(e) = definition.parse::<toml::Table>() {
            panic!("{path}: {e}");
        }
    }

    fn supervised_by_svc_any(&self) -> bool {
        true
    }

    fn keeper(&self, h: &Host, _name: &str) -> Option<u32> {
        h.supervisor_pid()
    }
}
