//! systemd unit-file dialects (systemd.service(5), systemd.exec(5), systemd.syntax(7)), as
//! systemd 252's own parser reads them (load-fragment.c, extract-word.c, escape.c).
//!
//! Three dialects, because systemd parses settings three ways:
//! - **exec** (`ExecStart=`): split into words; a word may be quoted, and C escapes (`\\`, `\"`,
//!   `\xNN`) are decoded. Then `%` specifiers are expanded per word (`%%` is a literal `%`). At
//!   run time `$NAME` would be expanded too, except in the program path; the `:` prefix turns
//!   that off for the whole line, which is the only way to pass `$` through unchanged.
//! - **env** (`Environment=`): the same quoting, escapes and specifiers, no `$` expansion; the
//!   decoded value must be strict UTF-8 or systemd drops the assignment with a warning.
//! - **raw** (`WorkingDirectory=`, `Description=`, `StandardOutput=append:`...): taken as written
//!   after stripping white space at both ends; only `%` specifiers are expanded. There are no
//!   escapes, so control characters, edge white space and a trailing backslash (a line
//!   continuation) cannot be written at all.
//!
//! - **environment file** (`EnvironmentFile=`, env-file.c): not a unit-file line at all, so no
//!   specifiers and no C escapes. Inside double quotes only `"`, `\\`, `` ` `` and `$` take a
//!   backslash (any other backslash is kept, as a shell does), and a newline is part of the
//!   value. Values that fail the strict UTF-8 check are dropped with a warning.
//!
//! Every unit-file line must also be strict UTF-8: systemd drops a line holding a Unicode
//! noncharacter (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF).

use super::Unrepresentable;

/// systemd reads unit-file lines of at most this many bytes (LONG_LINE_MAX).
pub const LINE_MAX: usize = 1024 * 1024;

/// Whether systemd's strict UTF-8 check rejects this character.
fn is_noncharacter(c: char) -> bool {
    let n = c as u32;
    (0xFDD0..=0xFDEF).contains(&n) || (n & 0xFFFE) == 0xFFFE
}

/// A whole `ExecStart=` value: `:` (no `$` expansion), then every argument double-quoted, so
/// none is split, merged, read as a `;` separator or expanded.
pub fn exec_line(argv: &[String]) -> Result<String, Unrepresentable> {
    let (program, args) = argv.split_first().ok_or(Unrepresentable::Empty)?;
    let mut line = format!(":{}", exec_program(program)?);
    for arg in args {
        line.push(' ');
        line.push_str(&exec_arg(arg)?);
    }
    if line.len() > LINE_MAX - 64 {
        return Err(Unrepresentable::TooLong(line.len()));
    }
    Ok(line)
}

/// An `Exec*=` value with systemd's variable references left for systemd to expand (no `:`
/// prefix): every argument is still quoted, which keeps it one word but does not stop
/// expansion. The definition checked that every `$` is a reference or a `$$`.
pub fn exec_line_expanding(argv: &[String]) -> Result<String, Unrepresentable> {
    let line = exec_line(argv)?;
    Ok(line[1..].to_string())
}

/// A path in a setting systemd splits into words (`ReadWritePaths=`): a raw value that holds no
/// white space, quote or backslash, which the splitting would read.
pub fn path_word(path: &str) -> Result<String, Unrepresentable> {
    if let Some(c) = path
        .chars()
        .find(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(Unrepresentable::UnsafeInPath(c));
    }
    raw_value(path)
}

/// The program path of `ExecStart=`: systemd requires it "safe" (no control characters, quotes
/// or backslashes, even escaped) and not ending in `/`.
pub fn exec_program(path: &str) -> Result<String, Unrepresentable> {
    if let Some(c) = path
        .chars()
        .find(|c| c.is_ascii_control() || matches!(c, '"' | '\'' | '\\'))
    {
        return Err(Unrepresentable::UnsafeInPath(c));
    }
    if path.ends_with('/') {
        return Err(Unrepresentable::UnsafeInPath('/'));
    }
    if path.chars().any(is_noncharacter) {
        return Err(Unrepresentable::NotStrictUtf8);
    }
    Ok(format!("\"{}\"", path.replace('%', "%%")))
}

