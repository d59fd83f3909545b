//! The control protocol of the builtin supervisor.
//!
//! A client connects to the scope's Unix socket (`RUNTIME_DIR/supervisor.sock`, mode 0600, so
//! only its owner can talk to it), writes one request as a line of JSON, and reads one response
//! line; then the connection closes. Units are named `NAME`, or `NAME@INSTANCE` for an
//! instance of an instanced service.
//!
//! ```text
//! {"op":"ping"}                                   -> {"ok":true,"units":[]}
//! {"op":"reload"}                                 re-read what changed in STATE_DIR/builtin
//! {"op":"reload","services":["web"]}              re-read only these services' definitions
//! {"op":"start","units":["web"]}                  answered once the process is exec'd (and its
//!                                                 pre_start, a forking one's daemon, a oneshot ran)
//! {"op":"stop","units":["web"]}                   answered once the process group is gone
//! {"op":"restart","units":["web"]}                answered once the new process is exec'd
//! {"op":"signal","units":["web"],"signal":"HUP"}
//! {"op":"reload-units","units":["web"]}           reload_exec (or reload_signal); answered once done
//! {"op":"status","units":[]}                      every unit (or the named ones)
//! {"op":"shutdown"}                               stop everything in reverse dependency order, exit
//! ```
//! Errors: `{"ok":false,"error":"...","units":[]}`.

use serde::{Deserialize, Serialize};

use crate::model::status::ServiceStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Request {
    Ping,
    /// Re-read definitions: those of `services` (by service name, not unit), or with none
    /// named every file that changed since it was last read.
    Reload {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        services: Vec<String>,
    },
    Start {
        units: Vec<String>,
    },
    Stop {
        units: Vec<String>,
    },
    Restart {
        units: Vec<String>,
    },
    Signal {
        units: Vec<String>,
        signal: String,
    },
    /// Reload each unit as its definition says: its `reload_exec` commands (answered once
    /// they ran, with an error naming each that failed), else its `reload_signal`.
    #[serde(rename = "reload-units")]
    ReloadUnits {
        units: Vec<String>,
    },
    Status {
        units: Vec<String>,
    },
    Shutdown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default)]
    pub units: Vec<ServiceStatus>,
}

impl Response {
    pub fn ok(units: Vec<ServiceStatus>) -> Response {
        Response {
            ok: true,
            error: None,
            units,
        }
    }

    pub fn error(message: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(message.into()),
            units: Vec::new(),
        }
    }
}

/// `NAME` or `NAME@INSTANCE`.
pub fn unit_key(name: &str, instance: Option<&str>) -> String {
    match instance {
        Some(i) => format!("{name}@{i}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_json_object_with_an_op() {
        let r = Request::Start {
            units: vec!["web".into()],
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"op":"start","units":["web"]}"#
        );
        let back: Request =
            serde_json::from_str(r#"{"op":"signal","units":["a@1"],"signal":"HUP"}"#).unwrap();
        assert_eq!(
            back,
            Request::Signal {
                units: vec!["a@1".into()],
                signal: "HUP".into()
            }
        );
        assert_eq!(
            serde_json::to_string(&Request::Ping).unwrap(),
            r#"{"op":"ping"}"#
        );
    }

    #[test]
    fn a_reload_naming_nothing_is_the_plain_reload_of_earlier_versions() {
        let all = Request::Reload {
            services: Vec::new(),
        };
        assert_eq!(serde_json::to_string(&all).unwrap(), r#"{"op":"reload"}"#);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"op":"reload"}"#).unwrap(),
            all
        );
        let some: Request = serde_json::from_str(r#"{"op":"reload","services":["web"]}"#).unwrap();
        assert_eq!(
            some,
            Request::Reload {
                services: vec!["web".into()]
            }
        );
    }
}
