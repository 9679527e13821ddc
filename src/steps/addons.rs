//! Addons: flannel, CoreDNS, nodelocaldns (and Elasticsearch when configured), put on the
//! first control plane under /etc/kubernetes/addons/ and applied with kubectl there once the
//! API server is healthy. With a staged API server they stay staged on disk.

use std::sync::Arc;

use anyhow::{Context, bail};

use super::{ComponentOutcome, InstallState};
use crate::inventory::Inventory;
use crate::components::{self, AddonNetwork, KUBE_APISERVER};
use crate::facts::{AddonsReady, Ask, Query};
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::quote;

/// Where the manifests go on the first control plane.
pub const ADDONS_DIR: &str = "/etc/kubernetes/addons";

/// How long the addons' pods have to be Ready (images are imported already; on a busy
/// 2-core lab flannel, CoreDNS and node-local-dns on 3 nodes take about 30 s).
pub const READY_SECONDS: u64 = 300;

/// How long the apply waits for nodes to be Ready between the host-network addons (flannel
/// makes the nodes Ready) and those on the pod network; then it applies them anyway and the
/// wait for their pods says what is wrong.
pub const NODES_READY_SECONDS: u64 = 120;

/// How many Ready nodes the pod-network addons wait for (fewer when the cluster has fewer):
/// two, so that CoreDNS's two replicas can start on two nodes.
pub const NODES_FOR_POD_ADDONS: usize = 2;

/// The network of the addon whose manifest is `file` (a file of no addon: the pod network).
fn network_of(inv: &Inventory, file: &str) -> AddonNetwork {
    components::addons(inv).into_iter().filter_map(components::manifest).find(|m| m.file == file).map_or(AddonNetwork::Pod, |m| m.network)
}

/// The script that applies the manifests `on_host` (file names under the addons directory),
/// waits up to [`NODES_READY_SECONDS`] until `ready_nodes` nodes are Ready, then applies
/// `on_pods`: created while no node is Ready, pods on the pod network would only be refused by
/// the scheduler, which retries them on every node update and so backs off for up to 10 s
/// once the nodes are Ready. It does not wait for every node: on 10 machines the last one
/// turned Ready 4 s after the second, and CoreDNS's pods started on the first ones.
fn apply_script(on_host: &[&str], on_pods: &[&str], ready_nodes: usize) -> String {
    let kubectl = format!("{} --kubeconfig={}", components::binary_path("kubectl"), crate::pki::kubeconfig_path(crate::pki::KubeconfigUser::Admin));
    let apply = |files: &[&str]| {
        let files: Vec<String> = files.iter().map(|n| format!("-f {}", quote(&format!("{ADDONS_DIR}/{n}")))).collect();
        format!("{kubectl} apply {}", files.join(" "))
    };
    let ready = r#"'{range .items[*]}{range .status.conditions[?(@.type=="Ready")]}{.status}{"\n"}{end}{end}'"#;
    match (on_host.is_empty(), on_pods.is_empty()) {
        (true, _) => apply(on_pods),
        (false, true) => apply(on_host),
        (false, false) => format!(
            "{} && {{ end=$(($(date +%s) + {NODES_READY_SECONDS})); until [ \"$({kubectl} get nodes -o jsonpath={ready} 2>/dev/null | grep -c '^True$')\" -ge {ready_nodes} ]; do \
             if [ \"$(date +%s)\" -ge \"$end\" ]; then echo 'fewer than {ready_nodes} nodes Ready after {NODES_READY_SECONDS} s: applying the rest anyway'; break; fi; sleep 0.5; done; }} && {}",
            apply(on_host),
            apply(on_pods),
        ),
    }
}

/// The "Addons" step.
pub struct Addons {
    pub state: Arc<InstallState>,
    /// The first control-plane host, where kubectl applies the manifests.
    pub first_control_plane: std::net::Ipv6Addr,
}

impl Addons {
    fn specs(&self) -> Vec<FileSpec> {
        self.state.desired.cluster.iter().map(|f| FileSpec::root(format!("{ADDONS_DIR}/{}", f.path), 0o644, f.contents.as_bytes())).collect()
    }
}

impl Addons {
    /// The workloads to wait for: those of the wanted addons whose images the bundle holds
    /// (without them, nothing could make the pods Ready).
    fn checked(&self, inv: &Inventory) -> Vec<components::Workload> {
        components::addon_workloads(inv, |m| (m.images)(inv).iter().all(|i| crate::bundle::holds(&self.state.images, i)))
    }

    /// The snapshot's question: are the addons' pods all Ready now (one `kubectl get`).
    fn ready_now(&self, inv: &Inventory) -> Ask<AddonsReady> {
        Query::addons_ready(components::ready_now_script(&self.checked(inv)))
    }

    /// Waits for the addons' pods: "; ready: kube-flannel-ds 3/3, ..." or the error naming
    /// the pods that are not, with their events and logs. In a run that has changed nothing
    /// on any host, the snapshot's answer that they all were Ready does.
    async fn wait_ready(&self, cx: &HostContext<'_>) -> anyhow::Result<String> {
        let workloads = self.checked(cx.inventory);
        if workloads.is_empty() || cx.gate.mode() == Mode::DryRun {
            return Ok(String::new());
        }
        let remembered = if self.state.nothing_changed() { cx.snapshot_answer(&self.ready_now(cx.inventory)).and_then(Result::ok).filter(|a| a.failure.is_none()) } else { None };
        let answer = match remembered {
            Some(answer) => answer,
            None => cx.read_fresh(&Query::addons_ready(components::ready_script(&workloads, READY_SECONDS))).await.context("wait for the addons' pods")?,
        };
        if let Some(why) = answer.failure {
            bail!("the addons' pods are not Ready after {READY_SECONDS} s:\n{why}");
        }
        let ready: Vec<String> = answer.ready.iter().map(|(name, pods)| format!("{name} {pods}")).collect();
        Ok(format!("; pods Ready: {}", ready.join(", ")))
    }

