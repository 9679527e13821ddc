//! `v6deploy -i FILE reset [--hosts A,B] [--purge-data] [--yes] [--dry-run]`: everything
//! v6deploy installed taken off the hosts.

use std::io::{BufRead, IsTerminal, Write as _};
use std::process::ExitCode;

use anyhow::Result;

use v6deploy::exit;
use v6deploy::inventory::Loaded;
use v6deploy::workflows::Mode;
use v6deploy::workflows::reset::{self, Data, Report, Unmarked};

use super::run_args::{OutputFormat, RunArgs};

/// Stop and remove everything v6deploy installed on the hosts (all of them, or those of
/// --hosts): its services (stopped, disabled, unit files removed, systemd reloaded), the
/// pods' containers and containerd's state, binaries, configuration, certificates and keys,
/// kubeconfigs, the CNI configuration, the pod routes and interfaces, kube-proxy's iptables
/// rules, the kubelet's and v6deploy's state, and v6deploy's node names in /etc/hosts. What
/// is removed is read off the component catalog; only what exists is named.
///
/// Kept: etcd's data dir (/var/lib/etcd; --purge-data removes it), the host's network
/// configuration (ifcfg files), the kernel settings now in force (the sysctl and
/// modules-load files go), the run's lock file (/var/lib/v6deploy/lock), and this machine's
/// PKI store (pki.dir/<cluster>/, so that a reinstall reuses the CAs and certificates).
///
/// Only this cluster's hosts are reset: a host whose membership marker (/etc/v6deploy/member)
/// names another cluster is refused, and so is a host with no marker (never fully installed
/// by v6deploy, or not v6deploy's at all: its distribution's containerd or etcd would go)
/// unless --force. A reset that keeps data records the cluster on the host
/// (/var/lib/v6deploy/reset-of), so a later --purge-data of the same cluster needs no --force.
/// Containers are deleted only in containerd's k8s.io namespace (the cluster's).
///
/// On a terminal reset asks for the cluster name (or 'yes'); otherwise it needs --yes and
/// refuses without it (exit 2). One round trip per host reads what is there, one removes it.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml reset --dry-run                 # what would be removed, per host\n  v6deploy -i cluster.yaml reset --hosts 2001:db8::13 --yes\n  v6deploy -i cluster.yaml reset --yes --purge-data        # etcd's data too: the cluster is gone\n\nExit codes: 0 every host reset, 1 usage or inventory error, 2 not confirmed, or a host failed or was unreachable, 130 interrupted.")]
pub struct Args {
    /// Yes, reset: needed when standard input is not a terminal (on one, reset asks).
    #[arg(long)]
    yes: bool,
    /// Remove the components' data too: etcd's data dir, the cluster's whole state.
    #[arg(long)]
    purge_data: bool,
    /// Show exactly what would be removed on each host; change nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also reset hosts that carry no membership marker of this cluster (an install or reset
    /// of it that was interrupted there). A host of another cluster is refused even so.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    run: RunArgs,
}

/// Whether reset may go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confirmation {
    /// --yes, or a dry run.
    Given,
    /// Ask on the terminal.
    Ask,
    /// No terminal to ask on, and no --yes.
    Refused,
}

fn confirmation(yes: bool, dry_run: bool, terminal: bool) -> Confirmation {
    match (yes || dry_run, terminal) {
        (true, _) => Confirmation::Given,
        (false, true) => Confirmation::Ask,
        (false, false) => Confirmation::Refused,
    }
}

/// Whether `answer` confirms the reset of `cluster`: its name, or `yes`.
fn accepts(answer: &str, cluster: &str) -> bool {
    let answer = answer.trim();
    answer == cluster || answer == "yes"
}

pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let cluster = inv.cluster.name.as_str();
    let which = if args.run.hosts.is_empty() { format!("every host of cluster {cluster}") } else { format!("{} of cluster {cluster}", args.run.hosts.join(", ")) };
    let data = if args.purge_data { ", and etcd's data (--purge-data)" } else { "" };
    match confirmation(args.yes, args.dry_run, std::io::stdin().is_terminal()) {
        Confirmation::Given => {}
        Confirmation::Refused => {
            eprintln!("error: reset removes everything v6deploy installed on {which}{data}: add --yes (standard input is not a terminal to ask on), or --dry-run to see what");
            return Ok(ExitCode::from(exit::USAGE));
        }
        Confirmation::Ask => {
            eprint!("reset stops and removes everything v6deploy installed on {which}{data}.\nType the cluster name ({cluster}) or 'yes' to go on: ");
            std::io::stderr().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            if !accepts(&answer, cluster) {
                eprintln!("not confirmed: nothing was changed");
                return Ok(ExitCode::from(exit::USAGE));
            }
        }
    }
    let mode = if args.dry_run { Mode::DryRun } else { Mode::Apply };
    let data = if args.purge_data { Data::Purge } else { Data::Keep };
    let unmarked = if args.force { Unmarked::Reset } else { Unmarked::Refuse };
    let report = reset::reset(&args.run.remote(globals)?, inv, data, unmarked, mode)?;
    print(&report, args)?;
    Ok(ExitCode::from(report.recap.exit_code()))
}

fn print(report: &Report, args: &Args) -> Result<()> {
    if args.run.output == OutputFormat::Json {
        let hosts: Vec<serde_json::Value> =
            report.hosts.iter().map(|(host, reset)| serde_json::json!({"host": host.to_string(), "removed": reset.removed, "kept": reset.kept})).collect();
        let json = serde_json::json!({"recap": report.recap, "hosts": hosts, "purge_data": args.purge_data, "store": {"path": report.store, "kept": true}, "warnings": report.warnings});
        super::out::json(&json)?;
        return Ok(());
    }
    if args.dry_run {
        out!("PLAN (dry-run: nothing was changed)");
    }
    super::print_recap(&report.recap, args.run.output)?;
    for (host, reset) in &report.hosts {
        for kept in &reset.kept {
            out!("{host}: kept {} ({})", kept.path, kept.why);
        }
    }
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    out!("kept on this machine: {} (the CAs and certificates: a reinstall reuses them; delete it to start over with new ones)", report.store.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without a terminal to ask on, reset needs --yes; a dry run needs nothing.
    #[test]
    fn without_a_terminal_reset_is_refused_unless_yes() {
        assert_eq!(confirmation(false, false, false), Confirmation::Refused);
        assert_eq!(confirmation(true, false, false), Confirmation::Given);
        assert_eq!(confirmation(false, true, false), Confirmation::Given);
        assert_eq!(confirmation(false, false, true), Confirmation::Ask);
    }

    #[test]
    fn the_answer_is_the_cluster_name_or_yes() {
        assert!(accepts("lab\n", "lab"));
        assert!(accepts(" yes \n", "lab"));
        assert!(!accepts("y\n", "lab"));
        assert!(!accepts("\n", "lab"));
        assert!(!accepts("lab2\n", "lab"));
    }
}
