//! `v6deploy lint`: the field report's application pitfalls found in configuration before it
//! reaches an IPv6-only site (unbracketed `host:port`, URLs and DSNs, IPv4 binds and
//! loopbacks, go-redis versions with the MOVED bug, `preferIPv4Stack`, Elasticsearch's
//! publish host, IPv4 Services). Read-only and offline: files are read on this machine, in
//! parallel, never run.
//!
//! A finding is silenced in place by a comment on its line or the line before naming the rule:
//! `# v6deploy-lint: allow unbracketed-host-port` (or `allow all`).

mod rules;
mod scan;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Serialize;

pub use rules::Rule;
pub use scan::Kind;

/// Directories never entered.
const SKIPPED_DIRS: &[&str] = &[".git", "node_modules", "vendor"];
/// Files larger than this are not read (data, not configuration).
const MAX_FILE_BYTES: u64 = 8 << 20;
/// The marker of an inline suppression.
const ALLOW: &str = "v6deploy-lint: allow";

/// Why linting could not run.
#[derive(Debug, thiserror::Error)]
pub enum LintError {
    /// A path given on the command line does not exist or cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub rule: Rule,
    /// The offending text.
    pub text: String,
    /// Why it breaks on IPv6 single-stack.
    pub message: String,
    /// What to write instead.
    pub fix: String,
}

/// What a lint run found.
#[derive(Debug, Default)]
pub struct Report {
    /// Sorted by file, line, column.
    pub findings: Vec<Finding>,
    /// Files read (text files; binary, huge and skipped ones not counted).
    pub files: usize,
    /// Findings silenced by inline comments.
    pub silenced: usize,
}

/// Which rules run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only these (all when empty).
    pub only: Vec<Rule>,
    /// Not these.
    pub skip: Vec<Rule>,
}

impl Selection {
    fn runs(&self, rule: Rule) -> bool {
        (self.only.is_empty() || self.only.contains(&rule)) && !self.skip.contains(&rule)
    }
}

/// Lints `paths` (files, or directories walked recursively) with `threads` workers.
pub fn lint(paths: &[PathBuf], selection: &Selection, threads: usize) -> Result<Report, LintError> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files, true)?;
    }
    files.sort();
    let next = AtomicUsize::new(0);
    let found = Mutex::new(Report::default());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                let mut local = Report::default();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(path) = files.get(i) else { break };
                    if let Some(text) = read_text(path) {
                        local.files += 1;
                        lint_text(&path.display().to_string(), &text, selection, &mut local);
                    }
                }
                let mut all = found.lock().unwrap_or_else(|p| p.into_inner());
                all.files += local.files;
                all.silenced += local.silenced;
                all.findings.extend(local.findings);
            });
        }
    });
    let mut report = found.into_inner().unwrap_or_else(|p| p.into_inner());
    report.findings.sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
    Ok(report)
}

/// The findings of one file's text (`name` decides its kind and is what findings name).
pub fn lint_text(name: &str, text: &str, selection: &Selection, report: &mut Report) {
    let base = Path::new(name).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    for hit in scan::scan(Kind::of(&base), text) {
        if !selection.runs(hit.rule) {
            continue;
        }
        let allowed = |line: Option<&&str>| line.and_then(|l| l.split_once(ALLOW)).is_some_and(|(_, rest)| rest.split([' ', ',', '\t']).any(|w| w == hit.rule.name() || w == "all"));
        if allowed(lines.get(hit.line - 1)) || (hit.line >= 2 && allowed(lines.get(hit.line - 2))) {
            report.silenced += 1;
            continue;
        }
        report.findings.push(Finding {
            file: name.to_string(),
            line: hit.line,
            column: hit.column,
            rule: hit.rule,
            text: hit.text,
            message: hit.rule.why().to_string(),
            fix: hit.rule.fix().to_string(),
        });
    }
}

/// The files under `path`; `given`: named on the command line (errors are reported, and a
/// skipped directory name is entered anyway).
fn collect(path: &Path, files: &mut Vec<PathBuf>, given: bool) -> Result<(), LintError> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(source) if given => return Err(LintError::Read { path: path.to_path_buf(), source }),
        Err(_) => return Ok(()),
    };
    if meta.is_dir() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if !given && SKIPPED_DIRS.contains(&name.as_str()) {
            return Ok(());
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(source) if given => return Err(LintError::Read { path: path.to_path_buf(), source }),
            Err(_) => return Ok(()),
        };
        for entry in entries.flatten() {
            collect(&entry.path(), files, false)?;
        }
    } else if meta.is_file() && meta.len() <= MAX_FILE_BYTES {
        files.push(path.to_path_buf());
    }
    Ok(())
}

/// A file's text, or `None` for a binary file (a NUL byte in its first 8 KiB) or one that
/// cannot be read.
fn read_text(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    if bytes[..bytes.len().min(8192)].contains(&0) {
        return None;
    }
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_comment_naming_the_rule_silences_its_line_or_the_next() {
        let text = "a = 0.0.0.0 # v6deploy-lint: allow ipv4-wildcard\n# v6deploy-lint: allow all\nb = 127.0.0.1\nc = 0.0.0.0\nd = 10.0.0.1 # v6deploy-lint: allow ipv4-wildcard\n";
        let mut report = Report::default();
        lint_text("app.properties", text, &Selection::default(), &mut report);
        let found: Vec<(usize, Rule)> = report.findings.iter().map(|f| (f.line, f.rule)).collect();
        assert_eq!(found, [(4, Rule::Ipv4Wildcard), (5, Rule::Ipv4Literal)]);
        assert_eq!(report.silenced, 2);
        let mut only = Report::default();
        lint_text("app.properties", text, &Selection { only: vec![Rule::Ipv4Literal], skip: vec![] }, &mut only);
        assert_eq!(only.findings.len(), 1);
    }
}
