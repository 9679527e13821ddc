//! `v6deploy -i FILE unlock [--hosts A,B] [--yes]`: the hosts' run locks, their holders, and
//! their release.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::inventory::Loaded;
use v6deploy::workflows::Mode;
use v6deploy::workflows::unlock::{self, Report};

use super::run_args::{OutputFormat, RunArgs};

/// Show who holds each host's run lock (/var/lib/v6deploy/lock: one v6deploy run per host at a
/// time) and, with --yes, release it by ending the command that holds it on the host.
///
/// A run's lock goes by itself when the run ends, and within a minute when the run died
/// without closing its connection (the holder gives up without the run's heartbeats). Use
/// this for a run that still lives but must not go on (a hung process, a terminal left open
/// elsewhere): make sure it is not working on the hosts any more, then release. The run
/// whose lock is released is refused on its next reconnect and stops there.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml unlock                       # who holds the locks; nothing changed\n  v6deploy -i cluster.yaml unlock --hosts 2001:db8::13 --yes\n\nExit codes: 0 done, 1 usage or inventory error, 2 a host failed or was unreachable, 130 interrupted.")]
pub struct Args {
    /// Release the locks found (without it, unlock only shows them).
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    run: RunArgs,
}

pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let mode = if args.yes { Mode::Apply } else { Mode::DryRun };
    let report = unlock::unlock(&args.run.remote(globals)?, &loaded.inventory, mode)?;
    print(&report, args)?;
    Ok(ExitCode::from(report.recap.exit_code()))
}

fn print(report: &Report, args: &Args) -> Result<()> {
    if args.run.output == OutputFormat::Json {
        let hosts: Vec<serde_json::Value> = report.holders.iter().map(|(host, holder)| serde_json::json!({"host": host.to_string(), "locked_by": holder})).collect();
        return super::out::json(&serde_json::json!({"recap": report.recap, "hosts": hosts, "released": args.yes}));
    }
    for (host, holder) in &report.holders {
        match holder {
            Some(holder) if args.yes => out!("{host}: released the lock of {holder}"),
            Some(holder) => out!("{host}: locked by {holder}"),
            None => out!("{host}: not locked"),
        }
    }
    if !args.yes && report.holders.values().any(Option::is_some) {
        out!("nothing was changed: add --yes to release these locks (only once that run is not working on the hosts any more)");
    }
    Ok(())
}
