//! The inventory: a YAML file (read with serde-saphyr, unknown keys refused) parsed into typed
//! hosts, roles, addresses and CIDRs. Later code never sees a raw string.

mod error;
mod model;
mod raw;
mod suggest;
mod validate;
mod values;

use std::path::Path;

pub use error::{InventoryError, Place, Problem, ProblemKind, Warning, WarningKind};
pub use model::*;
pub use validate::defaults;

/// A loaded inventory and the warnings found while loading it.
#[derive(Debug)]
pub struct Loaded {
    pub inventory: Inventory,
    pub warnings: Vec<Warning>,
}

/// The field report's inventory: the fixture of unit tests across the crate.
#[cfg(test)]
pub(crate) fn field_report() -> Inventory {
    parse(Path::new("inventories/field-report.yaml"), include_str!("../../inventories/field-report.yaml")).expect("the field-report inventory loads").inventory
}

/// Reads and parses an inventory file.
pub fn load(path: &Path) -> Result<Loaded, InventoryError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| InventoryError::Read { path: path.to_path_buf(), source })?;
    parse(path, &text)
}

/// Parses inventory text; `path` is used in messages and to resolve relative paths.
pub fn parse(path: &Path, text: &str) -> Result<Loaded, InventoryError> {
    let raw: raw::RawInventory = serde_saphyr::from_str(text).map_err(|e| syntax_error(path, &e))?;
    let mut validator = validate::Validator::new(path);
    match validator.inventory(raw) {
        Some(inventory) => Ok(Loaded { inventory, warnings: validator.warnings }),
        None => {
            let mut problems = validator.problems;
            problems.sort_by_key(|p| (p.place.line, p.place.column));
            Err(InventoryError::Invalid { problems })
        }
    }
}

fn syntax_error(path: &Path, error: &serde_saphyr::Error) -> InventoryError {
    let (line, column) = error.location().map_or((0, 0), |l| (l.line() as usize, l.column() as usize));
    let message = match error.without_snippet() {
        serde_saphyr::Error::SerdeUnknownField { field, expected, .. } => {
            let hint = match suggest::closest(field, expected) {
                Some(s) => format!("did you mean `{s}`? "),
                None => String::new(),
            };
            format!("unknown key `{field}`: {hint}(allowed here: {})", expected.join(", "))
        }
        other => {
            let rendered = other.render_with_options(serde_saphyr::render_options! {
                snippets: serde_saphyr::SnippetMode::Off,
            });
            strip_location_prefix(&rendered)
        }
    };
    InventoryError::Syntax { path: path.to_path_buf(), line, column, message }
}

/// serde-saphyr prefixes "error: line L column C: "; the location is already in our prefix.
fn strip_location_prefix(rendered: &str) -> String {
    let text = rendered.trim().trim_start_matches("error: ");
    match text.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_string(),
        _ => text.to_string(),
    }
}
