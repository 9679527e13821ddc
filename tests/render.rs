//! `render` on the field report: no IPv4, every host:port bracketed, the values the field
//! notes require, determinism, template overrides, and a snapshot of the whole tree.

mod util;

use std::net::Ipv6Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use v6deploy::render::{EMBEDDED, RenderError, Templates, render, write_tree};

use util::scan::{ipv4_literals, unbracketed_ports};
use util::{FIRST, all_files, cluster_file, document, documents, field_report, host_file, rendered};

#[test]
fn no_file_contains_an_ipv4_literal() {
    let rendered = rendered();
    for (file, text) in all_files(&rendered) {
        assert_eq!(ipv4_literals(text), Vec::<String>::new(), "{file}");
    }
    for (name, text) in EMBEDDED {
        assert_eq!(ipv4_literals(text), Vec::<String>::new(), "templates/{name}");
    }
}

#[test]
fn every_address_with_a_port_is_bracketed() {
    let inv = field_report();
    let c = &inv.cluster;
    let mut known = vec![Ipv6Addr::UNSPECIFIED, Ipv6Addr::LOCALHOST, c.nodelocaldns, c.api_service_ip, c.dns_service_ip];
    known.extend([c.service_cidr.network(), c.pod_cidr.network()]);
    known.extend(c.upstream_dns.servers().iter().copied());
    known.extend(inv.hosts.iter().flat_map(|h| [Some(h.address), h.gateway]).flatten());
    let rendered = rendered();
    for (file, text) in all_files(&rendered) {
        assert_eq!(unbracketed_ports(text, &known), Vec::<String>::new(), "{file}");
    }
}

#[test]
fn templates_format_addresses_only_through_filters() {
    for (name, text) in EMBEDDED {
        for by_hand in ["[{{", "]:{{", "://{{"] {
            assert!(!text.contains(by_hand), "templates/{name} formats an address by hand ({by_hand})");
        }
    }
}

#[test]
fn every_yaml_file_parses() {
    let rendered = rendered();
    let yaml = |file: &str| [".yaml", ".yml", ".conf"].iter().any(|e| file.ends_with(e)) && !file.contains("/etc/sysctl.d/") && !file.contains("/etc/modules-load.d/");
    for (file, text) in all_files(&rendered).into_iter().filter(|(file, _)| yaml(file)) {
        assert!(!documents(text).is_empty(), "{file}");
    }
}

#[test]
fn coredns_service_has_the_tenth_service_address() {
    let service = document(cluster_file(&rendered(), "coredns.yaml"), "Service", "kube-dns");
    assert_eq!(service["spec"]["clusterIP"], "2001:cafe:43::a");
}

#[test]
fn every_service_is_ipv6_single_stack() {
    let rendered = rendered();
    let mut services = 0;
    for manifest in &rendered.cluster {
        for doc in documents(&manifest.contents).iter().filter(|d| d["kind"] == "Service") {
            assert_eq!(doc["spec"]["ipFamilies"], serde_json::json!(["IPv6"]), "{}: {}", manifest.path, doc["metadata"]["name"]);
            assert_eq!(doc["spec"]["ipFamilyPolicy"], "SingleStack", "{}: {}", manifest.path, doc["metadata"]["name"]);
            services += 1;
        }
    }
    assert_eq!(services, 4, "kube-dns, node-local-dns, elasticsearch, elasticsearch-headless");
}

