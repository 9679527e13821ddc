//! The russh transport: one SSH connection per host, many channels on it.
//!
//! OpenSSH allows 10 sessions per connection by default (MaxSessions), so at most
//! `MAX_CHANNELS` commands run at once on one connection; more wait for a permit. A dropped
//! connection is re-established once, transparently, before a command is started;
//! `reconnect` replaces one that may be dead without being closed (after a reboot or an
//! address change).

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::Either;
use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::PrivateKeyWithHashAlg;
use tokio::sync::{Mutex, Semaphore};

use super::contents::{CHUNK, Contents, LocalFile};
use super::error::HandlerError;
use super::hostkeys::HostKeyVerifier;
use super::jump::Jump;
use crate::shell::quote;
use super::{BoxFuture, Credentials, Held, Holding, Output, Transport, TransportError};
use crate::inventory::{Become, HostKeyCheck};

/// Channels open at once on one connection (below OpenSSH's default MaxSessions of 10).
pub const MAX_CHANNELS: usize = 8;

/// Everything needed to (re)connect to one host.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub address: Ipv6Addr,
    pub port: u16,
    pub user: String,
    pub credentials: Credentials,
    pub known_hosts: PathBuf,
    pub host_key_check: HostKeyCheck,
    pub become_method: Become,
    pub connect_timeout: Duration,
    /// The bastion's connection, shared by every host behind it (`ssh.bastion`).
    pub jump: Option<Arc<Jump>>,
}

/// A live connection to one host.
pub struct SshSession {
    endpoint: Endpoint,
    label: String,
    handle: Mutex<Arc<Handle<HostKeyVerifier>>>,
    channels: Semaphore,
    /// The commands held on this host (`hold`: the run's lock), taken again on every new
    /// connection, with the holders of those retakes.
    holds: std::sync::Mutex<Vec<(String, String)>>,
    reheld: std::sync::Mutex<Vec<Box<dyn Held>>>,
    /// Bumped on every new connection: the held commands of the old one get their end of
    /// input (when it still carries anything), so the host's lock passes to the new holder.
    generation: tokio::sync::watch::Sender<u64>,
}

/// How often a held command gets a heartbeat byte (the lock gives up after a silence, see
/// `runner::host_lock`).
const HEARTBEAT: Duration = Duration::from_secs(10);

impl SshSession {
    /// Connects, verifies the host key and authenticates.
    pub async fn connect(endpoint: Endpoint) -> Result<SshSession, TransportError> {
        let label = endpoint.address.to_string();
        let handle = open(&endpoint).await?;
        Ok(SshSession {
            endpoint,
            label,
            handle: Mutex::new(Arc::new(handle)),
            channels: Semaphore::new(MAX_CHANNELS),
            holds: std::sync::Mutex::default(),
            reheld: std::sync::Mutex::default(),
            generation: tokio::sync::watch::Sender::new(0),
        })
    }

    /// The current connection, reconnecting once if it was dropped (and holding again what
    /// was held: the run's lock goes with a lost connection).
    async fn handle(&self) -> Result<Arc<Handle<HostKeyVerifier>>, TransportError> {
        let mut guard = self.handle.lock().await;
        if guard.is_closed() {
            tracing::warn!(host = %self.label, "connection lost, reconnecting");
            let fresh = Arc::new(open(&self.endpoint).await?);
            self.hold_again(&fresh).await?;
            *guard = fresh;
        }
        Ok(Arc::clone(&guard))
    }

    /// Runs every held command again on `handle` (a new connection); a command that does not
    /// become ready (the lock taken by another run meanwhile) fails the host.
    async fn hold_again(&self, handle: &Handle<HostKeyVerifier>) -> Result<(), TransportError> {
        self.generation.send_modify(|g| *g += 1);
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut reheld = Vec::new();
        for (command, ready) in &holds {
            match self.hold_with(handle, command, ready).await? {
                Holding::Held(held) => reheld.push(held),
                Holding::Ended(output) => {
                    let said = format!("{} {}", output.stdout_text().trim(), output.stderr_text().trim()).trim().replace('\n', " ");
                    return Err(TransportError::LockLost { host: self.label.clone(), said });
                }
            }
        }
        if !holds.is_empty() {
            tracing::info!(host = %self.label, "the connection was renewed; its lock is held again");
        }
        *self.reheld.lock().unwrap_or_else(|p| p.into_inner()) = reheld;
        Ok(())
    }

