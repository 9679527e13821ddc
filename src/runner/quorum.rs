//! Quorum in rolling batches: a batch of hosts that reboot or restart together never takes
//! more etcd members down than etcd's quorum survives ((members − 1) / 2), nor every
//! control-plane host, whatever size the step (or `--parallel`) asks for.

use crate::inventory::{HostSpec, Inventory, Role};

/// How many of `members` etcd members must be up and agree for etcd to work: a majority.
pub fn quorum(members: usize) -> usize {
    members / 2 + 1
}

/// How many hosts of each group may be down at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownAtOnce {
    /// etcd members: (members − 1) / 2, at least 1 (one member of 1 or 2 can only go alone).
    pub etcd: usize,
    /// Control-plane hosts: all but one, at least 1.
    pub control_plane: usize,
    /// The members and control-plane hosts counted, for messages.
    pub members: (usize, usize),
}

impl DownAtOnce {
    /// The limits of the inventory's cluster (every host counts, selected or not).
    pub fn of(inv: &Inventory) -> DownAtOnce {
        let count = |role| inv.hosts.iter().filter(|h| h.has(role)).count();
        let (etcd, control_plane) = (count(Role::Etcd), count(Role::ControlPlane));
        DownAtOnce { etcd: etcd.saturating_sub(quorum(etcd)).max(1), control_plane: control_plane.saturating_sub(1).max(1), members: (etcd, control_plane) }
    }
}

/// Splits `hosts` (indices into `all`, kept in order) into batches of at most `size` hosts,
/// starting a new batch whenever the next host would put more etcd members or control-plane
/// hosts in the batch than `limits` allow.
pub fn batches(all: &[&HostSpec], hosts: &[usize], size: usize, limits: DownAtOnce) -> Vec<Vec<usize>> {
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    let (mut etcd, mut control_plane) = (0, 0);
    for &i in hosts {
        let host = all[i];
        let (is_etcd, is_control_plane) = (usize::from(host.has(Role::Etcd)), usize::from(host.has(Role::ControlPlane)));
        let full = current.len() >= size.max(1) || etcd + is_etcd > limits.etcd || control_plane + is_control_plane > limits.control_plane;
        if full && !current.is_empty() {
            batches.push(std::mem::take(&mut current));
            (etcd, control_plane) = (0, 0);
        }
        current.push(i);
        etcd += is_etcd;
        control_plane += is_control_plane;
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// An inventory with these hosts' roles (`e` etcd, `c` control plane, `w` worker).
    fn inventory(roles: &[&str]) -> Inventory {
        let hosts: String = roles
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let roles: Vec<&str> = r.chars().map(|c| match c { 'e' => "etcd", 'c' => "control-plane", _ => "worker" }).collect();
                format!("  - address: \"2001:db8::{}\"\n    roles: [{}]\n    interface: eth0\n", i + 1, roles.join(", "))
            })
            .collect();
        let text = format!("cluster:\n  name: t\n  kubernetes_version: \"1.27.15\"\n  service_cidr: \"2001:cafe:43::/112\"\n  pod_cidr: \"2001:cafe:42::/56\"\nhosts:\n{hosts}");
        crate::inventory::parse(Path::new("t.yaml"), &text).unwrap().inventory
    }

    fn split(inv: &Inventory, size: usize) -> Vec<Vec<usize>> {
        let all: Vec<&HostSpec> = inv.hosts.iter().collect();
        let every: Vec<usize> = (0..all.len()).collect();
        batches(&all, &every, size, DownAtOnce::of(inv))
    }

    /// Regression: `--parallel` was capped at count − 1, so 2 of 3 etcd members rebooted
    /// together and etcd lost quorum.
    #[test]
    fn never_more_etcd_members_down_than_quorum_allows() {
        let three = inventory(&["ce", "ce", "ce"]);
        assert_eq!(DownAtOnce::of(&three), DownAtOnce { etcd: 1, control_plane: 2, members: (3, 3) });
        assert_eq!(split(&three, 3), [vec![0], vec![1], vec![2]]);
        let five = inventory(&["ce", "e", "e", "e", "e", "w", "w"]);
        assert_eq!(DownAtOnce::of(&five).etcd, 2);
        assert_eq!(split(&five, 10), [vec![0, 1], vec![2, 3], vec![4, 5, 6]]);
        assert_eq!(split(&five, 1).len(), 7);
    }

    #[test]
    fn never_every_control_plane_host_at_once() {
        let inv = inventory(&["c", "c", "e", "w", "w"]);
        assert_eq!(split(&inv, 5), [vec![0], vec![1, 2, 3, 4]]);
        let single = inventory(&["ce", "w", "w"]);
        assert_eq!(split(&single, 3), [vec![0, 1, 2]]);
    }
}
