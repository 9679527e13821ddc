//! `v6deploy init [--hosts ADDR,...] [FILE]`: a commented starter inventory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use v6deploy::net::parse_host_address;
use v6deploy::workflows::init::starter;

/// Write a commented starter inventory: every required key marked, defaults shown. It passes
/// `v6deploy inventory` as written; edit the addresses, interfaces and versions.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy init --hosts 2001:db8:0:1::101,2001:db8:0:1::102,2001:db8:0:1::103 cluster.yaml\n  v6deploy -i cluster.yaml inventory\n  v6deploy init > cluster.yaml     # example addresses, to edit")]
pub struct Args {
    /// The hosts' IPv6 addresses (any textual form); the first three (or the first, with
    /// fewer) get the control plane and etcd [default: three documentation addresses].
    #[arg(long, value_delimiter = ',', value_name = "ADDR,...")]
    hosts: Vec<String>,
    /// Where to write it [default: standard output]; an existing file is kept unless --force.
    #[arg(value_name = "FILE", conflicts_with = "output")]
    file: Option<PathBuf>,
    /// Same as FILE.
    #[arg(short, long, value_name = "FILE", hide = true)]
    output: Option<PathBuf>,
    /// Replace FILE when it exists.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    unused: super::Unused,
}

pub fn run(args: &Args) -> Result<ExitCode> {
    let hosts = args.hosts.iter().map(|h| parse_host_address(h).with_context(|| format!("--hosts {h}"))).collect::<Result<Vec<_>, _>>()?;
    let text = starter(&hosts);
    let Some(path) = args.file.as_ref().or(args.output.as_ref()) else {
        out_raw!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    if path.exists() && !args.force {
        bail!("{} exists; pass --force to replace it", path.display());
    }
    std::fs::write(path, text).with_context(|| format!("write {}", path.display()))?;
    eprintln!("wrote {}; check it with: v6deploy -i {} inventory", path.display(), path.display());
    Ok(ExitCode::SUCCESS)
}
