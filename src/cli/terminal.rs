//! What the command line says to a person: the reporter that prints what was done, warnings
//! and `--wait`'s progress, and whether stdout is a terminal that takes colors.

use crate::system::report::Reporter;

/// The reporter of the command line: what was done on stdout (unless `-q`), warnings on
/// stderr, manager commands on stderr with `-v`; `--wait`'s progress as one redrawn line on
/// a terminal, else one line each time what it waits for changes.
pub(super) struct Terminal {
    quiet: bool,
    verbose: bool,
    /// stderr is a terminal: progress redraws one line.
    interactive: bool,
    /// The progress line last shown (what, and when it was drawn).
    progress: std::sync::Mutex<Option<(String, std::time::Instant)>>,
}

impl Terminal {
    pub(super) fn new(quiet: bool, verbose: bool) -> Terminal {
        use std::io::IsTerminal;
        Terminal {
            quiet,
            verbose,
            interactive: std::io::stderr().is_terminal(),
            progress: std::sync::Mutex::new(None),
        }
    }
}

impl Reporter for Terminal {
    fn say(&self, line: &str) {
        if !self.quiet {
            println!("{line}");
        }
    }

    fn output(&self, text: &str) {
        println!("{text}");
    }

    fn warn(&self, line: &str) {
        eprintln!("svc-any: {line}");
    }

    fn command(&self, line: &str) {
        if self.verbose {
            eprintln!("svc-any: running {line}");
        }
    }

    fn waiting(&self, service: &str, what: &str, elapsed: std::time::Duration) {
        if self.quiet {
            return;
        }
        let line = format!("waiting for {service}: {what}");
        let mut last = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if self.interactive {
            // Redraw at most ten times a second: a spinner, the service, the check, the time.
            if last
                .as_ref()
                .is_some_and(|(_, drawn)| drawn.elapsed() < std::time::Duration::from_millis(100))
            {
                return;
            }
            const SPIN: [char; 4] = ['|', '/', '-', '\\'];
            let spin = SPIN[(elapsed.as_millis() / 100) as usize % SPIN.len()];
            eprint!("\r\x1b[2K{spin} {line} ({:.1}s)", elapsed.as_secs_f64());
            *last = Some((line, std::time::Instant::now()));
        } else if last.as_ref().map(|(l, _)| l) != Some(&line) {
            eprintln!("svc-any: {line} ({:.1}s)", elapsed.as_secs_f64());
            *last = Some((line, std::time::Instant::now()));
        }
    }

    fn waited(&self) {
        let mut last = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        if self.interactive && last.is_some() {
            eprint!("\r\x1b[2K");
        }
        *last = None;
    }
}

/// Colors for a person at a terminal, unless `NO_COLOR` (no-color.org) says otherwise.
pub(super) fn color_stdout() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
