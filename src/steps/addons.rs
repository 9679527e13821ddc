//! Addons: flannel, CoreDNS, nodelocaldns (and Elasticsearch when configured), put on the
//! first control plane under /etc/kubernetes/addons/ and applied with kubectl there once the
//! API server is healthy. With a staged API server they stay staged on disk.

use std::sync::Arc;

use anyhow::{Context, bail};

use super::{ComponentOutcome, InstallState};
use crate::inventory::Inventory;
use crate::components::{self, KUBE_APISERVER};
use crate::facts::Query;
use crate::inventory::{HostSpec, Role};
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::quote;

/// Where the manifests go on the first control plane.
pub const ADDONS_DIR: &str = "/etc/kubernetes/addons";

/// How long the addons' pods have to be Ready (images are imported already; on a busy
/// 2-core lab flannel, CoreDNS and node-local-dns on 3 nodes take about 30 s).
pub const READY_SECONDS: u64 = 300;

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
    fn checked(&self, cx: &HostContext<'_>) -> Vec<components::Workload> {
        components::addon_workloads(cx.inventory, |m| (m.images)(cx.inventory).iter().all(|i| crate::bundle::holds(&self.state.images, i)))
    }

    /// Waits for the addons' pods: "; ready: kube-flannel-ds 3/3, ..." or the error naming
    /// the pods that are not, with their events and logs.
    async fn wait_ready(&self, cx: &HostContext<'_>) -> anyhow::Result<String> {
        let workloads = self.checked(cx);
        if workloads.is_empty() || cx.gate.mode() == Mode::DryRun {
            return Ok(String::new());
        }
        let answer = cx.read_fresh(&Query::addons_ready(components::ready_script(&workloads, READY_SECONDS))).await.context("wait for the addons' pods")?;
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

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        self.specs().into_iter().map(|f| Read::probe(&f)).collect()
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
            let files: Vec<String> = names.iter().map(|n| format!("-f {}", quote(&format!("{ADDONS_DIR}/{n}")))).collect();
            let apply = format!("{} --kubeconfig={} apply {}", components::binary_path("kubectl"), crate::pki::kubeconfig_path(crate::pki::KubeconfigUser::Admin), files.join(" "));
            cx.command(&format!("kubectl apply {}", names.join(", ")), &apply, "manifests changed").await.context("apply the addons")?;
            let verb = if cx.gate.mode() == Mode::Apply { "applied" } else { "would be applied" };
            let ready = self.wait_ready(cx).await?;
            Ok(format!("{} {verb}{ready}{pending}", names.join(", ")))
        })
    }
}