#[test]
fn kubelet_runs_as_the_encoded_name_on_the_host_address() {
    let rendered = rendered();
    let unit = host_file(&rendered, FIRST, "/etc/systemd/system/kubelet.service");
    assert!(unit.contains("--hostname-override=2002.0db8.0000.0001.0000.0000.0000.0101\n"), "{unit}");
    assert!(unit.contains("--node-ip=2002:db8:0:1::101 "), "{unit}");
    let config = &documents(host_file(&rendered, FIRST, "/var/lib/kubelet/config.yaml"))[0];
    assert_eq!(config["address"], "::");
    assert_eq!(config["healthzBindAddress"], "::1");
    assert_eq!(config["clusterDNS"], serde_json::json!(["fd00:169:254::a"]));
    let kubeconfig = host_file(&rendered, FIRST, "/etc/kubernetes/kubelet.conf");
    assert!(kubeconfig.contains("server: https://[::1]:7443\n"), "through the API proxy: {kubeconfig}");
    assert!(kubeconfig.contains("\"system:node:2002.0db8.0000.0001.0000.0000.0000.0101\""), "{kubeconfig}");
}

#[test]
fn the_api_proxy_listens_on_loopback_and_checks_every_apiserver() {
    let rendered = rendered();
    let config = host_file(&rendered, FIRST, "/etc/v6deploy/api-proxy.cfg");
    assert!(config.contains("    bind [::1]:7443\n"), "{config}");
    assert!(config.contains("option httpchk GET /readyz\n"), "{config}");
    assert!(config.contains("check check-ssl verify required ca-file /etc/kubernetes/pki/ca.crt "), "{config}");
    for (name, address) in [("0101", "101"), ("0102", "102"), ("0103", "103")] {
        let server = format!("    server 2002.0db8.0000.0001.0000.0000.0000.{name} [2002:db8:0:1::{address}]:6443\n");
        assert!(config.contains(&server), "{server:?} in {config}");
    }
    for unit in ["kubelet", "kube-proxy"] {
        let text = host_file(&rendered, FIRST, &format!("/etc/systemd/system/{unit}.service"));
        assert!(text.contains("After=") && text.lines().any(|l| l.starts_with("After=") && l.contains("api-proxy.service")), "{unit}: {text}");
        let kubeconfig = host_file(&rendered, FIRST, &format!("/etc/kubernetes/{unit}.conf"));
        assert!(kubeconfig.contains("server: https://[::1]:7443\n"), "{unit}: {kubeconfig}");
    }
}

#[test]
fn apiserver_flags() {
    let rendered = rendered();
    let unit = host_file(&rendered, FIRST, "/etc/systemd/system/kube-apiserver.service");
    for flag in [
        "--advertise-address=2002:db8:0:1::101 ",
        "--bind-address=:: ",
        "--service-cluster-ip-range=2001:cafe:43::/112 ",
        "--etcd-servers=https://[2002:db8:0:1::101]:2379,https://[2002:db8:0:1::102]:2379,https://[2002:db8:0:1::103]:2379 ",
        "--authorization-mode=Node,RBAC ",
        "--kubelet-preferred-address-types=InternalIP,",
    ] {
        assert!(unit.contains(flag), "missing {flag}:\n{unit}");
    }
}

#[test]
fn controller_manager_allocates_ipv6_node_cidrs() {
    let rendered = rendered();
    let unit = host_file(&rendered, FIRST, "/etc/systemd/system/kube-controller-manager.service");
    for flag in ["--allocate-node-cidrs=true ", "--cluster-cidr=2001:cafe:42::/56 ", "--node-cidr-mask-size=64 ", "--bind-address=::1 "] {
        assert!(unit.contains(flag), "missing {flag}:\n{unit}");
    }
}

/// Regression: kube-controller-manager and kube-scheduler bound `::`, serving an anonymous
/// /healthz on every address; kubeadm binds them to loopback, where their checks look.
#[test]
fn controller_manager_and_scheduler_bind_loopback() {
    let rendered = rendered();
    for unit in ["kube-controller-manager", "kube-scheduler"] {
        let text = host_file(&rendered, FIRST, &format!("/etc/systemd/system/{unit}.service"));
        assert!(text.contains("--bind-address=::1 ") && !text.contains("--bind-address=:: "), "{unit}:\n{text}");
    }
}

