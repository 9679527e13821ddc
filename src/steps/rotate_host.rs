//! Certificate rotation on one host at a time (`certs rotate`): the selected certificate,
//! key and kubeconfig files from the desired state are compared with the host; what differs
//! is backed up beside itself (`F.v6deploy-<stamp>`, only the newest `keep_backups` of them
//! kept), written atomically, and the services
//! that read it are restarted and health-checked before the next host. A failed restart or
//! health check restores the previous files, restarts again and stops the rollout there.

use std::sync::Arc;

use anyhow::bail;

use super::service::health_within;
use crate::bundle::BundleCheck;
use crate::components::{self, Component};
use crate::inventory::HostSpec;
use crate::render::Rendered;
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};
use crate::transport::files::{FileSpec, FileState};
use crate::shell::quote;

/// What every host of one rollout shares.
pub struct RotateState {
    /// The desired state built from the store (certificates to push).
    pub desired: Rendered,
    pub bundle: BundleCheck,
    /// Which paths on a host this rollout may change.
    pub select: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Suffix of the backups on the hosts: `F.v6deploy-<stamp>`.
    pub stamp: String,
    /// Backups of a file kept on the host, this one included (older ones are removed).
    pub keep_backups: usize,
    /// The command that resumes the rollout, for the failure message.
    pub resume: String,
    /// How long a restarted service has to become healthy.
    pub health_seconds: u64,
    /// Title of the step (e.g. "Rotate certificates", "CA rotation: trust bundle").
    pub title: String,
}

/// The services to restart on `host` for `changed` paths: those it runs (staged components
/// are not running) that restart for a changed path, in install order.
pub fn services_to_restart(host: &HostSpec, bundle: &BundleCheck, changed: &[String]) -> Vec<&'static Component> {
    components::services_on(host).filter(|c| !c.is_staged(bundle) && changed.iter().any(|p| c.restarts_for(host, p))).collect()
}

/// The backup of `path` on the host.
pub fn backup_path(path: &str, stamp: &str) -> String {
    format!("{path}.v6deploy-{stamp}")
}

/// Backups of a file kept on a host unless `--keep-backups` says otherwise.
pub const KEEP_BACKUPS: usize = 3;

/// `cp -p` of every existing file to its backup, then the oldest backups of each file removed
/// so that the newest `keep` remain (stamps are UTC `YYYYMMDDTHHMMSSZ`, so the shell's sorted
/// glob lists them oldest first; no process but `rm`).
pub fn backup_script(paths: &[&str], stamp: &str, keep: usize) -> String {
    let mut lines = vec!["set -e".to_string()];
    lines.extend(paths.iter().map(|p| format!("cp -p -- {} {}", quote(p), quote(&backup_path(p, stamp)))));
    for p in paths {
        lines.push(format!("set -- {}.v6deploy-[0-9]*; [ -e \"$1\" ] || set --; while [ $# -gt {} ]; do rm -f -- \"$1\"; shift; done", quote(p), keep.max(1)));
    }
    lines.join("\n")
}

/// Puts the backups back (atomically, by rename) and removes files that did not exist before.
pub fn restore_script(backed_up: &[&str], created: &[&str], stamp: &str) -> String {
    let mut lines = vec!["set -e".to_string()];
    for path in backed_up {
        let temporary = format!("{path}.v6deploy-restore");
        lines.push(format!("cp -p -- {} {} && mv -f -- {} {}", quote(&backup_path(path, stamp)), quote(&temporary), quote(&temporary), quote(path)));
    }
    lines.extend(created.iter().map(|p| format!("rm -f -- {}", quote(p))));
    lines.join("\n")
}

/// The "Rotate certificates" step.
pub struct RotateHost {
    pub state: Arc<RotateState>,
}

impl Step for RotateHost {
    fn title(&self) -> String {
        self.state.title.clone()
    }

