//! svc-any: one service definition, every init system.
//!
//! The front end ([`cli`]) reads a definition ([`spec`]), finds the host's init system
//! ([`detect`]), and hands both to the install engine ([`engine`]), which asks a backend
//! ([`backends`], one module per init system behind one trait) for the native files and drives
//! the native manager. Backends render through [`render`] with one escaper per dialect
//! ([`escape`]) and report through one status model ([`status`]).

use std::sync::atomic::{AtomicBool, Ordering};

pub mod accounts;
#[path = "../backends/mod.rs"]
pub mod backends;
pub mod cli;
pub mod crashpoint;
pub mod detect;
pub mod duration;
pub mod engine;
pub mod error;
pub mod escape;
pub mod fsutil;
pub mod health;
pub mod host;
pub mod process;
pub mod render;
pub mod signal;
pub mod spec;
pub mod state;
pub mod status;
pub mod supervisor;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static QUIET: AtomicBool = AtomicBool::new(false);

/// `-v`: say which manager commands run.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// `-q`: print only errors.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub fn set_output(verbose: bool, quiet: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
    QUIET.store(quiet, Ordering::Relaxed);
}
