//! Verification: every unit v6deploy installed passes `systemd-analyze verify` (a staged
//! unit may only lack its binary), and every service started in this run is active.
//!
//! A host remembers what passed (`RECORD`: each unit's checksum and the binaries it may lack,
//! written by the verify script itself, only when nothing was wrong). `InstallFiles` verifies
//! the units in its write's round trip unless they are those of the record; this step then
//! checks only the services started or restarted in this run (those left running were
//! health-checked by their own step), in one round trip or none. Without `InstallFiles` in the
//! run (or on a host joining etcd, whose etcd unit comes later) it verifies the units itself.
//! `systemd-analyze` costs a host more CPU than any other command of a no-change run.

use std::sync::Arc;

use anyhow::bail;

use super::{ComponentOutcome, InstallState};
use crate::inventory::Inventory;
use crate::inventory::HostSpec;
use crate::transport::files::FileSpec;
use crate::ops::units::problems_filter;
use crate::runner::{HostContext, Mode, Read, Step, StepFuture};
use crate::shell::{command, quote};

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

    fn reads(&self, _: &Inventory, _: &HostSpec) -> Vec<Read> {
        vec![Read::Contents(RECORD.into())]
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            if cx.gate.mode() == Mode::DryRun {
                return Ok("skipped in dry-run".into());
            }
            let address = cx.host.address;
            let (units, staged, record) = units_of(&self.state, cx.host);
            // Verified with this run's files (by `InstallFiles`), or by an earlier run.
            let verified = self.state.units_verified(address) || cx.read_file(RECORD).await?.is_some_and(|r| r == record.as_bytes());
            let outcomes = self.state.outcomes().get(&address).cloned().unwrap_or_default();
            // Services left running were health-checked by their own step in this run.
            let started: Vec<&str> = outcomes.iter().filter(|(_, o)| matches!(o, ComponentOutcome::Started | ComponentOutcome::Restarted { .. })).map(|(c, _)| c.name).collect();
            let running = outcomes.values().filter(|o| o.is_running()).count();
            if verified && started.is_empty() {
                return Ok(format!("{} units verified, {running} services healthy", units.len()));
            }
            let mut script = String::from("set -e\n");
            if !verified {
                let paths: Vec<String> = units.iter().map(|u| u.path.clone()).collect();
                script.push_str(&units_script(&paths, &staged, &record));
            }
            script.push_str(&services_script(&started));
            // Not run in dry-run, which returned above.
            let Some(output) = cx.check(&script).await? else { return Ok("skipped in dry-run".into()) };
            if !output.success() {
                bail!("verification failed: {}", [output.stderr_text(), output.stdout_text()].join(" ").trim());
            }
            Ok(format!("{} units verified, {running} services healthy, {} (re)started and active", units.len(), started.len()))
        })
    }
}

/// A host's units (as install writes them), the binaries they may lack (those of its staged
/// components) and the record of both that a successful verification leaves on the host.
pub(super) fn units_of(state: &InstallState, host: &HostSpec) -> (Vec<FileSpec>, Vec<String>, String) {
    let units = state.files(host.address, |p| p.starts_with(&format!("{}/", crate::components::UNIT_DIR)) && p.ends_with(".service"));
    let mut staged: Vec<String> = crate::components::services_on(host)
        .filter_map(|c| c.service().filter(|_| c.is_staged(&state.bundle)))
        .map(|s| crate::components::binary_path(s.binary))
        .collect();
    staged.sort();
    let mut lines: Vec<String> = units.iter().map(|u| format!("{}  {}\n", u.sha256(), u.path)).collect();
    lines.sort();
    lines.push(format!("may lack: {}\n", staged.join(" ")));
    (units, staged, lines.concat())
}

/// A script (for `set -e`) that runs `systemd-analyze verify` on `units` and, when it finds
/// nothing but the missing binaries of `staged` components (see `problems_filter`), writes
/// `record` to `RECORD`; otherwise it removes the record, prints the problems on stderr and
/// exits 4.
pub(super) fn units_script(units: &[String], staged: &[String], record: &str) -> String {
    if units.is_empty() {
        return String::new();
    }
    format!(
        "st=0; out=$(systemd-analyze verify {units} 2>&1) || st=$?\n\
         problems=$(printf '%s\\n' \"$out\" | {filter})\n\
         if [ $st -ne 0 ] && [ -z \"$out\" ]; then problems=\"systemd-analyze verify failed (status $st) without a message\"; fi\n\
         if [ -n \"$problems\" ]; then rm -f {path}; printf 'units do not pass systemd-analyze verify: %s\\n' \"$problems\" >&2; exit 4; fi\n\
         mkdir -p /var/lib/v6deploy && printf '%s' {record} > {tmp} && mv -f {tmp} {path}\n",
        units = command(units),
        filter = problems_filter(staged),
        path = quote(RECORD),
        tmp = quote(&format!("{RECORD}.tmp")),
        record = quote(record),
    )
}

/// A script (for `set -e`) that fails with the names of the services of `names` that are not
/// active (exit 5).
fn services_script(names: &[&str]) -> String {
    if names.is_empty() {
        return String::new();
    }
    format!(
        "inactive=''; for u in {}; do systemctl is-active --quiet \"$u\" || inactive=\"$inactive $u\"; done\n\
         if [ -n \"$inactive\" ]; then echo \"not active:$inactive\" >&2; exit 5; fi\n",
        command(names)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real scripts, with stand-ins for systemd-analyze and systemctl on PATH and the
    /// record under a temp directory.
    #[test]
    fn the_scripts_report_problems_and_inactive_services_and_record_only_success() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        };
        write("systemd-analyze", "for u in \"$@\"; do case \"$u\" in *bad*) echo \"$u:9: Command /usr/local/bin/bad is not executable: No such file or directory\"; fail=1;; esac; done; exit ${fail:-0}");
        write("systemctl", "[ \"$3\" = etcd ]");
        let record_path = dir.path().join("record").display().to_string();
        let run = |script: String| {
            let script = format!("set -e\n{script}").replace(RECORD, &record_path).replace("mkdir -p /var/lib/v6deploy", "true");
            let out = std::process::Command::new("sh").arg("-c").arg(script).env("PATH", format!("{}:/usr/bin:/bin", dir.path().display())).output().unwrap();
            (out.status.code(), String::from_utf8(out.stderr).unwrap())
        };
        let units = |names: &[&str]| names.iter().map(|n| format!("/etc/systemd/system/{n}.service")).collect::<Vec<_>>();
        let (code, stderr) = run(units_script(&units(&["good", "bad"]), &[], "r\n"));
        assert_eq!(code, Some(4));
        assert!(stderr.contains("bad.service:9: Command /usr/local/bin/bad"), "{stderr}");
        assert!(!std::path::Path::new(&record_path).exists());
        assert_eq!(run(units_script(&units(&["good", "bad"]), &["/usr/local/bin/bad".into()], "r\n")), (Some(0), String::new()));
        assert_eq!(std::fs::read_to_string(&record_path).unwrap(), "r\n");
        assert_eq!(run(units_script(&units(&["bad"]), &[], "r\n")).0, Some(4));
        assert!(!std::path::Path::new(&record_path).exists(), "a failed verify drops the record");
        assert_eq!(run(services_script(&["etcd"])), (Some(0), String::new()));
        assert_eq!(run(services_script(&["etcd", "kubelet"])), (Some(5), "not active: kubelet\n".into()));
    }
}
