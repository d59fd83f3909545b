//! A service's output file, rotated by size: `NAME.log` → `NAME.log.1` → ... → `NAME.log.KEEP`.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

pub struct LogFile {
    path: PathBuf,
    file: Option<File>,
    size: u64,
    max_size: Option<u64>,
    keep: u32,
}

impl LogFile {
    pub fn new(path: PathBuf, max_size: Option<u64>, keep: u32) -> LogFile {
        LogFile {
            path,
            file: None,
            size: 0,
            max_size,
            keep,
        }
    }

    /// Creates the file if it is missing, so `logs` has something to read from the start.
    pub fn touch(&mut self) -> std::io::Result<()> {
        self.open().map(drop)
    }

    fn open(&mut self) -> std::io::Result<&mut File> {
        if self.file.is_none() {
            if let Some(dir) = self.path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o640)
                .open(&self.path)?;
            self.size = file.metadata()?.len();
            self.file = Some(file);
        }
        Ok(self.file.as_mut().expect("opened above"))
    }

    /// Appends `data`, rotating whenever the file would grow past `max_size`. One read from a
    /// pipe may carry many lines, so the data is cut at line ends to fit; only a single line
    /// longer than `max_size` is split.
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
            let fits = data[..room]
                .iter()
                .rposition(|b| *b == b'\n')
                .map(|i| i + 1);
            match fits {
                Some(n) => {
                    self.append(&data[..n])?;
                    data = &data[n..];
                }
                None if self.size == 0 => {
                    let n = room.max(1);
                    self.append(&data[..n])?;
                    data = &data[n..];
                }
                None => {}
            }
            self.rotate()?;
            self.open()?;
        }
        Ok(())
    }

    fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        let file = self.open()?;
        file.write_all(data)?;
        self.size += data.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        self.file = None;
        let numbered = |i: u32| PathBuf::from(format!("{}.{i}", self.path.display()));
        if self.keep == 0 {
            return std::fs::remove_file(&self.path);
        }
        let _ = std::fs::remove_file(numbered(self.keep));
        for i in (1..self.keep).rev() {
            let _ = std::fs::rename(numbered(i), numbered(i + 1));
        }
        std::fs::rename(&self.path, numbered(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_by_size_and_keeps_only_keep_files() {
        let dir = std::env::temp_dir().join(format!("svc-any-logfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(10), 2);
        // One chunk holding several lines, as one read from a pipe does.
        log.write(b"aaaaaa\nbbbbbb\ncccccc\ndddddd\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "dddddd\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "cccccc\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.2")).unwrap(),
            "bbbbbb\n"
        );
        assert!(!dir.join("svc.log.3").exists());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_line_longer_than_the_limit_is_split() {
        let dir = std::env::temp_dir().join(format!("svc-any-logfile-long-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("svc.log");
        let mut log = LogFile::new(path.clone(), Some(4), 5);
        log.write(b"0123456789\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "89\n");
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.1")).unwrap(),
            "4567"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("svc.log.2")).unwrap(),
            "0123"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
