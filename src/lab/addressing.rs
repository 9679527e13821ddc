//! Names and addresses of a lab, all derived from its name, its subnet index and host
//! numbers. Pure: nothing here touches the system.
//!
//! A lab owns `2001:db8:0:<index>::/64` (the default lab `lab` always index 1). Its bridge
//! carries `::1`; host number 1, 2, ... gets `::101`, `::102`, ... written as in the field
//! report (the group reads `101` in hex, so host 10 is `::110`, not `::10a`).

use std::collections::BTreeSet;
use std::fmt;
use std::net::Ipv6Addr;

use ipnet::Ipv6Net;

use super::LabError;

/// Hosts per lab; the last one is `::150`.
pub const MAX_HOSTS: u16 = 50;
/// `--hosts` default.
pub const DEFAULT_HOSTS: u16 = 3;
/// The route held unreachable while any lab exists, so that no lab packet leaves the host.
pub const LAB_RANGE: &str = "2001:db8::/32";
/// The default lab's name.
pub const DEFAULT_NAME: &str = "lab";
/// Longest lab name: `v6lab-` + name must fit the 15 bytes of a Linux interface name.
const MAX_NAME: usize = 9;

/// A valid lab name: 1 to 9 of `a-z 0-9 -`, not starting or ending with `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LabName(String);

impl LabName {
    /// Parses a name given on the command line.
    pub fn parse(text: &str) -> Result<LabName, LabError> {
        let valid = !text.is_empty()
            && text.len() <= MAX_NAME
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !text.starts_with('-')
            && !text.ends_with('-');
        if valid { Ok(LabName(text.to_string())) } else { Err(LabError::BadName { name: text.to_string() }) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The bridge in the root namespace, e.g. `v6lab-lab`.
    pub fn bridge(&self) -> String {
        format!("v6lab-{}", self.0)
    }

    /// The machine's name and hostname, e.g. `lab-101`.
    pub fn machine(&self, host: HostNumber) -> String {
        format!("{}-{}", self.0, host.label())
    }

    /// The machine's network namespace, e.g. `v6lab-lab-101`.
    pub fn netns(&self, host: HostNumber) -> String {
        format!("v6lab-{}-{}", self.0, host.label())
    }

    /// The host a namespace name belongs to, when it is one of this lab's.
    pub fn host_of_netns(&self, netns: &str) -> Option<HostNumber> {
        let rest = netns.strip_prefix(&format!("v6lab-{}-", self.0))?;
        HostNumber::from_label(rest)
    }

    /// The host a machine argument names: its label (`101`) or full name (`lab-101`).
    pub fn host_of_machine(&self, machine: &str) -> Option<HostNumber> {
        let label = machine.strip_prefix(&format!("{}-", self.0)).unwrap_or(machine);
        HostNumber::from_label(label)
    }

    /// The inventory file name: `lab.yaml` for the default lab, `lab-NAME.yaml` otherwise.
    pub fn inventory_file(&self) -> String {
        if self.0 == DEFAULT_NAME { "lab.yaml".to_string() } else { format!("lab-{}.yaml", self.0) }
    }
}

impl Default for LabName {
    fn default() -> Self {
        LabName(DEFAULT_NAME.to_string())
    }
}

impl fmt::Display for LabName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

/// The ordinal of a machine in its lab, 1 to `MAX_HOSTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostNumber(u16);

impl HostNumber {
    /// Host `ordinal` (1-based); `None` outside 1..=MAX_HOSTS.
    pub fn new(ordinal: u16) -> Option<HostNumber> {
        (1..=MAX_HOSTS).contains(&ordinal).then_some(HostNumber(ordinal))
    }

    /// Hosts 1..=count.
    pub fn first(count: u16) -> impl Iterator<Item = HostNumber> {
        (1..=count.min(MAX_HOSTS)).map(HostNumber)
    }

    pub fn ordinal(self) -> u16 {
        self.0
    }

    /// The number as written in the address and names: 101, 102, ...
    pub fn label(self) -> u16 {
        100 + self.0
    }

    fn from_label(text: &str) -> Option<HostNumber> {
        if text.len() != 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse::<u16>().ok().and_then(|label| label.checked_sub(100)).and_then(HostNumber::new)
    }

    /// The last address group: the label's digits read as hex (`101` -> 0x101).
    fn group(self) -> u16 {
        let label = self.label();
        ((label / 100) << 8) | ((label / 10 % 10) << 4) | (label % 10)
    }
}

/// A lab's /64: `2001:db8:0:<index>::/64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    index: u16,
}

impl Subnet {
    /// Subnet `index` (1 to 0xffff).
    pub fn new(index: u16) -> Option<Subnet> {
        (index != 0).then_some(Subnet { index })
    }

