//! The addons' settings: the images of the cluster manifests and Elasticsearch.

use serde_saphyr::Spanned;

use super::{Validator, defaults};
use crate::inventory::ProblemKind;
use crate::inventory::model::{Cluster, Elasticsearch, HeapSize, ImageRef, Images, InterfaceName, PodNetwork, Quantity};
use crate::inventory::raw::{RawElasticsearch, RawImages, Text};

impl Validator<'_> {
    /// The `images:` section: every image a reference (`ImageRef`), defaults for the rest.
    pub(super) fn images(&mut self, raw: Option<&RawImages>) -> Images {
        let mut pick = |f: fn(&RawImages) -> &Option<Text>, field: &str, default: &str| self.typed_or(raw.and_then(|r| f(r).as_ref()), field, default, ImageRef::parse);
        Images {
            flannel: pick(|r| &r.flannel, "images.flannel", defaults::FLANNEL_IMAGE),
            flannel_cni_plugin: pick(|r| &r.flannel_cni_plugin, "images.flannel_cni_plugin", defaults::FLANNEL_CNI_PLUGIN_IMAGE),
            coredns: pick(|r| &r.coredns, "images.coredns", defaults::COREDNS_IMAGE),
            nodelocaldns: pick(|r| &r.nodelocaldns, "images.nodelocaldns", defaults::NODELOCALDNS_IMAGE),
            sandbox: pick(|r| &r.sandbox, "images.sandbox", defaults::SANDBOX_IMAGE),
        }
    }

    /// Addon releases the cluster cannot run, judged by their plain release tags (the
    /// manifests are written for flannel 0.20+, CoreDNS 1.8 to 1.11 and node-cache 1.22+):
    /// flannel before 0.16 has no IPv6-only mode (`EnableIPv4: false`), and CoreDNS from
    /// 1.11 on watches only discovery.k8s.io/v1 EndpointSlices, which Kubernetes serves from
    /// 1.21 (before, it never syncs and its pods never become Ready).
    pub(super) fn addon_releases(&mut self, raw: &crate::inventory::raw::RawInventory, cluster: &Cluster, images: &Images) {
        let at = |f: fn(&RawImages) -> &Option<Text>| raw.images.as_ref().and_then(|r| f(r).as_ref());
        if cluster.pod_network == PodNetwork::Flannel && images.flannel.release().is_some_and(|r| r < (0, 16, 0)) {
            let why = "flannel before v0.16 cannot run an IPv6-only network (EnableIPv4: false): use v0.20 or later, e.g. docker.io/flannel/flannel:v0.25.5";
            self.incompatible(at(|r| &r.flannel), &raw.cluster.value.kubernetes_version, "images.flannel", images.flannel.as_str(), why);
        }
        let old_kubernetes = (cluster.kubernetes_version.major, cluster.kubernetes_version.minor) < (1, 21);
        if old_kubernetes && images.coredns.release().is_some_and(|r| r >= (1, 11, 0)) {
            let why = "CoreDNS 1.11 and later watch only discovery.k8s.io/v1 EndpointSlices, which Kubernetes serves from 1.21: with this kubernetes_version use CoreDNS 1.10 (registry.k8s.io/coredns/coredns:v1.10.1)";
            self.incompatible(at(|r| &r.coredns), &raw.cluster.value.kubernetes_version, "images.coredns", images.coredns.as_str(), why);
        }
    }

    /// Reports `why` at the image's line, or at `kubernetes_version` for a default image.
    fn incompatible(&mut self, image: Option<&Text>, version: &Text, field: &str, value: &str, why: &'static str) {
        let kind = ProblemKind::Incompatible { value: value.to_string(), why };
        match image {
            Some(text) => self.report(text, field, kind),
            None => self.report(version, format!("{field} (default)"), kind),
        }
    }

    /// The optional `elasticsearch:` section.
    pub(super) fn elasticsearch(&mut self, raw: &Spanned<RawElasticsearch>) -> Elasticsearch {
        let es = &raw.value;
        let replicas = es.replicas.as_ref().map_or(3, |r| r.value);
        if let Some(r) = es.replicas.as_ref().filter(|r| r.value == 0) {
            self.report(r, "elasticsearch.replicas", ProblemKind::OutOfRange { value: 0, expected: "at least 1 replica (3 for a fault-tolerant cluster)" });
        }
        Elasticsearch {
            replicas,
            interface: self.typed_or(es.interface.as_ref(), "elasticsearch.interface", "eth0", InterfaceName::parse),
            image: self.typed_or(es.image.as_ref(), "elasticsearch.image", defaults::ELASTICSEARCH_IMAGE, ImageRef::parse),
            heap: self.typed_or(es.heap.as_ref(), "elasticsearch.heap", "1g", HeapSize::parse),
            storage: self.typed_or(es.storage.as_ref(), "elasticsearch.storage", "10Gi", Quantity::parse),
        }
    }
}
