//! Every byte arrives: the probe (tests/fixtures/probe.py) records the arguments, environment,
//! working directory, user and limits it was started with, and the record is compared with the
//! definition. First the fixed adversarial values (tests/fixtures/specs/adversarial.toml) as
//! two instances run as another user; then 50 generated definitions (tests/common/generate.rs)
//! from one svc-any.toml, started together. Counts are printed (`--nocapture`).

use std::time::Duration;

use crate::common::backend::{self, assert_gone, assert_made, Backend};
use crate::common::generate::{self, service_case, ServiceCase};
use crate::common::host::Host;
use crate::common::probe::{self, Adversarial};

/// A path no shell, eval or word splitting may touch.
const ODD_DIR: &str = "dir with  'quotes' \"dq\" $HOME *";

/// The adversarial arguments and environment, in an odd working directory, with a limit and a
/// umask (or its refusal by name), as another user where there is one, and as two instances
/// (`{instance}` in the record's path).
pub fn probe(h: &Host, b: &dyn Backend) {
    let before = backend::comparable(b, &backend::owned(h, b, true));
    let adversarial = probe::adversarial();
    let odd_dir = format!("{}/{ODD_DIR}", h.scratch());
    h.mkdirs(std::slice::from_ref(&odd_dir));
    let user = h.other_user();
    let mut extra = toml::toml! {
        instances = ["1", "2"]
        [limits]
        nofile = 4242
    };
    extra.insert("working_dir".into(), odd_dir.as_str().into());
    if let Some(user) = &user {
        extra.insert("user".into(), user.name.into());
    }
    extra.insert("umask".into(), "0027".into());
    let record = format!("{}/probe-{{instance}}.json", h.scratch());
    let mut definition =
        adversarial.probe_table(&format!("{}/probe.py", h.share()), &record, extra);
    h.define("probe", &toml::to_string(&definition).unwrap());
    // umask where the manager carries it; where it does not, refused by name, nothing written
    let out = h.svc_any(&["install", "probe", "--start"]);
    let umask = if out.status.success() {
        true
    } else {
        let stderr = crate::common::text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("`umask`") && stderr.contains(b.name()),
            "{}: a refusal that names neither umask nor the manager: {stderr}",
            b.name()
        );
        assert_eq!(
            backend::comparable(b, &backend::owned(h, b, true)),
            before,
            "a refused install wrote files"
        );
        definition.remove("umask");
        h.define("probe", &toml::to_string(&definition).unwrap());
        h.ok(&["install", "probe", "--start"]);
        false
    };
    assert_made(h, b, "probe", &["1", "2"]);
    for i in ["1", "2"] {
        let path = record.replace("{instance}", i);
        assert!(
            h.wait_for(Duration::from_secs(10), &format!("test -s {path}")),
            "probe {i} did not run"
        );
        let got = h.record(&path);
        adversarial.check(&format!("{} instance {i}", b.name()), &got);
        assert_eq!(
            probe::bytes(&got["cwd"]),
            odd_dir.as_bytes(),
            "working_dir arrives exactly"
        );
        if let Some(user) = &user {
            assert_eq!(got["uid"], user.uid, "runs as {}", user.name);
        }
        assert_eq!(got["nofile"], 4242);
        if umask {
            assert_eq!(got["umask"], 0o027, "{}: umask", b.name());
        }
    }
    let (_, units) = h.statuses("probe");
    let instances: Vec<&str> = units
        .iter()
        .map(|s| s["instance"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(instances, ["1", "2"], "{units:?}");
    h.ok(&["uninstall", "probe"]);
    assert_gone(h, b, "probe", &["1", "2"]);
    assert!(
        crate::common::scope::eventually(Duration::from_secs(5), || h.supervisors() == 0),
        "a supervisor stayed with nothing to supervise"
    );
    assert_eq!(
        backend::comparable(b, &backend::owned(h, b, true)),
        before,
        "uninstall left the tree changed"
    );
}

const SERVICES: usize = 50;

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

/// Each backend its own draw from the seed, so together they cover more cases.
fn salt(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The generated services, installed from one file and started together.
pub fn generated(h: &Host, b: &dyn Backend) {
    let cases = generate::sample(
        service_case(b.carries_noncharacters()),
        SERVICES,
        salt(b.name()),
    );
    let (records, work) = (
        format!("{}/fid-records", h.scratch()),
        format!("{}/fid-work", h.scratch()),
    );
    let user = h.other_user();
    let (file, expected) = project(
        &cases,
        &format!("{}/probe.py", h.share()),
        &records,
        &work,
        user.as_ref().map(|u| u.name),
    );
    let mut dirs = vec![records.clone()];
    dirs.extend(expected.iter().map(|(_, a)| a.working_dir.clone().unwrap()));
    h.mkdirs(&dirs);
    // Records are written by root and the other user alike.
    h.sh_out(&format!("chmod 1777 '{records}'"));
    let path = h.define("fid", &file);

    h.ok(&["install", "-f", &path, "--start"]);
    assert!(
        h.wait_for(
            Duration::from_secs(60),
            &format!(
                "[ $(ls '{records}' | grep -c '\\.json$') -ge {} ]",
                expected.len()
            )
        ),
        "not every probe ran: {}",
        h.sh_out(&format!("ls '{records}'"))
    );
    probe::check_all(
        &format!("{} (seed {})", b.name(), generate::seed()),
        &expected,
        &h.records(&records),
    );
}