    /// "; coredns: image not in bundle, pods pending until the nodes can pull ..." for every
    /// addon whose image the bundle lacks (nothing waits for those pods, and they do not make
    /// the cluster look healthy).
    fn pending(&self, cx: &HostContext<'_>) -> String {
        let mut notes = String::new();
        for addon in components::addons(cx.inventory) {
            let Some(manifest) = components::manifest(addon) else { continue };
            let missing: Vec<String> = (manifest.images)(cx.inventory).into_iter().filter(|i| !crate::bundle::holds(&self.state.images, i)).collect();
            if !missing.is_empty() {
                notes.push_str(&format!("; {}: applied, image not in bundle ({}): pods pending until the nodes can pull it", addon.name, missing.join(", ")));
            }
        }
        notes
    }
}

impl Step for Addons {
    fn title(&self) -> String {
        let names: Vec<&str> = components::ALL.iter().filter(|c| components::manifest(c).is_some()).map(|c| c.name).collect();
        format!("Addons ({})", names.join(", "))
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::ControlPlane) && host.address == self.first_control_plane
    }

    fn reads(&self, inv: &Inventory, _: &HostSpec) -> Vec<Read> {
        let mut reads: Vec<Read> = self.specs().into_iter().map(|f| Read::probe(&f)).collect();
        reads.push(Read::query(&self.ready_now(inv)));
        reads
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let specs = self.specs();
            let names: Vec<&str> = self.state.desired.cluster.iter().map(|f| f.path.as_str()).collect();
            let changed = cx.files(&specs).await?;
            // kubectl applies them (the apiserver component carries it).
            let api_staged = KUBE_APISERVER.is_staged(&self.state.bundle) || self.state.bundle.lacks("kubectl");
            let outcome = self.state.outcomes().get(&cx.host.address).and_then(|o| o.get(&KUBE_APISERVER).cloned());
            if api_staged || outcome == Some(ComponentOutcome::Staged) {
                return Ok(format!("{} staged in {ADDONS_DIR} (API server not running: no binary in bundle)", names.join(", ")));
            }
            let pending = self.pending(cx);
            if changed.is_empty() {
                let ready = self.wait_ready(cx).await?;
                return Ok(format!("{} applied, unchanged{ready}{pending}", names.join(", ")));
            }
            // The wanted manifests only: one left in the directory by another configuration
            // (flannel before host-routes) is not applied again.
            let on_host: Vec<&str> = names.iter().copied().filter(|n| network_of(cx.inventory, n) == AddonNetwork::Host).collect();
            let on_pods: Vec<&str> = names.iter().copied().filter(|n| network_of(cx.inventory, n) == AddonNetwork::Pod).collect();
            let nodes = cx.inventory.hosts.iter().filter(|h| components::KUBELET.runs_on(h)).count();
            let script = apply_script(&on_host, &on_pods, nodes.clamp(1, NODES_FOR_POD_ADDONS));
            cx.command(&format!("kubectl apply {}", names.join(", ")), &script, "manifests changed").await.context("apply the addons")?;
            let verb = if cx.gate.mode() == Mode::Apply { "applied" } else { "would be applied" };
            let ready = self.wait_ready(cx).await?;
            Ok(format!("{} {verb}{ready}{pending}", names.join(", ")))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host-network addons first, then the wait for Ready nodes, then the rest; one group
    /// alone is one apply; the script is valid shell.
    #[test]
    fn pod_network_addons_are_applied_once_nodes_are_ready() {
        let both = apply_script(&["flannel.yaml", "nodelocaldns.yaml"], &["coredns.yaml"], 2);
        let first = both.find("apply -f /etc/kubernetes/addons/flannel.yaml -f /etc/kubernetes/addons/nodelocaldns.yaml &&").unwrap();
        let wait = both.find("get nodes").unwrap();
        let then = both.find("apply -f /etc/kubernetes/addons/coredns.yaml").unwrap();
        assert!(first < wait && wait < then, "{both}");
        assert!(both.contains("grep -c '^True$')\" -ge 2 ]") && both.contains("+ 120))"), "{both}");
        assert!(!apply_script(&[], &["coredns.yaml"], 2).contains("get nodes"));
        assert!(!apply_script(&["flannel.yaml"], &[], 2).contains("get nodes"));
        for script in [both, apply_script(&[], &["coredns.yaml"], 2), apply_script(&["flannel.yaml"], &[], 2)] {
            assert!(std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap().success(), "{script}");
        }
    }

    /// Each shipped addon says which network it uses: flannel and the node-local cache the
    /// host's, CoreDNS and Elasticsearch the pods'.
    #[test]
    fn the_addons_networks() {
        let inv = crate::inventory::parse(std::path::Path::new("field-report.yaml"), include_str!("../../inventories/field-report.yaml")).unwrap().inventory;
        assert!(inv.elasticsearch.is_some());
        assert_eq!(network_of(&inv, "flannel.yaml"), AddonNetwork::Host);
        assert_eq!(network_of(&inv, "nodelocaldns.yaml"), AddonNetwork::Host);
        assert_eq!(network_of(&inv, "coredns.yaml"), AddonNetwork::Pod);
        assert_eq!(network_of(&inv, "elasticsearch.yaml"), AddonNetwork::Pod);
    }
}
