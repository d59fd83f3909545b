//! Where a complaint points: a byte offset or a key path (`exec[1]`, `services.web.env.A`)
//! turned into `file:line:column`, and the TOML parser's own errors given a key and a hint.

use std::ops::Range;
use std::path::PathBuf;

use crate::model::error::{bad, BadInput};

use super::model::Service;

/// The text being parsed and what to call it in messages.
pub struct Source<'a> {
    /// `demo.toml`, or `<command line>` for the quick form.
    pub label: String,
    pub text: &'a str,
    pub path: Option<PathBuf>,
}

impl Source<'_> {
    /// `label:line:col` of a byte offset (1-based, columns in characters).
    pub(super) fn locate(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("{}:{}:{}", self.label, line, col)
    }

    pub(super) fn error(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> BadInput {
        bad(message).at(self.locate(span.start)).key(key)
    }

    /// Gives a complaint that names only the file the line of `span`.
    pub(super) fn place_at(&self, mut err: BadInput, span: Range<usize>) -> BadInput {
        if err.location.as_deref().is_none_or(|l| l == self.label) {
            err.location = Some(self.locate(span.start));
        }
        err
    }

    /// The key on the line of `offset` (`key = value`), under the `[table]` it is in
    /// (`env.A`), for messages from the TOML parser.
    fn key_on_line(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[start..].lines().next()?;
        let (key, _) = line.split_once('=')?;
        let key = key.trim().trim_matches('"');
        if key.is_empty() || key.starts_with('[') {
            return None;
        }
        let table = self.text[..start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('[') && !l.starts_with("[["))
            .map(|l| l.trim_start_matches('[').trim_end_matches(']').trim());
        Some(match table {
            Some(t) if !t.is_empty() => format!("{t}.{key}"),
            _ => key.to_string(),
        })
    }
}

impl Source<'_> {
    /// `label:line:col` of the value `key` names (`exec[1]`, `env.FOO`, `log.file`; the last
    /// part may list alternatives, `services.a.after/requires`), or of the innermost enclosing
    /// value the file has (the `[log]` that lacks `file`). For complaints made after parsing,
    /// when the spans are gone.
    pub fn locate_key(&self, key: &str) -> Option<String> {
        let doc = toml::de::DeTable::parse(self.text).ok()?;
        let (stem, last) = match key.rsplit_once('.') {
            Some((stem, last)) => (format!("{stem}."), last),
            None => (String::new(), key),
        };
        let found: Vec<(bool, Range<usize>)> = last
            .split('/')
            .filter_map(|alt| find_value(doc.get_ref(), &format!("{stem}{alt}")))
            .collect();
        let (_, span) = found
            .iter()
            .find(|(whole, _)| *whole)
            .or(found.first())?
            .clone();
        Some(self.locate(span.start))
    }

    /// Gives a complaint without a line (made after parsing) the line of its key; `prefix`
    /// leads to the service's table (`services.NAME.`) in a file of several.
    pub(super) fn place(&self, mut err: BadInput, prefix: &str) -> BadInput {
        let unplaced = err.location.as_deref().is_none_or(|l| l == self.label);
        if let (true, Some(key)) = (unplaced, &err.key) {
            let key = match key.starts_with("services.") {
                true => key.clone(),
                false => format!("{prefix}{key}"),
            };
            err.location = Some(self.locate_key(&key).unwrap_or_else(|| self.label.clone()));
        }
        err
    }
}

/// The span of the value at `key` (`a.b[2].c`): whether the whole key was found, and the span
/// of the innermost value reached. Table keys may hold dots (service names do): the longest
/// key that fits is taken.
fn find_value(table: &toml::de::DeTable, key: &str) -> Option<(bool, Range<usize>)> {
    let (name, value) = table
        .iter()
        .filter(|(k, _)| {
            let k: &str = k.get_ref();
            key == k
                || key
                    .strip_prefix(k)
                    .is_some_and(|rest| rest.starts_with(['.', '[']))
        })
        .max_by_key(|(k, _)| k.get_ref().len())?;
    let mut rest = &key[name.get_ref().len()..];
    let mut value = value;
    while let Some(after) = rest.strip_prefix('[') {
        let (index, tail) = after.split_once(']')?;
        let item = index
            .parse::<usize>()
            .ok()
            .and_then(|i| value.get_ref().as_array()?.get(i));
        match item {
            Some(item) => value = item,
            None => return Some((false, value.span())),
        }
        rest = tail;
    }
    match rest.strip_prefix('.') {
        None => Some((rest.is_empty(), value.span())),
        Some(inner) => match value.get_ref().as_table() {
            Some(t) => find_value(t, inner).or(Some((false, value.span()))),
            None => Some((false, value.span())),
        },
    }
}

/// Where `err`, a backend's refusal of a value (it names the key, not the line), sits in the
/// definition file `service` was read from.
pub fn place_in_definition(service: &Service, err: BadInput) -> BadInput {
    let Some(path) = &service.source else {
        return err;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return err;
    };
    let src = Source {
        label: path.display().to_string(),
        text: &text,
        path: None,
    };
    let in_project = text
        .lines()
        .any(|l| l.trim_start().starts_with("[services."));
    let prefix = match in_project {
        true => format!("services.{}.", service.name),
        false => String::new(),
    };
    src.place(err, &prefix)
}

/// Turns a serde/TOML error into a located message, with a suggestion for a misspelt key.
pub(super) fn toml_error(src: &Source, err: toml::de::Error) -> BadInput {
    let message = err.message().trim().to_string();
    let offset = err.span().map_or(0, |s| s.start);
    let mut out = bad(message.clone()).at(src.locate(offset));
    if let Some(unknown) = message
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
    {
        let expected: Vec<&str> = message
            .split_once("expected")
            .map(|(_, list)| list.split('`').skip(1).step_by(2).collect())
            .unwrap_or_default();
        out = out.key(unknown);
        out.message = format!("unknown key `{unknown}`");
        out.hint = Some(match did_you_mean(unknown, &expected) {
            Some(near) => format!("did you mean `{near}`?"),
            None => format!("known keys here: {}", expected.join(", ")),
        });
    } else if let Some(key) = src.key_on_line(offset) {
        out = out.key(key);
    }
    if out.message.starts_with("invalid type") {
        out.hint =
            Some("check the value's type: strings are quoted, lists are [\"a\", \"b\"]".into());
    }
    out
}

/// The closest candidate within a small edit distance.
pub fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    // A cut-short word (`on-fail`) is as likely a slip as a typo.
    if word.len() >= 3 {
        if let Some(c) = candidates.iter().find(|c| c.starts_with(word)) {
            return Some(c);
        }
    }
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
