//! Running commands and moving files on a host: the `Transport` trait, its russh
//! implementation (one connection per host, channels multiplexed on it) and a scripted fake
//! for unit tests of step logic.
//!
//! Uploads and reads are built on `exec` (see `files`), so every transport gets batched,
//! atomic uploads, checked to have arrived whole, from one implementation.

mod error;
pub mod contents;
pub mod fake;
pub mod files;
mod hostkeys;
mod jump;
mod keys;
mod known_hosts;
mod ssh;

use std::future::Future;
use std::pin::Pin;

pub use error::TransportError;
pub use keys::Credentials;
pub use jump::Jump;
pub use ssh::{CONNECT_ONLY, Endpoint, SshSession};

/// What a remote command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit status (255 when the remote side gave none, e.g. killed by a signal).
    pub status: u32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    /// Whether the command exited 0.
    pub fn success(&self) -> bool {
        self.status == 0
    }

    /// Standard output as text (lossy).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Standard error as text (lossy, trimmed), for messages.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).trim().to_string()
    }
}

/// A command left running on a host by `Transport::hold`; dropping it ends the command.
pub trait Held: Send + Sync {}

/// What `Transport::hold` found.
pub enum Holding {
    /// The command printed its ready line and runs until this is dropped.
    Held(Box<dyn Held>),
    /// The command ended first, with this output.
    Ended(Output),
}

/// A `Held` for a command that has ended already.
struct NothingHeld;

impl Held for NothingHeld {}

/// A boxed future, so `Transport` can be used as `&dyn Transport` by steps.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way to run shell commands on one host.
pub trait Transport: Send + Sync {
    /// The host as shown in messages (its address).
    fn label(&self) -> &str;

    /// Runs `command` with `sh -c` semantics on the host, feeding `stdin`, and waits for it.
    /// A non-zero exit is not an error here; callers decide what it means.
    fn exec<'a>(&'a self, command: &'a str, stdin: &'a [u8]) -> BoxFuture<'a, Result<Output, TransportError>>;

    /// `exec` with stdin given as pieces sent one after the other (file contents shared with
    /// the specs): a transport that streams them never holds a copy of a large upload. The
    /// default concatenates them.
    fn exec_pieces<'a>(&'a self, command: &'a str, pieces: &'a [contents::Contents]) -> BoxFuture<'a, Result<Output, TransportError>> {
        Box::pin(async move {
            let mut stdin: Vec<u8> = Vec::new();
            for piece in pieces {
                let bytes = piece.load().map_err(|error| TransportError::LocalFile { host: self.label().to_string(), error })?;
                stdin.extend_from_slice(&bytes);
            }
            self.exec(command, &stdin).await
        })
    }

    /// Runs `command` and, once it prints the line `ready`, leaves it running (its stdin
    /// open) until the returned `Held` is dropped: a lock held for a run (see
    /// `runner::lock_hosts`). A command that ends without printing `ready` gives its output.
    /// The default runs it to the end: right for a scripted fake, whose commands hold nothing.
    fn hold<'a>(&'a self, command: &'a str, ready: &'a str) -> BoxFuture<'a, Result<Holding, TransportError>> {
        Box::pin(async move {
            let output = self.exec(command, &[]).await?;
            if output.stdout_text().lines().any(|l| l == ready) { Ok(Holding::Held(Box::new(NothingHeld))) } else { Ok(Holding::Ended(output)) }
        })
    }

    /// Drops the connection and opens a new one (after a change that may have cut the old one
    /// without closing it, e.g. a new address or a reboot). Transports without a connection
    /// do nothing.
    fn reconnect(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }

    /// Runs `command` and turns a non-zero exit into `TransportError::CommandFailed`.
    fn run<'a>(&'a self, command: &'a str) -> BoxFuture<'a, Result<Output, TransportError>> {
        Box::pin(async move {
            let output = self.exec(command, &[]).await?;
            if output.success() {
                Ok(output)
            } else {
                Err(TransportError::CommandFailed {
                    host: self.label().to_string(),
                    command: command.to_string(),
                    status: output.status,
                    stderr: output.stderr_text(),
                })
            }
        })
    }
}
