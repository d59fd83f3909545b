//! `exec_expand = true`: systemd's variable references in a command's arguments, expanded
//! here for the managers that do not expand them themselves (svc-any's supervisor, and so
//! SysV). One implementation of one dialect, written from systemd 252's own code
//! (`replace_env_argv` and `replace_env_n` in src/basic/env-util.c, the value split by
//! `strv_split_full` with `EXTRACT_RELAX|EXTRACT_UNQUOTE` in src/basic/extract-word.c) and
//! checked against systemd 252 running the same arguments (tests/fidelity_escapers.rs).
//!
//! systemd expands after it has split the unit file's line into words, and from the process's
//! final environment (what execve gets: `Environment=`, `EnvironmentFile=`, and what the
//! manager sets, `MAINPID` among it). Word by word:
//!
//! - A word that begins with `$` and whose second byte is neither `{` nor `$` (a bare `$`
//!   included) names a variable with all the rest of the word: it is replaced by that
//!   variable's value split into words, or by no word at all when it is unset. The split is
//!   at spaces, tabs, newlines and carriage returns, runs of them counting as one, with shell-like
//!   quoting undone: `"a b"` and `'a b'` are one word without their quotes, a backslash
//!   takes the next byte literally (inside quotes too), an unclosed quote runs to the end,
//!   and a trailing backslash is dropped. An empty value, or one of white space only, is no
//!   word; `""` is one empty word.
//! - Any other word is one word, in which `${NAME}` is replaced by the exact value (nothing
//!   when unset) and `$$` by `$`. Nothing else is special: `$NAME` inside a word, `$(`,
//!   `${NAME:-x}` (systemd 252 reads the `:` as unsupported syntax and leaves the whole
//!   reference as written), and a `${` never closed stay literal.
//!
//! systemd drops every variable whose name is not a valid one (letters, digits and `_`, not
//! starting with a digit) from the environment before it expands, so a reference by any
//! other name (`$A-B`, `${}`, `${A B}`) finds nothing; here such a name is never looked up,
//! whatever the environment given holds.

/// Expands `argv` by systemd's rules, `lookup` giving a variable's value. The result may have
/// more or fewer words than `argv`.
pub fn expand_argv<'e>(argv: &[String], lookup: impl Fn(&str) -> Option<&'e str>) -> Vec<String> {
    let get = |name: &str| is_valid_name(name).then(|| lookup(name)).flatten();
    let mut out = Vec::with_capacity(argv.len());
    for word in argv {
        match whole_word_reference(word) {
            Some(name) => out.extend(get(name).map(split_value).unwrap_or_default()),
            None => out.push(expand_word(word, get)),
        }
    }
    out
}

/// The name of a word that is one reference to be split (`$NAME`, and a bare `$`, whose name
/// is empty); `None` for every other word.
fn whole_word_reference(word: &str) -> Option<&str> {
    let rest = word.strip_prefix('$')?;
    (!rest.starts_with(['{', '$'])).then_some(rest)
}

/// One word with `${NAME}` replaced by the value as it is and `$$` by `$` (systemd's
/// `replace_env` without its extensions).
fn expand_word<'e>(word: &str, lookup: impl Fn(&str) -> Option<&'e str>) -> String {
    #[derive(Clone, Copy)]
    enum State {
        /// Plain text.
        Text,
        /// Just after a `$`.
        Dollar,
        /// Inside `${`, the reference beginning at this byte (its `$`).
        Name(usize),
    }
    let bytes = word.as_bytes();
    let mut out = String::with_capacity(word.len());
    // The start of the text not yet copied to `out`. Every index it takes is next to an ASCII
    // byte (`$`, `{`, `}`), so slicing there never splits a character.
    let mut pending = 0;
    let mut state = State::Text;
    for (i, &b) in bytes.iter().enumerate() {
        state = match (state, b) {
            (State::Text, b'$') => State::Dollar,
            (State::Text, _) => State::Text,
            (State::Dollar, b'{') => {
                out.push_str(&word[pending..i - 1]);
                pending = i - 1;
                State::Name(i - 1)
            }
            (State::Dollar, b'$') => {
                // The first `$` is kept, the second dropped.
                out.push_str(&word[pending..i]);
                pending = i + 1;
                State::Text
            }
            (State::Dollar, _) => State::Text,
            (State::Name(start), b'}') => {
                out.push_str(lookup(&word[start + 2..i]).unwrap_or_default());
                pending = i + 1;
                State::Text
            }
            // `${NAME:-default}` and its kin: not read in ExecStart=; all of it stays.
            (State::Name(_), b':') => State::Text,
            (state @ State::Name(_), _) => state,
        };
    }
    out.push_str(&word[pending..]);
    out
}

/// A value split into words as systemd splits the value of a whole-word `$NAME`.
fn split_value(value: &str) -> Vec<String> {
    const SEPARATORS: [char; 4] = [' ', '\t', '\n', '\r'];
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.next_if(|c| SEPARATORS.contains(c)).is_some() {}
        if chars.peek().is_none() {
            return words;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        loop {
            let Some(c) = chars.next() else {
                // The end, even inside quotes or after a backslash (which is dropped).
                words.push(word);
                return words;
            };
            match (quote, c) {
                (_, '\\') => match chars.next() {
                    Some(escaped) => word.push(escaped),
                    None => {
                        words.push(word);
                        return words;
                    }
                },
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => word.push(c),
                (None, '"' | '\'') => quote = Some(c),
                (None, c) if SEPARATORS.contains(&c) => break,
                (None, c) => word.push(c),
            }
        }
        words.push(word);
    }
}

