//! The run-directory dialect that runit, daemontools and s6 share: a service is a directory
//! whose `run` is a `#!/bin/sh` script ending in `exec` of the program, started by the
//! manager's supervisor (runsv, supervise, s6-supervise) with its own working directory and
//! environment.
//!
//! What goes into such a script is built here once, every value one single-quoted shell word
//! ([`crate::dialect::escape::sh`]), so each byte reaches the process as written:
//! - the environment as `export NAME='value'` lines (not `envdir` or `chpst -e`, which cut a
//!   value at its first newline and strip trailing blanks);
//! - the working directory as `cd 'DIR' || exit 111`;
//! - the open-files limit with the shell's `ulimit -n`, which sets the soft and the hard limit
//!   exactly (chpst -o and softlimit -o only lower the soft one, silently capped at the hard);
//! - the command line as one `exec` of single-quoted words, behind the manager's own
//!   privilege tool (`chpst -u`, `setuidgid`, `s6-setuidgid`) and its limit tool, which the
//!   backend names as words of its own.
//!
//! Nothing here knows which manager reads the script: the backends lay the parts out with
//! their templates (`templates/runit.run.tera`, ...).

use serde::Serialize;

use crate::dialect::escape::{sh, Unrepresentable};
use crate::model::error::{bad, BadInput};
use crate::model::spec::{Dependency, Limit, Service};

/// The parts of one `run` script, each already shell text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RunScript {
    /// `export NAME='value'`, one line each, in name order.
    pub exports: Vec<String>,
    /// `cd 'DIR' || exit 111`, when the definition has a working directory.
    pub cd: Option<String>,
    /// `umask 0027`, when the definition sets one.
    pub umask: Option<String>,
    /// `ulimit -n 4096`, when the definition limits open files.
    pub ulimits: Vec<String>,
    /// The `exec` line: `exec` then the manager's tools' words, then the program and its
    /// arguments, each a single-quoted word.
    pub exec: String,
}

/// A value that a shell word cannot carry, as bad input naming its key.
pub fn field(key: &str) -> impl Fn(Unrepresentable) -> BadInput + '_ {
    move |why| {
        bad(format!("this value {why}"))
            .key(key.to_string())
            .hint("run scripts are shell: change the value")
    }
}

/// One single-quoted word, or bad input naming `key`.
pub fn word(value: &str, key: &str) -> Result<String, BadInput> {
    sh::quote(value).map_err(field(key))
}

/// The run script's waits before its `exec`, for the services of this host it depends on, each
/// one shell line of the manager's own tools: `required(q)` for a name in `requires` (start
/// it, wait until it is up), `ordered(q)` for one only in `after` (wait while it is wanted up),
/// `q` being the name as one quoted word. Names of the host's facilities are not services of a
/// scan directory: the backends refuse them before.
pub fn dependency_waits(
    service: &Service,
    required: impl Fn(&str) -> String,
    ordered: impl Fn(&str) -> String,
) -> Result<Vec<String>, BadInput> {
    let services = |deps: &[Dependency]| -> Vec<String> {
        deps.iter()
            .filter_map(|d| match d {
                Dependency::Service(name) => Some(name.clone()),
                _ => None,
            })
            .collect()
    };
    let needed = services(&service.requires);
    let mut waits = Vec::new();
    for name in &needed {
        waits.push(required(&word(name, "requires")?));
    }
    for name in services(&service.after) {
        if !needed.contains(&name) {
            waits.push(ordered(&word(&name, "after")?));
        }
    }
    Ok(waits)
}

/// What a script that applies the restart policy needs (runit's and s6's `finish`,
/// daemontools' `run`): where its records live (`state`), the policy, which ends are clean,
/// the crash-loop limit and window, and restart_delay with its cap, in milliseconds.
pub fn insert_restart_policy(
    c: &mut tera::Context,
    service: &Service,
    state: &std::path::Path,
) -> Result<(), BadInput> {
    c.insert("state", &word(&state.display().to_string(), "name")?);
    c.insert("restart", service.restart.as_str());
    c.insert("clean", &clean_patterns(service));
    c.insert("limit", &service.restart_limit);
    c.insert(
        "interval",
        &whole_seconds(service.restart_limit_interval).max(1),
    );
    let delay = service.restart_delay.as_millis() as u64;
    c.insert("delay_ms", &delay);
    c.insert(
        "max_delay_ms",
        &(service.restart_max_delay.as_millis() as u64).max(delay),
    );
    Ok(())
}

/// The run script of `service` (already one instance: see `Service::for_instance`), with
/// `tools` (the manager's privilege and limit tools, already shell words) between `exec` and
/// the program.
pub fn run_script(service: &Service, tools: &[String]) -> Result<RunScript, BadInput> {
    let mut exports = Vec::new();
    for (name, value) in &service.env {
        // Names are checked by the definition's validation: letters, digits and `_`.
        exports.push(format!(
            "export {name}={}",
            word(value, &format!("env.{name}"))?
        ));
    }
    let cd = match &service.working_dir {
        Some(dir) => Some(format!("cd {} || exit 111", word(dir, "working_dir")?)),
        None => None,
    };
    let ulimits = match service.limits.nofile {
        Some(Limit::Value(n)) => vec![format!("ulimit -n {n}")],
        Some(Limit::Infinity) => vec!["ulimit -n unlimited".to_string()],
        None => Vec::new(),
    };
    let mut words: Vec<String> = vec!["exec".into()];
    words.extend(tools.iter().cloned());
    for arg in &service.exec {
        words.push(word(arg, "exec")?);
    }
    Ok(RunScript {
        exports,
        cd,
        umask: service.daemon.umask.map(|u| format!("umask {u:04o}")),
        ulimits,
        exec: words.join(" "),
    })
}

/// The `finish` script's test of a clean end: the shell `case` patterns of `how` (`exited N`
/// or `killed SIGNAL`) that count as a clean stop, as `LastExit::is_clean` says: exit 0, a
/// listed success code, death by the stop signal, or exit 128 + the stop signal.
pub fn clean_patterns(service: &Service) -> String {
    let mut codes: Vec<u8> = vec![0, service.stop_signal.exit_code()];
    codes.extend(service.success_exit_codes.iter().copied());
    codes.sort_unstable();
    codes.dedup();
    let mut patterns: Vec<String> = codes.iter().map(|c| format!("'exited {c}'")).collect();
    patterns.push(format!("'killed {}'", service.stop_signal.number()));
    patterns.join("|")
}

/// Whole seconds, rounded up: what `sv -w` and friends take.
pub fn whole_seconds(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// A duration as `sleep(1)` takes it: seconds with up to three decimals.
pub fn sleep_arg(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 {
        format!("{}", ms / 1000)
    } else {
        format!("{}.{:03}", ms / 1000, ms % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sleep_takes_seconds_with_decimals() {
        assert_eq!(sleep_arg(Duration::from_millis(500)), "0.500");
        assert_eq!(sleep_arg(Duration::from_secs(2)), "2");
        assert_eq!(sleep_arg(Duration::from_millis(1250)), "1.250");
        assert_eq!(whole_seconds(Duration::from_millis(1250)), 2);
        assert_eq!(whole_seconds(Duration::from_secs(10)), 10);
    }
}
