//! The "Read etcd health" step (read-only): from one etcd member, how each member answers:
//! healthy (`etcdctl endpoint health`), running without a quorum (`endpoint status` only), or
//! down. `node remove` reads it before changing anything, to refuse a
//! removal that would leave etcd without a quorum of healthy members. The members are the ones
//! etcd itself lists (`member list`, learners left out, as they do not vote), not the
//! inventory's: a member the inventory forgot still counts towards the quorum.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use crate::facts::{EtcdState, Query, voting_members};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Step, StepFuture};

/// Each member's health, as read.
pub type EtcdHealthStore = Arc<Mutex<Vec<(Ipv6Addr, EtcdState)>>>;

/// The "Read etcd health" step: on `on` only.
pub struct ReadEtcdHealth {
    /// The host that asks (an etcd member: it has etcdctl and the client certificate).
    pub on: Ipv6Addr,
    /// The members the inventory knows (for the summary; etcd's own list is asked).
    pub members: Vec<Ipv6Addr>,
    pub store: EtcdHealthStore,
}

impl Step for ReadEtcdHealth {
    fn title(&self) -> String {
        "Read etcd health".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.address == self.on
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            // Asked of every member the inventory knows (the first that answers lists them);
            // when none answers, the inventory's list is all there is (and all are down).
            let members = match cx.read_fresh(&Query::etcd_members(&self.members)).await {
                Ok(listed) => in_inventory_order(voting_members(&listed).map_err(anyhow::Error::msg)?, &self.members),
                Err(error) => {
                    tracing::debug!(%error, "no etcd member lists the members; judging the inventory's");
                    self.members.clone()
                }
            };
            let health = cx.read_fresh(&Query::etcd_health(&members)).await?;
            let healthy = health.iter().filter(|(_, s)| *s == EtcdState::Healthy).count();
            *self.store.lock().unwrap_or_else(|p| p.into_inner()) = health;
            let unknown: Vec<String> = members.iter().filter(|m| !self.members.contains(m)).map(ToString::to_string).collect();
            let extra = if unknown.is_empty() { String::new() } else { format!(" (etcd lists {} too, which the inventory does not)", unknown.join(", ")) };
            Ok(format!("{healthy} of {} members healthy{extra}", members.len()))
        })
    }
}

/// `listed` with the inventory's members first, in its order (messages stay stable), then
/// the members only etcd knows.
fn in_inventory_order(listed: Vec<Ipv6Addr>, inventory: &[Ipv6Addr]) -> Vec<Ipv6Addr> {
    let mut ordered: Vec<Ipv6Addr> = inventory.iter().copied().filter(|m| listed.contains(m)).collect();
    ordered.extend(listed.into_iter().filter(|m| !inventory.contains(m)));
    ordered
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::{Gate, Mode, Progress, Snapshot};
    use crate::transport::fake::FakeTransport;

    fn address(last: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2002, 0xdb8, 0, 1, 0, 0, 0, last)
    }

    /// The attack of the security review: the inventory lists 3 etcd hosts, etcd has 5 members
    /// (two the inventory forgot, both down). Counting the inventory's 3, removing one left 2 of
    /// 2 healthy; counting etcd's 5, 2 of 4 are healthy, below the quorum of 3: refused.
    #[tokio::test]
    async fn the_quorum_counts_the_members_etcd_lists_not_the_inventorys() {
        let inv = crate::inventory::field_report();
        let host = &inv.hosts[0];
        let listed: Vec<u16> = vec![0x101, 0x102, 0x103, 0x104, 0x105];
        let json = serde_json::json!({"members": listed.iter().map(|m| serde_json::json!({"ID": *m as u64, "name": format!("m{m:x}"), "peerURLs": [format!("https://[{}]:2380", address(*m))]})).collect::<Vec<_>>()}).to_string();
        let members: Vec<Ipv6Addr> = listed.iter().map(|m| address(*m)).collect();
        let health = format!("healthy {}\nhealthy {}\nhealthy {}\ndown {}\ndown {}\n", members[0], members[1], members[2], members[3], members[4]);
        let fake = FakeTransport::new("a").answer(&Query::etcd_members(&members[..3]), &json).answer(&Query::etcd_health(&members), &health);
        let store = EtcdHealthStore::default();
        let step = ReadEtcdHealth { on: host.address, members: members[..3].to_vec(), store: store.clone() };
        let gate = Gate::new(Mode::DryRun);
        let snapshot = Snapshot::default();
        let cx = HostContext::new(&inv, host, &fake, &gate, &Progress::Silent, &snapshot);
        let summary = step.run(&cx).await.unwrap();
        fake.verify();
        assert!(summary.starts_with("3 of 5 members healthy") && summary.contains("which the inventory does not"), "{summary}");
        let read = store.lock().unwrap().clone();
        assert_eq!(read.len(), 5);
        let refused = crate::workflows::node_remove::check_etcd_quorum(&read, &[members[2]]).unwrap_err().to_string();
        assert!(refused.contains("would break etcd's quorum"), "{refused}");
        assert!(crate::workflows::node_remove::check_etcd_quorum(&read[..3], &[members[2]]).is_ok(), "the inventory's count allowed it");
    }
}
