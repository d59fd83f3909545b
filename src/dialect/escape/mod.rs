//! One escaper per target dialect.
//!
//! Each function takes the exact string the process must see and returns the text that the
//! target's own parser turns back into that string, or an [`Unrepresentable`] error for a byte the
//! dialect cannot carry. Escapers never guess and never drop a byte: an error becomes exit 2 with
//! the key named, before anything is written.

pub mod plist;
pub mod sh;
pub mod supervisord;
pub mod systemd;

use std::fmt;

/// Why a value cannot be written in a dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unrepresentable {
    /// A NUL byte: C strings end there.
    Nul,
    /// A control character in a value the dialect reads raw (no escapes).
    Control(char),
    /// A trailing backslash in a raw value: the parser would join the next line to it.
    TrailingBackslash,
    /// Leading or trailing white space in a raw value: the parser strips it.
    EdgeWhitespace,
    /// Longer than the parser's line limit.
    TooLong(usize),
    /// An empty value, which the dialect reads as "reset to the default".
    Empty,
    /// A character the dialect forbids in a program path even when escaped.
    UnsafeInPath(char),
    /// A Unicode noncharacter, which the manager's strict UTF-8 check rejects.
    NotStrictUtf8,
    /// A character outside XML 1.0's `Char` production (U+FFFE, U+FFFF).
    NotXmlChar(char),
    /// `;` or `#` after white space, where an INI parser cuts the line (supervisord).
    InlineComment(char),
    /// Text that the manager replaces before it reads anything else (supervisord's
    /// `%(here)s`), which no escape protects.
    Replaced(&'static str),
}

impl fmt::Display for Unrepresentable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unrepresentable::Nul => write!(f, "holds a NUL byte, which no process can receive"),
            Unrepresentable::Control(c) => write!(
                f,
                "holds the control character {:?}, which this setting cannot carry",
                c
            ),
            Unrepresentable::TrailingBackslash => {
                write!(
                    f,
                    "ends in a backslash, which the manager reads as a line continuation"
                )
            }
            Unrepresentable::EdgeWhitespace => {
                write!(
                    f,
                    "starts or ends with white space, which the manager strips"
                )
            }
            Unrepresentable::TooLong(n) => write!(
                f,
                "is {n} bytes long, more than the manager reads on one line"
            ),
            Unrepresentable::Empty => write!(
                f,
                "is empty, which the manager reads as \"use the default\""
            ),
            Unrepresentable::UnsafeInPath(c) => write!(
                f,
                "holds {c:?}, which the manager refuses in a program path"
            ),
            Unrepresentable::NotStrictUtf8 => {
                write!(f, "holds a Unicode noncharacter (U+FDD0..U+FDEF or U+xFFFE/U+xFFFF), which the manager rejects")
            }
            Unrepresentable::NotXmlChar(c) => {
                write!(f, "holds {c:?}, which no XML document can carry")
            }
            Unrepresentable::InlineComment(c) => write!(
                f,
                "holds {c:?} after white space, where the manager's parser cuts the line as a comment"
            ),
            Unrepresentable::Replaced(what) => write!(
                f,
                "holds `{what}`, which the manager replaces before any escape is read"
            ),
        }
    }
}

impl std::error::Error for Unrepresentable {}
