//! What launchd says of its jobs, into svc-any's status model: `launchctl print` (a format for
//! people, unversioned: only the top-level lines needed are read), the signal words of macOS,
//! and the overrides `launchctl print-disabled` lists.

use crate::model::spec::Service;
use crate::model::status::{LastExit, ServiceStatus, State};

/// What `launchctl print` says about one job (its top-level lines; nested blocks repeat keys).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrintedJob {
    pub state: String,
    pub pid: Option<u32>,
    pub runs: Option<u32>,
    pub last_exit: Option<LastExit>,
}

/// Parses `launchctl print DOMAIN/LABEL`. Its format is for people and unversioned: the parser
/// reads only the top-level `key = value` lines it needs and ignores everything else.
pub fn parse_print(text: &str) -> PrintedJob {
    let mut job = PrintedJob::default();
    for line in text.lines() {
        // Top level is exactly one tab deep; nested blocks (environment, endpoints) are deeper.
        let Some(line) = line.strip_prefix('\t').filter(|l| !l.starts_with('\t')) else {
            continue;
        };
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let value = value.trim();
        match key {
            "state" => job.state = value.to_string(),
            "pid" => job.pid = value.parse().ok(),
            "runs" => job.runs = value.parse().ok(),
            // `0`, `78: EX_CONFIG`, or `(never exited)`.
            "last exit code" if job.last_exit.is_none() => {
                job.last_exit = value
                    .split(':')
                    .next()
                    .and_then(|n| n.trim().parse().ok())
                    .map(|code| LastExit::Exited { code });
            }
            // `Terminated: 15`: a signal outranks an exit code line.
            "last terminating signal" => {
                job.last_exit = Some(LastExit::Killed {
                    signal: signal_from_description(value),
                });
            }
            _ => {}
        }
    }
    job
}

/// macOS's strsignal text to svc-any's signal names. Numbers differ between macOS and Linux
/// (USR1 is 30 there), so the words decide; an unknown one is kept as launchd wrote it.
fn signal_from_description(text: &str) -> String {
    let words = text.rsplit_once(':').map_or(text, |(w, _)| w).trim();
    let name = match words {
        "Hangup" => "HUP",
        "Interrupt" => "INT",
        "Quit" => "QUIT",
        "Illegal instruction" => "ILL",
        "Abort trap" => "ABRT",
        "Floating point exception" => "FPE",
        "Killed" => "KILL",
        "Bus error" => "BUS",
        "Segmentation fault" => "SEGV",
        "Terminated" => "TERM",
        "User defined signal 1" => "USR1",
        "User defined signal 2" => "USR2",
        "Alarm clock" => "ALRM",
        "Broken pipe" => "PIPE",
        _ => return text.to_string(),
    };
    name.to_string()
}

/// `launchctl print-disabled DOMAIN`: `"LABEL" => disabled` (or `=> true` before macOS 13).
pub(super) fn parse_disabled(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (label, state) = line.trim().split_once(" => ")?;
            let disabled = matches!(state.trim(), "disabled" | "true");
            disabled.then(|| label.trim().trim_matches('"').to_string())
        })
        .collect()
}

/// The one status model from what launchd printed (`None`: not loaded, i.e. stopped).
pub(super) fn status_from_print(service: &Service, printed: Option<&PrintedJob>) -> ServiceStatus {
    let mut status = ServiceStatus {
        state: State::Stopped,
        ..ServiceStatus::not_installed(&service.name, "launchd")
    };
    let Some(p) = printed else {
        return status;
    };
    status.pid = p.pid;
    status.restarts = p.runs.map(|r| r.saturating_sub(1));
    status.last_exit = p.last_exit.clone();
    let clean = p
        .last_exit
        .as_ref()
        .is_none_or(|exit| exit.is_clean(service.stop_signal, &service.success_exit_codes));
    status.state = match p.state.as_str() {
        "running" => State::Running,
        // Not running and not about to be: launchd will not bring it back.
        "not running" if clean => State::Stopped,
        "not running" => State::Dead,
        // `spawn scheduled` (a throttled restart), `xpcproxy` (being spawned).
        _ => State::Starting,
    };
    if status.state == State::Dead {
        status.reason = Some(match p.last_exit {
            Some(LastExit::Killed { .. }) => "signal".into(),
            _ => "exit-code".into(),
        });
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_words_map_to_names_whatever_the_number() {
        assert_eq!(signal_from_description("Terminated: 15"), "TERM");
        assert_eq!(signal_from_description("User defined signal 1: 30"), "USR1");
        assert_eq!(signal_from_description("Weird: 99"), "Weird: 99");
    }

    #[test]
    fn disabled_overrides_in_both_spellings() {
        let text = "disabled services = {\n\t\"org.svc-any.a\" => disabled\n\t\"org.svc-any.b\" => enabled\n\t\"com.old\" => true\n\t\"com.on\" => false\n}\n";
        assert_eq!(parse_disabled(text), vec!["org.svc-any.a", "com.old"]);
    }
}
