use std::path::PathBuf;

use thiserror::Error;

/// Why a host could not be reached or a command could not be run.
#[derive(Debug, Error)]
pub enum TransportError {
    /// TCP connection failed.
    #[error("{host}: cannot connect to {target}{}", connect_hint(source))]
    Connect {
        host: String,
        target: String,
        #[source]
        source: std::io::Error,
    },
    /// No answer within the connect timeout.
    #[error("{host}: no SSH answer within {seconds} s (host down, or port {port} filtered?)")]
    Timeout { host: String, port: u16, seconds: u64 },
    /// The host key is not in known_hosts and host_key_check is strict.
    /// `scan` is the ssh-keyscan command line for it (with `-p` for a port other than 22).
    #[error("{host}: host key {fingerprint} is not in {}; verify it out of band, then add it (`{scan} >> {}`, run where the host is reachable: on the bastion for a host behind one, then copy the line) or set ssh.host_key_check: accept-new for the first connection", file.display(), file.display())]
    HostKeyUnknown { host: String, scan: String, file: PathBuf, fingerprint: String },
    /// The host key differs from the one recorded: possibly an attack, possibly a reinstall.
    /// `known_as` is the host as known_hosts names it (`[address]:port` for a port other than 22).
    #[error("{host}: HOST KEY CHANGED: the host now presents {fingerprint}, but {} line {line} records a different key; if the host was reinstalled, remove that line (ssh-keygen -R {known_as} -f {}), otherwise do not connect", file.display(), file.display())]
    HostKeyChanged { host: String, known_as: String, file: PathBuf, line: usize, fingerprint: String },
    /// known_hosts marks the host's key `@revoked`.
    #[error("{host}: the host presents {fingerprint}, which {} line {line} marks @revoked: do not connect", file.display())]
    HostKeyRevoked { host: String, file: PathBuf, line: usize, fingerprint: String },
    /// A line of known_hosts names the host but cannot be used, and no usable line records a
    /// key: neither strict nor accept-new can judge the key (accept-new would record a second
    /// key beside one it could not read).
    #[error("{host}: {} line {line} names this host but cannot be used ({reason}); fix or remove that line (ssh-keygen -F {host} -f {} shows it), then connect again", file.display(), file.display())]
    KnownHostsLine { host: String, file: PathBuf, line: usize, reason: String },
    /// The address is outside the prefixes `V6DEPLOY_CONNECT_ONLY` allows (nothing was sent).
    #[error("{host}: not connecting: V6DEPLOY_CONNECT_ONLY={allowed} does not include this address")]
    NotAllowed { host: String, allowed: String },
    /// After a new connection, the run's lock on the host could not be taken again.
    #[error("{host}: the connection was renewed and the host's lock could not be taken again ({said}): another v6deploy run may be working on it; this host is stopped here")]
    LockLost { host: String, said: String },
    /// known_hosts could not be read or written.
    #[error("{host}: cannot use known_hosts file {}: {reason}", file.display())]
    KnownHosts { host: String, file: PathBuf, reason: String },
    /// The server refused every key we offered.
    #[error("{host}: authentication as {user} refused (offered {offered}); check authorized_keys on the host")]
    AuthRefused { host: String, user: String, offered: String },
    /// The private key could not be loaded.
    #[error("cannot load SSH private key {}: {reason}", path.display())]
    Key { path: PathBuf, reason: String },
    /// The TCP connection was made but no SSH handshake followed (another service on the port).
    #[error("{host}: no SSH handshake on port {port}: is sshd what listens there? (ssh.port, a host's ssh_port or ssh.bastion.port in the inventory)")]
    Handshake {
        host: String,
        port: u16,
        #[source]
        source: russh::Error,
    },
    /// The bastion could not be reached or refused us (`reason` names it, with its own error).
    #[error("{host}: through bastion {reason}")]
    Bastion { host: String, reason: String },
    /// The bastion answered but could not open a connection to the host.
    #[error("{host}: the bastion {bastion} cannot open a connection to {target}: {reason}")]
    Tunnel { host: String, bastion: String, target: String, reason: String },
    /// An SSH protocol error on an established connection.
    #[error("{host}: SSH protocol error")]
    Ssh {
        host: String,
        #[source]
        source: russh::Error,
    },
    /// The connection went down while a command ran: the host died, rebooted or lost its
    /// network, and whether the command finished is unknown.
    #[error("{host}: connection lost during the step (host down, rebooted or cut off from the network?)")]
    ConnectionLost { host: String },
    /// A command exited non-zero.
    #[error("{host}: `{command}` exited {status}: {stderr}")]
    CommandFailed { host: String, command: String, status: u32, stderr: String },
    /// Output of a helper script did not have the expected shape.
    #[error("{host}: unexpected output from {what}: {detail}")]
    Protocol { host: String, what: &'static str, detail: String },
    /// A path to write holds a control character (refused before the host is touched).
    #[error("{host}: refusing to write {name:?}: the path holds a control character")]
    UnsafeName { host: String, name: String },
    /// A local file to send could not be read (or changed while it was sent). Not a
    /// `source`: the message says it all, and a chain would say it twice.
    #[error("{host}: {error}")]
    LocalFile { host: String, error: std::io::Error },
    /// A scripted fake transport got a command it was not told to expect.
    #[error("{host}: unexpected command (fake transport): {command}")]
    Unexpected { host: String, command: String },
}

impl TransportError {
    /// Whether the error means the host could not be reached at all (for the recap).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, TransportError::NotAllowed { .. } | TransportError::Connect { .. } | TransportError::Timeout { .. } | TransportError::Handshake { .. } | TransportError::Bastion { .. } | TransportError::Tunnel { .. } | TransportError::Ssh { .. } | TransportError::ConnectionLost { .. })
    }
}

/// What the russh handler reports; converted to `TransportError` with the host's name.
#[derive(Debug)]
pub(crate) enum HandlerError {
    Ssh(russh::Error),
    Rejected(TransportError),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Ssh(e)
    }
}

/// What to check after a failed TCP connect, by its cause (the cause itself is the source).
fn connect_hint(source: &std::io::Error) -> &'static str {
    match source.kind() {
        std::io::ErrorKind::ConnectionRefused => " (nothing listens there: is sshd running on the host, on the port the inventory gives: ssh.port, its ssh_port, or ssh.bastion.port?)",
        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => " (no route: check the address and this machine's IPv6 route to it)",
        _ => "",
    }
}
