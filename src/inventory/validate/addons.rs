//! The addons' settings: the images of the cluster manifests and Elasticsearch.

use serde_saphyr::Spanned;

use super::{Validator, defaults};
use crate::inventory::ProblemKind;
use crate::inventory::model::{Elasticsearch, HeapSize, ImageRef, Images, InterfaceName, Quantity};
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
