//! `svc-any export kubernetes|compose`: refusals, the not-carried list, values that read back
//! byte for byte through the consumers' own YAML readers (PyYAML, podman-compose's
//! interpolation), the Kubernetes API's schema (kubernetes-validate, strict), and, with
//! SVC_ANY_E2E=1 as root, the openim example and generated argv/env probes played by a real
//! engine: podman 4.3 `kube play`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::generate::{sample, service_case};
use common::probe::Adversarial;
use common::{fixtures, run, scratch, svc_any, text};

fn export(target: &str, file: &Path, names: &[&str]) -> Output {
    run(svc_any()
        .args(["export", target, "-f"])
        .arg(file)
        .args(names))
}

fn openim() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/openim/svc-any.toml")
}

#[test]
fn a_service_without_an_image_is_refused_with_exit_2_naming_it_and_the_key() {
    let dir = scratch("export-no-image");
    let file = dir.join("svc-any.toml");
    std::fs::write(
        &file,
        "[services.web]\nexec = [\"/bin/web\"]\nexport = { image = \"web:1\" }\n\
         [services.db]\nexec = [\"/bin/db\"]\n",
    )
    .unwrap();
    for target in ["kubernetes", "compose"] {
        let out = export(target, &file, &[]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "nothing printed on refusal");
        let err = text(&out.stderr);
        assert!(err.contains("service `db`"), "{err}");
        assert!(err.contains("export.image"), "{err}");
        assert!(err.contains("[services.db.export]"), "{err}");
    }
    // The one that has an image exports alone.
    assert!(export("kubernetes", &file, &["web"]).status.success());
}

