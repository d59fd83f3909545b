//! The `[health]` table: exactly one readiness check, and its timeout.

use crate::error::{bad, BadInput};

use super::super::location::Source;
use super::super::model::{defaults, Health, HealthCheck};
use super::super::raw::RawHealth;
use super::duration_key;
use super::process::{check_argv, string_list};

pub(super) fn health(src: &Source, h: &RawHealth) -> Result<Health, BadInput> {
    let timeout =
        duration_key(src, "health.timeout", &h.timeout)?.unwrap_or(defaults::HEALTH_TIMEOUT);
    let given = [h.tcp.is_some(), h.http.is_some(), h.exec.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if given != 1 {
        return Err(bad(format!(
            "[health] needs exactly one of tcp, http, exec (found {given})"
        ))
        .at(src.label.clone())
        .key("health")
        .hint("e.g. tcp = \"127.0.0.1:8080\" or http = \"http://127.0.0.1:8080/health\""));
    }
    let check = if let Some(tcp) = &h.tcp {
        crate::health::parse_tcp_target(tcp.get_ref())
            .map_err(|m| src.error(tcp.span(), "health.tcp", m))?;
        HealthCheck::Tcp(tcp.get_ref().clone())
    } else if let Some(http) = &h.http {
        crate::health::parse_http_url(http.get_ref())
            .map_err(|m| src.error(http.span(), "health.http", m))?;
        HealthCheck::Http(http.get_ref().clone())
    } else {
        let argv = string_list(src, "health.exec", h.exec.as_ref().expect("counted above"))?;
        check_argv(src, "health.exec", &argv)?;
        HealthCheck::Exec(argv)
    };
    Ok(Health { check, timeout })
}
