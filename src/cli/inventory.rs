//! `v6deploy -i FILE inventory`: the parsed inventory and its derived values.

use std::process::ExitCode;

use anyhow::Result;

use v6deploy::inventory::{Loaded, Role};

/// Show the parsed inventory: node names, roles and derived cluster values.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &Args, loaded: &Loaded) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    if args.json {
        out!("{}", serde_json::to_string_pretty(inv)?);
        return Ok(ExitCode::SUCCESS);
    }
    let c = &inv.cluster;
    out!("cluster {} (Kubernetes {}), from {}", c.name, c.kubernetes_version, inv.source.display());
    let rows = [
        ("service CIDR", c.service_cidr.to_string()),
        ("kubernetes Service IP", c.api_service_ip.to_string()),
        ("cluster DNS Service IP", c.dns_service_ip.to_string()),
        ("pod CIDR", c.pod_cidr.to_string()),
        ("node pod subnet", format!("/{}", c.node_cidr_mask)),
        ("pod CIDR capacity", format!("{} nodes", c.node_capacity)),
        ("DNS domain", c.dns_domain.clone()),
        ("nodelocaldns address", c.nodelocaldns.to_string()),
        ("kernel minimum", inv.kernel.minimum.to_string()),
    ];
    for (key, value) in rows {
        out!("  {key:<24} {value}");
    }
    out!();
    out!("{:<40} {:<24} {:<28} {:<10} GATEWAY", "NODE NAME", "ADDRESS", "ROLES", "INTERFACE");
    for h in &inv.hosts {
        let address = format!("{}/{}", h.address, h.prefix_length);
        let gateway = h.gateway.map_or("-".to_string(), |g| g.to_string());
        out!("{:<40} {:<24} {:<28} {:<10} {}", h.name, address, h.roles.to_string(), h.interface, gateway);
    }
    let count = |role| inv.hosts.iter().filter(|h| h.has(role)).count();
    out!();
    out!(
        "{} hosts: {} control-plane, {} etcd, {} worker",
        inv.hosts.len(),
        count(Role::ControlPlane),
        count(Role::Etcd),
        count(Role::Worker)
    );
    Ok(ExitCode::SUCCESS)
}
