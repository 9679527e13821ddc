//! One run per host at a time: before a run changes a host, it takes `flock` on
//! `/var/lib/v6deploy/lock` in a command that stays on its SSH channel until the run ends
//! (`Transport::hold`), so the lock goes when the run does, even if it dies. A second run
//! against the host is refused, told who holds it (`pid@machine (command) since time`, kept
//! in `/var/lib/v6deploy/lock.owner` while the lock is held).
//!
//! The holder is kept alive by the run: the SSH transport writes a heartbeat byte to the
//! holding command every few seconds, and the command gives the lock up after
//! [`SILENCE_SECONDS`] without one, so the lock of a run that died with its connection (a
//! laptop lid closed, a cut network: nothing that sshd notices for hours) goes within a minute.
//! When the transport reconnects (after a reboot or a network change) it takes the lock again
//! for the same owner, waiting for its own old holder to give up; a host another run locked
//! meanwhile fails. `v6deploy unlock` shows the holder (`lock.owner`, and the holding
//! command's pid in `lock.pid`) and ends it.

use std::sync::Arc;

use thiserror::Error;

use crate::shell::quote;
use crate::transport::{Held, Holding, Transport, TransportError};

/// The directory of the lock on a host.
pub const LOCK_DIR: &str = "/var/lib/v6deploy";

/// The line the holding command prints once it holds the lock.
const LOCKED: &str = "v6deploy-locked";
/// The line it prints, followed by the holder, when another run holds it.
const BUSY: &str = "v6deploy-busy";
/// How long the holding command waits for a heartbeat before it gives the lock up.
pub const SILENCE_SECONDS: u64 = 45;

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

/// The script that takes the lock for `owner` and holds it while its stdin brings a byte at
/// least every [`SILENCE_SECONDS`] (it ends at the end of stdin, or after that silence). A
/// lock held under the same owner (this run's holder on its previous connection) counts as
/// held at once, and the script takes it over when that holder goes (up to 120 s): a
/// reconnect never waits for it.
/// A run that finds it held by another reads the holder from `lock.owner`, waiting up to 1 s
/// for it: the holder writes it just after taking the lock (two runs started together met in
/// between). Held with no owner written, the lock is being let go (a holder empties
/// `lock.owner` before it exits: a reconnecting run met its old holder there and was refused)
/// or was just taken: the script waits up to 2 s for it first.
pub fn lock_script(owner: &str) -> String {
    lock_script_with(owner, SILENCE_SECONDS)
}

fn lock_script_with(owner: &str, silence: u64) -> String {
    format!(
        "d={LOCK_DIR}; command -v flock >/dev/null || {{ echo 'flock (util-linux) is not installed' >&2; exit 2; }}\n\
         mkdir -p -m 0700 \"$d\" && exec 9>>\"$d/lock\" || exit 2\n\
         got=''; if flock -n 9; then got=now\n\
         elif [ \"$(cat \"$d/lock.owner\" 2>/dev/null)\" = {owner} ]; then echo {LOCKED}; flock -w 120 9 || exit 0; got=after\n\
         elif [ ! -s \"$d/lock.owner\" ] && flock -w 2 9; then got=now; fi\n\
         if [ -n \"$got\" ]; then printf '%s\\n' {owner} > \"$d/lock.owner\"; echo $$ > \"$d/lock.pid\"; [ $got = now ] && echo {LOCKED}\n\
         while [ \"$(timeout {silence} head -c 1 9>&- | wc -c)\" -eq 1 ]; do :; done\n\
         : > \"$d/lock.owner\"; rm -f \"$d/lock.pid\"; exit 0; fi\n\
         for i in 1 2 3 4 5 6 7 8 9 10; do [ -s \"$d/lock.owner\" ] && break; sleep 0.1; done\n\
         echo {BUSY}; cat \"$d/lock.owner\" 2>/dev/null; exit 0",
        owner = quote(owner)
    )
}

