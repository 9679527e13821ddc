//! What the templates must know about the Kubernetes release: one predicate per flag or
//! configuration field that differs between the supported releases (1.20 to 1.30), named for
//! what it switches, so a template says `{% if k8s.kubelet_runtime_flags %}` and never
//! compares versions itself.

use serde::Serialize;

use crate::inventory::KubernetesVersion;

/// The version predicates templates see as `k8s`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Versions {
    /// kubelet below 1.24 runs dockershim unless told `--container-runtime=remote`.
    pub kubelet_remote_runtime_flag: bool,
    /// kubelet below 1.27 takes the CRI endpoint and the sandbox image as flags
    /// (`--container-runtime-endpoint`, `--pod-infra-container-image`); from 1.27 the endpoint
    /// is the configuration field `containerRuntimeEndpoint` and the sandbox image is the
    /// runtime's.
    pub kubelet_runtime_flags: bool,
}

impl Versions {
    pub fn of(version: KubernetesVersion) -> Versions {
        Versions { kubelet_remote_runtime_flag: !version.at_least(24), kubelet_runtime_flags: !version.at_least(27) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_flags_follow_the_kubelet_releases() {
        let of = |text: &str| Versions::of(text.parse().unwrap());
        assert!(of("1.20.2").kubelet_remote_runtime_flag && of("1.20.2").kubelet_runtime_flags);
        assert!(!of("1.24.0").kubelet_remote_runtime_flag && of("1.26.9").kubelet_runtime_flags);
        assert!(!of("1.27.15").kubelet_runtime_flags && !of("1.30.0").kubelet_remote_runtime_flag);
    }
}
