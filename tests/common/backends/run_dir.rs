//! What the adapters of the run-directory managers (runit, daemontools, s6) check alike: a
//! unit is `NAME` or `NAME@INSTANCE`, a service directory below `service_dirs` linked into
//! `scan`, enabled while it has no `down` file, its scripts shell that sh and dash parse.

use crate::common::backend::Made;
use crate::common::host::Host;

pub struct RunDir {
    pub service_dirs: &'static str,
    pub scan: &'static str,
    /// What install writes in each service directory.
    pub files: &'static [&'static str],
    /// Which of them are shell scripts.
    pub scripts: &'static [&'static str],
}

impl RunDir {
    /// The unit that svc-any's status entry `s` of `name` stands for.
    pub fn unit(&self, name: &str, s: &serde_json::Value) -> String {
        match s["instance"].as_str() {
            Some(i) => format!("{name}@{i}"),
            None => name.to_string(),
        }
    }

    pub fn made(&self, name: &str, instances: &[&str]) -> Vec<Made> {
        let units: Vec<String> = if instances.is_empty() {
            vec![name.to_string()]
        } else {
            instances.iter().map(|i| format!("{name}@{i}")).collect()
        };
        let mut made = Vec::new();
        for u in units {
            for f in self.files {
                made.push(Made::File(format!("{}/{u}/{f}", self.service_dirs)));
            }
            made.push(Made::Link(format!("{}/{u}", self.scan)));
        }
        made
    }

    /// Neither the service directory nor its link is left.
    pub fn gone(&self, h: &Host, unit: &str) {
        for test in [
            format!("test -e {}/{unit}", self.service_dirs),
            format!("test -L {}/{unit}", self.scan),
        ] {
            assert!(!h.succeeds(&test), "left behind: {test} holds");
        }
    }

    /// Linked, and no `down` file: the supervisor starts it when it starts (at boot).
    pub fn enabled(&self, h: &Host, name: &str) -> bool {
        h.succeeds(&format!("test -L {}/{name}", self.scan))
            && !h.succeeds(&format!("test -e {}/{name}/down", self.service_dirs))
    }

    pub fn parses(&self, h: &Host, name: &str) {
        for f in self.scripts {
            let path = format!("{}/{name}/{f}", self.service_dirs);
            assert!(
                h.succeeds(&format!("sh -n {path} && dash -n {path}")),
                "{path} is no shell script"
            );
        }
    }
}
