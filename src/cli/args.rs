//! What the command line accepts, as clap parses it. Nothing here acts.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::snippets::Format;

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
    #[command(after_help = "Examples:\n  svc-any detect --explain\n  svc-any detect --json")]
    Detect {
        /// Print every probe and its answer.
        #[arg(long)]
        explain: bool,
        /// Print the detection as JSON (backend, live, reason, distribution, probes).
        #[arg(long)]
        json: bool,
    },
    /// Print every file install would write. Changes nothing; needs no root.
    #[command(
        after_help = "Examples:\n  svc-any render demo\n  svc-any render -f svc-any.toml --backend openrc\n  svc-any render demo --for systemd@247"
    )]
    Render {
        #[command(flatten)]
        definition: Definition,
        /// Render for this manager and version (systemd@257), asking the host nothing; the
        /// manager is the backend unless --backend says otherwise.
        #[arg(long = "for", value_name = "MANAGER@VERSION")]
        for_version: Option<crate::model::manager_version::ManagerVersion>,
    },
    /// Write the native files atomically, reload the manager, enable at boot.
    #[command(
        after_help = "Examples:\n  svc-any install demo --start --wait\n  svc-any install api -- /usr/bin/api --port 8080\n  svc-any install -f svc-any.toml --dry-run"
    )]
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
    #[command(
        after_help = "Examples:\n  svc-any uninstall demo\n  svc-any uninstall demo --purge"
    )]
    Uninstall {
        /// Services (or groups) to remove.
        #[arg(required = true)]
        names: Vec<String>,
        /// Show what would be removed; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Remove the service's logs too, and every state svc-any kept for it (a plain
        /// uninstall keeps logs, as journald does).
        #[arg(long)]
        purge: bool,
        /// Remove from the tree below DIR (an image or package tree); call no manager.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Start services (and wait until they are healthy with --wait).
    #[command(
        after_help = "Examples:\n  svc-any start demo --wait\n  svc-any start openim --wait=60"
    )]
    Start(ControlArgs),
    /// Stop services and check that their processes are gone.
    #[command(
        after_help = "Examples:\n  svc-any stop demo\n  svc-any stop demo --wait=5   # KILL whatever still runs after 5 s"
    )]
    Stop(ControlArgs),
    /// Restart services.
    #[command(after_help = "Example:\n  svc-any restart demo --wait")]
    Restart(ControlArgs),
    /// Send services their reload_signal.
    #[command(
        after_help = "Example:\n  svc-any reload nginx --wait   # and check it is still healthy"
    )]
    Reload(ControlArgs),
    /// Restart the services that run; leave the others stopped.
    TryRestart(ControlArgs),
    /// Converge on the intended state: start what is enabled at boot, stop what is not.
    Reset(ControlArgs),
    /// Package maintainer scripts: `svc-any hook deb postinst NAME -- "$@"`.
    #[command(subcommand)]
    Hook(HookCommand),
    /// Validate a definition and render it for every backend, for package builds.
    Check(CheckArgs),
    /// Start at boot.
    #[command(after_help = "Example:\n  svc-any enable demo")]
    Enable {
        /// Services (or groups) to enable.
        #[arg(required = true)]
        names: Vec<String>,
        /// Change the tree below DIR (an image or package tree); call no manager.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// Do not start at boot.
    #[command(after_help = "Example:\n  svc-any disable demo")]
    Disable {
        /// Services (or groups) to disable.
        #[arg(required = true)]
        names: Vec<String>,
        /// Change the tree below DIR (an image or package tree); call no manager.
        #[arg(long, value_name = "DIR")]
        root: Option<PathBuf>,
    },
    /// State of services (all svc-any manages, when none are named). Exit code as LSB.
    #[command(after_help = "Examples:\n  svc-any status\n  svc-any status demo --json")]
    Status {
        /// Services (or groups); none: every service svc-any manages here.
        names: Vec<String>,
        /// Print JSON: {\"schema\": 1, \"services\": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Show a service's output.
    #[command(
        after_help = "Examples:\n  svc-any logs demo -f\n  svc-any logs demo -n 200\n  svc-any logs demo --since '2h ago'\n  svc-any logs demo --since '2026-11-30 09:00' -f\n  svc-any logs openim -f   # every member, each line prefixed with its service"
    )]
    Logs {
        /// Services (or groups); with several, each line starts with its service's name.
        #[arg(required = true)]
        names: Vec<String>,
        /// Keep following.
        #[arg(short, long)]
        follow: bool,
        /// How many lines (default 50; with --since, every line since).
        #[arg(short = 'n', long)]
        lines: Option<usize>,
        /// Only lines written at or after TIME: RFC 3339 (2026-11-30T09:00:00Z), a local
        /// time (2026-11-30 09:00[:00]), or a time ago (10m, 2h ago). Refused where the log
        /// keeps no time (a manager writing a file as the service wrote it).
        #[arg(long, value_name = "TIME", value_parser = since_arg)]
        since: Option<u64>,
    },
    /// An installed service: its definition, the files svc-any wrote, what the manager says.
    #[command(after_help = "Example:\n  svc-any show demo --json")]
    Show {
        /// The service (or group).
        name: String,
        /// Print JSON: {\"schema\": 1, \"services\": [{definition, files, status...}]}.
        #[arg(long)]
        json: bool,
    },
    /// A systemd unit (or every unit of a directory) as a definition on stdout: lossless, or
    /// refused (exit 2) with every setting it cannot carry and its line.
    Import {
        /// A `.service` file, or a directory of them.
        path: PathBuf,
        /// For a template unit (`NAME@.service`): the instances svc-any is to run.
        #[arg(long, value_delimiter = ',', value_name = "A,B")]
        instances: Vec<String>,
    },
    /// Services svc-any manages here.
    #[command(after_help = "Example:\n  svc-any list --json")]
    List {
        /// Print JSON: {\"schema\": 1, \"services\": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(
        after_help = "Example:\n  svc-any completions bash > /etc/bash_completion.d/svc-any"
    )]
    Completions { shell: clap_complete::Shell },
    /// Print the manual page (roff).
    #[command(after_help = "Example:\n  svc-any man > /usr/local/share/man/man1/svc-any.1")]
    Man,
    /// Print the services as Kubernetes manifests or a compose file. Changes nothing; needs no root.
    #[command(
        after_help = "Examples:\n  svc-any export kubernetes -f svc-any.toml openim -o k8s/\n  svc-any export compose -f svc-any.toml > compose.yaml"
    )]
    Export {
        /// kubernetes or compose.
        #[arg(value_enum)]
        target: ExportTarget,
        /// Services or groups to export (all in the file, when none are named).
        names: Vec<String>,
        /// Definition file (else ./NAME.toml, ./svc-any.toml, /etc/svc-any/NAME.toml).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        /// Write DIR/kubernetes.yaml or DIR/compose.yaml instead of printing.
        #[arg(short = 'o', long = "output", value_name = "DIR")]
        output: Option<PathBuf>,
    },
    /// Run the builtin supervisor (the CLI starts it on demand; a container may run it as PID 1).
    #[command(
        after_help = "Examples:\n  svc-any supervisor --foreground        # a container's entrypoint\n  @reboot svc-any supervisor --boot      # a crontab line, on a host with no init"
    )]
    Supervisor {
        /// Stay attached: log to stderr, keep running with no services (a container's PID 1).
        /// Starts every enabled service, as at boot.
        #[arg(long)]
        foreground: bool,
        /// Start every enabled service, as at boot (for an `@reboot` crontab line); without it
        /// a supervisor brings back only what was started and not stopped since.
        #[arg(long)]
        boot: bool,
        #[arg(long, hide = true, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        #[arg(long, hide = true, value_name = "DIR")]
        runtime_dir: Option<PathBuf>,
        /// Write one byte here once the socket accepts (used by the CLI).
        #[arg(long, hide = true, value_name = "FD")]
        ready_fd: Option<i32>,
    },
}

