//! Preflight verdicts: facts of a host compared with what an IPv6 single-stack cluster needs.
//! Pure: facts in, verdicts out; each failed verdict says what to do.

use std::net::Ipv6Addr;

use serde::Serialize;

use crate::components::{self, Component};
use crate::facts::Facts;
use crate::inventory::{HostSpec, Inventory, PodNetwork};

/// One preflight check (its name is what `--skip-check` takes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    Os,
    Kernel,
    Interface,
    Forwarding,
    DefaultRoute,
    Nameservers,
    Swap,
    TimeSkew,
    Disk,
    Ports,
    Systemd,
    Tools,
    Runtime,
    PodNetwork,
    Routes,
}

impl Check {
    /// The kebab-case name.
    pub fn name(self) -> &'static str {
        match self {
            Check::Os => "os",
            Check::Kernel => "kernel",
            Check::Interface => "interface",
            Check::Forwarding => "forwarding",
            Check::DefaultRoute => "default-route",
            Check::Nameservers => "nameservers",
            Check::Swap => "swap",
            Check::TimeSkew => "time-skew",
            Check::Disk => "disk",
            Check::Ports => "ports",
            Check::Systemd => "systemd",
            Check::Tools => "tools",
            Check::Runtime => "runtime",
            Check::PodNetwork => "pod-network",
            Check::Routes => "routes",
        }
    }
}

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    /// Install fixes it, or it may be fine: shown, not fatal.
    Warn,
    Fail,
}

/// A check's result on one host.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    pub check: Check,
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// What to do, when not passing.
    pub fix: Option<String>,
}

fn pass(check: Check, detail: impl Into<String>) -> Verdict {
    Verdict { check, status: Status::Pass, detail: detail.into(), fix: None }
}

fn not_ok(check: Check, status: Status, detail: impl Into<String>, fix: impl Into<String>) -> Verdict {
    Verdict { check, status, detail: detail.into(), fix: Some(fix.into()) }
}

/// Minimum free space under /var (etcd data, images), KiB.
pub const MIN_VAR_FREE_KIB: u64 = 2 * 1024 * 1024;

/// Clock difference to the controller above which TLS and etcd leases misbehave.
pub const MAX_SKEW_SECONDS: f64 = 2.0;

/// Every verdict for one host. `skew` is the host's clock minus the controller's, in seconds.
pub fn verdicts(inv: &Inventory, host: &HostSpec, facts: &Facts, skew: f64) -> Vec<Verdict> {
    vec![
        os(facts),
        kernel(inv, facts),
        interface(host, facts),
        forwarding(facts),
        default_route(host, facts),
        nameservers(facts),
        swap(facts),
        time_skew(skew),
        disk(facts),
        ports(host, facts),
        systemd(facts),
        tools(facts),
        runtime(facts),
        pod_network(inv, facts),
        routes(host, facts),
    ]
}

/// The host's own routing table must reach every other host (whatever made the routes: the
/// inventory's gateway, router advertisements, a routing daemon), and a default route learned
/// from router advertisements must survive forwarding: a forwarding interface ignores
/// advertisements unless its accept_ra is 2, which v6deploy sets on the host's interface
/// only (the route would expire some minutes after install).
fn routes(host: &HostSpec, f: &Facts) -> Verdict {
    let Some(routes) = &f.peer_routes else {
        return pass(Check::Routes, "not read");
    };
    let missing: Vec<String> = routes.peers.iter().filter(|r| !r.reachable).map(|r| format!("{} ({})", r.address, r.said)).collect();
    if !missing.is_empty() {
        return not_ok(
            Check::Routes,
            Status::Fail,
            format!("no route to {}", missing.join(", ")),
            "give the host a route to every other host: hosts[].gateway (the router on its link), router advertisements, or put the hosts on one prefix; `ip -6 route get ADDRESS` on the host must name a route",
        );
    }
    let lost: Vec<String> = routes.ra_defaults.iter().filter(|(dev, accept)| host.interface != dev.as_str() && *accept != Some(2)).map(|(dev, accept)| format!("{dev} (accept_ra {})", accept.map_or("unknown".to_string(), |a| a.to_string()))).collect();
    if !lost.is_empty() {
        return not_ok(
            Check::Routes,
            Status::Fail,
            format!("the default route comes from router advertisements on {}, which a forwarding host ignores there", lost.join(", ")),
            format!("set net.ipv6.conf.<interface>.accept_ra=2 on that interface (v6deploy sets it on {} only), or give hosts[].gateway", host.interface),
        );
    }
    let via_ra = if routes.ra_defaults.is_empty() { String::new() } else { format!("; the default route from router advertisements stays (accept_ra 2 on {})", host.interface) };
    pass(Check::Routes, format!("a route to each of the {} other hosts{via_ra}", routes.peers.len()))
}

