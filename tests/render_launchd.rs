//! `svc-any render` for launchd. launchd cannot run on Linux, so the proof here is offline and
//! layered: golden plists; every plist parses back, with the `plist` crate and with Python's
//! plistlib, to exactly the values in the definition; it is valid against the plist DTD
//! (xmllint, offline); and its keys and value types are those launchd.plist(5) documents.
//! Regenerate the golden files after an intended change with `SVC_ANY_BLESS=1 cargo test`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use plist::Value;

/// The files `render` prints: `### PATH (mode NNN)` headers, each followed by the content.
fn rendered_files(args: &[&str], spec: &Path) -> Vec<(String, String)> {
    let out = run(svc_any()
        .args(["--backend", "launchd"])
        .args(args)
        .arg("render")
        .arg("-f")
        .arg(spec));
    assert!(
        out.status.success(),
        "render {}: {}",
        spec.display(),
        text(&out.stderr)
    );
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text(&out.stdout).split_inclusive('\n') {
        if let Some(header) = line.strip_prefix("### ") {
            let path = header.split(" (mode").next().unwrap().to_string();
            files.push((path, String::new()));
        } else {
            files.last_mut().expect("a header first").1.push_str(line);
        }
    }
    files
}

fn spec(name: &str) -> PathBuf {
    fixtures().join(name)
}

/// Writes each plist to a scratch directory, named by its path's last component.
fn written(dir: &str, files: &[(String, String)]) -> Vec<PathBuf> {
    let dir = scratch(dir);
    files
        .iter()
        .map(|(path, content)| {
            let file = dir.join(Path::new(path).file_name().unwrap());
            std::fs::write(&file, content).unwrap();
            file
        })
        .collect()
}

fn dict(value: &Value) -> &plist::Dictionary {
    value.as_dictionary().expect("a plist whose root is a dict")
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_string().expect("strings only").to_string())
        .collect()
}

