//! `certs check`: every certificate of the store, in ~120 columns (file, days left and status
//! on one line; subject, issuer and SANs below it), or one JSON document.

use std::process::ExitCode;

use anyhow::{Context, Result};

use v6deploy::exit;
use v6deploy::inventory::Inventory;
use v6deploy::pki::{self, Status, Store};

use super::run_args::OutputFormat;

/// Checks the store and prints the table; exit [`exit::HOST_FAILED`] when a certificate is
/// expired, missing, mismatched or unusable.
pub fn check(inv: &Inventory, store: &Store, warn_days: u32, output: OutputFormat) -> Result<ExitCode> {
    let root = store.root().display().to_string();
    let report = pki::check(inv, store, warn_days).with_context(|| format!("check certificates in {root}"))?;
    let bad = report.rows.iter().filter(|r| matches!(r.status, Status::Bad(_) | Status::Error(_))).count();
    if output == OutputFormat::Json {
        let certificates: Vec<serde_json::Value> = report
            .rows
            .iter()
            .map(|r| {
                let status = match &r.status {
                    Status::Ok => "ok",
                    Status::ExpiresSoon => "expires-soon",
                    Status::Bad(_) => "bad",
                    Status::Error(_) => "error",
                };
                let alt_names: Vec<&str> = r.alt_names.split_whitespace().collect();
                serde_json::json!({"file": r.file, "subject": r.subject, "issuer": r.issuer, "alt_names": alt_names, "days_left": r.days_left, "status": status, "detail": r.status.to_string()})
            })
            .collect();
        let exposed: Vec<serde_json::Value> = report.exposed.iter().map(|(file, mode)| serde_json::json!({"file": file, "mode": format!("{mode:o}")})).collect();
        super::out::json(&serde_json::json!({"store": root, "certificates": certificates, "exposed": exposed, "problems": bad, "expiring": report.warnings(), "warn_days": warn_days}))?;
    } else {
        let file_width = report.rows.iter().map(|r| r.file.len()).max().unwrap_or(0).max(4);
        out!("{:<file_width$} {:>5}  STATUS", "FILE", "DAYS");
        for row in &report.rows {
            let days = row.days_left.map_or("-".to_string(), |d| d.to_string());
            out!("{:<file_width$} {days:>5}  {}", row.file, row.status);
            if !row.subject.is_empty() {
                out!("    subject {}; issuer {}", row.subject, row.issuer);
            }
            for (i, names) in wrap(&row.alt_names, 104).iter().enumerate() {
                out!("    {} {names}", if i == 0 { "SANs:" } else { "     " });
            }
        }
        for (file, mode) in &report.exposed {
            out!("WARNING: {root}/{file} is mode {mode:o}: group or others may read this key; `certs generate` makes it 0600 (or chmod 600 it)");
        }
        out!("{} in {root}: {bad} with problems, {} expiring within {warn_days} days", super::plural(report.rows.len(), "certificate"), report.warnings());
    }
    Ok(if report.failed() { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
}

/// Space-separated `text` in lines of at most `width` characters (a longer word gets its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    #[test]
    fn long_alt_names_wrap_between_names() {
        assert_eq!(super::wrap("DNS:a DNS:b IP:2001:db8::1", 11), vec!["DNS:a DNS:b", "IP:2001:db8::1"]);
        assert!(super::wrap("", 10).is_empty());
    }
}
