//! The kubelet on every worker: node name = the encoded address, `--node-ip` = the host's
//! address, serving on `[::]:10250`, health on `[::1]:10248`; its client certificate has CN
//! `system:node:<node name>` (kubeadm's `kubelet-client-current.pem`).

use super::{Leaves, Component, Health, HostFile, Identity, Kind, Server, Service, Stage, curl};
use crate::inventory::{HostSpec, Inventory, Role};
use crate::pki::{HostPki, PkiUse};

/// The kubelet's own `/healthz` on `[::1]:10248`, then its Node object through the API
/// proxy it talks to, with the kubelet's own credentials (the node authorizer lets it read its Node):
/// the Ready condition must have been posted by this kubelet process (its heartbeat not older
/// than the unit's start: a restarted kubelet first reports the old process's Ready, then
/// NotReady for a few seconds until the runtime answered) and say Ready, or NotReady only
/// because the pod network is not there yet (it comes after the kubelets, on an install).
/// `-A` so that the API server answers compact JSON (it pretty-prints for `curl`).
fn health(inv: &Inventory, host: &HostSpec) -> String {
    let first = inv.first_control_plane().map_or(std::net::Ipv6Addr::LOCALHOST, |h| h.address);
    let server = Server::LocalProxy.url(first);
    let identity = HostPki::KubeletClient;
    let options = format!("-A v6deploy --cacert {} --cert {} --key {}", HostPki::KubernetesCa.cert(), identity.cert(), identity.key());
    format!(
        "{healthz} && {{ node=$(curl -fsS --max-time 3 {options} {server}/api/v1/nodes/{name}) || {{ echo 'node {name} is not registered with the API server'; false; }}; }} && \
         {{ ready=$(printf '%s' \"$node\" | grep -o '{{\"type\":\"Ready\"[^}}]*}}') || {{ echo 'node {name} has no Ready condition yet'; false; }}; }} && \
         beat=$(date -d \"$(printf '%s' \"$ready\" | sed -n 's/.*\"lastHeartbeatTime\":\"\\([^\"]*\\)\".*/\\1/p')\" +%s) && \
         started=$(date -d \"$(systemctl show -p ExecMainStartTimestamp kubelet | cut -d= -f2-)\" +%s) && \
         {{ [ \"$beat\" -ge \"$started\" ] || {{ echo 'node {name}: the restarted kubelet has not posted its status yet'; false; }}; }} && \
         {{ case \"$ready\" in *'\"status\":\"True\"'*|*NetworkPluginNotReady*) true ;; *) echo \"node {name} is not Ready: $ready\"; false ;; esac; }}",
        healthz = curl("http://[::1]:10248/healthz", ""),
        name = host.name
    )
}

pub const KUBELET: Component = Component {
    name: "kubelet",
    roles: &Role::ALL,
    binaries: &["kubelet"],
    bundle_dirs: &[],
    files: &[
        HostFile::config("/var/lib/kubelet/config.yaml", "kubelet-config.yaml.j2"),
        HostFile::config("/etc/systemd/system/kubelet.service", "kubelet.service.j2"),
        HostFile::kubeconfig("/etc/kubernetes/kubelet.conf", Identity::Node, Server::LocalProxy),
    ],
    certificates: &[(HostPki::KubernetesCa, PkiUse::Reads), (HostPki::KubeletClient, PkiUse::Reads), (HostPki::KubeletServing, PkiUse::Reads)],
    ports: &[10250, 10248],
    // Its pods' volumes (mounts, unmounted first), its certificates, its pods' logs.
    leaves: Leaves { state: &["/var/lib/kubelet", "/var/log/pods", "/var/log/containers"], ..Leaves::NOTHING },
    kind: Kind::Service(Service {
        health: Health::Script { needs: &[], script: health, shows: "GET http://[::1]:10248/healthz, its Node Ready (or waiting for the pod network) as posted by this kubelet" },
        ..Service::new(Stage::Node, "kubelet")
    }),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::field_report;

    /// The health script run by the local `sh`, with `curl` and `systemctl` stubbed: the Node
    /// JSON the API server answers, and the kubelet's start time.
    fn run(node_json: &str, started: &str) -> (bool, String) {
        let dir = tempfile::tempdir().unwrap();
        let stub = |name: &str, body: String| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        stub("curl", format!("case \"$*\" in *healthz*) exit 0 ;; esac; printf '%s' '{node_json}'"));
        stub("systemctl", format!("echo 'ExecMainStartTimestamp={started}'"));
        let inv = field_report();
        let script = health(&inv, &inv.hosts[0]);
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", format!("{}:/usr/bin:/bin", dir.path().display()))
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn node(status: &str, beat: &str, message: &str) -> String {
        format!(r#"{{"kind":"Node","status":{{"conditions":[{{"type":"MemoryPressure","status":"False","lastHeartbeatTime":"2026-11-29T07:00:00Z"}},{{"type":"Ready","status":"{status}","lastHeartbeatTime":"{beat}","lastTransitionTime":"2026-11-29T06:00:00Z","reason":"KubeletReady","message":"{message}"}}]}}}}"#)
    }

    #[test]
    fn ready_posted_by_this_kubelet_is_healthy() {
        assert!(run(&node("True", "2026-11-29T07:50:05Z", "kubelet is posting ready status"), "Sun 2026-11-29 07:50:01 UTC").0);
    }

    #[test]
    fn a_ready_left_by_the_previous_process_is_not_yet_healthy() {
        let (ok, out) = run(&node("True", "2026-11-29T07:49:00Z", "kubelet is posting ready status"), "Sun 2026-11-29 07:50:01 UTC");
        assert!(!ok);
        assert!(out.contains("has not posted its status yet"), "{out}");
    }

    #[test]
    fn not_ready_is_unhealthy_unless_only_the_pod_network_is_missing() {
        let (ok, out) = run(&node("False", "2026-11-29T07:50:05Z", "container runtime status check may not have completed yet"), "Sun 2026-11-29 07:50:01 UTC");
        assert!(!ok);
        assert!(out.contains("is not Ready") && out.contains("container runtime status check"), "{out}");
        let waiting = node("False", "2026-11-29T07:50:05Z", "runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:cni plugin not initialized");
        assert!(run(&waiting, "Sun 2026-11-29 07:50:01 UTC").0);
    }
}
