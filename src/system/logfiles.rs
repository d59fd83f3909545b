//! Log files a service writes itself (`log.file`), one per instance, and reading them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::model::spec::{Service, INSTANCE_PLACEHOLDER};
use crate::system::host::Ctx;
use crate::system::process;

/// How `logs` should read.
#[derive(Debug, Clone, Copy)]
pub struct LogOptions {
    pub follow: bool,
    pub lines: usize,
}

/// The log files of a service whose output goes to `log.file` (one per instance).
pub fn log_files(service: &Service, file: &str) -> Vec<PathBuf> {
    service
        .instance_names()
        .into_iter()
        .map(|i| {
            PathBuf::from(match i {
                Some(i) => file.replace(INSTANCE_PLACEHOLDER, i),
                None => file.to_string(),
            })
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Shows the end of log files, following them with `-f`.
pub fn tail_files(ctx: &Ctx, files: &[PathBuf], options: LogOptions) -> Result<i32> {
    // A service that never ran has no log yet: say so, rather than pass on tail's complaint
    // (with -f, tail waits for the file to appear, which is what a follower wants).
    if !options.follow && !files.iter().any(|f| f.exists()) {
        ctx.warn(format!(
            "no output yet: {} does not exist (the service has not run since it was installed)",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(0);
    }
    let mut cmd = process::tool("tail")?;
    cmd.args(["-n", &options.lines.to_string()]);
    if options.follow {
        cmd.arg("-F");
    }
    cmd.arg("--").args(files);
    ctx.run_attached(&mut cmd)
}
