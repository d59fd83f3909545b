//! Debian's policy layer: before a maintainer script starts, stops or restarts a service,
//! `/usr/sbin/policy-rc.d NAME ACTION` says whether it may (README.policy-rc.d and
//! invoke-rc.d(8) in init-system-helpers). Image builders and chroots install a one-line
//! `exit 101` there so that installing a package starts nothing.
//!
//! The exit statuses, read as invoke-rc.d reads them:
//!
//! | status | meaning | what svc-any does |
//! |---|---|---|
//! | 0, 104 | allowed | the action |
//! | 101 | forbidden | nothing, and that is no error |
//! | 106 | forbidden, do the fallback actions printed on the first line of stdout instead | each fallback in turn until one succeeds (they are implied allowed) |
//! | 1, 105 | policy undefined | the action, with a warning |
//! | 100, 102, 103, any other | an error of the policy layer | nothing, with a warning |
//!
//! A `policy-rc.d` that is missing or not executable is no policy: everything is allowed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::system::host::Ctx;

/// Where Debian looks for the policy layer.
pub const POLICY_RC_D: &str = "/usr/sbin/policy-rc.d";

/// What the policy layer says about one action on one service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// No policy layer, or it answered 0 or 104.
    Allow,
    /// 101: the action is forbidden; do nothing.
    Deny,
    /// 106: do these actions instead, in order, until one succeeds.
    Fallback(Vec<String>),
    /// 1 or 105: the policy is undefined for it; invoke-rc.d assumes allowed and warns.
    Uncertain(i32),
    /// The policy layer failed (100, 102, 103, an unknown status, or it could not run):
    /// invoke-rc.d does not act.
    Error(String),
}

/// Asks the host's policy layer whether `action` (`start`, `stop`, `restart`) of `name` may
/// run now. Only the live root has one that matters: an image tree is never acted on.
pub fn ask(ctx: &Ctx, name: &str, action: &str) -> Decision {
    ask_program(&ctx.on_target(Path::new(POLICY_RC_D)), name, action)
}

/// Asks `program` as [`ask`] asks `/usr/sbin/policy-rc.d`.
pub fn ask_program(program: &Path, name: &str, action: &str) -> Decision {
    let executable = std::fs::metadata(program)
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return Decision::Allow;
    }
    // The action goes as one argument (README.policy-rc.d: "a space-separated list of actions
    // ... passed in a single parameter"); stderr is the policy's word to the person installing.
    let child = Command::new(program)
        .arg(name)
        .arg(action)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return Decision::Error(format!("{} could not run: {e}", program.display())),
    };
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        // At most one line matters; a policy that prints megabytes is not read to the end.
        let _ = out.by_ref().take(64 * 1024).read_to_string(&mut stdout);
    }
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => return Decision::Error(format!("waiting for {}: {e}", program.display())),
    };
    match status.code() {
        Some(0 | 104) => Decision::Allow,
        Some(101) => Decision::Deny,
        Some(106) => {
            let actions: Vec<String> = stdout
                .lines()
                .next()
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect();
            if actions.is_empty() {
                Decision::Error("it answered 106 (use a fallback) but printed no fallback".into())
            } else {
                Decision::Fallback(actions)
            }
        }
        Some(code @ (1 | 105)) => Decision::Uncertain(code),
        Some(code) => Decision::Error(format!("it exited {code}{}", meaning(code))),
        None => Decision::Error("it was killed by a signal".into()),
    }
}

fn meaning(code: i32) -> &'static str {
    match code {
        100 => " (unknown service)",
        102 => " (subsystem error)",
        103 => " (syntax error)",
        _ => " (not a status policy-rc.d defines)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy script that answers `body`; returns its path.
    fn policy(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn every_documented_status_is_read_as_invoke_rc_d_reads_it() {
        let dir = std::env::temp_dir().join(format!("svc-any-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cases: &[(&str, Decision)] = &[
            ("exit 0", Decision::Allow),
            ("exit 104", Decision::Allow),
            ("exit 101", Decision::Deny),
            (
                "echo 'restart stop'; echo ignored; exit 106",
                Decision::Fallback(vec!["restart".into(), "stop".into()]),
            ),
            ("exit 1", Decision::Uncertain(1)),
            ("exit 105", Decision::Uncertain(105)),
        ];
        for (i, (body, want)) in cases.iter().enumerate() {
            let p = policy(&dir, &format!("p{i}"), body);
            assert_eq!(&ask_program(&p, "web", "start"), want, "{body}");
        }
        for body in [
            "exit 100",
            "exit 102",
            "exit 103",
            "exit 7",
            "exit 106",
            "kill -9 $$",
        ] {
            let p = policy(&dir, "err", body);
            assert!(
                matches!(ask_program(&p, "web", "start"), Decision::Error(_)),
                "{body}"
            );
        }
        // It is asked about this service and this action, each one argument.
        let p = policy(
            &dir,
            "args",
            "[ $# = 2 ] && [ \"$1\" = web ] && [ \"$2\" = stop ] || exit 101",
        );
        assert_eq!(ask_program(&p, "web", "stop"), Decision::Allow);
        assert_eq!(ask_program(&p, "web", "start"), Decision::Deny);
        // Missing or not executable: no policy layer.
        assert_eq!(
            ask_program(&dir.join("none"), "web", "start"),
            Decision::Allow
        );
        let p = policy(&dir, "plain", "exit 101");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(ask_program(&p, "web", "start"), Decision::Allow);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
