//! Running `node add`: ask the hosts who is a member, grow the inventory by the hosts to add
//! (and only those), order the etcd joins, issue the new nodes' certificates and run
//! [`node_add::steps`](super::node_add::steps) on the grown cluster.

use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Result, bail};

use crate::checks::Check;
use crate::exit::HostsError;
use crate::desired::desired_state_with;
use crate::inventory::{Inventory, Role};
use crate::render::{RenderOptions, Templates};
use crate::runner::Mode;
use crate::steps::InstallState;

use super::install_run::{Note, Report, prepare_bundle, prepare_pki, report};
use super::membership::{self, Membership};
use super::node_add;
use super::remote::Remote;

/// What `node add` is asked to do.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The hosts to add: addresses (any textual form) or node names from the inventory.
    pub nodes: &'a [String],
    /// Apply, or only plan.
    pub mode: Mode,
    /// Failed preflight checks that do not stop the run.
    pub skip_checks: Vec<Check>,
    /// Template overrides.
    pub templates_dir: Option<&'a Path>,
}

/// The cluster as it will be: the running members plus the hosts to add.
#[derive(Debug, Clone)]
pub struct Growth {
    /// The inventory cut down to the members and the hosts to add.
    pub grown: Inventory,
    /// The etcd members before the run.
    pub running_etcd: Vec<Ipv6Addr>,
    /// The etcd members to add, in the order they join.
    pub joining: Vec<Ipv6Addr>,
}

impl Growth {
    /// The hosts of `inv` that are members, plus `wanted`; refuses what `node add` cannot do
    /// (a host to add that is unreachable or already a member, any unreachable or foreign
    /// host, no member at all).
    pub fn new(inv: &Inventory, membership: &Membership, wanted: &[Ipv6Addr]) -> Result<Growth> {
        if let Some((address, why)) = membership.unreachable.iter().find(|(a, _)| wanted.contains(a)) {
            return Err(HostsError(format!("cannot reach {address}, which is to be added: {why}; nothing was changed")).into());
        }
        if !membership.unreachable.is_empty() {
            let list: Vec<String> = membership.unreachable.iter().map(|(a, e)| format!("{a}: {e}")).collect();
            return Err(HostsError(format!("node add needs every host reachable; unreachable: {}; nothing was changed", list.join("; "))).into());
        }
        if let Some((address, other)) = membership.foreign.iter().next() {
            bail!("{address} belongs to another cluster ({other}); nothing was changed");
        }
        if let Some(already) = wanted.iter().find(|a| membership.members.contains(a)) {
            bail!("{already} is already a member of cluster {} (its /etc/v6deploy/member says so); nothing was changed", inv.cluster.name);
        }
        if membership.members.is_empty() {
            bail!("no host of {} is in cluster {} yet: run `v6deploy -i {} install` first", inv.source.display(), inv.cluster.name, inv.source.display());
        }
        let grown = Inventory {
            hosts: inv.hosts.iter().filter(|h| membership.members.contains(&h.address) || wanted.contains(&h.address)).cloned().collect(),
            ..inv.clone()
        };
        let running_etcd = grown.hosts.iter().filter(|h| h.has(Role::Etcd) && membership.members.contains(&h.address)).map(|h| h.address).collect();
        let joining = grown.hosts.iter().filter(|h| h.has(Role::Etcd) && wanted.contains(&h.address)).map(|h| h.address).collect();
        Ok(Growth { grown, running_etcd, joining })
    }

    /// How many etcd members there will be, when that count is even (it tolerates no more
    /// failures than one fewer) and members are added.
    pub fn even_etcd(&self) -> Option<usize> {
        let after = self.running_etcd.len() + self.joining.len();
        (!self.joining.is_empty() && after.is_multiple_of(2)).then_some(after)
    }

    /// The render options of the joining etcd members: each starts with the members before
    /// it (the running ones, then those that joined earlier in this run).
    pub fn render_options(&self) -> RenderOptions {
        let mut options = RenderOptions::default();
        let mut members = self.running_etcd.clone();
        for address in &self.joining {
            options.etcd_joining.insert(*address, members.clone());
            members.push(*address);
        }
        options
    }
}

