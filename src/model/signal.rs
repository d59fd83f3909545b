//! Signals by name, as a definition spells them and as each manager wants them.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A signal svc-any can name in every backend's dialect. Numbers are Linux's; the names are the
/// same everywhere, which is what the generated files carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal {
    /// Without the `SIG` prefix: `TERM`.
    name: &'static str,
    number: i32,
}

const TABLE: &[(&str, i32)] = &[
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("KILL", 9),
    ("USR1", 10),
    ("USR2", 12),
    ("TERM", 15),
    ("CONT", 18),
    ("STOP", 19),
    ("WINCH", 28),
];

impl Signal {
    pub const TERM: Signal = Signal {
        name: "TERM",
        number: 15,
    };
    pub const KILL: Signal = Signal {
        name: "KILL",
        number: 9,
    };
    pub const HUP: Signal = Signal {
        name: "HUP",
        number: 1,
    };

    /// Accepts `TERM`, `SIGTERM`, `sigterm` and `15`.
    pub fn from_name(text: &str) -> Option<Signal> {
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        TABLE
            .iter()
            .find(|(name, number)| *name == bare || bare.parse::<i32>().ok() == Some(*number))
            .map(|(name, number)| Signal {
                name,
                number: *number,
            })
    }

    pub fn names() -> Vec<&'static str> {
        TABLE.iter().map(|(name, _)| *name).collect()
    }

    /// `TERM`
    pub fn name(self) -> &'static str {
        self.name
    }

    /// `SIGTERM`
    pub fn sig_name(self) -> String {
        format!("SIG{}", self.name)
    }

    pub fn number(self) -> i32 {
        self.number
    }

    /// What a shell or a JVM exits with when this signal ends it: 128 + the number.
    pub fn exit_code(self) -> u8 {
        (128 + self.number) as u8
    }

    pub fn to_nix(self) -> nix::sys::signal::Signal {
        nix::sys::signal::Signal::try_from(self.number).expect("table holds Linux signals")
    }
}

impl Serialize for Signal {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name)
    }
}

impl<'de> Deserialize<'de> for Signal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Signal::from_name(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown signal {text}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_spellings_people_use() {
        for text in ["TERM", "SIGTERM", "sigterm", "15", " term "] {
            assert_eq!(Signal::from_name(text), Some(Signal::TERM), "{text}");
        }
        assert_eq!(Signal::from_name("SIGBOGUS"), None);
        assert_eq!(Signal::from_name("0"), None);
    }

    #[test]
    fn the_exit_code_of_a_jvm_stopped_by_term_is_143() {
        assert_eq!(Signal::TERM.exit_code(), 143);
        assert_eq!(Signal::from_name("INT").unwrap().exit_code(), 130);
    }
}