/// One argument after the program, for a line that carries the `:` prefix.
///
/// A noncharacter could travel as `\xNN` bytes and reach the process, but systemd then fails
/// every D-Bus property query of the unit (sd-bus checks strict UTF-8): `systemctl status`
/// answers "Invalid argument" and nothing can report on it. So it is refused.
pub fn exec_arg(arg: &str) -> Result<String, Unrepresentable> {
    if arg.chars().any(is_noncharacter) {
        return Err(Unrepresentable::NotStrictUtf8);
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for c in arg.chars() {
        push_quoted_char(&mut out, c)?;
    }
    out.push('"');
    Ok(out)
}

/// One `KEY=value` of `Environment=`, quoted. The name is checked by the spec.
pub fn env_assignment(key: &str, value: &str) -> Result<String, Unrepresentable> {
    if value.chars().any(is_noncharacter) {
        return Err(Unrepresentable::NotStrictUtf8);
    }
    let mut out = String::with_capacity(key.len() + value.len() + 3);
    out.push('"');
    for c in key.chars().chain(std::iter::once('=')).chain(value.chars()) {
        push_quoted_char(&mut out, c)?;
    }
    out.push('"');
    Ok(out)
}

/// One `KEY="VALUE"` line of an environment file (`EnvironmentFile=`), ending in a newline:
/// the value double-quoted, which keeps every byte (newlines, edge white space, `#`, `'`), with
/// a backslash before exactly the four characters that take one there.
pub fn env_file_line(key: &str, value: &str) -> Result<String, Unrepresentable> {
    if value.contains('\0') {
        return Err(Unrepresentable::Nul);
    }
    if value.chars().any(is_noncharacter) {
        return Err(Unrepresentable::NotStrictUtf8);
    }
    let mut out = String::with_capacity(key.len() + value.len() + 4);
    out.push_str(key);
    out.push_str("=\"");
    for c in value.chars() {
        if matches!(c, '"' | '\\' | '`' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push_str("\"\n");
    Ok(out)
}

/// A value systemd reads raw: only `%` needs escaping, and what cannot be written is refused.
pub fn raw_value(value: &str) -> Result<String, Unrepresentable> {
    if value.is_empty() {
        return Err(Unrepresentable::Empty);
    }
    if value.contains('\0') {
        return Err(Unrepresentable::Nul);
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(Unrepresentable::Control(c));
    }
    if value.chars().any(is_noncharacter) {
        return Err(Unrepresentable::NotStrictUtf8);
    }
    if value.ends_with('\\') {
        return Err(Unrepresentable::TrailingBackslash);
    }
    if value.starts_with(char::is_whitespace) || value.ends_with(char::is_whitespace) {
        return Err(Unrepresentable::EdgeWhitespace);
    }
    Ok(value.replace('%', "%%"))
}

/// Inside double quotes: `\` and `"` escaped, `%` doubled, control characters as C escapes
/// (a raw newline would end the line).
fn push_quoted_char(out: &mut String, c: char) -> Result<(), Unrepresentable> {
    match c {
        '\0' => return Err(Unrepresentable::Nul),
        '\\' => out.push_str("\\\\"),
        '"' => out.push_str("\\\""),
        '%' => out.push_str("%%"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() => push_bytes_escaped(out, c),
        c => out.push(c),
    }
    Ok(())
}

/// `\xNN` for every UTF-8 byte of `c`.
fn push_bytes_escaped(out: &mut String, c: char) {
    let mut buf = [0u8; 4];
    for byte in c.encode_utf8(&mut buf).bytes() {
        out.push_str(&format!("\\x{byte:02x}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(argv: &[&str]) -> Result<String, Unrepresentable> {
        exec_line(&argv.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn an_environment_file_line_keeps_every_byte_in_double_quotes() {
        assert_eq!(env_file_line("A", "").unwrap(), "A=\"\"\n");
        assert_eq!(
            env_file_line("A", " $HOME `x` \"q\" \\n 100% ' # ; ").unwrap(),
            "A=\" \\$HOME \\`x\\` \\\"q\\\" \\\\n 100% ' # ; \"\n"
        );
        assert_eq!(
            env_file_line("A", "two\nlines\r").unwrap(),
            "A=\"two\nlines\r\"\n"
        );
        assert!(env_file_line("A", "\u{fdd0}").is_err());
        assert!(env_file_line("A", "nul\0").is_err());
    }

    #[test]
    fn exec_quotes_every_argument_and_turns_off_variable_expansion() {
        assert_eq!(
            line(&["/bin/echo", "a b", ""]).unwrap(),
            r#":"/bin/echo" "a b" """#
        );
        assert_eq!(line(&["/bin/echo", ";"]).unwrap(), r#":"/bin/echo" ";""#);
        assert_eq!(
            line(&["/bin/echo", "$HOME", "${X}", "$"]).unwrap(),
            r#":"/bin/echo" "$HOME" "${X}" "$""#
        );
    }

    #[test]
    fn exec_escapes_specifiers_quotes_backslashes_and_controls() {
        assert_eq!(exec_arg("100%").unwrap(), r#""100%%""#);
        assert_eq!(exec_arg("%i").unwrap(), r#""%%i""#);
        assert_eq!(exec_arg(r#"say "hi""#).unwrap(), r#""say \"hi\"""#);
        assert_eq!(exec_arg(r"C:\dir\").unwrap(), r#""C:\\dir\\""#);
        assert_eq!(exec_arg("a\nb\tc\rd").unwrap(), r#""a\nb\tc\x0dd""#);
        assert_eq!(exec_arg("\u{1b}[0m\u{7f}").unwrap(), r#""\x1b[0m\x7f""#);
        assert_eq!(exec_arg("single ' quote").unwrap(), "\"single ' quote\"");
        assert_eq!(
            exec_arg("# ; not a comment").unwrap(),
            "\"# ; not a comment\""
        );
    }

    #[test]
    fn exec_keeps_text_but_refuses_noncharacters() {
        assert_eq!(exec_arg("héllo wörld ✓").unwrap(), "\"héllo wörld ✓\"");
        assert_eq!(exec_arg("\u{fdd0}"), Err(Unrepresentable::NotStrictUtf8));
        assert_eq!(exec_arg("\u{10fffe}"), Err(Unrepresentable::NotStrictUtf8));
    }

    #[test]
    fn exec_refuses_what_systemd_cannot_run() {
        assert_eq!(exec_arg("a\0b"), Err(Unrepresentable::Nul));
        assert_eq!(
            line(&["/opt/a\"b"]),
            Err(Unrepresentable::UnsafeInPath('"'))
        );
        assert_eq!(
            line(&["/opt/a\\b"]),
            Err(Unrepresentable::UnsafeInPath('\\'))
        );
        assert_eq!(
            line(&["/opt/dir/"]),
            Err(Unrepresentable::UnsafeInPath('/'))
        );
        assert_eq!(line(&[]), Err(Unrepresentable::Empty));
        let huge = ["/bin/echo".to_string(), "x".repeat(LINE_MAX)];
        assert!(matches!(exec_line(&huge), Err(Unrepresentable::TooLong(_))));
    }

    #[test]
    fn exec_program_keeps_spaces_and_dollars_but_doubles_percent() {
        assert_eq!(
            exec_program("/opt/my app/$bin%").unwrap(),
            "\"/opt/my app/$bin%%\""
        );
    }

    #[test]
    fn env_keeps_dollar_literal_but_escapes_specifiers() {
        assert_eq!(
            env_assignment("A", "$HOME 100%").unwrap(),
            r#""A=$HOME 100%%""#
        );
        assert_eq!(env_assignment("A", "").unwrap(), r#""A=""#);
        assert_eq!(
            env_assignment("A", "x=y \"q\" \\").unwrap(),
            r#""A=x=y \"q\" \\""#
        );
        assert_eq!(
            env_assignment("A", "line1\nline2").unwrap(),
            r#""A=line1\nline2""#
        );
        assert_eq!(env_assignment("A", "\0"), Err(Unrepresentable::Nul));
        assert_eq!(
            env_assignment("A", "\u{ffff}"),
            Err(Unrepresentable::NotStrictUtf8)
        );
    }

    #[test]
    fn raw_values_escape_percent_and_refuse_what_they_cannot_carry() {
        assert_eq!(raw_value("/srv/my app/50%").unwrap(), "/srv/my app/50%%");
        assert_eq!(raw_value("/srv/\"q\"/$x").unwrap(), "/srv/\"q\"/$x");
        assert_eq!(raw_value("a\nb"), Err(Unrepresentable::Control('\n')));
        assert_eq!(
            raw_value("/srv/dir\\"),
            Err(Unrepresentable::TrailingBackslash)
        );
        assert_eq!(raw_value("/srv/dir "), Err(Unrepresentable::EdgeWhitespace));
        assert_eq!(raw_value(" x"), Err(Unrepresentable::EdgeWhitespace));
        assert_eq!(raw_value(""), Err(Unrepresentable::Empty));
    }
}