    pub fn index(self) -> u16 {
        self.index
    }

    pub fn net(self) -> Ipv6Net {
        // A /64 is always a valid prefix length.
        Ipv6Net::new(Ipv6Addr::new(0x2001, 0xdb8, 0, self.index, 0, 0, 0, 0), 64).expect("64 <= 128")
    }

    /// The bridge's address, the machines' gateway: `::1`.
    pub fn gateway(self) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, self.index, 0, 0, 0, 1)
    }

    /// A machine's address, e.g. `2001:db8:0:1::101`.
    pub fn host(self, host: HostNumber) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 0xdb8, 0, self.index, 0, 0, 0, host.group())
    }

    /// The host end of a machine's veth in the root namespace, e.g. `v6l1-101` (at most 12 bytes).
    pub fn veth(self, host: HostNumber) -> String {
        format!("v6l{:x}-{}", self.index, host.label())
    }
}

/// The subnet index for a new lab: the default lab always gets 1; another lab gets the
/// subnet its existing inventory file names (`preferred`, so that its addresses survive a
/// `lab down` and `lab up`) when that is free, else the lowest free index from 2 that is not
/// `kept` for a lab that went down with its files kept (one of those only when no other is
/// free), so that lab finds its subnet free when it comes back.
pub fn allocate_subnet(name: &LabName, used: &BTreeSet<u16>, kept: &BTreeSet<u16>, preferred: Option<Subnet>) -> Result<Subnet, LabError> {
    if name.as_str() == DEFAULT_NAME {
        return Ok(Subnet { index: 1 });
    }
    if let Some(subnet) = preferred.filter(|s| s.index >= 2 && !used.contains(&s.index) && !kept.contains(&s.index)) {
        return Ok(subnet);
    }
    (2..=u16::MAX)
        .find(|i| !used.contains(i) && !kept.contains(i))
        .or_else(|| (2..=u16::MAX).find(|i| !used.contains(i)))
        .map(|index| Subnet { index })
        .ok_or(LabError::NoFreeSubnet)
}