    fn batch(&self) -> Batch {
        Batch::Rolling(1)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let state = &self.state;
            let specs: Vec<FileSpec> = state
                .desired
                .hosts
                .iter()
                .find(|h| h.address == cx.host.address)
                .map(|h| h.files.iter().filter(|f| (state.select)(&f.path)).map(|f| FileSpec::root(f.path.clone(), f.mode, f.contents.as_bytes())).collect())
                .unwrap_or_default();
            let states = cx.compare_files(&specs).await?;
            let changed: Vec<(&FileSpec, &FileState)> = specs.iter().zip(&states).filter(|(_, st)| st.changed()).collect();
            if changed.is_empty() {
                return Ok(format!("{} files already current", specs.len()));
            }
            let backed_up: Vec<&str> = changed.iter().filter(|(_, st)| **st != FileState::Missing).map(|(s, _)| s.path.as_str()).collect();
            let created: Vec<&str> = changed.iter().filter(|(_, st)| **st == FileState::Missing).map(|(s, _)| s.path.as_str()).collect();
            if !backed_up.is_empty() {
                let what = format!("back up {} files as *.v6deploy-{}", backed_up.len(), state.stamp);
                cx.command(&what, &backup_script(&backed_up, &state.stamp, state.keep_backups), "before replacing them").await?;
            }
            let to_write: Vec<FileSpec> = changed.iter().map(|(s, _)| (*s).clone()).collect();
            cx.files(&to_write).await?;
            let paths: Vec<String> = to_write.iter().map(|s| s.path.clone()).collect();
            let restart = services_to_restart(cx.host, &state.bundle, &paths);
            match self.restart_all(cx, &restart, &paths).await {
                Ok(()) => {
                    let names: Vec<&str> = restart.iter().map(|s| s.name).collect();
                    let restarted = if names.is_empty() { "nothing to restart".to_string() } else { format!("{} restarted and healthy", names.join(", ")) };
                    Ok(format!("{} files replaced (old ones kept as *.v6deploy-{}); {restarted}", to_write.len(), state.stamp))
                }
                Err(error) => {
                    let what = format!("restore {} files from *.v6deploy-{}", backed_up.len(), state.stamp);
                    cx.command(&what, &restore_script(&backed_up, &created, &state.stamp), "the new certificates failed").await?;
                    let after = match self.restart_all(cx, &restart, &["(restored files)".to_string()]).await {
                        Ok(()) => "the previous files were restored and the services are healthy again".to_string(),
                        Err(again) => format!("the previous files were restored, but the services are still unhealthy: {again:#}"),
                    };
                    bail!(
                        "{}: rotation stopped at this host: {error:#}\n{after}; hosts after this one were not touched.\nFix the cause (e.g. the certificate in the store), then resume with: {}",
                        cx.host.address,
                        state.resume
                    )
                }
            }
        })
    }
}

