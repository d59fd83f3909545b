//! POSIX shell words (sh(1), dash, the shell openrc-run and LSB scripts run in).
//!
//! A value becomes one single-quoted word: inside single quotes every byte is literal, so the
//! only character needing care is the quote itself, written `'\''` (close, escaped quote,
//! reopen). Newlines, `$`, backquotes, `\` and glob characters need nothing. NUL cannot be
//! carried: the shell's strings end there.
//!
//! OpenRC expands some of its variables unquoted and `eval`s the result (see
//! `backends/openrc.rs`); a quoted word alone would not survive that, so those variables hold
//! `"$name"` references to variables quoted here.

use super::Unrepresentable;

/// `value` as one shell word that the shell reads back as exactly `value`.
pub fn quote(value: &str) -> Result<String, Unrepresentable> {
    if value.contains('\0') {
        return Err(Unrepresentable::Nul);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// What a real shell makes of `words`: each word printed NUL-terminated.
    fn parsed_by(shell: &str, words: &[String]) -> Vec<Vec<u8>> {
        let script = format!("printf '%s\\0' {}", words.join(" "));
        let out = Command::new(shell)
            .arg("-c")
            .arg(&script)
            .output()
            .expect("the shell runs");
        assert!(out.status.success(), "{shell} -c {script:?}");
        let mut words_out: Vec<Vec<u8>> =
            out.stdout.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
        words_out.truncate(words.len());
        words_out
    }

    const CASES: &[&str] = &[
        "plain",
        "",
        "two  spaces",
        "tab\there",
        "new\nline",
        "it's",
        "''",
        "\"double\"",
        "back\\slash\\",
        "$HOME ${X} $(id) `id`",
        "*?[a-z]~#!{}()<>|&;",
        "-x",
        "--",
        "a=b",
        "héllo ✓",
        "\u{1b}[0m\u{7f}",
    ];

    #[test]
    fn quoting_is_single_quotes_with_the_quote_spliced() {
        assert_eq!(quote("abc").unwrap(), "'abc'");
        assert_eq!(quote("").unwrap(), "''");
        assert_eq!(quote("it's").unwrap(), "'it'\\''s'");
        assert_eq!(quote("a\0b"), Err(Unrepresentable::Nul));
    }

    #[test]
    fn sh_and_dash_read_every_case_back_exactly() {
        let words: Vec<String> = CASES.iter().map(|c| quote(c).unwrap()).collect();
        for shell in ["sh", "dash"] {
            let got = parsed_by(shell, &words);
            let want: Vec<Vec<u8>> = CASES.iter().map(|c| c.as_bytes().to_vec()).collect();
            assert_eq!(got, want, "{shell}");
        }
    }
}
