//! YAML syntax errors in plain words: what is wrong on which line and what to write, instead
//! of the parser's state (`did not find expected '-' indicator`). The parser stops at the
//! first syntax error, so there is one message; the error says so.

use std::path::Path;

use serde_saphyr::granit_parser::ErrorKind;

use super::error::InventoryError;
use super::yaml::{At, Block, BlockKind, Broken};

/// The syntax error of `text`, placed and explained.
pub fn error(path: &Path, text: &str, broken: &Broken) -> InventoryError {
    let marker = broken.error.marker();
    let at = At { line: marker.line(), column: marker.col() + 1 };
    let line = text.lines().nth(at.line.saturating_sub(1)).unwrap_or("");
    let (at, message) = explain(text, line, at, broken);
    InventoryError::Syntax { path: path.to_path_buf(), line: at.line, column: at.column, message }
}

fn explain(text: &str, line: &str, at: At, broken: &Broken) -> (At, String) {
    let kind = broken.error.kind();
    match kind {
        ErrorKind::TabInBlockIndentation | ErrorKind::TabInIndentation | ErrorKind::TabNotAllowed | ErrorKind::TabAtBlockScalarStart => {
            let column = line.chars().position(|c| c == '\t').map_or(at.column, |i| i + 1);
            let example = match previous_line(text, at.line) {
                Some((n, above)) if above.trim_end().ends_with(':') => format!(", e.g. {} to indent it under line {n}", spaces_text(indentation(above) + 2)),
                Some((n, above)) => format!(", e.g. {} like line {n} above", spaces_text(indentation(above))),
                None => String::new(),
            };
            (At { line: at.line, column }, format!("a tab in the indentation: YAML allows only spaces there; replace the tab with spaces{example}"))
        }
        ErrorKind::UnclosedFlowCollection { .. } | ErrorKind::UnexpectedEofFlowSequence | ErrorKind::UnexpectedEofFlowMapping | ErrorKind::UnexpectedEofImplicitFlowMapping => unclosed(at, broken),
        ErrorKind::ExpectedFlowSequenceSeparator | ErrorKind::ExpectedFlowMappingSeparator | ErrorKind::InvalidColonPlacement if !broken.open_brackets.is_empty() => unclosed(at, broken),
        ErrorKind::MismatchedFlowCollectionEnd { open, close } => {
            let expected = if *open == '[' { ']' } else { '}' };
            (at, format!("`{close}` closes a `{open}`: close it with `{expected}`"))
        }
        ErrorKind::MisplacedFlowCollectionEnd => (at, "a closing bracket without its opening one: remove it, or add the `[` or `{` it closes".to_string()),
        ErrorKind::UnclosedQuotedScalar => {
            let quote = line.chars().nth(at.column.saturating_sub(1)).filter(|c| *c == '\'' || *c == '"').unwrap_or('"');
            (at, format!("this quoted value has no closing quote: add the `{quote}` at its end"))
        }
        ErrorKind::InvalidTrailingSingleQuotedScalar | ErrorKind::InvalidTrailingDoubleQuotedScalar => {
            let quote = if matches!(kind, ErrorKind::InvalidTrailingSingleQuotedScalar) { '\'' } else { '"' };
            match unclosed_quote_above(text, at.line, quote) {
                Some(open) => (open, format!("this quoted value has no closing quote: add the `{quote}` at its end (without it the value runs on to the next `{quote}`, on line {})", at.line)),
                None => (at, "text after the closing quote: put the whole value inside the quotes".to_string()),
            }
        }
        ErrorKind::UnknownQuotedScalarEscape | ErrorKind::InvalidQuotedScalarHexEscape => {
            (at, "a backslash escape that double quotes do not know: write `\\\\` for a backslash, or use single quotes ('C:\\dir')".to_string())
        }
        ErrorKind::UnknownAnchor => (at, "`*name` refers to an anchor `&name` that is not defined above it".to_string()),
        ErrorKind::ExpectedBlockSequenceEntry
        | ErrorKind::ExpectedBlockMappingKey
        | ErrorKind::MappingValueNotAllowed
        | ErrorKind::InvalidColonPlacement
        | ErrorKind::InvalidIndentation
        | ErrorKind::BlockSequenceEntryNotAllowed
        | ErrorKind::SimpleKeyExpected
        | ErrorKind::InvalidSimpleKey
        | ErrorKind::ExpectedNodeContent => structure(text, line, at, broken),
        other => (at, format!("YAML syntax error: {other}")),
    }
}