#[test]
fn what_cannot_be_carried_is_listed_in_the_output_and_on_stderr() {
    let dir = scratch("export-not-carried");
    let file = dir.join("svc-any.toml");
    std::fs::write(
        &file,
        "[services.api]\nexec = [\"/bin/api\"]\nrestart = \"always\"\nreload_signal = \"HUP\"\n\
         success_exit_codes = [3]\nlimits = { nproc = 100 }\nlog = { file = \"/var/log/api.log\" }\n\
         requires = [\"network-online.target\"]\nexport = { image = \"api:1\", namespace = \"prod\" }\n",
    )
    .unwrap();
    let expected: &[(&str, &[&str])] = &[
        (
            "kubernetes",
            &[
                "api: log:",
                "api: reload_signal:",
                "api: success_exit_codes:",
                "api: limits:",
                "api: requires:",
            ],
        ),
        (
            "compose",
            &[
                "api: log:",
                "api: reload_signal:",
                "api: success_exit_codes:",
                "api: export.namespace:",
                "api: requires:",
            ],
        ),
    ];
    for (target, keys) in expected {
        let out = export(target, &file, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        let header: String = stdout
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        for key in *keys {
            assert!(
                header.contains(key),
                "{target}: `{key}` not in the header:\n{header}"
            );
            assert!(
                stderr.contains(key),
                "{target}: `{key}` not on stderr:\n{stderr}"
            );
        }
        assert_eq!(stderr.lines().count(), keys.len(), "{target}: {stderr}");
    }
    // compose carries the process limit that Kubernetes cannot.
    assert!(text(&export("compose", &file, &[]).stdout).contains("nproc:"));
}

/// Kubernetes's documented expansion of `command` and env values with no variable defined:
/// `$$` is `$`, `$(NAME)` stays as written, anything else is itself.
fn kube_expand(value: &str) -> String {
    let c: Vec<char> = value.chars().collect();
    let (mut out, mut i) = (String::new(), 0);
    while i < c.len() {
        if c[i] == '$' && i + 1 < c.len() {
            if c[i + 1] == '$' {
                out.push('$');
                i += 2;
                continue;
            }
            if c[i + 1] == '(' {
                match c[i + 2..].iter().position(|x| *x == ')') {
                    Some(p) => {
                        out.extend(&c[i..i + 3 + p]);
                        i += 3 + p;
                    }
                    None => {
                        out.push_str("$(");
                        i += 2;
                    }
                }
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

/// Generated adversarial arguments, environment values and working directories for `n`
/// services, as a definition file, and what each service must receive.
fn generated(dir: &Path, n: usize, salt: u64) -> (PathBuf, Vec<(String, Adversarial)>) {
    let cases = sample(service_case(false), n, salt);
    let mut table = toml::Table::new();
    let mut expected = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = format!("probe{i}");
        let mut adv = Adversarial::generated(case, "");
        if salt == 0xE2E {
            adv.working_dir = None; // played for real: the image has no such directories
        }
        let mut extra = toml::Table::new();
        extra.insert("restart".into(), "always".into());
        let mut ex = toml::Table::new();
        ex.insert("image".into(), "localhost/svc-any-openim:1".into());
        extra.insert("export".into(), ex.into());
        let def = adv.probe_table("/usr/bin/python3", "/tmp/record.json", extra);
        // probe.py is the program; python3 runs it.
        let mut def = def;
        let mut exec = vec![
            toml::Value::from("/usr/bin/python3"),
            "/opt/probe.py".into(),
        ];
        exec.extend(def["exec"].as_array().unwrap()[1..].iter().cloned());
        def.insert("exec".into(), toml::Value::Array(exec));
        table.insert(name.clone(), def.into());
        expected.push((name, adv));
    }
    let mut file = toml::Table::new();
    file.insert("services".into(), table.into());
    let path = dir.join("svc-any.toml");
    std::fs::write(&path, toml::to_string(&file).unwrap()).unwrap();
    (path, expected)
}

fn read_back(target: &str, file: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .arg(fixtures().join("export/read_back.py"))
        .arg(target)
        .arg(file)
        .output()
        .expect("python3 runs (tests/run installs PyYAML and podman-compose)");
    assert!(out.status.success(), "read_back.py: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn generated_values_read_back_byte_for_byte_through_pyyaml_and_compose_interpolation() {
    let dir = scratch("export-round-trip");
    let (file, expected) = generated(&dir, 120, 0x5A4D);
    let mut counts = BTreeMap::new();
    for target in ["kubernetes", "compose"] {
        let out = run(svc_any()
            .args(["export", target, "-f"])
            .arg(&file)
            .arg("-o")
            .arg(&dir));
        assert!(out.status.success(), "{}", text(&out.stderr));
        let name = if target == "kubernetes" {
            "kubernetes.yaml"
        } else {
            "compose.yaml"
        };
        let got = read_back(target, &dir.join(name));
        let (mut values, mut escaped) = (0, 0);
        for (svc, adv) in &expected {
            let record = &got[svc.as_str()];
            let mut argv: Vec<String> = Vec::new();
            for v in record["argv"].as_array().unwrap() {
                let s = v.as_str().unwrap();
                let s = match target {
                    "kubernetes" => kube_expand(s),
                    _ => s.to_string(),
                };
                // Kubernetes: values its expansion changes; compose: values holding a `$`.
                escaped += usize::from(
                    s != v.as_str().unwrap() || (target == "compose" && s.contains('$')),
                );
                argv.push(s);
            }
            let want: Vec<&str> = ["/usr/bin/python3", "/opt/probe.py", "/tmp/record.json"]
                .into_iter()
                .chain(adv.args.iter().map(String::as_str))
                .collect();
            assert_eq!(argv, want, "{target} {svc}: argv");
            for (k, v) in &adv.env {
                let s = record["env"][k.as_str()]
                    .as_str()
                    .unwrap_or_else(|| panic!("{target} {svc}: env {k} missing"));
                let s = if target == "kubernetes" {
                    kube_expand(s)
                } else {
                    s.to_string()
                };
                assert_eq!(s, v.as_str().unwrap(), "{target} {svc}: env {k}");
            }
            assert_eq!(
                record["cwd"].as_str(),
                adv.working_dir.as_deref(),
                "{target} {svc}: cwd"
            );
            values += adv.values();
        }
        counts.insert(target, (values, escaped));
    }
    println!("values read back exactly, and of those escaped for the target: {counts:?}");
}

#[test]
fn kubernetes_escaping_is_undone_by_the_expansion_rules() {
    for v in [
        "$", "$$", "$(id)", "$$(", "a$", "$(a$$b)", "${X}", "$$$", "x$(", "(", "$(",
    ] {
        let out = run(svc_any().args(["export", "kubernetes", "-f"]).arg({
            let dir = scratch("export-escape");
            let f = dir.join("t.toml");
            let mut t = toml::Table::new();
            t.insert(
                "exec".into(),
                toml::Value::Array(vec!["/bin/p".into(), v.into()]),
            );
            t.insert("restart".into(), "always".into());
            let mut ex = toml::Table::new();
            ex.insert("image".into(), "p:1".into());
            t.insert("export".into(), ex.into());
            std::fs::write(&f, toml::to_string(&t).unwrap()).unwrap();
            f
        }));
        assert!(out.status.success());
        let yaml = text(&out.stdout);
        let written = yaml
            .lines()
            .skip_while(|l| !l.contains("\"/bin/p\""))
            .nth(1)
            .unwrap()
            .trim()
            .trim_start_matches("- ");
        let written: String = serde_json::from_str(written).unwrap();
        assert_eq!(kube_expand(&written), v, "{v} written as {written}");
    }
}

fn kubernetes_validate(file: &Path) -> (bool, usize, String) {
    let out = Command::new("kubernetes-validate")
        .args(["--strict"])
        .arg(file)
        .output()
        .expect(
            "kubernetes-validate runs (tests/run installs it: pip install kubernetes-validate)",
        );
    let all = text(&out.stdout) + &text(&out.stderr);
    let passed = all
        .lines()
        .filter(|l| l.contains(" passed for resource "))
        .count();
    (out.status.success() && !all.contains("ERROR"), passed, all)
}

#[test]
fn every_manifest_passes_the_kubernetes_schema_strictly() {
    let dir = scratch("export-schema");
    let every = dir.join("svc-any.toml");
    let env_file = dir.join("api.env");
    std::fs::write(&env_file, "A=1\nexport B='two words'\n").unwrap();
    std::fs::write(
        &every,
        format!(
            "[services.db]\nexec = [\"/bin/db\"]\nrestart = \"always\"\nhealth = {{ tcp = \"127.0.0.1:5432\" }}\n\
             export = {{ image = \"db:1\", ports = [5432], replicas = 2, namespace = \"data\", liveness = true, \
             resources = {{ requests = {{ cpu = \"100m\", memory = \"64Mi\" }}, limits = {{ cpu = 1, memory = \"1Gi\" }} }} }}\n\
             [services.api]\nexec = [\"/bin/api\", \"$(HOME)\"]\nuser = \"0\"\ngroup = \"0\"\nworking_dir = \"/srv\"\n\
             env_file = \"{}\"\nenv = {{ A = \"0\", C = \"x\" }}\nrequires = [\"db\"]\nstop_signal = \"INT\"\nstop_timeout = \"30s\"\n\
             health = {{ http = \"http://127.0.0.1:8080/health\", timeout = \"1m\" }}\nexport = {{ image = \"api:1\", ports = [8080] }}\n\
             [services.batch]\nexec = [\"/bin/batch\"]\nrestart = \"no\"\nhealth = {{ exec = [\"/bin/check\"] }}\nexport = {{ image = \"b:1\" }}\n\
             [services.worker]\nexec = [\"/bin/w\", \"{{instance}}\"]\ninstances = [\"eu\", \"us\"]\nrestart = \"always\"\nafter = [\"api\"]\n\
             export = {{ image = \"w:1\" }}\n\
             [groups]\nall = [\"db\", \"api\", \"batch\", \"worker\"]\n",
            env_file.display()
        ),
    )
    .unwrap();
    let mut total = 0;
    for (label, file, kinds) in [
        (
            "openim",
            openim(),
            &["Deployment", "StatefulSet", "Service"][..],
        ),
        (
            "every key",
            every,
            &["Deployment", "Job", "ConfigMap", "Service"][..],
        ),
    ] {
        let out = run(svc_any()
            .args(["export", "kubernetes", "-f"])
            .arg(&file)
            .arg("-o")
            .arg(&dir));
        assert!(out.status.success(), "{label}: {}", text(&out.stderr));
        let yaml = std::fs::read_to_string(dir.join("kubernetes.yaml")).unwrap();
        for kind in kinds {
            assert!(
                yaml.contains(&format!("kind: \"{kind}\"")),
                "{label}: no {kind}"
            );
        }
        let (ok, passed, report) = kubernetes_validate(&dir.join("kubernetes.yaml"));
        let objects =
            yaml.matches("\napiVersion:").count() + usize::from(yaml.starts_with("apiVersion"));
        assert!(ok, "{label}: {report}");
        assert_eq!(passed, objects, "{label}: every object validated\n{report}");
        total += passed;
        // The validator is strict: one unknown field fails it.
        let broken = yaml.replacen(
            "      containers:",
            "      bogusField: 1\n      containers:",
            1,
        );
        std::fs::write(dir.join("broken.yaml"), broken).unwrap();
        assert!(
            !kubernetes_validate(&dir.join("broken.yaml")).0,
            "{label}: strict mode must refuse"
        );
    }
    println!("objects passing the Kubernetes schema (strict): {total}");
}

// ---------------------------------------------------------------------------------------------
// A real engine: podman 4.3 kube play
// ---------------------------------------------------------------------------------------------

/// podman with the test's own storage (images never mix with the machine's) and settings this
/// kind of machine needs: runc (crun 1.8 refuses cgroup v1 with a v2 controller enabled) and
/// rlimits no higher than this process may set (podman's defaults exceed them: EPERM).
struct Podman {
    dir: PathBuf,
    netns: String,
}

impl Podman {
    fn new(dir: &Path) -> Podman {
        let limit = |name: &str, cap: u64| -> u64 {
            let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
            let line = limits.lines().find(|l| l.starts_with(name)).unwrap();
            let hard = line.split_whitespace().rev().nth(1).unwrap();
            hard.parse().unwrap_or(cap).min(cap)
        };
        let (nofile, nproc) = (
            limit("Max open files", 1 << 20),
            limit("Max processes", 32768),
        );
        std::fs::write(
            dir.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile={nofile}:{nofile}\", \"nproc={nproc}:{nproc}\"]\n\
                 [engine]\nruntime = \"runc\"\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("storage.conf"),
            "[storage]\ndriver = \"overlay\"\ngraphroot = \"/var/lib/svc-any-lab/podman-export/storage\"\n\
             runroot = \"/run/svc-any-export/storage\"\n",
        )
        .unwrap();
        let netns = format!("sa-export-{}", std::process::id());
        let p = Podman {
            dir: dir.to_path_buf(),
            netns,
        };
        p.clean();
        assert!(Command::new("ip")
            .args(["netns", "add", &p.netns])
            .status()
            .unwrap()
            .success());
        assert!(Command::new("ip")
            .args(["netns", "exec", &p.netns, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success());
        p
    }

    /// podman inside the pods' network namespace: with host networking a container has no
    /// namespace of its own in its config, so `exec` (probes, healthchecks) runs in the
    /// caller's.
    fn cmd(&self) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg("podman");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"));
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd()
            .args(args)
            .output()
            .expect("podman runs (tests/run installs it)")
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "podman {args:?}: {}",
            text(&out.stderr)
        );
        text(&out.stdout)
    }

    /// `kube play` in the one network namespace every pod shares: one node, where a Service is
    /// the node's loopback.
    fn play(&self, file: &Path) -> std::process::Child {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", self.netns))
            .arg("podman")
            .args(["kube", "play", "--network", "host"])
            .arg(file)
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(file.with_extension("log")).unwrap());
        c.spawn().unwrap()
    }

    /// Removes every pod and container of the test's own storage (no other user has it) and
    /// the compose network.
    fn down(&self) {
        for args in [
            &["pod", "rm", "-f", "-t", "0", "-a"][..],
            &["rm", "-f", "-t", "0", "-a"],
            &["network", "rm", "-f", "sa-export_default"],
        ] {
            let _ = Command::new("podman")
                .args(args)
                .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
                .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
                .output();
        }
    }

    fn clean(&self) {
        self.down();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.netns])
            .output();
    }

    /// Builds the image every exported workload names (and the wait image, busybox:1.36):
    /// the Debian tree tests/harness/box.sh debootstraps, with python3, plus small nc, wget
    /// and curl (the tools probes and init containers call) and the argv/env probe.
    fn image(&self) {
        let out = Command::new("bash")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/harness/box.sh"))
            .args(["build", "sysv"])
            .output()
            .unwrap();
        assert!(out.status.success(), "box.sh build: {}", text(&out.stderr));
        let ctx = self.dir.join("image");
        std::fs::create_dir_all(ctx.join("bin")).unwrap();
        for tool in ["nc", "wget", "curl"] {
            std::fs::copy(
                fixtures().join("export/bin").join(tool),
                ctx.join("bin").join(tool),
            )
            .unwrap();
        }
        std::fs::copy(fixtures().join("probe.py"), ctx.join("probe.py")).unwrap();
        std::fs::write(
            ctx.join("Containerfile"),
            "FROM localhost/svc-any-export-base:1\nCOPY bin/ /usr/local/bin/\nCOPY probe.py /opt/probe.py\n",
        )
        .unwrap();
        let import = "tar -C /var/lib/svc-any-lab/base --exclude=./var/cache/apt \
             --exclude=./var/lib/apt/lists -c . | podman import -q - localhost/svc-any-export-base:1";
        let out = Command::new("sh")
            .args(["-c", import])
            .env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", self.dir.join("storage.conf"))
            .output()
            .unwrap();
        assert!(out.status.success(), "podman import: {}", text(&out.stderr));
        self.ok(&[
            "build",
            "-q",
            "-t",
            "localhost/svc-any-openim:1",
            ctx.to_str().unwrap(),
        ]);
        self.ok(&[
            "tag",
            "localhost/svc-any-openim:1",
            "docker.io/library/busybox:1.36",
        ]);
    }

    /// Exports `file` to Kubernetes, prepares it for podman (kube_lite.py) and plays each
    /// workload in its own `kube play`, dependants first and at the same time, so that only
    /// the init containers can order the starts.
    fn play_all(&self, file: &Path, out: &Path) -> Vec<PathBuf> {
        std::fs::create_dir_all(out).unwrap();
        let exported = run(svc_any()
            .args(["export", "kubernetes", "-f"])
            .arg(file)
            .arg("-o")
            .arg(out));
        assert!(exported.status.success(), "{}", text(&exported.stderr));
        let lite = Command::new("python3")
            .arg(fixtures().join("export/kube_lite.py"))
            .arg(out.join("kubernetes.yaml"))
            .arg(out)
            .output()
            .unwrap();
        assert!(
            lite.status.success(),
            "kube_lite.py: {}",
            text(&lite.stderr)
        );
        let files: Vec<PathBuf> = text(&lite.stdout).lines().map(PathBuf::from).collect();
        let mut children = Vec::new();
        for f in files.iter().rev() {
            children.push((f.clone(), self.play(f)));
            std::thread::sleep(Duration::from_millis(500));
        }
        for (f, mut c) in children {
            let status = c.wait().unwrap();
            let log = std::fs::read_to_string(f.with_extension("log")).unwrap_or_default();
            assert!(status.success(), "kube play {}: {log}", f.display());
        }
        files
    }

    fn inspect(&self, container: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, container])
            .trim()
            .to_string()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        self.clean();
    }
}

