//! One status model for every backend, printed as a table or as stable JSON.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::model::signal::Signal;

/// What a service is doing, in words every manager's states map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// The process runs.
    Running,
    /// Asked to start, not yet running (or between a crash and its restart).
    Starting,
    /// Not running, and that is what was asked for.
    Stopped,
    /// The process is gone without being stopped; the manager will not bring it back.
    Dead,
    /// The manager gave up on it (crash loop, start failure).
    Failed,
    /// svc-any has not installed it here.
    NotInstalled,
    /// The manager's answer did not say.
    Unknown,
}

impl State {
    /// The LSB `status` exit code: 0 running, 1 dead, 3 stopped, 4 unknown / not installed.
    pub fn lsb_code(self) -> i32 {
        match self {
            State::Running => 0,
            State::Dead | State::Failed => 1,
            State::Stopped => 3,
            State::Starting | State::NotInstalled | State::Unknown => 4,
        }
    }

    /// How bad the state is for `status` of several services: the worst decides the exit code,
    /// so a failure is never masked by a stopped or unknown neighbour.
    fn severity(self) -> u8 {
        match self {
            State::Running => 0,
            State::Stopped => 1,
            State::Starting | State::NotInstalled | State::Unknown => 2,
            State::Dead | State::Failed => 3,
        }
    }

    /// The ANSI color of the state on a terminal, if it has one.
    fn color(self) -> Option<&'static str> {
        match self {
            State::Running => Some("32"),
            State::Starting => Some("33"),
            State::Dead | State::Failed => Some("31"),
            State::Stopped | State::NotInstalled | State::Unknown => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Starting => "starting",
            State::Stopped => "stopped",
            State::Dead => "dead",
            State::Failed => "failed",
            State::NotInstalled => "not-installed",
            State::Unknown => "unknown",
        }
    }
}

/// How the main process last ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "lowercase")]
pub enum LastExit {
    /// It called exit(code).
    Exited { code: i32 },
    /// A signal ended it.
    Killed { signal: String },
}

impl LastExit {
    /// Whether this end is a clean stop rather than a failure, the one rule of every backend:
    /// exit 0, an exit listed in `success_exit_codes`, death by the stop signal, or exit
    /// 128 + the stop signal (what a JVM or a shell's TERM trap does with it; without this a
    /// stop would read as a crash).
    pub fn is_clean(&self, stop_signal: Signal, success_exit_codes: &[u8]) -> bool {
        match self {
            LastExit::Exited { code } => {
                *code == 0
                    || u8::try_from(*code).is_ok_and(|c| {
                        c == stop_signal.exit_code() || success_exit_codes.contains(&c)
                    })
            }
            LastExit::Killed { signal } => Signal::from_name(signal) == Some(stop_signal),
        }
    }
}

/// How people read it in a reason, a log line or an error: `exited with 3`, `killed by SIGKILL`.
impl fmt::Display for LastExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LastExit::Exited { code } => write!(f, "exited with {code}"),
            LastExit::Killed { signal } => write!(f, "killed by SIG{signal}"),
        }
    }
}

/// The status of one service (or one instance of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    pub name: String,
    pub instance: Option<String>,
    pub backend: String,
    /// The manager's own name for it (`demo.service`).
    pub unit: String,
    pub state: State,
    pub pid: Option<u32>,
    /// When it entered its current state, seconds since the epoch.
    pub since: Option<u64>,
    /// Restarts the manager made after crashes, where it counts them.
    pub restarts: Option<u32>,
    pub last_exit: Option<LastExit>,
    /// Starts at boot.
    pub enabled: Option<bool>,
    /// Why it is failed or dead, when the manager says.
    #[serde(default)]
    pub reason: Option<String>,
}

impl ServiceStatus {
    pub fn not_installed(name: &str, backend: &str) -> ServiceStatus {
        ServiceStatus {
            name: name.to_string(),
            instance: None,
            backend: backend.to_string(),
            unit: String::new(),
            state: State::NotInstalled,
            pid: None,
            since: None,
            restarts: None,
            last_exit: None,
            enabled: None,
            reason: None,
        }
    }