    /// Closes the connection politely.
    pub async fn close(&self) {
        let handle = self.handle.lock().await;
        let _ = handle.disconnect(russh::Disconnect::ByApplication, "", "en").await;
    }

    fn ssh_error(&self, source: russh::Error) -> TransportError {
        if connection_gone(&source) {
            return TransportError::ConnectionLost { host: self.label.clone() };
        }
        TransportError::Ssh { host: self.label.clone(), source }
    }
}

impl Transport for SshSession {
    fn label(&self) -> &str {
        &self.label
    }

    fn exec<'a>(&'a self, command: &'a str, stdin: &'a [u8]) -> BoxFuture<'a, Result<Output, TransportError>> {
        Box::pin(self.exec_on_channel(command, Stdin::Bytes(stdin)))
    }

    fn exec_pieces<'a>(&'a self, command: &'a str, pieces: &'a [Contents]) -> BoxFuture<'a, Result<Output, TransportError>> {
        Box::pin(self.exec_on_channel(command, Stdin::Pieces(pieces)))
    }

    fn hold<'a>(&'a self, command: &'a str, ready: &'a str) -> BoxFuture<'a, Result<Holding, TransportError>> {
        Box::pin(self.hold_on_channel(command, ready))
    }

    fn reconnect(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            // Opened before the lock is taken, so a slow connect does not hold up the others;
            // the old connection ends when its last user drops it.
            let fresh = open(&self.endpoint).await?;
            self.hold_again(&fresh).await?;
            *self.handle.lock().await = Arc::new(fresh);
            Ok(())
        })
    }
}

impl SshSession {
    /// `command` as the host runs it: through `sudo` when the inventory says so.
    fn wrapped<'a>(&self, command: &'a str) -> std::borrow::Cow<'a, str> {
        match self.endpoint.become_method {
            Become::None => command.into(),
            Become::Sudo => format!("sudo -n -- sh -c {}", quote(command)).into(),
        }
    }

    /// See `Transport::hold`. The held channel takes no permit: it is the one session above
    /// `MAX_CHANNELS` that OpenSSH's MaxSessions (10) leaves room for.
    async fn hold_on_channel(&self, command: &str, ready: &str) -> Result<Holding, TransportError> {
        let handle = self.handle().await?;
        let holding = self.hold_with(&handle, command, ready).await?;
        if matches!(holding, Holding::Held(_)) {
            self.holds.lock().unwrap_or_else(|p| p.into_inner()).push((command.to_string(), ready.to_string()));
        }
        Ok(holding)
    }

    /// `hold` on a given connection; the held command gets a heartbeat byte every
    /// [`HEARTBEAT`] until the holder is dropped.
    async fn hold_with(&self, handle: &Handle<HostKeyVerifier>, command: &str, ready: &str) -> Result<Holding, TransportError> {
        let command = self.wrapped(command);
        let channel = handle.channel_open_session().await.map_err(|e| self.ssh_error(e))?;
        channel.exec(true, command.as_bytes()).await.map_err(|e| self.ssh_error(e))?;
        let (mut reader, writer) = channel.split();
        let mut output = Output { status: 255, ..Output::default() };
        while let Some(message) = reader.wait().await {
            match message {
                ChannelMsg::Data { data } => {
                    output.stdout.extend_from_slice(&data);
                    if output.stdout_text().lines().any(|l| l == ready) {
                        return Ok(Holding::Held(Box::new(HeldChannel::beating(writer, reader, self.generation.subscribe()))));
                    }
                }
                ChannelMsg::ExtendedData { data, .. } => output.stderr.extend_from_slice(&data),
                ChannelMsg::ExitStatus { exit_status } => output.status = exit_status,
                _ => {}
            }
        }
        Ok(Holding::Ended(output))
    }

    async fn exec_on_channel(&self, command: &str, stdin: Stdin<'_>) -> Result<Output, TransportError> {
        let _permit = self.channels.acquire().await.map_err(|_| self.ssh_error(russh::Error::Disconnect))?;
        let command = self.wrapped(command);
        let command = command.as_ref();
        let handle = self.handle().await?;
        let channel = handle.channel_open_session().await.map_err(|e| self.ssh_error(e))?;
        channel.exec(true, command).await.map_err(|e| self.ssh_error(e))?;
        let (mut reader, writer) = channel.split();
        // Stdin is sent while output is read, and the send is dropped once the channel has
        // ended: russh's `data_bytes` waits for window space with no regard for the
        // connection, so a connection killed mid-upload, or a command that exits without
        // reading its stdin, would otherwise hang the run forever.
        // A local file that cannot be read (or changed) while it is sent stops the send; the
        // command then sees its stdin end without the trailer and fails, and the read error is
        // what the caller is told.
        let mut local_error: Option<std::io::Error> = None;
        let sending = async {
            match stdin {
                Stdin::Bytes(bytes) if !bytes.is_empty() => writer.data_bytes(bytes.to_vec()).await?,
                Stdin::Bytes(_) => {}
                // Contents in memory go as slices of the shared bytes; a local file is read a
                // chunk at a time. The channel's window bounds what is in flight, so a 20 MB
                // binary pushed to 50 hosts is never held whole.
                Stdin::Pieces(pieces) => {
                    for piece in pieces.iter().filter(|p| !p.is_empty()) {
                        match piece {
                            Contents::Memory(bytes) => writer.data_bytes(bytes::Bytes::from_owner(SharedBytes(Arc::clone(bytes)))).await?,
                            Contents::Local(file) => {
                                if let Err(e) = send_file(&writer, file).await {
                                    match e {
                                        SendError::Local(e) => local_error = Some(e),
                                        SendError::Ssh(e) => return Err(e),
                                    }
                                    break;
                                }
                            }
                        }
                    }
                }
            }
            writer.eof().await
        };
        let receiving = async {
            let mut output = Output { status: 255, ..Output::default() };
            let mut ended = false;
            while let Some(message) = reader.wait().await {
                match message {
                    ChannelMsg::Data { data } => output.stdout.extend_from_slice(&data),
                    ChannelMsg::ExtendedData { data, .. } => output.stderr.extend_from_slice(&data),
                    ChannelMsg::ExitStatus { exit_status } => {
                        output.status = exit_status;
                        ended = true;
                    }
                    ChannelMsg::ExitSignal { signal_name, .. } => {
                        output.stderr.extend_from_slice(format!("killed by signal {signal_name:?}").as_bytes());
                        ended = true;
                    }
                    _ => {}
                }
            }
            (output, ended)
        };
        // A send that failed because the connection went away shows below as a channel
        // without an exit status.
        let (output, ended) = match futures::future::select(std::pin::pin!(sending), std::pin::pin!(receiving)).await {
            Either::Left((_sent, receiving)) => receiving.await,
            Either::Right((received, _unsent)) => received,
        };
        // sshd always reports how a command ended; a channel that closes without saying so
        // went down with the connection (the host died, rebooted or lost its network).
        if let Some(source) = local_error {
            return Err(TransportError::LocalFile { host: self.label.clone(), error: source });
        }
        if !ended {
            return Err(TransportError::ConnectionLost { host: self.label.clone() });
        }
        Ok(output)
    }
}

