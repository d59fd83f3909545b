//! Reading systemd unit files (systemd.syntax(7)), the inverse of
//! [`crate::dialect::escape::systemd`]: sections, settings with their line numbers, and the
//! words of a command line or an `Environment=` value, unquoted and unescaped as systemd 252
//! reads them (`extract_first_word` with `EXTRACT_UNQUOTE | EXTRACT_CUNESCAPE`).

/// One `Key=value` of a unit file, with the (first) line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub section: String,
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// The settings of a unit file in order. Comment lines (`#`, `;`) are skipped, a line ending
/// in `\` continues on the next (comment lines inside a continuation are skipped too), white
/// space around keys and values is stripped. A line that is neither is an error with its
/// number.
pub fn parse(text: &str) -> Result<Vec<Setting>, (usize, String)> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines().enumerate();
    while let Some((i, raw)) = lines.next() {
        let number = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') {
            if !line.ends_with(']') {
                return Err((number, format!("`{line}` is not a section header")));
            }
            section = line[1..line.len() - 1].to_string();
            continue;
        }
        let mut full = line.to_string();
        let mut open = full.ends_with('\\');
        if open {
            full.pop();
        }
        while open {
            let Some((_, next)) = lines.next() else {
                break;
            };
            let next = next.trim();
            if next.starts_with(['#', ';']) {
                continue;
            }
            full.push(' ');
            full.push_str(next);
            open = full.ends_with('\\');
            if open {
                full.pop();
            }
        }
        let Some((key, value)) = full.split_once('=') else {
            return Err((number, format!("`{line}` is not a `Key=value` line")));
        };
        out.push(Setting {
            section: section.clone(),
            key: key.trim().to_string(),
            value: value.trim().to_string(),
            line: number,
        });
    }
    Ok(out)
}

const WHITESPACE: &[char] = &[' ', '\t', '\n', '\r'];

/// The words of `value`, as systemd splits a command line or an `Environment=` value: white
/// space separates, `"` and `'` quote (and are removed, mid-word too), and `\` escapes are
/// decoded inside and outside quotes. A word that was exactly `;` outside quotes comes back as
/// `None` (a command separator).
pub fn words(value: &str) -> Result<Vec<Option<String>>, String> {
    let chars: Vec<char> = value.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while i < chars.len() && WHITESPACE.contains(&chars[i]) {
            i += 1;
        }
        if i >= chars.len() {
            return Ok(out);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut quoted_any = false;
        while i < chars.len() {
            let c = chars[i];
            match (quote, c) {
                (_, '\\') => {
                    let (decoded, used) = unescape(&chars[i + 1..])?;
                    word.push_str(&decoded);
                    i += 1 + used;
                    quoted_any = true;
                    continue;
                }
                (None, '"' | '\'') => {
                    quote = Some(c);
                    quoted_any = true;
                }
                (Some(q), c) if c == q => quote = None,
                (None, c) if WHITESPACE.contains(&c) => break,
                (_, c) => word.push(c),
            }
            i += 1;
        }
        if quote.is_some() {
            return Err("a quote is not closed".into());
        }
        if word == ";" && !quoted_any {
            out.push(None);
        } else {
            out.push(Some(word));
        }
    }
}

/// One C escape after a backslash: what it stands for and how many characters it used.
fn unescape(rest: &[char]) -> Result<(String, usize), String> {
    let Some(&c) = rest.first() else {
        return Err("a line ends in a lone backslash".into());
    };
    let simple = match c {
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        'f' => Some('\u{c}'),
        'n' => Some('\n'),
        'r' => Some('\r'),
        't' => Some('\t'),
        'v' => Some('\u{b}'),
        's' => Some(' '),
        '\\' | '"' | '\'' => Some(c),
        _ => None,
    };
    if let Some(s) = simple {
        return Ok((s.to_string(), 1));
    }
    let hex = |n: usize| -> Result<(u32, usize), String> {
        let digits: String = rest[1..].iter().take(n).collect();
        if digits.len() != n {
            return Err(format!("`\\{c}` needs {n} hex digits"));
        }
        u32::from_str_radix(&digits, 16)
            .map(|v| (v, n + 1))
            .map_err(|_| format!("`\\{c}{digits}` is no escape"))
    };
    let (code, used) = match c {
        'x' => hex(2)?,
        'u' => hex(4)?,
        'U' => hex(8)?,
        '0'..='7' => {
            let digits: String = rest.iter().take(3).collect();
            let v = u32::from_str_radix(&digits, 8)
                .ok()
                .filter(|_| digits.len() == 3)
                .ok_or_else(|| format!("`\\{digits}` is no octal escape"))?;
            (v, 3)
        }
        other => return Err(format!("`\\{other}` is no escape systemd knows")),
    };
    if code == 0 {
        return Err("a NUL byte cannot reach a process".into());
    }
    // `\xNN` is a byte: bytes of a UTF-8 sequence must come together, which this reader does
    // not assemble; a byte below 0x80 is its character.
    if c == 'x' && code >= 0x80 {
        return Err(format!(
            "`\\x{code:02x}` is a byte of a multi-byte character"
        ));
    }
    let ch = char::from_u32(code).ok_or_else(|| format!("U+{code:X} is no character"))?;
    Ok((ch.to_string(), used))
}

