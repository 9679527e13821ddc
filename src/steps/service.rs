//! Installing a systemd service from the bundle: its files through the gate, then — unless it
//! is staged — daemon-reload when a unit changed, (re)start only when one of its files changed
//! or it is not running, and its health check (retried on the host: one round trip).

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::bundle::Component;
use crate::inventory::HostSpec;
use crate::ops::units::verify_ok_except_missing;
use crate::runner::{HostContext, Mode};
use crate::transport::quote::quote;

/// One service of a step.
pub struct ServiceSpec {
    pub component: Component,
    /// Path prefixes of the files it owns (pushed by its step).
    pub owns: &'static [&'static str],
    /// Path prefixes whose change needs a restart (its files, the certificates it reads).
    pub restart_on: &'static [&'static str],
    /// A health check script for the host, retried there; `None`: `systemctl is-active`.
    pub health: Option<fn(&HostSpec) -> String>,
    /// Start without waiting for readiness (etcd members must start together to form quorum).
    pub no_block: bool,
}

impl ServiceSpec {
    fn unit(&self) -> String {
        format!("/etc/systemd/system/{}.service", self.component.name())
    }
}

fn matches(prefixes: &[&str], path: &str) -> bool {
    prefixes.iter().any(|p| path.starts_with(p))
}

/// Installs `services` on one host; returns the summary line.
pub async fn install(cx: &HostContext<'_>, state: &InstallState, services: &[ServiceSpec]) -> anyhow::Result<String> {
    let address = cx.host.address;
    let specs = state.files(address, |p| services.iter().any(|s| matches(s.owns, p)));
    let changed = cx.files(&specs).await?;
    state.mark_changed(address, changed.iter().map(|(p, _)| p.clone()));
    let units_changed = changed.iter().any(|(p, _)| p.starts_with("/etc/systemd/system/"));
    if units_changed {
        cx.command("systemctl daemon-reload", "systemctl daemon-reload", "unit files changed").await?;
    }
    let apply = cx.gate.mode() == Mode::Apply;
    let mut summary = Vec::new();
    // Start everything first, then check health, so members that need each other come up together.
    let mut running = Vec::new();
    for service in services {
        let name = service.component.name();
        if state.bundle.is_staged(service.component) {
            if apply {
                verify_unit(cx, &service.unit(), &service.component.host_path()).await?;
            }
            state.set_outcome(address, service.component, ComponentOutcome::Staged);
            summary.push(format!("{name} staged (no binary in bundle; unit verified)"));
            continue;
        }
        let restart_for = state.changed(address, |p| matches(service.restart_on, p) || p == service.component.host_path());
        let active = cx.transport.exec(&format!("systemctl is-active --quiet {}", quote(name)), &[]).await?.success();
        let outcome = match (active, restart_for.is_empty()) {
            (true, true) => ComponentOutcome::Unchanged,
            (false, _) => ComponentOutcome::Started,
            (true, false) => ComponentOutcome::Restarted { changed: restart_for },
        };
        if outcome != ComponentOutcome::Unchanged {
            let reason = match &outcome {
                ComponentOutcome::Restarted { changed } => format!("changed: {}", changed.join(", ")),
                _ => "not running".to_string(),
            };
            let no_block = if service.no_block { " --no-block" } else { "" };
            let command = format!("systemctl enable --quiet {name} && systemctl restart{no_block} {name}");
            let verb = if outcome == ComponentOutcome::Started { "start" } else { "restart" };
            cx.command(&format!("systemctl {verb} {name}"), &command, &reason).await?;
        }
        running.push((service, outcome.clone()));
        state.set_outcome(address, service.component, outcome);
    }
    // Every running service is checked, not only those (re)started now: one left unhealthy
    // by an earlier run that failed must not pass as "unchanged".
    for (service, outcome) in &running {
        let name = service.component.name();
        if apply {
            cx.say(&format!("waiting for {name} to be healthy"));
            health(cx, service).await?;
        }
        summary.push(match (outcome, apply) {
            (ComponentOutcome::Unchanged, _) => format!("{name} running, unchanged"),
            (ComponentOutcome::Started, true) => format!("{name} started and healthy"),
            (ComponentOutcome::Started, false) => format!("{name} would be started"),
            (_, true) => format!("{name} restarted and healthy"),
            (_, false) => format!("{name} would be restarted"),
        });
    }
    Ok(format!("{} files changed; {}", changed.len(), summary.join("; ")))
}

/// `systemd-analyze verify` of a unit whose binary is staged: everything but the missing
/// ExecStart binary must be valid.
async fn verify_unit(cx: &HostContext<'_>, unit: &str, binary: &str) -> anyhow::Result<()> {
    let output = cx.transport.exec(&format!("systemd-analyze verify {} 2>&1", quote(unit)), &[]).await?;
    let text = output.stdout_text();
    if !output.success() && !verify_ok_except_missing(&text, binary) {
        bail!("{unit} does not pass systemd-analyze verify: {}", text.trim());
    }
    Ok(())
}

async fn health(cx: &HostContext<'_>, service: &ServiceSpec) -> anyhow::Result<()> {
    let name = service.component.name();
    let check = match service.health {
        Some(script) => script(cx.host),
        None => format!("systemctl is-active --quiet {name}"),
    };
    let retried = format!("i=0; while [ $i -lt 90 ]; do if {check} >/tmp/.v6deploy-health 2>&1; then exit 0; fi; i=$((i+1)); sleep 1; done; cat /tmp/.v6deploy-health; exit 1");
    let output = cx.transport.exec(&retried, &[]).await?;
    if !output.success() {
        let journal = cx.transport.exec(&format!("journalctl -u {name} -n 15 --no-pager 2>&1"), &[]).await?.stdout_text();
        bail!("{name} is not healthy after 90 s: {}\nlast log lines:\n{}", output.stdout_text().trim(), journal.trim());
    }
    Ok(())
}
