//! `v6deploy -i FILE render -o DIR`: writes what would be put on each host
//! (`DIR/<node name>/<path on the host>`) and applied to the cluster (`DIR/cluster/`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use v6deploy::inventory::Loaded;
use v6deploy::desired::desired_state;
use v6deploy::pki::{Store, generate};
use v6deploy::render::{Templates, write_tree};

/// Render every host's files and the cluster manifests into a directory, for review.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  v6deploy -i inventories/field-report.yaml render -o /tmp/render-out")]
pub struct Args {
    /// Directory to write; it must be empty or missing unless --force is given.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Replace DIR if it is not empty.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &Args, loaded: &Loaded, templates_dir: Option<&Path>) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let templates = Templates::load(templates_dir)?;
    let store = Store::for_inventory(inv);
    let report = generate(inv, &store).with_context(|| format!("prepare the PKI in {}", store.root().display()))?;
    eprintln!("PKI in {}: {}", store.root().display(), report);
    let rendered = desired_state(inv, &templates, &store)?;
    let dir = &args.output;
    if has_entries(dir)? {
        if !args.force {
            bail!("{} is not empty; pass --force to replace it", dir.display());
        }
        refuse_to_replace_what_holds(dir, &loaded.inventory.source)?;
        std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    }
    write_tree(&rendered, dir).with_context(|| format!("write the rendered tree under {}", dir.display()))?;
    let host_files: usize = rendered.hosts.iter().map(|h| h.files.len()).sum();
    println!(
        "wrote {host_files} files for {} hosts and {} cluster manifests to {}",
        rendered.hosts.len(),
        rendered.cluster.len(),
        dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `dir` exists and has anything in it (a file where a directory should be counts).
fn has_entries(dir: &Path) -> Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("read {}", dir.display())),
    }
}

/// `--force` removes DIR; refuse when DIR holds the current directory or the inventory,
/// so `-o .` or `-o ~` cannot wipe the user's work.
fn refuse_to_replace_what_holds(dir: &Path, inventory: &Path) -> Result<()> {
    let dir = dir.canonicalize().with_context(|| format!("resolve {}", dir.display()))?;
    let current = std::env::current_dir()?.canonicalize()?;
    let inventory = inventory.canonicalize().unwrap_or_else(|_| inventory.to_path_buf());
    for (what, path) in [("the current directory", &current), ("the inventory", &inventory)] {
        if path.starts_with(&dir) {
            bail!("refusing to replace {}: it holds {what}; choose another output directory", dir.display());
        }
    }
    Ok(())
}
