//! `etcd backup` and `etcd restore`: a snapshot of the cluster's etcd, taken on a healthy
//! member and kept on this machine (checksummed, with the member list), and its restore on
//! every member with the control plane stopped around it (see `steps::etcd_snapshot`).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use crate::bundle;
use crate::components::{ETCD, KUBE_APISERVER};
use crate::inventory::{Inventory, Role};
use crate::pki::{self, Store, timestamp};
use crate::runner::{Mode, Recap, Step};
use crate::steps::{EtcdSnapshot, RestoreMember, ServiceAction, ServiceActionKind, TakeSnapshot};

use super::remote::Remote;

/// The snapshot file in a backup directory.
pub const SNAPSHOT_FILE: &str = "snapshot.db";

/// What `etcd backup` made.
#[derive(Debug)]
pub struct BackupReport {
    pub recap: Recap,
    /// The backup directory (`None`: no member gave a snapshot, or a dry run).
    pub dir: Option<PathBuf>,
    pub snapshot: Option<EtcdSnapshot>,
    pub sha256: Option<String>,
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Takes a snapshot and writes `snapshot.db`, `snapshot.db.sha256` and `members.json` into
/// `dir` (default `certs/<cluster>/backups/<UTC time>/`), private to root.
pub fn backup(remote: &Remote, inv: &Inventory, dir: Option<&Path>, mode: Mode) -> Result<BackupReport> {
    let taken = Arc::new(Mutex::new(None));
    let members: Vec<_> = inv.hosts.iter().filter(|h| h.has(Role::Etcd)).map(|h| h.address).collect();
    let steps: Vec<Box<dyn Step>> = vec![Box::new(TakeSnapshot { taken: taken.clone(), members })];
    let recap = remote.run_steps_on_all(inv, remote.settings.feedback, mode, &steps)?;
    let snapshot = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
    let Some(snapshot) = snapshot else {
        return Ok(BackupReport { recap, dir: None, snapshot: None, sha256: None });
    };
    let dir = dir.map_or_else(|| Store::for_inventory(inv).root().join(pki::SNAPSHOTS_DIR).join(timestamp(OffsetDateTime::now_utc())), Path::to_path_buf);
    crate::localfs::create_private_dirs(&dir).with_context(|| format!("create {}", dir.display()))?;
    let sha256 = hex(&snapshot.bytes);
    let members: Vec<serde_json::Value> = snapshot.members.iter().map(|m| serde_json::json!({"id": m.id, "name": m.name, "peer_urls": m.peer_urls})).collect();
    let listing = serde_json::json!({"schema": 1, "cluster": inv.cluster.name, "taken_from": snapshot.member, "members": members});
    let write = |name: &str, contents: &[u8]| crate::localfs::write_atomic(&dir.join(name), contents, 0o600).with_context(|| format!("write {}", dir.join(name).display()));
    write(SNAPSHOT_FILE, &snapshot.bytes)?;
    write(&format!("{SNAPSHOT_FILE}.sha256"), format!("{sha256}  {SNAPSHOT_FILE}\n").as_bytes())?;
    write("members.json", (serde_json::to_string_pretty(&listing)? + "\n").as_bytes())?;
    Ok(BackupReport { recap, dir: Some(dir), snapshot: Some(snapshot), sha256: Some(sha256) })
}

/// Reads a snapshot to restore; refuses one whose `.sha256` beside it does not match.
pub fn read_snapshot(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
    let sums = path.with_file_name(format!("{}.sha256", path.file_name().and_then(|n| n.to_str()).unwrap_or(SNAPSHOT_FILE)));
    if let Ok(text) = std::fs::read_to_string(&sums) {
        let wanted = text.split_whitespace().next().unwrap_or_default();
        if wanted != hex(&bytes) {
            bail!("{} does not match its checksum in {}: the snapshot is damaged or was replaced", path.display(), sums.display());
        }
    }
    Ok(bytes)
}

/// Restores `snapshot` on every etcd member: the API servers and etcd stopped, the data
/// restored with a new cluster token, etcd then the API servers started and healthy.
pub fn restore(remote: &Remote, inv: &Inventory, snapshot: Vec<u8>, mode: Mode) -> Result<Recap> {
    let check = Arc::new(bundle::check(inv)?);
    let stamp = timestamp(OffsetDateTime::now_utc());
    let action = |service, action, why| Box::new(ServiceAction { service, action, bundle: check.clone(), why }) as Box<dyn Step>;
    let steps: Vec<Box<dyn Step>> = vec![
        action(&KUBE_APISERVER, ServiceActionKind::Stop, "etcd is restored"),
        action(&ETCD, ServiceActionKind::Stop, "etcd is restored"),
        Box::new(RestoreMember { snapshot: Arc::new(snapshot), token: format!("{}-restore-{stamp}", inv.cluster.name), stamp }),
        action(&ETCD, ServiceActionKind::Start, "restored"),
        action(&KUBE_APISERVER, ServiceActionKind::Start, "etcd is restored"),
    ];
    remote.run_steps_on_all(inv, remote.settings.feedback, mode, &steps)
}
