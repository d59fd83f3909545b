//! Labelled points in install and uninstall where a crash test may stop svc-any.
//!
//! With `SVC_ANY_CRASH_AT=LABEL` in the environment, svc-any kills itself with SIGKILL when it
//! reaches LABEL, exactly as a power cut or an OOM kill would. Tests use it to prove that no point
//! leaves a half-written file and that running the command again converges.

/// Dies here if the test environment asks for it; otherwise does nothing.
pub fn reached(label: &str) {
    if std::env::var_os("SVC_ANY_CRASH_AT").is_some_and(|want| want == label) {
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
}
