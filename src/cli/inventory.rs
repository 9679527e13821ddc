//! `v6deploy -i FILE inventory`: the parsed inventory and its derived values.

use std::process::ExitCode;

use anyhow::Result;
use serde_json::Value;

use v6deploy::inventory::{Inventory, Loaded, Role};

use super::run_args::OutputFormat;

/// Show the parsed inventory: node names, roles and derived cluster values.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  v6deploy -i cluster.yaml inventory\n  v6deploy -i cluster.yaml inventory --output json | jq '.hosts[].name'")]
pub struct Args {
    /// Output format: tables, or the inventory as parsed (every default filled in, the same
    /// key names as the YAML, derived values added) as one JSON document.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// Same as --output json (deprecated).
    #[arg(long, hide = true)]
    json: bool,
}

pub fn run(args: &Args, loaded: &Loaded) -> Result<ExitCode> {
    let inv = &loaded.inventory;
    if args.json || args.output == OutputFormat::Json {
        super::out::json(&as_written(inv)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    let c = &inv.cluster;
    out!("cluster {} (Kubernetes {}), from {}", c.name, c.kubernetes_version, inv.source.display());
    let mut rows = vec![
        ("service CIDR", c.service_cidr.to_string()),
        ("kubernetes Service IP", c.api_service_ip.to_string()),
        ("cluster DNS Service IP", c.dns_service_ip.to_string()),
        ("pod CIDR", c.pod_cidr.to_string()),
        ("node pod subnet", format!("/{}", c.node_cidr_mask)),
        ("pod CIDR capacity", format!("{} nodes", c.node_capacity)),
        ("DNS domain", c.dns_domain.to_string()),
        ("nodelocaldns address", c.nodelocaldns.to_string()),
        ("admin.conf server", v6deploy::pki::outside_server(inv)),
        ("kernel minimum", inv.kernel.minimum.to_string()),
        ("PKI store", inv.pki.dir.join(&c.name).display().to_string()),
        ("bundle", inv.bundle.path.display().to_string()),
    ];
    if let Some(b) = &inv.ssh.bastion {
        rows.push(("SSH bastion", format!("{}@{}", b.user, v6deploy::net::hostport(b.address, b.port))));
    }
    for (key, value) in rows {
        out!("  {key:<24} {value}");
    }
    out!();
    let table: Vec<[String; 5]> = inv
        .hosts
        .iter()
        .map(|h| [h.name.to_string(), format!("{}/{}", h.address, h.prefix_length), h.roles.to_string(), h.interface.to_string(), h.gateway.map_or("-".to_string(), |g| g.to_string())])
        .collect();
    let titles = ["NODE NAME", "ADDRESS", "ROLES", "INTERFACE", "GATEWAY"];
    // Each column as wide as its widest cell, so long addresses keep the table aligned.
    let widths: Vec<usize> = (0..4).map(|i| table.iter().map(|row| row[i].len()).chain([titles[i].len()]).max().unwrap_or(0)).collect();
    let line = |cells: [&str; 5]| format!("{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}", cells[0], cells[1], cells[2], cells[3], cells[4], w0 = widths[0], w1 = widths[1], w2 = widths[2], w3 = widths[3]);
    out!("{}", line(titles));
    for row in &table {
        out!("{}", line([&row[0], &row[1], &row[2], &row[3], &row[4]]).trim_end());
    }
    let count = |role| inv.hosts.iter().filter(|h| h.has(role)).count();
    out!();
    out!("{}: {} control-plane, {} etcd, {} worker", super::plural(inv.hosts.len(), "host"), count(Role::ControlPlane), count(Role::Etcd), count(Role::Worker));
    Ok(ExitCode::SUCCESS)
}

/// The parsed inventory under the YAML's key names: `ssh.become`, `network.manage` as a
/// boolean, `kernel.package`/`kernel.repository` (null: the bundle's rpms/).
fn as_written(inv: &Inventory) -> Result<Value> {
    let mut value = serde_json::to_value(inv)?;
    if let Some(ssh) = value.get_mut("ssh").and_then(Value::as_object_mut)
        && let Some(become_method) = ssh.remove("become_method")
    {
        ssh.insert("become".into(), become_method);
    }
    if let Some(network) = value.get_mut("network").and_then(Value::as_object_mut) {
        let manage = network.get("manage").is_some_and(|m| m == "manage");
        network.insert("manage".into(), manage.into());
    }
    if let Some(kernel) = value.get_mut("kernel").and_then(Value::as_object_mut) {
        let source = kernel.remove("source").unwrap_or(Value::Null);
        let field = |name: &str| source.get("repository").and_then(|r| r.get(name)).cloned().unwrap_or(Value::Null);
        kernel.insert("package".into(), field("package"));
        kernel.insert("repository".into(), field("repository"));
    }
    Ok(value)
}
