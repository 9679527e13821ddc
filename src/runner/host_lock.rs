//! One run per host at a time: before a run changes a host, it takes `flock` on
//! `/var/lib/v6deploy/lock` in a command that stays on its SSH channel until the run ends
//! (`Transport::hold`), so the lock goes when the run does, even if it dies. A second run
//! against the host is refused, told who holds it (`pid@machine (command) since time`, kept
//! in `/var/lib/v6deploy/lock.owner` while the lock is held).
//!
//! A reboot (kernel upgrade) ends the holding command with the host: the run then continues
//! without the host's lock.

use std::sync::Arc;

use thiserror::Error;

use crate::transport::quote::quote;
use crate::transport::{Held, Holding, Transport, TransportError};

/// The directory of the lock on a host.
pub const LOCK_DIR: &str = "/var/lib/v6deploy";

/// The line the holding command prints once it holds the lock.
const LOCKED: &str = "v6deploy-locked";
/// The line it prints, followed by the holder, when another run holds it.
const BUSY: &str = "v6deploy-busy";

/// Why a run could not lock its hosts.
#[derive(Debug, Error)]
pub enum HostLockError {
    /// Another run holds the lock of these hosts.
    #[error("another v6deploy run is working on {}: wait for it to finish, then run again", describe(held))]
    Busy {
        /// (host, holder) pairs.
        held: Vec<(String, String)>,
    },
    /// The locking command failed.
    #[error("{host}: cannot lock {LOCK_DIR}/lock: {reason}")]
    Failed { host: String, reason: String },
    /// The host could not be asked.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

fn describe(held: &[(String, String)]) -> String {
    held.iter().map(|(host, holder)| format!("{host} (locked by {holder})")).collect::<Vec<_>>().join(", ")
}

/// The script that takes the lock for `owner` and holds it until its stdin ends. A run that
/// finds it held reads the holder from `lock.owner`, waiting up to 1 s for it: the holder
/// writes it just after taking the lock (two runs started together met in between).
pub fn lock_script(owner: &str) -> String {
    format!(
        "d={LOCK_DIR}; command -v flock >/dev/null || {{ echo 'flock (util-linux) is not installed' >&2; exit 2; }}\n\
         mkdir -p -m 0700 \"$d\" && exec 9>>\"$d/lock\" || exit 2\n\
         if flock -n 9; then printf '%s\\n' {owner} > \"$d/lock.owner\"; echo {LOCKED}; cat >/dev/null; : > \"$d/lock.owner\"; exit 0; fi\n\
         for i in 1 2 3 4 5 6 7 8 9 10; do [ -s \"$d/lock.owner\" ] && break; sleep 0.1; done\n\
         echo {BUSY}; cat \"$d/lock.owner\" 2>/dev/null; exit 0",
        owner = quote(owner)
    )
}

/// A host's lock, held until dropped.
pub struct HostLock {
    pub host: String,
    _held: Box<dyn Held>,
}

/// Locks every transport's host for `owner`; refuses when any is held by another run (the
/// locks taken meanwhile are released when the returned error's caller drops them).
///
/// The host with the lowest label is locked first, alone, then the others together: two runs
/// on the same hosts both start with that one, so one of them gets every host and the other
/// is refused there. (Locking all at once let each of two concurrent runs take some hosts and
/// both refuse.)
pub async fn lock_hosts(transports: &[Arc<dyn Transport>], owner: &str) -> (Vec<HostLock>, Result<(), HostLockError>) {
    let script = lock_script(owner);
    let mut order: Vec<&Arc<dyn Transport>> = transports.iter().collect();
    order.sort_by(|a, b| a.label().cmp(b.label()));
    let mut locks = Vec::new();
    let mut held = Vec::new();
    let mut failure = None;
    let (first, rest) = match order.split_first() {
        Some((first, rest)) => (vec![*first], rest.to_vec()),
        None => (Vec::new(), Vec::new()),
    };
    for group in [first, rest] {
        let results = futures::future::join_all(group.iter().map(|t| t.hold(&script, LOCKED))).await;
        for (transport, result) in group.iter().zip(results) {
            let host = transport.label().to_string();
            match result {
                Ok(Holding::Held(h)) => locks.push(HostLock { host, _held: h }),
                Ok(Holding::Ended(output)) => {
                    let text = output.stdout_text();
                    let mut lines = text.lines();
                    if lines.next() == Some(BUSY) {
                        let holder = lines.next().filter(|l| !l.is_empty()).unwrap_or("an unknown run").to_string();
                        held.push((host, holder));
                    } else {
                        let reason = if output.stderr_text().is_empty() { format!("exit {}: {text:?}", output.status) } else { output.stderr_text() };
                        failure.get_or_insert(HostLockError::Failed { host, reason });
                    }
                }
                Err(e) => {
                    failure.get_or_insert(HostLockError::Transport(e));
                }
            }
        }
        if !held.is_empty() || failure.is_some() {
            break;
        }
    }
    let outcome = if !held.is_empty() {
        Err(HostLockError::Busy { held })
    } else if let Some(f) = failure {
        Err(f)
    } else {
        Ok(())
    };
    (locks, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::fake::FakeTransport;

    /// Regression: nothing stopped two runs against the same host. The host whose lock is held
    /// refuses the run, naming the holder.
    #[tokio::test]
    async fn a_host_locked_by_another_run_refuses_and_names_the_holder() {
        let free = Arc::new(FakeTransport::new("2001:db8::1").expect("flock -n 9", &format!("{LOCKED}\n")));
        let busy = Arc::new(FakeTransport::new("2001:db8::2").expect("flock -n 9", &format!("{BUSY}\n4242@laptop (v6deploy -i x.yaml install) since 20250101T000000Z\n")));
        let transports: Vec<Arc<dyn Transport>> = vec![free.clone(), busy.clone()];
        let (locks, outcome) = lock_hosts(&transports, "1@here (v6deploy install) since now").await;
        assert_eq!(locks.iter().map(|l| l.host.as_str()).collect::<Vec<_>>(), ["2001:db8::1"]);
        let error = outcome.unwrap_err().to_string();
        assert_eq!(error, "another v6deploy run is working on 2001:db8::2 (locked by 4242@laptop (v6deploy -i x.yaml install) since 20250101T000000Z): wait for it to finish, then run again");
        free.verify();
        busy.verify();
        assert!(busy.log()[0].contains("'1@here (v6deploy install) since now'"), "{:?}", busy.log());
    }

    /// Regression: hosts were locked all at once, so two concurrent runs could each take some
    /// and both refuse. The lowest host is taken first and alone: when another run holds it,
    /// no other host is asked.
    #[tokio::test]
    async fn the_first_host_is_locked_alone_and_a_busy_one_stops_there() {
        let first = Arc::new(FakeTransport::new("2001:db8::1").expect("flock -n 9", &format!("{BUSY}\n7@other (v6deploy install) since then\n")));
        let second = Arc::new(FakeTransport::new("2001:db8::2"));
        let transports: Vec<Arc<dyn Transport>> = vec![second.clone(), first.clone()];
        let (locks, outcome) = lock_hosts(&transports, "1@here (v6deploy install) since now").await;
        assert!(locks.is_empty());
        assert!(outcome.unwrap_err().to_string().contains("2001:db8::1 (locked by 7@other"));
        first.verify();
        assert!(second.log().is_empty(), "{:?}", second.log());
    }

    /// The script on a real shell: the first holder keeps the lock while its stdin is open,
    /// a second one is told who holds it, and the lock is free again once the first ends.
    #[test]
    fn the_lock_script_holds_until_stdin_ends() {
        if std::process::Command::new("sh").arg("-c").arg("command -v flock").output().map(|o| !o.status.success()).unwrap_or(true) {
            return; // no flock here (it is in util-linux on every supported host)
        }
        let dir = tempfile::tempdir().unwrap();
        let local = |owner: &str| lock_script(owner).replace(LOCK_DIR, &dir.path().display().to_string());
        let mut first = std::process::Command::new("sh").arg("-c").arg(local("1@a (first) since t")).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(first.stdout.as_mut().unwrap()), &mut line).unwrap();
        assert_eq!(line, format!("{LOCKED}\n"));
        let second = std::process::Command::new("sh").arg("-c").arg(local("2@b (second) since t")).stdin(std::process::Stdio::null()).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&second.stdout), format!("{BUSY}\n1@a (first) since t\n"));
        drop(first.stdin.take());
        assert!(first.wait().unwrap().success());
        let third = std::process::Command::new("sh").arg("-c").arg(local("3@c (third) since t")).stdin(std::process::Stdio::null()).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&third.stdout), format!("{LOCKED}\n"));
    }
}
