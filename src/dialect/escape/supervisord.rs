//! supervisord's configuration dialect: Python's `configparser` as supervisor 4 sets it up
//! (`;` and `#` start an inline comment when white space precedes them; values are stripped;
//! one line per value), then supervisor's own `%` expansion (`value % expansions`) on every
//! value, after it replaced `%(here)s` by the file's directory as plain text.
//!
//! So a value is written with every `%` doubled, and refused where no writing survives: a line
//! break (a value is one line), white space at either end (stripped), `;`/`#` after white
//! space (cut as a comment, even inside quotes), and `%(here)s` (replaced before the doubled
//! `%` is read). The `command=` line is also split by `shlex` (POSIX): [`command`] makes each
//! word a single-quoted shlex word, `'` as `'\''`.

use super::Unrepresentable;

/// Python's `str.isspace`: Unicode white space, plus the information separators U+001C to
/// U+001F, which Python counts as white space and Rust does not.
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// What every value must pass, whatever the key.
fn check(text: &str) -> Result<(), Unrepresentable> {
    if text.is_empty() {
        return Err(Unrepresentable::Empty);
    }
    if text.contains('\0') {
        return Err(Unrepresentable::Nul);
    }
    // Python's text files end a line at \n, \r and \r\n.
    if let Some(c) = text.chars().find(|c| matches!(c, '\n' | '\r')) {
        return Err(Unrepresentable::Control(c));
    }
    let first = text.chars().next().is_some_and(py_space);
    let last = text.chars().next_back().is_some_and(py_space);
    if first || last {
        return Err(Unrepresentable::EdgeWhitespace);
    }
    let mut previous = None;
    for c in text.chars() {
        if matches!(c, ';' | '#') && previous.is_some_and(py_space) {
            return Err(Unrepresentable::InlineComment(c));
        }
        previous = Some(c);
    }
    Ok(())
}

/// `value` as the text after `key=` that supervisord reads back as exactly `value`.
pub fn value(value: &str) -> Result<String, Unrepresentable> {
    check(value)?;
    if value.contains("%(here)s") {
        return Err(Unrepresentable::Replaced("%(here)s"));
    }
    Ok(value.replace('%', "%%"))
}

/// `argv` as a `command=` value: supervisord expands it, then splits it with `shlex.split`
/// and executes the words without a shell.
pub fn command(argv: &[String]) -> Result<String, Unrepresentable> {
    let words: Vec<String> = argv
        .iter()
        .map(|a| {
            if a.contains('\0') {
                return Err(Unrepresentable::Nul);
            }
            Ok(format!("'{}'", a.replace('\'', "'\\''")))
        })
        .collect::<Result<_, _>>()?;
    value(&words.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_is_doubled_and_the_rest_is_kept() {
        assert_eq!(value("/var/log/100%.log").unwrap(), "/var/log/100%%.log");
        assert_eq!(value("a;b#c").unwrap(), "a;b#c");
        assert_eq!(value("%(ENV_HOME)s").unwrap(), "%%(ENV_HOME)s");
    }

    #[test]
    fn what_the_parser_cannot_read_back_is_refused() {
        assert_eq!(value(""), Err(Unrepresentable::Empty));
        assert_eq!(value("a\nb"), Err(Unrepresentable::Control('\n')));
        assert_eq!(value("a\rb"), Err(Unrepresentable::Control('\r')));
        assert_eq!(value(" a"), Err(Unrepresentable::EdgeWhitespace));
        assert_eq!(value("a\u{1f}"), Err(Unrepresentable::EdgeWhitespace));
        assert_eq!(value("a ;b"), Err(Unrepresentable::InlineComment(';')));
        assert_eq!(value("a\t#b"), Err(Unrepresentable::InlineComment('#')));
        assert_eq!(
            value("x%(here)sy"),
            Err(Unrepresentable::Replaced("%(here)s"))
        );
    }

    #[test]
    fn command_words_are_single_quoted_for_shlex() {
        let argv = ["/bin/echo", "it's", "a%b"].map(String::from);
        assert_eq!(command(&argv).unwrap(), "'/bin/echo' 'it'\\''s' 'a%%b'");
        let argv = ["/bin/echo", "a ; b"].map(String::from);
        assert_eq!(command(&argv), Err(Unrepresentable::InlineComment(';')));
    }
}
