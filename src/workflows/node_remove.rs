//! Node remove: shrink a running cluster. What may be removed (`Shrink::new`,
//! `check_etcd_quorum`, both before any change), and the steps of the removal run, in order;
//! the staying hosts are then brought in line by the shared install steps
//! (`cluster::steps` on the staying hosts: /etc/hosts, the API servers' etcd list and
//! certificates, the host routes), see `node_remove_run`.

use std::net::Ipv6Addr;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::components::POD_ROUTES;
use crate::exit::HostsError;
use crate::facts::EtcdState;
use crate::steps::MARKER;
use crate::inventory::{HostSpec, Inventory, Role};
use crate::runner::{Step, quorum};
use crate::steps::{DeleteNodes, DrainNodes, EtcdRemove, RemoveServices};

use super::membership::Membership;

/// The cluster before and after the removal.
#[derive(Debug, Clone)]
pub struct Shrink {
    /// The members and the hosts to remove: the hosts of the removal run.
    pub whole: Inventory,
    /// The members that stay: the hosts brought in line after it.
    pub staying: Inventory,
    /// The hosts to remove, in inventory order.
    pub leaving: Vec<HostSpec>,
    /// Hosts to remove that are not members (removed by an earlier run).
    pub gone: Vec<Ipv6Addr>,
    /// The staying control-plane host the API server is asked on.
    pub api_host: Ipv6Addr,
    /// The etcd members of the cluster now (staying and leaving).
    pub etcd_members: Vec<Ipv6Addr>,
}

/// The inventory addresses of `nodes` (addresses in any textual form, or node names); a host
/// not in the inventory is refused: node remove needs its address and SSH access.
pub fn wanted(inv: &Inventory, nodes: &[String]) -> Result<Vec<Ipv6Addr>> {
    let mut wanted = Vec::new();
    for text in nodes {
        let address = text.parse::<Ipv6Addr>().ok();
        match inv.hosts.iter().find(|h| Some(h.address) == address || h.name.as_str() == text) {
            Some(h) if !wanted.contains(&h.address) => wanted.push(h.address),
            Some(_) => {}
            None => bail!(
                "{text} is not in the inventory {}: node remove works on hosts listed under hosts: (it needs their address and SSH access); \
                 list it again to remove it, and delete it from the inventory only afterwards",
                inv.source.display()
            ),
        }
    }
    Ok(wanted)
}

impl Shrink {
    /// The cluster without `wanted`; refuses what `node remove` cannot do (an unreachable or
    /// foreign host, no member at all, no control-plane host or etcd member left).
    pub fn new(inv: &Inventory, membership: &Membership, wanted: &[Ipv6Addr]) -> Result<Shrink> {
        if !membership.unreachable.is_empty() {
            let list: Vec<String> = membership.unreachable.iter().map(|(a, e)| format!("{a}: {e}")).collect();
            return Err(HostsError(format!("node remove needs every host reachable; unreachable: {}; nothing was changed", list.join("; "))).into());
        }
        if let Some((address, other)) = membership.foreign.iter().next() {
            bail!("{address} belongs to another cluster ({other}); nothing was changed");
        }
        if membership.members.is_empty() {
            bail!("no host of {} is in cluster {}: there is nothing to remove from", inv.source.display(), inv.cluster.name);
        }
        let member = |a: &Ipv6Addr| membership.members.contains(a);
        // drain and delete pick the Node by name: the inventory's must be the one install gave it.
        for host in inv.hosts.iter().filter(|h| wanted.contains(&h.address) && member(&h.address)) {
            if let Some(recorded) = membership.nodes.get(&host.address).filter(|n| n.as_str() != host.name.as_str()) {
                bail!(
                    "{}: the inventory names its Node {}, but the host's marker ({MARKER}) says install named it {recorded}: node remove drains and deletes the Node by name and would hit the wrong one; \
                     make the inventory's name for it {recorded} again (or remove that Node by hand); nothing was changed",
                    host.address,
                    host.name
                );
            }
        }
        let whole = Inventory { hosts: inv.hosts.iter().filter(|h| member(&h.address) || wanted.contains(&h.address)).cloned().collect(), ..inv.clone() };
        let staying = Inventory { hosts: whole.hosts.iter().filter(|h| member(&h.address) && !wanted.contains(&h.address)).cloned().collect(), ..inv.clone() };
        let leaving: Vec<HostSpec> = whole.hosts.iter().filter(|h| wanted.contains(&h.address)).cloned().collect();
        let gone: Vec<Ipv6Addr> = leaving.iter().map(|h| h.address).filter(|a| !member(a)).collect();
        let Some(api_host) = staying.first_control_plane().map(|h| h.address) else {
            bail!("removing {} would leave cluster {} without a control-plane host; nothing was changed", list(&leaving), inv.cluster.name);
        };
        let etcd_members: Vec<Ipv6Addr> = whole.hosts.iter().filter(|h| h.has(Role::Etcd) && member(&h.address)).map(|h| h.address).collect();
        if !etcd_members.is_empty() && staying.hosts.iter().all(|h| !h.has(Role::Etcd)) {
            bail!("removing {} would leave cluster {} without an etcd member (and its data); nothing was changed", list(&leaving), inv.cluster.name);
        }
        Ok(Shrink { whole, staying, leaving, gone, api_host, etcd_members })
    }

