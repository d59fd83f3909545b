//! A service's output file, rotated by size at line ends: `NAME.log` is written; when the next
//! line would take it past `max_size`, it becomes `NAME.log.N` (N one more than the last file
//! rotated out, so the highest number is the newest) and the one `keep` rotations older is
//! removed. A rotation renames one file and removes at most one, whatever `keep` is.
//!
//! No line is ever split between two files, however the process's output arrives (a read from
//! its pipe may end within a line): a line begun in a file that has no room for its end moves,
//! whole, to the next file. The one exception is a line longer than `max_size` itself, which
//! cannot fit in any file: it is cut where each file is full.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// Bytes at the end of the current file after its last line end: a line not finished yet.
    partial: u64,
    /// The whole length of that unfinished line so far; more than `partial` when it began in
    /// an earlier file (it was too long for one, and is already cut).
    line: u64,
    max_size: Option<u64>,
    keep: u32,
    /// The number of the newest rotated file, once known (found at the first rotation).
    last: Option<u64>,
}

impl LogFile {
    pub fn new(path: PathBuf, max_size: Option<u64>, keep: u32) -> LogFile {
        LogFile {
            path,
            file: None,
            size: 0,
            partial: 0,
            line: 0,
            max_size,
            keep,
            last: None,
        }
    }

    /// Where it writes.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// Creates the file if it is missing, so `logs` has something to read from the start.
    pub fn touch(&mut self) -> std::io::Result<()> {
        self.open().map(drop)
    }

    /// Whether the file is open (a descriptor the supervisor holds).
    pub fn is_open(&self) -> bool {
        self.file.is_some()
    }