/// A line that does not fit the structure around it: almost always its indentation; else a
/// colon too many or too few.
fn structure(text: &str, line: &str, at: At, broken: &Broken) -> (At, String) {
    let colon = matches!(broken.error.kind(), ErrorKind::MappingValueNotAllowed | ErrorKind::InvalidColonPlacement);
    if colon {
        let before: String = line.chars().take(at.column.saturating_sub(1)).collect();
        if before.contains(": ") {
            return (at, "a second `: ` on this line: a value that contains \": \" must be quoted, e.g. `key: \"a: b\"`".to_string());
        }
        // A line without its colon joins the next one into one text, whose colon then fails.
        if let Some((n, above)) = previous_line(text, at.line).filter(|(_, l)| !l.contains(": ") && !l.trim_end().ends_with(':')) {
            let content = above.trim();
            let write = match content.split_once(':').or_else(|| content.split_once(' ')) {
                Some((key, value)) => format!("`{key}: {}`", value.trim_start()),
                None => format!("`{content}:`"),
            };
            return (At { line: n, column: indentation(above) + 1 }, format!("`{content}` has no `: ` after its key: write {write} (a colon, then a space)"));
        }
    }
    let indent = indentation(line);
    let content = &line[indent..];
    let start = At { line: at.line, column: indent + 1 };
    let is_entry = content == "-" || content.starts_with("- ");
    let kind = if is_entry { BlockKind::List } else { BlockKind::Map };
    if let Some(block) = nearest(&broken.blocks, kind, indent + 1).filter(|b| b.column != indent + 1 && !content.is_empty()) {
        let spaces = spaces_text(block.column - 1);
        let message = if is_entry {
            let entry = block.first_key.as_ref().map_or("`-`".to_string(), |key| format!("`- {key}:`"));
            format!("this line is indented differently from the entries of `{}` above it: use the same indentation ({spaces}) for every {entry} entry", block.path)
        } else {
            let section = if block.path.is_empty() { "the top-level keys".to_string() } else { format!("the keys of `{}`", block.path) };
            format!("this line is indented by {}, unlike {section} (line {}: {spaces}): indent every key of a section the same", spaces_text(indent), block.line)
        };
        return (start, message);
    }
    if colon {
        return (at, "a `:` where YAML does not expect one: quote a value that contains \": \" (e.g. `key: \"a: b\"`)".to_string());
    }
    (start, "this line does not fit the lines above it: each line of a section is `key: value`, indented like the other keys, and each list entry starts with `- `".to_string())
}

/// The block collection of this kind whose column is nearest to `column` (the later one on
/// a tie: the innermost or most recent).
fn nearest(blocks: &[Block], kind: BlockKind, column: usize) -> Option<&Block> {
    blocks.iter().filter(|b| b.kind == kind).rev().min_by_key(|b| b.column.abs_diff(column))
}

fn unclosed(at: At, broken: &Broken) -> (At, String) {
    match broken.open_brackets.last() {
        Some(('[', open)) => (*open, format!("the list opened with `[` here is not closed: add the `]` after its last item (the reading stopped at line {}, column {})", at.line, at.column)),
        Some((_, open)) => (*open, format!("the mapping opened with `{{` here is not closed: add the `}}` after its last entry (the reading stopped at line {}, column {})", at.line, at.column)),
        None => (at, "a `[` or `{` is not closed: add the closing bracket".to_string()),
    }
}

/// The nearest line above `line` with content (not blank, not a comment): its number and text.
fn previous_line(text: &str, line: usize) -> Option<(usize, &str)> {
    let lines: Vec<&str> = text.lines().take(line.saturating_sub(1)).collect();
    lines.into_iter().enumerate().rev().find(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#')).map(|(i, l)| (i + 1, l))
}

/// The last quote of the nearest line above `line` with an odd number of `quote`s: where a
/// quoted value that YAML read on into later lines was opened.
fn unclosed_quote_above(text: &str, line: usize, quote: char) -> Option<At> {
    let lines: Vec<&str> = text.lines().take(line.saturating_sub(1)).collect();
    let (index, opening) = lines.iter().enumerate().rev().find(|(_, l)| l.matches(quote).count() % 2 == 1)?;
    let column = opening.chars().collect::<Vec<_>>().iter().rposition(|c| *c == quote)? + 1;
    Some(At { line: index + 1, column })
}

fn indentation(line: &str) -> usize {
    line.chars().take_while(|c| *c == ' ').count()
}

fn spaces_text(count: usize) -> String {
    if count == 1 { "1 space".to_string() } else { format!("{count} spaces") }
}

/// A serde error left after `shape` (a value form serde refuses), in the same words.
pub fn serde_error(path: &Path, error: &serde_saphyr::Error) -> InventoryError {
    let (line, column) = error.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    let message = match error.without_snippet() {
        serde_saphyr::Error::InvalidScalar { ty, .. } if ty.starts_with('u') => format!("not a whole number that fits {ty} (0 to {})", max_of(ty)),
        serde_saphyr::Error::InvalidBooleanStrict { .. } => "write true or false".to_string(),
        serde_saphyr::Error::MultipleDocuments { .. } => "more than one YAML document (`---`): an inventory is one document".to_string(),
        other => {
            let rendered = other.render_with_options(serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
            });
            strip_location(&rendered)
        }
    };
    InventoryError::Value { path: path.to_path_buf(), line, column, message }
}

fn max_of(ty: &str) -> u64 {
    match ty {
        "u8" => u8::MAX.into(),
        "u16" => u16::MAX.into(),
        "u32" => u32::MAX.into(),
        _ => u64::MAX,
    }
}

/// serde-saphyr writes "error: line L column C: ..." or "... at line L, column C"; the place
/// is already in our prefix.
fn strip_location(rendered: &str) -> String {
    let text = rendered.trim().trim_start_matches("error: ");
    let text = match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest,
        _ => text,
    };
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}
