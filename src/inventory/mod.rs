//! The inventory: a YAML file (checked key by key in `shape`, then read with serde-saphyr)
//! parsed into typed hosts, roles, addresses and CIDRs. Later code never sees a raw string.

mod error;
mod model;
mod raw;
mod route;
mod shape;
mod suggest;
mod syntax;
mod validate;
mod values;
mod yaml;

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
///
/// Three passes: the YAML syntax (stops at the first error), then every key and the shape of
/// every value (all problems at once), then the values themselves (all problems at once).
pub fn parse(path: &Path, text: &str) -> Result<Loaded, InventoryError> {
    let root = match yaml::read(text) {
        Ok(Some(root)) => root,
        Ok(None) => return Err(InventoryError::Empty { path: path.to_path_buf() }),
        Err(broken) => return Err(syntax::error(path, text, &broken)),
    };
    let problems = shape::check(path, &root);
    if !problems.is_empty() {
        return Err(sorted(problems));
    }
    let raw: raw::RawInventory = serde_saphyr::from_str(text).map_err(|e| syntax::serde_error(path, &e))?;
    let mut validator = validate::Validator::new(path);
    match validator.inventory(raw) {
        Some(inventory) => Ok(Loaded { inventory, warnings: validator.warnings }),
        None => Err(sorted(validator.problems)),
    }
}

fn sorted(mut problems: Vec<Problem>) -> InventoryError {
    problems.sort_by_key(|p| (p.place.line, p.place.column));
    InventoryError::Invalid { problems }
}
