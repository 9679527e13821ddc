//! The component catalog: one file per component, holding everything that component *is* —
//! the bundle binaries it needs, the files it gets on a host (template, path, mode), its
//! systemd service (unit, what restarts it, health check, start order), its ports, the PKI
//! groups it uses and the roles it runs on. [`ALL`] lists them; every list elsewhere (the files
//! `render` plans, the binaries `bundle::check` wants, the services install, node add and
//! certificate rotation restart, the preflight ports, which PKI files reach which host) is
//! derived from it.
//!
//! Adding a host service is one file here, its templates under `templates/`, and one line in
//! [`ALL`] (`registry.rs`) besides its `mod` line (see `docs/architecture.md`).

mod api_proxy;
mod cni_plugins;
mod containerd;
mod coredns;
mod elasticsearch;
mod etcd;
mod flannel;
mod host;
mod ifcfg;
mod images;
mod kube_apiserver;
mod kube_controller_manager;
mod kube_proxy;
mod kube_scheduler;
mod kubelet;
mod nodelocaldns;
mod pod_routes;
mod registry;
mod teardown;
mod workloads;

use std::cmp::Ordering;
use std::net::Ipv6Addr;

pub use api_proxy::{API_PROXY, CONFIG as API_PROXY_CONFIG, PORT as API_PROXY_PORT};
pub use etcd::{CLIENT_PORT as ETCD_CLIENT_PORT, DATA_DIR as ETCD_DATA_DIR, ETCD, REMOVED_DATA_PREFIX as ETCD_REMOVED_DATA_PREFIX, PEER_PORT as ETCD_PEER_PORT, etcdctl, health_command as etcd_health_command};
pub use cni_plugins::CNI_BIN_DIR;
pub use containerd::{CONTAINERD, CRI_NAMESPACE, SOCKET as CONTAINERD_SOCKET};
pub use host::{MODULES, SYSCTL};
pub use images::{IMAGES, IMAGES_BUNDLE_DIR, IMAGES_DIR};
pub use ifcfg::{IFCFG, IFCFG_DIR};
pub use kube_apiserver::{KUBE_APISERVER, kubectl_local};
pub use kubelet::KUBELET;
pub use registry::*;
pub use teardown::{Keep, Part, STOP_UNIT, Teardown, Unit, teardown};
pub use workloads::{Workload, WorkloadKind, parse_ready, ready_now_script, ready_script};
pub use pod_routes::{CONFLIST as POD_NETWORK_CONFLIST, POD_ROUTES, ROUTES as POD_ROUTES_FILE, UNIT as POD_ROUTES_UNIT, conflist, routes};

use crate::bundle::BundleCheck;
use crate::inventory::{HostSpec, Inventory, Role};
use crate::pki::{APISERVER_PORT, HostPki, KubeconfigUser, PkiUse};


/// Where the bundle's binaries go on the hosts.
pub const BIN_DIR: &str = "/usr/local/bin";

/// Where systemd units go on the hosts.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// Mode of configuration files and units.
pub const PUBLIC: u32 = 0o644;
/// Mode of files that may hold a private key (kubeconfigs; kubeadm writes them 0600).
pub const PRIVATE: u32 = 0o600;

/// One component: data and small functions, no I/O.
#[derive(Debug)]
pub struct Component {
    /// Its name: the binary and unit name of a service (`etcd` → `etcd.service`).
    pub name: &'static str,
    /// Hosts with any of these roles run it (none: it is not a host component).
    pub roles: &'static [Role],
    /// Binaries from the bundle's `bin/`, installed to [`BIN_DIR`] where it runs.
    pub binaries: &'static [&'static str],
    /// Bundle directories whose every file it gets (CNI plugins, image tarballs).
    pub bundle_dirs: &'static [BundleDir],
    /// The files it gets on a host.
    pub files: &'static [HostFile],
    /// The PKI groups it uses on a host (delivered where it runs).
    pub certificates: &'static [(HostPki, PkiUse)],
    /// TCP ports it listens on (preflight wants them free, or held by this component).
    pub ports: &'static [u16],
    /// What it leaves on a host besides its files, binaries and bundle directories (state
    /// made at run time, data, changes to the running host): `reset` removes them.
    pub leaves: Leaves,
    pub kind: Kind,
}

