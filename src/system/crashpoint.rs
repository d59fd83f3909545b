//! Labelled points in install and uninstall where a crash test may stop svc-any.
//!
//! With `SVC_ANY_CRASH_AT=LABEL` in the environment, svc-any kills itself with SIGKILL when it
//! reaches LABEL, exactly as a power cut or an OOM kill would. `LABEL#N` dies at the Nth time
//! the label is reached instead of the first, so a test can stop before the rename of each file
//! of an install, the record's included. Tests use it to prove that no point leaves a
//! half-written file and that running the command again converges.

use std::sync::atomic::{AtomicU32, Ordering};

/// How often any label was reached in this process; a command passes one label at most a few
/// times, and only the count of the label asked for matters.
static REACHED: AtomicU32 = AtomicU32::new(0);

/// Dies here if the test environment asks for it; otherwise does nothing.
pub fn reached(label: &str) {
    let Some(want) = std::env::var_os("SVC_ANY_CRASH_AT") else {
        return;
    };
    let want = want.to_string_lossy();
    let (want_label, nth) = match want.split_once('#') {
        Some((l, n)) => (l, n.parse::<u32>().unwrap_or(1)),
        None => (want.as_ref(), 1),
    };
    if want_label != label {
        return;
    }
    if REACHED.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
