//! etcd member add, the safe way, one new member at a time: `member add` on the running
//! cluster, then the new member starts with `initial-cluster-state: existing` and the running
//! members plus itself, and must be healthy and caught up before the next one. A member that
//! was added but does not come up is removed again, so no half-added member is left behind.

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::InstallState;
use super::service::install;
use crate::components::{ETCD, ETCD_CLIENT_PORT, ETCD_PEER_PORT};
use crate::facts::{Query, etcdctl};
use crate::inventory::{HostSpec, Role};
use crate::net::url;
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};

/// The "Join etcd members" step: only the new etcd hosts, one at a time.
pub struct EtcdJoin {
    pub state: Arc<InstallState>,
    /// Members of the running cluster before this run.
    pub running: Vec<Ipv6Addr>,
    /// Hosts being added.
    pub joining: Vec<Ipv6Addr>,
}

/// Stops a member that did not come up and clears its data dir, so it can join afresh.
const STOP_AND_CLEAR: &str = "systemctl stop etcd; rm -rf /var/lib/etcd/member";

/// etcd refuses a reconfiguration ("unhealthy cluster") until every member has been connected
/// for a few seconds, e.g. right after the previous member joined: retry for up to a minute.
fn retry_while_settling(command: &str) -> String {
    format!(
        "i=0; while :; do out=$({command} 2>&1) && {{ printf '%s\\n' \"$out\"; exit 0; }}; i=$((i+1)); \
         case \"$out\" in *'unhealthy cluster'*) [ $i -lt 30 ] && {{ sleep 2; continue; }};; esac; printf '%s\\n' \"$out\" >&2; exit 1; done"
    )
}

impl Step for EtcdJoin {
    fn title(&self) -> String {
        "Join new etcd members".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::Etcd) && self.joining.contains(&host.address)
    }

    fn batch(&self) -> Batch {
        Batch::Rolling(1)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if ETCD.is_staged(&self.state.bundle) || self.state.bundle.lacks("etcdctl") {
                return install(cx, &self.state, &[&ETCD]).await;
            }
            let me = cx.host.address;
            let peer_url = url("https", me, ETCD_PEER_PORT);
            let members = cx.read_fresh(&Query::etcd_members(&self.running)).await.context("list the running etcd members")?;
            let known = members.iter().find(|m| m.peer_urls.contains(&peer_url));
            if known.is_some_and(|m| !m.name.is_empty()) {
                // Joined by an earlier, interrupted run: only keep its files up to date.
                return install(cx, &self.state, &[&ETCD]).await.map(|s| format!("already a started member; {s}"));
            }
            let dry = cx.gate.mode() == Mode::DryRun;
            if known.is_none() {
                let add = etcdctl(&self.running, &["member", "add", cx.host.name.as_str(), &format!("--peer-urls={peer_url}")]);
                cx.command(&format!("etcdctl member add {}", cx.host.name), &retry_while_settling(&add), "new etcd member").await?;
            }
            if dry {
                return install(cx, &self.state, &[&ETCD]).await;
            }
            match self.start_and_catch_up(cx).await {
                Ok(summary) => Ok(summary),
                Err(error) => {
                    let undo = self.remove_again(cx, &peer_url).await;
                    match undo {
                        Ok(()) => Err(error.context(format!("{} did not come up; it was removed from the etcd cluster again (member remove) and its data dir cleared", cx.host.address))),
                        Err(undo_error) => Err(error.context(format!("{} did not come up, and removing it again failed too: {undo_error:#}; remove it by hand with etcdctl member remove", cx.host.address))),
                    }
                }
            }
        })
    }
}

