//! The registry: [`ALL`] lists every component, and the lists the rest of v6deploy needs are
//! read off it here (which components run on a host, the services of a stage, the binaries the
//! bundle must hold, the ports preflight checks, the templates the catalog renders).

use super::*;

/// Every component, in install order (this order is also the order of the recap).
pub const ALL: &[&Component] = &[
    &host::HOST,
    &ifcfg::IFCFG,
    &etcd::ETCD,
    &kube_apiserver::KUBE_APISERVER,
    &kube_controller_manager::KUBE_CONTROLLER_MANAGER,
    &kube_scheduler::KUBE_SCHEDULER,
    &api_proxy::API_PROXY,
    &cni_plugins::CNI_PLUGINS,
    &containerd::CONTAINERD,
    &images::IMAGES,
    &kubelet::KUBELET,
    &kube_proxy::KUBE_PROXY,
    &pod_routes::POD_ROUTES,
    &flannel::FLANNEL,
    &coredns::COREDNS,
    &nodelocaldns::NODELOCALDNS,
    &elasticsearch::ELASTICSEARCH,
];

/// The component named `name`.
pub fn find(name: &str) -> Option<&'static Component> {
    ALL.iter().copied().find(|c| c.name == name)
}

/// The components that run on `host`, in install order.
pub fn on_host(host: &HostSpec) -> impl Iterator<Item = &'static Component> + '_ {
    ALL.iter().copied().filter(move |c| c.runs_on(host))
}

/// Every service component, in install order.
pub fn services() -> impl Iterator<Item = &'static Component> {
    ALL.iter().copied().filter(|c| c.service().is_some())
}

/// The service components that run on `host`.
pub fn services_on(host: &HostSpec) -> impl Iterator<Item = &'static Component> + '_ {
    services().filter(move |c| c.runs_on(host))
}

/// The services a stage starts.
pub fn in_stage(stage: Stage) -> impl Iterator<Item = &'static Component> {
    services().filter(move |c| c.service().is_some_and(|s| s.stage == stage))
}

/// The cluster addons the inventory wants, in apply order.
pub fn addons(inv: &Inventory) -> Vec<&'static Component> {
    ALL.iter().copied().filter(|c| matches!(&c.kind, Kind::ClusterAddon(_)) && c.wanted(inv)).collect()
}

/// The workloads of the addons the inventory wants whose manifest passes `include`, in apply
/// order.
pub fn addon_workloads(inv: &Inventory, include: impl Fn(&Manifest) -> bool) -> Vec<Workload> {
    addons(inv).into_iter().filter_map(manifest).filter(|m| include(m)).flat_map(|m| m.workloads.iter().copied()).collect()
}

/// The manifest of an addon component.
pub fn manifest(component: &Component) -> Option<&Manifest> {
    match &component.kind {
        Kind::ClusterAddon(manifest) => Some(manifest),
        _ => None,
    }
}

/// The bundle binaries the inventory's hosts need, each once, in install order.
pub fn binaries(inv: &Inventory) -> Vec<&'static str> {
    let mut needed: Vec<&'static str> = Vec::new();
    for component in ALL.iter().filter(|c| inv.hosts.iter().any(|h| c.runs_on(h))) {
        for binary in component.binaries {
            if !needed.contains(binary) {
                needed.push(binary);
            }
        }
    }
    needed
}

/// The bundle directories the inventory's hosts need, each once.
pub fn bundle_dirs(inv: &Inventory) -> Vec<&'static BundleDir> {
    let mut dirs: Vec<&'static BundleDir> = Vec::new();
    for component in ALL.iter().filter(|c| inv.hosts.iter().any(|h| c.runs_on(h))) {
        for dir in component.bundle_dirs {
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    dirs
}

/// The binaries `host` gets.
pub fn binaries_on(host: &HostSpec) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = on_host(host).flat_map(|c| c.binaries.iter().copied()).collect();
    names.dedup();
    names
}

/// The ports of the components that run on `host`, with the component listening there.
pub fn ports_on(host: &HostSpec) -> Vec<(u16, &'static Component)> {
    on_host(host).flat_map(|c| c.ports.iter().map(move |p| (*p, c))).collect()
}

/// The file of `host` rendered from the template named `template`, if any component has one.
pub fn path_of_template(host: &HostSpec, template: &str) -> Option<String> {
    ALL.iter().flat_map(|c| c.files.iter()).find(|f| matches!(f.source, Source::Template(t) if t == template)).map(|f| f.path_on(host.interface.as_str()))
}

/// Every template the catalog renders (host files, kubeconfigs and manifests).
pub fn templates() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = Vec::new();
    for component in ALL {
        for file in component.files {
            names.push(match file.source {
                Source::Template(name) => name,
                Source::Kubeconfig { .. } => crate::render::KUBECONFIG_TEMPLATE,
            });
        }
        if let Some(manifest) = manifest(component) {
            names.push(manifest.template);
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}
