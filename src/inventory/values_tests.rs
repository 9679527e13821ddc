use super::*;

#[test]
fn interface_names() {
    for good in ["eth0", "ens160", "bond0.100", "br-lab", "veth_a", "a"] {
        assert_eq!(InterfaceName::parse(good).unwrap().as_str(), good);
    }
    for (bad, why) in [
        ("", "empty"),
        ("eth0;reboot", "';'"),
        ("eth0\nIPV6ADDR=x", "a newline"),
        ("a b", "a space"),
        ("eth/0", "'/'"),
        ("eth:0", "':'"),
        ("-eth0", "starts with '-'"),
        ("abcdefghijklmnop", "16 characters"),
        ("..", "'..'"),
        ("$(id)", "'$'"),
        ("eth0\0", "NUL"),
        ("éth0", "non-ASCII"),
    ] {
        let error = InterfaceName::parse(bad).unwrap_err().to_string();
        assert!(error.contains(why) && error.contains("e.g. ens160"), "{bad:?}: {error}");
    }
}

#[test]
fn image_references() {
    for good in [
        "registry.k8s.io/pause:3.9",
        "docker.io/flannel/flannel:v0.25.5",
        "busybox",
        "library/busybox:1.35",
        "v6deploy.lab/pause:3.2",
        "localhost:5000/a/b",
        "[2001:db8::1]:5000/pause:3.9",
        "[2001:db8::1]/pause",
        "registry.example.com:443/team/app__x-y.z:TAG_1",
        "docker.elastic.co/elasticsearch/elasticsearch:7.17.25",
        &format!("registry.k8s.io/pause:3.9@sha256:{}", "a".repeat(64)),
        &format!("registry.k8s.io/pause@sha256:{}", "0".repeat(64)),
    ] {
        assert!(ImageRef::parse(good).is_ok(), "{good:?}: {:?}", ImageRef::parse(good));
    }
    for bad in [
        "",
        "Registry/Pause",
        "docker.io/Flannel/flannel",
        "pause:3.9\n    securityContext: {privileged: true}",
        "pause:3.9 --privileged",
        "pause:$(id)",
        "pause:`id`",
        "pause:3.9;x",
        "-pause",
        "pause:",
        "pause@sha256:abc",
        "pause@md5:0000",
        "a//b",
        "a/-b",
        "[2001:db8::zz]:5000/pause",
        "registry.k8s.io:99999/pause",
        "pause:\"x\"",
        "pause:*",
        &"a".repeat(600),
    ] {
        assert!(ImageRef::parse(bad).is_err(), "{bad:?} accepted");
    }
}

#[test]
fn quantities_and_heaps() {
    for good in ["10Gi", "500M", "1", "1.5Ti", "100k"] {
        assert!(Quantity::parse(good).is_ok(), "{good}");
    }
    for bad in ["", "0", "10 Gi", "10GB", "-1Gi", "1Gi\n", ".5Gi", "10Gi;x", "0.0"] {
        assert!(Quantity::parse(bad).is_err(), "{bad:?}");
    }
    for good in ["1g", "512m", "2G", "1048576", "64k"] {
        assert!(HeapSize::parse(good).is_ok(), "{good}");
    }
    for bad in ["", "0m", "1g -XX:+Foo", "1g\n-Xdebug", "1gb", "g", "-1g", "1.5g"] {
        assert!(HeapSize::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn dns_and_cluster_names() {
    assert!(DnsName::parse("cluster.local").is_ok());
    assert!(DnsName::parse_san("*.example.com").is_ok());
    for bad in ["", "Cluster.local", "a..b", "-a", "a b", "a\nb", "*.a", "a;b"] {
        assert!(DnsName::parse(bad).is_err(), "{bad:?}");
    }
    assert!(DnsName::parse_san("*.*.a").is_err());
    assert!(ClusterName::parse("demo-1").is_ok());
    for bad in ["", "Demo", "-demo", "demo-", "de mo", "a/b", "..", &"a".repeat(64)] {
        assert!(ClusterName::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn user_and_package_names() {
    for good in ["root", "centos", "ops.admin", "svc_v6-deploy", "a"] {
        assert!(UserName::parse(good).is_ok(), "{good:?}");
    }
    for bad in ["", "-oProxyCommand=x", "root\nx", "ro ot", "root;id", "$(id)", "a'b", "ü", &"a".repeat(33)] {
        assert!(UserName::parse(bad).is_err(), "{bad:?}");
    }
    for good in ["kernel-lt", "kernel-ml", "kernel", "libstdc++", "kernel-4.19.113-300.el7"] {
        assert!(PackageName::parse(good).is_ok(), "{good:?}");
    }
    for bad in ["", "--nogpgcheck", "-y", "kernel lt", "kernel\n", "k;reboot", "$(x)", "k*", "a:b"] {
        assert!(PackageName::parse(bad).is_err(), "{bad:?}");
    }
    assert!(PackageName::parse_repository("epel:x").is_ok());
}

#[test]
fn thresholds() {
    for good in ["5%", "0.5%", "500Mi", "1Gi", "100"] {
        assert!(Threshold::parse(good).is_ok(), "{good}");
    }
    for bad in ["", "lots", "5%%", "5 %", "1Gi\"\n", "%"] {
        assert!(Threshold::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn an_image_release_is_read_from_a_plain_tag_only() {
    let release = |text: &str| ImageRef::parse(text).unwrap().release();
    assert_eq!(release("registry.k8s.io/coredns/coredns:v1.11.3"), Some((1, 11, 3)));
    assert_eq!(release("registry.k8s.io/dns/k8s-dns-node-cache:1.22.28"), Some((1, 22, 28)));
    assert_eq!(release("[2001:db8::5]:5000/flannel/flannel:v0.20"), Some((0, 20, 0)));
    assert_eq!(release("v6deploy.lab/coredns:v1.11.3-endpointslice-v1beta1"), None);
    assert_eq!(release("docker.io/flannel/flannel-cni-plugin:v1.5.1-flannel1"), None);
    assert_eq!(release("localhost:5000/coredns"), None);
    assert_eq!(release("coredns:latest"), None);
    assert_eq!(release(&format!("coredns:v1.11.3@sha256:{}", "a".repeat(64))), Some((1, 11, 3)));
}
