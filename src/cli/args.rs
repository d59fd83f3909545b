//! What the command line accepts, as clap parses it. Nothing here acts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "svc-any",
    version,
    about = "One service definition, every init system",
    max_term_width = 100
)]
pub struct Cli {
    /// Use this backend instead of the detected one.
    #[arg(long, global = true, env = "SVC_ANY_BACKEND", value_name = "NAME")]
    pub backend: Option<String>,
    /// Act on the invoking user's own service manager.
    #[arg(long, global = true)]
    pub user: bool,
    /// Print only errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Print the manager commands svc-any runs.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Templates here (NAME.tera) replace the built-in ones.
    #[arg(long, global = true, env = "SVC_ANY_TEMPLATE_DIR", value_name = "DIR")]
    pub template_dir: Option<PathBuf>,
    /// Detect from this directory instead of / (for tests of detection).
    #[arg(long, global = true, env = "SVC_ANY_PROBE_ROOT", hide = true)]
    pub probe_root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Which backend runs here, and why.
    Detect {
        /// Print every probe and its answer.
        #[arg(long)]
        explain: bool,
        #[arg(long)]
        json: bool,
    },
    /// Print every file install would write. Changes nothing; needs no root.
    Render(Definition),
    /// Write the native files atomically, reload the manager, enable at boot.
    Install {
        #[command(flatten)]
        definition: Definition,
        /// Start the service after installing it.
        #[arg(long)]
        start: bool,
        /// With --start: wait until healthy (or up and stable), at most SECS.
        #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "default", value_parser = parse_wait)]
        wait: Option<Wait>,
        /// Do not enable at boot.
        #[arg(long)]
        no_enable: bool,
        /// Overwrite files svc-any did not write.
        #[arg(long)]
        force: bool,
        /// Show what would change, as a diff; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write below DIR (an image or package tree) and call no manager.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Stop, disable and remove exactly what svc-any wrote.
    Uninstall {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long)]
        dry_run: bool,
        /// Also the service's log files and every state svc-any kept for it.
        #[arg(long)]
        purge: bool,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Start services.
    Start(ControlArgs),
    /// Stop services.
    Stop(ControlArgs),
    /// Restart services.
    Restart(ControlArgs),
    /// Send services their reload_signal.
    Reload(ControlArgs),
    /// Restart the services that run; leave the others stopped.
    TryRestart(ControlArgs),
    /// Converge on the intended state: start what is enabled at boot, stop what is not.
    Reset(ControlArgs),
    /// Package maintainer scripts: `svc-any hook deb postinst NAME -- "$@"`.
    #[command(subcommand)]
    Hook(super::hook::HookCommand),
    /// Validate a definition and render it for every backend, for package builds.
    Check(super::check::CheckArgs),
    /// Start at boot.
    Enable {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Do not start at boot.
    Disable {
        #[arg(required = true)]
        names: Vec<String>,
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// State of services (all svc-any manages, when none are named). Exit code as LSB.
    Status {
        names: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Show a service's output.
    Logs {
        name: String,
        /// Keep following.
        #[arg(short, long)]
        follow: bool,
        /// How many lines.
        #[arg(short = 'n', long, default_value_t = 50)]
        lines: usize,
    },
    /// An installed service: its definition, the files svc-any wrote, what the manager says.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Services svc-any manages here.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run the builtin supervisor (the CLI starts it on demand; a container may run it as PID 1).
    Supervisor {
        /// Stay attached: log to stderr, keep running with no services (a container's PID 1).
        #[arg(long)]
        foreground: bool,
        #[arg(long, hide = true, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        #[arg(long, hide = true, value_name = "DIR")]
        runtime_dir: Option<PathBuf>,
        /// Write one byte here once the socket accepts (used by the CLI).
        #[arg(long, hide = true, value_name = "FD")]
        ready_fd: Option<i32>,
    },
}

/// Where a definition comes from: a name, a file, or the quick form after `--`.
#[derive(Args, Debug)]
pub struct Definition {
    /// Service (or group) name.
    pub name: Option<String>,
    /// Definition file (NAME.toml or svc-any.toml).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Quick form: run as this user.
    #[arg(long, value_name = "USER")]
    pub user_name: Option<String>,
    /// Quick form: environment variable (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Quick form: working directory.
    #[arg(long, value_name = "DIR")]
    pub workdir: Option<String>,
    /// Quick form: restart policy (no, on-failure, always).
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Quick form: the program (absolute path) and its arguments.
    #[arg(last = true, value_name = "PROGRAM ARGS")]
    pub argv: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ControlArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// Wait until healthy (or up and stable), at most SECS (start and restart).
    #[arg(long, value_name = "SECS", num_args = 0..=1, require_equals = true, default_missing_value = "default", value_parser = parse_wait)]
    pub wait: Option<Wait>,
}

/// `--wait` (the definition's health timeout, else the default) or `--wait=SECS`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    Default,
    Seconds(Duration),
}

impl Wait {
    /// What the engine takes: `None` for the definition's own timeout.
    pub fn limit(self) -> Option<Duration> {
        match self {
            Wait::Default => None,
            Wait::Seconds(d) => Some(d),
        }
    }
}

fn parse_wait(text: &str) -> Result<Wait, String> {
    if text == "default" {
        return Ok(Wait::Default);
    }
    text.parse::<f64>()
        .ok()
        .filter(|n| *n >= 0.0 && n.is_finite())
        .map(|n| Wait::Seconds(Duration::from_secs_f64(n)))
        .ok_or_else(|| {
            format!("`{text}` is not a number of seconds (e.g. --wait=30, or --wait alone)")
        })
}
