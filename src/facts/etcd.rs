//! `etcdctl member list -w json` and `endpoint status -w json`.

use std::net::Ipv6Addr;

use serde::Deserialize;


/// `etcdctl` against `endpoints` (`https://[addr]:2379`), with the healthcheck client
/// certificate (on a member host), giving up after 5 s.
pub fn etcdctl(endpoints: &[Ipv6Addr], args: &[&str]) -> String {
    crate::components::etcdctl(endpoints, 5, args)
}

/// One etcd member as the cluster lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdMember {
    /// The member ID in hex, as `etcdctl member remove` takes it.
    pub id: String,
    /// Empty for a member added but never started.
    pub name: String,
    pub peer_urls: Vec<String>,
    /// A learner: receives the log, does not vote, until `member promote`.
    pub is_learner: bool,
}

#[derive(Deserialize)]
struct MemberList {
    #[serde(default)]
    members: Vec<RawMember>,
}

#[derive(Deserialize)]
struct RawMember {
    #[serde(rename = "ID")]
    id: u64,
    #[serde(default)]
    name: String,
    #[serde(rename = "peerURLs", default)]
    peer_urls: Vec<String>,
    #[serde(rename = "isLearner", default)]
    is_learner: bool,
}

impl EtcdMember {
    /// The member's address, from its first peer URL (`https://[addr]:2380`).
    pub fn address(&self) -> Option<Ipv6Addr> {
        let url = self.peer_urls.first()?;
        let rest = url.split_once("://").map_or(url.as_str(), |(_, r)| r);
        rest.strip_prefix('[')?.split_once(']')?.0.parse().ok()
    }
}

/// The voting members etcd lists (learners do not vote), by address; a member whose peer
/// URL names no IPv6 address is an error that says which.
pub fn voting_members(members: &[EtcdMember]) -> Result<Vec<Ipv6Addr>, String> {
    members
        .iter()
        .filter(|m| !m.is_learner)
        .map(|m| m.address().ok_or_else(|| format!("etcd lists member {} ({}) with peer URLs {:?}, which name no IPv6 address", m.id, m.name, m.peer_urls)))
        .collect()
}

/// Parses `etcdctl member list -w json`.
pub fn parse_member_list(json: &str) -> Result<Vec<EtcdMember>, serde_json::Error> {
    let list: MemberList = serde_json::from_str(json)?;
    Ok(list.members.into_iter().map(|m| EtcdMember { id: format!("{:x}", m.id), name: m.name, peer_urls: m.peer_urls, is_learner: m.is_learner }).collect())
}

/// The raft index of each endpoint from `etcdctl endpoint status -w json`.
pub fn parse_raft_indexes(json: &str) -> Result<Vec<(String, u64)>, serde_json::Error> {
    #[derive(Deserialize)]
    struct Status {
        #[serde(rename = "Endpoint")]
        endpoint: String,
        #[serde(rename = "Status")]
        status: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        #[serde(rename = "raftIndex")]
        raft_index: u64,
    }
    let statuses: Vec<Status> = serde_json::from_str(json)?;
    Ok(statuses.into_iter().map(|s| (s.endpoint, s.status.raft_index)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_list_with_an_unstarted_member() {
        let json = r#"{"header":{"cluster_id":1,"member_id":2,"raft_term":3},"members":[
            {"ID":16797136235578926860,"name":"2001.0db8.0000.0001.0000.0000.0000.0101","peerURLs":["https://[2001:db8:0:1::101]:2380"],"clientURLs":["https://[2001:db8:0:1::101]:2379"]},
            {"ID":1234,"peerURLs":["https://[2001:db8:0:1::104]:2380"],"isLearner":true}]}"#;
        let members = parse_member_list(json).unwrap();
        assert_eq!(members[0].id, "e91b6a694586270c");
        assert_eq!(members[0].name, "2001.0db8.0000.0001.0000.0000.0000.0101");
        assert!(!members[0].is_learner);
        assert_eq!(members[1], EtcdMember { id: "4d2".into(), name: String::new(), peer_urls: vec!["https://[2001:db8:0:1::104]:2380".into()], is_learner: true });
    }

    #[test]
    fn raft_indexes() {
        // etcd 3.4.23's output on the lab.
        let json = r#"[{"Endpoint":"https://[2001:db8:0:1::101]:2379","Status":{"header":{"cluster_id":6487131958102119439,"member_id":12361841108146610902,"revision":1,"raft_term":8},"version":"3.4.23","dbSize":20480,"leader":1615688702981715586,"raftIndex":20,"raftTerm":8,"raftAppliedIndex":20,"dbSizeInUse":16384}}]"#;
        assert_eq!(parse_raft_indexes(json).unwrap(), [("https://[2001:db8:0:1::101]:2379".to_string(), 20)]);
    }
}

#[cfg(test)]
mod voting_tests {
    use super::*;

    fn member(id: &str, url: &str, learner: bool) -> EtcdMember {
        EtcdMember { id: id.into(), name: id.into(), peer_urls: vec![url.into()], is_learner: learner }
    }

    #[test]
    fn voting_members_are_read_off_the_peer_urls_without_learners() {
        let listed = [member("a", "https://[2001:db8::101]:2380", false), member("b", "https://[2001:db8::104]:2380", false), member("c", "https://[2001:db8::105]:2380", true)];
        assert_eq!(voting_members(&listed).unwrap(), ["2001:db8::101".parse::<Ipv6Addr>().unwrap(), "2001:db8::104".parse().unwrap()]);
        let named = [member("d", "https://etcd-4.example:2380", false)];
        assert!(voting_members(&named).unwrap_err().contains("etcd-4.example"));
    }
}
