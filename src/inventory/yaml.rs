//! The inventory's YAML read into a small tree of mappings, lists and scalars, each with its
//! place, so `shape` can check every key of the file at once before serde reads the values.
//! On a syntax error the parser stops; what was read up to there (the block collections and
//! the unclosed brackets) is kept so `syntax` can say what is wrong in plain words.

use serde_saphyr::granit_parser::{Event, Parser, ScalarStyle, ScanError, Span, StructureStyle};

/// A place in the file: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct At {
    pub line: usize,
    pub column: usize,
}

impl At {
    fn of(span: &Span) -> At {
        At { line: span.start.line(), column: span.start.col() + 1 }
    }
}

/// One value of the document and where it starts.
#[derive(Debug)]
pub struct Node {
    pub at: At,
    pub value: Value,
}

#[derive(Debug)]
pub enum Value {
    /// Entries in the order written, repeated keys included.
    Map(Vec<Entry>),
    List(Vec<Node>),
    /// `plain` is false for quoted and block scalars (`"22"` is text, `22` a number or text).
    Scalar { text: String, plain: bool },
    /// `*name`: its value is whatever the anchor holds; not checked here.
    Alias,
}

#[derive(Debug)]
pub struct Entry {
    pub key: String,
    pub key_at: At,
    pub value: Node,
}

impl Value {
    /// An empty value: nothing after `key:`, `~` or `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Scalar { text, plain: true } if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }
}

/// A block collection (one entry per line) read before a syntax error.
#[derive(Debug)]
pub struct Block {
    pub kind: BlockKind,
    /// 1-based column of its keys, or of its `-` indicators.
    pub column: usize,
    /// Line of its first entry.
    pub line: usize,
    /// Key path, e.g. `hosts` or `hosts[0]`; empty for the top level.
    pub path: String,
    /// For a list of mappings: the first key of its first entry (`address`).
    pub first_key: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    Map,
    List,
}

/// Why the file did not parse, and what had been read up to there.
#[derive(Debug)]
pub struct Broken {
    pub error: ScanError,
    pub blocks: Vec<Block>,
    /// `[` or `{` still open at the error, innermost last.
    pub open_brackets: Vec<(char, At)>,
}

/// Reads the first document; `Ok(None)` when the file has no content (empty or comments).
pub fn read(text: &str) -> Result<Option<Node>, Box<Broken>> {
    let mut builder = Builder::default();
    for event in Parser::new_from_str(text) {
        match event {
            Ok((event, span)) => {
                if builder.event(event, &span) {
                    break;
                }
            }
            Err(error) => {
                let open_brackets = builder.frames.iter().filter(|f| f.flow).map(|f| (if f.entries.is_some() { '{' } else { '[' }, f.at)).collect();
                return Err(Box::new(Broken { error, blocks: builder.blocks, open_brackets }));
            }
        }
    }
    Ok(builder.root.filter(|root| !root.value.is_null()))
}

#[derive(Default)]
struct Builder {
    frames: Vec<Frame>,
    blocks: Vec<Block>,
    root: Option<Node>,
}

/// A collection being read.
struct Frame {
    at: At,
    path: String,
    flow: bool,
    /// Some for a mapping, None for a list.
    entries: Option<Vec<Entry>>,
    items: Vec<Node>,
    /// The key read, waiting for its value.
    key: Option<(String, At)>,
    /// Index in `blocks` of this collection, when it is a block collection.
    block: Option<usize>,
}

impl Builder {
    /// Takes one event; true when the first document is complete.
    fn event(&mut self, event: Event<'_>, span: &Span) -> bool {
        let at = At::of(span);
        match event {
            Event::Scalar(text, style, _, _) => {
                if let Some(frame) = self.frames.last_mut().filter(|f| f.entries.is_some() && f.key.is_none()) {
                    frame.key = Some((text.into_owned(), at));
                    self.note_first_key();
                } else {
                    self.complete(Node { at, value: Value::Scalar { text: text.into_owned(), plain: style == ScalarStyle::Plain } });
                }
            }
            Event::Alias(_) => self.complete(Node { at, value: Value::Alias }),
            Event::MappingStart(style, _, _) => self.open(at, style, true),
            Event::SequenceStart(style, _, _) => self.open(at, style, false),
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = self.frames.pop() {
                    let value = match frame.entries {
                        Some(entries) => Value::Map(entries),
                        None => Value::List(frame.items),
                    };
                    self.complete(Node { at: frame.at, value });
                }
            }
            Event::DocumentEnd => return true,
            _ => {}
        }
        false
    }

    /// The path of the value about to be read.
    fn child_path(&self) -> String {
        let Some(frame) = self.frames.last() else { return String::new() };
        match (&frame.entries, &frame.key) {
            (Some(_), Some((key, _))) if frame.path.is_empty() => key.clone(),
            (Some(_), Some((key, _))) => format!("{}.{key}", frame.path),
            (Some(_), None) => format!("{}.(key)", frame.path),
            (None, _) => format!("{}[{}]", frame.path, frame.items.len()),
        }
    }

    fn open(&mut self, at: At, style: StructureStyle, mapping: bool) {
        let path = self.child_path();
        let flow = style == StructureStyle::Flow;
        let block = (!flow).then(|| {
            let kind = if mapping { BlockKind::Map } else { BlockKind::List };
            self.blocks.push(Block { kind, column: at.column, line: at.line, path: path.clone(), first_key: None });
            self.blocks.len() - 1
        });
        let entries = mapping.then(Vec::new);
        self.frames.push(Frame { at, path, flow, entries, items: Vec::new(), key: None, block });
    }

    /// Records `address` as the first key of `hosts` when the first host's first key is read.
    fn note_first_key(&mut self) {
        let [.., list, map] = self.frames.as_slice() else { return };
        let first_of_first = list.entries.is_none() && list.items.is_empty() && map.entries.as_ref().is_some_and(Vec::is_empty);
        if let (true, Some(index), Some((key, _))) = (first_of_first, list.block, &map.key) {
            self.blocks[index].first_key = Some(key.clone());
        }
    }

    /// Attaches a finished value to the collection being read (or makes it the document).
    fn complete(&mut self, node: Node) {
        let Some(frame) = self.frames.last_mut() else {
            self.root = Some(node);
            return;
        };
        match (&mut frame.entries, frame.key.take()) {
            (Some(entries), Some((key, key_at))) => entries.push(Entry { key, key_at, value: node }),
            // A mapping or list used as a key: keep its place, the key has no name.
            (Some(_), None) => frame.key = Some(("(a collection used as a key)".to_string(), node.at)),
            (None, _) => frame.items.push(node),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_of_keys_and_block_columns() {
        let root = read("a:\n  b: 1\nl:\n  - x: 1\n    y: [p, q]\n").unwrap().unwrap();
        let Value::Map(entries) = &root.value else { panic!("{root:?}") };
        assert_eq!((entries[1].key.as_str(), entries[1].key_at), ("l", At { line: 3, column: 1 }));
        let Value::List(items) = &entries[1].value.value else { panic!() };
        assert_eq!(items[0].at, At { line: 4, column: 5 });
        let broken = read("l:\n  - x: 1\n   - x: 2\n").unwrap_err();
        let list = broken.blocks.iter().find(|b| b.kind == BlockKind::List).unwrap();
        assert_eq!((list.column, list.path.as_str(), list.first_key.as_deref()), (3, "l", Some("x")));
    }

    #[test]
    fn empty_documents() {
        assert!(read("").unwrap().is_none());
        assert!(read("# only a comment\n\n").unwrap().is_none());
        assert!(read("---\n").unwrap().is_none());
    }
}
