//! Verdicts from fixture facts.

use super::*;
use crate::facts::Facts;

fn inventory() -> Inventory {
    crate::inventory::field_report()
}

/// Facts as a CentOS 7.8 host of the field report shows them before any change.
const CENTOS7_HOST: &str = "@@os-release\nID=\"centos\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\n\
@@redhat-release\nCentOS Linux release 7.8.2003 (Core)\n\
@@uname\n3.10.0-1127.el7.x86_64\n\
@@addr\n2: ens160    inet6 2002:db8:0:1::101/64 scope global noprefixroute \\       valid_lft forever preferred_lft forever\n\
@@forwarding\n0\n\
@@route\ndefault via 2002:db8:0:1::1 dev ens160 proto static metric 100 pref medium\n\
@@resolv\nnameserver 192.0.2.53\n\
@@swaps\nFilename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition 2097148 0 -2\n\
@@clock\n1790000000.5\n\
@@disk\nFilesystem 1024-blocks Used Available Capacity Mounted on\n/dev/sda3 52403200 1000000 51403200 2% /\n\
@@tcp6\n  sl  local_address remote_address st\n   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0\n\
@@tcp\n\
@@systemd\nsystemd 219\n@@managed\n@@end\n";

fn by_check(vs: &[Verdict]) -> std::collections::BTreeMap<&'static str, (Status, String)> {
    vs.iter().map(|v| (v.check.name(), (v.status, v.detail.clone()))).collect()
}

#[test]
fn a_stock_centos7_host_of_the_field_report() {
    let inv = inventory();
    let facts = Facts::parse(CENTOS7_HOST).unwrap();
    let v = by_check(&verdicts(&inv, &inv.hosts[0], &facts, 0.3));
    assert_eq!(v["os"].0, Status::Pass);
    assert!(v["os"].1.contains("CentOS Linux release 7.8.2003"), "{:?}", v["os"]);
    assert_eq!(v["kernel"].0, Status::Fail);
    assert!(v["kernel"].1.starts_with("3.10.0-1127.el7.x86_64 < kernel.minimum 4.19.0"), "{:?}", v["kernel"]);
    assert_eq!(v["interface"], (Status::Pass, "ens160 has 2002:db8:0:1::101/64".into()));
    assert_eq!(v["forwarding"].0, Status::Warn);
    assert_eq!(v["default-route"], (Status::Pass, "default via 2002:db8:0:1::1".into()));
    assert_eq!(v["nameservers"].0, Status::Warn);
    assert_eq!(v["swap"].0, Status::Warn);
    assert_eq!(v["time-skew"].0, Status::Pass);
    assert_eq!(v["disk"].0, Status::Pass);
    assert_eq!(v["ports"].0, Status::Pass);
    assert_eq!(v["systemd"], (Status::Pass, "systemd 219".into()));
}

#[test]
fn wrong_host_address_busy_ports_and_skew_fail() {
    let inv = inventory();
    let text = CENTOS7_HOST
        .replace("2002:db8:0:1::101/64", "2002:db8:0:1::199/64")
        .replace(":0016 ", ":094B ");
    let facts = Facts::parse(&text).unwrap();
    let vs = verdicts(&inv, &inv.hosts[0], &facts, -45.0);
    let v = by_check(&vs);
    assert_eq!(v["interface"], (Status::Fail, "ens160 does not carry 2002:db8:0:1::101".into()));
    assert_eq!(v["ports"], (Status::Fail, "in use: 2379".into()));
    assert_eq!(v["time-skew"], (Status::Fail, "-45.0 s from this machine".into()));
    assert!(vs.iter().filter(|v| v.status != Status::Pass).all(|v| v.fix.is_some()), "every non-pass verdict says what to do");
}

#[test]
fn missing_interface_names_what_exists() {
    let inv = inventory();
    let facts = Facts::parse(&CENTOS7_HOST.replace("ens160", "eth0")).unwrap();
    let v = by_check(&verdicts(&inv, &inv.hosts[0], &facts, 0.0));
    assert_eq!(v["interface"], (Status::Fail, "no interface ens160 with IPv6 (has: eth0)".into()));
}

#[test]
fn ports_held_by_our_own_running_services_are_fine() {
    let inv = inventory();
    let text = CENTOS7_HOST.replace(":0016 ", ":094B ").replace("@@managed\n", "@@managed\netcd\n");
    let facts = Facts::parse(&text).unwrap();
    let v = by_check(&verdicts(&inv, &inv.hosts[0], &facts, 0.0));
    assert_eq!(v["ports"], (Status::Pass, "2379 held by v6deploy's own services, the rest free".into()));
}

