//! Connecting to every host at once: one SSH connection per host, each through the bastion's
//! one shared connection when the inventory has `ssh.bastion` (see `transport::Jump`).

use std::sync::Arc;
use std::time::Duration;

use super::Connected;
use crate::inventory::{Become, Bastion, HostSpec, Inventory};
use crate::transport::{Credentials, Endpoint, Jump, SshSession, Transport, TransportError};

/// Opens one connection per host, all in parallel, after the bastion's when there is one.
/// Credential problems (an unreadable key) are returned at once, since they concern every
/// host alike; a bastion that cannot be reached makes every host unreachable, each with the
/// bastion's error.
pub async fn connect_all(inv: &Inventory, hosts: &[HostSpec], timeout: Duration) -> Result<Vec<Connected>, TransportError> {
    let credentials = Credentials::load(&inv.ssh.private_key)?;
    let jump = match &inv.ssh.bastion {
        Some(bastion) => Some(connect_bastion(inv, bastion, &credentials, timeout).await?),
        None => None,
    };
    let connecting = hosts.iter().map(|host| {
        let route = inv.route(host);
        let endpoint = Endpoint {
            address: host.address,
            port: route.port,
            user: route.user.to_string(),
            credentials: credentials.clone(),
            known_hosts: inv.ssh.known_hosts.clone(),
            host_key_check: inv.ssh.host_key_check,
            become_method: inv.ssh.become_method,
            connect_timeout: timeout,
            jump: jump.as_ref().and_then(|j| j.as_ref().ok()).cloned(),
        };
        let bastion_down = match &jump {
            Some(Err(reason)) => Some(TransportError::Bastion { host: host.address.to_string(), reason: reason.clone() }),
            _ => None,
        };
        async move {
            let transport = match bastion_down {
                Some(error) => Err(error),
                None => SshSession::connect(endpoint).await.map(|s| Arc::new(s) as Arc<dyn Transport>),
            };
            Connected { host: host.clone(), transport }
        }
    });
    Ok(futures::future::join_all(connecting).await)
}

/// The bastion's connection, opened once for all hosts; `Err` holds why it failed (the
/// bastion's own error, naming it), which each host then reports.
async fn connect_bastion(inv: &Inventory, bastion: &Bastion, credentials: &Credentials, timeout: Duration) -> Result<Result<Arc<Jump>, String>, TransportError> {
    let credentials = if bastion.private_key == inv.ssh.private_key { credentials.clone() } else { Credentials::load(&bastion.private_key)? };
    let jump = Jump::new(Endpoint {
        address: bastion.address,
        port: bastion.port,
        user: bastion.user.to_string(),
        credentials,
        known_hosts: inv.ssh.known_hosts.clone(),
        host_key_check: inv.ssh.host_key_check,
        become_method: Become::None,
        connect_timeout: timeout,
        jump: None,
    });
    Ok(match jump.connect().await {
        Ok(()) => Ok(Arc::new(jump)),
        Err(error) => Err(error.to_string()),
    })
}
