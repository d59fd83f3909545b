//! The byte-for-byte check shared by every backend's end-to-end test: run the probe
//! (tests/fixtures/probe.py) with the adversarial arguments and environment of
//! tests/fixtures/specs/adversarial.toml, or with generated ones (tests/common/generate.rs),
//! then compare what it received with what was asked.

use std::collections::BTreeMap;

use super::container::Container;
use super::fixtures;
use super::generate::ServiceCase;

/// Where the fixtures are inside a container.
pub const SHARE: &str = "/opt/svc-any-share";

/// What a probe should receive: arguments, environment and, when set, its working directory.
pub struct Adversarial {
    pub args: Vec<String>,
    pub env: toml::Table,
    pub working_dir: Option<String>,
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
        working_dir: None,
    }
}

impl Adversarial {
    /// A generated case, its working directory placed below `base`.
    pub fn generated(case: &ServiceCase, base: &str) -> Adversarial {
        Adversarial {
            args: case.args.clone(),
            env: case
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().into()))
                .collect(),
            working_dir: Some(format!("{base}{}", case.working_dir)),
        }
    }

    /// What the instance `name` of a service defined by `self` receives: `{instance}`
    /// replaced in every value.
    pub fn for_instance(&self, name: &str) -> Adversarial {
        let sub = |s: &str| s.replace("{instance}", name);
        Adversarial {
            args: self.args.iter().map(|a| sub(a)).collect(),
            env: self
                .env
                .iter()
                .map(|(k, v)| (k.clone(), sub(v.as_str().unwrap()).into()))
                .collect(),
            working_dir: self.working_dir.as_deref().map(sub),
        }
    }

    /// The definition's keys: run `probe` (the probe's path where the manager runs it),
    /// recording to `record`, plus the `extra` keys.
    pub fn probe_table(&self, probe: &str, record: &str, extra: toml::Table) -> toml::Table {
        let mut exec = vec![toml::Value::from(probe), record.into()];
        exec.extend(self.args.iter().map(|a| toml::Value::from(a.as_str())));
        let mut def = extra;
        def.insert("exec".into(), toml::Value::Array(exec));
        def.insert("env".into(), toml::Value::Table(self.env.clone()));
        if let Some(dir) = &self.working_dir {
            def.insert("working_dir".into(), dir.as_str().into());
        }
        def
    }

    /// How many values a record is compared on.
    pub fn values(&self) -> usize {
        self.args.len() + self.env.len() + usize::from(self.working_dir.is_some())
    }

    /// Every value the probe's record got wrong, described (empty when all arrived exactly).
    pub fn mismatches(&self, record: &serde_json::Value) -> Vec<String> {
        let mut out = Vec::new();
        let got: Vec<Vec<u8>> = record["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(bytes)
            .collect();
        if got.len() != self.args.len() {
            out.push(format!(
                "{} arguments arrived, {} were given",
                got.len(),
                self.args.len()
            ));
        }
        for (i, (g, want)) in got.iter().zip(&self.args).enumerate() {
            if g.as_slice() != want.as_bytes() {
                out.push(format!("argument {i}: {}", differ(want, g)));
            }
        }
        for (k, v) in &self.env {
            let want = v.as_str().unwrap();
            let g = record["env"].get(k).map(bytes);
            if g.as_deref() != Some(want.as_bytes()) {
                out.push(match g {
                    Some(g) => format!("env {k}: {}", differ(want, &g)),
                    None => format!("env {k}: missing"),
                });
            }
        }
        if let Some(dir) = &self.working_dir {
            let g = bytes(&record["cwd"]);
            if g.as_slice() != dir.as_bytes() {
                out.push(format!("working directory: {}", differ(dir, &g)));
            }
        }
        out
    }

    /// Asserts that the probe's record holds exactly the arguments and environment; prints
    /// the counts (the README quotes them).
    pub fn check(&self, label: &str, record: &serde_json::Value) {
        let mismatches = self.mismatches(record);
        println!(
            "{label}: {} arguments, {} environment values, {} mismatches",
            self.args.len(),
            self.env.len(),
            mismatches.len()
        );
        assert!(mismatches.is_empty(), "{label}: {mismatches:#?}");
    }
}

/// Wanted and received, both shown escaped and cut to a readable length.
fn differ(want: &str, got: &[u8]) -> String {
    let show = |s: &str| {
        let e = s.escape_debug().to_string();
        if e.len() > 160 {
            let cut = (0..=160)
                .rev()
                .find(|i| e.is_char_boundary(*i))
                .unwrap_or(0);
            format!("{}... ({} bytes)", &e[..cut], s.len())
        } else {
            e
        }
    };
    format!(
        "wanted \"{}\", got \"{}\"",
        show(want),
        show(&String::from_utf8_lossy(got))
    )
}

/// Compares the probe records of many generated services (`records` by service name) with
/// what each was given; prints the counts and asserts no mismatch.
pub fn check_all(
    label: &str,
    expected: &[(String, Adversarial)],
    records: &BTreeMap<String, serde_json::Value>,
) {
    let mut mismatches = Vec::new();
    for (name, want) in expected {
        match records.get(name) {
            Some(record) => mismatches.extend(
                want.mismatches(record)
                    .into_iter()
                    .map(|m| format!("{name}: {m}")),
            ),
            None => mismatches.push(format!("{name}: the probe left no record")),
        }
    }
    let count = |f: fn(&Adversarial) -> usize| expected.iter().map(|(_, a)| f(a)).sum::<usize>();
    eprintln!(
        "{label}: {} services and instances, {} values ({} arguments, {} environment values, {} working directories), {} mismatches",
        expected.len(),
        count(Adversarial::values),
        count(|a| a.args.len()),
        count(|a| a.env.len()),
        count(|a| usize::from(a.working_dir.is_some())),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{label}: {mismatches:#?}");
}

/// A probe record field (a list of byte values) as bytes.
pub fn bytes(v: &serde_json::Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect()
}

/// Every probe record in `dir` inside the container (`NAME.json`), by NAME, in one call.
pub fn records(c: &Container, dir: &str) -> BTreeMap<String, serde_json::Value> {
    let out = c.exec(&[
        "sh",
        "-c",
        "for f in \"$1\"/*.json; do [ -f \"$f\" ] && printf '%s\\n' \"${f##*/}\" && cat \"$f\" && echo; done",
        "sh",
        dir,
    ]);
    parse_records(&out.stdout)
}

/// Lines alternating `NAME.json` and the record's one line of JSON.
fn parse_records(listing: &[u8]) -> BTreeMap<String, serde_json::Value> {
    let text = String::from_utf8(listing.to_vec()).expect("records are ASCII JSON");
    let mut lines = text.lines();
    let mut out = BTreeMap::new();
    while let (Some(file), Some(json)) = (lines.next(), lines.next()) {
        let name = file.trim_end_matches(".json").to_string();
        out.insert(name, serde_json::from_str(json).unwrap());
    }
    out
}

/// Every probe record in `dir` on this machine, by NAME.
pub fn local_records(dir: &std::path::Path) -> BTreeMap<String, serde_json::Value> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_suffix(".json")?.to_string();
            Some((
                name,
                serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?,
            ))
        })
        .collect()
}
