//! `v6deploy -i FILE certs generate|check|csr|import|rotate`: the cluster's PKI on this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use v6deploy::exit;
use v6deploy::inventory::Loaded;
use v6deploy::pki::{self, Action, Store};

use super::certs_rotate::RotateArgs;
use super::run_args::RunArgs;

/// Make, check, export and import the cluster's certificates (in certs/<cluster name>/).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory that holds <cluster name>/ [default: the inventory's pki.dir, else ./certs]
    #[arg(long, global = true, value_name = "DIR")]
    certs_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: CertsCommand,
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Create what is missing, keep what is valid, reissue what no longer matches the inventory.
    Generate,
    /// Show every certificate (subject, SANs, issuer, days left); exit 2 if any is expired,
    /// missing or mismatched.
    Check {
        /// Warn about certificates with fewer days left than this.
        #[arg(long, default_value_t = 30, value_name = "DAYS")]
        warn_days: u32,
        /// Read the certificates the hosts hold over SSH instead (subject, serial, not after,
        /// days left, issuer per host and file).
        #[arg(long)]
        remote: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Renew certificates on the running cluster, one host at a time (see --help).
    Rotate(Box<RotateArgs>),
    /// Export every leaf's CSR (PKCS#10) to DIR, for an enterprise CA to sign.
    Csr {
        /// Directory to write the CSRs to (same layout as the store).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Import certificates signed by an enterprise CA from DIR (named like the CSRs, .crt).
    Import {
        /// Directory holding the signed certificates.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

/// Runs a `certs` command and prints its report.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let store = match &args.certs_dir {
        Some(dir) => Store::at(dir.join(&inv.cluster.name)),
        None => Store::for_inventory(inv),
    };
    let root = store.root().display().to_string();
    // Every command but `check` writes the store: one at a time.
    let store = match &args.command {
        CertsCommand::Check { .. } => store,
        _ => store.lock(&mut |holder| eprintln!("{root} is locked by {holder}; waiting for it"))?,
    };
    match &args.command {
        CertsCommand::Generate => {
            let report = pki::generate(inv, &store).with_context(|| format!("generate certificates in {root}"))?;
            let width = report.entries.iter().map(|e| root.len() + 1 + e.file.len()).max().unwrap_or(4);
            out!("{:<width$} {:<10} DETAIL", "FILE", "ACTION");
            for entry in &report.entries {
                let (action, detail) = match &entry.action {
                    Action::Created => ("created", String::new()),
                    Action::Kept => ("kept", String::new()),
                    Action::Reissued(reasons) => ("reissued", join(reasons)),
                    Action::Pending(reasons) => ("pending", format!("{}; key and CSR ready: `certs csr -o DIR`, have the enterprise CA sign, `certs import DIR`", join(reasons))),
                    Action::Updated(why) => ("updated", why.clone()),
                    Action::Stale => ("stale", "host not in the inventory; left in place (move it away when the host is gone)".to_string()),
                };
                out!("{:<width$} {action:<10} {detail}", format!("{root}/{}", entry.file));
            }
            out!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Rotate(rotate) => super::certs_rotate::run(rotate, inv, &store, globals),
        CertsCommand::Check { warn_days, remote: true, run } => super::certs_remote::run(inv, run, *warn_days, globals),
        CertsCommand::Check { warn_days, remote: false, .. } => {
            let report = pki::check(inv, &store, *warn_days).with_context(|| format!("check certificates in {root}"))?;
            let width = |column: fn(&pki::Row) -> String, title: &str| report.rows.iter().map(|r| column(r).len()).max().unwrap_or(0).max(title.len());
            let (file_w, subject_w, issuer_w) = (width(|r| r.file.clone(), "FILE"), width(|r| r.subject.clone(), "SUBJECT"), width(|r| r.issuer.clone(), "ISSUER"));
            out!("{:<file_w$} {:<subject_w$} {:<issuer_w$} {:>5}  STATUS / SANS", "FILE", "SUBJECT", "ISSUER", "DAYS");
            for row in &report.rows {
                let days = row.days_left.map_or("-".to_string(), |d| d.to_string());
                out!("{:<file_w$} {:<subject_w$} {:<issuer_w$} {days:>5}  {}", row.file, row.subject, row.issuer, row.status);
                if !row.alt_names.is_empty() {
                    out!("{:<file_w$}   SANs: {}", "", row.alt_names);
                }
            }
            for (file, mode) in &report.exposed {
                out!("WARNING: {root}/{file} is mode {mode:o}: group or others may read this key; `certs generate` makes it 0600 (or chmod 600 it)");
            }
            let bad = report.rows.iter().filter(|r| matches!(r.status, pki::Status::Bad(_) | pki::Status::Error(_))).count();
            out!("{} certificates in {root}: {bad} with problems, {} expiring within {warn_days} days", report.rows.len(), report.warnings());
            Ok(if report.failed() { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
        }
        CertsCommand::Csr { output } => {
            let report = pki::export_csrs(inv, &store, output).with_context(|| format!("export CSRs from {root}"))?;
            for file in &report.made {
                out!("made key/CSR for {root}/{file}");
            }
            out!("exported {} CSRs to {}; have them signed, save each as the same name with .crt, then run `certs import DIR`", report.exported.len(), output.display());
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Import { dir } => {
            let report = pki::import_certs(inv, &store, dir).with_context(|| format!("import certificates from {} into {root}", dir.display()))?;
            for file in &report.imported {
                out!("imported {root}/{file}");
            }
            out!("imported {}, unchanged {}", report.imported.len(), report.unchanged.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn join(reasons: &[pki::Reason]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
