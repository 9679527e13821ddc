//! Importing the bundle's images into containerd's `k8s.io` namespace, on every node, once
//! containerd runs and before the kubelet starts: an archive is imported when "Install files"
//! wrote it in this run or when containerd lacks one of its references (the listing from the
//! run's snapshot on a host the run has not changed, else one round trip; one for all the
//! imports of the host, or none).

use std::sync::Arc;

use super::InstallState;
use crate::components::{self, CONTAINERD, IMAGES, IMAGES_DIR};
use crate::facts::Query;
use crate::inventory::{HostSpec, Inventory};
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::shell::quote;

/// The "Import images" step.
pub struct ImportImages {
    pub state: Arc<InstallState>,
}

impl Step for ImportImages {
    fn title(&self) -> String {
        "Import images".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        IMAGES.runs_on(host) && !self.state.images.is_empty()
    }

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::query(&Query::images())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let state = &self.state;
            if CONTAINERD.is_staged(&state.bundle) || state.bundle.lacks("ctr") {
                return Ok(format!("{} archives in {IMAGES_DIR}, not imported (containerd is staged)", state.images.len()));
            }
            let dry_run = cx.gate.mode() == Mode::DryRun;
            // On a host this run has changed nothing on (containerd not restarted), the
            // snapshot's listing holds; otherwise containerd is asked now. In a dry run it may
            // not run yet: then every archive would be imported.
            let remembered = if state.untouched(cx.host.address) { cx.snapshot_answer(&Query::images()).and_then(Result::ok) } else { None };
            let listed = match remembered {
                Some(listed) => listed,
                None if dry_run => cx.read_fresh(&Query::images()).await.unwrap_or_default(),
                None => cx.read_fresh(&Query::images()).await?,
            };
            let written = state.changed(cx.host.address, |p| p.starts_with(&format!("{IMAGES_DIR}/")));
            let mut imported = Vec::new();
            let mut imports = Vec::new();
            let mut present = Vec::new();
            for image in &state.images {
                let path = format!("{IMAGES_DIR}/{}", image.file);
                let missing: Vec<&String> = image.references.iter().filter(|r| !listed.contains(r)).collect();
                if missing.is_empty() && !written.contains(&path) {
                    present.push(image.file.as_str());
                    continue;
                }
                let reason = if missing.is_empty() { "archive changed".to_string() } else { format!("containerd lacks {}", missing.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")) };
                let import = format!(
                    "{} --address {} -n {} images import --snapshotter {} {}",
                    components::binary_path("ctr"),
                    components::CONTAINERD_SOCKET,
                    components::CRI_NAMESPACE,
                    snapshotter(cx),
                    quote(&path)
                );
                imports.push((format!("import {}", image.references.join(", ")), import, reason));
                imported.push(image.file.as_str());
            }
            cx.commands(&imports).await?;
            let verb = if dry_run { "would import" } else { "imported" };
            Ok(match (imported.is_empty(), present.is_empty()) {
                (true, _) => format!("{} present: {}", present.len(), present.join(", ")),
                (false, true) => format!("{verb} {}", imported.join(", ")),
                (false, false) => format!("{verb} {}; present: {}", imported.join(", "), present.join(", ")),
            })
        })
    }
}

/// containerd's snapshotter, as the inventory names it (images are unpacked into it).
fn snapshotter(cx: &HostContext<'_>) -> &'static str {
    match cx.inventory.containerd.snapshotter {
        crate::inventory::Snapshotter::Overlayfs => "overlayfs",
        crate::inventory::Snapshotter::Native => "native",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::{BundleCheck, BundleImage};
    use crate::render::Rendered;
    use crate::runner::{Gate, Progress, Snapshot};
    use crate::transport::Output;
    use crate::transport::fake::FakeTransport;

    fn state(written: &[&str]) -> Arc<InstallState> {
        let bundle = BundleCheck { root: "/b".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] };
        let images = vec![
            BundleImage { file: "pause.tar".into(), references: vec!["v6deploy.lab/pause:3.2".into()] },
            BundleImage { file: "busybox.tar".into(), references: vec!["v6deploy.lab/busybox:1.35".into()] },
        ];
        let state = InstallState::new(Rendered { hosts: vec![], cluster: vec![] }, bundle, vec![]).unwrap().with_images(images);
        let inv = crate::inventory::field_report();
        state.mark_changed(inv.hosts[0].address, written.iter().map(|p| p.to_string()));
        Arc::new(state)
    }

    async fn run(state: Arc<InstallState>, listed: &str, imports: bool) -> (String, Vec<String>) {
        let inv = crate::inventory::field_report();
        let fake = FakeTransport::new("a").answer(&Query::images(), listed);
        let fake = if imports { fake.accepts_commands() } else { fake };
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        let summary = ImportImages { state }.run(&cx).await.unwrap();
        fake.verify();
        (summary, gate.changes().iter().map(|c| format!("{} ({})", c.target, c.reason)).collect())
    }

    /// An image containerd lacks is imported; one it has, from an archive this run did not
    /// write, is left alone; an archive written in this run is imported again.
    #[tokio::test]
    async fn only_missing_or_changed_archives_are_imported() {
        let (summary, changes) = run(state(&[]), "v6deploy.lab/pause:3.2\n", true).await;
        assert_eq!(changes, ["import v6deploy.lab/busybox:1.35 (containerd lacks v6deploy.lab/busybox:1.35)"]);
        assert_eq!(summary, "imported busybox.tar; present: pause.tar");
        let (summary, changes) = run(state(&[]), "v6deploy.lab/pause:3.2\nv6deploy.lab/busybox:1.35\n", false).await;
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(summary, "2 present: pause.tar, busybox.tar");
        let (_, changes) = run(state(&["/var/lib/v6deploy/images/pause.tar"]), "v6deploy.lab/pause:3.2\nv6deploy.lab/busybox:1.35\n", true).await;
        assert_eq!(changes, ["import v6deploy.lab/pause:3.2 (archive changed)"]);
    }

    /// On a host the run has not changed, the snapshot's listing answers: no round trip (the
    /// fake transport expects none). On a changed host, containerd is asked again.
    #[tokio::test]
    async fn an_untouched_host_is_answered_from_the_snapshot() {
        let inv = crate::inventory::field_report();
        let snapshot = Snapshot::default();
        snapshot.seed(Query::images().query(), Output { status: 0, stdout: b"v6deploy.lab/pause:3.2\nv6deploy.lab/busybox:1.35\n".to_vec(), stderr: Vec::new() });
        let fake = FakeTransport::new("a");
        let gate = Gate::new(Mode::Apply);
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        assert_eq!(ImportImages { state: state(&[]) }.run(&cx).await.unwrap(), "2 present: pause.tar, busybox.tar");
        fake.verify();
        let fake = FakeTransport::new("a").answer(&Query::images(), "").accepts_commands();
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        let summary = ImportImages { state: state(&["/etc/containerd/config.toml"]) }.run(&cx).await.unwrap();
        assert_eq!(summary, "imported pause.tar, busybox.tar");
        fake.verify();
    }
}
