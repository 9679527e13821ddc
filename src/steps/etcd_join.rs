//! etcd member add, the safe way, one new member at a time: `member add --learner` on the
//! running cluster (a learner does not vote, so a join that fails never costs quorum, even
//! of a 1-member cluster), then the new member starts with `initial-cluster-state: existing`
//! and the running members plus itself, must serve and catch up (raft index), and only then
//! is promoted to a voting member (`member promote`) and must be healthy before the next one.
//! A member that was added but does not come up is removed again, so no half-added member is
//! left behind.

use std::net::Ipv6Addr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};

use super::InstallState;
use super::service::{Check, health_within, install, install_with};
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
/// for a few seconds, e.g. right after the previous member joined, and a promotion until the
/// learner's log is in sync with the leader's: retry for up to a minute.
pub(super) fn retry_while_settling(command: &str) -> String {
    format!(
        "i=0; while :; do out=$({command} 2>&1) && {{ printf '%s\\n' \"$out\"; exit 0; }}; i=$((i+1)); \
         case \"$out\" in *'unhealthy cluster'*|*'in sync with leader'*) [ $i -lt 30 ] && {{ sleep 2; continue; }};; esac; printf '%s\\n' \"$out\" >&2; exit 1; done"
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
            if known.is_some_and(|m| !m.name.is_empty() && !m.is_learner) {
                // Joined by an earlier, interrupted run: only keep its files up to date.
                return install(cx, &self.state, &[&ETCD]).await.map(|s| format!("already a started member; {s}"));
            }
            let dry = cx.gate.mode() == Mode::DryRun;
            if known.is_none() {
                let add = etcdctl(&self.running, &["member", "add", cx.host.name.as_str(), &format!("--peer-urls={peer_url}"), "--learner"]);
                cx.command(&format!("etcdctl member add --learner {}", cx.host.name), &retry_while_settling(&add), "new etcd member").await?;
            }
            if dry {
                return install(cx, &self.state, &[&ETCD]).await;
            }
            match self.start_and_promote(cx, &peer_url).await {
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
    /// Starts the learner, waits until it serves and caught up, promotes it, checks health.
    async fn start_and_promote(&self, cx: &HostContext<'_>, peer_url: &str) -> anyhow::Result<String> {
        let started = install_with(cx, &self.state, &[&ETCD], Check::Later).await?;
        let me = cx.host.address;
        // `endpoint health` needs a linearizable read, which a learner refuses; `endpoint
        // status` it answers.
        let serving = Query::health("etcd", etcdctl(&[me], &["endpoint", "status"]), 90);
        if let crate::facts::Health::Unhealthy(last) = cx.read_fresh(&serving).await? {
            bail!("the new member does not answer etcdctl endpoint status (checked for up to 90 s): {last}");
        }
        let caught_up = self.catch_up(cx).await?;
        let members = cx.read_fresh(&Query::etcd_members(&self.running)).await.context("list the etcd members")?;
        let learner = members.iter().find(|m| m.peer_urls.iter().any(|u| u == peer_url)).context("the new member is no longer listed")?;
        if learner.is_learner {
            let promote = etcdctl(&self.running, &["member", "promote", &learner.id]);
            cx.command(&format!("etcdctl member promote {}", learner.id), &retry_while_settling(&promote), &format!("learner {caught_up}")).await?;
        }
        health_within(cx, &self.state.bundle, &ETCD, 90).await?;
        Ok(format!("{started}; learner {caught_up}; promoted, healthy ({})", ETCD.health(&self.state.bundle).shows()))
    }

    /// Waits until the new member is within 5 raft entries of the most advanced endpoint.
    async fn catch_up(&self, cx: &HostContext<'_>) -> anyhow::Result<String> {
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
                    return Ok(format!("caught up (raft index {own}, leader at {best})"));
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
        // The learner's serving check, retried for 90 s.
        let serving = Query::health("etcd", etcdctl(&[me.address], &["endpoint", "status"]), 90);
        let fake = FakeTransport::new("a")
            .answer(&members, &format!(r#"{{"members":[{{"ID":1,"name":"other","peerURLs":["{}"]}}]}}"#, url("https", running[0], 2380)))
            .answer_output(&Query::marker_exists("/var/lib/etcd/member"), failed(""), 1)
            .no_files()
            .accepts_writes()
            .answer(&Query::service_state("etcd"), "inactive\n")
            .answer_output(&serving, failed("connection refused"), 1)
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
                format!("etcdctl member add --learner {} (new etcd member)", me.name),
                "/etc/etcd/etcd.conf.yml (new file)".to_string(),
                "record pending restart of etcd (files they read changed)".to_string(),
                "systemctl start etcd (not running)".to_string(),
                "stop etcd and clear its data dir (the member did not come up)".to_string(),
                "etcdctl member remove 4d2 (the member did not come up)".to_string(),
            ]
        );
    }

    /// Regression: members joined as voters, so a join that failed into a 1-member cluster
    /// lost quorum. The member joins as a learner (`member add --learner`), serves, catches
    /// up, and only then is promoted and health-checked, all through the gate.
    #[tokio::test]
    async fn a_new_member_joins_as_a_learner_and_is_promoted_once_caught_up() {
        let inv = crate::inventory::field_report();
        let me = &inv.hosts[0];
        let files = vec![RenderedFile { path: "/etc/etcd/etcd.conf.yml".into(), mode: 0o644, contents: "name: member\n".into() }];
        let desired = Rendered { hosts: vec![HostFiles { name: me.name.clone(), address: me.address, files }], cluster: vec![] };
        let state = Arc::new(InstallState::new(desired, BundleCheck { root: "/bundle".into(), present: vec![], missing: vec![], dirs: vec![], missing_files: vec![] }, vec![]).unwrap());
        let running = vec![inv.hosts[1].address];
        let step = EtcdJoin { state, running: running.clone(), joining: vec![me.address] };
        let members = Query::etcd_members(&running);
        let ok = |stdout: &str| Output { status: 0, stdout: stdout.into(), stderr: Vec::new() };
        let failed = |stdout: &str| Output { status: 1, stdout: stdout.into(), stderr: Vec::new() };
        let serving = Query::health("etcd", etcdctl(&[me.address], &["endpoint", "status"]), 90);
        let status = Query::etcd_status(&[running[0], me.address]);
        let status_json = format!(
            r#"[{{"Endpoint":"{}","Status":{{"raftIndex":20}}}},{{"Endpoint":"{}","Status":{{"raftIndex":18}}}}]"#,
            url("https", running[0], 2379),
            url("https", me.address, 2379)
        );
        let health = Query::health("etcd", crate::components::etcd_health_command(me), 90);
        let fake = FakeTransport::new("a")
            .answer(&members, &format!(r#"{{"members":[{{"ID":1,"name":"other","peerURLs":["{}"]}}]}}"#, url("https", running[0], 2380)))
            .answer_output(&Query::marker_exists("/var/lib/etcd/member"), failed(""), 1)
            .no_files()
            .accepts_writes()
            .answer(&Query::service_state("etcd"), "inactive\n")
            .answer_output(&serving, ok(""), 1)
            .answer(&status, &status_json)
            .answer(&members, &format!(r#"{{"members":[{{"ID":1,"name":"other","peerURLs":["{}"]}},{{"ID":1234,"name":"{}","peerURLs":["{}"],"isLearner":true}}]}}"#, url("https", running[0], 2380), me.name, url("https", me.address, 2380)))
            .answer_output(&health, ok(""), 1)
            .accepts_commands();
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, me, &fake, &gate, &Progress::Silent, &snapshot);
        let summary = step.run(&cx).await.unwrap();
        fake.verify();
        assert!(summary.contains("learner caught up (raft index 18, leader at 20); promoted, healthy"), "{summary}");
        let changes: Vec<String> = gate.changes().iter().map(|c| format!("{} ({})", c.target, c.reason)).collect();
        assert_eq!(
            changes,
            [
                format!("etcdctl member add --learner {} (new etcd member)", me.name),
                "/etc/etcd/etcd.conf.yml (new file)".to_string(),
                "record pending restart of etcd (files they read changed)".to_string(),
                "systemctl start etcd (not running)".to_string(),
                "etcdctl member promote 4d2 (learner caught up (raft index 18, leader at 20))".to_string(),
            ]
        );
        let commands = fake.log().join("\n");
        assert!(commands.contains("member add") && commands.contains("--learner") && commands.contains("member promote 4d2"), "{commands}");
    }
}