fn os(f: &Facts) -> Verdict {
    let name = if f.os.pretty.is_empty() { format!("{} {}", f.os.id, f.os.version_id) } else { f.os.pretty.clone() };
    if f.os.id.is_empty() {
        not_ok(Check::Os, Status::Warn, "no /etc/os-release", "use CentOS 7, a RHEL 8/9 rebuild or Debian 12")
    } else if f.os.is_centos7() {
        pass(Check::Os, format!("{name} (CentOS 7: stock kernel 3.10 needs an upgrade for flannel IPv6 vxlan)"))
    } else {
        pass(Check::Os, name)
    }
}

fn kernel(inv: &Inventory, f: &Facts) -> Verdict {
    let minimum = inv.kernel.minimum;
    match f.kernel {
        None => not_ok(Check::Kernel, Status::Fail, format!("cannot read kernel version {:?}", f.kernel_release), "check `uname -r` on the host"),
        Some(k) if k >= minimum => pass(Check::Kernel, format!("{} >= {minimum}", f.kernel_release)),
        Some(_) => not_ok(
            Check::Kernel,
            Status::Fail,
            format!("{} < kernel.minimum {minimum} (flannel's IPv6 vxlan needs >= 3.12: `failed to add v6 vxlanRoute ... no route to host`)", f.kernel_release),
            "upgrade the kernel: v6deploy kernel upgrade (the field report ended on 4.19.113-300.el7)",
        ),
    }
}

fn interface(host: &HostSpec, f: &Facts) -> Verdict {
    let Some(nic) = f.interfaces.iter().find(|i| host.interface == i.name.as_str()) else {
        let names: Vec<&str> = f.interfaces.iter().map(|i| i.name.as_str()).collect();
        return not_ok(
            Check::Interface,
            Status::Fail,
            format!("no interface {} with IPv6 (has: {})", host.interface, names.join(", ")),
            "set hosts[].interface in the inventory to the NIC carrying the host's address",
        );
    };
    match nic.addresses.iter().find(|(a, _)| *a == host.address) {
        Some((_, prefix)) if *prefix == host.prefix_length => pass(Check::Interface, format!("{} has {}/{prefix}", nic.name, host.address)),
        Some((_, prefix)) => not_ok(
            Check::Interface,
            Status::Warn,
            format!("{} has {}/{prefix}, inventory says /{}", nic.name, host.address, host.prefix_length),
            "make hosts[].prefix_length match the host",
        ),
        None => not_ok(
            Check::Interface,
            Status::Fail,
            format!("{} does not carry {}", nic.name, host.address),
            "configure the address on the NIC (ifcfg: IPV6ADDR, without IPV6_ADDR_GEN_MODE=stable-privacy) or fix the inventory",
        ),
    }
}

fn forwarding(f: &Facts) -> Verdict {
    match f.ipv6_forwarding {
        Some(true) => pass(Check::Forwarding, "net.ipv6.conf.all.forwarding = 1"),
        Some(false) => not_ok(Check::Forwarding, Status::Warn, "net.ipv6.conf.all.forwarding = 0", "install enables it (/etc/sysctl.d/90-v6deploy.conf); pods cannot be routed without it"),
        None => not_ok(Check::Forwarding, Status::Fail, "cannot read net.ipv6.conf.all.forwarding (IPv6 disabled?)", "enable IPv6 on the host (ipv6.disable=0, net.ipv6.conf.all.disable_ipv6=0)"),
    }
}

fn default_route(host: &HostSpec, f: &Facts) -> Verdict {
    match (f.default_routes.first(), host.gateway) {
        (None, _) => not_ok(Check::DefaultRoute, Status::Warn, "no default IPv6 route", "set IPV6_DEFAULTGW (and hosts[].gateway); pods reaching outside the /64 need it"),
        (Some(via), Some(gw)) if *via != Some(gw) => not_ok(
            Check::DefaultRoute,
            Status::Warn,
            format!("default via {}, inventory gateway {gw}", fmt_via(*via)),
            "make hosts[].gateway match the host's route",
        ),
        (Some(via), _) => pass(Check::DefaultRoute, format!("default via {}", fmt_via(*via))),
    }
}

fn fmt_via(via: Option<Ipv6Addr>) -> String {
    via.map_or_else(|| "a device route".to_string(), |a| a.to_string())
}

fn nameservers(f: &Facts) -> Verdict {
    let v6: Vec<&String> = f.nameservers.iter().filter(|n| n.split('%').next().is_some_and(|a| a.parse::<Ipv6Addr>().is_ok())).collect();
    if v6.is_empty() {
        not_ok(
            Check::Nameservers,
            Status::Warn,
            format!("no IPv6 nameserver in /etc/resolv.conf (has: {})", f.nameservers.join(", ")),
            "add an IPv6 resolver or set cluster.upstream_dns: IPv6-only pods cannot reach IPv4 resolvers",
        )
    } else {
        pass(Check::Nameservers, v6.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))
    }
}

fn swap(f: &Facts) -> Verdict {
    if f.swaps.is_empty() {
        pass(Check::Swap, "off")
    } else {
        not_ok(Check::Swap, Status::Warn, format!("on: {}", f.swaps.join(", ")), "install turns it off (swapoff -a, fstab); the kubelet refuses to run with swap")
    }
}

