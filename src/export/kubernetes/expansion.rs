//! Values as the kubelet must see them: it turns `$$` into `$` and expands `$(VAR)` in
//! `command`, `args` and env values, so svc-any doubles every `$` it would read; and the pod
//! variable and label that carry a StatefulSet pod's instance name.

use crate::model::spec::INSTANCE_PLACEHOLDER;

/// The environment variable that carries a StatefulSet pod's ordinal, the instance name.
pub const INSTANCE_VAR: &str = "SVC_ANY_INSTANCE";
/// The label Kubernetes (1.28+) sets on a StatefulSet's pods to their ordinal.
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

/// A string as Kubernetes must see it in `command`, `args` or an env `value` to hand the
/// process exactly `value`: the kubelet turns `$$` into `$` and expands `$(VAR)`, so every `$`
/// followed by `$` or `(` is doubled. With `instance_ref`, `{instance}` becomes
/// `$(SVC_ANY_INSTANCE)`, expanded by the kubelet.
pub fn k8s_value(value: &str, instance_ref: bool) -> String {
    let parts: Vec<&str> = match instance_ref {
        true => value.split(INSTANCE_PLACEHOLDER).collect(),
        false => vec![value],
    };
    let reference = format!("$({INSTANCE_VAR})");
    let mut out = String::with_capacity(value.len());
    for (i, part) in parts.iter().enumerate() {
        let more = i + 1 < parts.len();
        let mut chars = part.chars().peekable();
        while let Some(c) = chars.next() {
            out.push(c);
            if c == '$' {
                let next = chars.peek().copied().or(more.then_some('$'));
                if matches!(next, Some('$' | '(')) {
                    out.push('$');
                }
            }
        }
        if more {
            out.push_str(&reference);
        }
    }
    out
}
