//! The "Unlock" step of `v6deploy unlock`: the host's run lock (`/var/lib/v6deploy/lock`)
//! shown with its holder and, when applying, released by ending the command that holds it
//! (only a process whose fd 9 is the lock file: see `runner::host_lock`).

use std::net::Ipv6Addr;
use std::sync::{Arc, Mutex};
use std::collections::BTreeMap;

use crate::inventory::Inventory;
use crate::runner::{HostContext, LOCK_DIR, Read, Step, StepFuture, UNLOCK_SCRIPT};
use crate::inventory::HostSpec;

/// Who held each host's lock (`None`: nobody).
pub type Holders = Arc<Mutex<BTreeMap<Ipv6Addr, Option<String>>>>;

/// The "Unlock" step.
pub struct UnlockHost {
    pub holders: Holders,
}

fn owner_file() -> String {
    format!("{LOCK_DIR}/lock.owner")
}

fn pid_file() -> String {
    format!("{LOCK_DIR}/lock.pid")
}

impl Step for UnlockHost {
    fn title(&self) -> String {
        "Unlock".into()
    }

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::Contents(owner_file()), Read::Contents(pid_file())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let text = |bytes: Option<Vec<u8>>| bytes.map(|b| String::from_utf8_lossy(&b).trim().to_string()).filter(|t| !t.is_empty());
            let owner = text(cx.read_file(&owner_file()).await?);
            let pid = text(cx.read_file(&pid_file()).await?);
            self.holders.lock().unwrap_or_else(|p| p.into_inner()).insert(cx.host.address, owner.clone());
            let Some(owner) = owner else {
                return Ok("not locked".to_string());
            };
            let on_host = pid.map_or_else(String::new, |p| format!(", pid {p} on the host"));
            cx.command(&format!("release the lock held by {owner}{on_host}"), UNLOCK_SCRIPT, "v6deploy unlock").await?;
            Ok(format!("was locked by {owner}"))
        })
    }
}