fn time_skew(skew: f64) -> Verdict {
    if skew.abs() <= MAX_SKEW_SECONDS {
        pass(Check::TimeSkew, format!("{skew:+.2} s from this machine"))
    } else {
        not_ok(Check::TimeSkew, Status::Fail, format!("{skew:+.1} s from this machine"), "run chronyd/ntpd on every host; certificates and etcd leases need agreeing clocks")
    }
}

fn disk(f: &Facts) -> Verdict {
    match f.var_free_kib {
        Some(k) if k >= MIN_VAR_FREE_KIB => pass(Check::Disk, format!("{} MiB free under /var", k / 1024)),
        Some(k) => not_ok(Check::Disk, Status::Fail, format!("{} MiB free under /var", k / 1024), "free at least 2 GiB under /var (etcd data, images)"),
        None => not_ok(Check::Disk, Status::Warn, "cannot read free space under /var", "check `df -Pk /var`"),
    }
}

/// The ports of the components that run on `host` (from the catalog) must be free, or held
/// by that component's own running v6deploy service.
fn ports(host: &HostSpec, f: &Facts) -> Verdict {
    let wanted = components::ports_on(host);
    let held = |port: u16, owner: &Component| f.listening.contains(&port) && f.managed_active.iter().any(|u| u == owner.name);
    let ours: Vec<String> = wanted.iter().filter(|(p, c)| held(*p, c)).map(|(p, _)| p.to_string()).collect();
    let busy: Vec<String> = wanted.iter().filter(|(p, c)| f.listening.contains(p) && !held(*p, c)).map(|(p, _)| p.to_string()).collect();
    let all: Vec<String> = wanted.iter().map(|(p, _)| p.to_string()).collect();
    if busy.is_empty() && ours.is_empty() {
        pass(Check::Ports, format!("{} free", all.join(", ")))
    } else if busy.is_empty() {
        pass(Check::Ports, format!("{} held by v6deploy's own services, the rest free", ours.join(", ")))
    } else {
        not_ok(Check::Ports, Status::Fail, format!("in use: {}", busy.join(", ")), "stop what listens there (`ss -ltnp`), or this host already runs a cluster component")
    }
}

fn systemd(f: &Facts) -> Verdict {
    match f.systemd {
        Some(v) => pass(Check::Systemd, format!("systemd {v}")),
        None => not_ok(Check::Systemd, Status::Fail, "systemd is not PID 1", "v6deploy installs systemd units: use a systemd host"),
    }
}

/// The tools the health checks run on a host.
const TOOLS: [&str; 1] = ["curl"];

fn tools(f: &Facts) -> Verdict {
    let missing: Vec<&str> = TOOLS.iter().copied().filter(|t| !f.tools.iter().any(|have| have == t)).collect();
    if missing.is_empty() {
        pass(Check::Tools, TOOLS.join(", "))
    } else {
        not_ok(
            Check::Tools,
            Status::Fail,
            format!("missing: {}", missing.join(", ")),
            "install it from the distribution (yum install curl, apt install curl): the health checks of the kubelet, controller-manager, scheduler and kube-proxy use it",
        )
    }
}

fn runtime(f: &Facts) -> Verdict {
    if f.foreign_containerd_without_cri {
        not_ok(
            Check::Runtime,
            Status::Warn,
            "/etc/containerd/config.toml disables the CRI plugin (docker's containerd package does)",
            "install replaces that file (CRI enabled) and runs containerd from the bundle: stop docker and its containerd first (systemctl disable --now docker containerd)",
        )
    } else {
        pass(Check::Runtime, "no containerd configuration in the way")
    }
}

/// A host already on the other pod network: moving a running cluster between flannel and
/// host routes is refused (the pods' addresses, routes and bridge belong to the old one; a
/// half-moved cluster would leave static routes beside flannel's tunnel).
fn pod_network(inv: &Inventory, f: &Facts) -> Verdict {
    let routes = f.managed_active.iter().any(|u| u == crate::components::POD_ROUTES_UNIT);
    let flannel = f.interfaces.iter().any(|i| i.name == FLANNEL_LINK);
    let fix = "keep the cluster's cluster.pod_network, or `v6deploy reset` the cluster and install it again";
    match inv.cluster.pod_network {
        PodNetwork::Flannel if routes => not_ok(
            Check::PodNetwork,
            Status::Fail,
            "the host runs the host-routes pod network (v6deploy-pod-routes is active); moving a running cluster to flannel is not supported",
            fix,
        ),
        PodNetwork::HostRoutes if flannel => not_ok(
            Check::PodNetwork,
            Status::Fail,
            format!("the host runs flannel ({FLANNEL_LINK} exists); moving a running cluster to host routes is not supported"),
            fix,
        ),
        PodNetwork::Flannel => pass(Check::PodNetwork, if flannel { "flannel (running)" } else { "flannel" }),
        PodNetwork::HostRoutes => pass(Check::PodNetwork, if routes { "host routes (set)" } else { "host routes" }),
    }
}

/// flannel's IPv6 vxlan device.
const FLANNEL_LINK: &str = "flannel-v6.1";

#[cfg(test)]
mod tests;
