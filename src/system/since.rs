//! The moment `logs --since TIME` names, in the forms a person types: an exact RFC 3339 time
//! (`2026-11-30T23:41:07Z`, `2026-11-30T23:41:07+01:00`), a wall-clock time on this machine
//! (`2026-11-30 23:41`, `2026-11-30 23:41:07`, `2026-11-30`), as `journalctl --since` and
//! `date` read it, or a time ago (`10m`, `2h ago`, `1h 30m ago`).

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch of `text`, `now` being the present; or what is wrong with it.
pub fn parse_since(text: &str, now: SystemTime) -> Result<u64, String> {
    let text = text.trim();
    let formats = "give an RFC 3339 time (2026-11-30T23:41:07Z), a local time \
                   (2026-11-30 23:41[:07]), or a time ago (10m, 2h ago)";
    if text.starts_with(|c: char| c.is_ascii_digit()) && text.get(4..5) == Some("-") {
        return absolute(text).map_err(|why| format!("`{text}`: {why}; {formats}"));
    }
    let ago = text.strip_suffix("ago").unwrap_or(text).trim();
    let span = humantime::parse_duration(ago).map_err(|e| format!("`{text}`: {e}; {formats}"))?;
    let at = now.checked_sub(span).unwrap_or(UNIX_EPOCH);
    Ok(seconds(at))
}

