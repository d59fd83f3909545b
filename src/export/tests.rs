//! Pure rendering: the mapping decisions, without a file or an engine.

use std::collections::BTreeMap;

use super::kubernetes::k8s_value;
use super::{export, Format};

fn project(text: &str) -> BTreeMap<String, crate::model::spec::Service> {
    crate::model::spec::parse_test_text(text, None)
        .unwrap()
        .services
}

fn render(format: Format, text: &str) -> super::Output {
    let services = project(text);
    let all: Vec<_> = services.values().cloned().collect();
    export(format, &all, &services).unwrap()
}

#[test]
fn kubernetes_doubles_only_the_dollars_its_expansion_would_eat() {
    assert_eq!(k8s_value("$HOME ${X} a$", false), "$HOME ${X} a$");
    assert_eq!(k8s_value("$(id)", false), "$$(id)");
    assert_eq!(k8s_value("$$", false), "$$$");
    assert_eq!(
        k8s_value("port-{instance}", true),
        "port-$(SVC_ANY_INSTANCE)"
    );
    // A `$` just before the placeholder would meet the reference's own `$`.
    assert_eq!(k8s_value("${instance}", true), "$$$(SVC_ANY_INSTANCE)");
}

#[test]
fn restart_decides_the_workload_and_the_header_says_why() {
    let out = render(
        Format::Kubernetes,
        "[services.a]\nexec = [\"/a\"]\nrestart = \"always\"\nexport = { image = \"a:1\" }\n\
         [services.b]\nexec = [\"/b\"]\nrestart = \"no\"\nexport = { image = \"b:1\" }\n\
         [services.c]\nexec = [\"/c\"]\nexport = { image = \"c:1\" }\n",
    );
    assert!(out.text.contains("kind: \"Deployment\""));
    assert_eq!(out.text.matches("kind: \"Job\"").count(), 2, "{}", out.text);
    assert!(out.text.contains("restartPolicy: \"Never\""));
    assert!(out.text.contains("restartPolicy: \"OnFailure\""));
    assert!(out.text.contains("# ") && out.text.contains("→ Job with restartPolicy Never"));
    assert!(out.not_carried.is_empty(), "{:?}", out.not_carried);
}

#[test]
fn numbered_instances_are_a_statefulset_and_named_ones_a_workload_each() {
    let out = render(
        Format::Kubernetes,
        "[services.n]\nexec = [\"/n\", \"{instance}\"]\ninstances = [\"3\", \"4\"]\nrestart = \"always\"\n\
         export = { image = \"n:1\" }\n\
         [services.w]\nexec = [\"/w\", \"{instance}\"]\ninstances = [\"eu\", \"us\"]\nrestart = \"always\"\n\
         export = { image = \"w:1\" }\n",
    );
    assert!(out.text.contains("kind: \"StatefulSet\""));
    assert!(out.text.contains("start: 3"));
    assert!(out.text.contains("replicas: 2"));
    assert!(out
        .text
        .contains("\"/n\"\n        - \"$(SVC_ANY_INSTANCE)\""));
    assert!(out.text.contains("name: \"w-eu\"") && out.text.contains("name: \"w-us\""));
    assert!(out.text.contains("- \"eu\"") && out.text.contains("- \"us\""));
}

#[test]
fn compose_doubles_every_dollar_and_orders_by_health() {
    let out = render(
        Format::Compose,
        "[services.db]\nexec = [\"/db\", \"$HOME\"]\nhealth = { tcp = \"127.0.0.1:5432\" }\n\
         export = { image = \"db:1\" }\n\
         [services.web]\nexec = [\"/web\"]\nrequires = [\"db\"]\nafter = [\"db\"]\nenv = { A = \"$$x\" }\n\
         export = { image = \"web:1\" }\n",
    );
    assert!(out.text.contains("- \"$$HOME\""), "{}", out.text);
    assert!(out.text.contains("A: \"$$$$x\""), "{}", out.text);
    assert!(out.text.contains("condition: \"service_healthy\""));
    assert!(out.text.contains("restart: \"on-failure:5\""));
}

#[test]
fn a_name_kubernetes_cannot_take_is_bad_input() {
    let services = project("[services.Api_1]\nexec = [\"/a\"]\nexport = { image = \"a:1\" }\n");
    let all: Vec<_> = services.values().cloned().collect();
    let err = export(Format::Kubernetes, &all, &services).unwrap_err();
    assert_eq!(crate::model::error::exit_code(&err), 2, "{err:#}");
    assert!(export(Format::Compose, &all, &services).is_ok());
}

#[test]
fn log_files_are_named_among_what_a_container_runtime_does_not_carry() {
    let out = render(
        Format::Compose,
        "[services.a]\nexec = [\"/a\"]\nexport = { image = \"a:1\" }\n\
         log = { file = \"/var/log/a.log\", stderr = \"/var/log/a.err\" }\n",
    );
    assert!(
        out.not_carried
            .iter()
            .any(|n| n.contains("/var/log/a.log") && n.contains("log.stderr /var/log/a.err")),
        "{:?}",
        out.not_carried
    );
}