/// What a component leaves on a host besides what it is given (its files, binaries and bundle
/// directories), so that `reset` (`components::teardown`) removes everything v6deploy made.
#[derive(Debug, Clone, Copy)]
pub struct Leaves {
    /// Files and directories it makes at run time, or owns whole (removed with all they hold;
    /// mounts below them are unmounted first). A path may end in `*` (every match).
    pub state: &'static [&'static str],
    /// Its data, worth more than a reinstall: kept by `reset`, removed by `reset --purge-data`.
    pub data: &'static [&'static str],
    /// A script run before its service stops, while it still answers (containerd: every
    /// container and task deleted, so none outlives it).
    pub before_stop: Option<Script>,
    /// A script undoing what it did to the running host (routes, interfaces, mounts, iptables
    /// rules), run once its service stopped and before its files go.
    pub undo: Option<Script>,
}

impl Leaves {
    /// Nothing besides what it is given.
    pub const NOTHING: Leaves = Leaves { state: &[], data: &[], before_stop: None, undo: None };
}

/// A script for the host, with what it does (for the plan).
#[derive(Debug, Clone, Copy)]
pub struct Script {
    pub what: &'static str,
    /// The script; it works under `set -e` and does nothing where there is nothing to undo.
    pub script: fn() -> String,
}

/// A script deleting the network interface `name` when it exists.
pub fn delete_link(name: &str) -> String {
    format!("if ip link show {name} >/dev/null 2>&1; then ip link delete {name}; fi")
}

/// A directory of the bundle whose files all go to one directory on the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleDir {
    /// Its name under the bundle (`cni`, `images`).
    pub dir: &'static str,
    /// Where its files go on a host.
    pub host_dir: &'static str,
    pub mode: u32,
    /// Files it must hold: without them, the bundle is incomplete (refused, or staged).
    pub required: &'static [&'static str],
}

/// What kind of component it is.
#[derive(Debug)]
pub enum Kind {
    /// Files on the host, written by `install`; nothing runs.
    HostFiles,
    /// Network configuration, written only by `network apply` (under a rollback timer).
    Network,
    /// A systemd service.
    Service(Service),
    /// A manifest applied to the cluster through the API server.
    ClusterAddon(Manifest),
    /// The `host-routes` pod network: its unit is a host file; the CNI configuration and the
    /// routes come from the Node objects (the "Pod network" steps).
    PodNetwork,
}

/// One file a component gets on a host.
#[derive(Debug, Clone, Copy)]
pub struct HostFile {
    /// Absolute path on the host; `{interface}` stands for the host's NIC.
    pub path: &'static str,
    pub mode: u32,
    pub source: Source,
    /// Whether a change of it restarts the component's service.
    pub restarts: bool,
}

/// What a host file is rendered from.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// A template (by its name under `templates/`) with the host's context.
    Template(&'static str),
    /// The kubeconfig template for `identity`, talking to `server`.
    Kubeconfig { identity: Identity, server: Server },
}

/// Whose credentials a kubeconfig carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identity {
    /// A user whose client certificate v6deploy issues (embedded from the store).
    User(KubeconfigUser),
    /// The host's kubelet: `system:node:<node name>`, its rotated client certificate file.
    Node,
}

/// Which API server a kubeconfig talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Server {
    /// The host's own apiserver, `https://[::1]:6443`.
    Loopback,
    /// The first control plane's address.
    FirstControlPlane,
    /// The host's API proxy, `https://[::1]:7443`, to every apiserver (see `api_proxy.rs`).
    LocalProxy,
}

impl Server {
    /// The address it stands for.
    pub fn address(self, first_control_plane: Ipv6Addr) -> Ipv6Addr {
        match self {
            Server::Loopback | Server::LocalProxy => Ipv6Addr::LOCALHOST,
            Server::FirstControlPlane => first_control_plane,
        }
    }