/// What `export` writes.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportTarget {
    Kubernetes,
    Compose,
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
    /// Services (or groups).
    #[arg(required = true)]
    pub names: Vec<String>,
    /// start/restart/reload: wait until healthy (or up and stable), at most SECS; stop: KILL
    /// what still runs after SECS. Without SECS: the health timeout, else 30 s.
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

/// `--since TIME`, read at once: a time clap refuses is bad input before anything is asked.
fn since_arg(text: &str) -> Result<u64, String> {
    crate::system::since::parse_since(text, std::time::SystemTime::now())
}

/// `svc-any check`: a packager's definition against every backend.
#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The definition (NAME.toml, or svc-any.toml for several services).
    pub file: PathBuf,
    /// The package's tree (e.g. debian/pkdemo): programs, users and groups are looked for
    /// there first.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Leave out a backend the package never runs under (repeatable).
    #[arg(long, value_name = "BACKEND")]
    pub skip: Vec<String>,
}

/// `svc-any hook`: what a maintainer script or scriptlet passes on.
#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// From a Debian maintainer script: `svc-any hook deb postinst NAME... -- "$@"`.
    Deb {
        /// The script that calls.
        script: DebScript,
        /// The definition (postinst only; default /etc/svc-any/NAME.toml).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(required = true)]
        names: Vec<String>,
        /// The script's own arguments ("$@").
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// From an RPM scriptlet: `svc-any hook rpm post NAME... -- "$1"`.
    Rpm {
        /// The scriptlet that calls.
        scriptlet: RpmScriptlet,
        /// The definition (%post only; default /etc/svc-any/NAME.toml).
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<PathBuf>,
        #[arg(required = true)]
        names: Vec<String>,
        /// The scriptlet's "$1": how many versions of the package are installed after it.
        #[arg(last = true, value_name = "COUNT")]
        args: Vec<String>,
    },
    /// Print the maintainer-script fragments that call these hooks, to paste.
    Snippets {
        format: Format,
        #[arg(required = true)]
        names: Vec<String>,
        /// The definition the postinst (%post) installs, if not /etc/svc-any/NAME.toml.
        #[arg(short = 'f', long = "file", value_name = "FILE")]
        file: Option<String>,
        /// Only this script's fragment (postinst, prerm, postrm; post, preun, postun).
        #[arg(long, value_name = "SCRIPT")]
        script: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DebScript {
    Postinst,
    Prerm,
    Postrm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RpmScriptlet {
    Post,
    Preun,
    Postun,
}
