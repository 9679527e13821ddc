//! etcd backup and restore on the hosts. A backup takes a snapshot on the first healthy
//! member (one host at a time until one succeeds) and brings it back with the member list; a
//! restore follows etcd's documented procedure: the API servers and every member stopped, the
//! snapshot restored into a new data dir on every member with a new cluster token (the old dir
//! kept beside it), the members started together and healthy, then the API servers.

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use super::service::health_within;
use crate::bundle::BundleCheck;
use crate::components::{self, Component, ETCD, ETCD_DATA_DIR as DATA_DIR, ETCD_PEER_PORT};
use crate::facts::{EtcdMember, Health, Query};
use crate::inventory::{HostSpec, Role};
use crate::net::url;
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::command;

/// Where a snapshot is written on a member while it is taken.
const SNAPSHOT: &str = "/var/lib/v6deploy/etcd-snapshot.db";
/// Where a snapshot to restore is put on every member.
const RESTORE_SNAPSHOT: &str = "/var/lib/v6deploy/etcd-restore.db";

/// What a backup took.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub member: Ipv6Addr,
    pub bytes: Vec<u8>,
    pub members: Vec<EtcdMember>,
}

/// The "Snapshot etcd" step: etcd hosts, one at a time, until one member gave a snapshot.
pub struct TakeSnapshot {
    pub taken: Arc<Mutex<Option<Snapshot>>>,
    /// Every member, to list them.
    pub members: Vec<Ipv6Addr>,
}

impl Step for TakeSnapshot {
    fn title(&self) -> String {
        "Snapshot etcd".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::Etcd)
    }

    fn batch(&self) -> Batch {
        Batch::Rolling(1)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if let Some(taken) = self.taken.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
                return Ok(format!("not needed: the snapshot came from {}", taken.member));
            }
            let check = components::etcd_health_command(cx.host);
            if let Health::Unhealthy(why) = cx.read_fresh(&Query::health(ETCD.name, check, 5)).await? {
                return Ok(format!("not healthy, not used: {why}"));
            }
            let save = format!("umask 077 && mkdir -p /var/lib/v6deploy && {} >/dev/null", components::etcdctl(&[cx.host.address], 60, &["snapshot", "save", SNAPSHOT]));
            cx.command("etcdctl snapshot save", &save, "the backup").await?;
            if cx.gate.mode() == Mode::DryRun {
                return Ok("would take the snapshot here".into());
            }
            let bytes = cx.read_file(SNAPSHOT).await?.with_context(|| format!("{SNAPSHOT} is missing after etcdctl snapshot save"))?;
            let members = cx.read_fresh(&Query::etcd_members(&self.members)).await.context("list the etcd members")?;
            cx.command(&format!("remove {SNAPSHOT}"), &format!("rm -f {SNAPSHOT}"), "copied to this machine").await?;
            let size = bytes.len();
            *self.taken.lock().unwrap_or_else(|p| p.into_inner()) = Some(Snapshot { member: cx.host.address, bytes, members });
            Ok(format!("snapshot of {size} bytes taken"))
        })
    }
}

/// What a step does to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Stop,
    /// Start (without waiting, so that etcd members come up together), then its health check.
    Start,
}

/// Stops or starts one service on every host that runs it.
pub struct ServiceAction {
    pub service: &'static Component,
    pub action: Action,
    pub bundle: Arc<BundleCheck>,
    pub why: &'static str,
}

impl Step for ServiceAction {
    fn title(&self) -> String {
        let verb = if self.action == Action::Stop { "Stop" } else { "Start" };
        format!("{verb} {}", self.service.name)
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        self.service.runs_on(host)
    }

    /// The restore goes on only when the service stopped everywhere (a member left running
    /// keeps the old data while the others restore).
    fn all_or_none(&self) -> bool {
        self.action == Action::Stop
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let name = self.service.name;
            match self.action {
                Action::Stop => {
                    cx.command(&format!("systemctl stop {name}"), &format!("systemctl stop {name}"), self.why).await?;
                    Ok(format!("{name} stopped"))
                }
                Action::Start => {
                    cx.command(&format!("systemctl start {name}"), &format!("systemctl start --no-block {name}"), self.why).await?;
                    if cx.gate.mode() == Mode::DryRun {
                        return Ok(format!("{name} would be started"));
                    }
                    health_within(cx, &self.bundle, self.service, 90).await?;
                    Ok(format!("{name} started and healthy ({})", self.service.health(&self.bundle).shows()))
                }
            }
        })
    }
}