/// The lab subnet an address is in, if it is in `2001:db8:0::/48`.
pub fn subnet_of(address: Ipv6Addr) -> Option<Subnet> {
    let s = address.segments();
    if s[0] == 0x2001 && s[1] == 0xdb8 && s[2] == 0 { Subnet::new(s[3]) } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> LabName {
        LabName::parse(text).unwrap()
    }

    fn host(ordinal: u16) -> HostNumber {
        HostNumber::new(ordinal).unwrap()
    }

    #[test]
    fn hosts_are_numbered_like_the_field_report() {
        let subnet = Subnet::new(1).unwrap();
        let expected = [(1, "2001:db8:0:1::101"), (3, "2001:db8:0:1::103"), (10, "2001:db8:0:1::110"), (50, "2001:db8:0:1::150")];
        for (ordinal, address) in expected {
            assert_eq!(subnet.host(host(ordinal)), address.parse::<Ipv6Addr>().unwrap(), "host {ordinal}");
        }
        assert_eq!(subnet.gateway(), "2001:db8:0:1::1".parse::<Ipv6Addr>().unwrap());
        assert_eq!(subnet.net().to_string(), "2001:db8:0:1::/64");
        assert_eq!(Subnet::new(0x2a).unwrap().host(host(2)).to_string(), "2001:db8:0:2a::102");
        assert!(HostNumber::new(0).is_none() && HostNumber::new(51).is_none());
    }

    #[test]
    fn every_address_stays_inside_the_lab_range_and_its_subnet() {
        let range: Ipv6Net = LAB_RANGE.parse().unwrap();
        for index in [1, 2, 0xff, 0xffff] {
            let subnet = Subnet::new(index).unwrap();
            assert!(range.contains(&subnet.net()));
            for h in HostNumber::first(MAX_HOSTS) {
                assert!(subnet.net().contains(&subnet.host(h)));
                assert_ne!(subnet.host(h), subnet.gateway());
            }
        }
    }

    #[test]
    fn interface_names_fit_fifteen_bytes() {
        let longest = name("abcdefghi");
        assert_eq!(longest.bridge(), "v6lab-abcdefghi");
        assert!(longest.bridge().len() <= 15);
        let veth = Subnet::new(0xffff).unwrap().veth(host(50));
        assert_eq!(veth, "v6lffff-150");
        assert!(veth.len() <= 15);
        assert_eq!(Subnet::new(1).unwrap().veth(host(1)), "v6l1-101");
    }

    #[test]
    fn names_are_checked() {
        for good in ["lab", "a", "exp-1", "t0123456"] {
            assert!(LabName::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "Lab", "abcdefghij", "a_b", "a.b", "a b"] {
            assert!(LabName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn namespaces_and_machine_arguments_map_back_to_hosts() {
        let lab = name("lab");
        assert_eq!(lab.netns(host(2)), "v6lab-lab-102");
        assert_eq!(lab.host_of_netns("v6lab-lab-102"), Some(host(2)));
        // Another lab whose name starts with this one's is not mistaken for it.
        assert_eq!(lab.host_of_netns("v6lab-lab-x-101"), None);
        assert_eq!(lab.host_of_netns("v6lab-lab-151"), None);
        assert_eq!(lab.host_of_machine("101"), Some(host(1)));
        assert_eq!(lab.host_of_machine("lab-150"), Some(host(50)));
        assert_eq!(lab.host_of_machine("lab-1"), None);
        assert_eq!(lab.machine(host(1)), "lab-101");
    }

    #[test]
    fn the_default_lab_keeps_subnet_one_and_others_take_the_lowest_free() {
        let used: BTreeSet<u16> = [1, 2, 4].into();
        let none = BTreeSet::new();
        assert_eq!(allocate_subnet(&name("lab"), &used, &none, None).unwrap().index(), 1);
        assert_eq!(allocate_subnet(&name("exp"), &used, &none, None).unwrap().index(), 3);
        assert_eq!(allocate_subnet(&name("exp"), &BTreeSet::new(), &none, None).unwrap().index(), 2);
        // A lab coming back keeps the subnet of its inventory when it is free.
        assert_eq!(allocate_subnet(&name("exp"), &used, &none, Subnet::new(9)).unwrap().index(), 9);
        assert_eq!(allocate_subnet(&name("exp"), &used, &none, Subnet::new(4)).unwrap().index(), 3);
        assert_eq!(allocate_subnet(&name("exp"), &used, &none, Subnet::new(1)).unwrap().index(), 3);
        // Subnets kept for labs that went down with their files are passed over while
        // another is free, also when an inventory names one.
        let kept: BTreeSet<u16> = [3, 5].into();
        assert_eq!(allocate_subnet(&name("exp"), &used, &kept, None).unwrap().index(), 6);
        assert_eq!(allocate_subnet(&name("exp"), &used, &kept, Subnet::new(5)).unwrap().index(), 6);
        assert_eq!(allocate_subnet(&name("exp"), &used, &kept, Subnet::new(9)).unwrap().index(), 9);
        let all_but_kept: BTreeSet<u16> = (1..=u16::MAX).filter(|i| !kept.contains(i)).collect();
        assert_eq!(allocate_subnet(&name("exp"), &all_but_kept, &kept, None).unwrap().index(), 3);
        assert_eq!(subnet_of("2001:db8:0:9::101".parse().unwrap()), Subnet::new(9));
        assert_eq!(subnet_of("2001:db8:1:9::101".parse().unwrap()), None);
        assert_eq!(name("lab").inventory_file(), "lab.yaml");
        assert_eq!(name("exp").inventory_file(), "lab-exp.yaml");
    }
}
