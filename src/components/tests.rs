//! The catalog's own invariants, and the derived lists pinned against what they were when they
//! were hand-kept lists (so the catalog changed nothing).

use super::*;
use crate::inventory::field_report;

fn all_roles_host() -> HostSpec {
    field_report().hosts[0].clone()
}

fn worker_only() -> HostSpec {
    let mut host = all_roles_host();
    host.roles = crate::inventory::Roles([Role::Worker].into());
    host
}

#[test]
fn every_service_has_its_unit_and_binary_and_its_health_tool() {
    for component in services() {
        let service = component.service().unwrap();
        let unit = component.files.iter().find(|f| f.path == component.unit_path()).unwrap_or_else(|| panic!("{component}: no unit file"));
        assert!(unit.restarts, "{component}: a changed unit must restart it");
        assert!(component.binaries.contains(&service.binary), "{component}: its unit's binary is not among its binaries");
        if let Health::Script { needs, .. } = service.health {
            for tool in needs {
                // The API proxy's check needs an apiserver behind it, another component's binary.
                assert!(ALL.iter().any(|c| c.binaries.contains(tool)), "{component}: its health check's {tool} is no bundle binary");
            }
        }
    }
}

#[test]
fn every_template_is_embedded_and_every_embedded_template_is_used() {
    let embedded: Vec<&str> = crate::render::EMBEDDED.iter().map(|(name, _)| *name).collect();
    let used = templates();
    for name in &used {
        assert!(embedded.contains(name), "the catalog renders {name}, which templates/ lacks");
    }
    for name in &embedded {
        assert!(used.contains(name), "templates/{name} is used by no component");
    }
}

#[test]
fn names_are_unique_and_the_order_is_the_registry_order() {
    let mut names: Vec<&str> = ALL.iter().map(|c| c.name).collect();
    names.dedup();
    assert_eq!(names.len(), ALL.len());
    let mut sorted: Vec<&Component> = ALL.to_vec();
    sorted.reverse();
    sorted.sort();
    assert_eq!(sorted.iter().map(|c| c.name).collect::<Vec<_>>(), ALL.iter().map(|c| c.name).collect::<Vec<_>>());
    assert_eq!(find("kubelet").map(|c| c.name), Some("kubelet"));
}

/// The restart triggers the steps once listed by hand (`restart_on` prefixes).
#[test]
fn restart_triggers_match_the_former_hand_kept_lists() {
    let host = all_roles_host();
    let restarts = |name: &str, path: &str| find(name).unwrap().restarts_for(&host, path);
    assert!(restarts("etcd", "/etc/etcd/etcd.conf.yml") && restarts("etcd", "/etc/kubernetes/pki/etcd/server.key") && restarts("etcd", "/usr/local/bin/etcd"));
    assert!(!restarts("etcd", "/etc/etcd/etcd-bootstrap.conf.yml"), "read only before the first start");
    assert!(!restarts("etcd", "/etc/kubernetes/pki/etcd/healthcheck-client.crt"), "used by the health check only");
    assert!(!restarts("etcd", "/usr/local/bin/etcdctl"));
    for path in ["/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/apiserver-etcd-client.key", "/etc/kubernetes/pki/front-proxy-ca.crt", "/etc/kubernetes/pki/sa.pub"] {
        assert!(restarts("kube-apiserver", path), "{path}");
    }
    assert!(!restarts("kube-apiserver", "/etc/kubernetes/admin.conf"));
    assert!(restarts("kube-controller-manager", "/etc/kubernetes/pki/ca.key") && restarts("kube-controller-manager", "/etc/kubernetes/pki/sa.key"));
    assert!(!restarts("kube-controller-manager", "/etc/kubernetes/pki/sa.pub"));
    assert!(restarts("kube-scheduler", "/etc/kubernetes/scheduler.conf") && !restarts("kube-scheduler", "/etc/kubernetes/pki/ca.crt"));
    assert!(restarts("kubelet", "/var/lib/kubelet/pki/kubelet-client-current.pem") && restarts("kubelet", "/etc/kubernetes/kubelet.conf"));
    assert!(restarts("kube-proxy", "/var/lib/kube-proxy/config.yaml") && !restarts("kube-proxy", "/etc/kubernetes/pki/ca.crt"));
    // The API proxy verifies the apiservers with the CA; its health check's client
    // certificate restarts nothing.
    assert!(restarts("api-proxy", "/etc/v6deploy/api-proxy.cfg") && restarts("api-proxy", "/etc/kubernetes/pki/ca.crt"));
    assert!(restarts("api-proxy", "/usr/local/bin/haproxy") && !restarts("api-proxy", "/var/lib/kubelet/pki/kubelet-client-current.pem"));
}

