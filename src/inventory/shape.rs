//! The inventory's keys and the shape of their values, checked on the YAML tree before serde
//! reads it, so that every unknown, missing, repeated or misshapen key is reported at once
//! (serde stops at the first). `raw.rs` stays the reference: a test keeps the two in step.

use std::path::Path;

use super::error::{Place, Problem, ProblemKind};
use super::suggest::closest;
use super::yaml::{At, Entry, Node, Value};

/// What a key's value must look like.
enum Shape {
    /// One value (text, or a number serde will read as text).
    Text,
    /// A whole number up to this maximum.
    Number(u64),
    Flag,
    /// A list of values, with an example.
    Texts(&'static str),
    /// Free `key: value` lines (`kubelet.eviction_hard`).
    Table,
    Section(&'static [Key]),
    /// A list of sections (`hosts`).
    Sections(&'static [Key]),
}

struct Key {
    name: &'static str,
    shape: Shape,
    /// For a required key: what to write.
    required: Option<&'static str>,
}

const fn optional(name: &'static str, shape: Shape) -> Key {
    Key { name, shape, required: None }
}

const fn required(name: &'static str, shape: Shape, write: &'static str) -> Key {
    Key { name, shape, required: Some(write) }
}

const TOP: &[Key] = &[
    required("cluster", Shape::Section(CLUSTER), "a `cluster:` section with name, kubernetes_version, service_cidr and pod_cidr (see `v6deploy init`)"),
    optional("ssh", Shape::Section(SSH)),
    required("hosts", Shape::Sections(HOST), "`hosts:` with one `- address: ...` entry per host (see `v6deploy init`)"),
    optional("kernel", Shape::Section(KERNEL)),
    optional("network", Shape::Section(NETWORK)),
    optional("bundle", Shape::Section(BUNDLE)),
    optional("images", Shape::Section(IMAGES)),
    optional("containerd", Shape::Section(CONTAINERD)),
    optional("kubelet", Shape::Section(KUBELET)),
    optional("elasticsearch", Shape::Section(ELASTICSEARCH)),
    optional("pki", Shape::Section(PKI)),
];

const CLUSTER: &[Key] = &[
    required("name", Shape::Text, "e.g. `name: demo` (lower-case letters, digits and '-')"),
    required("kubernetes_version", Shape::Text, "the bundle's release, e.g. `kubernetes_version: \"1.27.15\"`"),
    required("service_cidr", Shape::Text, "e.g. `service_cidr: \"2001:cafe:43::/112\"`"),
    required("pod_cidr", Shape::Text, "e.g. `pod_cidr: \"2001:cafe:42::/56\"`"),
    optional("node_cidr_mask", Shape::Number(u8::MAX as u64)),
    optional("dns_domain", Shape::Text),
    optional("nodelocaldns", Shape::Text),
    optional("upstream_dns", Shape::Texts("[\"2001:db8::53\"]")),
    optional("extra_sans", Shape::Texts("[\"api.example.com\"]")),
    optional("api_endpoint", Shape::Text),
    optional("cgroup_driver", Shape::Text),
    optional("pod_network", Shape::Text),
];

const SSH: &[Key] = &[
    optional("user", Shape::Text),
    optional("port", Shape::Number(u16::MAX as u64)),
    optional("private_key", Shape::Text),
    optional("known_hosts", Shape::Text),
    optional("host_key_check", Shape::Text),
    optional("become", Shape::Text),
    optional("bastion", Shape::Section(BASTION)),
];

const BASTION: &[Key] = &[
    required("address", Shape::Text, "the bastion's IPv6 address, e.g. `address: \"2001:db8:0:1::10\"`"),
    optional("user", Shape::Text),
    optional("port", Shape::Number(u16::MAX as u64)),
    optional("private_key", Shape::Text),
];

const HOST: &[Key] = &[
    required("address", Shape::Text, "the host's IPv6 address, e.g. `address: \"2001:db8:0:1::101\"`"),
    required("roles", Shape::Texts("[control-plane, etcd, worker]"), "e.g. `roles: [control-plane, etcd, worker]` (any of the three)"),
    required("interface", Shape::Text, "the NIC that carries the address, e.g. `interface: eth0`"),
    optional("prefix_length", Shape::Number(u8::MAX as u64)),
    optional("gateway", Shape::Text),
    optional("name", Shape::Text),
    optional("ssh_user", Shape::Text),
    optional("ssh_port", Shape::Number(u16::MAX as u64)),
];

const KERNEL: &[Key] = &[optional("minimum", Shape::Text), optional("package", Shape::Text), optional("repository", Shape::Text)];

const NETWORK: &[Key] = &[optional("manage", Shape::Flag), optional("rollback_seconds", Shape::Number(u32::MAX as u64))];

const BUNDLE: &[Key] = &[optional("path", Shape::Text), optional("missing", Shape::Text)];

const IMAGES: &[Key] = &[
    optional("flannel", Shape::Text),
    optional("flannel_cni_plugin", Shape::Text),
    optional("coredns", Shape::Text),
    optional("nodelocaldns", Shape::Text),
    optional("sandbox", Shape::Text),
];

const CONTAINERD: &[Key] = &[optional("snapshotter", Shape::Text), optional("restrict_oom_score_adj", Shape::Flag)];

const KUBELET: &[Key] = &[optional("eviction_hard", Shape::Table), optional("image_gc_high_percent", Shape::Number(100))];

const ELASTICSEARCH: &[Key] = &[
    optional("replicas", Shape::Number(u16::MAX as u64)),
    optional("interface", Shape::Text),
    optional("image", Shape::Text),
    optional("heap", Shape::Text),
    optional("storage", Shape::Text),
];

const PKI: &[Key] = &[optional("dir", Shape::Text), optional("ca_days", Shape::Number(u32::MAX as u64)), optional("leaf_days", Shape::Number(u32::MAX as u64))];

/// Every key problem of the document: unknown, missing, repeated, or with the wrong shape.
pub fn check(path: &Path, root: &Node) -> Vec<Problem> {
    let mut checker = Checker { path, problems: Vec::new() };
    checker.section(root, "", TOP, "`cluster:`, `hosts:` and the other top-level keys");
    checker.problems
}

struct Checker<'a> {
    path: &'a Path,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, at: At, field: &str, kind: ProblemKind) {
        let place = Place { path: self.path.to_path_buf(), line: at.line, column: at.column, field: field.to_string() };
        self.problems.push(Problem { place, kind });
    }

    /// A mapping of known keys; `field` is its path (`hosts[0]`), empty at the top level.
    fn section(&mut self, node: &Node, field: &str, keys: &[Key], expected: &str) {
        let Value::Map(entries) = &node.value else {
            return self.wrong_shape(node, field, expected);
        };
        for entry in self.first_of_each(entries, field) {
            let key_path = join(field, &entry.key);
            match keys.iter().find(|k| k.name == entry.key) {
                Some(key) => self.value(&entry.value, &key_path, key),
                None => {
                    let names: Vec<&'static str> = keys.iter().map(|k| k.name).collect();
                    let kind = ProblemKind::UnknownKey { key: entry.key.clone(), suggestion: closest(&entry.key, &names), allowed: names.join(", ") };
                    self.report(entry.key_at, field, kind);
                }
            }
        }
        for key in keys {
            let Some(write) = key.required else { continue };
            if !entries.iter().any(|e| e.key == key.name) {
                self.report(node.at, field, ProblemKind::MissingKey { key: key.name, write });
            }
        }
    }

    /// The entries with a key not seen before in the mapping; each repeat is a problem.
    fn first_of_each<'e>(&mut self, entries: &'e [Entry], field: &str) -> Vec<&'e Entry> {
        let mut first: Vec<&Entry> = Vec::new();
        for entry in entries {
            match first.iter().find(|e| e.key == entry.key) {
                Some(earlier) => {
                    let kind = ProblemKind::DuplicateKey { key: join(field, &entry.key), first_line: earlier.key_at.line, line: entry.key_at.line };
                    self.report(entry.key_at, "", kind);
                }
                None => first.push(entry),
            }
        }
        first
    }

    fn value(&mut self, node: &Node, field: &str, key: &Key) {
        if node.value.is_null() || matches!(node.value, Value::Alias) {
            // An empty optional key is as good as an absent one; a required one needs a value.
            // serde fills a list or table left out, but refuses one written empty.
            match (key.required, &node.value, &key.shape) {
                (_, Value::Alias, _) => {}
                (Some(write), _, _) => self.report(node.at, field, ProblemKind::EmptyKey { write }),
                (None, _, Shape::Texts(example)) => self.wrong_shape(node, field, &format!("a list, e.g. {example} (or leave the key out)")),
                (None, _, Shape::Table) => self.wrong_shape(node, field, "indented `key: value` lines (or leave the key out)"),
                (None, _, _) => {}
            }
            return;
        }
        match (&key.shape, &node.value) {
            (Shape::Text, Value::Scalar { .. }) => {}
            (Shape::Text, _) => self.wrong_shape(node, field, "a single value"),
            (Shape::Number(max), Value::Scalar { text, .. }) => self.number(node, field, text, *max),
            (Shape::Number(max), _) => self.wrong_shape(node, field, &format!("a whole number from 0 to {max}")),
            (Shape::Flag, Value::Scalar { text, .. }) => {
                if !matches!(text.to_ascii_lowercase().as_str(), "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n") {
                    self.report(node.at, field, ProblemKind::NotOneOf { value: text.clone(), allowed: &["true", "false"] });
                }
            }
            (Shape::Flag, _) => self.wrong_shape(node, field, "true or false"),
            (Shape::Texts(_), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    if matches!(item.value, Value::Map(_) | Value::List(_)) {
                        self.wrong_shape(item, &format!("{field}[{i}]"), "a single value");
                    }
                }
            }
            (Shape::Texts(example), _) => self.wrong_shape(node, field, &format!("a list, e.g. {example}")),
            (Shape::Table, Value::Map(entries)) => {
                for entry in self.first_of_each(entries, field) {
                    if matches!(entry.value.value, Value::Map(_) | Value::List(_)) {
                        self.wrong_shape(&entry.value, &join(field, &entry.key), "a single value");
                    }
                }
            }
            (Shape::Table, _) => self.wrong_shape(node, field, "indented `key: value` lines"),
            (Shape::Section(keys), _) => self.section(node, field, keys, "a section: indented `key: value` lines below it"),
            (Shape::Sections(keys), Value::List(items)) => {
                for (i, item) in items.iter().enumerate() {
                    self.section(item, &format!("{field}[{i}]"), keys, &format!("an entry `- {}: ...` with its keys indented below it", keys[0].name));
                }
            }
            (Shape::Sections(keys), _) => self.wrong_shape(node, field, &format!("a list of entries, each starting `- {}: ...`", keys[0].name)),
        }
    }

    /// Refuses what is plainly not a whole number or too large; other forms (`0x16`) are
    /// left to serde.
    fn number(&mut self, node: &Node, field: &str, text: &str, max: u64) {
        let digits = text.trim().trim_start_matches('+').replace('_', "");
        let refused = if digits.bytes().all(|b| b.is_ascii_digit()) {
            digits.parse::<u64>().map_or(true, |n| n > max)
        } else {
            !digits.bytes().any(|b| b.is_ascii_digit())
        };
        if refused {
            self.report(node.at, field, ProblemKind::NotANumber { value: text.to_string(), max });
        }
    }

    fn wrong_shape(&mut self, node: &Node, field: &str, expected: &str) {
        let found = match &node.value {
            Value::Map(_) => "indented `key: value` lines".to_string(),
            Value::List(_) => "a list".to_string(),
            Value::Scalar { .. } if node.value.is_null() => "an empty value".to_string(),
            Value::Scalar { text, .. } => crate::net::error::shown(text),
            Value::Alias => return,
        };
        self.report(node.at, field, ProblemKind::WrongShape { expected: expected.to_string(), found });
    }
}

