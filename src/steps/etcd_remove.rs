//! The "Remove etcd members" step of `node remove`: on an etcd member that stays, each leaving
//! member is removed from the etcd cluster (`etcdctl member remove`, against the staying
//! members only) one at a time, while it still runs, and the staying members must then be
//! healthy. The workflow checked before the run that the staying members keep a quorum of
//! healthy members (`workflows::node_remove::check_etcd_quorum`); etcd checks it again
//! (`--strict-reconfig-check`).

use std::net::Ipv6Addr;

use anyhow::{Context, bail};

use super::etcd_join::retry_while_settling;
use crate::components::ETCD_PEER_PORT;
use crate::facts::{Health, Query, etcdctl};
use crate::inventory::HostSpec;
use crate::net::url;
use crate::runner::{HostContext, Mode, Step, StepFuture};

/// How long the staying members have to be healthy after a removal.
const HEALTHY_SECONDS: u64 = 60;

/// The "Remove etcd members" step: on `on` only.
pub struct EtcdRemove {
    /// A staying etcd member (it has etcdctl and the healthcheck client certificate).
    pub on: Ipv6Addr,
    /// The members that stay.
    pub staying: Vec<Ipv6Addr>,
    /// The members to remove, in order.
    pub leaving: Vec<Ipv6Addr>,
}

impl Step for EtcdRemove {
    fn title(&self) -> String {
        "Remove etcd members".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.on && !self.leaving.is_empty()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let mut removed = Vec::new();
            let mut gone = Vec::new();
            for leaving in &self.leaving {
                let peer_url = url("https", *leaving, ETCD_PEER_PORT);
                let members = cx.read_fresh(&Query::etcd_members(&self.staying)).await.context("list the etcd members")?;
                let Some(member) = members.iter().find(|m| m.peer_urls.contains(&peer_url)) else {
                    gone.push(leaving.to_string());
                    continue;
                };
                let remove = etcdctl(&self.staying, &["member", "remove", &member.id]);
                cx.command(&format!("etcdctl member remove {} ({leaving})", member.id), &retry_while_settling(&remove), "node removed").await?;
                removed.push(leaving.to_string());
            }
            if cx.gate.mode() == Mode::Apply && !removed.is_empty() {
                let check = etcdctl(&self.staying, &["endpoint", "health"]);
                if let Health::Unhealthy(last) = cx.read_fresh(&Query::health("etcd", check, HEALTHY_SECONDS)).await? {
                    bail!("the staying etcd members are not healthy after removing {} (checked for up to {HEALTHY_SECONDS} s): {last}", removed.join(", "));
                }
            }
            let mut summary = format!("{} removed, {} members stay", removed.len(), self.staying.len());
            if !gone.is_empty() {
                summary.push_str(&format!("; {} not a member any more", gone.join(", ")));
            }
            Ok(summary)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Gate, Progress, Snapshot};
    use crate::transport::fake::FakeTransport;

    /// The leaving member is found by its peer URL and removed through the gate against the
    /// staying members only; the staying members are then checked.
    #[tokio::test]
    async fn the_leaving_member_is_removed_against_the_staying_ones() {
        let inv = crate::inventory::field_report();
        let staying = vec![inv.hosts[0].address, inv.hosts[1].address];
        let leaving = inv.hosts[2].address;
        let step = EtcdRemove { on: staying[0], staying: staying.clone(), leaving: vec![leaving] };
        let members = format!(
            r#"{{"members":[{{"ID":1,"name":"a","peerURLs":["{}"]}},{{"ID":2,"name":"b","peerURLs":["{}"]}},{{"ID":1234,"name":"c","peerURLs":["{}"]}}]}}"#,
            url("https", staying[0], 2380),
            url("https", staying[1], 2380),
            url("https", leaving, 2380)
        );
        let healthy = Query::health("etcd", etcdctl(&staying, &["endpoint", "health"]), HEALTHY_SECONDS);
        let fake = FakeTransport::new("a").answer(&Query::etcd_members(&staying), &members).expect("member remove 4d2", "").answer(&healthy, "");
        let gate = Gate::new(Mode::Apply);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, &inv.hosts[0], &fake, &gate, &Progress::Silent, &snapshot);
        let summary = step.run(&cx).await.unwrap();
        fake.verify();
        assert_eq!(summary, "1 removed, 2 members stay");
        let changes: Vec<String> = gate.changes().iter().map(|c| c.target.clone()).collect();
        assert_eq!(changes, [format!("etcdctl member remove 4d2 ({leaving})")]);
        let remove = fake.log().into_iter().find(|c| c.contains("member remove")).unwrap();
        assert!(!remove.contains(&format!("[{leaving}]:2379")), "removed through the leaving member: {remove}");
    }
}