fn seconds(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|±HH:MM]`.
fn absolute(text: &str) -> Result<u64, &'static str> {
    let number = |s: &str, lo: u32, hi: u32| -> Result<u32, &'static str> {
        let n: u32 = s
            .parse()
            .ok()
            .filter(|_| s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or("not a date and time")?;
        if n < lo || n > hi {
            return Err("a field is out of range");
        }
        Ok(n)
    };
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], text[i + 1..].trim_start()),
        None => (text, ""),
    };
    let d: Vec<&str> = date.split('-').collect();
    let [y, m, day] = d.as_slice() else {
        return Err("the date is not YYYY-MM-DD");
    };
    if y.len() != 4 || m.len() != 2 || day.len() != 2 {
        return Err("the date is not YYYY-MM-DD");
    }
    let (year, month, day) = (
        number(y, 1970, 9999)?,
        number(m, 1, 12)?,
        number(day, 1, 31)?,
    );
    // The zone, if any, ends the time.
    let (clock, zone) = match time.find(['Z', 'z', '+', '-']) {
        Some(i) => (&time[..i], Some(&time[i..])),
        None => (time, None),
    };
    let (mut hour, mut minute, mut second) = (0, 0, 0);
    if !clock.is_empty() {
        let clock = clock.split('.').next().unwrap_or_default();
        let parts: Vec<&str> = clock.split(':').collect();
        if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
            return Err("the time is not HH:MM[:SS]");
        }
        hour = number(parts[0], 0, 23)?;
        minute = number(parts[1], 0, 59)?;
        if let Some(s) = parts.get(2) {
            second = number(s, 0, 60)?;
        }
    } else if zone.is_some() {
        return Err("a zone needs a time");
    }
    let days = days_from_civil(year, month, day);
    let wall = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    let utc = match zone {
        None => local_to_utc(year, month, day, hour, minute, second)?,
        Some("Z" | "z") => wall,
        Some(z) => {
            let sign = if z.starts_with('-') { -1 } else { 1 };
            let hm: Vec<&str> = z[1..].split(':').collect();
            let [h, m] = hm.as_slice() else {
                return Err("the zone is not Z or ±HH:MM");
            };
            let offset = i64::from(number(h, 0, 23)? * 3600 + number(m, 0, 59)? * 60);
            wall - sign * offset
        }
    };
    u64::try_from(utc).map_err(|_| "before 1970")
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: u32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A wall-clock time in this machine's zone (TZ, /etc/localtime), as mktime reads it.
fn local_to_utc(
    year: u32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
) -> Result<i64, &'static str> {
    // SAFETY: a zeroed struct tm this frame owns, filled in, and passed to mktime, which only
    // reads and normalises it.
    let t = unsafe {
        let mut tm: nix::libc::tm = std::mem::zeroed();
        tm.tm_year = year as i32 - 1900;
        tm.tm_mon = month as i32 - 1;
        tm.tm_mday = day as i32;
        tm.tm_hour = hour as i32;
        tm.tm_min = minute as i32;
        tm.tm_sec = second as i32;
        tm.tm_isdst = -1;
        nix::libc::mktime(&mut tm)
    };
    if t == -1 {
        return Err("not a time on this machine's clock");
    }
    Ok(t)
}

/// The time a stamped log line (`2026-11-30T23:41:07.123456Z ...`) begins with, in seconds
/// since the epoch; none for a line without a stamp.
pub fn line_time(line: &[u8]) -> Option<u64> {
    let stamp = line.get(..27)?;
    if stamp[10] != b'T' || stamp[26] != b'Z' || line.get(27).is_some_and(|b| *b != b' ') {
        return None;
    }
    let stamp = std::str::from_utf8(stamp).ok()?;
    humantime::parse_rfc3339(stamp).ok().map(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const NOW: u64 = 1_796_082_067; // 2026-11-30T23:41:07Z

    fn at(text: &str) -> Result<u64, String> {
        parse_since(text, UNIX_EPOCH + Duration::from_secs(NOW))
    }

    #[test]
    fn rfc_3339_times_are_exact() {
        assert_eq!(at("2026-11-30T23:41:07Z"), Ok(NOW));
        assert_eq!(at("2026-11-30T23:41:07.999999Z"), Ok(NOW));
        assert_eq!(at("2026-12-01T00:41:07+01:00"), Ok(NOW));
        assert_eq!(at("2026-11-30T20:41:07-03:00"), Ok(NOW));
        assert_eq!(at("2000-02-29T00:00:00Z"), Ok(951_782_400));
    }

    #[test]
    fn a_time_without_a_zone_is_this_machines_wall_clock() {
        // date(1) reads a wall-clock time in the machine's zone too: the two must agree.
        let date = |text: &str| -> u64 {
            let out = std::process::Command::new("date")
                .args(["-d", text, "+%s"])
                .output()
                .unwrap();
            String::from_utf8(out.stdout)
                .unwrap()
                .trim()
                .parse()
                .unwrap()
        };
        for text in ["2026-11-30 23:41:07", "2026-07-01 12:00", "2026-11-30"] {
            assert_eq!(at(text), Ok(date(text)), "{text}");
        }
        assert_eq!(at("2026-11-30T23:41"), at("2026-11-30 23:41"));
        assert_eq!(
            at("2026-11-30 23:41"),
            Ok(at("2026-11-30 23:41:07").unwrap() - 7)
        );
    }

    #[test]
    fn a_time_ago_counts_back_from_now() {
        assert_eq!(at("10m"), Ok(NOW - 600));
        assert_eq!(at("2h ago"), Ok(NOW - 7200));
        assert_eq!(at("1h 30m ago"), Ok(NOW - 5400));
    }

    #[test]
    fn anything_else_is_refused_with_the_forms_that_work() {
        for wrong in [
            "yesterday",
            "2026-13-01",
            "2026-11-30 25:00",
            "26-11-30",
            "10 parsecs",
        ] {
            let why = at(wrong).unwrap_err();
            assert!(
                why.contains(wrong) && why.contains("2h ago"),
                "{wrong}: {why}"
            );
        }
    }

    #[test]
    fn a_stamped_line_gives_its_time() {
        assert_eq!(line_time(b"2026-11-30T23:41:07.123456Z hello"), Some(NOW));
        assert_eq!(line_time(b"2026-11-30T23:41:07.123456Z"), Some(NOW));
        assert_eq!(line_time(b"hello 2026-11-30T23:41:07.123456Z"), None);
        assert_eq!(line_time(b"short"), None);
    }
}