    pub fn label(&self) -> String {
        match &self.instance {
            Some(i) => format!("{}@{}", self.name, i),
            None => self.name.clone(),
        }
    }
}

/// The exit code of `status` for several services: the LSB code of the worst state among
/// them: failed or dead (1) before unknown, starting or not installed (4) before stopped (3);
/// 0 only if every one runs.
pub fn exit_code(statuses: &[ServiceStatus]) -> i32 {
    statuses
        .iter()
        .map(|s| s.state)
        .max_by_key(|s| s.severity())
        .map_or(0, State::lsb_code)
}

/// The version of the documented `--json` shapes (`status`, `list`, `detect`, `show`): fields
/// are added without changing it; a rename or removal would.
pub const JSON_SCHEMA: u32 = 1;

/// The JSON document of `status --json`: `{"schema": 1, "services": [...]}`.
pub fn to_json(statuses: &[ServiceStatus]) -> String {
    serde_json::to_string_pretty(
        &serde_json::json!({ "schema": JSON_SCHEMA, "services": statuses }),
    )
    .expect("plain data")
}

/// A table for people; with `color`, states in color (running green, starting yellow, dead
/// and failed red), for a terminal.
pub fn to_table(statuses: &[ServiceStatus], now: u64, color: bool) -> String {
    let mut rows = vec![[
        "SERVICE".to_string(),
        "STATE".into(),
        "PID".into(),
        "SINCE".into(),
        "RESTARTS".into(),
        "LAST EXIT".into(),
        "BOOT".into(),
        "REASON".into(),
    ]];
    for s in statuses {
        rows.push([
            s.label(),
            s.state.as_str().to_string(),
            s.pid.map_or("-".into(), |p| p.to_string()),
            s.since.map_or("-".into(), |t| ago(now.saturating_sub(t))),
            s.restarts.map_or("-".into(), |r| r.to_string()),
            match &s.last_exit {
                None => "-".into(),
                Some(LastExit::Exited { code }) => format!("exit {code}"),
                Some(LastExit::Killed { signal }) => format!("signal {signal}"),
            },
            match s.enabled {
                Some(true) => "enabled".into(),
                Some(false) => "disabled".into(),
                None => "-".into(),
            },
            s.reason.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    let widths: Vec<usize> = (0..8)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (n, row) in rows.iter().enumerate() {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(column, (cell, w))| {
                let padded = format!("{cell:<w$}");
                match (color && n > 0 && column == 1).then(|| statuses[n - 1].state.color()) {
                    Some(Some(code)) => {
                        format!("\x1b[{code}m{cell}\x1b[0m{}", &padded[cell.len()..])
                    }
                    _ => padded,
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

fn ago(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s ago"),
        s if s < 3600 => format!("{}m ago", s / 60),
        s if s < 86400 => format!("{}h ago", s / 3600),
        s => format!("{}d ago", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: State) -> ServiceStatus {
        ServiceStatus {
            state,
            ..ServiceStatus::not_installed("demo", "systemd")
        }
    }

    #[test]
    fn lsb_codes_follow_the_spec() {
        assert_eq!(State::Running.lsb_code(), 0);
        assert_eq!(State::Dead.lsb_code(), 1);
        assert_eq!(State::Failed.lsb_code(), 1);
        assert_eq!(State::Stopped.lsb_code(), 3);
        assert_eq!(State::NotInstalled.lsb_code(), 4);
    }

    #[test]
    fn several_services_exit_with_the_worst_code() {
        assert_eq!(
            exit_code(&[status(State::Running), status(State::Running)]),
            0
        );
        assert_eq!(
            exit_code(&[status(State::Running), status(State::Stopped)]),
            3
        );
        // A failure is never masked by a neighbour that is merely stopped or unknown.
        assert_eq!(exit_code(&[status(State::Dead), status(State::Stopped)]), 1);
        assert_eq!(
            exit_code(&[status(State::Stopped), status(State::Failed)]),
            1
        );
        assert_eq!(
            exit_code(&[status(State::NotInstalled), status(State::Failed)]),
            1
        );
        assert_eq!(
            exit_code(&[status(State::Stopped), status(State::Unknown)]),
            4
        );
        assert_eq!(
            exit_code(&[status(State::Starting), status(State::Running)]),
            4
        );
        assert_eq!(exit_code(&[]), 0);
    }

    #[test]
    fn json_shape_is_stable() {
        let mut s = status(State::Running);
        s.pid = Some(42);
        s.last_exit = Some(LastExit::Killed {
            signal: "KILL".into(),
        });
        let v: serde_json::Value = serde_json::from_str(&to_json(&[s])).unwrap();
        assert_eq!(v["schema"], JSON_SCHEMA);
        let first = &v["services"][0];
        assert_eq!(first["state"], "running");
        assert_eq!(first["pid"], 42);
        assert_eq!(first["last_exit"]["how"], "killed");
        assert_eq!(first["last_exit"]["signal"], "KILL");
        assert_eq!(first["instance"], serde_json::Value::Null);
    }

    fn exited(code: i32) -> LastExit {
        LastExit::Exited { code }
    }

    fn killed(signal: &str) -> LastExit {
        LastExit::Killed {
            signal: signal.into(),
        }
    }

    #[test]
    fn clean_is_exit_0_a_success_code_or_the_stop_signal_either_way() {
        let int = Signal::from_name("INT").unwrap();
        for (exit, stop_signal, success, clean) in [
            (exited(0), Signal::TERM, &[][..], true),
            (exited(1), Signal::TERM, &[], false),
            (exited(3), Signal::TERM, &[3], true),
            (exited(143), Signal::TERM, &[], true),
            (exited(143), int, &[], false),
            (exited(130), int, &[], true),
            (exited(399), Signal::TERM, &[], false),
            (exited(-113), Signal::TERM, &[143], false),
            (killed("TERM"), Signal::TERM, &[], true),
            (killed("KILL"), Signal::TERM, &[], false),
            (killed("TERM"), int, &[], false),
            (killed("INT"), int, &[], true),
            (killed("SEGV"), Signal::TERM, &[139], false),
        ] {
            assert_eq!(
                exit.is_clean(stop_signal, success),
                clean,
                "{exit} with stop_signal {} and success {success:?}",
                stop_signal.name()
            );
        }
    }

    #[test]
    fn an_exit_reads_as_a_sentence() {
        assert_eq!(exited(3).to_string(), "exited with 3");
        assert_eq!(killed("KILL").to_string(), "killed by SIGKILL");
    }

    #[test]
    fn table_has_a_row_per_service() {
        let table = to_table(&[status(State::Stopped)], 100, false);
        assert!(table.starts_with("SERVICE"));
        let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
        assert_eq!(row, ["demo", "stopped", "-", "-", "-", "-", "-", "-"]);
    }

    #[test]
    fn colors_only_when_asked_and_columns_stay_aligned() {
        let rows = [status(State::Running), status(State::Failed)];
        let plain = to_table(&rows, 100, false);
        assert!(!plain.contains('\x1b'));
        let colored = to_table(&rows, 100, true);
        assert!(colored.contains("\x1b[32mrunning\x1b[0m"));
        assert!(colored.contains("\x1b[31mfailed\x1b[0m"));
        let strip = |t: &str| {
            t.replace("\x1b[32m", "")
                .replace("\x1b[31m", "")
                .replace("\x1b[0m", "")
        };
        assert_eq!(strip(&colored), plain);
    }

    #[test]
    fn the_table_says_why_a_service_failed() {
        let mut s = status(State::Failed);
        s.reason = Some("crash loop: 5 starts ended within 10s".into());
        s.last_exit = Some(LastExit::Exited { code: 1 });
        let table = to_table(&[s], 100, false);
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains("exit 1"), "{row}");
        assert!(
            row.ends_with("crash loop: 5 starts ended within 10s"),
            "{row}"
        );
    }
}
