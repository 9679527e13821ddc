//! The `ssh:` section: the user, port and key v6deploy logs in with, the host key policy, and
//! the bastion (jump host) every connection goes through.

use serde_saphyr::Spanned;

use super::{Validator, default_value, defaults};
use crate::inventory::model::HostSpec;
use crate::inventory::{ProblemKind, Warning, WarningKind};
use crate::inventory::model::{Bastion, Become, HostKeyCheck, Ssh, UserName};
use crate::inventory::raw::{RawBastion, RawSsh, Text};

impl Validator<'_> {
    pub(super) fn ssh(&mut self, raw: Option<&RawSsh>) -> Ssh {
        let text = |t: Option<&Text>, default: &str| t.map_or(default.to_string(), |t| t.value.clone());
        let host_key_check = self.choice(
            raw.and_then(|s| s.host_key_check.as_ref()),
            "ssh.host_key_check",
            &[("strict", HostKeyCheck::Strict), ("accept-new", HostKeyCheck::AcceptNew)],
            &["strict", "accept-new"],
            HostKeyCheck::Strict,
        );
        let become_method = self.choice(
            raw.and_then(|s| s.become_method.as_ref()),
            "ssh.become",
            &[("none", Become::None), ("sudo", Become::Sudo)],
            &["none", "sudo"],
            Become::None,
        );
        let user = raw.and_then(|s| s.user.as_ref()).and_then(|t| self.typed(t, "ssh.user", UserName::parse)).unwrap_or_else(|| default_value(defaults::SSH_USER, UserName::parse));
        let port = raw.and_then(|s| s.port.as_ref()).map_or(defaults::SSH_PORT, |p| self.port(p, "ssh.port"));
        let private_key = self.resolve(&text(raw.and_then(|s| s.private_key.as_ref()), defaults::PRIVATE_KEY));
        let bastion = raw.and_then(|s| s.bastion.as_ref()).and_then(|b| self.bastion(&b.value, &user, port, &private_key));
        Ssh {
            user,
            port,
            private_key,
            known_hosts: self.resolve(&text(raw.and_then(|s| s.known_hosts.as_ref()), defaults::KNOWN_HOSTS)),
            host_key_check,
            become_method,
            bastion,
        }
    }

    /// `ssh.bastion`: its address (any textual form of a unicast IPv6 address), and its own
    /// user, port and key, each taken from the `ssh:` section when left out.
    fn bastion(&mut self, raw: &RawBastion, user: &UserName, port: u16, private_key: &std::path::Path) -> Option<Bastion> {
        let address = self.address(&raw.address, "ssh.bastion.address");
        let own_user = raw.user.as_ref().map(|t| self.typed(t, "ssh.bastion.user", UserName::parse));
        let own_port = raw.port.as_ref().map(|p| self.port(p, "ssh.bastion.port"));
        Some(Bastion {
            address: address?,
            user: own_user.unwrap_or_else(|| Some(user.clone()))?,
            port: own_port.unwrap_or(port),
            private_key: raw.private_key.as_ref().map_or_else(|| private_key.to_path_buf(), |t| self.resolve(&t.value)),
        })
    }

    /// Warns when the bastion is one of the hosts (see `WarningKind::BastionIsAHost`).
    pub(super) fn bastion_apart(&mut self, raw: Option<&RawSsh>, ssh: &Ssh, hosts: &[HostSpec]) {
        let (Some(bastion), Some(text)) = (&ssh.bastion, raw.and_then(|s| s.bastion.as_ref())) else { return };
        if let Some(i) = hosts.iter().position(|h| h.address == bastion.address) {
            let place = self.place(&text.value.address, "ssh.bastion.address");
            self.warnings.push(Warning { place, kind: WarningKind::BastionIsAHost { host: format!("hosts[{i}]") } });
        }
    }

    /// A TCP port: 1 to 65535 (`shape` refuses larger numbers already).
    pub(super) fn port(&mut self, port: &Spanned<u16>, field: &str) -> u16 {
        if port.value == 0 {
            let expected = "an SSH port is 1 to 65535 (22 is usual); leave the key out for the default";
            self.report(port, field, ProblemKind::OutOfRange { value: 0, expected });
        }
        port.value
    }
}
