//! How v6deploy reaches one host over SSH: the user and port (the `ssh:` section, or the
//! host's own `ssh_user`/`ssh_port`), and the bastion every connection goes through, if any.

use std::fmt;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use serde::Serialize;

use super::model::{HostSpec, Inventory};
use super::values::UserName;
use crate::net::hostport;

/// The jump host (`ssh.bastion`): v6deploy connects to it, then to every host through a
/// `direct-tcpip` channel of that connection (OpenSSH's ProxyJump). Its host key is checked
/// against the same known_hosts, with the same policy, as the hosts' keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bastion {
    pub address: Ipv6Addr,
    /// `ssh.bastion.user`, else `ssh.user`.
    pub user: UserName,
    /// `ssh.bastion.port`, else `ssh.port`.
    pub port: u16,
    /// `ssh.bastion.private_key` (resolved like `ssh.private_key`), else `ssh.private_key`.
    pub private_key: PathBuf,
}

/// The way to one host: who logs in where, and through which bastion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub user: UserName,
    pub address: Ipv6Addr,
    pub port: u16,
    pub bastion: Option<Bastion>,
}

impl Inventory {
    /// How to reach `host`: its own `ssh_user`/`ssh_port` over the `ssh:` section's, and the
    /// bastion when there is one.
    pub fn route(&self, host: &HostSpec) -> Route {
        Route {
            user: host.ssh_user.clone().unwrap_or_else(|| self.ssh.user.clone()),
            address: host.address,
            port: host.ssh_port.unwrap_or(self.ssh.port),
            bastion: self.ssh.bastion.clone(),
        }
    }
}

impl Route {
    /// `via bastion [addr]:port`, or nothing for a direct connection: what a recap row adds.
    pub fn via(&self) -> Option<String> {
        self.bastion.as_ref().map(|b| format!("via bastion {}", hostport(b.address, b.port)))
    }
}

impl fmt::Display for Route {
    /// `root@[2001:db8::102]:22`, then ` via bastion jump@[2001:db8::101]:22` when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.user, hostport(self.address, self.port))?;
        if let Some(b) = &self.bastion {
            write!(f, " via bastion {}@{}", b.user, hostport(b.address, b.port))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_override_wins_over_the_ssh_section_and_the_bastion_is_shown() {
        let mut inv = crate::inventory::field_report();
        assert_eq!(inv.route(&inv.hosts[0]).to_string(), "root@[2002:db8:0:1::101]:22");
        assert_eq!(inv.route(&inv.hosts[0]).via(), None);
        inv.hosts[1].ssh_user = Some(UserName::parse("ops").unwrap());
        inv.hosts[1].ssh_port = Some(2222);
        inv.ssh.bastion = Some(Bastion { address: "2002:db8:0:1::101".parse().unwrap(), user: UserName::parse("jump").unwrap(), port: 2022, private_key: "/k".into() });
        let route = inv.route(&inv.hosts[1]);
        assert_eq!(route.to_string(), "ops@[2002:db8:0:1::102]:2222 via bastion jump@[2002:db8:0:1::101]:2022");
        assert_eq!(route.via().as_deref(), Some("via bastion [2002:db8:0:1::101]:2022"));
        assert_eq!(inv.route(&inv.hosts[2]).to_string(), "root@[2002:db8:0:1::103]:22 via bastion jump@[2002:db8:0:1::101]:2022");
    }
}
