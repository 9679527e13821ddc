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
    /// A file written only before the first start (`(file, marker)`: skipped once `marker`
    /// exists on the host), e.g. etcd's bootstrap configuration once its data dir exists.
    pub bootstrap_file: Option<(&'static str, &'static str)>,
    /// A running instance is restarted one host at a time, healthy before the next (so a
    /// quorum-based service stays available); a first start is never serialized.
    pub rolling: bool,
}

impl ServiceSpec {
    fn unit(&self) -> String {
        format!("/etc/systemd/system/{}.service", self.component.name())
    }
}

fn matches(prefixes: &[&str], path: &str) -> bool {
    prefixes.iter().any(|p| path.starts_with(p))
}

impl ServiceSpec {
    /// Whether a change of `path` needs this service restarted (the certificates and
    /// kubeconfigs it reads, its unit and configuration).
    pub fn restarts_for(&self, path: &str) -> bool {
        matches(self.restart_on, path)
    }
}

/// Installs `services` on one host; returns the summary line.
pub async fn install(cx: &HostContext<'_>, state: &InstallState, services: &[ServiceSpec]) -> anyhow::Result<String> {
    let address = cx.host.address;
    let mut specs = state.files(address, |p| services.iter().any(|s| matches(s.owns, p)));
    for (file, marker) in services.iter().filter_map(|s| s.bootstrap_file) {
        if cx.transport.exec(&format!("test -e {}", quote(marker)), &[]).await?.success() {
            specs.retain(|f| f.path != file);
        }
    }
    let changed = cx.files(&specs).await?;
    state.mark_changed(address, changed.iter().map(|(p, _)| p.clone()));
    let units_changed = changed.iter().any(|(p, _)| p.starts_with("/etc/systemd/system/"));
    if units_changed {
        cx.command("systemctl daemon-reload", "systemctl daemon-reload", "unit files changed").await?;
    }
    let apply = cx.gate.mode() == Mode::Apply;
    let mut summary = Vec::new();
    // Start everything first, then check health, so members that need each other come up together.
    let mut started = Vec::new();
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
        if !restart_for.is_empty() || !active {
            let reason = if restart_for.is_empty() { "not running".to_string() } else { format!("changed: {}", restart_for.join(", ")) };
            if active && service.rolling {
                // One running member at a time: restarted and healthy before the next one.
                let _turn = state.restart_lock.lock().await;
                let command = format!("systemctl restart {name}");
                cx.command(&command, &command, &reason).await?;
                if apply {
                    cx.say(&format!("waiting for {name} to be healthy after its restart"));
                    health(cx, service).await?;
                }
                summary.push(format!("{name} restarted (rolling) and healthy"));
            } else {
                let no_block = if service.no_block { " --no-block" } else { "" };
                let command = format!("systemctl enable --quiet {name} && systemctl restart{no_block} {name}");
                cx.command(&format!("systemctl start {name}"), &command, &reason).await?;
                started.push(service);
            }
        }
        state.set_outcome(address, service.component, ComponentOutcome::Running { restarted_for: restart_for });
    }
    for service in &started {
        let name = service.component.name();
        if apply {
            cx.say(&format!("waiting for {name} to be healthy"));
            health(cx, service).await?;
        }
        summary.push(format!("{name} (re)started and healthy"));
    }
    let restarted_for = |s: &ServiceSpec| state.changed(address, |p| matches(s.restart_on, p) || p == s.component.host_path());
    for service in services.iter().filter(|s| !state.bundle.is_staged(s.component) && !started.iter().any(|t| t.component == s.component) && restarted_for(s).is_empty()) {
        summary.push(format!("{} running, unchanged", service.component.name()));
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

/// How long a started service has to become healthy.
const HEALTH_SECONDS: u64 = 90;

async fn health(cx: &HostContext<'_>, service: &ServiceSpec) -> anyhow::Result<()> {
    health_within(cx, service, HEALTH_SECONDS).await
}

/// The service's health check, retried on the host for up to `seconds`.
pub async fn health_within(cx: &HostContext<'_>, service: &ServiceSpec, seconds: u64) -> anyhow::Result<()> {
    let name = service.component.name();
    let check = match service.health {
        Some(script) => script(cx.host),
        None => format!("systemctl is-active --quiet {name}"),
    };
    let retried = format!("end=$(($(date +%s) + {seconds})); while :; do if {check} >/tmp/.v6deploy-health 2>&1; then exit 0; fi; [ $(date +%s) -lt $end ] || break; sleep 1; done; cat /tmp/.v6deploy-health; exit 1");
    let output = cx.transport.exec(&retried, &[]).await?;
    if !output.success() {
        let journal = cx.transport.exec(&format!("journalctl -u {name} -n 15 --no-pager 2>&1"), &[]).await?.stdout_text();
        bail!("{name} is not healthy after {seconds} s: {}\nlast log lines:\n{}", output.stdout_text().trim(), journal.trim());
    }
    Ok(())
}
