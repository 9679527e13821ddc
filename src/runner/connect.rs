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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::UserName;

    /// A key pair made by ssh-keygen in `dir`.
    fn key(dir: &std::path::Path) -> std::path::PathBuf {
        let path = dir.join("id_ed25519");
        let made = std::process::Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(&path).status().unwrap();
        assert!(made.success());
        path
    }

    /// The bastion is connected to once for all hosts, and when that fails every host is
    /// unreachable with the bastion's own error, naming it. (Here "bastion" is a listener on
    /// loopback that hangs up on every connection: no SSH handshake.)
    #[test]
    fn an_unusable_bastion_is_tried_once_and_named_for_every_host() {
        let dir = tempfile::tempdir().unwrap();
        let mut inv = crate::inventory::field_report();
        inv.ssh.private_key = key(dir.path());
        inv.ssh.known_hosts = dir.path().join("known_hosts");
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let (results, accepted) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("[::1]:0").await.unwrap();
            let port = listener.local_addr().unwrap().port();
            inv.ssh.bastion = Some(Bastion { address: std::net::Ipv6Addr::LOCALHOST, user: UserName::parse("jump").unwrap(), port, private_key: inv.ssh.private_key.clone() });
            let accepting = tokio::spawn(async move {
                let mut accepted = 0;
                while let Ok(Ok((stream, _))) = tokio::time::timeout(Duration::from_millis(500), listener.accept()).await {
                    accepted += 1;
                    drop(stream);
                }
                accepted
            });
            let connected = connect_all(&inv, &inv.hosts, Duration::from_secs(2)).await.unwrap();
            let results: Vec<String> = connected.into_iter().map(|c| c.transport.err().map(|e| e.to_string()).unwrap_or_default()).collect();
            (results, accepting.await.unwrap())
        });
        assert_eq!(accepted, 1, "one connection to the bastion for {} hosts", inv.hosts.len());
        let port = inv.ssh.bastion.as_ref().unwrap().port;
        for (host, message) in inv.hosts.iter().zip(&results) {
            assert_eq!(message, &format!("{}: through bastion ::1: no SSH handshake on port {port}: is sshd what listens there? (ssh.port, a host's ssh_port or ssh.bastion.port in the inventory)", host.address));
        }
    }

    /// A bastion with its own key that cannot be read stops the run before any host, like the
    /// hosts' key.
    #[test]
    fn an_unreadable_bastion_key_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut inv = crate::inventory::field_report();
        inv.ssh.private_key = key(dir.path());
        std::fs::write(dir.path().join("broken"), "not a key\n").unwrap();
        inv.ssh.bastion = Some(Bastion { address: "2002:db8:0:1::10".parse().unwrap(), user: UserName::parse("jump").unwrap(), port: 22, private_key: dir.path().join("broken") });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let error = runtime.block_on(connect_all(&inv, &inv.hosts, Duration::from_secs(1))).err().expect("refused");
        assert!(error.to_string().starts_with(&format!("cannot load SSH private key {}", dir.path().join("broken").display())), "{error}");
    }
}