/// A name systemd keeps in an environment: ASCII letters, digits and `_`, not starting with a
/// digit.
fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(&'static str, &'static str)> {
        vec![
            ("A", "one  two\tthree\nfour\r"),
            ("EMPTY", ""),
            ("BLANK", " \t "),
            ("Q", "\"a b\" 'c  d' e\\ f g\"h i\"j"),
            ("X", "x"),
            ("_9", "nine"),
            ("DOLLAR", "$X ${X} $$"),
        ]
    }

    fn expand(argv: &[&str]) -> Vec<String> {
        let env = env();
        let argv: Vec<String> = argv.iter().map(|a| a.to_string()).collect();
        expand_argv(&argv, |name| {
            env.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v)
        })
    }

    #[test]
    fn a_whole_word_reference_is_the_value_split_at_white_space() {
        assert_eq!(
            expand(&["/bin/p", "$A", "end"]),
            ["/bin/p", "one", "two", "three", "four", "end"]
        );
        assert_eq!(expand(&["$X"]), ["x"]);
        assert_eq!(expand(&["$_9"]), ["nine"]);
    }

    #[test]
    fn an_unset_empty_or_blank_whole_word_reference_is_no_word() {
        assert_eq!(
            expand(&["p", "$UNSET", "$EMPTY", "$BLANK", "q"]),
            ["p", "q"]
        );
    }

    #[test]
    fn the_split_undoes_quotes_and_backslashes() {
        assert_eq!(expand(&["$Q"]), ["a b", "c  d", "e f", "gh ij"]);
        let split = |v: &str| split_value(v);
        assert_eq!(split("\"\""), [""]);
        assert_eq!(split("a \"\" b"), ["a", "", "b"]);
        assert_eq!(split("'it''s'"), ["its"]);
        assert_eq!(
            split("'a\\'b'"),
            ["a'b"],
            "a backslash escapes inside quotes too"
        );
        assert_eq!(split("\"open ended"), ["open ended"]);
        assert_eq!(split("trailing\\"), ["trailing"]);
        assert_eq!(split("\\"), [""]);
        assert_eq!(split("a\\ b\\\\c"), ["a b\\c"]);
        assert_eq!(
            split("\u{b}v\u{c}"),
            ["\u{b}v\u{c}"],
            "only space, tab, CR, LF split"
        );
        assert_eq!(split("héllo wörld"), ["héllo", "wörld"]);
    }

    #[test]
    fn a_braced_reference_is_the_exact_value_inside_one_word() {
        assert_eq!(expand(&["${A}"]), ["one  two\tthree\nfour\r"]);
        assert_eq!(expand(&["${X}y", "y${X}", "${X}${X}"]), ["xy", "yx", "xx"]);
        assert_eq!(
            expand(&["${EMPTY}", "${UNSET}", "a${UNSET}b"]),
            ["", "", "ab"]
        );
        assert_eq!(
            expand(&["--opt=${Q}"]),
            ["--opt=\"a b\" 'c  d' e\\ f g\"h i\"j"],
            "no split, no unquoting"
        );
    }

    #[test]
    fn a_double_dollar_is_one_dollar_and_values_are_not_expanded_again() {
        assert_eq!(
            expand(&["$$", "$$X", "a$$b", "$$$$", "x$$"]),
            ["$", "$X", "a$b", "$$", "x$"]
        );
        assert_eq!(expand(&["${DOLLAR}"]), ["$X ${X} $$"]);
        assert_eq!(expand(&["$DOLLAR"]), ["$X", "${X}", "$$"]);
        assert_eq!(expand(&["$$${X}"]), ["$x"]);
    }

    #[test]
    fn what_systemd_leaves_alone_stays_as_written() {
        assert_eq!(
            expand(&[
                "x$X",
                "--p=$X",
                "a$(date)",
                "a$!",
                "end$",
                "${X",
                "a${X:-d}b",
                "${X:+y}"
            ]),
            [
                "x$X",
                "--p=$X",
                "a$(date)",
                "a$!",
                "end$",
                "${X",
                "a${X:-d}b",
                "${X:+y}"
            ]
        );
        // After an unread `${...:`, the rest is text again.
        assert_eq!(expand(&["${X:-d}${X}"]), ["${X:-d}x"]);
        assert_eq!(expand(&["${X}}"]), ["x}"]);
    }

    #[test]
    fn a_name_systemd_would_not_keep_finds_nothing() {
        let weird = [("A-B", "v"), ("1A", "v"), ("", "v"), ("A B", "v")];
        // A whole word that begins with `$` is a name, whatever follows: `$(date)` too.
        let argv: Vec<String> = [
            "$A-B", "$1A", "$", "$(date)", "${}", "${A B}", "<${A-B}>", "${A${X}}",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let got = expand_argv(&argv, |name| {
            weird.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        });
        assert_eq!(got, ["", "", "<>", "}"]);
    }

    #[test]
    fn words_without_references_are_unchanged() {
        let argv = ["/usr/sbin/sshd", "-D", "", "naïve {}", "100%", "}{"];
        assert_eq!(expand(&argv), argv);
    }
}
