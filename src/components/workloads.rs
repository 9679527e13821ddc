//! An addon's health: the workloads its manifest creates (DaemonSets, Deployments,
//! StatefulSets) and one read-only script, run on a control plane, that waits until every one
//! of them has rolled out — each of its pods Ready, as `kubectl rollout status` judges — or
//! says, for the first that did not, which pods are not Ready with their last events and log
//! lines.

use super::kubectl_local;

/// What kind of workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkloadKind {
    DaemonSet,
    Deployment,
    StatefulSet,
}

impl WorkloadKind {
    /// Its resource name for kubectl.
    fn resource(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "daemonset",
            WorkloadKind::Deployment => "deployment",
            WorkloadKind::StatefulSet => "statefulset",
        }
    }

    /// The `jsonpath` of "ready/wanted" pods.
    fn counts(self) -> &'static str {
        match self {
            WorkloadKind::DaemonSet => "{.status.numberReady}/{.status.desiredNumberScheduled}",
            WorkloadKind::Deployment | WorkloadKind::StatefulSet => "{.status.readyReplicas}/{.spec.replicas}",
        }
    }
}

/// One workload of an addon's manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub namespace: &'static str,
    pub name: &'static str,
    /// The label selector of its pods (`k8s-app=kube-dns`).
    pub selector: &'static str,
}

/// Lines of a failing pod's log and events shown.
const DETAIL_LINES: u32 = 8;

impl Workload {
    /// `daemonset/kube-flannel-ds in kube-flannel`.
    pub fn describe(&self) -> String {
        format!("{}/{} in {}", self.kind.resource(), self.name, self.namespace)
    }

    /// A script that waits until `deadline` (seconds since the epoch, in `$deadline`) for the
    /// rollout and prints `ready NAME R/W`; or prints why not and fails.
    fn wait_script(&self) -> String {
        let target = format!("{}/{}", self.kind.resource(), self.name);
        let status = kubectl_local(&["-n", self.namespace, "rollout", "status", &target]);
        let counts = kubectl_local(&["-n", self.namespace, "get", &target, "-o", &format!("jsonpath={}", self.kind.counts())]);
        let pods = kubectl_local(&["-n", self.namespace, "get", "pods", "-l", self.selector, "-o", "wide"]);
        // The pods that are not Ready: name, then the Ready condition's status.
        let not_ready = kubectl_local(&[
            "-n",
            self.namespace,
            "get",
            "pods",
            "-l",
            self.selector,
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}",
        ]);
        let events = kubectl_local(&["-n", self.namespace, "get", "events", "--sort-by=.lastTimestamp", "--field-selector"]);
        let logs = kubectl_local(&["-n", self.namespace, "logs", "--all-containers", "--tail", &DETAIL_LINES.to_string()]);
        let what = self.describe();
        format!(
            "left=$((deadline - $(date +%s))); [ \"$left\" -gt 0 ] || left=1\n\
             if {status} --timeout=\"${{left}}s\" >/dev/null 2>&1; then echo \"ready {name} $({counts})\"; else\n\
             echo \"{what}: not every pod is Ready after the wait\"; {pods} 2>&1\n\
             {not_ready} 2>/dev/null | while read -r pod ready; do [ \"$ready\" = True ] && continue\n\
             echo \"-- $pod: last events\"; {events} \"involvedObject.name=$pod\" 2>&1 | tail -n {DETAIL_LINES}\n\
             echo \"-- $pod: last log lines\"; {logs} \"$pod\" 2>&1 | tail -n {DETAIL_LINES}; done\n\
             exit 1; fi",
            name = self.name,
        )
    }
}

/// The script that waits up to `seconds` for all of `workloads` (in order), printing `ready
/// NAME R/W` for each; it fails at the first one not Ready in time, with its pods' state.
///
/// First, one `kubectl get` of every DaemonSet, Deployment and StatefulSet judges them all as
/// `rollout status` would; only when one has not rolled out does the script wait on each in
/// turn (two kubectl runs per workload): a healthy cluster is answered with one.
pub fn ready_script(workloads: &[Workload], seconds: u64) -> String {
    let mut script = format!("if {}; then :; else\ndeadline=$(( $(date +%s) + {seconds} ))\n", ready_now_script(workloads));
    for workload in workloads {
        script.push_str(&workload.wait_script());
        script.push('\n');
    }
    script.push_str("fi\n");
    script
}