/// Ends the command holding the host's lock (only a process whose fd 9 is the lock file), and
/// waits up to 5 s for the lock to be free.
pub const UNLOCK_SCRIPT: &str = "d=/var/lib/v6deploy; p=$(cat \"$d/lock.pid\" 2>/dev/null)\n\
    if [ -n \"$p\" ] && [ \"$(readlink \"/proc/$p/fd/9\" 2>/dev/null)\" = \"$d/lock\" ]; then kill \"$p\" 2>/dev/null || true; fi\n\
    for i in $(seq 50); do if flock -n \"$d/lock\" true; then : > \"$d/lock.owner\"; rm -f \"$d/lock.pid\"; exit 0; fi; sleep 0.1; done\n\
    echo \"the lock is still held (by a process that is not v6deploy's holder: see fuser $d/lock)\" >&2; exit 1";

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

    /// Regression (a reconnecting run was refused with no holder named when it met its old
    /// holder between emptying `lock.owner` and exiting): a lock held with no owner written
    /// is waited for, and taken once let go.
    #[test]
    fn a_lock_being_let_go_is_waited_for() {
        if std::process::Command::new("sh").arg("-c").arg("command -v flock && command -v timeout").output().map(|o| !o.status.success()).unwrap_or(true) {
            return; // no flock/timeout here (util-linux and coreutils are on every supported host)
        }
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join("lock");
        std::fs::write(dir.path().join("lock.owner"), "").unwrap();
        // A holder letting go: the lock held, its owner line emptied, gone in 0.5 s.
        let mut letting_go = std::process::Command::new("flock").arg(&lock).args(["sleep", "0.5"]).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let script = lock_script_with("5@e (run) since t", 1).replace(LOCK_DIR, &dir.path().display().to_string());
        let taken = std::process::Command::new("sh").arg("-c").arg(script).stdin(std::process::Stdio::null()).output().unwrap();
        assert!(letting_go.wait().unwrap().success());
        assert_eq!(String::from_utf8_lossy(&taken.stdout), format!("{LOCKED}\n"));
    }

    /// The attacks of the security review on the lock: a run that died without closing its
    /// connection kept the lock until sshd noticed (hours); a reconnecting run lost its lock to
    /// whoever came next. Now the holder gives the lock up after a silence on its stdin (here
    /// 1 s instead of 45), keeps it while heartbeats come, and the same owner takes it again,
    /// waiting for its old holder, while another owner is refused.
    #[test]
    fn the_lock_goes_after_a_silence_and_the_same_owner_takes_it_again() {
        if std::process::Command::new("sh").arg("-c").arg("command -v flock && command -v timeout").output().map(|o| !o.status.success()).unwrap_or(true) {
            return; // no flock/timeout here (util-linux and coreutils are on every supported host)
        }
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let local = |owner: &str, silence: u64| lock_script_with(owner, silence).replace(LOCK_DIR, &dir.path().display().to_string());
        let holder = |owner: &str, silence: u64| {
            let mut child = std::process::Command::new("sh").arg("-c").arg(local(owner, silence)).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
            let mut line = String::new();
            std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.as_mut().unwrap()), &mut line).unwrap();
            (child, line)
        };
        // Heartbeats keep it; a dead run (stdin open, silent) loses it after the silence.
        let (mut dead, line) = holder("1@a (dead run) since t", 1);
        assert_eq!(line, format!("{LOCKED}\n"));
        let pid = std::fs::read_to_string(dir.path().join("lock.pid")).unwrap();
        assert_eq!(pid.trim(), dead.id().to_string(), "lock.pid names the holding shell");
        for _ in 0..3 {
            dead.stdin.as_mut().unwrap().write_all(b"\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
        let busy = std::process::Command::new("sh").arg("-c").arg(local("2@b (other) since t", 1)).stdin(std::process::Stdio::null()).output().unwrap();
        assert!(String::from_utf8_lossy(&busy.stdout).starts_with(BUSY), "heartbeats keep the lock: {busy:?}");
        let started = std::time::Instant::now();
        assert!(dead.wait().unwrap().success());
        assert!(started.elapsed() < std::time::Duration::from_secs(3), "the silent holder gave up after {:?}", started.elapsed());
        assert!(!dir.path().join("lock.pid").exists());

        // A reconnecting run takes its own lock again, waiting for its old holder; another
        // owner is still refused.
        let (mut old, _) = holder("3@c (run) since t", 30);
        let again = std::thread::spawn({
            let script = local("3@c (run) since t", 30);
            move || std::process::Command::new("sh").arg("-c").arg(script).stdin(std::process::Stdio::null()).output().unwrap()
        });
        let other = std::process::Command::new("sh").arg("-c").arg(local("4@d (other) since t", 30)).stdin(std::process::Stdio::null()).output().unwrap();
        assert!(String::from_utf8_lossy(&other.stdout).starts_with(&format!("{BUSY}\n3@c (run)")), "{other:?}");
        drop(old.stdin.take());
        assert!(old.wait().unwrap().success());
        let again = again.join().unwrap();
        assert_eq!(String::from_utf8_lossy(&again.stdout), format!("{LOCKED}\n"), "the same owner took the lock again");
    }
}
