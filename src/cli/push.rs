//! `v6deploy -i FILE push LOCAL_DIR REMOTE_DIR`: copy a directory's files to every host.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use v6deploy::inventory::Loaded;
use v6deploy::workflows::{Mode, push};

use super::run_args::RunArgs;

/// Copy the files under LOCAL_DIR to REMOTE_DIR on every host: atomic (temp file beside the
/// target, checksum verified, then renamed), root-owned, skipped when already identical.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Local directory whose files (recursively) are copied.
    local: PathBuf,
    /// Absolute directory on the hosts.
    remote: String,
    /// Permission bits of the copied files (octal).
    #[arg(long, default_value = "644", value_parser = parse_mode)]
    mode: u32,
    /// Show what would change, change nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    run: RunArgs,
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text, 8).ok().filter(|m| *m <= 0o7777).ok_or_else(|| format!("{text:?} is not an octal mode such as 644"))
}

/// Pushes the files and prints the recap.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    if !args.remote.starts_with('/') {
        anyhow::bail!("REMOTE_DIR must be absolute, got {:?}", args.remote);
    }
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    let recap = push::push(&args.run.remote(globals)?, &loaded.inventory, &args.local, &args.remote, args.mode, mode)?;
    super::print_recap(&recap, args.run.output)?;
    Ok(ExitCode::from(recap.exit_code()))
}
