//! The kubelet on every worker: node name = the encoded address, `--node-ip` = the host's
//! address, serving on `[::]:10250`, health on `[::1]:10248`; its client certificate has CN
//! `system:node:<node name>` (kubeadm's `kubelet-client-current.pem`).

use super::{Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
use crate::inventory::{HostSpec, Inventory, Role};
use crate::pki::{HostPki, PkiUse};

/// The kubelet's own `/healthz` on `[::1]:10248`, then its Node object through the API
/// proxy it talks to, with the kubelet's own credentials (the node authorizer lets it read its
/// Node).
fn health(inv: &Inventory, host: &HostSpec) -> String {
    let first = inv.first_control_plane().map_or(std::net::Ipv6Addr::LOCALHOST, |h| h.address);
    let server = Server::LocalProxy.url(first);
    let identity = HostPki::KubeletClient;
    let options = format!("--cacert {} --cert {} --key {}", HostPki::KubernetesCa.cert(), identity.cert(), identity.key());
    format!(
        "{} && {{ {} || {{ echo 'node {name} is not registered with the API server'; false; }}; }}",
        curl("http://[::1]:10248/healthz", ""),
        curl(&format!("{server}/api/v1/nodes/{}", host.name), &options),
        name = host.name
    )
}

pub const KUBELET: Component = Component {
    name: "kubelet",
    roles: &Role::ALL,
    binaries: &["kubelet"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/var/lib/kubelet/config.yaml", "kubelet-config.yaml.j2"),
        HostFile::config("/etc/systemd/system/kubelet.service", "kubelet.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/kubelet.conf", Identity::Node, Server::LocalProxy),
    ],
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubeletClient, PkiUse::Reads), (HostPki::KubeletServing, PkiUse::Reads)],
    ports: &[10250, 10248],
    kind: Kind::Service(Service {
        health: Health::Script { needs: &[], script: health, shows: "GET http://[::1]:10248/healthz, its Node object registered" },
        ..Service::new(Stage::Node, "kubelet")
    }),
};
