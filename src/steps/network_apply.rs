//! Apply a host's ifcfg file without being able to lock it out. Before the change a systemd
//! timer on the host is armed to put the previous file back and restart networking after
//! `network.rollback_seconds`; the new file is written and networking restarted (detached,
//! so no SSH session hangs on it); v6deploy then reconnects over SSH and only then disarms the
//! timer. When it cannot reconnect, the host restores itself, and the step fails with
//! "rolled back" and the reason. Hosts go one at a time; a host rolled back stops the rollout.

use std::collections::BTreeMap;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};

use super::FactsStore;
use crate::facts::Query;
use crate::ops::ifcfg;
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};
use crate::transport::files::FileSpec;
use crate::shell::quote;

/// Where the previous file and the rollback record are kept on the host.
pub const STATE_DIR: &str = "/var/lib/v6deploy/network";
/// Where ifcfg files live.
pub const SCRIPTS_DIR: &str = "/etc/sysconfig/network-scripts";

/// One probe of the host after the change may take this long.
const PROBE: Duration = Duration::from_secs(10);

/// The "Apply ifcfg" step (only with `network.manage: true`).
pub struct NetworkApply {
    pub facts: FactsStore,
    /// The rendered ifcfg file of each host.
    pub desired: BTreeMap<Ipv6Addr, String>,
}

/// The files and units of one guarded apply.
struct Guard {
    target: String,
    backup: String,
    absent: String,
    rolled_back: String,
    applied: String,
    rollback_unit: String,
    apply_unit: String,
    seconds: u32,
}

impl Guard {
    fn new(interface: &str, seconds: u32) -> Guard {
        // Unique names: a transient unit of an earlier run may still be loaded.
        let stamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        Guard {
            target: format!("{SCRIPTS_DIR}/ifcfg-{interface}"),
            backup: format!("{STATE_DIR}/ifcfg-{interface}.before"),
            absent: format!("{STATE_DIR}/ifcfg-{interface}.before-absent"),
            rolled_back: format!("{STATE_DIR}/ifcfg-{interface}.rolled-back"),
            applied: format!("/run/v6deploy-network-{stamp}.applied"),
            rollback_unit: format!("v6deploy-network-rollback-{stamp}"),
            apply_unit: format!("v6deploy-network-apply-{stamp}"),
            seconds,
        }
    }

    /// What the timer runs: the previous file back (or none, if there was none), a record of
    /// the rollback, networking restarted.
    fn restore_script(&self) -> String {
        let (target, backup, absent, rolled_back) = (quote(&self.target), quote(&self.backup), quote(&self.absent), quote(&self.rolled_back));
        format!("if [ -e {absent} ]; then rm -f {target}; else cp -p {backup} {target}; fi; date +%s > {rolled_back}; systemctl restart network")
    }

    /// Backs up the current file and arms the rollback timer; fails unless the timer is active.
    fn arm_script(&self) -> String {
        let (target, backup, absent, rolled_back) = (quote(&self.target), quote(&self.backup), quote(&self.absent), quote(&self.rolled_back));
        format!(
            "set -e; mkdir -p {STATE_DIR}; rm -f {rolled_back}; \
             if [ -e {target} ]; then cp -p {target} {backup}; rm -f {absent}; else rm -f {backup}; touch {absent}; fi; \
             systemd-run --unit={unit} --on-active={seconds} --timer-property=AccuracySec=1s /bin/sh -c {restore}; \
             systemctl is-active --quiet {unit}.timer",
            unit = self.rollback_unit,
            seconds = self.seconds,
            restore = quote(&self.restore_script()),
        )
    }

    /// Restarts networking two seconds later, detached from the SSH session, and records how it went.
    fn apply_script(&self) -> String {
        let inner = format!("systemctl restart network; echo $? > {}", quote(&self.applied));
        format!("systemd-run --unit={} --on-active=2 --timer-property=AccuracySec=100ms /bin/sh -c {}", self.apply_unit, quote(&inner))
    }

    fn disarm_script(&self) -> String {
        format!("systemctl stop {unit}.timer; ! systemctl is-active --quiet {unit}.timer", unit = self.rollback_unit)
    }

    /// Starts the rollback now instead of at the timer.
    fn rollback_now_script(&self) -> String {
        format!("systemctl start {}.service", self.rollback_unit)
    }
}

/// Reconnects and reads the record file at `path` (empty when there is none), bounded.
async fn fresh_record(cx: &HostContext<'_>, path: &str) -> anyhow::Result<String> {
    tokio::time::timeout(PROBE, cx.reconnect()).await.context("no SSH answer within 10 s")??;
    tokio::time::timeout(PROBE, cx.read_fresh(&Query::record(path))).await.context("no answer within 10 s")?
}

impl Step for NetworkApply {
    fn title(&self) -> String {
        "Apply ifcfg (guarded by a rollback timer)".into()
    }

