//! Generated services arrive byte for byte on every real manager: 50 definitions with
//! adversarial arguments, environment values and working directories
//! (tests/common/generate.rs), installed from one svc-any.toml and started together on real
//! systemd, real OpenRC, real SysV init (each PID 1 of a container) and the builtin supervisor
//! on this machine; each runs the probe, whose record is compared with its definition.
//!
//! The corpus is seeded (`SVC_ANY_SEED=N` draws another), and each backend gets its own draw,
//! so together they cover four times as many cases. Counts are printed (`--nocapture`).

mod common;

use std::path::Path;
use std::time::Duration;

use common::container::{enabled, Container};
use common::generate::{self, service_case, ServiceCase};
use common::probe::{self, Adversarial, SHARE};
use common::scope::{eventually, TestScope};

const SERVICES: usize = 50;

/// Where the records and the working directories go inside a container.
const RECORDS: &str = "/run/fid";
const WORK: &str = "/srv/fid";

/// Every fifth service has two instances, `{instance}` spliced into an argument, an
/// environment value and its working directory.
const INSTANCES: [&str; 2] = ["1", "b.2_x-y"];

/// `{instance}` in the middle of `s`.
fn with_placeholder(s: &str) -> String {
    let mid = (0..=s.len() / 2)
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0);
    format!("{}{{instance}}{}", &s[..mid], &s[mid..])
}

/// One project file with a `[services.fidNN]` per case, and what each probe should receive,
/// by record name (`fidNN`, or `fidNN-INSTANCE`). Every other service runs as `user`, when
/// given, so the privilege drop carries the values too.
fn project(
    cases: &[ServiceCase],
    probe: &str,
    records: &str,
    work: &str,
    user: Option<&str>,
) -> (String, Vec<(String, Adversarial)>) {
    let mut services = toml::Table::new();
    let mut expected = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!("fid{i:02}");
        let mut want = Adversarial::generated(case, work);
        let mut extra = toml::Table::new();
        if let (Some(user), 1) = (user, i % 2) {
            extra.insert("user".into(), user.into());
        }
        let instanced = i % 5 == 0;
        let record = if instanced {
            if let Some(a) = want.args.first_mut() {
                *a = with_placeholder(a);
            }
            if let Some((_, v)) = want.env.iter_mut().next() {
                *v = with_placeholder(v.as_str().unwrap()).into();
            }
            want.working_dir = want.working_dir.map(|d| with_placeholder(&d));
            extra.insert("instances".into(), INSTANCES.to_vec().into());
            format!("{records}/{name}-{{instance}}.json")
        } else {
            format!("{records}/{name}.json")
        };
        let table = want.probe_table(probe, &record, extra);
        services.insert(name.clone(), table.into());
        if instanced {
            for instance in INSTANCES {
                expected.push((format!("{name}-{instance}"), want.for_instance(instance)));
            }
        } else {
            expected.push((name, want));
        }
    }
    let mut file = toml::Table::new();
    file.insert("services".into(), services.into());
    (toml::to_string(&file).unwrap(), expected)
}

/// Installs and starts the generated services in the container, then compares every record.
fn on_real_manager(profile: &str, salt: u64) {
    // systemd refuses Unicode noncharacters (the refusal test proves it); the others carry them.
    let cases = generate::sample(service_case(profile != "systemd"), SERVICES, salt);
    let (file, expected) = project(
        &cases,
        &format!("{SHARE}/probe.py"),
        RECORDS,
        WORK,
        Some("alice"),
    );
    let c = Container::boot(profile, &format!("fid-{profile}"));
    let mut mkdir = vec!["mkdir".to_string(), "-p".into(), RECORDS.into()];
    mkdir.extend(expected.iter().map(|(_, a)| a.working_dir.clone().unwrap()));
    let argv: Vec<&str> = mkdir.iter().map(String::as_str).collect();
    let out = c.exec(&argv);
    assert!(out.status.success(), "{}", common::text(&out.stderr));
    // Records are written by root and alice alike.
    c.sh_out(&format!("chmod 1777 {RECORDS}"));
    c.write_files(&[("/root/fid/svc-any.toml".into(), file)]);

    c.svc_any_ok(&["install", "-f", "/root/fid/svc-any.toml", "--start"]);
    assert!(
        c.wait_for(
            Duration::from_secs(60),
            &format!(
                "[ $(ls {RECORDS} | grep -c '\\.json$') -ge {} ]",
                expected.len()
            )
        ),
        "not every probe ran: {}",
        c.sh_out(&format!("ls {RECORDS}"))
    );
    probe::check_all(
        &format!("{profile} (seed {})", generate::seed()),
        &expected,
        &probe::records(&c, RECORDS),
    );
}

#[test]
fn generated_services_arrive_exactly_on_real_systemd() {
    if !enabled("generated_services_arrive_exactly_on_real_systemd") {
        return;
    }
    on_real_manager("systemd", 11);
}

#[test]
fn generated_services_arrive_exactly_on_real_openrc() {
    if !enabled("generated_services_arrive_exactly_on_real_openrc") {
        return;
    }
    on_real_manager("openrc", 12);
}

#[test]
fn generated_services_arrive_exactly_on_real_sysvinit() {
    if !enabled("generated_services_arrive_exactly_on_real_sysvinit") {
        return;
    }
    on_real_manager("sysv", 13);
}

#[test]
fn generated_services_arrive_exactly_under_the_builtin_supervisor() {
    let scope = TestScope::new("fidelity");
    let cases = generate::sample(service_case(true), SERVICES, 14);
    let records = scope.dir.join("records");
    let work = scope.dir.join("work");
    let probe = common::fixtures().join("probe.py");
    let (file, expected) = project(
        &cases,
        &probe.display().to_string(),
        &records.display().to_string(),
        &work.display().to_string(),
        None,
    );
    std::fs::create_dir_all(&records).unwrap();
    for (_, want) in &expected {
        std::fs::create_dir_all(want.working_dir.as_ref().unwrap()).unwrap();
    }
    let path = scope.dir.join("svc-any.toml");
    std::fs::write(&path, file).unwrap();
    scope.ok(&["install", "-f", &path.display().to_string(), "--start"]);
    let count = |dir: &Path| {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .count()
    };
    assert!(
        eventually(Duration::from_secs(60), || count(&records)
            >= expected.len()),
        "not every probe ran: {} records",
        count(&records)
    );
    probe::check_all(
        &format!("builtin (seed {})", generate::seed()),
        &expected,
        &probe::local_records(&records),
    );
}
