//! Secrets stay secret: a service's `env` values may be passwords, so no file svc-any writes
//! that another local user can read holds one, and nothing such a user may run prints one.
//!
//! The service proves it got the value (it writes it, privately, where only root reads); then,
//! as the host's other account, every file below the whole system's state (/etc, /run,
//! /var/lib in a container; the scope's state and runtime here) is searched for it, along with
//! what svc-any and the manager tell that user. The search is shown to be able to find
//! something: as root it finds the value in svc-any's own files, and the other user reads
//! some files there. What svc-any prints is shown to reach the service: that user's `render`
//! of it names each variable with `(hidden)` for its value and says how to see them, and
//! root's `show` has the value.

use std::time::Duration;

use crate::common::backend::Backend;
use crate::common::host::Host;
use crate::common::text;

pub fn hidden(h: &Host, b: &dyn Backend) {
    let name = b.name();
    let Some(user) = h.other_user() else {
        eprintln!("skipping {name}::secrets: another account needs root");
        return;
    };
    // Unique per run, and never on a command line: the service reads it from its environment.
    let secret = format!("hunter2-{}-{}", std::process::id(), name);
    let got = format!("{}/secret.got", h.scratch());
    let def = format!(
        "exec = [\"/bin/sh\", \"-c\", \"umask 077; printf %s \\\"$DB_PASSWORD\\\" > {got}; exec sleep 271828\"]\n\
         env = {{ DB_PASSWORD = \"{secret}\", PLAIN = \"not secret\" }}\n"
    );
    // The definition is the user's own file: kept private, as a careful user keeps it.
    let definition = h.define("secretive", &def);
    h.sh_out(&format!("chmod 600 '{definition}'"));
    h.ok(&["install", "secretive", "--start"]);
    assert!(
        h.wait_for(Duration::from_secs(10), &format!("test -s {got}")),
        "{name}: the service never wrote what it was given"
    );
    assert_eq!(
        h.sh_out(&format!("cat {got}")),
        secret,
        "{name}: the service's DB_PASSWORD"
    );

    let (mut roots, _) = h.system();
    roots.extend(b.dirs().iter().map(|(dir, _)| format!("/{dir}")));
    roots.push(h.state_dir());
    roots.push(h.runtime_dir());
    let roots = roots
        .iter()
        .map(|r| format!("'{r}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let search = format!("grep -rlF -- '{secret}' {roots} 2>/dev/null || true");
    // As root the search finds the value: it is somewhere (svc-any's record at least).
    let as_root = h.sh_out(&search);
    assert!(
        !as_root.is_empty(),
        "{name}: root's search found the secret nowhere: the search is blind"
    );

    let as_user = |script: &str| {
        h.sh(&format!(
            "setpriv --reuid={} --regid={} --clear-groups -- sh -c {}",
            user.uid,
            user.gid,
            shell_word(script)
        ))
    };
    let mut failures = Vec::new();
    let readable = text(
        &as_user(&format!(
            "find {roots} -type f -readable 2>/dev/null | wc -l"
        ))
        .stdout,
    );
    let readable: usize = readable.trim().parse().unwrap_or(0);
    assert!(
        readable > 0,
        "{name}: {} reads no file at all there: the search is blind",
        user.name
    );
    let found = text(&as_user(&search).stdout);
    if !found.trim().is_empty() {
        failures.push(format!(
            "{name}: {} reads the secret in:\n{found}",
            user.name
        ));
    }
    let mut commands: Vec<String> = [
        "status --json",
        "status",
        "status secretive --json",
        "show secretive",
        "show secretive --json",
        "render secretive",
        "install secretive --dry-run",
        "list",
    ]
    .iter()
    .map(|c| format!("svc-any {c}"))
    .collect();
    // Every command line on the host: a manager that passed values as arguments would show them.
    commands.push("ps -eo args".to_string());
    commands.extend(b.public_view("secretive"));
    for command in &commands {
        let out = as_user(&format!("{command} 2>&1"));
        assert_ne!(
            out.status.code(),
            Some(127),
            "{name}: {} cannot run `{command}`",
            user.name
        );
        if text(&out.stdout).contains(&secret) {
            failures.push(format!(
                "{name}: `{command}` shows {} the secret",
                user.name
            ));
        }
    }
    // The installed definition is every user's to read, its values not: the names are there,
    // each value is `(hidden)`, and stderr says how to see them.
    let rendered = as_user("svc-any render secretive");
    let (out, err) = (text(&rendered.stdout), text(&rendered.stderr));
    if !(out.contains("DB_PASSWORD") && out.contains("(hidden)") && err.contains("run as root")) {
        failures.push(format!(
            "{name}: {}'s `render secretive` does not show the names with (hidden) values:\n{out}{err}",
            user.name
        ));
    }
    // Root, who may read them, sees the values as installed (show reads the record).
    // show's exit code is the status's (LSB): a service still `starting` (supervisord's
    // startsecs) is 4, which says nothing about what show prints.
    let shown = crate::common::text(&h.svc_any(&["show", "secretive"]).stdout);
    if !shown.contains(&secret) || shown.contains("(hidden)") {
        failures.push(format!(
            "{name}: root's `show secretive` does not show the value:\n{shown}"
        ));
    }
    eprintln!(
        "secrets, {name}: root finds it in {} files; {} reads {readable} files there and ran {} commands: {} leaks",
        as_root.lines().count(),
        user.name,
        commands.len(),
        failures.len()
    );
    h.ok(&["uninstall", "secretive"]);
    h.sh_out(&format!("rm -f {got}"));
    h.undefine("secretive");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `s` as one single-quoted shell word.
fn shell_word(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}