fn join(field: &str, key: &str) -> String {
    if field.is_empty() { key.to_string() } else { format!("{field}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::raw::RawInventory;

    const BASE: &str = include_str!("../../inventories/field-report.yaml");

    /// The keys serde would list for `section` when it meets an unknown key there.
    fn serde_keys(text: &str) -> Vec<&'static str> {
        let error = serde_saphyr::from_str::<RawInventory>(text).expect_err("an unknown key");
        match error.without_snippet() {
            serde_saphyr::Error::SerdeUnknownField { expected, .. } => expected.clone(),
            other => panic!("expected an unknown-field error: {other}"),
        }
    }

    /// Every section of `raw.rs` has the same keys here, in the same order.
    #[test]
    fn keys_match_the_raw_inventory() {
        let names = |keys: &[Key]| keys.iter().map(|k| k.name).collect::<Vec<_>>();
        assert_eq!(serde_keys(&format!("{BASE}zz: 1\n")), names(TOP));
        for (section, keys) in [("cluster", CLUSTER), ("ssh", SSH), ("kernel", KERNEL), ("elasticsearch", ELASTICSEARCH)] {
            let text = BASE.replacen(&format!("\n{section}:\n"), &format!("\n{section}:\n  zz: 1\n"), 1);
            assert_eq!(serde_keys(&text), names(keys), "{section}");
        }
        for (section, keys) in [("network", NETWORK), ("bundle", BUNDLE), ("images", IMAGES), ("containerd", CONTAINERD), ("kubelet", KUBELET), ("pki", PKI)] {
            assert_eq!(serde_keys(&format!("{BASE}{section}:\n  zz: 1\n")), names(keys), "{section}");
        }
        let bastion = BASE.replacen("\nssh:\n", "\nssh:\n  bastion:\n    address: \"2002:db8:0:1::10\"\n    zz: 1\n", 1);
        assert_eq!(serde_keys(&bastion), names(BASTION));
        let host = BASE.replacen("  - address: \"2002:db8:0:1::101\"\n", "  - address: \"2002:db8:0:1::101\"\n    zz: 1\n", 1);
        assert_eq!(serde_keys(&host), names(HOST));
    }

    /// A key marked required here is one serde cannot do without, and the others are optional.
    #[test]
    fn required_keys_match_the_raw_inventory() {
        let first_host = "  - address: \"2002:db8:0:1::101\"\n    roles:";
        for (keys, indent) in [(CLUSTER, "  "), (HOST, "    ")] {
            for key in keys {
                let without = if key.name == "address" {
                    BASE.replacen(first_host, "  - roles:", 1)
                } else {
                    let line = BASE.lines().find(|l| l.starts_with(&format!("{indent}{}:", key.name)));
                    // An optional key the field report leaves out: the field report parses.
                    let Some(line) = line else { assert!(key.required.is_none(), "{}", key.name); continue };
                    BASE.replacen(&format!("{line}\n"), "", 1)
                };
                assert_ne!(without, BASE, "{}", key.name);
                let parsed = serde_saphyr::from_str::<RawInventory>(&without);
                assert_eq!(parsed.is_err(), key.required.is_some(), "{}: {:?}", key.name, parsed.err());
            }
        }
    }
}
