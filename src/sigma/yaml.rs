//! YAML documents as trees whose every node knows its line and column, so that a problem in
//! a Sigma rule is reported where it is (`file:line:col`). Built on yaml-rust2's event
//! parser; anchors and aliases are refused (Sigma rules do not use them, and a refusal is
//! better than a silent copy).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in the text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// One YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A scalar: its text, and whether it was quoted (a quoted `null` or `1` is a string).
    Scalar {
        text: String,
        quoted: bool,
        pos: Pos,
    },
    Seq {
        items: Vec<Node>,
        pos: Pos,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pos: Pos,
    },
}

impl Node {
    pub fn pos(&self) -> Pos {
        match self {
            Node::Scalar { pos, .. } | Node::Seq { pos, .. } | Node::Map { pos, .. } => *pos,
        }
    }

    /// A plain or quoted scalar's text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The YAML `null` (plain `null`, `~` or empty).
    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar { text, quoted: false, .. }
            if text.is_empty() || text == "~" || text.eq_ignore_ascii_case("null"))
    }

    /// A map's value for `key`.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map { entries, .. } => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub msg: String,
}

fn pos(m: &Marker) -> Pos {
    Pos {
        line: m.line(),
        col: m.col() + 1,
    }
}

/// Builds the trees from the parser's events.
#[derive(Default)]
struct Builder {
    docs: Vec<Node>,
    /// Open sequences and maps (a map holds its pending key).
    stack: Vec<(Node, Option<Node>)>,
    error: Option<SyntaxError>,
}

impl Builder {
    fn push(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some((Node::Seq { items, .. }, _)) => items.push(node),
            Some((Node::Map { entries, .. }, key)) => match key.take() {
                None => {
                    // A key given twice: refused, not resolved one way or the other.
                    let first = node
                        .as_str()
                        .and_then(|name| entries.iter().find(|(k, _)| k.as_str() == Some(name)));
                    if let (Some((k, _)), None) = (first, &self.error) {
                        let p = k.pos();
                        self.error = Some(SyntaxError {
                            pos: node.pos(),
                            msg: format!(
                                "duplicate key `{}` (first at {}:{})",
                                node.as_str().unwrap_or_default(),
                                p.line,
                                p.col
                            ),
                        });
                    }
                    *key = Some(node)
                }
                Some(k) => entries.push((k, node)),
            },
            Some((Node::Scalar { .. }, _)) => {}
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        let at = pos(&mark);
        match ev {
            Event::Scalar(text, style, anchor, _) => {
                if anchor != 0 {
                    self.error = Some(SyntaxError {
                        pos: at,
                        msg: "YAML anchors are not supported in rules".into(),
                    });
                    return;
                }
                let quoted = !matches!(style, TScalarStyle::Plain);
                self.push(Node::Scalar {
                    text,
                    quoted,
                    pos: at,
                });
            }
            Event::Alias(_) => {
                self.error = Some(SyntaxError {
                    pos: at,
                    msg: "YAML aliases are not supported in rules".into(),
                });
            }
            Event::SequenceStart(..) => self.stack.push((
                Node::Seq {
                    items: Vec::new(),
                    pos: at,
                },
                None,
            )),
            Event::MappingStart(..) => self.stack.push((
                Node::Map {
                    entries: Vec::new(),
                    pos: at,
                },
                None,
            )),
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((node, _)) = self.stack.pop() {
                    self.push(node);
                }
            }
            _ => {}
        }
    }
}

/// Every document of `text` (`---` separates them).
pub fn parse(text: &str) -> Result<Vec<Node>, SyntaxError> {
    let mut b = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut b, true).map_err(|e| SyntaxError {
        pos: pos(e.marker()),
        msg: e.info().to_string(),
    })?;
    match b.error {
        Some(e) => Err(e),
        None => Ok(b.docs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_know_where_they_are() {
        let docs = parse("title: x\ndetection:\n  sel:\n    a: 1\n---\ntitle: 'y'\n").unwrap();
        assert_eq!(docs.len(), 2);
        let sel = docs[0].get("detection").unwrap().get("sel").unwrap();
        let a = sel.get("a").unwrap();
        assert_eq!((a.as_str(), a.pos()), (Some("1"), Pos { line: 4, col: 8 }));
        assert!(matches!(
            docs[1].get("title"),
            Some(Node::Scalar { quoted: true, .. })
        ));
        let e = parse("a: [1, 2\n").unwrap_err();
        assert_eq!(e.pos.line, 2);
        assert!(parse("a: &x 1\nb: *x\n").is_err());
        assert!(parse("a: ~\n").unwrap()[0].get("a").unwrap().is_null());
    }
}
