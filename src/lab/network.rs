//! The lab's network, made with `ip`: a bridge per lab carrying the gateway address, a
//! network namespace per machine joined to the bridge by a veth pair, and the unreachable
//! route and rules that keep every lab packet on this host.
//!
//! Addresses are set from the root namespace (`ip -n NS`), so they belong to the namespace,
//! which outlives the machine's reboots. The host ends of the veths carry no address at all,
//! and IPv6 forwarding is left as it is: machines only talk to the host and to each other.

use std::fs;
use std::path::Path;

use super::LabError;
use super::addressing::{HostNumber, LAB_RANGE, LabName, Subnet};
use super::command::Runner;
use super::mounts;

const NETNS_DIR: &str = "/run/netns";

/// Whether a network interface of the root namespace exists.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether a named namespace exists and is live (on a host whose `/run` is not a tmpfs, a
/// reboot leaves the file without the namespace).
pub fn netns_live(name: &str) -> bool {
    mounts::is_mounted(&netns_path(name))
}

pub fn netns_path(name: &str) -> std::path::PathBuf {
    Path::new(NETNS_DIR).join(name)
}

/// Every namespace of `lab`'s machines, live or stale, by host.
pub fn lab_namespaces(lab: &LabName) -> Vec<(HostNumber, String)> {
    let mut found: Vec<(HostNumber, String)> = fs::read_dir(NETNS_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            Some((lab.host_of_netns(&name)?, name))
        })
        .collect();
    found.sort();
    found
}

/// Undoes what `ip netns add` did to `/run/netns` (a bind mount of itself) once no
/// namespace is left in it, so that the host is as it was before the first lab.
pub fn release_netns_dir(runner: &Runner) -> Result<(), LabError> {
    let dir = Path::new(NETNS_DIR);
    let empty = fs::read_dir(dir).map(|mut entries| entries.next().is_none()).unwrap_or(false);
    if empty && mounts::is_mounted(dir) {
        runner.run("umount", [NETNS_DIR])?;
    }
    if empty && !mounts::is_mounted(dir) {
        // Fails harmlessly if something was put there meanwhile.
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}

/// Policy rules held with the route: a destination in the lab range is looked up in the main
/// table (the bridges' /64s and the unreachable /32); any other destination from a lab
/// source address is unreachable. So even with IPv6 forwarding turned on by someone else,
/// the host's default route never carries a lab packet.
const RULES: &[(&str, &[&str])] = &[("32000", &["to", LAB_RANGE, "lookup", "main"]), ("32001", &["from", LAB_RANGE, "unreachable"])];

fn quiet() -> Runner {
    Runner { echo: super::command::Echo::Quiet }
}

fn rule_present(preference: &str) -> Result<bool, LabError> {
    Ok(!quiet().run("ip", ["-6", "rule", "show", "pref", preference])?.trim().is_empty())
}

/// Holds `unreachable 2001:db8::/32` and the rules, so that no lab packet leaves the host.
pub fn hold_lab_range(runner: &Runner) -> Result<(), LabError> {
    runner.run("ip", ["-6", "route", "replace", "unreachable", LAB_RANGE])?;
    for (preference, selector) in RULES {
        if !rule_present(preference)? {
            let mut args = vec!["-6", "rule", "add"];
            args.extend_from_slice(selector);
            args.extend(["pref", preference]);
            runner.run("ip", args)?;
        }
    }
    Ok(())
}

/// What of the route and rules is in place, for `lab down`'s final check.
pub fn lab_range_held() -> Result<Vec<String>, LabError> {
    let mut held = Vec::new();
    if !quiet().run("ip", ["-6", "route", "show", "type", "unreachable", LAB_RANGE])?.trim().is_empty() {
        held.push(format!("route unreachable {LAB_RANGE}"));
    }
    for (preference, selector) in RULES {
        if rule_present(preference)? {
            held.push(format!("rule {} pref {preference}", selector.join(" ")));
        }
    }
    Ok(held)
}

/// Drops the route and the rules (with the last lab).
pub fn release_lab_range(runner: &Runner) -> Result<(), LabError> {
    if !quiet().run("ip", ["-6", "route", "show", "type", "unreachable", LAB_RANGE])?.trim().is_empty() {
        runner.run("ip", ["-6", "route", "del", "unreachable", LAB_RANGE])?;
    }
    for (preference, _) in RULES {
        if rule_present(preference)? {
            runner.run("ip", ["-6", "rule", "del", "pref", preference])?;
        }
    }
    Ok(())
}

/// Creates the lab's bridge with the gateway address, if it is not there.
pub fn ensure_bridge(runner: &Runner, lab: &LabName, subnet: Subnet) -> Result<(), LabError> {
    let bridge = lab.bridge();
    if !link_exists(&bridge) {
        runner.run("ip", ["link", "add", &bridge, "type", "bridge"])?;
    }
    let gateway = format!("{}/64", subnet.gateway());
    runner.run("ip", ["addr", "replace", &gateway, "dev", &bridge, "nodad"])?;
    runner.run("ip", ["link", "set", &bridge, "up"])?;
    Ok(())
}

/// Deletes the bridge (its address and prefix route go with it).
pub fn remove_bridge(runner: &Runner, lab: &LabName) -> Result<(), LabError> {
    let bridge = lab.bridge();
    if link_exists(&bridge) {
        runner.run("ip", ["link", "del", &bridge])?;
    }
    Ok(())
}

/// Creates the machine's namespace, its `eth0` with the machine's address and default route
/// via the bridge, and the host end on the bridge. Idempotent.
pub fn ensure_machine(runner: &Runner, lab: &LabName, subnet: Subnet, host: HostNumber) -> Result<(), LabError> {
    let netns = lab.netns(host);
    let veth = subnet.veth(host);
    if !netns_live(&netns) {
        if netns_path(&netns).exists() {
            runner.run("ip", ["netns", "del", &netns])?;
        }
        runner.run("ip", ["netns", "add", &netns])?;
    }
    if !link_exists(&veth) {
        runner.run("ip", ["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns])?;
    }
    // The host end is a bridge port: no addresses, not even link-local.
    runner.run("ip", ["link", "set", &veth, "addrgenmode", "none"])?;
    runner.run("ip", ["link", "set", &veth, "master", &lab.bridge(), "up"])?;
    let address = format!("{}/64", subnet.host(host));
    let gateway = subnet.gateway().to_string();
    runner.run("ip", ["-n", &netns, "link", "set", "lo", "up"])?;
    runner.run("ip", ["-n", &netns, "link", "set", "eth0", "up"])?;
    runner.run("ip", ["-n", &netns, "addr", "replace", &address, "dev", "eth0", "nodad"])?;
    runner.run("ip", ["-n", &netns, "-6", "route", "replace", "default", "via", &gateway, "dev", "eth0"])?;
    Ok(())
}

/// Deletes the machine's veth pair and namespace. The veth goes first: a namespace's
/// interfaces are destroyed asynchronously after `ip netns del`.
pub fn remove_machine(runner: &Runner, netns: &str, veth: Option<&str>) -> Result<(), LabError> {
    if let Some(veth) = veth.filter(|v| link_exists(v)) {
        match runner.run("ip", ["link", "del", veth]) {
            Err(_) if !link_exists(veth) => {} // gone meanwhile
            other => {
                other?;
            }
        }
    }
    if netns_path(netns).exists() {
        runner.run("ip", ["netns", "del", netns])?;
    }
    Ok(())
}