/// The "Restore etcd data" step: every member, at once (they are all stopped).
pub struct RestoreMember {
    pub snapshot: Arc<Vec<u8>>,
    /// The restored cluster's new token.
    pub token: String,
    /// Suffix of the old data dir kept beside the new one.
    pub stamp: String,
}

impl RestoreMember {
    /// The restore script for `host`, a member of `members`.
    fn script(&self, host: &HostSpec, members: &[&HostSpec]) -> String {
        let cluster: Vec<String> = members.iter().map(|m| format!("{}={}", m.name, url("https", m.address, ETCD_PEER_PORT))).collect();
        let words = [
            components::binary_path("etcdctl"),
            "snapshot".into(),
            "restore".into(),
            RESTORE_SNAPSHOT.into(),
            format!("--name={}", host.name),
            format!("--data-dir={DATA_DIR}.restore"),
            format!("--initial-cluster={}", cluster.join(",")),
            format!("--initial-cluster-token={}", self.token),
            format!("--initial-advertise-peer-urls={}", url("https", host.address, ETCD_PEER_PORT)),
        ];
        format!(
            "set -e\nrm -rf {DATA_DIR}.restore\nETCDCTL_API=3 {} >/dev/null\nif [ -d {DATA_DIR} ]; then mv {DATA_DIR} {DATA_DIR}.before-restore-{}; fi\nmv {DATA_DIR}.restore {DATA_DIR}\nchmod 700 {DATA_DIR}\nrm -f {RESTORE_SNAPSHOT}",
            command(&words),
            self.stamp
        )
    }
}

impl Step for RestoreMember {
    fn title(&self) -> String {
        "Restore etcd data".into()
    }

    fn prepare(&self, host: &HostSpec) -> bool {
        host.has(Role::Etcd)
    }

    /// A member that fails its restore stops the run: etcd is not started on the others,
    /// whose data would diverge from it.
    fn all_or_none(&self) -> bool {
        true
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let members: Vec<&HostSpec> = cx.inventory.hosts.iter().filter(|h| h.has(Role::Etcd)).collect();
            if members.is_empty() {
                bail!("the inventory has no etcd member");
            }
            cx.files(&[FileSpec::root(RESTORE_SNAPSHOT, 0o600, self.snapshot.as_ref().clone())]).await?;
            let what = format!("etcdctl snapshot restore into {DATA_DIR} (the old one kept as {DATA_DIR}.before-restore-{})", self.stamp);
            cx.command(&what, &self.script(cx.host, &members), "restore").await?;
            Ok(format!("data dir restored ({} members, cluster token {})", members.len(), self.token))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_script_follows_etcd_s_procedure() {
        let inv = crate::inventory::field_report();
        let step = RestoreMember { snapshot: Arc::new(Vec::new()), token: "field-report-restore-20260101T000000Z".into(), stamp: "20260101T000000Z".into() };
        let members: Vec<&HostSpec> = inv.hosts.iter().collect();
        let script = step.script(&inv.hosts[1], &members);
        assert!(script.contains("--name=2002.0db8.0000.0001.0000.0000.0000.0102"), "{script}");
        assert!(script.contains("--initial-advertise-peer-urls=https://[2002:db8:0:1::102]:2380"), "{script}");
        assert!(script.contains("2002.0db8.0000.0001.0000.0000.0000.0101=https://[2002:db8:0:1::101]:2380,"), "{script}");
        assert!(script.contains("--initial-cluster-token=field-report-restore-20260101T000000Z"), "{script}");
        assert!(script.contains("mv /var/lib/etcd /var/lib/etcd.before-restore-20260101T000000Z"), "{script}");
        let syntax = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).status().unwrap();
        assert!(syntax.success());
    }
}
