//! A small YAML node tree that keeps every scalar as the text written in the file, the way
//! yaml-cpp (Falco's YAML library) hands scalars to `rule_loader_reader.cpp`.
//!
//! `serde`-style loaders turn `1.10` into the float `1.1` and `yes` into a string; Falco instead
//! decodes each scalar from its raw text on demand (`YAML::convert<T>::decode`). Building the tree
//! from yaml-rust2's event stream keeps that raw text, the scalar style (a plain `null` is null, a
//! quoted `"null"` is not) and the line of each node for error messages.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// A scalar as written; `plain` is false for quoted and block scalars.
    Scalar {
        text: String,
        plain: bool,
        line: usize,
    },
    /// A sequence.
    Seq { items: Vec<Node>, line: usize },
    /// A mapping, in document order.
    Map {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    /// The 1-based line where the node starts.
    pub(crate) fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }

    /// yaml-cpp's `IsNull()`: a plain `~`, `null`, `Null`, `NULL` or empty scalar.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, plain: true, .. }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The scalar text, unless the node is null or not a scalar (yaml-cpp's `IsScalar()`).
    pub(crate) fn scalar(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } if !self.is_null() => Some(text),
            _ => None,
        }
    }

    /// The value of `key` in a mapping (the first one, as yaml-cpp's `operator[]` finds it).
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| matches!(k, Node::Scalar { text, .. } if text == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// yaml-cpp's `convert<bool>::decode`: y/yes/true/on and n/no/false/off, in lower case, upper
/// case or capitalised.
pub(crate) fn decode_bool(text: &str) -> Option<bool> {
    let flexible = text == text.to_lowercase()
        || text == text.to_uppercase()
        || text.char_indices().all(|(i, c)| {
            if i == 0 {
                c.is_uppercase()
            } else {
                c.is_lowercase()
            }
        });
    if !flexible {
        return None;
    }
    match text.to_lowercase().as_str() {
        "y" | "yes" | "true" | "on" => Some(true),
        "n" | "no" | "false" | "off" => Some(false),
        _ => None,
    }
}

enum Frame {
    Seq(Vec<Node>, usize, usize),
    Map(Vec<(Node, Node)>, Option<Node>, usize, usize),
}

#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    error: Option<String>,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(items, ..)) => items.push(node),
            Some(Frame::Map(entries, key, ..)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                let plain = style == TScalarStyle::Plain;
                self.finish(Node::Scalar { text, plain, line }, anchor);
            }
            Event::Alias(id) => match self.anchors.get(&id).cloned() {
                Some(node) => self.push(node),
                None => {
                    self.error
                        .get_or_insert_with(|| format!("line {line}: unknown alias"));
                }
            },
            Event::SequenceStart(anchor, _) => {
                self.stack.push(Frame::Seq(Vec::new(), anchor, line))
            }
            Event::MappingStart(anchor, _) => {
                self.stack.push(Frame::Map(Vec::new(), None, anchor, line))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(items, anchor, line)) => {
                    self.finish(Node::Seq { items, line }, anchor)
                }
                Some(Frame::Map(entries, _, anchor, line)) => {
                    self.finish(Node::Map { entries, line }, anchor)
                }
                None => {}
            },
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// Parses every document of a YAML stream (Falco's `YAML::LoadAll`).
pub(crate) fn load_all(text: &str) -> anyhow::Result<Vec<Node>> {
    let mut builder = Builder::default();
    Parser::new_from_str(text)
        .load(&mut builder, true)
        .map_err(|e| anyhow::anyhow!("YAML parse error: {e}"))?;
    if let Some(e) = builder.error {
        anyhow::bail!("YAML parse error: {e}");
    }
    Ok(builder.docs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_raw_scalars_styles_and_aliases() {
        let docs = load_all("a: 1.10\nb: 'null'\nc: ~\nd:\ne: &x [p, q]\nf: *x\n").unwrap();
        let m = &docs[0];
        assert_eq!(m.get("a").unwrap().scalar(), Some("1.10"));
        assert_eq!(m.get("b").unwrap().scalar(), Some("null"));
        assert!(m.get("c").unwrap().is_null());
        assert!(m.get("d").unwrap().is_null());
        let Node::Seq { items, .. } = m.get("f").unwrap() else {
            panic!("alias is a sequence")
        };
        assert_eq!(items[1].scalar(), Some("q"));
        assert_eq!(m.get("e").unwrap().line(), 5);
    }

    #[test]
    fn bool_decoding_follows_yaml_cpp() {
        for t in ["true", "True", "TRUE", "yes", "on", "y", "Y"] {
            assert_eq!(decode_bool(t), Some(true), "{t}");
        }
        for f in ["false", "No", "OFF", "n"] {
            assert_eq!(decode_bool(f), Some(false), "{f}");
        }
        assert_eq!(decode_bool("tRue"), None);
        assert_eq!(decode_bool("1"), None);
    }

    #[test]
    fn multiple_documents_and_errors() {
        assert_eq!(load_all("- a\n---\n- b\n").unwrap().len(), 2);
        assert!(load_all("a: [1, 2\n").is_err());
    }
}
