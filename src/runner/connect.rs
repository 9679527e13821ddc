//! Connecting to every host at once: one SSH connection per host.

use std::sync::Arc;
use std::time::Duration;

use super::Connected;
use crate::inventory::{HostSpec, Inventory};
use crate::transport::{Credentials, Endpoint, SshSession, Transport, TransportError};

/// Opens one connection per host, all in parallel. Credential problems (an unreadable key)
/// are returned at once, since they concern every host alike.
pub async fn connect_all(inv: &Inventory, hosts: &[HostSpec], timeout: Duration) -> Result<Vec<Connected>, TransportError> {
    let credentials = Credentials::load(&inv.ssh.private_key)?;
    let connecting = hosts.iter().map(|host| {
        let endpoint = Endpoint {
            address: host.address,
            port: inv.ssh.port,
            user: inv.ssh.user.to_string(),
            credentials: credentials.clone(),
            known_hosts: inv.ssh.known_hosts.clone(),
            host_key_check: inv.ssh.host_key_check,
            become_method: inv.ssh.become_method,
            connect_timeout: timeout,
        };
        async move {
            let transport = SshSession::connect(endpoint).await.map(|s| Arc::new(s) as Arc<dyn Transport>);
            Connected { host: host.clone(), transport }
        }
    });
    Ok(futures::future::join_all(connecting).await)
}