/// Python's plistlib (the CPython parser built on expat) as an independent reader: each file's
/// ProgramArguments and EnvironmentVariables, as JSON.
fn plistlib_view(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let script = "import json, plistlib, sys\n\
        out = []\n\
        for path in sys.argv[1:]:\n\
        \x20   with open(path, 'rb') as f:\n\
        \x20       p = plistlib.load(f)\n\
        \x20   out.append({'argv': p['ProgramArguments'], 'env': p.get('EnvironmentVariables', {}),\n\
        \x20               'cwd': p.get('WorkingDirectory')})\n\
        print(json.dumps(out))\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "plistlib: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The keys launchd.plist(5) documents for what svc-any writes, with their value types.
fn key_type_problems(value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let d = dict(value);
    let is_string = |v: &Value| v.as_string().is_some();
    let is_int = |v: &Value| v.as_signed_integer().is_some();
    let is_bool = |v: &Value| v.as_boolean().is_some();
    let string_dict = |v: &Value| {
        v.as_dictionary()
            .is_some_and(|d| d.values().all(|v| v.as_string().is_some()))
    };
    let limits = |v: &Value| {
        v.as_dictionary().is_some_and(|d| {
            d.iter().all(|(k, v)| {
                [
                    "Core",
                    "CPU",
                    "Data",
                    "FileSize",
                    "MemoryLock",
                    "NumberOfFiles",
                    "NumberOfProcesses",
                    "ResidentSetSize",
                    "Stack",
                ]
                .contains(&k.as_str())
                    && v.as_signed_integer().is_some()
            })
        })
    };
    let keep_alive = |v: &Value| {
        v.as_boolean().is_some()
            || v.as_dictionary().is_some_and(|d| {
                d.iter().all(|(k, v)| {
                    [
                        "SuccessfulExit",
                        "Crashed",
                        "AfterInitialDemand",
                        "NetworkState",
                    ]
                    .contains(&k.as_str())
                        && v.as_boolean().is_some()
                })
            })
    };
    let argv = |v: &Value| {
        v.as_array().is_some_and(|a| {
            !a.is_empty()
                && a.iter().all(|s| s.as_string().is_some())
                && a[0].as_string().is_some_and(|p| p.starts_with('/'))
        })
    };
    for (key, v) in d {
        let ok = match key.as_str() {
            "Label" | "WorkingDirectory" | "UserName" | "GroupName" | "StandardOutPath"
            | "StandardErrorPath" => is_string(v),
            "ProgramArguments" => argv(v),
            "EnvironmentVariables" => string_dict(v),
            "RunAtLoad" => is_bool(v),
            "KeepAlive" => keep_alive(v),
            "ThrottleInterval" | "ExitTimeOut" => is_int(v),
            "SoftResourceLimits" | "HardResourceLimits" => limits(v),
            other => {
                problems.push(format!("unknown key {other}"));
                continue;
            }
        };
        if !ok {
            problems.push(format!("{key} has the wrong type: {v:?}"));
        }
    }
    for required in ["Label", "ProgramArguments"] {
        if !d.contains_key(required) {
            problems.push(format!("missing {required}"));
        }
    }
    problems
}

fn parse(file: &Path) -> Value {
    Value::from_file(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// An XML catalog that resolves the plist DOCTYPE to the local DTD: validation that never
/// reaches for apple.com.
fn offline_catalog() -> PathBuf {
    static CATALOG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    CATALOG.get_or_init(write_offline_catalog).clone()
}

fn write_offline_catalog() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("launchd-catalog");
    std::fs::create_dir_all(&dir).unwrap();
    let dtd = spec("launchd/plist.dtd");
    let catalog = dir.join("catalog.xml");
    std::fs::write(
        &catalog,
        format!(
            "<?xml version=\"1.0\"?>\n\
             <catalog xmlns=\"urn:oasis:names:tc:entity:xmlns:xml:catalog\">\n\
             <public publicId=\"-//Apple//DTD PLIST 1.0//EN\" uri=\"file://{dtd}\"/>\n\
             <system systemId=\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\" uri=\"file://{dtd}\"/>\n\
             </catalog>\n",
            dtd = dtd.display()
        ),
    )
    .unwrap();
    catalog
}

fn assert_valid(files: &[PathBuf]) {
    for file in files {
        let problems = key_type_problems(&parse(file));
        assert!(problems.is_empty(), "{}: {problems:?}", file.display());
        let out = Command::new("xmllint")
            .args(["--noout", "--nonet", "--valid"])
            .env("XML_CATALOG_FILES", offline_catalog())
            .arg(file)
            .output()
            .expect("xmllint runs (libxml2-utils)");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "xmllint {}: {}",
            file.display(),
            text(&out.stderr)
        );
    }
}

fn golden(name: &str, content: &str) {
    let stable = content.replace(&fixtures().display().to_string(), "<fixtures>");
    common::golden("launchd", name, &stable);
}

#[test]
fn every_key_maps_to_its_launchd_plist_key() {
    let files = rendered_files(&[], &spec("launchd/every-key.toml"));
    assert_eq!(files.len(), 1);
    assert_eq!(
        files[0].0,
        "/Library/LaunchDaemons/com.example.every-key.plist"
    );
    golden("every-key.plist", &files[0].1);
    let paths = written("launchd-every-key", &files);
    assert_valid(&paths);
    let p = parse(&paths[0]);
    let d = dict(&p);
    assert_eq!(d["Label"].as_string(), Some("com.example.every-key"));
    assert_eq!(
        strings(&d["ProgramArguments"]),
        [
            "/usr/local/bin/api",
            "--config",
            "/etc/api/api.yaml",
            "--listen=127.0.0.1:10002"
        ]
    );
    assert_eq!(d["UserName"].as_string(), Some("_api"));
    assert_eq!(d["GroupName"].as_string(), Some("staff"));
    assert_eq!(
        d["WorkingDirectory"].as_string(),
        Some("/usr/local/var/api data")
    );
    // on-failure: restart only after an unsuccessful exit.
    let keep_alive = d["KeepAlive"].as_dictionary().unwrap();
    assert_eq!(keep_alive["SuccessfulExit"].as_boolean(), Some(false));
    assert_eq!(d["RunAtLoad"].as_boolean(), Some(true));
    // 2.5 s rounds up: launchd counts whole seconds.
    assert_eq!(d["ThrottleInterval"].as_signed_integer(), Some(3));
    assert_eq!(d["ExitTimeOut"].as_signed_integer(), Some(20));
    assert_eq!(
        d["StandardOutPath"].as_string(),
        Some("/usr/local/var/log/api.log")
    );
    assert_eq!(d["StandardErrorPath"], d["StandardOutPath"]);
    for limits in ["SoftResourceLimits", "HardResourceLimits"] {
        let l = d[limits].as_dictionary().unwrap();
        assert_eq!(l["NumberOfFiles"].as_signed_integer(), Some(65536));
        // "infinity" keeps the system's limit: launchd has no word for it.
        assert!(!l.contains_key("NumberOfProcesses"));
    }
    let env = d["EnvironmentVariables"].as_dictionary().unwrap();
    assert_eq!(env["PATTERN"].as_string(), Some("50% of $HOME"));
    assert_eq!(env["EMPTY"].as_string(), Some(""));
}

#[test]
fn restart_policies_become_keep_alive() {
    let dir = scratch("launchd-keepalive");
    for (restart, expected) in [
        ("always", Value::Boolean(true)),
        ("no", Value::Boolean(false)),
        (
            "on-failure",
            Value::Dictionary(
                [("SuccessfulExit".to_string(), Value::Boolean(false))]
                    .into_iter()
                    .collect(),
            ),
        ),
    ] {
        let file = dir.join(format!("{restart}.toml"));
        std::fs::write(
            &file,
            format!("exec = [\"/bin/sleep\", \"9\"]\nrestart = \"{restart}\"\n"),
        )
        .unwrap();
        let files = rendered_files(&[], &file);
        let paths = written(&format!("launchd-keepalive-{restart}"), &files);
        assert_eq!(dict(&parse(&paths[0]))["KeepAlive"], expected, "{restart}");
    }
}

#[test]
fn agents_go_to_the_users_library_without_an_account_switch() {
    let files = rendered_files(&["--user"], &fixtures().join("specs/user.toml"));
    assert_eq!(
        files[0].0,
        "/home/test/Library/LaunchAgents/org.svc-any.user.plist"
    );
    golden("user.plist", &files[0].1);
    let paths = written("launchd-user", &files);
    assert_valid(&paths);
    let p = parse(&paths[0]);
    let d = dict(&p);
    assert_eq!(
        d["StandardOutPath"].as_string(),
        Some("/home/test/Library/Logs/svc-any/org.svc-any.user.log")
    );
    assert!(!d.contains_key("UserName") && !d.contains_key("HardResourceLimits"));
}

#[test]
fn each_instance_is_its_own_job() {
    let files = rendered_files(&[], &fixtures().join("specs/instances.toml"));
    let names: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        names,
        (1..=4)
            .map(|i| format!("/Library/LaunchDaemons/org.svc-any.instances@{i}.plist"))
            .collect::<Vec<_>>()
    );
    golden("instances@2.plist", &files[1].1);
    let paths = written("launchd-instances", &files);
    assert_valid(&paths);
    for (i, path) in paths.iter().enumerate() {
        let p = parse(path);
        let d = dict(&p);
        let n = i + 1;
        assert_eq!(
            strings(&d["ProgramArguments"]),
            ["/bin/sleep", "1000", &format!("--partition={n}")]
        );
        assert_eq!(
            d["EnvironmentVariables"].as_dictionary().unwrap()["PARTITION"].as_string(),
            Some(n.to_string().as_str())
        );
        assert_eq!(
            d["StandardOutPath"].as_string(),
            Some(format!("/var/log/msg-{n}.log").as_str())
        );
    }
}

