//! Running `node remove`, in two parts so the command line can ask for confirmation between
//! them: [`prepare`] asks the hosts who is a member and, when etcd members leave, how healthy
//! etcd is, and refuses what cannot be done (nothing is changed); [`run`] prepares the PKI and
//! the staying hosts' files, runs the removal ([`node_remove::steps`] on the members and the
//! leaving hosts), then brings the staying hosts in line (`cluster::steps` on them: the same
//! steps `install` runs, so a later `install` without the removed hosts changes nothing).

use std::net::Ipv6Addr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use time::OffsetDateTime;

use crate::desired::desired_state;
use crate::facts::EtcdState;
use crate::inventory::Inventory;
use crate::pki::timestamp;
use crate::render::Templates;
use crate::runner::Mode;
use crate::steps::{EtcdHealthStore, InstallState, ReadEtcdHealth};

use super::cluster;
use super::install_run::{Note, Report, prepare_bundle, prepare_pki, report};
use super::membership;
use super::node_remove::{self, Shrink, check_etcd_quorum};
use super::remote::{Feedback, Remote};

/// What `node remove` is asked to do.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The hosts to remove: addresses (any textual form) or node names from the inventory.
    pub nodes: &'a [String],
    /// Apply, or only plan.
    pub mode: Mode,
    /// How long draining one node may take.
    pub drain_timeout: Duration,
    /// Template overrides.
    pub templates_dir: Option<&'a Path>,
}

/// A removal checked against the hosts, not started.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub shrink: Shrink,
    /// Each etcd member's health, when etcd members leave (empty otherwise).
    pub etcd_health: Vec<(Ipv6Addr, EtcdState)>,
}

impl Prepared {
    /// What the removal does, for a confirmation question.
    pub fn describe(&self) -> String {
        let mut text = format!("node remove takes these hosts out of cluster {}:\n", self.shrink.whole.cluster.name);
        for host in &self.shrink.leaving {
            let state = if self.shrink.gone.contains(&host.address) { "not a member any more" } else { "its pods evicted, its services stopped, their units removed" };
            text.push_str(&format!("  {} ({}; roles {}): {state}\n", host.address, host.name, host.roles));
        }
        if !self.shrink.etcd_leaving().is_empty() {
            let healthy = self.etcd_health.iter().filter(|(_, s)| *s == EtcdState::Healthy).count();
            text.push_str(&format!(
                "etcd goes from {} to {} members (now {healthy} healthy)\n",
                self.shrink.etcd_members.len(),
                self.shrink.etcd_staying().len()
            ));
        }
        text.push_str(&format!("and the {} staying hosts are brought in line (/etc/hosts, API servers, host routes).", self.shrink.staying.hosts.len()));
        text
    }
}

/// Checks the removal against the hosts, changing nothing: membership, reachability, the
/// control plane and etcd left, and etcd's quorum of healthy members.
pub fn prepare(remote: &Remote, inv: &Inventory, request: &Request<'_>) -> Result<Prepared> {
    let wanted = node_remove::wanted(inv, request.nodes)?;
    let membership = membership::read(remote, inv)?;
    let shrink = Shrink::new(inv, &membership, &wanted)?;
    let leaving = shrink.etcd_leaving();
    let mut etcd_health = Vec::new();
    if let Some(on) = shrink.etcd_staying().first().copied()
        && !leaving.is_empty()
    {
        let store = EtcdHealthStore::default();
        let step = ReadEtcdHealth { on, members: shrink.etcd_members.clone(), store: store.clone() };
        let recap = remote.run_steps_on_all(&shrink.whole, Feedback::Silent, Mode::DryRun, &[Box::new(step)])?;
        if let Some(failure) = recap.failure_summary() {
            return Err(crate::exit::HostsError(format!("cannot read etcd's health: {failure}; nothing was changed")).into());
        }
        etcd_health = store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        check_etcd_quorum(&etcd_health, &leaving)?;
    }
    Ok(Prepared { shrink, etcd_health })
}

/// Removes the prepared hosts, telling `notes` what happens before the run.
pub fn run(remote: &Remote, prepared: &Prepared, request: &Request<'_>, notes: &mut dyn FnMut(Note)) -> Result<Report> {
    let shrink = &prepared.shrink;
    if let Some(members) = shrink.even_etcd() {
        notes(Note::EvenEtcd { members });
    }
    let staying = &shrink.staying;
    let (bundle, images) = prepare_bundle(staying, notes)?;
    let (store, scratch) = prepare_pki(staying, "bring the PKI in line with the staying hosts in", request.mode, notes)?;
    let desired = desired_state(staying, &Templates::load(request.templates_dir)?, &store)?;
    let state = Arc::new(InstallState::new(desired, bundle, Vec::new())?.with_images(images));
    let stamp = timestamp(OffsetDateTime::now_utc());
    let removal = node_remove::steps(shrink, request.drain_timeout, &stamp);
    let recap = remote.run_steps_on_all(&shrink.whole, remote.settings.feedback, request.mode, &removal)?;
    if !recap.succeeded() {
        return Ok(report(recap, &state, store, scratch));
    }
    let update = cluster::steps(staying, &state, None);
    let later = remote.run_steps_on_all(staying, remote.settings.feedback, request.mode, &update)?;
    Ok(report(recap.then(later), &state, store, scratch))
}
