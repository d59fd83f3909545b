//! The time at the start of each line a service writes, as the supervisor reads it from the
//! pipe: `2026-11-30T23:41:07.123456Z ` (RFC 3339, UTC, microseconds, one space). A process's
//! own clock, format and zone vary from one program to the next; this one is the same for
//! every service, sorts as text, and is what `logs --since` reads back.
//!
//! A line read in pieces carries the time of its first piece: when it began, which is what a
//! person looking for "what happened at 10:02" means. The stamp goes in before the line
//! reaches the log file, so rotation (which moves whole lines) moves it with its line.

use std::time::SystemTime;

/// Where one stream (a pipe) is: at the start of a line, or within one.
#[derive(Debug, Default)]
pub struct Stamper {
    within_line: bool,
}

/// The stamp for `at`, with the space that ends it.
pub fn stamp(at: SystemTime) -> String {
    format!("{} ", humantime::format_rfc3339_micros(at))
}

impl Stamper {
    /// `data`, as read at `at`, into `out` with a stamp before each line that starts in it.
    pub fn stamp(&mut self, data: &[u8], at: SystemTime, out: &mut Vec<u8>) {
        let mut stamp_text: Option<String> = None;
        let mut rest = data;
        while !rest.is_empty() {
            if !self.within_line {
                let s = stamp_text.get_or_insert_with(|| stamp(at));
                out.extend_from_slice(s.as_bytes());
                self.within_line = true;
            }
            match rest.iter().position(|b| *b == b'\n') {
                Some(end) => {
                    out.extend_from_slice(&rest[..=end]);
                    rest = &rest[end + 1..];
                    self.within_line = false;
                }
                None => {
                    out.extend_from_slice(rest);
                    rest = &[];
                }
            }
        }
    }

    /// The stream ended: a line the process left unfinished is ended here, so that what the
    /// next process writes starts a line of its own, with its own stamp.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        if self.within_line {
            out.push(b'\n');
            self.within_line = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn at(micros: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(micros)
    }

    #[test]
    fn each_line_starts_with_the_time_it_began() {
        let mut s = Stamper::default();
        let mut out = Vec::new();
        s.stamp(b"one\ntw", at(1_796_082_067_123_456), &mut out);
        s.stamp(b"o\nthree\n", at(1_796_082_068_000_001), &mut out);
        s.stamp(b"", at(1_796_082_069_000_000), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-11-30T23:41:07.123456Z one\n\
             2026-11-30T23:41:07.123456Z two\n\
             2026-11-30T23:41:08.000001Z three\n"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

        /// Stamped, then rotated (as the supervisor writes): however the output arrives, every
        /// line of every file is one whole line of the process's, after its stamp.
        #[test]
        fn stamped_lines_stay_whole_across_rotations(
            lengths in proptest::collection::vec(0usize..60, 1..40),
            cuts in proptest::collection::vec(1usize..100, 1..20),
            // Every stamped line fits in a file (a longer one is cut: logfile.rs).
            max in 100u64..400,
        ) {
            let dir = std::env::temp_dir().join(format!(
                "svc-any-stamp-{}-{max}-{}", std::process::id(), lengths.len()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("svc.log");
            let input: Vec<String> = lengths
                .iter()
                .enumerate()
                .map(|(i, n)| format!("{i}:{}", "x".repeat(*n)))
                .collect();
            let bytes = input.iter().map(|l| format!("{l}\n")).collect::<String>().into_bytes();
            let mut log = super::super::logfile::LogFile::new(path.clone(), Some(max), 1000);
            let mut stamper = Stamper::default();
            let (mut rest, mut i, mut out) = (&bytes[..], 0, Vec::new());
            while !rest.is_empty() {
                let n = cuts[i % cuts.len()].min(rest.len());
                out.clear();
                stamper.stamp(&rest[..n], at(i as u64), &mut out);
                log.write(&out).unwrap();
                rest = &rest[n..];
                i += 1;
            }
            let mut numbers: Vec<u64> = std::fs::read_dir(&dir).unwrap().flatten()
                .filter_map(|e| e.file_name().to_str()?.strip_prefix("svc.log.")?.parse().ok())
                .collect();
            numbers.sort_unstable();
            let mut files: Vec<String> = numbers.iter()
                .map(|n| std::fs::read_to_string(dir.join(format!("svc.log.{n}"))).unwrap())
                .collect();
            files.push(std::fs::read_to_string(&path).unwrap_or_default());
            std::fs::remove_dir_all(&dir).unwrap();
            let mut seen = Vec::new();
            for f in &files {
                proptest::prop_assert!(f.is_empty() || f.ends_with('\n'), "cut within a line: {:?}", f);
                for line in f.lines() {
                    let (stamp, rest) = line.split_at(28);
                    proptest::prop_assert!(humantime::parse_rfc3339(stamp.trim_end()).is_ok(), "{}", line);
                    seen.push(rest.to_string());
                }
            }
            proptest::prop_assert_eq!(seen, input);
        }
    }

    #[test]
    fn an_unfinished_line_is_ended_with_its_stream() {
        let mut s = Stamper::default();
        let mut out = Vec::new();
        s.stamp(b"no newline", at(0), &mut out);
        s.end(&mut out);
        s.end(&mut out);
        s.stamp(b"next\n", at(1_000_000), &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "1970-01-01T00:00:00.000000Z no newline\n1970-01-01T00:00:01.000000Z next\n"
        );
    }
}
