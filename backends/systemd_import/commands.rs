//! The `Exec*=` lines: their prefixes (`-` may fail, `+` privileged, `:` no expansion; `@`,
//! `!` and `!!` have no portable meaning and are refused), their words, and the `$` doubling a
//! definition with `exec_expand` needs so that it means what systemd read.

use super::Importer;
use crate::dialect::unit_file::{self, Setting};
use crate::model::spec::check_references;

impl Importer {
    pub(super) fn exec_line(&mut self, s: &Setting, target: &'static str) {
        let Some(v) = self.specifiers(s, &s.value) else {
            return;
        };
        let mut rest = v.as_str();
        let (mut may_fail, mut privileged, mut no_expand) = (false, false, false);
        loop {
            if let Some(r) = rest.strip_prefix("!!") {
                self.lose(s.line, &s.key, "the `!!` prefix (privileges kept where ambient capabilities are missing) has no portable equivalent");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('!') {
                self.lose(s.line, &s.key, "the `!` prefix (run as root while User= sets up the rest) has no portable equivalent");
                rest = r;
            } else if let Some(r) = rest.strip_prefix('@') {
                self.lose(
                    s.line,
                    &s.key,
                    "the `@` prefix (an argv[0] other than the program) has no portable equivalent",
                );
                rest = r;
            } else if let Some(r) = rest.strip_prefix('-') {
                may_fail = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix('+') {
                privileged = true;
                rest = r;
            } else if let Some(r) = rest.strip_prefix(':') {
                no_expand = true;
                rest = r;
            } else {
                break;
            }
        }
        let words = match unit_file::words(rest) {
            Ok(w) => w,
            Err(why) => return self.lose(s.line, &s.key, why),
        };
        let Some(argv) = words.into_iter().collect::<Option<Vec<String>>>() else {
            return self.lose(
                s.line,
                &s.key,
                "several commands on one line (`;`) have no portable equivalent",
            );
        };
        if argv.is_empty() {
            return self.lose(s.line, &s.key, "an empty command");
        }
        if target == "exec" {
            if may_fail {
                self.lose(s.line, &s.key, "the `-` prefix on the main command (any exit is success) has no portable equivalent");
            }
            if privileged {
                self.lose(
                    s.line,
                    &s.key,
                    "the `+` prefix on the main command has no portable equivalent",
                );
            }
            if self.commands.iter().any(|c| c.1 == "exec") {
                self.lose(
                    s.line,
                    &s.key,
                    "several ExecStart= lines have no portable equivalent",
                );
            }
        }
        let flags = (may_fail, privileged);
        let marker = if flags.0 { "-" } else { "" }.to_string() + if flags.1 { "+" } else { "" };
        self.commands
            .push((s.line, target, marker, argv, no_expand));
    }
}

/// The words of a command for a definition with `exec_expand`: from a `:` line every `$` is
/// doubled (it was literal); otherwise a `$` systemd leaves alone (inside a word, not `${`) is
/// doubled, and the references stay.
pub(super) fn expanded(argv: Vec<String>, no_expand: bool) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for (i, word) in argv.into_iter().enumerate() {
        if no_expand || i == 0 {
            if i == 0 && word.contains('$') {
                return Err("a `$` in the program path of a line with variable references".into());
            }
            out.push(word.replace('$', "$$"));
            continue;
        }
        let whole = word.starts_with('$') && !word[1..].starts_with(['{', '$']);
        let w = if whole {
            word
        } else {
            let mut w = String::new();
            let mut rest = word.as_str();
            while let Some(p) = rest.find('$') {
                w.push_str(&rest[..p]);
                let after = &rest[p + 1..];
                if let Some(tail) = after.strip_prefix('$') {
                    w.push_str("$$");
                    rest = tail;
                } else if after.starts_with('{') {
                    let end = after.find('}').map_or(after.len(), |e| e + 1);
                    w.push('$');
                    w.push_str(&after[..end]);
                    rest = &after[end..];
                } else if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
                    // `--port=$PORT`: literal to systemd, written `$$` so no one reads it as a
                    // reference (systemctl show then prints `$$`; the process gets `$`).
                    w.push_str("$$");
                    rest = after;
                } else {
                    // `$(`, `$!`: literal to systemd, and to svc-any's check.
                    w.push('$');
                    rest = after;
                }
            }
            w.push_str(rest);
            w
        };
        check_references(&w).map_err(|m| format!("{m} (systemd reads it so)"))?;
        out.push(w);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::backends::systemd_import::import;

    #[test]
    fn a_prefix_without_a_portable_meaning_is_refused_with_its_line() {
        let unit = "[Service]\nUser=_chrony\nExecStart=!/usr/sbin/chronyd $DAEMON_OPTS\nExecStartPre=@/bin/true true-ish\n[Install]\nWantedBy=multi-user.target\n";
        let losses = import("chrony.service", unit, &[]).unwrap_err();
        assert_eq!(losses.len(), 2, "{losses:?}");
        assert_eq!((losses[0].line, losses[0].key.as_str()), (3, "ExecStart"));
        assert!(losses[0].why.contains("`!`"));
        assert_eq!(losses[1].line, 4);
        assert!(losses[1].why.contains("`@`"));
    }

    #[test]
    fn every_prefix_is_carried_or_refused_by_its_meaning() {
        let unit = "[Service]\nExecStart=:/bin/echo $HOME 100%%\nExecStartPre=-+/bin/true\nExecStopPost=+-:/bin/echo $X\n[Install]\nWantedBy=multi-user.target\n";
        let i = import("p.service", unit, &[]).unwrap();
        // `:` lines are exact bytes: with no expanding line, no exec_expand.
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec!["/bin/echo".into(), "$HOME".into(), "100%".into()])
        );
        assert!(!i.table.contains_key("exec_expand"));
        let pre = &i.table["pre_start"].as_array().unwrap()[0];
        assert_eq!(pre["may_fail"].as_bool(), Some(true));
        assert_eq!(pre["privileged"].as_bool(), Some(true));
        for bad in ["!!/bin/true", "-/bin/true"] {
            let u = format!("[Service]\nExecStart={bad}\n[Install]\nWantedBy=multi-user.target\n");
            assert!(import("p.service", &u, &[]).is_err(), "{bad}");
        }
        // Mixed: the `:` line's `$` is doubled once another line expands.
        let unit = "[Service]\nExecStart=:/bin/echo $HOME\nExecReload=/bin/kill -HUP $MAINPID\nExecStop=/bin/echo a$b\n[Install]\nWantedBy=multi-user.target\n";
        let i = import("p.service", unit, &[]).unwrap();
        assert_eq!(
            i.table["exec"],
            toml::Value::Array(vec!["/bin/echo".into(), "$$HOME".into()])
        );
        assert_eq!(
            i.table["stop_exec"].as_array().unwrap()[0],
            toml::Value::Array(vec!["/bin/echo".into(), "a$$b".into()])
        );
    }
}