    /// Lets go of the descriptor; the next write opens the file again.
    pub fn close(&mut self) {
        self.file = None;
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            // Readable too: a line that must move to the next file is read back from here.
            // Never through a symbolic link: the supervisor writes as root, often into a
            // directory the service's user may write, who could point the name anywhere.
            // (A rotation renames and removes names, which never follows one either.)
            let file = OpenOptions::new()
                .create(true)
                .read(true)
                .append(true)
                .mode(0o640)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(&self.path)?;
            self.size = file.metadata()?.len();
            self.partial = unfinished_line(&file, self.size, self.max_size)?;
            self.line = self.partial;
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Appends `data`, rotating at line ends so that no file grows past `max_size` (see the
    /// module's documentation for the one exception).
    pub fn write(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        self.open()?;
        let Some(max) = self.max_size else {
            return self.append(data);
        };
        while !data.is_empty() {
            let room = max.saturating_sub(self.size) as usize;
            if data.len() <= room {
                return self.append(data);
            }
            // As many whole lines as fit, then a new file.
            if let Some(end) = data[..room].iter().rposition(|b| *b == b'\n') {
                self.append(&data[..=end])?;
                data = &data[end + 1..];
                self.rotate(0)?;
                continue;
            }
            // No line ends within the room left: the line being written does not fit here.
            let known = self.line
                + data
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(data.len(), |i| i + 1) as u64;
            if known > max || self.line > self.partial {
                // Longer than a file may be (or already cut): cut it where this file is full.
                self.append(&data[..room])?;
                data = &data[room..];
                self.rotate(0)?;
            } else {
                // It fits in a file: what of it is already written moves to the next one.
                self.rotate(self.partial)?;
            }
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        let file = self.open()?;
        file.write_all(data)?;
        self.size += data.len() as u64;
        match data.iter().rposition(|b| *b == b'\n') {
            Some(end) => {
                self.partial = (data.len() - end - 1) as u64;
                self.line = self.partial;
            }
            None => {
                self.partial += data.len() as u64;
                self.line += data.len() as u64;
            }
        }
        Ok(())
    }

    /// Starts a new file. The last `carry` bytes of the current one (an unfinished line) move
    /// to the new file: copied there first, then cut from the old one, so that a crash in
    /// between leaves them twice rather than nowhere.
    fn rotate(&mut self, carry: u64) -> std::io::Result<()> {
        let mut carried = vec![0u8; carry as usize];
        let old = self.file.take();
        if let Some(file) = &old {
            file.read_exact_at(&mut carried, self.size - carry)?;
        }
        let kept_size = self.size - carry;
        if self.keep == 0 {
            std::fs::remove_file(&self.path)?;
        } else {
            let n = self.next_number();
            std::fs::rename(&self.path, self.numbered(n))?;
            if n > u64::from(self.keep) {
                let _ = std::fs::remove_file(self.numbered(n - u64::from(self.keep)));
            }
        }
        let line = self.line;
        self.open()?;
        if carry > 0 {
            self.append(&carried)?;
            if let Some(file) = &old {
                if self.keep > 0 {
                    file.set_len(kept_size)?;
                }
            }
        } else {
            // A line cut because it is longer than a file goes on in this one.
            self.line = line;
        }
        Ok(())
    }

    fn numbered(&self, n: u64) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    /// The number of the file rotated out now. The first time, the directory says which
    /// numbers exist already (and any beyond `keep` go); after that it is one more each time.
    fn next_number(&mut self) -> u64 {
        let last = match self.last {
            Some(n) => n,
            None => {
                let existing = self.existing_numbers();
                let last = existing.iter().copied().max().unwrap_or(0);
                let oldest_kept = (last + 1).saturating_sub(u64::from(self.keep)) + 1;
                for n in existing.into_iter().filter(|n| *n < oldest_kept) {
                    let _ = std::fs::remove_file(self.numbered(n));
                }
                last
            }
        };
        self.last = Some(last + 1);
        last + 1
    }

    /// The N of every `NAME.log.N` beside the file.
    fn existing_numbers(&self) -> Vec<u64> {
        let (Some(dir), Some(name)) = (self.path.parent(), self.path.file_name()) else {
            return Vec::new();
        };
        let prefix = format!("{}.", name.to_string_lossy());
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let digits = name.to_str()?.strip_prefix(&prefix)?;
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                digits.parse().ok()
            })
            .collect()
    }
}

/// How many bytes at the end of `file` (of `size` bytes) follow its last line end: looked for
/// no further back than `max_size` (a longer line is cut anyway).
fn unfinished_line(file: &File, size: u64, max_size: Option<u64>) -> std::io::Result<u64> {
    // Without a limit there is no rotation, and nothing to know.
    let Some(max) = max_size else { return Ok(0) };
    let limit = max.min(size);
    let mut chunk = [0u8; 4096];
    let mut scanned = 0u64;
    while scanned < limit {
        let n = (limit - scanned).min(chunk.len() as u64) as usize;
        let at = size - scanned - n as u64;
        file.read_exact_at(&mut chunk[..n], at)?;
        if let Some(i) = chunk[..n].iter().rposition(|b| *b == b'\n') {
            return Ok(scanned + (n - i - 1) as u64);
        }
        scanned += n as u64;
    }
    Ok(scanned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("svc-any-logfile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The rotated files, oldest first, then the live one.
    fn files(path: &std::path::Path) -> Vec<Vec<u8>> {
        let log = LogFile::new(path.to_path_buf(), None, 1);
        let mut numbers = log.existing_numbers();
        numbers.sort_unstable();
        let mut out: Vec<Vec<u8>> = numbers
            .iter()
            .map(|n| std::fs::read(log.numbered(*n)).unwrap())
            .collect();
        out.push(std::fs::read(path).unwrap_or_default());
        out
    }

    #[test]
    fn rotates_by_size_and_keeps_only_keep_files() {
        let dir = scratch("keep");
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(10), 2);
        // One chunk holding several lines, as one read from a pipe does.
        log.write(b"aaaaaa\nbbbbbb\ncccccc\ndddddd\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "dddddd\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.3")).unwrap(),
            "cccccc\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.2")).unwrap(),
            "bbbbbb\n"
        );
        assert!(!dir.join("svc.log.1").exists(), "keep = 2");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_line_longer_than_the_limit_is_split() {
        let dir = scratch("long");
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(4), 5);
        log.write(b"0123456789\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "89\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.2")).unwrap(),
            "4567"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "0123"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_line_that_arrives_in_pieces_moves_whole_to_the_next_file() {
        let dir = scratch("pieces");
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(10), 5);
        log.write(b"abcd\nef").unwrap();
        log.write(b"ghij\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "abcd\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "efghij\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_rotation_touches_two_files_whatever_keep_is() {
        let dir = scratch("numbers");
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(8), 1000);
        for i in 0..50 {
            log.write(format!("line {i:02}\n").as_bytes()).unwrap();
        }
        // 49 rotations, every file kept, numbered in order.
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "line 00\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.49")).unwrap(),
            "line 48\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "line 49\n");
        // A later supervisor (a new LogFile) goes on from the highest number, and a smaller
        // keep removes what is beyond it at its first rotation.
        let mut again = LogFile::new(path.clone(), Some(8), 3);
        again.write(b"line 50\n").unwrap();
        let mut numbers = again.existing_numbers();
        numbers.sort_unstable();
        assert_eq!(numbers, [48, 49, 50]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_ending_within_a_line_is_understood_when_opened_again() {
        let dir = scratch("reopen");
        let path = dir.join("svc.log");
        std::fs::write(&path, "done\nhalf").unwrap();
        let mut log = LogFile::new(path.clone(), Some(16), 2);
        log.write(b" a line\n").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "done\n"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "half a line\n");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// Output as lines of the given lengths (each ends with a line feed), numbered so that a
    /// line can be recognised whole.
    fn lines(lengths: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, len) in lengths.iter().enumerate() {
            let mut line = format!("{i}:").into_bytes();
            line.resize((*len).max(line.len()), b'x');
            line.push(b'\n');
            out.extend_from_slice(&line);
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// However the output is chunked, and whatever max_size is: nothing is lost or
        /// reordered, no file passes max_size, and every file ends at a line end unless the
        /// line it ends within is longer than max_size.
        #[test]
        fn rotation_cuts_only_at_line_ends(
            (max, lengths) in (1u64..300).prop_flat_map(|max| {
                // Lines up to twice max_size (some longer than a file), about 30 files' worth.
                let longest = 2 * max as usize + 2;
                (Just(max), prop::collection::vec(0..longest, 1..40))
            }),
            cuts in prop::collection::vec(1usize..400, 1..40),
        ) {
            let dir = scratch(&format!("prop-{max}-{}", lengths.len()));
            let path = dir.join("svc.log");
            let input = lines(&lengths);
            let mut log = LogFile::new(path.clone(), Some(max), 1000);
            let mut rest = &input[..];
            let mut i = 0;
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                log.write(&rest[..n]).unwrap();
                rest = &rest[n..];
                i += 1;
            }
            let files = files(&path);
            std::fs::remove_dir_all(&dir).unwrap();
            prop_assert_eq!(files.concat(), input.clone(), "lost or reordered output");
            let mut offset = 0usize;
            for (k, f) in files.iter().enumerate() {
                prop_assert!(f.len() as u64 <= max, "file {} has {} bytes", k, f.len());
                let last = k + 1 == files.len();
                prop_assert!(!f.is_empty() || last, "an empty rotated file");
                offset += f.len();
                if last || f.ends_with(b"\n") {
                    continue;
                }
                // Cut within a line: only allowed for a line longer than max.
                let start = input[..offset].iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
                let end = input[offset..].iter().position(|b| *b == b'\n').map_or(input.len(), |p| offset + p + 1);
                prop_assert!((end - start) as u64 > max,
                    "a line of {} bytes was split (max_size {})", end - start, max);
            }
        }
    }
}
