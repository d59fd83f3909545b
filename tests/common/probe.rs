//! The byte-for-byte check shared by every backend's end-to-end test: run the probe
//! (tests/fixtures/probe.py) with the adversarial arguments and environment of
//! tests/fixtures/specs/adversarial.toml, then compare what it received with what was asked.

use super::container::Container;
use super::fixtures;

/// Where the fixtures are inside a container.
pub const SHARE: &str = "/opt/svc-any-share";

/// The adversarial argument list and environment.
pub struct Adversarial {
    pub args: Vec<String>,
    pub env: toml::Table,
}

pub fn adversarial() -> Adversarial {
    let spec: toml::Table = toml::from_str(
        &std::fs::read_to_string(fixtures().join("specs/adversarial.toml")).unwrap(),
    )
    .unwrap();
    Adversarial {
        args: spec["exec"].as_array().unwrap()[1..]
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect(),
        env: spec["env"].as_table().unwrap().clone(),
    }
}

impl Adversarial {
    /// A definition that runs the probe, recording to `record`, plus the `extra` keys.
    pub fn probe_definition(&self, record: &str, extra: toml::Table) -> String {
        let mut exec = vec![
            toml::Value::from(format!("{SHARE}/probe.py")),
            record.into(),
        ];
        exec.extend(self.args.iter().map(|a| toml::Value::from(a.as_str())));
        let mut def = extra;
        def.insert("exec".into(), toml::Value::Array(exec));
        def.insert("env".into(), toml::Value::Table(self.env.clone()));
        toml::to_string(&def).unwrap()
    }

    /// Asserts that the probe's record holds exactly the arguments and environment; prints
    /// the counts (the README quotes them).
    pub fn check(&self, label: &str, record: &serde_json::Value) {
        let got: Vec<Vec<u8>> = record["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes)
            .collect();
        let want: Vec<Vec<u8>> = self.args.iter().map(|a| a.as_bytes().to_vec()).collect();
        let mismatches =
            got.iter().zip(&want).filter(|(g, w)| g != w).count() + got.len().abs_diff(want.len());
        println!(
            "{label}: {} arguments, {} environment values, {mismatches} mismatches",
            want.len(),
            self.env.len()
        );
        assert_eq!(got, want, "{label}: argv differs");
        for (k, v) in &self.env {
            assert_eq!(
                bytes(&record["env"][k]),
                v.as_str().unwrap().as_bytes(),
                "{label}: env {k} differs"
            );
        }
    }
}

/// A probe record field (a list of byte values) as bytes.
pub fn bytes(v: &serde_json::Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect()
}

/// Writes `/etc/svc-any/NAME.toml` inside the container.
pub fn put_definition(c: &Container, name: &str, toml: &str) {
    c.sh_out(&format!("mkdir -p /etc/svc-any && cat > /etc/svc-any/{name}.toml <<'SVC_ANY_EOF'\n{toml}SVC_ANY_EOF"));
}

/// Reads the probe's record from inside the container.
pub fn record(c: &Container, path: &str) -> serde_json::Value {
    serde_json::from_str(&c.sh_out(&format!("cat '{path}'"))).unwrap()
}