/// A command kept running on its channel; dropped, it gets end-of-file on stdin and the
/// channel is closed (and if that cannot be sent, the connection's end does the same).
/// A held command: a task writes its heartbeats and, once this is dropped, ends its stdin and
/// closes the channel.
struct HeldChannel {
    _stop: tokio::sync::oneshot::Sender<()>,
    _reader: russh::ChannelReadHalf,
}

impl HeldChannel {
    fn beating(writer: russh::ChannelWriteHalf<client::Msg>, reader: russh::ChannelReadHalf, mut generation: tokio::sync::watch::Receiver<u64>) -> HeldChannel {
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEARTBEAT);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    // Dropped (or sent): the holder is gone.
                    _ = &mut stopped => break,
                    // A new connection holds it now.
                    _ = generation.changed() => break,
                    _ = beat.tick() => {
                        if writer.data(&b"\n"[..]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = writer.eof().await;
            let _ = writer.close().await;
        });
        HeldChannel { _stop: stop, _reader: reader }
    }
}

impl Held for HeldChannel {}

/// What a command reads on stdin.
#[derive(Clone, Copy)]
enum Stdin<'a> {
    Bytes(&'a [u8]),
    /// Sent one after the other, never concatenated (see `Transport::exec_pieces`).
    Pieces(&'a [Contents]),
}

/// Why sending a local file stopped.
enum SendError {
    Local(std::io::Error),
    Ssh(russh::Error),
}

/// Sends a local file a chunk at a time, read on the blocking pool; exactly `file.len` bytes
/// of the version that was checksummed, or an error (then the caller sends no trailer and the
/// host's write fails, see `files::write_script`).
async fn send_file(writer: &russh::ChannelWriteHalf<client::Msg>, file: &Arc<LocalFile>) -> Result<(), SendError> {
    use std::io::Read;
    let opened = Arc::clone(file);
    let mut handle = tokio::task::spawn_blocking(move || opened.open()).await.map_err(|e| SendError::Local(std::io::Error::other(e)))?.map_err(SendError::Local)?;
    let mut sent: u64 = 0;
    loop {
        let (back, chunk) = tokio::task::spawn_blocking(move || {
            let mut chunk = vec![0u8; CHUNK];
            let n = handle.read(&mut chunk);
            (handle, n.map(|n| {
                chunk.truncate(n);
                chunk
            }))
        })
        .await
        .map_err(|e| SendError::Local(std::io::Error::other(e)))?;
        handle = back;
        let chunk = chunk.map_err(|e| SendError::Local(super::contents::with_path(e, &file.path, "read")))?;
        if chunk.is_empty() {
            break;
        }
        sent += chunk.len() as u64;
        if sent > file.len {
            break;
        }
        writer.data_bytes(chunk).await.map_err(SendError::Ssh)?;
    }
    file.check_len(sent).map_err(SendError::Local)?;
    let meta = handle.metadata().map_err(|e| SendError::Local(super::contents::with_path(e, &file.path, "stat")))?;
    file.check_unchanged(&meta).map_err(SendError::Local)
}

/// Shared file contents as the owner of a `Bytes`.
struct SharedBytes(Arc<[u8]>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Whether an error on an established connection means the connection is gone (the host
/// died, rebooted or was cut off), rather than a protocol problem.
fn connection_gone(error: &russh::Error) -> bool {
    use russh::Error;
    matches!(
        error,
        Error::Disconnect | Error::HUP | Error::KeepaliveTimeout | Error::InactivityTimeout | Error::ConnectionTimeout | Error::SendError | Error::RecvError | Error::IO(_)
    )
}

/// The environment variable that limits where v6deploy connects: comma-separated IPv6
/// prefixes; when set, any other address but loopback is refused before a packet is sent. The test suite
/// sets it (`.cargo/config.toml`) to the lab's range, so that no test can reach a real host
/// (the field report's 2002:db8::/32 is a real 6to4 range); an operator may set it too.
pub const CONNECT_ONLY: &str = "V6DEPLOY_CONNECT_ONLY";

/// Refuses `address` when [`CONNECT_ONLY`] is set and no prefix of it holds the address
/// (loopback, which never leaves this machine, is always allowed).
fn allowed(address: Ipv6Addr) -> Result<(), TransportError> {
    let Ok(value) = std::env::var(CONNECT_ONLY) else { return Ok(()) };
    if address.is_loopback() {
        return Ok(());
    }
    let nets: Vec<ipnet::Ipv6Net> = value.split(',').filter_map(|n| n.trim().parse().ok()).collect();
    if nets.iter().any(|n| n.contains(&address)) {
        return Ok(());
    }
    Err(TransportError::NotAllowed { host: address.to_string(), allowed: value })
}

/// Opens one authenticated connection: through the bastion's connection when the endpoint
/// has one, else straight to the host.
async fn open(endpoint: &Endpoint) -> Result<Handle<HostKeyVerifier>, TransportError> {
    let Some(jump) = &endpoint.jump else { return open_direct(endpoint).await };
    allowed(endpoint.address)?;
    let host = endpoint.address.to_string();
    let stream = jump.tunnel(&host, SocketAddrV6::new(endpoint.address, endpoint.port, 0, 0)).await?;
    let mut handle = handshake(endpoint, stream).await?;
    authenticate(&mut handle, endpoint, &host).await?;
    Ok(handle)
}

/// Opens one authenticated connection over TCP straight to the endpoint (a host, or the
/// bastion itself).
pub(super) async fn open_direct(endpoint: &Endpoint) -> Result<Handle<HostKeyVerifier>, TransportError> {
    allowed(endpoint.address)?;
    let host = endpoint.address.to_string();
    let target = SocketAddr::V6(SocketAddrV6::new(endpoint.address, endpoint.port, 0, 0));
    let timeout = || TransportError::Timeout { host: host.clone(), port: endpoint.port, seconds: endpoint.connect_timeout.as_secs() };
    let stream = tokio::time::timeout(endpoint.connect_timeout, tokio::net::TcpStream::connect(target))
        .await
        .map_err(|_| timeout())?
        .map_err(|source| TransportError::Connect { host: host.clone(), target: target.to_string(), source })?;
    stream.set_nodelay(true).ok();
    let mut handle = handshake(endpoint, stream).await?;
    authenticate(&mut handle, endpoint, &host).await?;
    Ok(handle)
}

/// The ciphers offered, best first. With AES instructions on this CPU (and a server almost
/// always has them too), AES-GCM costs both ends about half of what ChaCha20-Poly1305 does per
/// byte (measured on the lab: 468 MB through OpenSSH, 0.19 s of the client's CPU against
/// 0.44 s; the bundle goes to every host, so this is most of v6deploy's own CPU in a first
/// install); without them ChaCha20-Poly1305 is the faster, as OpenSSH's default order assumes.
fn cipher_order() -> &'static [russh::cipher::Name] {
    use russh::cipher::{AES_128_GCM, AES_256_CTR, AES_256_GCM, CHACHA20_POLY1305};
    const AES_FIRST: &[russh::cipher::Name] = &[AES_256_GCM, AES_128_GCM, CHACHA20_POLY1305, AES_256_CTR];
    const CHACHA_FIRST: &[russh::cipher::Name] = &[CHACHA20_POLY1305, AES_256_GCM, AES_128_GCM, AES_256_CTR];
    if aes_in_hardware() { AES_FIRST } else { CHACHA_FIRST }
}

/// Whether this CPU has AES instructions (and carry-less multiply, which GCM needs).
fn aes_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("aes") && std::arch::is_x86_feature_detected!("pclmulqdq")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("aes") && std::arch::is_aarch64_feature_detected!("pmull")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        false
    }
}

