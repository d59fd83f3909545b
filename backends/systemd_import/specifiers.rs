//! The `%` specifiers of a unit's values: the ones with a portable meaning (the unit and
//! template names, svc-any's `{instance}`, the standard directories) are resolved; any other
//! refuses the setting that holds it.

use super::Importer;
use crate::dialect::unit_file::Setting;

impl Importer {
    /// Resolves the specifiers svc-any can say (`%%`, `%n`, `%N`, `%p`, `%t`, `%S`, `%C`,
    /// `%L`, `%E`); any other is a loss.
    pub(super) fn specifiers(&mut self, s: &Setting, value: &str) -> Option<String> {
        let mut out = String::new();
        let mut chars = value.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(x @ ('n' | 'N')) if !self.instances.is_empty() => {
                    out.push_str(&format!("{}@{{instance}}", self.name));
                    if x == 'n' {
                        out.push_str(".service");
                    }
                }
                Some('n') => out.push_str(&self.unit_name),
                Some('N') => out.push_str(self.unit_name.trim_end_matches(".service")),
                Some('p') | Some('P') => out.push_str(&self.name),
                // The instance: `{instance}`, which svc-any writes back as `%i`. `%I`, the
                // unescaped instance, is the same for names without `-` (systemd's escape
                // of `/`).
                Some('i') if !self.instances.is_empty() => out.push_str("{instance}"),
                Some('I')
                    if !self.instances.is_empty()
                        && !self.instances.iter().any(|n| n.contains('-')) =>
                {
                    out.push_str("{instance}")
                }
                Some('t') => out.push_str("/run"),
                Some('S') => out.push_str("/var/lib"),
                Some('C') => out.push_str("/var/cache"),
                Some('L') => out.push_str("/var/log"),
                Some('E') => out.push_str("/etc"),
                other => {
                    let spec = other.map_or("%".to_string(), |o| format!("%{o}"));
                    self.lose(
                        s.line,
                        &s.key,
                        format!("the specifier `{spec}` has no portable meaning"),
                    );
                    return None;
                }
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::backends::systemd_import::import;

    #[test]
    fn a_template_imports_with_the_instances_it_is_given() {
        let unit = "[Unit]\nDescription=Worker %i of %n\n[Service]\nExecStart=/usr/bin/worker --id %I\n[Install]\nWantedBy=multi-user.target\n";
        let losses = import("worker@.service", unit, &[]).unwrap_err();
        assert!(
            losses.iter().any(|l| l.why.contains("--instances")),
            "{losses:?}"
        );
        let i = import("worker@.service", unit, &["1".into(), "2".into()]).unwrap();
        assert_eq!(i.name, "worker");
        assert_eq!(
            i.table["instances"],
            toml::Value::Array(vec!["1".into(), "2".into()])
        );
        assert_eq!(
            i.table["description"].as_str(),
            Some("Worker {instance} of worker@{instance}.service")
        );
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec![
                "/usr/bin/worker".into(),
                "--id".into(),
                "{instance}".into()
            ])
        );
        // `worker.service` is another unit than the instances `worker@1.service`.
        let part = unit.replace("[Service]", "PartOf=worker.service\n[Service]");
        let i = import("worker@.service", &part, &["1".into()]).unwrap();
        assert_eq!(
            i.table["part_of"],
            toml::Value::Array(vec!["worker.service".into()])
        );
        // `%I` unescapes `-` to `/`: not the same as `{instance}` for such a name.
        assert!(import("worker@.service", unit, &["a-b".into()]).is_err());
    }
}