#[test]
fn etcd_initial_cluster_is_bracketed() {
    let steady = &documents(host_file(&rendered(), FIRST, "/etc/etcd/etcd.conf.yml"))[0];
    assert!(steady.get("initial-cluster").is_none(), "bootstrap settings belong in etcd-bootstrap.conf.yml only");
    let config = &documents(host_file(&rendered(), FIRST, "/etc/etcd/etcd-bootstrap.conf.yml"))[0];
    assert_eq!(config["initial-cluster-state"], "new");
    let expected = "2002.0db8.0000.0001.0000.0000.0000.0101=https://[2002:db8:0:1::101]:2380,\
                    2002.0db8.0000.0001.0000.0000.0000.0102=https://[2002:db8:0:1::102]:2380,\
                    2002.0db8.0000.0001.0000.0000.0000.0103=https://[2002:db8:0:1::103]:2380";
    assert_eq!(config["initial-cluster"], expected);
    assert_eq!(config["listen-client-urls"], "https://[2002:db8:0:1::101]:2379,https://[::1]:2379");
}

#[test]
fn flannel_net_conf_is_ipv6_only_vxlan() {
    let config_map = document(cluster_file(&rendered(), "flannel.yaml"), "ConfigMap", "kube-flannel-cfg");
    let net_conf: serde_json::Value = serde_json::from_str(config_map["data"]["net-conf.json"].as_str().unwrap()).unwrap();
    assert_eq!(net_conf["EnableIPv4"], false);
    assert_eq!(net_conf["EnableIPv6"], true);
    assert_eq!(net_conf["IPv6Network"], "2001:cafe:42::/56");
    assert_eq!(net_conf["Backend"]["Type"], "vxlan");
    assert!(net_conf.get("Network").is_none(), "no IPv4 network");
    let _: serde_json::Value = serde_json::from_str(config_map["data"]["cni-conf.json"].as_str().unwrap()).unwrap();
}

#[test]
fn nodelocaldns_binds_its_address_and_brackets_health() {
    let rendered = rendered();
    let text = cluster_file(&rendered, "nodelocaldns.yaml");
    assert!(text.contains("health [fd00:169:254::a]:8080\n"), "{text}");
    assert!(text.contains("forward . [2001:cafe:43::a]:53"), "{text}");
    let daemon_set = document(text, "DaemonSet", "node-local-dns");
    let args = &daemon_set["spec"]["template"]["spec"]["containers"][0]["args"];
    assert_eq!(args[0], "-localip");
    assert_eq!(args[1], "fd00:169:254::a");
}

#[test]
fn elasticsearch_publishes_its_ipv6_address() {
    let config_map = document(cluster_file(&rendered(), "elasticsearch.yaml"), "ConfigMap", "elasticsearch-config");
    let yml = config_map["data"]["elasticsearch.yml"].as_str().unwrap();
    assert!(yml.contains("network.publish_host: \"_eth0:ipv6_\"\n"), "{yml}");
    let settings = &documents(yml)[0];
    assert_eq!(settings["discovery.seed_hosts"].as_array().unwrap().len(), 3);
    assert!(config_map["data"]["ipv6.options"].as_str().unwrap().contains("-Djava.net.preferIPv6Addresses=true\n"));
}

#[test]
fn ifcfg_has_the_field_notes_keys() {
    let rendered = rendered();
    let text = host_file(&rendered, FIRST, "/etc/sysconfig/network-scripts/ifcfg-ens160");
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let expected = [
        "TYPE=Ethernet",
        "BOOTPROTO=static",
        "IPV6_DEFROUTE=yes",
        "NAME=ens160",
        "DEVICE=ens160",
        "ONBOOT=yes",
        "IPV6_PRIVACY=no",
        "IPV6INIT=yes",
        "IPV6_AUTOCONF=no",
        "IPV6ADDR=2002:db8:0:1::101/64",
        "IPV6_DEFAULTGW=2002:db8:0:1::1",
    ];
    assert_eq!(lines, expected);
    assert!(!text.contains("IPV6_ADDR_GEN_MODE"), "{text}");
}