/// The SSH handshake and the host key check on an open byte stream (a TCP connection, or a
/// `direct-tcpip` channel of the bastion's connection).
async fn handshake<S>(endpoint: &Endpoint, stream: S) -> Result<Handle<HostKeyVerifier>, TransportError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let host = endpoint.address.to_string();
    let config = Arc::new(client::Config {
        keepalive_interval: Some(Duration::from_secs(15)),
        keepalive_max: 3,
        nodelay: true,
        preferred: russh::Preferred { cipher: std::borrow::Cow::Borrowed(cipher_order()), ..russh::Preferred::default() },
        ..client::Config::default()
    });
    let verifier = HostKeyVerifier {
        address: endpoint.address,
        port: endpoint.port,
        known_hosts: endpoint.known_hosts.clone(),
        check: endpoint.host_key_check,
    };
    let connecting = client::connect_stream(config, stream, verifier);
    match tokio::time::timeout(endpoint.connect_timeout, connecting).await {
        Err(_) => Err(TransportError::Timeout { host, port: endpoint.port, seconds: endpoint.connect_timeout.as_secs() }),
        Ok(Err(HandlerError::Rejected(e))) => Err(e),
        Ok(Err(HandlerError::Ssh(source))) => Err(TransportError::Handshake { host, port: endpoint.port, source }),
        Ok(Ok(handle)) => Ok(handle),
    }
}

