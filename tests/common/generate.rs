//! Adversarial strings for the fidelity tests: argv elements, environment values, raw values and
//! paths built from the characters that break quoting somewhere (a shell's `' " \ $ \``, systemd's
//! `%` and `\x`, TOML's escapes, word splitting on spaces and tabs, globbing, `;` and `&`),
//! option-looking words, the empty string, multi-byte UTF-8 and 4-16 KiB values.
//!
//! The strategies serve proptest (which shrinks a failure to a small case); [`sample`] draws a
//! seeded corpus from the same strategies for tests that batch hundreds of cases into one run
//! of a real manager, where shrinking one at a time is not practical. The seed is fixed so CI
//! sees the same cases every run; `SVC_ANY_SEED=N` explores others.

use std::collections::BTreeMap;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// One character each that some dialect reads as syntax.
pub const SPECIALS: &[char] = &[
    ' ', '\'', '"', '\\', '$', '%', '`', ';', '&', '|', '<', '>', '*', '?', '~', '#', '!', '{',
    '}', '(', ')', '[', ']', '=', '-', ':', ',', '@', '^', '+', '/', '.',
];

/// Words with a meaning of their own to a shell, systemd or a program's option parser.
pub const WORDS: &[&str] = &[
    "",
    "-",
    "--",
    "-x",
    "--flag=value",
    "=",
    "==",
    "a=b",
    "$HOME",
    "${HOME}",
    "${X:-y}",
    "$(id)",
    "`id`",
    "$$",
    "$1",
    "$@",
    "$*",
    "%",
    "%i",
    "%n",
    "%%",
    "%%i",
    "\\",
    "\\\\",
    "\\n",
    "\\x41",
    "\\\"",
    "\\'",
    "'",
    "''",
    "'\\''",
    "\"",
    "\"\"",
    ";",
    "&&",
    "||",
    "|",
    "*",
    "~",
    "~root",
    "#",
    "!",
    "{a,b}",
    "[!a]",
    "<<EOF",
    "2>&1",
    "true;",
    "SVC_ANY_EOF",
];

/// Text beyond ASCII: accents, CJK, a 4-byte emoji, combining marks, bidirectional and
/// invisible characters, and the Unicode white space a naive trim would eat.
pub const TEXT: &[&str] = &[
    "é",
    "wörld",
    "ß",
    "✓",
    "日本語",
    "🦀",
    "e\u{301}",
    "Ω",
    "\u{a0}",
    "\u{2028}",
    "\u{202e}",
    "\u{200b}",
    "\u{feff}",
    "\u{fffd}",
    "\u{3000}",
    "\u{10fffd}",
];

/// Control characters: representable in an argument or environment value, but not in a
/// setting read raw.
pub const CONTROLS: &[char] = &[
    '\t', '\n', '\r', '\u{1b}', '\u{7f}', '\u{1}', '\u{85}', '\u{9b}',
];

/// Whether systemd's strict UTF-8 check refuses `c` (a Unicode noncharacter).
pub fn is_noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE
}

/// One fragment of a value; `controls` allows control characters (tab, newline, ESC...),
/// `noncharacters` Unicode noncharacters (which only systemd cannot carry).
fn piece(controls: bool, noncharacters: bool) -> BoxedStrategy<String> {
    let any_char = any::<char>()
        .prop_filter("carriable everywhere", move |c| {
            *c != '\0' && (noncharacters || !is_noncharacter(*c)) && (controls || !c.is_control())
        })
        .prop_map(String::from);
    let mut options: Vec<(u32, BoxedStrategy<String>)> = vec![
        (6, select(SPECIALS).prop_map(String::from).boxed()),
        (4, select(WORDS).prop_map(String::from).boxed()),
        (4, "[a-zA-Z0-9_]{1,6}".boxed()),
        (2, select(TEXT).prop_map(String::from).boxed()),
        (1, any_char.boxed()),
    ];
    if controls {
        options.push((2, select(CONTROLS).prop_map(String::from).boxed()));
    }
    if noncharacters {
        options.push((1, noncharacter().prop_map(String::from).boxed()));
    }
    Union::new_weighted(options).boxed()
}

fn joined(controls: bool, pieces: std::ops::Range<usize>) -> BoxedStrategy<String> {
    joined_with(controls, false, pieces)
}

