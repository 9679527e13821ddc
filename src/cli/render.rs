//! `v6deploy -i FILE render --dir DIR`: writes what would be put on each host
//! (`DIR/<node name>/<path on the host>`) and applied to the cluster (`DIR/cluster/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use v6deploy::inventory::Loaded;
use v6deploy::desired::desired_state;
use v6deploy::pki::{Scratch, Store, generate};
use v6deploy::render::{Existing, Protected, Templates, write_output};

use super::run_args::OutputFormat;

/// Render every host's files and the cluster manifests into a directory, for review.
#[derive(Debug, clap::Args)]
///
/// The certificates come from a scratch copy of the PKI store (what is missing is made
/// there): render never creates or changes the store.
#[command(after_help = "Example:\n  v6deploy -i inventories/field-report.yaml render --dir /tmp/render-out")]
pub struct Args {
    /// Directory to write; it must be empty or missing unless --force is given. `-o DIR` is
    /// accepted too (deprecated: `--output` is the format).
    #[arg(short, long = "dir", value_name = "DIR", short_alias = 'o')]
    dir: PathBuf,
    /// Replace DIR if it is not empty (only a directory an earlier render wrote: it holds
    /// a .v6deploy-render file).
    #[arg(long)]
    force: bool,
    /// Output format of the report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
}

pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let templates = Templates::load(globals.templates.as_deref())?;
    let real = Store::for_inventory(inv);
    let root = real.root().display().to_string();
    let scratch = {
        let _reading = real.read_lock(&mut |holder| eprintln!("{root} is locked by {holder}; waiting for it"))?;
        Scratch::copy_of(&real).with_context(|| format!("copy {root}"))?
    };
    let report = generate(inv, &scratch.store).with_context(|| format!("prepare the PKI in a scratch copy of {root}"))?;
    eprintln!("PKI: a scratch copy of {root} (render does not change the store; `certs generate` does): {report}");
    let rendered = desired_state(inv, &templates, &scratch.store)?;
    let dir = &args.dir;
    let existing = if args.force { Existing::Replace } else { Existing::Refuse };
    write_output(&rendered, dir, existing, &protected(loaded)?)?;
    let host_files: usize = rendered.hosts.iter().map(|h| h.files.len()).sum();
    if args.output == OutputFormat::Json {
        let hosts: Vec<serde_json::Value> = rendered.hosts.iter().map(|h| serde_json::json!({"name": h.name, "address": h.address, "files": h.files.len()})).collect();
        let manifests: Vec<&str> = rendered.cluster.iter().map(|f| f.path.as_str()).collect();
        super::out::json(&serde_json::json!({"dir": dir, "files": host_files, "hosts": hosts, "manifests": manifests, "pki": {"scratch_copy_of": root, "summary": report.to_string()}}))?;
        return Ok(ExitCode::SUCCESS);
    }
    out!(
        "wrote {host_files} files for {} hosts and {} cluster manifests to {}",
        rendered.hosts.len(),
        rendered.cluster.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What `render --dir` never writes into or deletes: the PKI store, the bundle, SSH keys, the
/// inventory and the current directory (so `--dir .` or `--dir ~` cannot wipe the user's work).
fn protected(loaded: &Loaded) -> Result<Vec<Protected>> {
    let inv = &loaded.inventory;
    let guard = |what, path: &Path, no_output_inside| Protected { what, path: path.to_path_buf(), no_output_inside };
    Ok(vec![
        guard("the PKI store", &inv.pki.dir, true),
        guard("the bundle", &inv.bundle.path, true),
        guard("the SSH private key", &inv.ssh.private_key, false),
        guard("the known_hosts file", &inv.ssh.known_hosts, false),
        guard("the inventory", &inv.source, false),
        guard("the current directory", &std::env::current_dir()?, false),
    ])
}
