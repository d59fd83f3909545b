//! Where the library's words go. The library prints nothing itself: every line a verb wants a
//! person to see goes to the [`Reporter`] in its [`Ctx`](crate::system::host::Ctx), which the
//! command line fills with one that prints, and a program using the crate with one of its own
//! (or [`Silent`]).

/// Receives what the library has to say, by kind, so the caller decides where each goes.
pub trait Reporter: Send + Sync {
    /// What a verb did: "installed web", "enabled at boot: ...". Progress a person may silence.
    fn say(&self, line: &str);
    /// What a verb was asked to show: a `--dry-run`'s plan and diffs. Never silenced.
    fn output(&self, text: &str);
    /// Something that went wrong without failing the command, or a failure's details (the last
    /// log lines of a service that did not become ready).
    fn warn(&self, line: &str);
    /// A manager command about to run (`systemctl daemon-reload`): shown by `-v`.
    fn command(&self, line: &str);
    /// `--wait` is still waiting for `service`: what it waits for now, and for how long.
    fn waiting(&self, _service: &str, _what: &str, _elapsed: std::time::Duration) {}
    /// The wait is over (either way): whatever `waiting` drew can go.
    fn waited(&self) {}
}

/// Says nothing: the default for programs that use the crate as a library.
pub struct Silent;

impl Reporter for Silent {
    fn say(&self, _: &str) {}
    fn output(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn command(&self, _: &str) {}
}