fn joined_with(
    controls: bool,
    noncharacters: bool,
    pieces: std::ops::Range<usize>,
) -> BoxedStrategy<String> {
    vec(piece(controls, noncharacters), pieces)
        .prop_map(|p| p.concat())
        .boxed()
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn cut(mut s: String, max: usize) -> String {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// A value of 4-16 KiB: a generated stretch repeated, so quoting is exercised at every length.
fn long(controls: bool, noncharacters: bool) -> BoxedStrategy<String> {
    (
        joined_with(controls, noncharacters, 4..24),
        4096usize..=16384,
    )
        .prop_map(|(unit, len)| {
            let unit = if unit.is_empty() {
                "x".to_string()
            } else {
                unit
            };
            cut(unit.repeat(len / unit.len() + 1), len)
        })
        .boxed()
}

/// An argument or environment value every backend carries: anything but NUL and Unicode
/// noncharacters (systemd refuses those), including control characters, the empty string
/// and, one time in twenty, 4-16 KiB.
pub fn value() -> BoxedStrategy<String> {
    prop_oneof![19 => joined(true, 0..8), 1 => long(true, false)].boxed()
}

/// Anything a process can receive (all but NUL): [`value`] plus Unicode noncharacters, for
/// the dialects that carry them (shell words, TOML).
pub fn any_value() -> BoxedStrategy<String> {
    prop_oneof![19 => joined_with(true, true, 0..8), 1 => long(true, true)].boxed()
}

/// A value systemd reads raw (Description=, WorkingDirectory=...): no control characters, no
/// white space at either end (systemd strips it), no trailing backslash (a continuation), not
/// empty.
pub fn line() -> BoxedStrategy<String> {
    prop_oneof![19 => joined(false, 1..8), 1 => long(false, false)]
        .prop_map(|s| {
            let s = s
                .trim_matches(char::is_whitespace)
                .trim_end_matches(['\\', ' '])
                .trim_end_matches(char::is_whitespace);
            if s.is_empty() {
                "x".to_string()
            } else {
                s.to_string()
            }
        })
        .boxed()
}

/// One directory name: no `/`, not `.` or `..`, at most 60 bytes (well under NAME_MAX).
fn component() -> BoxedStrategy<String> {
    joined(false, 1..5)
        .prop_map(|s| {
            let s = cut(s.replace('/', "_"), 60);
            match s.as_str() {
                "" | "." | ".." => "d".to_string(),
                _ => s,
            }
        })
        .boxed()
}

/// An absolute path every manager takes as written: no empty, `.` or `..` component (systemd
/// would simplify them), no control characters, and no white space or backslash at the end.
pub fn path() -> BoxedStrategy<String> {
    vec(component(), 1..4)
        .prop_map(|parts| {
            let mut p = format!("/{}", parts.join("/"));
            if p.ends_with(|c: char| c.is_whitespace() || c == '\\') {
                p.push('z');
            }
            p
        })
        .boxed()
}

/// An environment variable name (the spec takes `[A-Za-z_][A-Za-z0-9_]*`); the prefix keeps
/// clear of names a manager sets itself.
pub fn env_name() -> BoxedStrategy<String> {
    "F_[A-Za-z0-9_]{0,10}".boxed()
}

/// What one generated service should receive.
#[derive(Debug, Clone)]
pub struct ServiceCase {
    pub args: Vec<String>,
    pub env: BTreeMap<String, String>,
    /// Relative to a directory the test chooses, starting with `/`.
    pub working_dir: String,
}

/// A service's arguments (up to 24), environment (up to 8 values) and working directory;
/// `noncharacters` for a backend that carries them.
pub fn service_case(noncharacters: bool) -> BoxedStrategy<ServiceCase> {
    let value = if noncharacters { any_value() } else { value() };
    (
        vec(value.clone(), 0..24),
        btree_map(env_name(), value, 0..8),
        path(),
    )
        .prop_map(|(args, env, working_dir)| ServiceCase {
            args,
            env,
            working_dir,
        })
        .boxed()
}

/// A character no backend can carry (NUL), or one systemd cannot (a noncharacter).
pub fn noncharacter() -> BoxedStrategy<char> {
    prop_oneof![
        (0xFDD0u32..=0xFDEF).prop_map(|n| char::from_u32(n).unwrap()),
        (0u32..=16, any::<bool>())
            .prop_map(
                |(plane, last)| char::from_u32((plane << 16) | 0xFFFE | u32::from(last)).unwrap()
            ),
    ]
    .boxed()
}

/// The seed of this run: `SVC_ANY_SEED`, else a fixed one.
pub fn seed() -> u64 {
    std::env::var("SVC_ANY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_f1de)
}

/// A proptest runner for `cases` cases, seeded by [`seed`] plus `salt` (so two tests with the
/// same seed still draw different cases), with no regression files (the seed reproduces).
pub fn runner(cases: u32, salt: u64) -> TestRunner {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed().to_le_bytes());
    bytes[8..16].copy_from_slice(&salt.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}

/// `n` values drawn from `strategy`, the same for the same seed and salt.
pub fn sample<T: std::fmt::Debug>(
    strategy: impl Strategy<Value = T>,
    n: usize,
    salt: u64,
) -> Vec<T> {
    let mut runner = runner(1, salt);
    (0..n)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}