    /// One host at a time: a change that cuts one host off (and rolls back) is most likely
    /// wrong for the others too, so the rollout stops there.
    fn batch(&self) -> Batch {
        Batch::Rolling(1)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let facts = self.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&cx.host.address).map(|(f, _)| f.clone()).context("no facts gathered")?;
            if !facts.os.is_rhel_family() {
                return Ok(format!("skipped: {} does not use ifcfg files", facts.os.pretty));
            }
            let desired = self.desired.get(&cx.host.address).context("no ifcfg rendered for this host")?;
            let guard = Guard::new(cx.host.interface.as_str(), cx.inventory.network.rollback_seconds);
            let existing = cx.read_file(&guard.target).await?.map(|b| String::from_utf8_lossy(&b).into_owned());
            let merged = ifcfg::merge(existing.as_deref().unwrap_or(""), desired);
            if existing.as_deref() == Some(merged.as_str()) {
                return Ok(format!("{} unchanged", guard.target));
            }
            let changes = ifcfg::changes(existing.as_deref().unwrap_or(""), &merged).join(", ");
            let seconds = guard.seconds;
            let armed = Instant::now();
            cx.command(&format!("back up {} and arm a rollback in {seconds} s", guard.target), &guard.arm_script(), "guard the network change").await?;
            cx.files(&[FileSpec::root(guard.target.clone(), 0o644, merged.into_bytes())]).await?;
            cx.command("restart network (detached)", &guard.apply_script(), &changes).await?;
            if cx.gate.mode() == Mode::DryRun {
                return Ok(format!("would apply {} ({changes}), guarded by a {seconds} s rollback", guard.target));
            }
            // What the run read of the host before may not hold once its network restarted.
            cx.snapshot.forget();
            cx.say(&format!("{} written, network restarting; reconnecting (the host rolls back by itself after {seconds} s)", guard.target));
            let confirm_until = armed + Duration::from_secs(u64::from(seconds / 2).max(5));
            let mut last_error = String::from("none");
            tokio::time::sleep(Duration::from_secs(3)).await;
            while Instant::now() < confirm_until {
                match fresh_record(cx, &guard.applied).await {
                    Ok(status) if status == "0" => {
                        cx.command("disarm the rollback timer", &guard.disarm_script(), "reconnected after the change").await?;
                        return Ok(format!("{} applied ({changes}); reconnected after {:.0} s; rollback disarmed", guard.target, armed.elapsed().as_secs_f64()));
                    }
                    Ok(status) if !status.is_empty() => {
                        // Networking did not restart cleanly: roll back now rather than wait.
                        // Best effort: the timer rolls back anyway if this fails.
                        let _ = cx.command("roll back now", &guard.rollback_now_script(), &format!("`systemctl restart network` failed (exit {status})")).await;
                        bail!("rolled back: `systemctl restart network` failed (exit {status}) after writing {} ({changes}); the previous file was restored at once", guard.target);
                    }
                    Ok(_) => {}
                    Err(error) => last_error = format!("{error:#}"),
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            cx.say(&format!("cannot reconnect ({last_error}); waiting for the host to roll back at {seconds} s"));
            let rollback_at = armed + Duration::from_secs(u64::from(seconds));
            tokio::time::sleep(rollback_at.saturating_duration_since(Instant::now()) + Duration::from_secs(2)).await;
            let give_up = Instant::now() + Duration::from_secs(90);
            let mut after_error = String::new();
            while Instant::now() < give_up {
                match fresh_record(cx, &guard.rolled_back).await {
                    Ok(stamp) if !stamp.is_empty() => bail!(
                        "rolled back: could not reconnect over SSH within {} s after applying {} ({changes}; last error: {last_error}); the host restored its previous file and restarted networking after {seconds} s, and answers again",
                        confirm_until.duration_since(armed).as_secs(),
                        guard.target
                    ),
                    Ok(_) => bail!(
                        "could not reconnect within {} s after applying {} ({last_error}); the host answers now but recorded no rollback: check {} and `systemctl list-timers {}*`",
                        confirm_until.duration_since(armed).as_secs(),
                        guard.target,
                        guard.target,
                        guard.rollback_unit
                    ),
                    Err(error) => after_error = format!("{error:#}"),
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            bail!(
                "could not reconnect after applying {} ({last_error}), nor after its {seconds} s rollback ({after_error}): reach the host from its console and restore {} from {}",
                guard.target,
                guard.target,
                guard.backup
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guard_scripts_are_valid_shell_and_name_one_unit() {
        let guard = Guard::new("eth0", 120);
        for script in [guard.arm_script(), guard.apply_script(), guard.disarm_script(), guard.restore_script()] {
            let check = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).output().unwrap();
            assert!(check.status.success(), "{script}: {}", String::from_utf8_lossy(&check.stderr));
        }
        assert!(guard.arm_script().contains(&format!("--unit={} --on-active=120", guard.rollback_unit)));
        assert!(guard.disarm_script().contains(&format!("systemctl stop {}.timer", guard.rollback_unit)));
        assert!(guard.restore_script().contains("cp -p /var/lib/v6deploy/network/ifcfg-eth0.before /etc/sysconfig/network-scripts/ifcfg-eth0"));
    }

    #[test]
    fn the_restore_script_puts_the_previous_file_back_or_removes_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().display().to_string();
        let script = |guard: &Guard| guard.restore_script().replace("/var/lib/v6deploy", &root).replace(SCRIPTS_DIR, &root).replace("systemctl restart network", "true");
        std::fs::create_dir_all(dir.path().join("network")).unwrap();
        let guard = Guard::new("eth0", 120);
        std::fs::write(dir.path().join("network/ifcfg-eth0.before"), "OLD\n").unwrap();
        std::fs::write(dir.path().join("ifcfg-eth0"), "NEW\n").unwrap();
        assert!(std::process::Command::new("sh").arg("-c").arg(script(&guard)).status().unwrap().success());
        assert_eq!(std::fs::read_to_string(dir.path().join("ifcfg-eth0")).unwrap(), "OLD\n");
        assert!(dir.path().join("network/ifcfg-eth0.rolled-back").exists());
        std::fs::write(dir.path().join("network/ifcfg-eth0.before-absent"), "").unwrap();
        assert!(std::process::Command::new("sh").arg("-c").arg(script(&guard)).status().unwrap().success());
        assert!(!dir.path().join("ifcfg-eth0").exists());
    }
}
