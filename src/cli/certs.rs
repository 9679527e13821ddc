//! `v6deploy -i FILE certs generate|check|csr|import|rotate`: the cluster's PKI on this machine.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use v6deploy::inventory::Loaded;
use v6deploy::pki::{self, Action, Store};

use super::certs_rotate::RotateArgs;
use super::run_args::{OutputFormat, RunArgs};

/// Make, check, export and import the cluster's certificates (in pki.dir/<cluster name>/,
/// pki.dir relative to the inventory: certs/ beside it by default).
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml certs generate\n  v6deploy -i cluster.yaml certs check --warn-days 60\n  v6deploy -i cluster.yaml certs check --remote --output json\n  v6deploy -i cluster.yaml certs rotate --dry-run\n  v6deploy -i cluster.yaml certs csr --dir csrs/ && v6deploy -i cluster.yaml certs import signed/")]
pub struct Args {
    /// Directory that holds <cluster name>/ [default: the inventory's pki.dir]
    #[arg(long, global = true, value_name = "DIR")]
    certs_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: CertsCommand,
}

#[derive(Debug, Subcommand)]
enum CertsCommand {
    /// Create what is missing, keep what is valid, reissue what no longer matches the inventory.
    Generate {
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
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
    /// Renew certificates on the running cluster, one host at a time, with backups and health
    /// checks; --ca rotates the CAs in phases.
    Rotate(Box<RotateArgs>),
    /// Export every leaf's CSR (PKCS#10) to DIR, for an enterprise CA to sign.
    Csr {
        /// Directory to write the CSRs to (same layout as the store). `-o DIR` is accepted too
        /// (deprecated: `--output` is the format).
        #[arg(short, long = "dir", value_name = "DIR", short_alias = 'o')]
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
    },
    /// Import certificates signed by an enterprise CA from DIR (named like the CSRs, .crt).
    Import {
        /// Directory holding the signed certificates.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        output: OutputFormat,
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
        CertsCommand::Generate { output } => {
            let report = pki::generate(inv, &store).with_context(|| format!("generate certificates in {root}"))?;
            if *output == OutputFormat::Json {
                let files: Vec<serde_json::Value> = report.entries.iter().map(|e| {
                    let (action, detail) = action(&e.action);
                    serde_json::json!({"file": e.file, "action": action, "detail": detail})
                }).collect();
                super::out::json(&serde_json::json!({"store": root, "files": files, "summary": report.to_string()}))?;
                return Ok(ExitCode::SUCCESS);
            }
            let width = report.entries.iter().map(|e| root.len() + 1 + e.file.len()).max().unwrap_or(4);
            out!("{:<width$} {:<10} DETAIL", "FILE", "ACTION");
            for entry in &report.entries {
                let (action, detail) = action(&entry.action);
                out!("{:<width$} {action:<10} {detail}", format!("{root}/{}", entry.file));
            }
            out!("{report}");
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Rotate(rotate) => super::certs_rotate::run(rotate, inv, &store, globals),
        CertsCommand::Check { warn_days, remote: true, run } => super::certs_remote::run(inv, run, *warn_days, globals),
        CertsCommand::Check { warn_days, remote: false, run } => super::certs_local::check(inv, &store, *warn_days, run.output),
        CertsCommand::Csr { dir: output, output: format } => {
            let report = pki::export_csrs(inv, &store, output).with_context(|| format!("export CSRs from {root}"))?;
            if *format == OutputFormat::Json {
                super::out::json(&serde_json::json!({"store": root, "dir": output, "exported": report.exported, "made": report.made}))?;
                return Ok(ExitCode::SUCCESS);
            }
            for file in &report.made {
                out!("made key/CSR for {root}/{file}");
            }
            out!("exported {} CSRs to {}; have them signed, save each as the same name with .crt, then run `certs import DIR`", report.exported.len(), output.display());
            Ok(ExitCode::SUCCESS)
        }
        CertsCommand::Import { dir, output } => {
            let report = pki::import_certs(inv, &store, dir).with_context(|| format!("import certificates from {} into {root}", dir.display()))?;
            if *output == OutputFormat::Json {
                super::out::json(&serde_json::json!({"store": root, "dir": dir, "imported": report.imported, "unchanged": report.unchanged}))?;
                return Ok(ExitCode::SUCCESS);
            }
            for file in &report.imported {
                out!("imported {root}/{file}");
            }
            out!("imported {}, unchanged {}", report.imported.len(), report.unchanged.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The action's word and its detail, as `certs generate` prints them.
fn action(action: &Action) -> (&'static str, String) {
    match action {
        Action::Created => ("created", String::new()),
        Action::Kept => ("kept", String::new()),
        Action::Reissued(reasons) => ("reissued", join(reasons)),
        Action::Pending(reasons) => ("pending", format!("{}; key and CSR ready: `certs csr --dir DIR`, have the enterprise CA sign, `certs import DIR`", join(reasons))),
        Action::Updated(why) => ("updated", why.clone()),
        Action::Stale => ("stale", "host not in the inventory; left in place (move it away when the host is gone)".to_string()),
    }
}

fn join(reasons: &[pki::Reason]) -> String {
    reasons.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}
