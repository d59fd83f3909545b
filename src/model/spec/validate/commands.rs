//! The commands around the main one (`pre_start`, `post_start`, `stop_exec`, `post_stop`,
//! `reload_exec`) and `exec_expand`, which turns on systemd's variable references in them and
//! in `exec`: each command is an argv checked as `exec` is, and every `$` is one systemd would
//! read the same way.

use crate::model::error::{bad, BadInput};

use super::super::daemon::{Command, Daemon};
use super::super::location::{did_you_mean, Source};
use super::super::raw::{RawService, S};
use super::process::{check_argv, check_env_name, no_nul};

/// `exec_expand`'s rules for `exec` (checked already, but not for references), then the
/// command lists, then `reload_exec` against `reload_signal`.
pub(super) fn check(
    src: &Source,
    raw: &RawService,
    exec: &[String],
    d: &mut Daemon,
) -> Result<(), BadInput> {
    if d.exec_expand {
        if exec[0].contains('$') {
            return Err(bad("systemd never expands variables in the program path")
                .at(src.label.clone())
                .key("exec[0]")
                .hint("give the program's path literally"));
        }
        for (i, arg) in exec.iter().enumerate().skip(1) {
            check_references(arg)
                .map_err(|m| bad(m).at(src.label.clone()).key(format!("exec[{i}]")))?;
        }
    }
    for (key, raw_list, out) in [
        ("pre_start", &raw.pre_start, &mut d.pre_start),
        ("post_start", &raw.post_start, &mut d.post_start),
        ("stop_exec", &raw.stop_exec, &mut d.stop_exec),
        ("post_stop", &raw.post_stop, &mut d.post_stop),
        ("reload_exec", &raw.reload_exec, &mut d.reload_exec),
    ] {
        *out = commands(src, key, raw_list, d.exec_expand)?;
    }
    if !d.reload_exec.is_empty() && raw.reload_signal.is_some() {
        let span = raw.reload_signal.as_ref().map_or(0..0, |s| s.span());
        return Err(src
            .error(span, "reload_signal", "both reload_signal and reload_exec are set")
            .hint("keep one: reload_exec = [[\"/bin/kill\", \"-HUP\", \"$MAINPID\"]] with exec_expand = true sends a signal too"));
    }
    Ok(())
}

/// The variable references systemd expands when a line has no `:` prefix: an argument that is
/// exactly `$NAME`, `${NAME}` anywhere, and `$$` for a `$`. Any other `$` reaches the program
/// unchanged; where a name follows it (`--port=$PORT`) that is never what its writer meant:
/// refused, with the fix. `$(` or `$!` pass as systemd passes them.
pub fn check_references(arg: &str) -> Result<(), String> {
    if let Some(name) = arg.strip_prefix('$') {
        if !name.starts_with(['{', '$']) {
            return check_env_name(name).map_err(|m| {
                format!("{m}: an argument `$NAME` is replaced by the variable's words")
            });
        }
    }
    let mut rest = arg;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("`{}`: `${{` without its `}}`", arg.escape_debug()))?;
            check_env_name(&braced[..end]).map_err(|m| format!("in `${{...}}`: {m}"))?;
            rest = &braced[end + 1..];
        } else if after.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`{}`: systemd expands `$NAME` only as a whole argument; write `${{NAME}}` \
                 inside an argument, or `$$` for a literal `$`",
                arg.escape_debug()
            ));
        } else {
            rest = after;
        }
    }
    Ok(())
}

/// A list of commands: each an argv list, or a table `{ exec = [...], may_fail, privileged }`.
fn commands(
    src: &Source,
    key: &str,
    raw: &Option<S<Vec<S<toml::Value>>>>,
    expand: bool,
) -> Result<Vec<Command>, BadInput> {
    let Some(list) = raw else {
        return Ok(Vec::new());
    };
    let hint = format!(
        "write {key} = [[\"/usr/bin/prog\", \"arg\"]], or {key} = [{{ exec = [\"/usr/bin/prog\"], may_fail = true }}]"
    );
    let mut out = Vec::new();
    for (i, item) in list.get_ref().iter().enumerate() {
        let at = |m: String| src.error(item.span(), &format!("{key}[{i}]"), m);
        let (argv, may_fail, privileged) = match item.get_ref() {
            toml::Value::Array(a) => (a.clone(), false, false),
            toml::Value::Table(t) => {
                let mut argv = None;
                let (mut may_fail, mut privileged) = (false, false);
                for (k, v) in t {
                    match (k.as_str(), v) {
                        ("exec", toml::Value::Array(a)) => argv = Some(a.clone()),
                        ("may_fail", toml::Value::Boolean(b)) => may_fail = *b,
                        ("privileged", toml::Value::Boolean(b)) => privileged = *b,
                        ("exec" | "may_fail" | "privileged", other) => {
                            return Err(at(format!("invalid type: {} for `{k}`", other.type_str()))
                                .hint(hint.clone()))
                        }
                        (other, _) => {
                            let known = ["exec", "may_fail", "privileged"];
                            let h = match did_you_mean(other, &known) {
                                Some(n) => format!("did you mean `{n}`?"),
                                None => "known keys here: exec, may_fail, privileged".into(),
                            };
                            return Err(at(format!("unknown key `{other}`")).hint(h));
                        }
                    }
                }
                let argv = argv
                    .ok_or_else(|| at("a command table needs `exec`".into()).hint(hint.clone()))?;
                (argv, may_fail, privileged)
            }
            other => {
                return Err(at(format!(
                    "invalid type: {}, expected a command (a list of strings)",
                    other.type_str()
                ))
                .hint(hint))
            }
        };
        let mut exec = Vec::new();
        for a in &argv {
            let s = a.as_str().ok_or_else(|| {
                at(format!("invalid type: {} in an argv", a.type_str())).hint(hint.clone())
            })?;
            no_nul(s).map_err(at)?;
            exec.push(s.to_string());
        }
        let ckey = format!("{key}[{i}]");
        check_argv(src, &ckey, &exec).map_err(|e| src.place_at(e, item.span()))?;
        if expand {
            if exec[0].contains('$') {
                return Err(at(
                    "systemd never expands variables in the program path".into()
                ));
            }
            for a in &exec[1..] {
                check_references(a).map_err(at)?;
            }
        }
        out.push(Command {
            exec,
            may_fail,
            privileged,
        });
    }
    Ok(out)
}
