//! The `[health]` table: exactly one readiness check, and its timeout. The target syntax is
//! decided here, once; the probes (`crate::system::health`) read targets this accepted.

use crate::model::error::{bad, BadInput};

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
        parse_tcp_target(tcp.get_ref()).map_err(|m| src.error(tcp.span(), "health.tcp", m))?;
        HealthCheck::Tcp(tcp.get_ref().clone())
    } else if let Some(http) = &h.http {
        parse_http_url(http.get_ref()).map_err(|m| src.error(http.span(), "health.http", m))?;
        HealthCheck::Http(http.get_ref().clone())
    } else {
        let argv = string_list(src, "health.exec", h.exec.as_ref().expect("counted above"))?;
        check_argv(src, "health.exec", &argv)?;
        HealthCheck::Exec(argv)
    };
    Ok(Health { check, timeout })
}

/// Checks `host:port` syntax (the port must be a number).
pub fn parse_tcp_target(target: &str) -> Result<(String, u16), String> {
    let (host, port) = target
        .rsplit_once(':')
        .ok_or_else(|| format!("`{target}` is not host:port"))?;
    let port: u16 = port
        .parse()
        .map_err(|_| format!("`{port}` is not a port number"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("`{target}` has no host"));
    }
    Ok((host.to_string(), port))
}

/// Splits `http://host[:port][/path]` into (host, port, path). Only plain HTTP: a health endpoint
/// is local, and TLS would need a crate this check does not earn.
pub fn parse_http_url(url: &str) -> Result<(String, u16, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        format!("`{url}` must start with http:// (https is not supported for health checks)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("`{url}` holds white space in its path"));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
            h.to_string(),
            p.parse()
                .map_err(|_| format!("`{p}` is not a port number"))?,
        ),
        _ => (authority.to_string(), 80),
    };
    if host.is_empty() {
        return Err(format!("`{url}` has no host"));
    }
    Ok((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
        path.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_urls_parse() {
        assert_eq!(
            parse_tcp_target("127.0.0.1:8080").unwrap(),
            ("127.0.0.1".into(), 8080)
        );
        assert_eq!(parse_tcp_target("[::1]:80").unwrap(), ("::1".into(), 80));
        assert!(parse_tcp_target("localhost").is_err());
        assert!(parse_tcp_target("host:http").is_err());
        assert_eq!(
            parse_http_url("http://127.0.0.1:9/health").unwrap(),
            ("127.0.0.1".into(), 9, "/health".into())
        );
        assert_eq!(
            parse_http_url("http://localhost").unwrap(),
            ("localhost".into(), 80, "/".into())
        );
        assert!(parse_http_url("https://x/").is_err());
    }
}