#[test]
fn binaries_and_services_follow_the_roles() {
    let inv = field_report();
    let runtime = ["containerd", "containerd-shim-runc-v2", "runc", "ctr"];
    let node = ["kubelet", "kube-proxy"];
    let control_plane = ["etcd", "etcdctl", "kube-apiserver", "kubectl", "kube-controller-manager", "kube-scheduler"];
    assert_eq!(binaries(&inv), [&control_plane[..], &["haproxy"], &runtime, &node].concat());
    assert_eq!(binaries_on(&worker_only()), [&["haproxy"][..], &runtime, &node].concat());
    let names = |host: &HostSpec| services_on(host).map(|c| c.name).collect::<Vec<_>>();
    // Every host is a node: the kubelet runs on control planes too (tainted when not workers).
    let mut etcd_only = worker_only();
    etcd_only.roles = crate::inventory::Roles([Role::Etcd].into());
    assert_eq!(names(&etcd_only), ["etcd", "api-proxy", "containerd", "kubelet", "kube-proxy"]);
    assert_eq!(names(&worker_only()), ["api-proxy", "containerd", "kubelet", "kube-proxy"]);
    assert_eq!(names(&all_roles_host()), ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "api-proxy", "containerd", "kubelet", "kube-proxy"]);
    assert_eq!(Stage::Node.title(), "kubelet and kube-proxy");
    assert_eq!(Stage::ApiProxy.title(), "API proxy");
    assert_eq!(Stage::Runtime.title(), "Container runtime");
    let ports: Vec<u16> = ports_on(&worker_only()).into_iter().map(|(p, _)| p).collect();
    assert_eq!(ports, [7443, 10250, 10248, 10256, 10249]);
    assert_eq!(bundle_dirs(&inv).iter().map(|d| d.dir).collect::<Vec<_>>(), ["cni", "images"]);
}

#[test]
fn kubeconfigs_point_at_the_right_server() {
    let first: Ipv6Addr = "2001:db8::1".parse().unwrap();
    assert_eq!(kubeconfig_server(KubeconfigUser::Admin), Some(Server::FirstControlPlane));
    assert_eq!(Server::FirstControlPlane.url(first), "https://[2001:db8::1]:6443");
    assert_eq!(Server::Loopback.url(first), "https://[::1]:6443");
    // Every host's kubelet and kube-proxy go through its API proxy, control planes' too:
    // their own apiserver may be the one that is down.
    assert_eq!(Server::LocalProxy.url(first), "https://[::1]:7443");
    for (path, server) in [("/etc/kubernetes/kubelet.conf", "kubelet"), ("/etc/kubernetes/kube-proxy.conf", "kube-proxy")] {
        let file = find(server).unwrap().files.iter().find(|f| f.path == path).unwrap();
        assert!(matches!(file.source, Source::Kubeconfig { server: Server::LocalProxy, .. }), "{path}");
    }
}

#[test]
fn the_interface_placeholder_is_resolved_per_host() {
    let host = all_roles_host();
    assert_eq!(IFCFG.paths(&host).collect::<Vec<_>>(), ["/etc/sysconfig/network-scripts/ifcfg-ens160"]);
    assert_eq!(path_of_template(&host, "ifcfg.j2").as_deref(), Some("/etc/sysconfig/network-scripts/ifcfg-ens160"));
}

#[test]
fn the_api_proxy_checks_through_itself_unless_no_apiserver_can_answer() {
    let inv = field_report();
    let host = worker_only();
    let bundle = |missing: Vec<&'static str>| crate::bundle::BundleCheck { root: "bundle".into(), present: Vec::new(), missing, dirs: Vec::new(), missing_files: Vec::new() };
    let script = API_PROXY.health_script(&inv, &host, &bundle(Vec::new()));
    assert_eq!(
        script,
        "curl -fsS --max-time 3 --cacert /etc/kubernetes/pki/ca.crt --cert /var/lib/kubelet/pki/kubelet-client-current.pem --key /var/lib/kubelet/pki/kubelet-client-current.pem https://[::1]:7443/readyz -o /dev/null"
    );
    // With kube-apiserver staged nothing answers behind the proxy: that it accepts connections
    // is what is left to check (HAProxy accepts and closes: anything but refused or timed out).
    let staged = API_PROXY.health(&bundle(vec!["kube-apiserver"]));
    assert_eq!(staged.shows(), "a TCP connection to [::1]:7443 (kube-apiserver staged)");
    assert_eq!(API_PROXY.health_script(&inv, &host, &bundle(vec!["kube-apiserver"])), "curl -s --max-time 3 https://[::1]:7443 -o /dev/null; rc=$?; [ $rc -ne 7 ] && [ $rc -ne 28 ]");
    // The kubelet's own check reads its Node through the proxy too.
    assert!(find("kubelet").unwrap().health_script(&inv, &host, &bundle(Vec::new())).contains("https://[::1]:7443/api/v1/nodes/"));
    assert!(API_PROXY.is_staged(&bundle(vec!["haproxy"])));
}
