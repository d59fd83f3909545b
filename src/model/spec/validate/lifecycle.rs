//! How the service is brought back and brought down: `restart`, its delays and crash-loop
//! limit, `stop_signal`, `stop_timeout`, `reload_signal` and `success_exit_codes`.

use std::time::Duration;

use crate::model::error::BadInput;
use crate::model::signal::Signal;

use super::super::location::{did_you_mean, Source};
use super::super::model::{defaults, Restart};
use super::super::raw::{RawService, S};
use super::duration_key;

/// The keys of this group, typed, with the defaults filled in.
pub(super) struct RestartAndStop {
    pub restart: Restart,
    pub restart_delay: Duration,
    pub restart_max_delay: Duration,
    pub restart_limit: u32,
    pub restart_limit_interval: Duration,
    pub stop_signal: Signal,
    pub stop_timeout: Duration,
    pub reload_signal: Option<Signal>,
    pub success_exit_codes: Vec<u8>,
    /// `stop_timeout = "infinity"`.
    pub stop_timeout_infinity: bool,
}

pub(super) fn restart_and_stop(src: &Source, raw: &RawService) -> Result<RestartAndStop, BadInput> {
    let restart = restart_policy(src, &raw.restart)?;
    let restart_delay =
        duration_key(src, "restart_delay", &raw.restart_delay)?.unwrap_or(defaults::RESTART_DELAY);
    let restart_max_delay = duration_key(src, "restart_max_delay", &raw.restart_max_delay)?
        .unwrap_or(defaults::RESTART_MAX_DELAY.max(restart_delay));
    if restart_max_delay < restart_delay {
        let span = raw.restart_max_delay.as_ref().map_or(0..0, |s| s.span());
        return Err(src
            .error(
                span,
                "restart_max_delay",
                "restart_max_delay is shorter than restart_delay",
            )
            .hint("the backoff grows from restart_delay up to restart_max_delay"));
    }
    let restart_limit = match &raw.restart_limit {
        None => defaults::RESTART_LIMIT,
        Some(n) => u32::try_from(*n.get_ref())
            .ok()
            .filter(|n| *n <= 10_000)
            .ok_or_else(|| {
                src.error(
                    n.span(),
                    "restart_limit",
                    format!("{} is not a restart count", n.get_ref()),
                )
                .hint("a count from 0 (never give up) to 10000")
            })?,
    };
    let restart_limit_interval =
        duration_key(src, "restart_limit_interval", &raw.restart_limit_interval)?
            .unwrap_or(defaults::RESTART_LIMIT_INTERVAL);
    if restart_limit_interval.is_zero() {
        let span = raw
            .restart_limit_interval
            .as_ref()
            .map_or(0..0, |s| s.span());
        return Err(src
            .error(span, "restart_limit_interval", "the interval is zero")
            .hint("give a duration such as \"10s\", or restart_limit = 0 to never give up"));
    }
    let stop_timeout_infinity = raw
        .stop_timeout
        .as_ref()
        .is_some_and(|v| v.get_ref().as_str() == Some("infinity"));
    let stop_timeout = match stop_timeout_infinity {
        true => defaults::STOP_TIMEOUT,
        false => {
            duration_key(src, "stop_timeout", &raw.stop_timeout)?.unwrap_or(defaults::STOP_TIMEOUT)
        }
    };
    let stop_signal = signal_key(src, "stop_signal", &raw.stop_signal)?.unwrap_or(Signal::TERM);
    let reload_signal = signal_key(src, "reload_signal", &raw.reload_signal)?;
    let success_exit_codes = exit_codes(src, "success_exit_codes", &raw.success_exit_codes)?;
    Ok(RestartAndStop {
        restart,
        restart_delay,
        restart_max_delay,
        restart_limit,
        restart_limit_interval,
        stop_signal,
        stop_timeout,
        reload_signal,
        success_exit_codes,
        stop_timeout_infinity,
    })
}

fn restart_policy(src: &Source, raw: &Option<S<String>>) -> Result<Restart, BadInput> {
    let Some(r) = raw else {
        return Ok(Restart::OnFailure);
    };
    match r.get_ref().as_str() {
        "no" => Ok(Restart::No),
        "on-failure" => Ok(Restart::OnFailure),
        "always" => Ok(Restart::Always),
        "on-abnormal" => Ok(Restart::OnAbnormal),
        "on-abort" => Ok(Restart::OnAbort),
        other => {
            let names = ["no", "on-failure", "always", "on-abnormal", "on-abort"];
            let list = "\"no\", \"on-failure\", \"always\", \"on-abnormal\", \"on-abort\"";
            let hint = match did_you_mean(other, &names) {
                Some(near) => format!("did you mean \"{near}\"? (one of {list})"),
                None => format!("use one of {list}"),
            };
            Err(src
                .error(
                    r.span(),
                    "restart",
                    format!("unknown restart policy `{other}`"),
                )
                .hint(hint))
        }
    }
}

fn signal_key(src: &Source, key: &str, v: &Option<S<String>>) -> Result<Option<Signal>, BadInput> {
    let Some(v) = v else { return Ok(None) };
    Signal::from_name(v.get_ref()).map(Some).ok_or_else(|| {
        src.error(
            v.span(),
            key,
            format!("unknown signal `{}`", v.get_ref().escape_debug()),
        )
        .hint(format!("use one of {}", Signal::names().join(", ")))
    })
}

pub(super) fn exit_codes(
    src: &Source,
    key: &str,
    raw: &Option<S<Vec<S<i64>>>>,
) -> Result<Vec<u8>, BadInput> {
    let mut codes = Vec::new();
    for code in raw.iter().flat_map(|list| list.get_ref()) {
        let value = *code.get_ref();
        let ok = u8::try_from(value).map_err(|_| {
            src.error(code.span(), key, format!("{value} is not an exit code"))
                .hint("exit codes are 0 to 255")
        })?;
        codes.push(ok);
    }
    Ok(codes)
}
