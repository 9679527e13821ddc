//! Kubernetes' own conformance tests of networking, DNS and Services (every `[sig-network]`
//! `[Conformance]` test of the 1.20.2 e2e suite) against a lab cluster v6deploy installed with
//! flannel, CoreDNS and NodeLocal DNSCache, through `scripts/conformance.sh` — so a regression
//! in the configuration v6deploy renders (kube-proxy, the DNS chain, pod routes, the
//! apiserver's service network) fails CI. The whole suite is `scripts/conformance.sh` without
//! `--focus` (docs/conformance.md). Boots a lab and needs root: `#[ignore]`d, run by
//! `scripts/test.sh` as root.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;

use support::{BIN, TestLab, ok, text};

/// The tests run: every conformance test of SIG Network (DNS, Services, networking, proxy,
/// endpoints, ingress and network policy API objects).
const FOCUS: &str = r"\[sig-network\]";

/// The suite's list of conformance tests, which `scripts/conformance.sh` writes from a dry run.
const TEST_LIST: &str = "/var/cache/v6deploy/lab/conformance-1.20.2/conformance-tests.txt";

#[test]
#[ignore = "lab: boots machines, needs root; scripts/test.sh runs it as root (cargo test -- --include-ignored)"]
fn the_sig_network_conformance_tests_pass_on_the_ipv6_only_lab_cluster() {
    let lab = TestLab::up_kubernetes("tconf", 3);
    let inventory = fs::read_to_string(lab.inventory()).unwrap();
    assert!(inventory.contains("pod_network: flannel"), "the lab was made without the network addons, this test needs them: {inventory}");
    ok(&lab, &["install"]);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/conformance.sh");
    let output = Command::new(&script)
        .args(["--focus", FOCUS])
        .env("V6DEPLOY_LAB", lab.name.as_str())
        .env("V6DEPLOY_PROJECT", lab.project.path())
        .env("V6DEPLOY_BIN", BIN)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "scripts/conformance.sh --focus {FOCUS}: {}", text(&output));

    // Every selected test passed: as many as the suite has, none failed or left out.
    let expected = fs::read_to_string(TEST_LIST).unwrap().lines().filter(|name| name.contains("[sig-network]")).count();
    assert!(expected >= 30, "the 1.20.2 suite has 32 SIG Network conformance tests, the list names {expected}");
    let summary = stdout.lines().last().unwrap_or_default();
    assert_eq!(summary, format!("{expected} passed, 0 failed, 0 skipped"), "{}", text(&output));
}