    /// Its port.
    pub fn port(self) -> u16 {
        match self {
            Server::LocalProxy => api_proxy::PORT,
            Server::Loopback | Server::FirstControlPlane => APISERVER_PORT,
        }
    }

    /// Its URL, `https://[address]:port`.
    pub fn url(self, first_control_plane: Ipv6Addr) -> String {
        crate::net::url("https", self.address(first_control_plane), self.port())
    }
}

/// The server of `user`'s kubeconfig on the hosts.
pub fn kubeconfig_server(user: KubeconfigUser) -> Option<Server> {
    ALL.iter().flat_map(|c| c.files.iter()).find_map(|f| match f.source {
        Source::Kubeconfig { identity, server } if identity == Identity::User(user) => Some(server),
        _ => None,
    })
}

/// A systemd service: the unit is one of the component's files, at [`Component::unit_path`].
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// The install step that starts it.
    pub stage: Stage,
    /// The binary its unit runs (one of the component's binaries; staged when it is missing).
    pub binary: &'static str,
    pub start: Start,
    pub restart: Restart,
    /// A file written only before the first start, while `marker` does not exist on the host
    /// (etcd's bootstrap configuration, read only while its data dir is empty).
    pub bootstrap: Option<Bootstrap>,
    pub health: Health,
    /// Its check while a binary `health` needs is staged: `systemctl is-active` unless it has
    /// one that needs less (the API proxy, with no apiserver to answer through it).
    pub health_when_staged: Health,
    /// The journal line with which it exits by design, for systemd to start it again: the
    /// controller-manager and the scheduler end with `leaderelection lost` when they cannot
    /// renew their lease in time (their apiserver restarted, or was slow). One such restart
    /// during its health check is waited out and reported; any other restart is a crash.
    pub exits_by_design: Option<&'static str>,
    pub join: Join,
}

impl Service {
    /// A service of `stage` that runs `binary`: started when ready, restarted on every host at
    /// once, no bootstrap file, `systemctl is-active` as its health, joining like any host.
    pub const fn new(stage: Stage, binary: &'static str) -> Service {
        Service { stage, binary, start: Start::WhenReady, restart: Restart::Parallel, bootstrap: None, health: Health::Active, health_when_staged: Health::Active, exits_by_design: None, join: Join::Plain }
    }
}

/// A file used only before the first start.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub file: &'static str,
    /// Once this exists on the host, the file is no longer written.
    pub marker: &'static str,
}

/// The install steps that start services, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    Etcd,
    ControlPlane,
    /// The API proxy of every host: up (and some apiserver answering through it) before the
    /// kubelet, which talks to it.
    ApiProxy,
    /// The container runtime; the bundle's images are imported after it.
    Runtime,
    Node,
}

impl Stage {
    /// Every stage, in order.
    pub const ALL: [Stage; 5] = [Stage::Etcd, Stage::ControlPlane, Stage::ApiProxy, Stage::Runtime, Stage::Node];

    /// The step's title.
    pub fn title(self) -> String {
        match self {
            Stage::Etcd => "etcd cluster".into(),
            Stage::ControlPlane => "Control plane".into(),
            Stage::ApiProxy => "API proxy".into(),
            Stage::Runtime => "Container runtime".into(),
            // "kubelet and kube-proxy", "containerd, kubelet and kube-proxy"
            Stage::Node => {
                let names: Vec<&str> = in_stage(self).map(|c| c.name).collect();
                match names.split_last() {
                    Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
                    _ => names.concat(),
                }
            }
        }
    }
}

/// How a service is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Wait until systemd reports it started.
    WhenReady,
    /// Do not wait (`--no-block`): members that need each other (etcd's quorum) start together.
    Together,
}

/// How a running service is restarted when its files change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// On every host at once.
    Parallel,
    /// One host at a time, healthy before the next (a quorum or an HA pair stays available).
    Rolling,
}

