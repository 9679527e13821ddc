//! The Kubernetes release and the container runtime settings.

use super::Validator;
use crate::inventory::model::{Containerd, Kubelet, KubernetesVersion, Snapshotter, Threshold};
use crate::inventory::raw::{RawContainerd, RawKubelet, Text};

/// The kubelet's hard eviction signals.
const SIGNALS: &[&str] = &["memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available", "imagefs.inodesFree", "pid.available"];

use crate::inventory::ProblemKind;

impl Validator<'_> {
    /// `cluster.kubernetes_version`: `major.minor.patch` within the supported releases.
    pub(super) fn kubernetes_version(&mut self, text: &Text) -> Option<KubernetesVersion> {
        let field = "cluster.kubernetes_version";
        let Ok(version) = text.value.parse::<KubernetesVersion>() else {
            let kind = ProblemKind::BadValue { value: text.value.clone(), expected: "write major.minor.patch in quotes, e.g. \"1.27.15\"" };
            self.report(text, field, kind);
            return None;
        };
        if !KubernetesVersion::SUPPORTED.contains(&(version.major, version.minor)) {
            let kind = ProblemKind::BadValue {
                value: text.value.clone(),
                expected: "v6deploy's templates and flags cover Kubernetes 1.20 to 1.30: use a release in that range, e.g. \"1.27.15\"",
            };
            self.report(text, field, kind);
            return None;
        }
        Some(version)
    }

    /// The `kubelet:` section: eviction thresholds by signal, each a percentage or a quantity.
    pub(super) fn kubelet(&mut self, raw: Option<&RawKubelet>) -> Kubelet {
        let mut eviction_hard = std::collections::BTreeMap::new();
        for (signal, value) in raw.map(|k| &k.eviction_hard).into_iter().flatten() {
            let field = format!("kubelet.eviction_hard.{signal}");
            let Some(signal) = SIGNALS.iter().find(|s| **s == signal) else {
                let kind = ProblemKind::NotOneOf { value: signal.clone(), allowed: SIGNALS };
                self.report(value, field, kind);
                continue;
            };
            if let Some(threshold) = self.typed(value, field, Threshold::parse) {
                eviction_hard.insert(*signal, threshold);
            }
        }
        let image_gc_high_percent = match raw.and_then(|k| k.image_gc_high_percent.as_ref()) {
            None => 100,
            Some(p) if (2..=100).contains(&p.value) => p.value as u8,
            Some(p) => {
                let kind = ProblemKind::OutOfRange { value: p.value, expected: "a disk usage percentage, 2 to 100 (100, the default, never deletes the bundle's images; the kubelet's own default is 85)" };
                self.report(p, "kubelet.image_gc_high_percent", kind);
                100
            }
        };
        Kubelet { eviction_hard, image_gc_high_percent }
    }

    /// The `containerd:` section.
    pub(super) fn containerd(&mut self, raw: Option<&RawContainerd>) -> Containerd {
        let snapshotter = self.choice(
            raw.and_then(|c| c.snapshotter.as_ref()),
            "containerd.snapshotter",
            &[("overlayfs", Snapshotter::Overlayfs), ("native", Snapshotter::Native)],
            &["overlayfs", "native"],
            Snapshotter::Overlayfs,
        );
        Containerd { snapshotter, restrict_oom_score_adj: raw.and_then(|c| c.restrict_oom_score_adj).unwrap_or(false) }
    }
}

#[cfg(test)]
mod tests {
    use crate::inventory::{CgroupDriver, Snapshotter, Threshold, parse};

    fn load(extra: &str, version: &str) -> Result<crate::inventory::Inventory, String> {
        let text = format!(
            "cluster:\n  name: t\n  kubernetes_version: \"{version}\"\n  service_cidr: \"2001:cafe:43::/112\"\n  pod_cidr: \"2001:cafe:42::/56\"\n{extra}\
             hosts:\n  - address: \"2001:db8::1\"\n    roles: [control-plane, etcd, worker]\n    interface: eth0\n"
        );
        parse(std::path::Path::new("t.yaml"), &text).map(|l| l.inventory).map_err(|e| e.to_string())
    }

    #[test]
    fn versions_outside_the_supported_releases_are_refused_with_the_range() {
        assert_eq!(load("", "v1.20.2").unwrap().cluster.kubernetes_version.to_string(), "1.20.2");
        assert!(load("", "1.30.0").is_ok());
        for bad in ["1.19.16", "1.31.0", "2.0.0"] {
            let error = load("", bad).unwrap_err();
            assert!(error.contains("cluster.kubernetes_version") && error.contains("1.20 to 1.30"), "{error}");
        }
        assert!(load("", "1.27").unwrap_err().contains("major.minor.patch"));
    }

    #[test]
    fn runtime_settings_default_to_a_real_host_and_take_the_lab_values() {
        let default = load("", "1.27.15").unwrap();
        assert_eq!(default.cluster.cgroup_driver, CgroupDriver::Systemd);
        assert_eq!(default.containerd.snapshotter, Snapshotter::Overlayfs);
        assert!(!default.containerd.restrict_oom_score_adj);
        assert_eq!(default.images.sandbox, "registry.k8s.io/pause:3.9");
        let lab = load("  cgroup_driver: cgroupfs\ncontainerd:\n  snapshotter: native\n  restrict_oom_score_adj: true\n", "1.20.2").unwrap();
        assert_eq!((lab.cluster.cgroup_driver, lab.containerd.snapshotter, lab.containerd.restrict_oom_score_adj), (CgroupDriver::Cgroupfs, Snapshotter::Native, true));
        assert!(load("containerd:\n  snapshotter: zfs\n", "1.27.15").unwrap_err().contains("containerd.snapshotter"));
    }

    /// The bundle's images are never collected unless the inventory says otherwise.
    #[test]
    fn image_garbage_collection_is_off_by_default_and_a_percentage_when_set() {
        assert_eq!(load("", "1.27.15").unwrap().kubelet.image_gc_high_percent, 100);
        assert_eq!(load("kubelet:\n  image_gc_high_percent: 90\n", "1.27.15").unwrap().kubelet.image_gc_high_percent, 90);
        let error = load("kubelet:\n  image_gc_high_percent: 101\n", "1.27.15").unwrap_err();
        assert!(error.contains("kubelet.image_gc_high_percent") && error.contains("0 to 100"), "{error}");
        let error = load("kubelet:\n  image_gc_high_percent: 1\n", "1.27.15").unwrap_err();
        assert!(error.contains("kubelet.image_gc_high_percent") && error.contains("2 to 100"), "{error}");
    }

    #[test]
    fn eviction_thresholds_are_signals_with_percentages_or_quantities() {
        let inv = load("kubelet:\n  eviction_hard:\n    nodefs.available: \"1%\"\n    memory.available: \"100Mi\"\n", "1.27.15").unwrap();
        assert_eq!(inv.kubelet.eviction_hard.get("nodefs.available").map(Threshold::as_str), Some("1%"));
        let bad = load("kubelet:\n  eviction_hard:\n    disk.available: \"1%\"\n    nodefs.available: \"lots\"\n", "1.27.15").unwrap_err();
        assert!(bad.contains("kubelet.eviction_hard.disk.available") && bad.contains("kubelet.eviction_hard.nodefs.available"), "{bad}");
    }
}
