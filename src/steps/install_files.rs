//! Install files: every file a host gets from install — the membership marker, sysctl and
//! module lists, the node names in /etc/hosts, the bundle's binaries, certificates and keys,
//! the services' configuration and units — compared against the run's snapshot and written
//! in one round trip, atomically (all files of the host, or none). In the same round trip the
//! host records the restarts the changes make due (so a run stopped before the service steps
//! still restarts them next time) and systemd re-reads its units when a unit of a service
//! that runs there changed. The service steps that follow find their files in place and only
//! (re)start what changed.

use std::net::Ipv6Addr;
use std::sync::Arc;

use super::service::pending_restarts;
use super::{InstallState, verify};
use crate::inventory::Inventory;
use crate::components::{self, Bootstrap, Join, Kind};
use crate::inventory::HostSpec;
use crate::facts::Query;
use crate::ops::hosts_file;
use crate::runner::{FollowUp, HostContext, Mode, Read, Step, StepFuture};
use crate::transport::files::FileSpec;

/// The host files the step manages besides the rendered ones.
pub const HOSTS: &str = "/etc/hosts";

/// The "Install files" step.
pub struct InstallFiles {
    pub state: Arc<InstallState>,
    /// Write the membership marker with the files (install: before any service changes;
    /// node add records it at the very end instead).
    pub marker: bool,
    /// Hosts joining a running etcd cluster: their etcd files are written by `EtcdJoin`,
    /// after `member add`.
    pub joining: Vec<Ipv6Addr>,
}

impl InstallFiles {
    /// The rendered files of the host this step writes: its PKI and the files of every
    /// component that runs there, except network configuration (`network apply` writes it)
    /// and a joining member's files (`EtcdJoin` writes them after `member add`). Binaries and
    /// /etc/hosts are added by `run`.
    fn rendered(&self, host: &HostSpec) -> Vec<FileSpec> {
        let joining = self.joining.contains(&host.address);
        let components: Vec<_> = components::on_host(host)
            .filter(|c| !matches!(c.kind, Kind::Network))
            .filter(|c| !(joining && c.service().is_some_and(|s| s.join == Join::MemberAdd)))
            .collect();
        self.state.files(host.address, |p| crate::pki::is_host_pki(p) || components.iter().any(|c| c.owns(host, p)))
    }

    /// The bundle's binaries and the files of its directories (CNI plugins, images) `host` gets.
    fn binaries(&self, host: &HostSpec) -> Vec<FileSpec> {
        let mut specs: Vec<FileSpec> = components::binaries_on(host).into_iter().filter_map(|name| self.state.binaries.get(name)).cloned().collect();
        for dir in components::on_host(host).flat_map(|c| c.bundle_dirs) {
            specs.extend(self.state.bundle_files.get(dir.dir).into_iter().flatten().cloned());
        }
        specs
    }

    /// The bootstrap files of the host's services.
    fn bootstrap_files(&self, host: &HostSpec) -> Vec<Bootstrap> {
        components::services_on(host).filter_map(|c| c.service()?.bootstrap).collect()
    }
}

impl Step for InstallFiles {
    fn title(&self) -> String {
        "Install files (configuration, certificates, binaries)".into()
    }

    fn reads(&self, _: &Inventory, host: &HostSpec) -> Vec<Read> {
        let mut reads: Vec<Read> = self.rendered(host).into_iter().chain(self.binaries(host)).map(|f| Read::probe(&f)).collect();
        reads.extend([Read::Contents(HOSTS.into()), Read::Probe(HOSTS.into()), Read::Contents(verify::RECORD.into())]);
        if self.marker {
            reads.push(Read::Probe(super::MARKER.into()));
        }
        reads.extend(self.bootstrap_files(host).into_iter().map(|b| Read::query(&Query::marker_exists(b.marker))));
        reads
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let address = cx.host.address;
            let mut specs = Vec::new();
            if self.marker {
                // First, so the host is known as a member before anything else lands.
                specs.push(FileSpec::root(super::MARKER, 0o644, super::marker(cx.inventory, cx.host).into_bytes()));
            }
            let existing = cx.read_file(HOSTS).await?.unwrap_or_default();
            let entries: Vec<_> = cx.inventory.hosts.iter().map(|h| (h.address, h.name.clone())).collect();
            specs.push(FileSpec::root(HOSTS, 0o644, hosts_file::merge(&String::from_utf8_lossy(&existing), &entries).into_bytes()));
            specs.extend(self.binaries(cx.host));
            let mut rendered = self.rendered(cx.host);
            for bootstrap in self.bootstrap_files(cx.host) {
                if cx.query(&Query::marker_exists(bootstrap.marker)).await? {
                    rendered.retain(|f| f.path != bootstrap.file);
                }
            }
            specs.extend(rendered);
            let state = &self.state;
            // The units are verified right after they land (unless the host's record says
            // these exact units passed before), while other hosts are still writing.
            let (units, staged, record) = verify::units_of(state, cx.host);
            let recorded = cx.read_file(verify::RECORD).await?.is_some_and(|r| r == record.as_bytes());
            let apply = cx.gate.mode() == Mode::Apply;
            // A host joining etcd gets its etcd unit later (EtcdJoin): the Verify step checks its units.
            let verify_now = apply && !recorded && !units.is_empty() && !self.joining.contains(&address);
            let changed = cx
                .files_then(&specs, |changed| {
                    let mut follow_ups: Vec<FollowUp> = pending_restarts(cx.host, state, changed).into_iter().collect();
                    let reload: Vec<&str> =
                        components::services_on(cx.host).filter(|c| !c.is_staged(&state.bundle) && changed.contains(&c.unit_path())).map(|c| c.name).collect();
                    if !reload.is_empty() {
                        follow_ups.push(FollowUp {
                            what: "systemctl daemon-reload".into(),
                            script: "systemctl daemon-reload".into(),
                            reason: format!("unit files changed: {}", reload.join(", ")),
                            change: true,
                        });
                    }
                    if verify_now {
                        let paths: Vec<String> = units.iter().map(|u| u.path.clone()).collect();
                        follow_ups.push(FollowUp {
                            what: "systemd-analyze verify of the units".into(),
                            script: verify::units_script(&paths, &staged, &record),
                            reason: "units not verified yet".into(),
                            change: false,
                        });
                    }
                    follow_ups
                })
                .await?;
            if apply && (recorded || verify_now) {
                state.mark_units_verified(address);
            }
            state.mark_changed(address, changed.iter().map(|(p, _)| p.clone()));
            let verified = if recorded { "units as verified before" } else { "units verified" };
            Ok(format!("{} of {} files changed; {verified}", changed.len(), specs.len()))
        })
    }
}