#[test]
fn ifcfg_without_gateway_has_no_gateway_line() {
    let mut inv = field_report();
    inv.hosts[0].gateway = None;
    let rendered = render(&inv, &Templates::embedded().unwrap()).unwrap();
    let text = host_file(&rendered, FIRST, "/etc/sysconfig/network-scripts/ifcfg-ens160");
    assert!(!text.contains("IPV6_DEFAULTGW"), "{text}");
    assert!(text.ends_with("IPV6ADDR=2002:db8:0:1::101/64\n"), "{text}");
}

/// Regression: a host without a gateway forwards (forwarding=1) and so ignored router
/// advertisements; accept_ra 2 on its interface takes them.
#[test]
fn a_host_without_gateway_accepts_router_advertisements() {
    let mut inv = field_report();
    inv.hosts[0].gateway = None;
    let rendered = render(&inv, &Templates::embedded().unwrap()).unwrap();
    let sysctl = host_file(&rendered, FIRST, "/etc/sysctl.d/90-v6deploy.conf");
    assert!(sysctl.contains("\nnet/ipv6/conf/ens160/accept_ra = 2\n") && sysctl.contains("net.ipv6.conf.all.forwarding = 1"), "{sysctl}");
    let with_gateway = host_file(&rendered, "2002.0db8.0000.0001.0000.0000.0000.0102", "/etc/sysctl.d/90-v6deploy.conf");
    assert!(!with_gateway.contains("accept_ra"), "{with_gateway}");
}

/// Regression: flannel's DaemonSet listed every host's interface (`--iface=eth1
/// --iface=eth2`), so a node with both NICs could pick the wrong one. Each node now takes
/// the NIC holding its own address (status.hostIP, the kubelet's --node-ip) and publishes it.
/// Regression: `--iface=<that address>` found the NIC, but flannel (v0.20's ipmatch) then
/// made the vxlan tunnel's source the NIC's first IPv6 address, which on a NIC with a second
/// address is not the node's; the anchored regex matches only the node's own address.
#[test]
fn flannel_picks_each_nodes_own_address() {
    let mut inv = field_report();
    inv.hosts[1].interface = "eth1".parse().unwrap();
    let rendered = render(&inv, &Templates::embedded().unwrap()).unwrap();
    let daemon_set = document(cluster_file(&rendered, "flannel.yaml"), "DaemonSet", "kube-flannel-ds");
    let container = &daemon_set["spec"]["template"]["spec"]["containers"][0];
    let args: Vec<&str> = container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args, ["--ip-masq", "--kube-subnet-mgr", "--iface-regex=^$(NODE_IP)$", "--public-ipv6=$(NODE_IP)"]);
    let env = container["env"].as_array().unwrap();
    let node_ip = env.iter().find(|e| e["name"] == "NODE_IP").expect("NODE_IP env");
    assert_eq!(node_ip["valueFrom"]["fieldRef"]["fieldPath"], "status.hostIP");
}

#[test]
fn two_renders_give_identical_trees() {
    assert_eq!(rendered(), rendered());
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_tree(&rendered(), a.path()).unwrap();
    write_tree(&rendered(), b.path()).unwrap();
    assert_eq!(util::read_tree(a.path()), util::read_tree(b.path()));
}

#[test]
fn write_tree_sets_modes() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered(), dir.path()).unwrap();
    let mode = |path: &str| std::fs::metadata(dir.path().join(path)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&format!("{FIRST}/etc/kubernetes/kubelet.conf")), 0o600);
    assert_eq!(mode(&format!("{FIRST}/etc/kubernetes/admin.conf")), 0o600);
    assert_eq!(mode(&format!("{FIRST}/var/lib/kubelet/config.yaml")), 0o644);
    assert_eq!(mode("cluster/coredns.yaml"), 0o644);
}

