//! The YAML the exporters write: a small tree, emitted by libyaml's own emitter (the safe Rust
//! port `libyaml-safer`).
//!
//! Every string value is emitted double-quoted. A plain scalar means different things to
//! different readers: `no`, `on`, `y` are booleans and `1_000` or `12:30` numbers to YAML 1.1
//! readers (PyYAML, so podman-compose; go-yaml v2, so Kubernetes), while YAML 1.2 readers see
//! strings. A double-quoted scalar is a string to all of them, and libyaml escapes inside it
//! what a reader would otherwise fold or refuse (line breaks, NEL, U+2028/2029, C0 and C1
//! controls, a byte-order mark), so every value reads back byte for byte.

use libyaml_safer::{Emitter, Encoding, Event, MappingStyle, ScalarStyle, SequenceStyle};

/// One node of a document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Bool(bool),
    Seq(Vec<Node>),
    /// Keys in the order given.
    Map(Vec<(String, Node)>),
}

impl Node {
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    pub fn strs<I: IntoIterator<Item = S>, S: Into<String>>(items: I) -> Node {
        Node::Seq(items.into_iter().map(|s| Node::Str(s.into())).collect())
    }
}

/// Builds a mapping in order: `map().put("a", x).put("b", y).node()`.
#[derive(Debug, Default, Clone)]
pub struct MapBuilder(Vec<(String, Node)>);

pub fn map() -> MapBuilder {
    MapBuilder::default()
}

impl MapBuilder {
    pub fn put(mut self, key: &str, value: impl Into<Node>) -> Self {
        self.0.push((key.to_string(), value.into()));
        self
    }

    pub fn put_opt(self, key: &str, value: Option<impl Into<Node>>) -> Self {
        match value {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    pub fn push(&mut self, key: &str, value: impl Into<Node>) {
        self.0.push((key.to_string(), value.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn node(self) -> Node {
        Node::Map(self.0)
    }
}

impl From<MapBuilder> for Node {
    fn from(m: MapBuilder) -> Node {
        m.node()
    }
}

impl From<&str> for Node {
    fn from(s: &str) -> Node {
        Node::Str(s.to_string())
    }
}

impl From<String> for Node {
    fn from(s: String) -> Node {
        Node::Str(s)
    }
}

impl From<&String> for Node {
    fn from(s: &String) -> Node {
        Node::Str(s.clone())
    }
}

impl From<i64> for Node {
    fn from(n: i64) -> Node {
        Node::Int(n)
    }
}

impl From<u32> for Node {
    fn from(n: u32) -> Node {
        Node::Int(n.into())
    }
}

impl From<u16> for Node {
    fn from(n: u16) -> Node {
        Node::Int(n.into())
    }
}

impl From<bool> for Node {
    fn from(b: bool) -> Node {
        Node::Bool(b)
    }
}

impl From<Vec<Node>> for Node {
    fn from(v: Vec<Node>) -> Node {
        Node::Seq(v)
    }
}

/// A key is written plain only when every YAML reader takes it as the same string: ASCII
/// letters, digits and `_ . / -`, starting with a letter, and none of YAML 1.1's boolean or
/// null words. Anything else (an environment variable named `on`, say) is double-quoted.
fn plain_key(key: &str) -> bool {
    const WORDS: &[&str] = &["y", "yes", "n", "no", "true", "false", "on", "off", "null"];
    key.starts_with(|c: char| c.is_ascii_alphabetic())
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./-".contains(c))
        && !WORDS.contains(&key.to_ascii_lowercase().as_str())
}

/// Emits `documents` as one YAML stream; with more than one, each starts with `---`.
pub fn to_string(documents: &[Node]) -> String {
    let mut out = Vec::new();
    {
        let mut e = Emitter::new();
        e.set_output_string(&mut out);
        e.set_unicode(true);
        // No folding of long values across lines: one value, one line.
        e.set_width(-1);
        let ok = emit_stream(&mut e, documents);
        // libyaml refuses only events out of order, which this module never makes.
        ok.expect("the YAML events are well formed");
    }
    String::from_utf8(out).expect("libyaml writes UTF-8")
}

fn emit_stream(e: &mut Emitter, documents: &[Node]) -> Result<(), libyaml_safer::Error> {
    e.emit(Event::stream_start(Encoding::Utf8))?;
    for doc in documents {
        e.emit(Event::document_start(None, &[], documents.len() == 1))?;
        emit(e, doc)?;
        e.emit(Event::document_end(true))?;
    }
    e.emit(Event::stream_end())?;
    e.flush()
}

fn scalar(value: &str, style: ScalarStyle) -> Event {
    let plain = style == ScalarStyle::Plain;
    Event::scalar(None, None, value, plain, !plain, style)
}

fn emit(e: &mut Emitter, node: &Node) -> Result<(), libyaml_safer::Error> {
    match node {
        Node::Str(s) => e.emit(scalar(s, ScalarStyle::DoubleQuoted)),
        Node::Int(n) => e.emit(scalar(&n.to_string(), ScalarStyle::Plain)),
        Node::Bool(b) => e.emit(scalar(
            if *b { "true" } else { "false" },
            ScalarStyle::Plain,
        )),
        Node::Seq(items) => {
            e.emit(Event::sequence_start(
                None,
                None,
                true,
                SequenceStyle::Block,
            ))?;
            for item in items {
                emit(e, item)?;
            }
            e.emit(Event::sequence_end())
        }
        Node::Map(entries) => {
            e.emit(Event::mapping_start(None, None, true, MappingStyle::Block))?;
            for (k, v) in entries {
                let style = match plain_key(k) {
                    true => ScalarStyle::Plain,
                    false => ScalarStyle::DoubleQuoted,
                };
                e.emit(scalar(k, style))?;
                emit(e, v)?;
            }
            e.emit(Event::mapping_end())
        }
    }
}

/// `# line` for each line of `text`; a line break inside one item cannot end the comment early
/// because items are escaped by the caller ([`comment_item`]).
pub fn comment(lines: &[String]) -> String {
    let mut out = String::new();
    for line in lines {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// A value quoted for a comment line: control characters escaped, so that it stays one line.
pub fn comment_item(value: &str) -> String {
    value
        .chars()
        .map(|c| match c {
            c if c.is_control() || c == '\u{2028}' || c == '\u{2029}' => {
                c.escape_unicode().to_string()
            }
            c => c.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_double_quoted_and_escaped_by_libyaml() {
        let doc = map()
            .put("a", "no")
            .put("b", "line\u{2028}sep\u{85}\u{9b}")
            .put("n", 3i64)
            .put("on", true)
            .put("e", Node::Seq(vec![]))
            .node();
        let text = to_string(&[doc]);
        assert_eq!(
            text,
            "a: \"no\"\nb: \"line\\Lsep\\N\\x9B\"\n\"n\": 3\n\"on\": true\ne: []\n"
        );
    }

    #[test]
    fn several_documents_each_start_with_dashes() {
        let text = to_string(&[map().put("a", 1i64).node(), map().put("b", 2i64).node()]);
        assert_eq!(text, "---\na: 1\n---\nb: 2\n");
    }

    #[test]
    fn plain_keys_only_where_every_reader_agrees() {
        assert!(plain_key("app.kubernetes.io/name"));
        assert!(plain_key("F_x1"));
        for quoted in ["on", "Y", "NULL", "_x", "1a", "a b", "a:b", "é"] {
            assert!(!plain_key(quoted), "{quoted}");
        }
    }
}