#[test]
fn adversarial_arguments_and_environment_parse_back_exactly_in_both_parsers() {
    let source = spec("launchd/adversarial.toml");
    let definition: toml::Table = std::fs::read_to_string(&source).unwrap().parse().unwrap();
    let argv: Vec<String> = definition["exec"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let env: BTreeMap<String, String> = definition["env"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    let files = rendered_files(&[], &source);
    let paths = written("launchd-adversarial", &files);
    assert_valid(&paths);
    let p = parse(&paths[0]);
    let d = dict(&p);
    assert_eq!(strings(&d["ProgramArguments"]), argv);
    let env_back: BTreeMap<String, String> = d["EnvironmentVariables"]
        .as_dictionary()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_string().unwrap().to_string()))
        .collect();
    assert_eq!(env_back, env);
    let python = &plistlib_view(&paths)[0];
    assert_eq!(python["argv"], serde_json::json!(argv));
    assert_eq!(python["env"], serde_json::json!(env));
    eprintln!(
        "launchd adversarial: {} arguments, {} environment values, 0 mismatches (plist crate and plistlib)",
        argv.len(),
        env.len()
    );
}

#[test]
fn what_xml_cannot_carry_is_refused_naming_the_key() {
    let dir = scratch("launchd-refused");
    for (key, toml, why) in [
        (
            "exec",
            r#"exec = ["/bin/echo", "esc\u001b[0m"]"#,
            "control character",
        ),
        (
            "env.CR",
            "exec = [\"/bin/echo\"]\nenv = { CR = \"a\\rb\" }",
            "control character",
        ),
        (
            "working_dir",
            "exec = [\"/bin/echo\"]\nworking_dir = \"/x\\uFFFE\"",
            "XML",
        ),
        (
            "env_file",
            "exec = [\"/bin/echo\"]\nenv_file = \"/etc/default/x\"",
            "environment file",
        ),
    ] {
        let file = dir.join("bad.toml");
        std::fs::write(&file, toml).unwrap();
        let before = snapshot(&dir);
        let out = run(svc_any()
            .args(["--backend", "launchd", "render", "-f"])
            .arg(&file));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {err}");
        assert!(err.contains(key) && err.contains(why), "{key}: {err}");
        assert_eq!(snapshot(&dir), before);
    }
}

