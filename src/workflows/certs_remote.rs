//! `certs check --remote`: the certificates each host holds, read in one round trip per host.

use anyhow::Result;

use crate::facts::{CERTS_SCRIPT, HostCert, parse_host_certs};
use crate::inventory::Inventory;

use super::remote::Remote;

/// What one host holds.
pub struct HostCerts {
    /// The host's address.
    pub host: String,
    /// Its certificates, or why they could not be read (with the cause chain).
    pub certs: Result<Vec<HostCert>, String>,
}

/// Reads the certificates of the hosts selected by `--hosts`, all at once.
pub fn read(remote: &Remote, inv: &Inventory) -> Result<Vec<HostCerts>> {
    let hosts = remote.select(inv)?;
    remote.block_on(async {
        let connected = remote.connect(inv, &hosts).await?;
        let reads = connected.into_iter().map(|c| async move {
            let host = c.host.address.to_string();
            let certs = match c.transport {
                Err(e) => Err(format!("{:#}", anyhow::Error::from(e))),
                Ok(t) => t.run(&CERTS_SCRIPT).await.map(|o| parse_host_certs(&o.stdout_text())).map_err(|e| format!("{:#}", anyhow::Error::from(e))),
            };
            HostCerts { host, certs }
        });
        Ok(futures::future::join_all(reads).await)
    })
}
