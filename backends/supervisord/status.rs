//! What supervisord says of its programs: the state of every one in one XML-RPC conversation
//! (through supervisor's own client code and the Python that runs it), and, from the tail of
//! its log, how each last ended and how often it was restarted.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{anyhow, Context as _, Result};

use super::Supervisord;
use crate::model::spec::Restart;
use crate::model::status::LastExit;
use crate::system::host::Ctx;
use crate::system::process;

impl Supervisord {
    /// The state of every program, and the tail of supervisord's own log, in one XML-RPC
    /// conversation (`getAllProcessInfo`, `readLog`), through supervisor's own client code.
    pub(super) fn snapshot(&self, ctx: &Ctx) -> Result<Snapshot> {
        const SCRIPT: &str = r#"
import json, sys
from supervisor.options import ClientOptions
o = ClientOptions()
o.realize(args=[])
p = o.getServerProxy()
info = p.supervisor.getAllProcessInfo()
try:
    log = p.supervisor.readLog(-262144, 0)
except Exception:
    log = ""
json.dump({"info": info, "log": log}, sys.stdout)
"#;
        let python = interpreter()?;
        let mut cmd = Command::new(&python);
        cmd.args(["-c", SCRIPT]);
        ctx.report.command(&format!(
            "{} -c <getAllProcessInfo and readLog over supervisord's XML-RPC>",
            python.display()
        ));
        let out = cmd
            .output()
            .context("running python3 for supervisord's state")?;
        if !out.status.success() {
            return Err(anyhow!(
                "asking supervisord over XML-RPC failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).context("reading supervisord's XML-RPC answer")
    }
}

/// The Python that runs supervisorctl (its `#!` line), which imports supervisor's client.
fn interpreter() -> Result<PathBuf> {
    let ctl = process::find_tool("supervisorctl")?;
    let head = std::fs::read(&ctl).unwrap_or_default();
    let first = head.split(|b| *b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    if let Some(rest) = first.strip_prefix("#!") {
        let mut words = rest.split_whitespace();
        if let Some(prog) = words.next() {
            // `#!/usr/bin/env python3`
            if prog.ends_with("/env") {
                if let Some(name) = words.next() {
                    return process::find_tool(name);
                }
            }
            return Ok(PathBuf::from(prog));
        }
    }
    process::find_tool("python3")
}

#[derive(serde::Deserialize)]
pub(super) struct Snapshot {
    pub(super) info: Vec<ProcessInfo>,
    #[serde(default)]
    pub(super) log: String,
}

#[derive(serde::Deserialize)]
pub(super) struct ProcessInfo {
    pub(super) name: String,
    pub(super) group: String,
    pub(super) statename: String,
    #[serde(default)]
    pub(super) pid: u32,
    #[serde(default)]
    pub(super) start: u64,
    #[serde(default)]
    pub(super) stop: u64,
    #[serde(default)]
    pub(super) exitstatus: i64,
    #[serde(default)]
    pub(super) spawnerr: String,
}

/// What supervisord's log says of `program`: how it last ended, and how many times it was
/// spawned again after an exit its policy restarts, since the last start asked for.
pub(super) fn from_log(log: &str, program: &str, restart: Restart) -> (Option<LastExit>, u32) {
    let spawned = format!(" spawned: '{program}' with pid ");
    let exited = format!(" exited: {program} (");
    let stopped = format!(" stopped: {program} (");
    let mut last = None;
    let mut restarts = 0;
    let mut auto = false;
    for line in log.lines() {
        if line.contains(&spawned) {
            if auto {
                restarts += 1;
            } else {
                restarts = 0;
            }
            auto = false;
        } else if let Some(rest) = line
            .split_once(&exited)
            .or_else(|| line.split_once(&stopped))
            .map(|(_, r)| r)
        {
            let how = rest.split([';', ')']).next().unwrap_or_default();
            last = if let Some(code) = how.strip_prefix("exit status ") {
                code.trim()
                    .parse()
                    .ok()
                    .map(|code| LastExit::Exited { code })
            } else {
                how.strip_prefix("terminated by SIG")
                    .map(|s| LastExit::Killed {
                        signal: s.split_whitespace().next().unwrap_or_default().to_string(),
                    })
            };
            auto = line.contains(&exited)
                && match restart {
                    Restart::Always => true,
                    Restart::No => false,
                    _ => rest.contains("not expected"),
                };
        }
    }
    (last, restarts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_tells_the_last_exit_and_the_restarts_since_the_last_start() {
        let log = "\
2026-11-30 23:00:00,000 INFO spawned: 'web' with pid 10
2026-11-30 23:00:01,000 INFO success: web entered RUNNING state
2026-11-30 23:00:05,000 WARN exited: web (terminated by SIGKILL; not expected)
2026-11-30 23:00:05,100 INFO spawned: 'web' with pid 11
2026-11-30 23:00:06,000 INFO spawned: 'webx' with pid 12
";
        let (last, restarts) = from_log(log, "web", Restart::OnFailure);
        assert_eq!(
            last,
            Some(LastExit::Killed {
                signal: "KILL".into()
            })
        );
        assert_eq!(restarts, 1);
        let log = format!(
            "{log}2026-11-30 23:00:07,000 INFO stopped: web (exit status 143)\n\
             2026-11-30 23:00:08,000 INFO spawned: 'web' with pid 13\n"
        );
        let (last, restarts) = from_log(&log, "web", Restart::OnFailure);
        assert_eq!(last, Some(LastExit::Exited { code: 143 }));
        assert_eq!(restarts, 0);
    }
}