/// The script that says, without waiting, whether all of `workloads` have rolled out: `ready
/// NAME R/W` for each and success, or nothing and failure (one `kubectl get`).
pub fn ready_now_script(workloads: &[Workload]) -> String {
    format!("{} 2>/dev/null | {}", list_all(), judge_all(workloads))
}

/// Every workload of the cluster, a line each: `KIND|NAMESPACE|NAME|generation|observed|
/// spec.replicas|replicas|updated|available|ready|desired|updatedScheduled|available
/// (DaemonSet)|ready (DaemonSet)|currentRevision|updateRevision`.
fn list_all() -> String {
    let fields = [
        ".kind",
        ".metadata.namespace",
        ".metadata.name",
        ".metadata.generation",
        ".status.observedGeneration",
        ".spec.replicas",
        ".status.replicas",
        ".status.updatedReplicas",
        ".status.availableReplicas",
        ".status.readyReplicas",
        ".status.desiredNumberScheduled",
        ".status.updatedNumberScheduled",
        ".status.numberAvailable",
        ".status.numberReady",
        ".status.currentRevision",
        ".status.updateRevision",
    ];
    let line: Vec<String> = fields.iter().map(|f| format!("{{{f}}}")).collect();
    kubectl_local(&["get", "daemonsets,deployments,statefulsets", "-A", "-o", &format!("jsonpath={{range .items[*]}}{}{{\"\\n\"}}{{end}}", line.join("|"))])
}

/// awk over `list_all`'s lines: prints `ready NAME R/W` for each of `workloads` and succeeds
/// when every one has rolled out (`kubectl rollout status`'s tests: the controller has seen
/// the current generation; a DaemonSet's pods all updated and available; a Deployment's all
/// updated, none old left, all available; a StatefulSet's all ready and updated, on its
/// update revision); fails, printing nothing, otherwise.
fn judge_all(workloads: &[Workload]) -> String {
    let kind = |k: WorkloadKind| match k {
        WorkloadKind::DaemonSet => "DaemonSet",
        WorkloadKind::Deployment => "Deployment",
        WorkloadKind::StatefulSet => "StatefulSet",
    };
    let want: Vec<String> = workloads.iter().map(|w| format!("{}/{}/{}", kind(w.kind), w.namespace, w.name)).collect();
    format!(
        "awk -F'|' -v want={} '{{ seen[$1 \"/\" $2 \"/\" $3] = $0 }}\n\
         END {{ n = split(want, w, \" \"); for (i = 1; i <= n; i++) {{ if (!(w[i] in seen)) exit 1; split(seen[w[i]], f, \"|\")\n\
         if (f[5] + 0 < f[4] + 0) exit 1\n\
         if (f[1] == \"DaemonSet\") {{ d = f[11] + 0; if (f[12] + 0 < d || f[13] + 0 < d) exit 1; out[i] = f[3] \" \" f[14] + 0 \"/\" d }}\n\
         else if (f[1] == \"Deployment\") {{ r = f[6] + 0; if (f[8] + 0 < r || f[7] + 0 > f[8] + 0 || f[9] + 0 < f[8] + 0) exit 1; out[i] = f[3] \" \" f[10] + 0 \"/\" r }}\n\
         else {{ r = f[6] + 0; if (f[10] + 0 < r || f[8] + 0 < r || f[15] != f[16]) exit 1; out[i] = f[3] \" \" f[10] + 0 \"/\" r }} }}\n\
         for (i = 1; i <= n; i++) print \"ready \" out[i] }}'",
        crate::shell::quote(&want.join(" "))
    )
}

