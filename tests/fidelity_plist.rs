//! The launchd dialect at scale: generated arguments, environment values and working
//! directories (tests/common/generate.rs) rendered into plists by the launchd backend, then read
//! back by two independent parsers, the `plist` crate and Python's plistlib. A value XML can
//! carry must come back byte for byte; one it cannot (a C0 control character, a carriage return,
//! U+FFFE/U+FFFF) must be refused as bad input naming the key, never written changed.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use common::generate::{sample, service_case, ServiceCase};
use common::{scratch, text};
use svc_any::backends::{Backend, Launchd};
use svc_any::dialect::render::Renderer;
use svc_any::model::error::BadInput;
use svc_any::model::spec::{self, Level, ParseOptions, Source};
use svc_any::system::host::Ctx;

const CASES: usize = 400;

fn ctx() -> Ctx {
    Ctx {
        root: PathBuf::from("/"),
        level: Level::System,
        live: false,
        offline_reason: Some("test".into()),
        renderer: Renderer::new(None).unwrap(),
        home: PathBuf::from("/home/test"),
        probe_root: PathBuf::from("/nonexistent"),
        report: std::sync::Arc::new(svc_any::system::report::Silent),
        target: None,
    }
}

/// Whether XML 1.0 carries `c` as text that every parser returns unchanged.
fn xml_carries(c: char) -> bool {
    !matches!(c, '\0'..='\u{8}' | '\u{b}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The characters svc-any must refuse for a plist, one per kind.
const UNCARRIED: &[char] = &['\u{1}', '\r', '\u{1b}', '\u{fffe}', '\u{ffff}'];

/// Case `i` as the test wants it: every value XML carries, or (every third case) one value
/// poisoned with a character it cannot.
fn shaped(i: usize, mut case: ServiceCase) -> (ServiceCase, bool) {
    let clean = |s: &String| s.chars().filter(|c| xml_carries(*c)).collect::<String>();
    case.args = case.args.iter().map(clean).collect();
    case.env = case
        .env
        .iter()
        .map(|(k, v)| (k.clone(), clean(v)))
        .collect();
    case.working_dir = clean(&case.working_dir);
    if i % 3 != 0 {
        return (case, false);
    }
    let poison = UNCARRIED[i / 3 % UNCARRIED.len()];
    let at = |s: &mut String| {
        let cut = s
            .char_indices()
            .map(|(n, _)| n)
            .nth(i % 7)
            .unwrap_or(s.len());
        s.insert(cut, poison);
    };
    // Arguments and environment values (a control character in a path is already refused by
    // the definition's own checks, before any backend).
    if (i / 3) % 2 == 0 {
        if case.args.is_empty() {
            case.args.push("x".into());
        }
        at(&mut case.args[0]);
    } else {
        let value = case.env.entry("F_POISONED".into()).or_default();
        at(value);
    }
    (case, true)
}

/// The definition of one case, as TOML (the toml crate is that dialect's escaper).
fn definition(case: &ServiceCase) -> String {
    let mut table = toml::Table::new();
    let mut exec = vec![toml::Value::from("/usr/local/bin/probe")];
    exec.extend(case.args.iter().map(|a| toml::Value::from(a.as_str())));
    table.insert("exec".into(), toml::Value::Array(exec));
    let env: toml::Table = case
        .env
        .iter()
        .map(|(k, v)| (k.clone(), toml::Value::from(v.as_str())))
        .collect();
    table.insert("env".into(), toml::Value::Table(env));
    table.insert(
        "working_dir".into(),
        toml::Value::from(format!("/srv{}", case.working_dir)),
    );
    toml::to_string(&table).unwrap()
}

#[test]
fn generated_values_survive_two_plist_parsers_or_are_refused() {
    let cases = sample(service_case(true), CASES, 0x9115);
    let cases: Vec<(ServiceCase, bool)> = cases
        .into_iter()
        .enumerate()
        .map(|(i, c)| shaped(i, c))
        .collect();
    let ctx = ctx();
    let dir = scratch("fidelity-plist");
    let mut expected = Vec::new();
    let mut files = Vec::new();
    let (mut values, mut refused, mut mismatches) = (0usize, 0usize, 0usize);
    for (i, (case, poisoned)) in cases.iter().enumerate() {
        let text = definition(case);
        let src = Source {
            label: format!("case{i}.toml"),
            text: &text,
            path: None,
        };
        let opts = ParseOptions {
            default_level: Level::System,
            forced_level: None,
            accounts: None,
        };
        let project = spec::parse(&src, Some(&format!("case{i}")), &opts)
            .unwrap_or_else(|e| panic!("case {i} does not parse: {e}\n{text}"));
        let service = project.services.into_values().next().unwrap();
        let rendered = Launchd.render(&ctx, &service);
        if *poisoned {
            let err = rendered.expect_err("a value XML cannot carry was written");
            let bad = err
                .chain()
                .find_map(|c| c.downcast_ref::<BadInput>())
                .unwrap_or_else(|| panic!("case {i}: not bad input: {err:#}"));
            let key = bad.key.as_deref().unwrap_or("");
            assert!(
                key == "exec" || key == "working_dir" || key.starts_with("env."),
                "case {i}: the refusal names no key: {bad}"
            );
            refused += 1;
            continue;
        }
        let plan = rendered.unwrap_or_else(|e| panic!("case {i}: {e:#}"));
        let content = &plan.files[0].content;
        let parsed = plist::Value::from_reader_xml(content.as_bytes()).unwrap();
        let d = parsed.as_dictionary().unwrap();
        let argv: Vec<&str> = d["ProgramArguments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_string().unwrap())
            .collect();
        let env: BTreeMap<&str, &str> = d
            .get("EnvironmentVariables")
            .and_then(|e| e.as_dictionary())
            .map(|e| {
                e.iter()
                    .map(|(k, v)| (k.as_str(), v.as_string().unwrap()))
                    .collect()
            })
            .unwrap_or_default();
        let cwd = d["WorkingDirectory"].as_string().unwrap();
        values += service.exec.len() + service.env.len() + 1;
        mismatches += service
            .exec
            .iter()
            .zip(&argv)
            .filter(|(a, b)| a.as_str() != **b)
            .count()
            + service.exec.len().abs_diff(argv.len());
        mismatches += service
            .env
            .iter()
            .filter(|(k, v)| env.get(k.as_str()) != Some(&v.as_str()))
            .count();
        mismatches += usize::from(Some(cwd) != service.working_dir.as_deref());
        let file = dir.join(format!("case{i}.plist"));
        std::fs::write(&file, content).unwrap();
        files.push(file);
        expected.push(serde_json::json!({
            "argv": service.exec,
            "env": service.env,
            "cwd": service.working_dir,
        }));
    }

    // plistlib, in one Python process for every file: its own count of differences.
    let expected_file = dir.join("expected.json");
    std::fs::write(&expected_file, serde_json::to_vec(&expected).unwrap()).unwrap();
    let script = "import json, plistlib, sys\n\
        expected = json.load(open(sys.argv[1], encoding='utf-8'))\n\
        bad = 0\n\
        for path, want in zip(sys.argv[2:], expected):\n\
        \x20   with open(path, 'rb') as f:\n\
        \x20       p = plistlib.load(f)\n\
        \x20   got = {'argv': p['ProgramArguments'], 'env': p.get('EnvironmentVariables', {}),\n\
        \x20          'cwd': p.get('WorkingDirectory')}\n\
        \x20   bad += got != want\n\
        print(bad)\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&expected_file)
        .args(&files)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "plistlib: {}", text(&out.stderr));
    let plistlib_mismatches: usize = text(&out.stdout).trim().parse().unwrap();

    eprintln!(
        "plist fidelity: {CASES} generated definitions, {} rendered ({values} values), {refused} refused for a character XML cannot carry; mismatches: plist crate {mismatches}, plistlib {plistlib_mismatches} (definitions)",
        files.len()
    );
    assert_eq!(
        refused,
        CASES.div_ceil(3),
        "every poisoned definition is refused"
    );
    assert!(values >= 1000, "only {values} values were checked");
    assert_eq!(mismatches, 0);
    assert_eq!(plistlib_mismatches, 0);
}