/// Runs a probe the way the kubelet would, inside the container's network (the pod's): tcp →
/// a connection, http → a 2xx/3xx answer, exec → exit 0.
fn probe_passes(p: &Podman, container: &str, probe: &serde_json::Value) -> bool {
    let argv: Vec<String> = if let Some(tcp) = probe.get("tcpSocket") {
        vec![
            "nc".into(),
            "-z".into(),
            "127.0.0.1".into(),
            tcp["port"].to_string(),
        ]
    } else if let Some(http) = probe.get("httpGet") {
        vec![
            "curl".into(),
            "-f".into(),
            format!(
                "http://127.0.0.1:{}{}",
                http["port"],
                http["path"].as_str().unwrap()
            ),
        ]
    } else {
        probe["exec"]["command"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let mut args = vec!["exec", container];
    args.extend(argv.iter().map(String::as_str));
    p.run(&args).status.success()
}

fn manifest_docs(path: &Path) -> Vec<serde_json::Value> {
    let out = Command::new("python3")
        .args(["-c", "import json,sys,yaml; json.dump([d for d in yaml.safe_load_all(open(sys.argv[1])) if d], sys.stdout)"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn openim_and_generated_probes_play_on_podman() {
    if !common::container::enabled("openim_and_generated_probes_play_on_podman") {
        return;
    }
    let started = Instant::now();
    let dir = scratch("export-podman");
    let p = Podman::new(&dir);
    p.image();
    println!("image built in {:.1} s", started.elapsed().as_secs_f64());

    // 1. openim: every pod up, every probe passing, starts in dependency order.
    let files = p.play_all(&openim(), &dir.join("openim"));
    println!("openim played in {:.1} s", started.elapsed().as_secs_f64());
    let mut pods = Vec::new(); // (container, pod spec)
    for f in &files {
        for doc in manifest_docs(f) {
            match doc["kind"].as_str().unwrap() {
                "Pod" => pods.push((
                    format!(
                        "{0}-{1}",
                        doc["metadata"]["name"].as_str().unwrap(),
                        doc["spec"]["containers"][0]["name"].as_str().unwrap()
                    ),
                    doc["spec"].clone(),
                )),
                "Deployment" => pods.push((
                    format!("{0}-pod-0-{0}", doc["metadata"]["name"].as_str().unwrap()),
                    doc["spec"]["template"]["spec"].clone(),
                )),
                _ => {}
            }
        }
    }
    assert_eq!(pods.len(), 9, "five Deployments and four StatefulSet pods");
    let (mut probes, mut passed) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(60);
    for (ctr, spec) in &pods {
        assert_eq!(p.inspect(ctr, "{{.State.Status}}"), "running", "{ctr}");
        let c = &spec["containers"][0];
        for kind in ["startupProbe", "readinessProbe", "livenessProbe"] {
            if c.get(kind).is_some() {
                probes += 1;
                while !probe_passes(&p, ctr, &c[kind]) {
                    assert!(Instant::now() < deadline, "{ctr}: {kind} never passes");
                    std::thread::sleep(Duration::from_millis(500));
                }
                passed += 1;
            }
        }
        if c.get("livenessProbe").is_some() {
            // podman's own conversion of the livenessProbe into its healthcheck
            assert!(
                p.run(&["healthcheck", "run", ctr]).status.success(),
                "{ctr}: podman healthcheck"
            );
        }
    }
    println!(
        "openim on podman: {} pods running, {passed}/{probes} probes passing",
        pods.len()
    );
    assert_eq!(
        probes, 15,
        "five services with startup, readiness and liveness probes"
    );

    // Each instance of msg-transfer got its ordinal as {instance}: port 1020K, PARTITION=K.
    for k in 1..=4 {
        let ctr = format!("msg-transfer-{k}-msg-transfer");
        let cmdline = p.ok(&["exec", &ctr, "cat", "/proc/1/cmdline"]);
        assert!(
            cmdline.split('\0').any(|a| a == format!("1020{k}")),
            "{ctr}: {cmdline:?}"
        );
        let environ = p.ok(&["exec", &ctr, "cat", "/proc/1/environ"]);
        assert!(
            environ.split('\0').any(|a| a == format!("PARTITION={k}")),
            "{ctr}"
        );
        assert!(p
            .run(&["exec", &ctr, "nc", "-z", "127.0.0.1", &format!("1020{k}")])
            .status
            .success());
    }

    // requires and after ordered the starts, though the dependants were played first.
    let start = |name: &str| -> f64 {
        let ctr = pods
            .iter()
            .find(|(c, _)| c.starts_with(&format!("{name}-")))
            .unwrap()
            .0
            .clone();
        p.inspect(&ctr, "{{.State.StartedAt.Unix}}")
            .parse()
            .unwrap()
    };
    let edges = [
        ("rpc-user", "rpc-msg"),
        ("rpc-msg", "push"),
        ("rpc-msg", "api"),
        ("rpc-user", "api"),
        ("api", "gateway"),
        ("rpc-msg", "msg-transfer"),
    ];
    for (dep, dependant) in edges {
        assert!(
            start(dep) <= start(dependant),
            "{dependant} started before {dep}"
        );
    }
    println!(
        "openim on podman: {} dependency edges ordered by init containers",
        edges.len()
    );

    // A killed container is restarted (restartPolicy Always) and passes its probe again.
    let ctr = "rpc-user-pod-0-rpc-user";
    let pid: i32 = p.inspect(ctr, "{{.State.Pid}}").parse().unwrap();
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let spec = &pods.iter().find(|(c, _)| c == ctr).unwrap().1;
    loop {
        let now: i32 = p.inspect(ctr, "{{.State.Pid}}").parse().unwrap_or(0);
        if now != 0 && now != pid && probe_passes(&p, ctr, &spec["containers"][0]["readinessProbe"])
        {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "{ctr} not restarted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "openim on podman: rpc-user killed -9, back and ready in {:.1} s",
        killed.elapsed().as_secs_f64()
    );
    p.clean();

    // 2. Generated arguments and environment values, byte for byte.
    let p = Podman::new(&dir);
    let gen = dir.join("generated");
    std::fs::create_dir_all(&gen).unwrap();
    let (file, expected) = generated(&gen, 10, 0xE2E);
    p.play_all(&file, &gen.join("play"));
    let mut records = BTreeMap::new();
    for (name, _) in &expected {
        let ctr = format!("{name}-pod-0-{name}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let record = loop {
            let out = p.run(&["exec", &ctr, "cat", "/tmp/record.json"]);
            if out.status.success() {
                break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
            }
            assert!(Instant::now() < deadline, "{ctr}: no record");
            std::thread::sleep(Duration::from_millis(300));
        };
        records.insert(name.clone(), record);
    }
    for (name, adv) in &expected {
        // kube_lite.py expanded $(VAR) and $$ as the kubelet does (podman does not).
        adv.check(&format!("podman {name}"), &records[name]);
    }
    p.down();

    // 3. The compose files, run by podman-compose (with the same podman).
    let compose = |args: &[&str], dir: &Path| -> Output {
        let out = Command::new("podman-compose")
            .args(["-p", "sa-export"])
            .args(args)
            .current_dir(dir)
            .env("CONTAINERS_CONF", p.dir.join("containers.conf"))
            .env("CONTAINERS_STORAGE_CONF", p.dir.join("storage.conf"))
            .output()
            .expect("podman-compose runs (tests/run installs it)");
        assert!(
            out.status.success(),
            "podman-compose {args:?}: {}",
            text(&out.stderr)
        );
        out
    };
    let down = |dir: &Path| {
        compose(&["-f", "compose.yaml", "down", "-t", "0"], dir);
    };
    let cdir = dir.join("compose-openim");
    std::fs::create_dir_all(&cdir).unwrap();
    let out = run(svc_any()
        .args(["export", "compose", "-f"])
        .arg(openim())
        .arg("-o")
        .arg(&cdir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let up = compose(&["-f", "compose.yaml", "up", "-d"], &cdir);
    let names = [
        "rpc-user",
        "rpc-msg",
        "msg-transfer-1",
        "msg-transfer-2",
        "msg-transfer-3",
        "msg-transfer-4",
        "push",
        "api",
        "gateway",
    ];
    for n in names {
        assert_eq!(
            p.inspect(&format!("sa-export_{n}_1"), "{{.State.Status}}"),
            "running",
            "{n}"
        );
    }
    let mut healthy = 0;
    for n in ["rpc-user", "rpc-msg", "push", "api", "gateway"] {
        let ctr = format!("sa-export_{n}_1");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !p.run(&["healthcheck", "run", &ctr]).status.success() {
            assert!(Instant::now() < deadline, "{ctr}: healthcheck never passes");
            std::thread::sleep(Duration::from_millis(500));
        }
        healthy += 1;
    }
    // podman-compose starts in depends_on order, but waits for `service_healthy` only on
    // podman 4.6 and later: here it says so, and starts the next one at once.
    let ignored = text(&up.stderr).matches("doesn't support healthy").count();
    let cstart = |n: &str| -> i64 {
        p.inspect(&format!("sa-export_{n}_1"), "{{.State.StartedAt.UnixNano}}")
            .parse()
            .unwrap()
    };
    for (dep, dependant) in edges {
        let dependant = if dependant == "msg-transfer" {
            "msg-transfer-1"
        } else {
            dependant
        };
        assert!(
            cstart(dep) <= cstart(dependant),
            "compose: {dependant} started before {dep}"
        );
    }
    let ctr = "sa-export_rpc-user_1";
    let pid: i32 = p.inspect(ctr, "{{.State.Pid}}").parse().unwrap();
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    loop {
        let now: i32 = p.inspect(ctr, "{{.State.Pid}}").parse().unwrap_or(0);
        if now != 0 && now != pid && p.run(&["healthcheck", "run", ctr]).status.success() {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(60),
            "{ctr} not restarted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "openim on podman-compose: {} containers running, {healthy}/5 healthchecks passing, {} edges started in order (service_healthy ignored by podman-compose on podman 4.3: {ignored} warnings), rpc-user killed -9 and healthy again in {:.1} s",
        names.len(),
        edges.len(),
        killed.elapsed().as_secs_f64()
    );
    down(&cdir);

    // The generated probes through compose's interpolation and podman run.
    let gdir = gen.join("compose");
    std::fs::create_dir_all(&gdir).unwrap();
    let out = run(svc_any()
        .args(["export", "compose", "-f"])
        .arg(&file)
        .arg("-o")
        .arg(&gdir));
    assert!(out.status.success(), "{}", text(&out.stderr));
    compose(&["-f", "compose.yaml", "up", "-d"], &gdir);
    for (name, adv) in &expected {
        let ctr = format!("sa-export_{name}_1");
        let deadline = Instant::now() + Duration::from_secs(30);
        let record = loop {
            let out = p.run(&["exec", &ctr, "cat", "/tmp/record.json"]);
            if out.status.success() {
                break serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap();
            }
            assert!(Instant::now() < deadline, "{ctr}: no record");
            std::thread::sleep(Duration::from_millis(300));
        };
        adv.check(&format!("podman-compose {name}"), &record);
    }
    down(&gdir);
    println!(
        "tests/export.rs podman part: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