/// The `ready NAME R/W` lines of a script's output: (name, "R/W").
pub fn parse_ready(output: &str) -> Vec<(String, String)> {
    output.lines().filter_map(|l| l.strip_prefix("ready ")).filter_map(|l| l.split_once(' ')).map(|(n, c)| (n.to_string(), c.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLANNEL: Workload = Workload { kind: WorkloadKind::DaemonSet, namespace: "kube-flannel", name: "kube-flannel-ds", selector: "app=flannel" };

    /// The one-`kubectl get` fast path, fed what the API server lists: rolled-out workloads
    /// pass with their counts; one not rolled out (or missing) fails it, printing nothing.
    #[test]
    fn one_listing_judges_every_workload_as_rollout_status_would() {
        let coredns = Workload { kind: WorkloadKind::Deployment, namespace: "kube-system", name: "coredns", selector: "k8s-app=kube-dns" };
        let es = Workload { kind: WorkloadKind::StatefulSet, namespace: "logging", name: "es", selector: "app=es" };
        let judge = |listing: &str| {
            let out = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s' '{listing}' | {}", judge_all(&[FLANNEL, coredns, es]))).output().unwrap();
            (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
        };
        let flannel = "DaemonSet|kube-flannel|kube-flannel-ds|1|1||||||3|3|3|3||\n";
        let dns = "Deployment|kube-system|coredns|2|2|2|2|2|2|2|||||\n";
        let elastic = "StatefulSet|logging|es|1|1|3|3|3||3||||| es-7 | es-7 \n";
        assert_eq!(judge(&format!("{flannel}{dns}{elastic}")), (true, "ready kube-flannel-ds 3/3\nready coredns 2/2\nready es 3/3\n".into()));
        // A DaemonSet pod not available yet; an old ReplicaSet's pod still there; a new generation not observed; a missing workload.
        assert_eq!(judge(&format!("{}{dns}{elastic}", flannel.replace("|3|3|3|3|", "|3|3|2|2|"))), (false, String::new()));
        assert_eq!(judge(&format!("{flannel}{}{elastic}", dns.replace("|2|2|2|2|2|2|2|", "|2|2|2|3|2|2|2|"))), (false, String::new()));
        assert_eq!(judge(&format!("{flannel}{}{elastic}", dns.replace("coredns|2|2|", "coredns|3|2|"))), (false, String::new()));
        assert_eq!(judge(&format!("{flannel}{dns}")), (false, String::new()));
        assert_eq!(judge(&format!("{flannel}{dns}{}", elastic.replace(" es-7 | es-7 ", "es-7|es-8"))), (false, String::new()));
    }

    #[test]
    fn the_script_waits_for_the_rollout_and_explains_a_failure() {
        let script = ready_script(&[FLANNEL], 120);
        assert!(script.starts_with("if /usr/local/bin/kubectl ") && script.contains(" then :; else\ndeadline=$(( $(date +%s) + 120 ))\n") && script.ends_with("fi\n"), "{script}");
        assert!(script.contains("-n kube-flannel rollout status daemonset/kube-flannel-ds --timeout=\"${left}s\""), "{script}");
        assert!(script.contains("jsonpath={.status.numberReady}/{.status.desiredNumberScheduled}"), "{script}");
        assert!(script.contains("get pods -l app=flannel -o wide"), "{script}");
        assert!(script.contains("logs --all-containers --tail 8 \"$pod\""), "{script}");
        let syntax = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap();
        assert!(syntax.success(), "{script}");
    }

    /// The script run for real with a stand-in `kubectl`: one workload rolls out, the next does
    /// not, and its not-Ready pod's events and log lines are printed.
    #[test]
    fn a_workload_that_does_not_roll_out_names_its_pods() {
        let dir = tempfile::tempdir().unwrap();
        let kubectl = dir.path().join("kubectl");
        std::fs::write(
            &kubectl,
            "#!/bin/sh\ncase \"$*\" in\n\
             *'rollout status daemonset/kube-flannel-ds'*) exit 0;;\n\
             *'rollout status deployment/coredns'*) echo waiting >&2; exit 1;;\n\
             *'get daemonset/kube-flannel-ds'*) printf 3/3;;\n\
             *'-o wide'*) echo 'coredns-1 0/1 ImagePullBackOff';;\n\
             *'get pods'*) printf 'coredns-1 False\\ncoredns-2 True\\n';;\n\
             *'get events'*) echo \"event for $*\";;\n\
             *logs*) echo 'log: no such image';;\n\
             esac\n",
        )
        .unwrap();
        std::fs::set_permissions(&kubectl, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let coredns = Workload { kind: WorkloadKind::Deployment, namespace: "kube-system", name: "coredns", selector: "k8s-app=kube-dns" };
        let script = ready_script(&[FLANNEL, coredns], 5).replace(&crate::components::binary_path("kubectl"), &kubectl.display().to_string());
        let output = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(!output.status.success(), "{stdout}");
        assert_eq!(parse_ready(&stdout), [("kube-flannel-ds".to_string(), "3/3".to_string())]);
        assert!(stdout.contains("deployment/coredns in kube-system: not every pod is Ready after the wait"), "{stdout}");
        assert!(stdout.contains("coredns-1 0/1 ImagePullBackOff"), "{stdout}");
        assert!(stdout.contains("-- coredns-1: last events") && stdout.contains("involvedObject.name=coredns-1"), "{stdout}");
        assert!(stdout.contains("log: no such image"), "{stdout}");
        assert!(!stdout.contains("coredns-2:"), "a Ready pod is not detailed: {stdout}");
    }
}