impl RotateHost {
    /// Restarts `services` one after the other, each healthy before the next.
    async fn restart_all(&self, cx: &HostContext<'_>, services: &[&'static Component], paths: &[String]) -> anyhow::Result<()> {
        for service in services {
            let name = service.name;
            let reasons: Vec<&str> = paths.iter().filter(|p| service.restarts_for(cx.host, p) || p.starts_with('(')).map(String::as_str).collect();
            let command = format!("systemctl restart {name}");
            cx.command(&command, &command, &format!("changed: {}", reasons.join(", "))).await?;
            if cx.gate.mode() == Mode::Apply {
                cx.say(&format!("waiting for {name} to be healthy after its restart"));
                health_within(cx, &self.state.bundle, service, self.state.health_seconds).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::render::{HostFiles, RenderedFile};
    use crate::runner::{Connected, Progress, RunOptions, Runner};
    use crate::facts::{Health, Query};
    use crate::transport::fake::{FakeTransport, Intent};
    use crate::transport::{Output, Transport};

    fn inventory() -> Inventory {
        crate::inventory::field_report()
    }

    fn state(inv: &Inventory) -> Arc<RotateState> {
        let hosts = inv
            .hosts
            .iter()
            .map(|h| HostFiles {
                name: h.name.clone(),
                address: h.address,
                files: vec![
                    RenderedFile { path: "/etc/kubernetes/pki/etcd/server.crt".into(), mode: 0o644, contents: "new\n".into() },
                    RenderedFile { path: "/etc/etcd/etcd.conf.yml".into(), mode: 0o644, contents: "not selected\n".into() },
                ],
            })
            .collect();
        let missing = vec!["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kube-proxy", "kubectl"];
        Arc::new(RotateState {
            desired: Rendered { hosts, cluster: Vec::new() },
            bundle: BundleCheck { root: "bundle".into(), present: Vec::new(), missing, dirs: Vec::new(), missing_files: Vec::new() },
            select: Box::new(|p| p.starts_with("/etc/kubernetes/pki/")),
            stamp: STAMP.into(),
            keep_backups: KEEP_BACKUPS,
            resume: "v6deploy -i x.yaml certs rotate --resume".into(),
            health_seconds: 5,
            title: "Rotate certificates".into(),
        })
    }

    const CRT: &str = "/etc/kubernetes/pki/etcd/server.crt";
    const STAMP: &str = "20250101T000000Z";

    /// A host whose etcd server certificate is an old one.
    fn host(label: &str) -> FakeTransport {
        let old = FileSpec::root(CRT, 0o644, &b"old\n"[..]);
        FakeTransport::new(label).has_file(&old).accepts_writes().accepts_commands()
    }

    /// etcd's health check on `host`, retried for the rollout's 5 s.
    fn etcd_healthy(host: &HostSpec) -> crate::facts::Ask<Health> {
        let check = crate::components::etcd_health_command(host);
        Query::health("etcd", check, 5)
    }

    /// The first host rotates; the second fails its health check, is restored, restarted and
    /// reported with the resume command; the third is never contacted.
    #[tokio::test]
    async fn a_failed_health_check_restores_the_host_and_stops_the_rollout() {
        let inv = inventory();
        let good = Arc::new(host("a").answer(&etcd_healthy(&inv.hosts[0]), ""));
        let unhealthy = Output { status: 1, stdout: b"connection refused\n".to_vec(), stderr: Vec::new() };
        let bad = Arc::new(
            host("b")
                .answer_output(&etcd_healthy(&inv.hosts[1]), unhealthy, 1)
                .answer(&Query::journal("etcd", 200), "")
                .answer(&etcd_healthy(&inv.hosts[1]), ""),
        );
        let untouched = Arc::new(FakeTransport::new("c"));
        let fakes = [good.clone(), bad.clone(), untouched.clone()];
        let connected = inv.hosts.iter().zip(&fakes).map(|(h, f)| Connected { host: h.clone(), transport: Ok(f.clone() as Arc<dyn Transport>) }).collect();
        let runner = Runner::new(&inv, RunOptions::default(), Progress::Silent);
        let recap = runner.run(connected, &[Box::new(RotateHost { state: state(&inv) }) as Box<dyn Step>]).await;
        good.verify();
        bad.verify();
        assert!(untouched.intents().is_empty(), "{:?}", untouched.intents());
        assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
        let error = recap.hosts[1].error.clone().unwrap();
        assert!(error.contains("rotation stopped at this host: etcd is not healthy (checked for up to 5 s): connection refused"), "{error}");
        assert!(error.contains("the previous files were restored and the services are healthy again"), "{error}");
        assert!(error.contains("resume with: v6deploy -i x.yaml certs rotate --resume"), "{error}");
        // Only the selected file is compared, backed up, written and restored.
        let health = etcd_healthy(&inv.hosts[1]).query().clone();
        let restart = Intent::Command("systemctl restart etcd".into());
        assert_eq!(
            bad.intents(),
            [
                Intent::Probe(vec![CRT.into()]),
                Intent::Command(backup_script(&[CRT], STAMP, KEEP_BACKUPS)),
                Intent::Probe(vec![CRT.into()]),
                Intent::Write { paths: vec![CRT.into()], then: String::new() },
                restart.clone(),
                Intent::Query(health.clone()),
                Intent::Query(Query::journal("etcd", 200).query().clone()),
                Intent::Command(restore_script(&[CRT], &[], STAMP)),
                restart,
                Intent::Query(health),
            ]
        );
        let plan: Vec<String> = recap.changes.iter().filter(|c| c.host == inv.hosts[1].address.to_string()).map(|c| format!("{:?} {} ({})", c.kind, c.target, c.reason)).collect();
        assert_eq!(
            plan,
            [
                format!("Command back up 1 files as *.v6deploy-{STAMP} (before replacing them)"),
                format!("Write {CRT} (content differs)"),
                format!("Command systemctl restart etcd (changed: {CRT})"),
                format!("Command restore 1 files from *.v6deploy-{STAMP} (the new certificates failed)"),
                "Command systemctl restart etcd (changed: (restored files))".to_string(),
            ]
        );
    }

    #[test]
    fn backup_and_restore_scripts_round_trip_on_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("server.crt").display().to_string();
        let b = dir.path().join("new.crt").display().to_string();
        std::fs::write(&a, "old\n").unwrap();
        let sh = |script: &str| assert!(std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().success(), "{script}");
        sh(&backup_script(&[&a], "20250101T000000Z", KEEP_BACKUPS));
        std::fs::write(&a, "new\n").unwrap();
        std::fs::write(&b, "created\n").unwrap();
        sh(&restore_script(&[&a], &[&b], "20250101T000000Z"));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old\n");
        assert!(!std::path::Path::new(&b).exists());
        assert_eq!(std::fs::read_to_string(backup_path(&a, "20250101T000000Z")).unwrap(), "old\n", "the backup stays");
    }

    /// Regression: host backups `*.v6deploy-<time>` were never pruned. Each backup keeps the
    /// newest `keep` of a file (its own included) and leaves other files' backups alone.
    #[test]
    fn backups_are_pruned_to_the_newest_few() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("server.crt").display().to_string();
        let other = dir.path().join("server.crt.key").display().to_string();
        std::fs::write(&a, "current\n").unwrap();
        std::fs::write(backup_path(&other, "20200101T000000Z"), "x").unwrap();
        std::fs::write(format!("{a}.v6deploy-restore"), "x").unwrap();
        let sh = |script: &str| assert!(std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().success(), "{script}");
        for stamp in ["20240101T000000Z", "20250101T000000Z", "20230101T000000Z", "20260101T000000Z"] {
            sh(&backup_script(&[&a], stamp, 2));
        }
        let mut left: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, ["server.crt", "server.crt.key.v6deploy-20200101T000000Z", "server.crt.v6deploy-20250101T000000Z", "server.crt.v6deploy-20260101T000000Z", "server.crt.v6deploy-restore"]);
        // No backup yet: nothing to prune, no error.
        let fresh = dir.path().join("fresh.crt").display().to_string();
        std::fs::write(&fresh, "x").unwrap();
        sh(&backup_script(&[&fresh], "20260101T000000Z", KEEP_BACKUPS));
    }
}