/// The layers above must be able to fail: a tampered plist is caught by each.
#[test]
fn the_offline_checks_reject_what_launchd_would() {
    let files = rendered_files(&[], &spec("launchd/every-key.toml"));
    let good = &files[0].1;
    for (what, tampered, layer) in [
        (
            "a key without a value",
            good.replace(
                "<key>RunAtLoad</key>",
                "<key>RunAtLoad</key><key>Oops</key>",
            ),
            "dtd",
        ),
        (
            "RunAtLoad as a string",
            good.replace(
                "<key>RunAtLoad</key>\n\t<true/>",
                "<key>RunAtLoad</key>\n\t<string>yes</string>",
            ),
            "keys",
        ),
        (
            "an unknown key",
            good.replace("<key>RunAtLoad</key>", "<key>RunAtBoot</key>"),
            "keys",
        ),
        (
            "a relative program",
            good.replace(
                "<string>/usr/local/bin/api</string>",
                "<string>api</string>",
            ),
            "keys",
        ),
    ] {
        assert_ne!(&tampered, good, "{what}: the tampering applied");
        let path = written(
            &format!("launchd-tampered-{}", what.replace(' ', "-")),
            &[("x.plist".into(), tampered)],
        )
        .remove(0);
        let caught = match layer {
            "dtd" => !Command::new("xmllint")
                .args(["--noout", "--nonet", "--valid"])
                .env("XML_CATALOG_FILES", offline_catalog())
                .arg(&path)
                .output()
                .unwrap()
                .status
                .success(),
            _ => !key_type_problems(&parse(&path)).is_empty(),
        };
        assert!(caught, "{what} passed the {layer} check");
    }
}

/// launchd reads no environment file: a plist that holds `env` values is its owner's alone
/// (launchd accepts a root-owned 0600 daemon plist); one without stays readable.
#[test]
fn a_plist_with_env_values_is_readable_by_its_owner_only() {
    let dir = scratch("launchd-secret");
    for (env, mode) in [
        ("env = { DB_PASSWORD = \"hunter2\" }\n", "600"),
        ("", "644"),
    ] {
        let file = dir.join("secret.toml");
        std::fs::write(&file, format!("exec = [\"/bin/sleep\", \"9\"]\n{env}")).unwrap();
        let out = run(svc_any()
            .args(["--backend", "launchd", "render", "-f"])
            .arg(&file));
        let header = text(&out.stdout)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        assert!(
            header.ends_with(&format!("(mode {mode})")),
            "{env:?}: {header}"
        );
    }
}