#[test]
fn snapshot_of_the_field_report() {
    let dir = tempfile::tempdir().unwrap();
    write_tree(&rendered(), dir.path()).unwrap();
    util::assert_snapshot(dir.path(), &util::root().join("tests/snapshots/field-report"));
}

#[test]
fn templates_dir_overrides_by_relative_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kubelet.service.j2"), "override for {{ host.name }}\n").unwrap();
    std::fs::write(dir.path().join(".gitkeep"), "").unwrap();
    let rendered = render(&field_report(), &Templates::with_overrides(dir.path()).unwrap()).unwrap();
    assert_eq!(host_file(&rendered, FIRST, "/etc/systemd/system/kubelet.service"), format!("override for {FIRST}\n"));
    assert!(host_file(&rendered, FIRST, "/var/lib/kubelet/config.yaml").contains("KubeletConfiguration"));
}

#[test]
fn an_override_matching_no_template_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kubelet.servce.j2"), "typo\n").unwrap();
    let error = Templates::with_overrides(dir.path()).unwrap_err();
    assert!(matches!(error, RenderError::UnknownOverride { .. }), "{error}");
    assert!(error.to_string().contains("kubelet.servce.j2 overrides no template"), "{error}");
}

#[test]
fn an_undefined_variable_is_an_error_naming_the_template_and_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sysctl.conf.j2"), "x = {{ host.no_such_field }}\n").unwrap();
    let error = render(&field_report(), &Templates::with_overrides(dir.path()).unwrap()).unwrap_err();
    assert_eq!(error.to_string(), format!("template sysctl.conf.j2 for host {FIRST}"));
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("undefined"), "{cause}");
}

#[test]
fn a_filter_refuses_an_ipv4_address_in_a_template() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("coredns.yaml.j2"), "health {{ '127.0.0.1' | hostport(8080) }}\n").unwrap();
    let error = render(&field_report(), &Templates::with_overrides(dir.path()).unwrap()).unwrap_err();
    assert_eq!(error.to_string(), "template coredns.yaml.j2 for the cluster");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("hostport: \"127.0.0.1\" is an IPv4 address"), "{cause}");
}

