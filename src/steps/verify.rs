//! Verification: every unit v6deploy installed passes `systemd-analyze verify` (a staged
//! unit may only lack its binary), and every started service is active — in one round trip.
//!
//! A host remembers what passed (`RECORD`: each unit's checksum and whether it runs or is
//! staged, written by the verify script itself only when everything passed). A run whose
//! units are exactly those of the record, and which (re)started nothing — every running
//! service was health-checked by its own step in this run — has nothing left to verify and
//! spends no round trip: `systemd-analyze` costs a host more CPU than any other command of a
//! no-change run.

use std::sync::Arc;

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::inventory::HostSpec;
use crate::ops::units::problems_filter;
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::transport::quote::{command, quote};

/// What the host verified last (see the module docs).
pub const RECORD: &str = "/var/lib/v6deploy/verified-units";

/// The "Verify" step.
pub struct Verify {
    pub state: Arc<InstallState>,
}

impl Step for Verify {
    fn title(&self) -> String {
        "Verify units and services".into()
    }

    fn reads(&self, _: &HostSpec) -> Vec<Read> {
        vec![Read::Contents(RECORD.into())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.gate.mode() == Mode::DryRun {
                return Ok("skipped in dry-run".into());
            }
            let address = cx.host.address;
            let units = self.state.files(address, |p| p.starts_with("/etc/systemd/system/") && p.ends_with(".service"));
            let outcomes = self.state.outcomes().get(&address).cloned().unwrap_or_default();
            let staged: Vec<String> = outcomes.iter().filter(|(_, o)| **o == ComponentOutcome::Staged).map(|(c, _)| c.host_path()).collect();
            let record = record(&units, &outcomes);
            let recorded = cx.read_file(RECORD).await?.is_some_and(|r| r == record.as_bytes());
            let running: Vec<&str> = outcomes.iter().filter(|(_, o)| o.is_running()).map(|(c, _)| c.name()).collect();
            let all_unchanged = outcomes.values().all(|o| matches!(o, ComponentOutcome::Unchanged | ComponentOutcome::Staged));
            if recorded && all_unchanged {
                return Ok(format!("{} units as verified before, {} services healthy", units.len(), running.len()));
            }
            let paths: Vec<String> = if recorded { Vec::new() } else { units.iter().map(|u| u.path.clone()).collect() };
            let output = cx.transport.exec(&verify_script(&paths, &staged, &running, &record), &[]).await?;
            let report = output.stdout_text();
            let (problems, inactive) = report.split_once("@@inactive").unwrap_or((report.as_str(), ""));
            let mut found: Vec<String> = problems.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
            found.extend(inactive.split_whitespace().map(|s| format!("{s} is not active")));
            if !found.is_empty() {
                bail!("verification failed: {}", found.join("; "));
            }
            Ok(format!("{} units verified, {} services active", units.len(), running.len()))
        })
    }
}

/// The record of a host's units: checksum, whether the service runs, path; sorted.
fn record(units: &[crate::transport::files::FileSpec], outcomes: &std::collections::BTreeMap<crate::bundle::Component, ComponentOutcome>) -> String {
    let mut lines: Vec<String> = units
        .iter()
        .map(|u| {
            let name = u.path.trim_start_matches("/etc/systemd/system/").trim_end_matches(".service");
            let how = match outcomes.iter().find(|(c, _)| c.name() == name) {
                Some((_, ComponentOutcome::Staged)) => "staged",
                Some(_) => "runs",
                None => "other",
            };
            format!("{} {how} {}", u.sha256(), u.path)
        })
        .collect();
    lines.sort();
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// One script: `systemd-analyze verify` of `units` (none: skipped) with its problem lines
/// printed (see `problems_filter`), `@@inactive` and the services of `running` that are not
/// active; when there was no problem at all, `record` is written to `RECORD` (atomically).
fn verify_script(units: &[String], staged: &[String], running: &[&str], record: &str) -> String {
    let mut s = String::from("problems=''\n");
    if !units.is_empty() {
        s.push_str(&format!(
            "out=$(systemd-analyze verify {} 2>&1); st=$?\nproblems=$(printf '%s\\n' \"$out\" | {})\n\
             if [ $st -ne 0 ] && [ -z \"$out\" ]; then problems=\"systemd-analyze verify failed (status $st) without a message\"; fi\n",
            command(units),
            problems_filter(staged)
        ));
    }
    s.push_str("inactive=''\n");
    if !running.is_empty() {
        s.push_str(&format!("for u in {}; do systemctl is-active --quiet \"$u\" || inactive=\"$inactive $u\"; done\n", command(running)));
    }
    if !units.is_empty() {
        s.push_str(&format!(
            "if [ -z \"$problems\" ] && [ -z \"$inactive\" ]; then mkdir -p {dir} && printf '%s' {record} > {tmp} && mv -f {tmp} {path}; else rm -f {path}; fi\n",
            dir = "/var/lib/v6deploy",
            record = quote(record),
            tmp = quote(&format!("{RECORD}.tmp")),
            path = quote(RECORD),
        ));
    }
    s.push_str("printf '%s\\n@@inactive%s\\n' \"$problems\" \"$inactive\"\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real script, with stand-ins for systemd-analyze and systemctl on PATH and the
    /// record under a temp directory.
    #[test]
    fn the_script_reports_problems_and_inactive_services_and_records_only_success() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        write("systemd-analyze", "for u in \"$@\"; do case \"$u\" in *bad*) echo \"$u:9: Command /usr/local/bin/bad is not executable: No such file or directory\"; fail=1;; esac; done; exit ${fail:-0}");
        write("systemctl", "[ \"$3\" = etcd ]");
        let record_path = dir.path().join("record").display().to_string();
        let run = |units: &[&str], staged: &[&str], running: &[&str]| {
            let units: Vec<String> = units.iter().map(|u| u.to_string()).collect();
            let staged: Vec<String> = staged.iter().map(|u| u.to_string()).collect();
            let script = verify_script(&units, &staged, running, "r\n").replace(RECORD, &record_path).replace("mkdir -p /var/lib/v6deploy", "true");
            let out = std::process::Command::new("sh").arg("-c").arg(script).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
            String::from_utf8(out.stdout).unwrap()
        };
        let report = run(&["/etc/systemd/system/good.service", "/etc/systemd/system/bad.service"], &[], &["etcd", "kubelet"]);
        assert!(report.contains("bad.service:9: Command /usr/local/bin/bad") && report.ends_with("@@inactive kubelet\n"), "{report}");
        assert!(!std::path::Path::new(&record_path).exists());
        let report = run(&["/etc/systemd/system/good.service", "/etc/systemd/system/bad.service"], &["/usr/local/bin/bad"], &["etcd"]);
        assert_eq!(report, "\n@@inactive\n");
        assert_eq!(std::fs::read_to_string(&record_path).unwrap(), "r\n");
        let report = run(&["/etc/systemd/system/bad.service"], &[], &[]);
        assert!(report.starts_with("/etc/systemd/system/bad.service:9"), "{report}");
        assert!(!std::path::Path::new(&record_path).exists(), "a failed verify drops the record");
    }
}