    /// The etcd members that leave (members of the cluster only).
    pub fn etcd_leaving(&self) -> Vec<Ipv6Addr> {
        self.etcd_members.iter().copied().filter(|a| self.leaving.iter().any(|h| h.address == *a)).collect()
    }

    /// The etcd members that stay.
    pub fn etcd_staying(&self) -> Vec<Ipv6Addr> {
        self.etcd_members.iter().copied().filter(|a| !self.leaving.iter().any(|h| h.address == *a)).collect()
    }

    /// How many etcd members stay, when that count is even and above 1 (it tolerates no more
    /// failures than one fewer) and members leave.
    pub fn even_etcd(&self) -> Option<usize> {
        let after = self.etcd_staying().len();
        (!self.etcd_leaving().is_empty() && after > 1 && after.is_multiple_of(2)).then_some(after)
    }
}

/// "a (roles), b (roles)".
fn list(hosts: &[HostSpec]) -> String {
    hosts.iter().map(|h| format!("{} ({})", h.address, h.roles)).collect::<Vec<_>>().join(", ")
}

/// Refuses a removal that would break etcd: `health` is how every member answers now; the
/// members of `leaving` are removed one after the other, and before and after each removal a
/// quorum (`runner::quorum`) of the members then must be healthy, as etcd's own
/// `--strict-reconfig-check` wants (a removal needs a quorum to be agreed on, and the members
/// left need one to go on working).
pub fn check_etcd_quorum(health: &[(Ipv6Addr, EtcdState)], leaving: &[Ipv6Addr]) -> Result<(), HostsError> {
    let mut members: Vec<(Ipv6Addr, EtcdState)> = health.to_vec();
    let healthy = |m: &[(Ipv6Addr, EtcdState)]| m.iter().filter(|(_, s)| *s == EtcdState::Healthy).count();
    // "2001:db8::1 healthy, 2001:db8::2 down".
    let states = |m: &[(Ipv6Addr, EtcdState)]| m.iter().map(|(a, s)| format!("{a} {s}")).collect::<Vec<_>>().join(", ");
    for address in leaving {
        if !members.iter().any(|(a, _)| a == address) {
            continue;
        }
        if healthy(&members) < quorum(members.len()) {
            return Err(HostsError(format!(
                "etcd has lost its quorum already: {} of {} members healthy ({}), {} needed to agree on removing {address}; \
                 bring the members back first (etcdctl endpoint health); nothing was changed",
                healthy(&members),
                members.len(),
                states(&members),
                quorum(members.len())
            )));
        }
        members.retain(|(a, _)| a != address);
        if healthy(&members) < quorum(members.len()) {
            return Err(HostsError(format!(
                "removing etcd member {address} would break etcd's quorum: {} members would stay, {} of them healthy ({}), and {} must be to keep a quorum; \
                 bring the unhealthy members back first (etcdctl endpoint health), or remove them before this one; nothing was changed",
                members.len(),
                healthy(&members),
                states(&members),
                quorum(members.len())
            )));
        }
    }
    Ok(())
}