impl EtcdJoin {
    async fn start_and_catch_up(&self, cx: &HostContext<'_>) -> anyhow::Result<String> {
        let started = install(cx, &self.state, &[&ETCD]).await?;
        let me = cx.host.address;
        let mut endpoints = self.running.clone();
        endpoints.push(me);
        let mut behind = u64::MAX;
        for _ in 0..60 {
            let indexes = cx.read_fresh(&Query::etcd_status(&endpoints)).await?;
            let mine = url("https", me, ETCD_CLIENT_PORT);
            let own = indexes.iter().find(|(e, _)| *e == mine).map(|(_, i)| *i);
            let best = indexes.iter().map(|(_, i)| *i).max();
            if let (Some(own), Some(best)) = (own, best) {
                behind = best.saturating_sub(own);
                if behind <= 5 {
                    return Ok(format!("{started}; caught up (raft index {own}, leader at {best})"));
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        bail!("the new member is still {behind} raft entries behind after 60 s")
    }

    async fn remove_again(&self, cx: &HostContext<'_>, peer_url: &str) -> anyhow::Result<()> {
        // Best effort, as the removal below matters more: a failure here is not reported.
        let _ = cx.command("stop etcd and clear its data dir", STOP_AND_CLEAR, "the member did not come up").await;
        let members = cx.read_fresh(&Query::etcd_members(&self.running)).await?;
        if let Some(member) = members.into_iter().find(|m| m.peer_urls.iter().any(|u| u == peer_url)) {
            let remove = etcdctl(&self.running, &["member", "remove", &member.id]);
            cx.command(&format!("etcdctl member remove {}", member.id), &remove, "the member did not come up").await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::BundleCheck;
    use crate::render::{HostFiles, Rendered, RenderedFile};
    use crate::runner::{Gate, Progress, Snapshot};
    use crate::transport::Output;
    use crate::transport::fake::FakeTransport;

    /// A member added to the cluster that never becomes healthy is stopped, its data dir
    /// cleared and removed from the cluster again, every step of it through the gate.
    #[tokio::test]
    async fn a_member_that_does_not_come_up_is_removed_again_through_the_gate() {
        let inv = crate::inventory::field_report();
        let me = &inv.hosts[0];
        let files = vec![RenderedFile { path: "/etc/etcd/etcd.conf.yml".into(), mode: 0o644, contents: "name: member\n".into() }];
        let desired = Rendered { hosts: vec![HostFiles { name: me.name.clone(), address: me.address, files }], cluster: vec![] };
        let state = Arc::new(InstallState::new(desired, BundleCheck { root: "/bundle".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] }, vec![]).unwrap());
        let running: Vec<Ipv6Addr> = inv.hosts[1..].iter().map(|h| h.address).collect();
        let step = EtcdJoin { state, running: running.clone(), joining: vec![me.address] };
        let members = Query::etcd_members(&running);
        let failed = |stdout: &str| Output { status: 1, stdout: stdout.into(), stderr: Vec::new() };
        // The service's health check, retried for install's 90 s.
        let health = Query::health("etcd", crate::components::etcd_health_command(me), 90);
        let fake = FakeTransport::new("a")
            .answer(&members, &format!(r#"{{"members":[{{"ID":1,"name":"other","peerURLs":["{}"]}}]}}"#, url("https", running[0], 2380)))
            .answer_output(&Query::marker_exists("/var/lib/etcd/member"), failed(""), 1)
            .no_files()
            .accepts_writes()
            .answer(&Query::service_state("etcd"), "inactive\n")
            .answer_output(&health, failed("connection refused"), 1)
            .answer(&Query::journal("etcd", 200), "")
            .answer(&members, &format!(r#"{{"members":[{{"ID":1234,"peerURLs":["{}"]}}]}}"#, url("https", me.address, 2380)))
            .accepts_commands();
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, me, &fake, &gate, &Progress::Silent, &snapshot);
        let error = step.run(&cx).await.unwrap_err();
        fake.verify();
        assert!(format!("{error:#}").contains("did not come up; it was removed from the etcd cluster again (member remove) and its data dir cleared"), "{error:#}");
        let changes: Vec<String> = gate.changes().iter().map(|c| format!("{} ({})", c.target, c.reason)).collect();
        assert_eq!(
            changes,
            [
                format!("etcdctl member add {} (new etcd member)", me.name),
                "/etc/etcd/etcd.conf.yml (new file)".to_string(),
                "record pending restart of etcd (files they read changed)".to_string(),
                "systemctl start etcd (not running)".to_string(),
                "stop etcd and clear its data dir (the member did not come up)".to_string(),
                "etcdctl member remove 4d2 (the member did not come up)".to_string(),
            ]
        );
    }
}