/// systemd's boolean words.
pub fn boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "yes" | "y" | "true" | "t" | "on" => Some(true),
        "0" | "no" | "n" | "false" | "f" | "off" => Some(false),
        _ => None,
    }
}

/// A systemd time span (`5`, `100ms`, `1min 30s`, `infinity`): `None` for infinity.
pub fn time_span(value: &str) -> Result<Option<std::time::Duration>, String> {
    let v = value.trim();
    if v == "infinity" {
        return Ok(None);
    }
    let mut total = 0f64;
    let mut rest = v;
    if rest.is_empty() {
        return Err("an empty time span".into());
    }
    while !rest.is_empty() {
        rest = rest.trim_start();
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_end]
            .parse()
            .map_err(|_| format!("`{v}` is not a time span"))?;
        rest = rest[num_end..].trim_start();
        let unit_end = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let factor = match &rest[..unit_end] {
            "" | "s" | "sec" | "second" | "seconds" => 1.0,
            "us" | "usec" => 1e-6,
            "ms" | "msec" => 1e-3,
            "m" | "min" | "minute" | "minutes" => 60.0,
            "h" | "hr" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86400.0,
            "w" | "week" | "weeks" => 604800.0,
            other => return Err(format!("`{other}` is no time unit")),
        };
        total += number * factor;
        rest = &rest[unit_end..];
    }
    Ok(Some(std::time::Duration::from_micros(
        (total * 1e6).round() as u64,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(value: &str) -> Vec<String> {
        words(value)
            .unwrap()
            .into_iter()
            .map(|w| w.unwrap_or_else(|| "<;>".into()))
            .collect()
    }

    #[test]
    fn settings_keep_their_line_and_continuations_join() {
        let text = "# c\n[Unit]\nDescription = A b \n\n[Service]\nExecStart=/bin/a \\\n  b\\\n# skipped\n c\n;x\nUser=u\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            (
                s[0].section.as_str(),
                s[0].key.as_str(),
                s[0].value.as_str(),
                s[0].line
            ),
            ("Unit", "Description", "A b", 3)
        );
        assert_eq!(s[1].value, "/bin/a  b c");
        assert_eq!(parse("[S]\nA=x\\\n").unwrap()[0].value, "x");
        assert_eq!(s[1].line, 6);
        assert_eq!((s[2].key.as_str(), s[2].line), ("User", 11));
        assert_eq!(parse("[Service]\nnonsense\n").unwrap_err().0, 2);
    }

    #[test]
    fn words_unquote_and_unescape_as_systemd_does() {
        assert_eq!(
            w("/usr/sbin/nginx -g 'daemon on; master_process on;'"),
            ["/usr/sbin/nginx", "-g", "daemon on; master_process on;"]
        );
        assert_eq!(
            w(r#"a"b c"d 'e\'f' "\x41\n" \s"#),
            ["ab cd", "e'f", "A\n", " "]
        );
        assert_eq!(w("a ; b \";\""), ["a", "<;>", "b", ";"]);
        assert_eq!(w("  "), Vec::<String>::new());
        assert!(words("'open").is_err());
        assert!(words("\\q").is_err());
    }

    #[test]
    fn time_spans_and_booleans() {
        use std::time::Duration;
        assert_eq!(time_span("5").unwrap(), Some(Duration::from_secs(5)));
        assert_eq!(
            time_span("100ms").unwrap(),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            time_span("1min 30s").unwrap(),
            Some(Duration::from_secs(90))
        );
        assert_eq!(time_span("infinity").unwrap(), None);
        assert!(time_span("soon").is_err());
        assert_eq!(boolean("Yes"), Some(true));
        assert_eq!(boolean("off"), Some(false));
        assert_eq!(boolean("maybe"), None);
    }
}
