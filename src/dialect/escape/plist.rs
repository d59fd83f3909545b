//! XML property lists (launchd.plist(5)), as the `plist` crate writes them.
//!
//! The crate writes every string as escaped XML text, so `<`, `&`, quotes and white space are
//! its business. What no XML 1.0 document can carry is this module's: NUL and the other C0
//! control characters (not even as `&#1;`), U+FFFE and U+FFFF, and a carriage return, which every
//! XML parser (launchd's included) reads back as a line feed unless it is written as a character
//! reference, which the crate does not do. Such a value is refused, never written changed.

use super::Unrepresentable;

/// Checks that `value` survives a trip through an XML plist byte for byte.
pub fn check(value: &str) -> Result<(), Unrepresentable> {
    for c in value.chars() {
        match c {
            '\0' => return Err(Unrepresentable::Nul),
            '\t' | '\n' => {}
            c if c.is_control() && (c as u32) < 0x20 => return Err(Unrepresentable::Control(c)),
            '\u{7f}'..='\u{9f}' => {}
            '\u{fffe}' | '\u{ffff}' => return Err(Unrepresentable::NotXmlChar(c)),
            _ => {}
        }
    }
    Ok(())
}

/// `text` as the inside of an XML comment: a comment may not hold `--` nor end in `-`, so a
/// space goes between such hyphens. Comments are for people; only the marker words must stay.
pub fn comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if c == '-' && out.ends_with('-') {
            out.push(' ');
        }
        out.push(c);
    }
    if out.ends_with('-') {
        out.push(' ');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_xml_carries_passes() {
        for ok in [
            "",
            "plain",
            " edges ",
            "tab\tand\nnewline",
            "<&>\"'",
            "]]>",
            "naïve ☃ 𝄞",
            "\u{85}\u{7f}",
            "$HOME %i `x`",
        ] {
            assert_eq!(check(ok), Ok(()), "{ok:?}");
        }
    }

    #[test]
    fn bytes_xml_cannot_carry_are_refused() {
        assert_eq!(check("a\0b"), Err(Unrepresentable::Nul));
        assert_eq!(check("a\rb"), Err(Unrepresentable::Control('\r')));
        assert_eq!(check("\u{1b}[0m"), Err(Unrepresentable::Control('\u{1b}')));
        assert_eq!(
            check("x\u{fffe}"),
            Err(Unrepresentable::NotXmlChar('\u{fffe}'))
        );
    }

    #[test]
    fn comments_never_hold_a_double_hyphen() {
        for text in ["a--b", "---", "ends-", "svc-any install x--y", "-"] {
            let c = comment(text);
            assert!(!c.contains("--") && !c.ends_with('-'), "{text:?} -> {c:?}");
            assert_eq!(c.replace(' ', ""), text.replace(' ', ""));
        }
    }
}