/// A service's health check.
#[derive(Debug, Clone, Copy)]
pub enum Health {
    /// Only `systemctl is-active`: not a health check for a unit with `Restart=always`, so
    /// only a fallback (a check's tool is staged) and a test double.
    Active,
    /// A read-only script for the host, retried until it succeeds. It needs the bundle
    /// binaries `needs` (it runs them, or, for the API proxy, needs the apiserver running;
    /// falling back to [`Service::health_when_staged`] when one is staged) and host tools such as
    /// `curl` (preflight's `tools` check); `shows` says what it checks, for the recap.
    Script { needs: &'static [&'static str], script: fn(&Inventory, &HostSpec) -> String, shows: &'static str },
}

impl Health {
    /// What the check looks at, for the step's output.
    pub fn shows(&self) -> &'static str {
        match self {
            Health::Active => "systemctl is-active only",
            Health::Script { shows, .. } => shows,
        }
    }
}

/// How a host added to a running cluster starts the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Like any other host.
    Plain,
    /// As a new member, through `etcdctl member add` (the node add workflow's "Join" step).
    MemberAdd,
}

/// A manifest applied to the cluster.
#[derive(Debug, Clone, Copy)]
pub struct Manifest {
    pub template: &'static str,
    /// Its file name under `cluster/` and the addons directory.
    pub file: &'static str,
    /// Whether the inventory wants it.
    pub wanted: fn(&Inventory) -> bool,
    /// The images its pods run (from the inventory).
    pub images: fn(&Inventory) -> Vec<String>,
    /// The workloads it creates: it is healthy when every one has rolled out (its pods Ready).
    pub workloads: &'static [Workload],
    /// Which network its pods use: those on the pod network are applied once the nodes are
    /// Ready (before, the scheduler refuses them and backs off for up to 10 s).
    pub network: AddonNetwork,
}

/// The network an addon's pods use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddonNetwork {
    /// `hostNetwork: true`, tolerating a node that is not Ready: flannel (which makes the nodes
    /// Ready) and the node-local DNS cache.
    Host,
    /// The pod network: CoreDNS, Elasticsearch.
    Pod,
}

impl Component {
    /// A cluster addon: `template` rendered as `file` and applied when `wanted`; its pods run
    /// `images`, in `workloads`, on `network`.
    pub const fn addon(
        name: &'static str,
        template: &'static str,
        file: &'static str,
        wanted: fn(&Inventory) -> bool,
        images: fn(&Inventory) -> Vec<String>,
        workloads: &'static [Workload],
        network: AddonNetwork,
    ) -> Component {
        Component { name, roles: &[], binaries: &[], bundle_dirs: &[], files: &[], certificates: &[], ports: &[], leaves: Leaves::NOTHING, kind: Kind::ClusterAddon(Manifest { template, file, wanted, images, workloads, network }) }
    }

    /// The same component, leaving `leaves` on the hosts (an addon's pods do, on every node).
    pub const fn leaving(self, leaves: Leaves) -> Component {
        Component { leaves, ..self }
    }

    /// Whether the inventory wants it at all (an addon it configures, the pod network it
    /// chose); host components are always wanted.
    pub fn wanted(&self, inv: &Inventory) -> bool {
        match &self.kind {
            Kind::ClusterAddon(manifest) => (manifest.wanted)(inv),
            Kind::PodNetwork => pod_routes::wanted(inv),
            _ => true,
        }
    }

    /// Whether it runs on `host` (by its roles).
    pub fn runs_on(&self, host: &HostSpec) -> bool {
        self.roles.iter().any(|r| host.has(*r))
    }

    /// The service, for a service component.
    pub fn service(&self) -> Option<&Service> {
        match &self.kind {
            Kind::Service(service) => Some(service),
            _ => None,
        }
    }

    /// The path of its systemd unit.
    pub fn unit_path(&self) -> String {
        format!("{UNIT_DIR}/{}.service", self.name)
    }

