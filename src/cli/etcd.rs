//! `v6deploy -i FILE etcd backup|restore`: a snapshot of the cluster's etcd kept on this
//! machine, and its restore on every member.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;

use v6deploy::exit;
use v6deploy::inventory::Loaded;
use v6deploy::workflows::Mode;
use v6deploy::workflows::etcd::{self, SNAPSHOT_FILE};

use super::run_args::{OutputFormat, RunArgs};

/// Back up the cluster's etcd, or restore it from a backup.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i inventories/lab.yaml etcd backup\n  v6deploy -i inventories/lab.yaml etcd restore certs/lab/backups/20261129T061500Z/snapshot.db --yes")]
pub struct Args {
    #[command(subcommand)]
    command: EtcdCommand,
}

#[derive(Debug, Subcommand)]
enum EtcdCommand {
    /// Take a snapshot on the first healthy member (`etcdctl snapshot save` over TLS) and
    /// keep it on this machine with its sha256 and the member list: by default in
    /// certs/<cluster>/backups/<UTC time>/ (snapshot.db, snapshot.db.sha256, members.json,
    /// all 0600: the snapshot holds every Secret of the cluster).
    Backup {
        /// Write the backup into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Show what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Restore a snapshot on every member, etcd's documented way: kube-apiserver and etcd
    /// stopped on every host, the snapshot restored into a new data dir with a new cluster
    /// token (the old data dir kept as /var/lib/etcd.before-restore-<UTC time>), etcd started
    /// on every member and healthy, then kube-apiserver. Everything written since the
    /// snapshot is lost: needs --yes.
    Restore {
        /// The snapshot (checked against SNAPSHOT.sha256 when that file is beside it).
        #[arg(value_name = "SNAPSHOT")]
        snapshot: PathBuf,
        /// Yes, replace the cluster's data with the snapshot's.
        #[arg(long)]
        yes: bool,
        /// Show what would be done; change nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        run: RunArgs,
    },
}

pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    match &args.command {
        EtcdCommand::Backup { dir, dry_run, run } => {
            let mode = if *dry_run { Mode::DryRun } else { Mode::Apply };
            let report = etcd::backup(&run.remote(globals)?, inv, dir.as_deref(), mode)?;
            if run.output == OutputFormat::Json {
                let json = serde_json::json!({"schema": 1, "recap": report.recap, "dir": report.dir, "sha256": report.sha256});
                out!("{}", serde_json::to_string_pretty(&json)?);
            } else {
                super::print_recap(&report.recap, run.output)?;
                match (&report.dir, &report.snapshot) {
                    (Some(dir), Some(snapshot)) => out!(
                        "backup of etcd from {} ({} bytes, {} members) in {}",
                        snapshot.member,
                        snapshot.bytes.len(),
                        snapshot.members.len(),
                        dir.join(SNAPSHOT_FILE).display()
                    ),
                    _ if *dry_run => out!("dry-run: no snapshot taken"),
                    _ => eprintln!("no etcd member was healthy enough to take a snapshot: nothing was saved"),
                }
            }
            let ok = report.recap.succeeded() && (report.dir.is_some() || *dry_run);
            Ok(ExitCode::from(if ok { exit::OK } else { exit::HOST_FAILED }))
        }
        EtcdCommand::Restore { snapshot, yes, dry_run, run } => {
            if !*yes && !*dry_run {
                bail!("etcd restore replaces the cluster's data with {}: everything written since is lost; add --yes (or --dry-run to see the plan)", snapshot.display());
            }
            // Checked here first, with etcd's own tool: nothing on a host is stopped for a
            // snapshot that cannot be restored.
            let bundle = v6deploy::bundle::check(inv)?;
            let Some(etcdctl) = bundle.binary("etcdctl") else {
                bail!("the bundle ({}) has no etcdctl to check {} with; nothing was changed", bundle.root.display(), snapshot.display());
            };
            let checked = etcd::check_snapshot(snapshot, inv.cluster.name.as_str(), etcdctl)?;
            let from = checked.cluster.as_deref().map_or_else(|| " (no members.json beside it: the cluster it came from is not known)".to_string(), |c| format!(", taken from cluster {c}"));
            eprintln!(
                "checked {}: checksum matches, etcd reads it (revision {}, {} keys, {} bytes){from}",
                snapshot.display(),
                checked.status.revision,
                checked.status.total_keys,
                checked.status.total_size
            );
            let mode = if *dry_run { Mode::DryRun } else { Mode::Apply };
            let recap = etcd::restore(&run.remote(globals)?, inv, checked.bytes, mode)?;
            super::print_recap(&recap, run.output)?;
            Ok(ExitCode::from(recap.exit_code()))
        }
    }
}