async fn authenticate(handle: &mut Handle<HostKeyVerifier>, endpoint: &Endpoint, host: &str) -> Result<(), TransportError> {
    let ssh_error = |source| TransportError::Ssh { host: host.to_string(), source };
    let refused = || TransportError::AuthRefused {
        host: host.to_string(),
        user: endpoint.user.clone(),
        offered: endpoint.credentials.describe(),
    };
    match &endpoint.credentials {
        Credentials::Key { key, .. } => {
            let hash = handle.best_supported_rsa_hash().await.map_err(ssh_error)?.flatten();
            let result = handle
                .authenticate_publickey(endpoint.user.clone(), PrivateKeyWithHashAlg::new(Arc::clone(key), hash))
                .await
                .map_err(ssh_error)?;
            if result.success() { Ok(()) } else { Err(refused()) }
        }
        Credentials::Agent => {
            let mut agent = russh::keys::agent::client::AgentClient::connect_env().await.map_err(|_| refused())?;
            let identities = agent.request_identities().await.map_err(|_| refused())?;
            for identity in identities {
                let russh::keys::agent::AgentIdentity::PublicKey { key, .. } = identity else { continue };
                let hash = handle.best_supported_rsa_hash().await.map_err(ssh_error)?.flatten();
                let result = handle.authenticate_publickey_with(endpoint.user.clone(), key, hash, &mut agent).await;
                if matches!(result, Ok(r) if r.success()) {
                    return Ok(());
                }
            }
            Err(refused())
        }
    }
}
