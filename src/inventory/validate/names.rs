//! Names that reach a host's command line: the kernel package and repository for yum (parsed
//! as `PackageName`, so a value can neither be an option nor carry a newline, a quote or an
//! expansion).

use super::Validator;
use crate::inventory::PackageName;
use crate::inventory::raw::Text;

impl Validator<'_> {
    /// `kernel.package` and `kernel.repository`, refused unless they are package (repository)
    /// names: they become yum's arguments (an empty value is refused too: leave the key out).
    pub(super) fn package_name(&mut self, text: &Text, field: &str) -> Option<PackageName> {
        let parse = if field == "kernel.repository" { PackageName::parse_repository } else { PackageName::parse };
        self.typed(text, field, parse)
    }
}
