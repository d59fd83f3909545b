//! Exit-code classes of DESIGN.md.
//!
//! Everything that goes wrong is an `anyhow::Error`; what decides the exit code is whether a
//! [`BadInput`] sits in its chain. Bad input (usage, spec, name) exits 2 and is always detected
//! before anything on disk changes; every other failure exits 1.

use std::fmt;

/// Exit code for success.
pub const EXIT_OK: i32 = 0;
/// Exit code for an operation that failed (the manager refused, a file could not be written...).
pub const EXIT_FAILED: i32 = 1;
/// Exit code for bad input: nothing was changed.
pub const EXIT_BAD_INPUT: i32 = 2;

/// An error in what the user gave us: a spec key, a name, a flag. Carries the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadInput {
    /// Where: `file:line:col` when known, else the flag or key.
    pub location: Option<String>,
    /// The key (`exec`, `env.FOO`, `restart_delay`) the message is about, if any.
    pub key: Option<String>,
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl BadInput {
    pub fn new(message: impl Into<String>) -> Self {
        BadInput {
            location: None,
            key: None,
            message: message.into(),
            hint: None,
        }
    }

    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub fn at(mut self, location: impl Into<String>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "`{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for BadInput {}

/// Shorthand: `return Err(bad("...").key("exec").into())`.
pub fn bad(message: impl Into<String>) -> BadInput {
    BadInput::new(message)
}

/// The exit code an error maps to.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err.chain().any(|cause| cause.is::<BadInput>()) {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILED
    }
}