/// The inventory addresses of `nodes` (addresses in any textual form, or node names).
fn wanted(inv: &Inventory, nodes: &[String]) -> Result<Vec<Ipv6Addr>> {
    let mut wanted = Vec::new();
    for text in nodes {
        let address = text.parse::<Ipv6Addr>().ok();
        let host = inv.hosts.iter().find(|h| Some(h.address) == address || h.name.as_str() == text);
        match host {
            Some(h) => wanted.push(h.address),
            None => bail!("{text} is not in the inventory {}: add it under hosts: first", inv.source.display()),
        }
    }
    Ok(wanted)
}

/// Adds `request.nodes` to the running cluster, telling `notes` what happens before the run.
pub fn run(remote: &Remote, inv: &Inventory, request: &Request<'_>, notes: &mut dyn FnMut(Note)) -> Result<Report> {
    let wanted = wanted(inv, request.nodes)?;
    let membership = membership::read(remote, inv)?;
    let growth = Growth::new(inv, &membership, &wanted)?;
    if let Some(members) = growth.even_etcd() {
        notes(Note::EvenEtcd { members });
    }
    let grown = &growth.grown;
    let (bundle, images) = prepare_bundle(grown, notes)?;
    let (store, scratch) = prepare_pki(grown, "issue the new nodes' certificates in", request.mode, notes)?;
    let desired = desired_state_with(grown, &Templates::load(request.templates_dir)?, &store, growth.render_options())?;
    let state = Arc::new(InstallState::new(desired, bundle, request.skip_checks.clone())?.with_images(images));
    let steps = node_add::steps(grown, &state, growth.running_etcd.clone(), growth.joining.clone());
    let recap = remote.run_steps_on_all(grown, remote.settings.feedback, request.mode, &steps)?;
    Ok(report(recap, &state, store, scratch))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn address(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2002, 0xdb8, 0, 1, 0, 0, 0, last)
    }

    fn membership(members: &[u16]) -> Membership {
        Membership { members: members.iter().map(|m| address(*m)).collect(), foreign: BTreeMap::new(), unreachable: BTreeMap::new(), nodes: BTreeMap::new() }
    }

    fn grow(members: &[u16], wanted: &[u16]) -> Result<Growth> {
        let wanted: Vec<Ipv6Addr> = wanted.iter().map(|w| address(*w)).collect();
        Growth::new(&crate::inventory::field_report(), &membership(members), &wanted)
    }

    #[test]
    fn etcd_members_join_one_after_the_other_each_knowing_those_before_it() {
        let growth = grow(&[0x101], &[0x102, 0x103]).unwrap();
        assert_eq!(growth.grown.hosts.len(), 3);
        assert_eq!(growth.running_etcd, vec![address(0x101)]);
        assert_eq!(growth.joining, vec![address(0x102), address(0x103)]);
        let options = growth.render_options();
        assert_eq!(options.etcd_joining[&address(0x102)], vec![address(0x101)]);
        assert_eq!(options.etcd_joining[&address(0x103)], vec![address(0x101), address(0x102)]);
        assert_eq!(growth.even_etcd(), None);
    }

    #[test]
    fn the_grown_inventory_holds_only_members_and_the_hosts_added() {
        let growth = grow(&[0x101], &[0x102]).unwrap();
        let hosts: Vec<Ipv6Addr> = growth.grown.hosts.iter().map(|h| h.address).collect();
        assert_eq!(hosts, vec![address(0x101), address(0x102)]);
        assert_eq!(growth.even_etcd(), Some(2));
    }

    #[test]
    fn what_node_add_cannot_do_is_refused() {
        let already = grow(&[0x101, 0x102], &[0x102]).unwrap_err().to_string();
        assert!(already.contains("2002:db8:0:1::102 is already a member of cluster field-report"), "{already}");
        let none = grow(&[], &[0x102]).unwrap_err().to_string();
        assert!(none.contains("is in cluster field-report yet"), "{none}");
        let mut unreachable = membership(&[0x101]);
        unreachable.unreachable.insert(address(0x103), "timed out".into());
        let error = Growth::new(&crate::inventory::field_report(), &unreachable, &[address(0x102)]).unwrap_err().to_string();
        assert!(error.contains("node add needs every host reachable; unreachable: 2002:db8:0:1::103: timed out"), "{error}");
    }
}
