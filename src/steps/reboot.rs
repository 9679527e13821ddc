//! Rebooting a host and waiting for it, bounded, with progress: the host is seen going down
//! (the connection drops, SSH is refused or silent) and coming back (a connection succeeds
//! and `/proc/sys/kernel/random/boot_id` differs from before). A boot id that changed proves
//! the reboot even when the down phase was too short to be seen.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::facts::Query;
use crate::ops::kernel::REBOOT_COMMAND;
use crate::runner::{HostContext, Mode};

/// How long one probe of the host may take (connect and command).
const PROBE: Duration = Duration::from_secs(15);
/// Pause between probes.
const PAUSE: Duration = Duration::from_secs(1);
/// Progress while waiting is repeated this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// The host's boot id, on the current connection, with a bound.
async fn boot_id(cx: &HostContext<'_>) -> anyhow::Result<String> {
    tokio::time::timeout(PROBE, cx.read_fresh(&Query::boot_id())).await.context("no answer within 15 s")?
}

/// One probe on a new connection (the old one may be dead without being closed): the boot id.
async fn probe(cx: &HostContext<'_>) -> anyhow::Result<String> {
    tokio::time::timeout(PROBE, cx.reconnect()).await.context("no SSH answer within 15 s")??;
    boot_id(cx).await
}

/// What a reboot took.
#[derive(Debug, Clone, Copy)]
pub struct Rebooted {
    /// When the host was seen going down, after the reboot was asked for.
    pub down_after: Duration,
    /// When it answered again with a new boot id.
    pub up_after: Duration,
}

/// Reboots the host through the gate and waits up to `timeout` for it to come back. In
/// dry-run the reboot is only recorded and `None` returned.
///
/// Down is seen when a session held open on the old connection (`sleep`) ends: the host's
/// shutdown closes it. Up is a new connection answering with another boot id.
pub async fn reboot_and_wait(cx: &HostContext<'_>, reason: &str, timeout: Duration) -> anyhow::Result<Option<Rebooted>> {
    let before = boot_id(cx).await.context("read the boot id before rebooting")?;
    if cx.gate.mode() == Mode::DryRun {
        cx.command("reboot", REBOOT_COMMAND, reason).await?;
        return Ok(None);
    }
    // What the run read of the host before does not hold after a reboot.
    cx.snapshot.forget();
    let mut watcher = Box::pin(cx.hold_open(timeout.as_secs() + 60));
    // Polled long enough for its channel to open; it then runs while the reboot is asked for.
    tokio::select! {
        biased;
        ended = &mut watcher => bail!("a session held open to see the host go down ended at once: {:?}", ended.map(|o| o.stderr_text())),
        _ = tokio::time::sleep(Duration::from_millis(500)) => {}
    }
    cx.command("reboot", REBOOT_COMMAND, reason).await?;
    let started = Instant::now();
    cx.say("reboot asked for; waiting for the host to go down");
    let down_after = tokio::select! {
        _ = &mut watcher => started.elapsed(),
        _ = tokio::time::sleep(timeout) => bail!("the host did not go down within {} s of the reboot; check its console", timeout.as_secs()),
    };
    drop(watcher);
    cx.say(&format!("down after {:.0} s (SSH connection closed); waiting for it to come back (up to {} s)", down_after.as_secs_f64(), timeout.as_secs()));
    let mut last_error = String::from("none");
    let mut last_progress = Instant::now();
    loop {
        let elapsed = started.elapsed();
        if elapsed > timeout {
            bail!("the host went down but did not come back within {} s of the reboot (last error: {last_error}); check its console", timeout.as_secs());
        }
        match probe(cx).await {
            Ok(id) if id != before => {
                let up_after = started.elapsed();
                cx.say(&format!("back after {:.0} s (new boot id)", up_after.as_secs_f64()));
                return Ok(Some(Rebooted { down_after, up_after }));
            }
            Ok(_) => last_error = "the old boot still answers".into(),
            Err(error) => last_error = format!("{error:#}"),
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            cx.say(&format!("still down after {:.0} s ({last_error})", elapsed.as_secs_f64()));
            last_progress = Instant::now();
        }
        tokio::time::sleep(PAUSE).await;
    }
}