#[test]
fn health_check_tools_and_a_containerd_without_cri_are_reported() {
    let inv = inventory();
    let without = by_check(&verdicts(&inv, &inv.hosts[0], &Facts::parse(CENTOS7_HOST).unwrap(), 0.0));
    assert_eq!(without["tools"], (Status::Fail, "missing: curl".into()));
    assert_eq!(without["runtime"].0, Status::Pass);
    let docker = "@@tools\ncurl\n@@containerd-config\ndisabled_plugins = [\"cri\"]\n@@end\n";
    let text = CENTOS7_HOST.replace("@@end\n", docker);
    let with = by_check(&verdicts(&inv, &inv.hosts[0], &Facts::parse(&text).unwrap(), 0.0));
    assert_eq!(with["tools"], (Status::Pass, "curl".into()));
    assert_eq!(with["runtime"].0, Status::Warn);
    let ours = text.replace("disabled_plugins = [\"cri\"]", "# Managed by v6deploy: containerd of x.\ndisabled_plugins = []");
    assert_eq!(by_check(&verdicts(&inv, &inv.hosts[0], &Facts::parse(&ours).unwrap(), 0.0))["runtime"].0, Status::Pass);
}

/// A running cluster does not move between pod networks: a host with the host-routes unit
/// active fails `pod-network` under `flannel`, a host with flannel's device under
/// `host-routes`; a fresh host passes either.
#[test]
fn a_host_on_the_other_pod_network_is_refused() {
    let mut inv = inventory();
    let routes = Facts::parse(&CENTOS7_HOST.replace("@@managed\n", "@@managed\n kubelet v6deploy-pod-routes\n")).unwrap();
    let tunnel = Facts::parse(&CENTOS7_HOST.replace("@@addr\n", "@@addr\n9: flannel-v6.1    inet6 2002:db8:42:1::/128 scope global \\       valid_lft forever preferred_lft forever\n")).unwrap();
    let fresh = Facts::parse(CENTOS7_HOST).unwrap();
    let verdict = |inv: &Inventory, facts: &Facts| by_check(&verdicts(inv, &inv.hosts[0], facts, 0.0))["pod-network"].clone();
    inv.cluster.pod_network = PodNetwork::Flannel;
    let (status, detail) = verdict(&inv, &routes);
    assert_eq!(status, Status::Fail);
    assert!(detail.contains("v6deploy-pod-routes is active") && detail.contains("to flannel is not supported"), "{detail}");
    assert_eq!(verdict(&inv, &tunnel), (Status::Pass, "flannel (running)".into()));
    assert_eq!(verdict(&inv, &fresh), (Status::Pass, "flannel".into()));
    inv.cluster.pod_network = PodNetwork::HostRoutes;
    let (status, detail) = verdict(&inv, &tunnel);
    assert_eq!(status, Status::Fail);
    assert!(detail.contains("flannel-v6.1 exists"), "{detail}");
    assert_eq!(verdict(&inv, &routes), (Status::Pass, "host routes (set)".into()));
}

/// What the host's own routing table says decides: a peer without a route fails (whatever the
/// inventory says about gateways); a default route from router advertisements on the host's
/// interface stays (v6deploy sets accept_ra 2 there); on another interface it would be lost.
#[test]
fn routes_are_judged_on_the_host() {
    let inv = inventory();
    let host = &inv.hosts[0];
    let mut facts = Facts::parse(CENTOS7_HOST).unwrap();
    let judged = |facts: &Facts| by_check(&verdicts(&inv, host, facts, 0.0))["routes"].clone();
    assert_eq!(judged(&facts), (Status::Pass, "not read".into()));
    let peer = |address: &str, said: &str, reachable| crate::facts::PeerRoute { address: address.parse().unwrap(), said: said.into(), reachable };
    facts.peer_routes = Some(crate::facts::PeerRoutes {
        peers: vec![peer("2002:db8:0:2::102", "2002:db8:0:2::102 via fe80::1 dev ens160 proto ra", true), peer("2002:db8:0:3::103", "RTNETLINK answers: Network is unreachable", false)],
        ra_defaults: vec![],
    });
    let (status, detail) = judged(&facts);
    assert_eq!(status, Status::Fail);
    assert!(detail.contains("no route to 2002:db8:0:3::103 (RTNETLINK answers: Network is unreachable)"), "{detail}");
    facts.peer_routes = Some(crate::facts::PeerRoutes { peers: vec![peer("2002:db8:0:2::102", "via fe80::1", true)], ra_defaults: vec![("ens160".into(), Some(1))] });
    let (status, detail) = judged(&facts);
    assert_eq!(status, Status::Pass);
    assert!(detail.contains("stays (accept_ra 2 on ens160)"), "{detail}");
    facts.peer_routes = Some(crate::facts::PeerRoutes { peers: vec![], ra_defaults: vec![("ens192".into(), Some(1))] });
    let (status, detail) = judged(&facts);
    assert_eq!(status, Status::Fail);
    assert!(detail.contains("router advertisements on ens192 (accept_ra 1)"), "{detail}");
}