/// The steps of the removal run (on `shrink.whole`), in order: drain through the API server,
/// remove the etcd members while they still run, stop the leaving hosts' services and remove
/// their units and membership marker, delete their Node objects (once no kubelet can
/// register them again). `stamp` names the moved-aside etcd data dirs.
pub fn steps(shrink: &Shrink, drain_timeout: Duration, stamp: &str) -> Vec<Box<dyn Step>> {
    let nodes: Vec<_> = shrink.leaving.iter().map(|h| h.name.clone()).collect();
    let leaving: Vec<Ipv6Addr> = shrink.leaving.iter().map(|h| h.address).collect();
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(DrainNodes { api_host: shrink.api_host, nodes: nodes.clone(), timeout: drain_timeout })];
    let staying = shrink.etcd_staying();
    if let Some(on) = staying.first().copied()
        && !shrink.etcd_leaving().is_empty()
    {
        steps.push(Box::new(EtcdRemove { on, staying, leaving: shrink.etcd_leaving() }));
    }
    steps.push(Box::new(RemoveServices { leaving, stamp: stamp.to_string(), pod_routes: POD_ROUTES.wanted(&shrink.whole) }));
    steps.push(Box::new(DeleteNodes { api_host: shrink.api_host, nodes }));
    steps
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

    fn shrink(members: &[u16], wanted: &[u16]) -> Result<Shrink> {
        let wanted: Vec<Ipv6Addr> = wanted.iter().map(|w| address(*w)).collect();
        Shrink::new(&crate::inventory::field_report(), &membership(members), &wanted)
    }

    /// `true`: healthy, `false`: down.
    fn health(members: &[(u16, bool)]) -> Vec<(Ipv6Addr, EtcdState)> {
        members.iter().map(|(m, h)| (address(*m), if *h { EtcdState::Healthy } else { EtcdState::Down })).collect()
    }

    #[test]
    fn the_cluster_shrinks_to_the_staying_members() {
        let shrink = shrink(&[0x101, 0x102, 0x103], &[0x103]).unwrap();
        let hosts = |inv: &Inventory| inv.hosts.iter().map(|h| h.address).collect::<Vec<_>>();
        assert_eq!(hosts(&shrink.whole), [address(0x101), address(0x102), address(0x103)]);
        assert_eq!(hosts(&shrink.staying), [address(0x101), address(0x102)]);
        assert_eq!(shrink.api_host, address(0x101));
        assert_eq!(shrink.etcd_leaving(), [address(0x103)]);
        assert_eq!(shrink.etcd_staying(), [address(0x101), address(0x102)]);
        assert_eq!(shrink.even_etcd(), Some(2));
        assert!(shrink.gone.is_empty());
        // The first control plane leaving: the API server is asked on the next one.
        assert_eq!(self::shrink(&[0x101, 0x102, 0x103], &[0x101]).unwrap().api_host, address(0x102));
    }

    #[test]
    fn what_node_remove_cannot_do_is_refused() {
        let last = shrink(&[0x101, 0x102, 0x103], &[0x101, 0x102, 0x103]).unwrap_err().to_string();
        assert!(last.contains("without a control-plane host"), "{last}");
        let none = shrink(&[], &[0x101]).unwrap_err().to_string();
        assert!(none.contains("is in cluster field-report: there is nothing to remove from"), "{none}");
        let mut unreachable = membership(&[0x101, 0x102, 0x103]);
        unreachable.unreachable.insert(address(0x102), "timed out".into());
        let error = Shrink::new(&crate::inventory::field_report(), &unreachable, &[address(0x103)]).unwrap_err();
        assert!(error.to_string().contains("node remove needs every host reachable; unreachable: 2002:db8:0:1::102: timed out"), "{error}");
        assert_eq!(crate::exit::code_for(&error), crate::exit::HOST_FAILED);
        let inv = crate::inventory::field_report();
        let missing = wanted(&inv, &["2001:db8::9".into()]).unwrap_err().to_string();
        assert!(missing.starts_with("2001:db8::9 is not in the inventory"), "{missing}");
        let by_name = wanted(&inv, &[inv.hosts[2].name.to_string(), "2002:db8:0:1:0:0:0:103".into()]).unwrap();
        assert_eq!(by_name, [address(0x103)]);
    }

    /// A host removed by an earlier run is not a member any more: it is passed through (its
    /// removal steps find nothing to do), so a second run changes nothing.
    #[test]
    fn a_node_named_otherwise_than_install_named_it_is_refused() {
        let inv = crate::inventory::field_report();
        let mut membership = membership(&[0x101, 0x102, 0x103]);
        membership.nodes.insert(address(0x103), "2002.0db8.0000.0001.0000.0000.0000.0104".into());
        let error = Shrink::new(&inv, &membership, &[address(0x103)]).err().unwrap().to_string();
        assert!(error.contains("says install named it 2002.0db8.0000.0001.0000.0000.0000.0104") && error.contains("wrong one"), "{error}");
        membership.nodes.insert(address(0x103), inv.hosts[2].name.to_string());
        assert!(Shrink::new(&inv, &membership, &[address(0x103)]).is_ok());
    }

    #[test]
    fn a_host_removed_before_is_gone_not_refused() {
        let shrink = shrink(&[0x101, 0x102], &[0x103]).unwrap();
        assert_eq!(shrink.gone, [address(0x103)]);
        assert!(shrink.etcd_leaving().is_empty());
        assert_eq!(shrink.staying.hosts.len(), 2);
    }

    #[test]
    fn a_removal_that_keeps_a_healthy_quorum_is_allowed() {
        assert!(check_etcd_quorum(&health(&[(0x101, true), (0x102, true), (0x103, true)]), &[address(0x103)]).is_ok());
        // The unhealthy member itself may go: the other two are healthy.
        assert!(check_etcd_quorum(&health(&[(0x101, true), (0x102, true), (0x103, false)]), &[address(0x103)]).is_ok());
        // Two healthy members down to one.
        assert!(check_etcd_quorum(&health(&[(0x101, true), (0x102, true)]), &[address(0x102)]).is_ok());
        // A worker leaving does not concern etcd.
        assert!(check_etcd_quorum(&health(&[(0x101, false), (0x102, false), (0x103, false)]), &[address(0x104)]).is_ok());
    }

    #[test]
    fn a_removal_that_would_break_quorum_is_refused_with_the_reason() {
        let error = check_etcd_quorum(&health(&[(0x101, true), (0x102, false), (0x103, true)]), &[address(0x103)]).unwrap_err().to_string();
        assert!(
            error.starts_with("removing etcd member 2002:db8:0:1::103 would break etcd's quorum: 2 members would stay, 1 of them healthy (2002:db8:0:1::101 healthy, 2002:db8:0:1::102 down), and 2 must be to keep a quorum;"),
            "{error}"
        );
        // Two members, one down: the other runs but has no quorum to serve or agree with.
        let two = [(address(0x101), EtcdState::Running), (address(0x102), EtcdState::Down)];
        let lost = check_etcd_quorum(&two, &[address(0x101)]).unwrap_err().to_string();
        assert!(lost.starts_with("etcd has lost its quorum already: 0 of 2 members healthy (2002:db8:0:1::101 running without a quorum, 2002:db8:0:1::102 down), 2 needed"), "{lost}");
        // Five members, two of them unhealthy: a healthy one cannot go (4 would stay, 2 of
        // them healthy), the two unhealthy ones can, one after the other.
        let five = health(&[(0x101, true), (0x102, true), (0x103, true), (0x104, false), (0x105, false)]);
        let error = check_etcd_quorum(&five, &[address(0x102)]).unwrap_err().to_string();
        assert!(error.starts_with("removing etcd member 2002:db8:0:1::102 would break etcd's quorum: 4 members would stay, 2 of them healthy"), "{error}");
        assert!(check_etcd_quorum(&five, &[address(0x104), address(0x105)]).is_ok());
        // Seven healthy members, three removed at once: each removal keeps a quorum.
        let seven: Vec<(u16, bool)> = (0x101..=0x107).map(|a| (a, true)).collect();
        assert!(check_etcd_quorum(&health(&seven), &[address(0x101), address(0x102), address(0x103)]).is_ok());
    }

    #[test]
    fn the_removal_run_drains_then_removes_the_member_then_the_services_then_the_node() {
        let shrink = shrink(&[0x101, 0x102, 0x103], &[0x103]).unwrap();
        let titles: Vec<String> = steps(&shrink, Duration::from_secs(60), "t").iter().map(|s| s.title()).collect();
        assert_eq!(titles, ["Drain nodes", "Remove etcd members", "Stop and remove services", "Delete Node objects"]);
    }
}
