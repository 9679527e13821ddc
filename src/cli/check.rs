//! `v6deploy -i FILE check`: facts and verdicts for every host, changing nothing.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::checks::{Status, verdicts};
use v6deploy::exit;
use v6deploy::inventory::Loaded;
use v6deploy::workflows::HostStatus;
use v6deploy::steps::AddonsStatus;
use v6deploy::workflows::gather::{Addons, gather};

use super::run_args::{OutputFormat, RunArgs};

/// Connect to every host and report facts and preflight verdicts; changes nothing.
///
/// Checks: os, kernel (against kernel.minimum), interface (the inventory NIC carries the
/// inventory address), forwarding, default-route, nameservers (IPv6 resolvers), swap,
/// time-skew, disk, ports (those of the components the host runs, free or held by that very
/// component), systemd, tools (curl, for the health checks), runtime (no containerd
/// configuration with CRI disabled in the way), pod-network (not already on the other pod
/// network). Then, on the first control plane, whether every cluster addon's pods are Ready
/// (flannel, CoreDNS, node-local-dns: `kubectl rollout status`, no waiting), with the pods
/// that are not, their last events and log lines.
/// Exit code 0 when nothing failed, 2 when a check failed or a host was unreachable.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml check\n  v6deploy -i cluster.yaml check --hosts 2001:db8::11 --connect-timeout 3\n  v6deploy -i cluster.yaml check --output json | jq '.hosts[].verdicts[] | select(.status == \"fail\")'")]
pub struct Args {
    #[command(flatten)]
    run: RunArgs,
}

/// Gathers the facts, prints each host's verdicts.
pub fn run(args: &Args, loaded: &Loaded, globals: &super::Globals) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    let gathered = gather(&args.run.remote(globals)?, inv, Addons::Ask)?;
    let (recap, facts) = (&gathered.recap, &gathered.facts);
    let mut failed = !recap.succeeded();
    let mut report = Vec::new();
    for host in &inv.hosts {
        let Some((f, skew)) = facts.get(&host.address) else { continue };
        let vs = verdicts(inv, host, f, *skew);
        failed |= vs.iter().any(|v| v.status == Status::Fail);
        report.push((host, vs));
    }
    let addons = match &gathered.addons {
        None => None,
        Some(AddonsStatus::NoApiServer) => Some(serde_json::json!({"status": "not-judged", "detail": "no API server answers on the first control plane"})),
        Some(AddonsStatus::Checked(found)) => {
            failed |= found.failure.is_some();
            let ready: Vec<serde_json::Value> = found.ready.iter().map(|(name, pods)| serde_json::json!({"workload": name, "pods": pods})).collect();
            Some(serde_json::json!({"status": if found.failure.is_some() { "fail" } else { "pass" }, "ready": ready, "detail": found.failure}))
        }
    };
    if args.run.output == OutputFormat::Json {
        let hosts: Vec<serde_json::Value> = report
            .iter()
            .map(|(h, vs)| serde_json::json!({"host": h.address, "name": h.name, "route": inv.route(h).to_string(), "facts": facts.get(&h.address).map(|f| &f.0), "verdicts": vs}))
            .collect();
        super::out::json(&serde_json::json!({"hosts": hosts, "addons": addons, "recap": recap}))?;
    } else {
        for (host, vs) in &report {
            out!("{} ({}) over {}", host.address, host.name, inv.route(host));
            for v in vs {
                let status = match v.status {
                    Status::Pass => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "FAIL",
                };
                out!("  {:<14} {:<5} {}", v.check.name(), status, v.detail);
                if let Some(fix) = &v.fix {
                    out!("  {:<14} {:<5} -> {fix}", "", "");
                }
            }
        }
        for h in recap.hosts.iter().filter(|h| h.status == HostStatus::Unreachable || h.status == HostStatus::Failed) {
            out!("{} UNREACHABLE: {}", h.host, h.error.as_deref().unwrap_or(""));
        }
        match &gathered.addons {
            None => {}
            Some(AddonsStatus::NoApiServer) => out!("addons         -     not judged: no API server answers on the first control plane"),
            Some(AddonsStatus::Checked(found)) => {
                let ready: Vec<String> = found.ready.iter().map(|(name, pods)| format!("{name} {pods}")).collect();
                match &found.failure {
                    None => out!("addons         ok    pods Ready: {}", ready.join(", ")),
                    Some(why) => {
                        out!("addons         FAIL  {}", if ready.is_empty() { String::new() } else { format!("pods Ready: {}; ", ready.join(", ")) });
                        for line in why.lines() {
                            out!("  {line}");
                        }
                    }
                }
            }
        }
        let ok = report.iter().filter(|(_, vs)| vs.iter().all(|v| v.status != Status::Fail)).count();
        out!("\n{ok} of {} pass every check", super::plural(inv.hosts.len(), "host"));
    }
    Ok(if failed { ExitCode::from(exit::HOST_FAILED) } else { ExitCode::SUCCESS })
}
