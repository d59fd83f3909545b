//! Log files a service writes itself (`log.file`), one per instance, and reading them.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::model::spec::{Service, INSTANCE_PLACEHOLDER};
use crate::system::host::Ctx;
use crate::system::process;

/// How `logs` should read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub lines: usize,
    /// Only what was logged at or after this time (seconds since the epoch), where the log
    /// keeps times (the journal).
    pub since: Option<u64>,
}

/// Where a service's log files end at one moment, so that what it says afterwards can be told
/// from what an earlier service of the same name said (`--wait`'s failure shows only the new).
#[derive(Debug, Clone, Default)]
pub struct LogMark {
    files: Vec<(PathBuf, u64)>,
    /// The moment, in seconds since the epoch, for logs that keep times.
    pub since: u64,
}

impl LogMark {
    pub fn take(files: &[PathBuf]) -> LogMark {
        LogMark {
            files: files
                .iter()
                .map(|f| (f.clone(), std::fs::metadata(f).map_or(0, |m| m.len())))
                .collect(),
            since: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// Whether the service's output goes to files (else to the manager's journal).
    pub fn has_files(&self) -> bool {
        !self.files.is_empty()
    }

    /// The last `n` lines written to the files since the mark (all of a file that shrank: it
    /// was rotated or replaced).
    pub fn lines_since(&self, n: usize) -> Vec<String> {
        use std::io::{Read, Seek, SeekFrom};
        let mut lines = Vec::new();
        for (file, offset) in &self.files {
            let Ok(mut f) = std::fs::File::open(file) else {
                continue;
            };
            let len = f.metadata().map_or(0, |m| m.len());
            let from = if len >= *offset { *offset } else { 0 };
            let mut bytes = Vec::new();
            if f.seek(SeekFrom::Start(from)).is_ok() && f.read_to_end(&mut bytes).is_ok() {
                lines.extend(String::from_utf8_lossy(&bytes).lines().map(String::from));
            }
        }
        let skip = lines.len().saturating_sub(n);
        lines.split_off(skip)
    }
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

/// The last lines of several services' log files, each prefixed with its service (`web | ...`),
/// then, with `follow`, what they write next, as it comes. A file that shrinks was rotated:
/// it is read again from its start.
pub fn show_prefixed(ctx: &Ctx, sources: &[(String, PathBuf)], options: LogOptions) -> Result<i32> {
    use std::io::{Read, Seek, SeekFrom};
    let width = sources.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut offsets: Vec<u64> = Vec::with_capacity(sources.len());
    for (name, file) in sources {
        let text = std::fs::read(file).unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let lines: Vec<&str> = text.lines().collect();
        for line in &lines[lines.len().saturating_sub(options.lines)..] {
            ctx.report.output(&format!("{name:<width$} | {line}"));
        }
        offsets.push(text.len() as u64);
    }
    if !options.follow {
        return Ok(0);
    }
    let mut partial: Vec<Vec<u8>> = vec![Vec::new(); sources.len()];
    loop {
        for (i, (name, file)) in sources.iter().enumerate() {
            let Ok(mut f) = std::fs::File::open(file) else {
                continue;
            };
            let len = f.metadata().map_or(0, |m| m.len());
            if len < offsets[i] {
                offsets[i] = 0;
                partial[i].clear();
            }
            if len == offsets[i] || f.seek(SeekFrom::Start(offsets[i])).is_err() {
                continue;
            }
            let mut bytes = Vec::new();
            if f.read_to_end(&mut bytes).is_err() {
                continue;
            }
            offsets[i] += bytes.len() as u64;
            partial[i].extend_from_slice(&bytes);
            while let Some(end) = partial[i].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial[i].drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..line.len() - 1]);
                ctx.report.output(&format!("{name:<width$} | {line}"));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
