//! Reading which hosts are in the cluster, from the hosts (before install and node add change
//! anything).

use std::collections::BTreeMap;
use std::net::Ipv6Addr;

use anyhow::Result;

use crate::inventory::Inventory;
use crate::runner::{HostStatus, Mode};
use crate::steps::{MembershipStore, ReadMembership};

use super::remote::{Feedback, Remote};

/// What the hosts say about the cluster.
pub struct Membership {
    /// Hosts whose marker names this cluster.
    pub members: Vec<Ipv6Addr>,
    /// Hosts whose marker names another cluster, with its name.
    pub foreign: BTreeMap<Ipv6Addr, String>,
    /// Hosts that could not be asked, with why.
    pub unreachable: BTreeMap<Ipv6Addr, String>,
    /// The node name each member's marker recorded (install's name for its Node).
    pub nodes: BTreeMap<Ipv6Addr, String>,
}

/// Asks every host of `inv`, whatever `--hosts` says (read-only, one round trip each, no
/// progress shown).
pub fn read(remote: &Remote, inv: &Inventory) -> Result<Membership> {
    let store = MembershipStore::default();
    let recap = remote.run_steps_on_all(inv, Feedback::Silent, Mode::DryRun, &[Box::new(ReadMembership { store: store.clone() })])?;
    let said = store.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let mut membership = Membership { members: Vec::new(), foreign: BTreeMap::new(), unreachable: BTreeMap::new(), nodes: BTreeMap::new() };
    for host in &recap.hosts {
        let Ok(address) = host.host.parse::<Ipv6Addr>() else { continue };
        if matches!(host.status, HostStatus::Failed | HostStatus::Unreachable) {
            membership.unreachable.insert(address, host.error.clone().unwrap_or_default());
            continue;
        }
        match said.get(&address).cloned().flatten() {
            Some(marker) if inv.cluster.name == marker.cluster.as_str() => {
                membership.members.push(address);
                if let Some(node) = marker.node {
                    membership.nodes.insert(address, node);
                }
            }
            Some(other) => {
                membership.foreign.insert(address, other.cluster);
            }
            None => {}
        }
    }
    Ok(membership)
}
