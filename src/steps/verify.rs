//! Verification: every unit v6deploy installed passes `systemd-analyze verify` (a staged
//! unit may only lack its binary), and every started service is active.

use std::sync::Arc;

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::bundle::Component;
use crate::ops::units::verify_ok_except_missing;
use crate::runner::{HostContext, Mode, Step, StepFuture};
use crate::transport::quote::command;

/// The "Verify" step.
pub struct Verify {
    pub state: Arc<InstallState>,
}

impl Step for Verify {
    fn title(&self) -> String {
        "Verify units and services".into()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.gate.mode() == Mode::DryRun {
                return Ok("skipped in dry-run".into());
            }
            let units: Vec<String> = self.state.files(cx.host.address, |p| p.starts_with("/etc/systemd/system/") && p.ends_with(".service")).into_iter().map(|f| f.path).collect();
            let outcomes = self.state.outcomes().get(&cx.host.address).cloned().unwrap_or_default();
            // One systemd-analyze for every unit: it costs a process start per call.
            let staged: Vec<String> = outcomes.iter().filter(|(_, o)| **o == ComponentOutcome::Staged).map(|(c, _)| c.host_path()).collect();
            let mut problems = Vec::new();
            if !units.is_empty() {
                let mut args = vec!["systemd-analyze", "verify"];
                args.extend(units.iter().map(String::as_str));
                let output = cx.transport.exec(&format!("{} 2>&1", command(&args)), &[]).await?;
                problems.extend(verify_problems(output.success(), &output.stdout_text(), &staged));
            }
            let running: Vec<&Component> = outcomes.iter().filter(|(_, o)| o.is_running()).map(|(c, _)| c).collect();
            for component in &running {
                if !cx.transport.exec(&command(&["systemctl", "is-active", "--quiet", component.name()]), &[]).await?.success() {
                    problems.push(format!("{} is not active", component.name()));
                }
            }
            if !problems.is_empty() {
                bail!("verification failed: {}", problems.join("; "));
            }
            Ok(format!("{} units verified, {} services active", units.len(), running.len()))
        })
    }
}

/// The problems in `systemd-analyze verify`'s output for several units: every line, except
/// that a staged unit may only lack its binary (one of `staged_binaries`).
fn verify_problems(success: bool, output: &str, staged_binaries: &[String]) -> Vec<String> {
    let lines: Vec<&str> = output.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let problems: Vec<String> = lines
        .iter()
        .filter(|line| !staged_binaries.iter().any(|binary| verify_ok_except_missing(line, binary)))
        .map(|line| line.to_string())
        .collect();
    if problems.is_empty() && !success && lines.is_empty() {
        return vec!["systemd-analyze verify failed without a message".into()];
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::verify_problems;

    #[test]
    fn staged_units_may_only_lack_their_binary() {
        let staged = ["/usr/local/bin/kube-apiserver".to_string(), "/usr/local/bin/kubelet".to_string()];
        let output = "kube-apiserver.service: Command /usr/local/bin/kube-apiserver is not executable: No such file or directory\n\
                      kubelet.service: Command /usr/local/bin/kubelet is not executable: No such file or directory\n";
        assert!(verify_problems(false, output, &staged).is_empty());
        assert!(verify_problems(true, "", &staged).is_empty());
        let etcd = "etcd.service: Command /usr/local/bin/etcd is not executable: No such file or directory";
        assert_eq!(verify_problems(false, &format!("{output}{etcd}\n"), &staged), [etcd]);
        let bad = "/etc/systemd/system/kubelet.service:3: Unknown key name 'Wantz' in section 'Unit', ignoring.";
        assert_eq!(verify_problems(true, bad, &staged), [bad]);
        assert_eq!(verify_problems(false, "", &staged).len(), 1);
    }
}
