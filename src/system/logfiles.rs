//! Log files a service writes itself (`log.file`), one per instance, and reading them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Result;

use crate::model::spec::{Service, INSTANCE_PLACEHOLDER};
use crate::system::host::Ctx;
use crate::system::process;

/// How `logs` should read.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogOptions {
    pub follow: bool,
    pub lines: usize,
    /// Only what was logged at or after this time (seconds since the epoch): asked of the
    /// journal, or read from the stamp of each line of svc-any's supervisor's files. A backend
    /// whose lines carry no time is never asked (see `Backend::log_times`).
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

/// The files a service's stderr goes to when `log.stderr` keeps it apart (one per instance).
pub fn stderr_files(service: &Service) -> Vec<PathBuf> {
    match service.log.as_ref().and_then(|l| l.stderr.as_ref()) {
        Some(file) => log_files(service, file),
        None => Vec::new(),
    }
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
    if options.since.is_some() {
        let sources: Vec<(String, PathBuf)> =
            files.iter().map(|f| (String::new(), f.clone())).collect();
        return show(ctx, &sources, false, options);
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
    show(ctx, sources, true, options)
}

/// The lines of `file` (and of its rotated copies before it) stamped at or after `since`,
/// each with its stamp, which sorts as the time it names; and how far the live file was read,
/// where following goes on. A line without a stamp (written by hand, or before stamps) goes
/// with the line before it; one before any stamp is older than anything asked for.
fn lines_since(file: &Path, since: u64) -> (Vec<(String, String)>, u64) {
    let live = std::fs::read(file).unwrap_or_default();
    let read_to = live.len() as u64;
    let mut texts: Vec<Vec<u8>> = rotated(file)
        .iter()
        .filter_map(|f| std::fs::read(f).ok())
        .collect();
    texts.push(live);
    let mut lines = Vec::new();
    let mut current: Option<String> = None;
    for text in texts.iter().filter(|t| !t.is_empty()) {
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        for line in text.split(|b| *b == b'\n') {
            if let Some(t) = super::since::line_time(line) {
                current = (t >= since).then(|| String::from_utf8_lossy(&line[..27]).into_owned());
            }
            if let Some(stamp) = &current {
                lines.push((stamp.clone(), String::from_utf8_lossy(line).into_owned()));
            }
        }
    }
    (lines, read_to)
}

/// The last `n` lines of `files` stamped at or after `since`, in the order of their stamps,
/// each with the index of its file; and how far each live file was read.
fn merged_since(files: &[&Path], since: u64, n: usize) -> (Vec<(usize, String)>, Vec<u64>) {
    let mut all: Vec<(String, usize, String)> = Vec::new();
    let mut read_to = Vec::with_capacity(files.len());
    for (i, file) in files.iter().enumerate() {
        let (lines, end) = lines_since(file, since);
        all.extend(lines.into_iter().map(|(stamp, line)| (stamp, i, line)));
        read_to.push(end);
    }
    // Stable: a file's lines of one stamp keep their order.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    let skip = all.len().saturating_sub(n);
    let lines = all.into_iter().skip(skip).map(|(_, i, l)| (i, l)).collect();
    (lines, read_to)
}

/// The rotated copies of `file` (`FILE.N`), oldest (lowest N) first.
fn rotated(file: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (file.parent(), file.file_name()) else {
        return Vec::new();
    };
    let prefix = format!("{}.", name.to_string_lossy());
    let mut numbered: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n: u64 = e
                .file_name()
                .to_str()?
                .strip_prefix(&prefix)?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    numbered.sort();
    numbered.into_iter().map(|(_, p)| p).collect()
}

/// Shows the last lines of each source, or with `since` the lines since then (see
/// [`lines_since`]), each prefixed with its service if `prefixed`; then, with `follow`, what
/// each file gets next.
fn show(
    ctx: &Ctx,
    sources: &[(String, PathBuf)],
    prefixed: bool,
    options: LogOptions,
) -> Result<i32> {
    use std::io::{Read, Seek, SeekFrom};
    let width = sources.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let say = |name: &str, line: &str| match prefixed {
        true => ctx.report.output(&format!("{name:<width$} | {line}")),
        false => ctx.report.output(line),
    };
    let mut offsets: Vec<u64> = Vec::with_capacity(sources.len());
    match options.since {
        // The last lines of each file, file by file.
        None => {
            for (name, file) in sources {
                let live = std::fs::read(file).unwrap_or_default();
                let text = String::from_utf8_lossy(&live);
                let lines: Vec<&str> = text.lines().collect();
                for line in &lines[lines.len().saturating_sub(options.lines)..] {
                    say(name, line);
                }
                offsets.push(live.len() as u64);
            }
        }
        // Every file's lines since then, in the order of their stamps (stdout and stderr
        // apart, or several services, read as one story), the last `lines` of them.
        Some(since) => {
            let files: Vec<&Path> = sources.iter().map(|(_, f)| f.as_path()).collect();
            let (lines, read_to) = merged_since(&files, since, options.lines);
            for (i, line) in &lines {
                say(&sources[*i].0, line);
            }
            offsets = read_to;
        }
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
                say(name, &String::from_utf8_lossy(&line[..line.len() - 1]));
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--since` reads rotated copies first, keeps a line without a stamp with the one before,
    /// and puts stdout and stderr (or several services) in the order of their stamps.
    #[test]
    fn lines_since_a_time_come_in_the_order_of_their_stamps() {
        let dir = std::env::temp_dir().join(format!("svc-any-since-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (out, err) = (dir.join("web.log"), dir.join("web.err"));
        let t = |s: u32| format!("2021-06-01T10:00:{s:02}.000000Z");
        std::fs::write(
            dir.join("web.log.1"),
            format!("{} old\n{} rotated\n", t(0), t(2)),
        )
        .unwrap();
        std::fs::write(&out, format!("{} live\nno stamp\n{} last\n", t(4), t(6))).unwrap();
        std::fs::write(&err, format!("{} early error\n{} error\n", t(0), t(5))).unwrap();
        let since = 1_622_541_601; // 2021-06-01T10:00:01Z
        let (lines, read_to) = merged_since(&[&out, &err], since, usize::MAX);
        let shown: Vec<String> = lines
            .iter()
            .map(|(i, l)| {
                format!(
                    "{i} {}",
                    l.strip_prefix("2021").map_or(l.as_str(), |_| &l[28..])
                )
            })
            .collect();
        assert_eq!(
            shown,
            ["0 rotated", "0 live", "0 no stamp", "1 error", "0 last"],
            "{lines:?}"
        );
        assert_eq!(
            read_to,
            [
                std::fs::metadata(&out).unwrap().len(),
                std::fs::metadata(&err).unwrap().len()
            ]
        );
        let (last, _) = merged_since(&[&out, &err], since, 2);
        assert_eq!(last.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 0]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