    /// The paths of its files on `host`.
    pub fn paths(&self, host: &HostSpec) -> impl Iterator<Item = String> + '_ {
        let interface = host.interface.clone();
        self.files.iter().map(move |f| f.path_on(interface.as_str()))
    }

    /// Whether the file at `path` on `host` is one of its files.
    pub fn owns(&self, host: &HostSpec, path: &str) -> bool {
        self.paths(host).any(|p| p == path)
    }

    /// Whether a change of `path` on `host` needs its service restarted: its files that say
    /// so, the PKI files it reads, and the binary its unit runs.
    pub fn restarts_for(&self, host: &HostSpec, path: &str) -> bool {
        let file = self.files.iter().any(|f| f.restarts && f.path_on(host.interface.as_str()) == path);
        let pki = self.certificates.iter().any(|(group, usage)| *usage == PkiUse::Reads && group.paths().contains(&path));
        let binary = self.service().is_some_and(|s| path == binary_path(s.binary));
        file || pki || binary
    }

    /// Whether its service is staged: the bundle lacks the binary its unit runs.
    pub fn is_staged(&self, bundle: &BundleCheck) -> bool {
        self.service().is_some_and(|s| bundle.lacks(s.binary))
    }

    /// The health check of its service on `host` (`systemctl is-active` when it has no
    /// check of its own; [`Service::health_when_staged`] when a binary the check needs is
    /// staged).
    pub fn health(&self, bundle: &BundleCheck) -> Health {
        let staged = |health: &Health| matches!(health, Health::Script { needs, .. } if needs.iter().any(|b| bundle.lacks(b)));
        match self.service() {
            Some(s) if !staged(&s.health) => s.health,
            Some(s) if !staged(&s.health_when_staged) => s.health_when_staged,
            _ => Health::Active,
        }
    }

    /// The script of [`Component::health`].
    pub fn health_script(&self, inv: &Inventory, host: &HostSpec, bundle: &BundleCheck) -> String {
        match self.health(bundle) {
            Health::Script { script, .. } => script(inv, host),
            Health::Active => format!("systemctl is-active --quiet {}", self.name),
        }
    }
}

impl HostFile {
    /// Its path with `{interface}` replaced.
    pub fn path_on(&self, interface: &str) -> String {
        self.path.replace("{interface}", interface)
    }

    /// A configuration file or unit rendered from `template`; a change restarts the service.
    pub const fn config(path: &'static str, template: &'static str) -> HostFile {
        HostFile { path, mode: PUBLIC, source: Source::Template(template), restarts: true }
    }

    /// A kubeconfig (0600: it may embed a private key); a change restarts the service.
    pub const fn kubeconfig(path: &'static str, identity: Identity, server: Server) -> HostFile {
        HostFile { path, mode: PRIVATE, source: Source::Kubeconfig { identity, server }, restarts: true }
    }

    /// The same file, but a change does not restart the service.
    pub const fn without_restart(self) -> HostFile {
        HostFile { restarts: false, ..self }
    }
}

/// A read-only script for a health check over HTTP(S) with the host's `curl` (at most 3 s a
/// try): fails with curl's own message (`-S`) when the endpoint does not answer 2xx.
pub fn curl(url: &str, options: &str) -> String {
    format!("curl -fsS --max-time 3 {options} {url} -o /dev/null")
}

/// A binary's path on the hosts.
pub fn binary_path(name: &str) -> String {
    format!("{BIN_DIR}/{name}")
}

/// Components are ordered as [`ALL`] lists them, and equal by name.
impl PartialEq for Component {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Component {}

impl PartialOrd for Component {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Component {
    fn cmp(&self, other: &Self) -> Ordering {
        let position = |c: &Component| ALL.iter().position(|a| a.name == c.name);
        position(self).cmp(&position(other)).then_with(|| self.name.cmp(other.name))
    }
}

impl serde::Serialize for Component {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name)
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name)
    }
}

/// The service of a service component (a build-time error for another kind, in a const).
pub const fn service_of(component: &Component) -> Service {
    match component.kind {
        Kind::Service(service) => service,
        _ => panic!("not a service component"),
    }
}

#[cfg(test)]
mod tests;
