//! The API proxy on every host: HAProxy (the bundle's `haproxy`) listening on
//! `[::1]:7443` and passing TCP through to every control plane's apiserver (`[addr]:6443`),
//! each checked with `GET /readyz` over TLS against the cluster CA every 2 s; a down apiserver
//! is left out until it answers again. The kubelet and kube-proxy of every host talk to it
//! (their kubeconfigs say `https://[::1]:7443`), so losing one control plane loses no node.
//!
//! Like kubespray's nginx/haproxy "localhost load balancer" and k0s's node-local load
//! balancing; the port is k0s's (7443), because on a control-plane host the apiserver itself
//! holds 6443 on every address. TLS is not terminated: clients still verify the apiserver's
//! certificate, which carries `::1`. Its health check is a real request through the proxy.

use std::net::Ipv6Addr;

use super::{Component, Health, HostFile, Kind, Leaves, Service, Stage, curl};
use crate::inventory::{HostSpec, Inventory, Role};
use crate::net::url;
use crate::pki::{HostPki, PkiUse};

/// The port the proxy listens on, on `::1`.
pub const PORT: u16 = 7443;

/// Its configuration file.
pub const CONFIG: &str = "/etc/v6deploy/api-proxy.cfg";

/// `GET /readyz` through the proxy, verified against the cluster CA, with the kubelet's
/// client certificate: some apiserver answers through it.
fn health(_: &Inventory, _: &HostSpec) -> String {
    let identity = HostPki::KubeletClient;
    let options = format!("--cacert {} --cert {} --key {}", HostPki::KubernetesCa.cert(), identity.cert(), identity.key());
    curl(&format!("{}/readyz", url("https", Ipv6Addr::LOCALHOST, PORT)), &options)
}

/// A TCP connection to `[::1]:7443` (anything but refused or timed out: with every apiserver
/// down HAProxy accepts and closes), for when kube-apiserver is staged and no apiserver can
/// answer through the proxy.
fn listening(_: &Inventory, _: &HostSpec) -> String {
    format!("curl -s --max-time 3 {} -o /dev/null; rc=$?; [ $rc -ne 7 ] && [ $rc -ne 28 ]", url("https", Ipv6Addr::LOCALHOST, PORT))
}

pub const API_PROXY: Component = Component {
    name: "api-proxy",
    roles: &Role::ALL,
    binaries: &["haproxy"],
    bundle_dirs: &[],
    files: &[HostFile::config(CONFIG, "api-proxy.cfg.j2"), HostFile::config("/etc/systemd/system/api-proxy.service", "api-proxy.service.j2")],
    // HAProxy's own checks verify the apiservers with the CA; the health check goes through
    // it with the kubelet's certificate.
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubeletClient, PkiUse::HealthCheck)],
    ports: &[PORT],
    // It keeps nothing at run time: its config and unit are all it leaves.
    leaves: Leaves::NOTHING,
    kind: Kind::Service(Service {
        // The check needs an apiserver behind the proxy: with kube-apiserver staged, only
        // that the proxy accepts connections.
        health: Health::Script { needs: &["haproxy", "kube-apiserver"], script: health, shows: "GET https://[::1]:7443/readyz through the proxy" },
        health_when_staged: Health::Script { needs: &["haproxy"], script: listening, shows: "a TCP connection to [::1]:7443 (kube-apiserver staged)" },
        ..Service::new(Stage::ApiProxy, "haproxy")
    }),
};
