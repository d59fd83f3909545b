//! Which manager, at which version, the files are written for: what `render --for
//! MANAGER@VERSION` names (system/version.rs finds it on the host when nothing is named).

use std::str::FromStr;

use crate::model::error::{bad, BadInput};

/// `MANAGER@VERSION`, as `render --for` takes it: `systemd@257`, `openrc@0.45`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagerVersion {
    pub manager: String,
    pub version: String,
}

impl ManagerVersion {
    /// The leading number of the version: systemd's versions are one (`257`, or `257.9` for a
    /// stable point release).
    pub fn major(&self) -> Option<u32> {
        leading_number(&self.version)
    }
}

impl FromStr for ManagerVersion {
    type Err = BadInput;

    fn from_str(s: &str) -> Result<Self, BadInput> {
        match s.split_once('@') {
            Some((m, v)) if !m.is_empty() && leading_number(v).is_some() => Ok(ManagerVersion {
                manager: m.to_string(),
                version: v.to_string(),
            }),
            _ => Err(bad(format!("`{s}` is not MANAGER@VERSION"))
                .key("--for")
                .hint("for example --for systemd@257")),
        }
    }
}

impl std::fmt::Display for ManagerVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.manager, self.version)
    }
}

/// The number a version string begins with (`257` of `257.9`, `0` of `0.45`).
pub fn leading_number(s: &str) -> Option<u32> {
    let digits: String = s.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manager_at_version_parses() {
        let v: ManagerVersion = "systemd@257".parse().unwrap();
        assert_eq!((v.manager.as_str(), v.major()), ("systemd", Some(257)));
        assert_eq!(
            "openrc@0.45.2".parse::<ManagerVersion>().unwrap().major(),
            Some(0)
        );
        for wrong in ["systemd", "systemd@", "@257", "systemd@new"] {
            assert!(wrong.parse::<ManagerVersion>().is_err(), "{wrong}");
        }
    }
}