#[test]
fn render_command_refuses_a_non_empty_dir_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = |extra: &[&str]| {
        let inventory = util::root().join("inventories/field-report.yaml");
        Command::new(env!("CARGO_BIN_EXE_v6deploy")).current_dir(dir.path()).arg("-i").arg(inventory).arg("render").arg("-o").arg(&out).args(extra).output().unwrap()
    };
    let first = run(&[]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    // 66 configuration files plus 69 certificates and keys.
    assert_eq!(String::from_utf8_lossy(&first.stdout), format!("wrote 138 files for 3 hosts and 4 cluster manifests to {}\n", out.display()));
    std::fs::write(out.join("stale"), "x").unwrap();
    let refused = run(&[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not empty; pass --force"), "{}", String::from_utf8_lossy(&refused.stderr));
    let forced = run(&["--force"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    assert!(!out.join("stale").exists(), "--force replaces the directory");
}

/// `render` places the PKI under each node's tree, and kubeconfigs embed their credentials.
#[test]
fn render_command_includes_the_pki_at_kubeadm_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let inventory = dir.path().join("inventory.yaml");
    std::fs::copy(util::root().join("inventories/field-report.yaml"), &inventory).unwrap();
    let v6deploy = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_v6deploy")).current_dir("/").arg("-i").arg(&inventory).args(args).output().unwrap();
    assert!(v6deploy(&["certs", "generate"]).status.success());
    let store = dir.path().join("certs/field-report");
    let before = util::read_tree(&store);
    let rendered = v6deploy(&["render", "--dir", out.to_str().unwrap()]);
    assert!(rendered.status.success(), "{}", String::from_utf8_lossy(&rendered.stderr));
    assert_eq!(before, util::read_tree(&store), "render changed the store");
    let node = out.join("2002.0db8.0000.0001.0000.0000.0000.0101");
    let pki = node.join("etc/kubernetes/pki");
    for leaf in ["apiserver.crt", "apiserver-kubelet-client.crt", "apiserver-etcd-client.crt", "etcd/server.crt", "etcd/peer.crt"] {
        let ca = if leaf.starts_with("etcd/") || leaf == "apiserver-etcd-client.crt" { pki.join("etcd/ca.crt") } else { pki.join("ca.crt") };
        let verify = Command::new("openssl").arg("verify").arg("-CAfile").arg(&ca).arg(pki.join(leaf)).output().unwrap();
        assert!(verify.status.success(), "{leaf}: {}", String::from_utf8_lossy(&verify.stdout));
    }
    let mode = |p: &Path| std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777;
    assert_eq!(mode(&pki.join("ca.key")), 0o600);
    assert_eq!(mode(&node.join("var/lib/kubelet/pki/kubelet-client-current.pem")), 0o600);
    for conf in ["admin.conf", "controller-manager.conf", "scheduler.conf", "kube-proxy.conf"] {
        let text = std::fs::read_to_string(node.join("etc/kubernetes").join(conf)).unwrap();
        assert!(text.contains("client-key-data: ") && text.contains("certificate-authority-data: "), "{conf} does not embed its credentials");
    }
    let kubelet = std::fs::read_to_string(node.join("etc/kubernetes/kubelet.conf")).unwrap();
    assert!(kubelet.contains("client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem"), "{kubelet}");
    let local_admin = std::fs::read(store.join("admin.conf")).unwrap();
    assert_eq!(local_admin, std::fs::read(node.join("etc/kubernetes/admin.conf")).unwrap(), "certs/<cluster>/admin.conf is the host's admin.conf");
}

/// A member joining a running cluster bootstraps with `existing` and the running members plus
/// itself; its steady configuration is the same as if it had been there from the start.
#[test]
fn a_joining_etcd_member_bootstraps_with_existing_state() {
    let inv = field_report();
    let running: Vec<Ipv6Addr> = inv.hosts[..2].iter().map(|h| h.address).collect();
    let joining = inv.hosts[2].address;
    let mut options = v6deploy::render::RenderOptions::default();
    options.etcd_joining.insert(joining, running);
    let templates = Templates::embedded().unwrap();
    let rendered = v6deploy::render::render_with(&inv, &templates, &options).unwrap();
    let third = "2002.0db8.0000.0001.0000.0000.0000.0103";
    let config = &documents(host_file(&rendered, third, "/etc/etcd/etcd-bootstrap.conf.yml"))[0];
    assert_eq!(config["initial-cluster-state"], "existing");
    let expected = "2002.0db8.0000.0001.0000.0000.0000.0101=https://[2002:db8:0:1::101]:2380,\
                    2002.0db8.0000.0001.0000.0000.0000.0102=https://[2002:db8:0:1::102]:2380,\
                    2002.0db8.0000.0001.0000.0000.0000.0103=https://[2002:db8:0:1::103]:2380";
    assert_eq!(config["initial-cluster"], expected);
    let plain = render(&inv, &templates).unwrap();
    assert_eq!(host_file(&rendered, third, "/etc/etcd/etcd.conf.yml"), host_file(&plain, third, "/etc/etcd/etcd.conf.yml"));
}

/// Layering: rendering, the component catalog and the PKI are pure and import nothing from
/// the transport (shell quoting lives at the bottom, in `shell`).
#[test]
fn rendering_the_catalog_and_the_pki_import_nothing_from_the_transport() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut pending: Vec<std::path::PathBuf> = ["render", "components", "pki", "shell.rs"].iter().map(|p| root.join(p)).collect();
    let mut offenders = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            if text.lines().any(|l| l.trim_start().starts_with("use ") && l.contains("transport")) || text.contains("crate::transport::") {
                offenders.push(path.display().to_string());
            }
        }
    }
    assert!(offenders.is_empty(), "these import the transport: {offenders:?}");
}
