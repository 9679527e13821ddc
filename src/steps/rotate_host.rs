//! Certificate rotation on one host at a time (`certs rotate`): the selected certificate,
//! key and kubeconfig files from the desired state are compared with the host; what differs
//! is backed up beside itself (`F.v6deploy-<stamp>`), written atomically, and the services
//! that read it are restarted and health-checked before the next host. A failed restart or
//! health check restores the previous files, restarts again and stops the rollout there.

use std::sync::Arc;

use anyhow::bail;

use super::etcd::ETCD;
use super::service::{ServiceSpec, health_within};
use super::{control_plane, node_services};
use crate::bundle::{BundleCheck, Component};
use crate::inventory::{HostSpec, Role};
use crate::render::Rendered;
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};
use crate::transport::files::{self, FileSpec, FileState};
use crate::transport::quote::quote;

/// What every host of one rollout shares.
pub struct RotateState {
    /// The desired state built from the store (certificates to push).
    pub desired: Rendered,
    pub bundle: BundleCheck,
    /// Which paths on a host this rollout may change.
    pub select: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Suffix of the backups on the hosts: `F.v6deploy-<stamp>`.
    pub stamp: String,
    /// The command that resumes the rollout, for the failure message.
    pub resume: String,
    /// How long a restarted service has to become healthy.
    pub health_seconds: u64,
    /// Title of the step (e.g. "Rotate certificates", "CA rotation: trust bundle").
    pub title: String,
}

/// The services certificate changes can restart, and the role a host needs to run each.
fn services() -> Vec<(Role, ServiceSpec)> {
    let mut all = vec![(Role::Etcd, ETCD)];
    all.extend(control_plane::SERVICES.into_iter().map(|s| (Role::ControlPlane, s)));
    all.extend(node_services::SERVICES.into_iter().map(|s| (Role::Worker, s)));
    all
}

/// The services to restart on `host` for `changed` paths: those it runs (staged components
/// are not running) whose `restart_on` matches a changed path, in install order.
pub fn services_to_restart(host: &HostSpec, bundle: &BundleCheck, changed: &[String]) -> Vec<ServiceSpec> {
    services()
        .into_iter()
        .filter(|(role, service)| host.has(*role) && !bundle.is_staged(service.component) && changed.iter().any(|p| service.restarts_for(p)))
        .map(|(_, mut service)| {
            if service.component == Component::Etcd && bundle.is_staged(Component::Etcdctl) {
                service.health = None;
            }
            service
        })
        .collect()
}

/// The backup of `path` on the host.
pub fn backup_path(path: &str, stamp: &str) -> String {
    format!("{path}.v6deploy-{stamp}")
}

/// `cp -p` of every existing file to its backup.
pub fn backup_script(paths: &[&str], stamp: &str) -> String {
    let mut lines = vec!["set -e".to_string()];
    lines.extend(paths.iter().map(|p| format!("cp -p -- {} {}", quote(p), quote(&backup_path(p, stamp)))));
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
            let states = files::probe(cx.transport, &specs).await?;
            let changed: Vec<(&FileSpec, &FileState)> = specs.iter().zip(&states).filter(|(_, st)| st.changed()).collect();
            if changed.is_empty() {
                return Ok(format!("{} files already current", specs.len()));
            }
            let backed_up: Vec<&str> = changed.iter().filter(|(_, st)| **st != FileState::Missing).map(|(s, _)| s.path.as_str()).collect();
            let created: Vec<&str> = changed.iter().filter(|(_, st)| **st == FileState::Missing).map(|(s, _)| s.path.as_str()).collect();
            if !backed_up.is_empty() {
                let what = format!("back up {} files as *.v6deploy-{}", backed_up.len(), state.stamp);
                cx.command(&what, &backup_script(&backed_up, &state.stamp), "before replacing them").await?;
            }
            let to_write: Vec<FileSpec> = changed.iter().map(|(s, _)| (*s).clone()).collect();
            cx.files(&to_write).await?;
            let paths: Vec<String> = to_write.iter().map(|s| s.path.clone()).collect();
            let restart = services_to_restart(cx.host, &state.bundle, &paths);
            match self.restart_all(cx, &restart, &paths).await {
                Ok(()) => {
                    let names: Vec<&str> = restart.iter().map(|s| s.component.name()).collect();
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
    async fn restart_all(&self, cx: &HostContext<'_>, services: &[ServiceSpec], paths: &[String]) -> anyhow::Result<()> {
        for service in services {
            let name = service.component.name();
            let reasons: Vec<&str> = paths.iter().filter(|p| service.restarts_for(p) || p.starts_with('(')).map(String::as_str).collect();
            let command = format!("systemctl restart {name}");
            cx.command(&command, &command, &format!("changed: {}", reasons.join(", "))).await?;
            if cx.gate.mode() == Mode::Apply {
                cx.say(&format!("waiting for {name} to be healthy after its restart"));
                health_within(cx, service, self.state.health_seconds).await?;
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
    use crate::transport::fake::FakeTransport;
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
        let missing = vec![Component::KubeApiserver, Component::KubeControllerManager, Component::KubeScheduler, Component::Kubelet, Component::KubeProxy, Component::Kubectl];
        Arc::new(RotateState {
            desired: Rendered { hosts, cluster: Vec::new() },
            bundle: BundleCheck { root: "bundle".into(), present: Vec::new(), missing },
            select: Box::new(|p| p.starts_with("/etc/kubernetes/pki/")),
            stamp: "20250101T000000Z".into(),
            resume: "v6deploy -i x.yaml certs rotate --resume".into(),
            health_seconds: 5,
            title: "Rotate certificates".into(),
        })
    }

    fn status(code: u32) -> Output {
        Output { status: code, stdout: Vec::new(), stderr: Vec::new() }
    }

    /// The first host rotates; the second fails its health check, is restored, restarted and
    /// reported with the resume command; the third is never contacted.
    #[tokio::test]
    async fn a_failed_health_check_restores_the_host_and_stops_the_rollout() {
        let inv = inventory();
        let other = FileSpec::root("", 0o644, &b"old\n"[..]);
        let probe = format!("644 root:root {}\n", other.sha256());
        let good = Arc::new(
            FakeTransport::new("a")
                .expect_output("stat -c '%a", Output { status: 0, stdout: probe.clone().into(), stderr: Vec::new() }, 2)
                .expect("cp -p", "")
                .expect("V6DEPLOY_SUMS", "")
                .expect("systemctl restart etcd", "")
                .expect("endpoint health", ""),
        );
        let bad = Arc::new(
            FakeTransport::new("b")
                .expect_output("stat -c '%a", Output { status: 0, stdout: probe.into(), stderr: Vec::new() }, 2)
                .expect("v6deploy-restore", "")
                .expect("cp -p", "")
                .expect("V6DEPLOY_SUMS", "")
                .expect_output("systemctl restart etcd", status(0), 2)
                .expect_output("endpoint health", status(1), 1)
                .expect("journalctl", "")
                .expect("endpoint health", ""),
        );
        let untouched = Arc::new(FakeTransport::new("c"));
        let fakes = [good.clone(), bad.clone(), untouched.clone()];
        let connected = inv.hosts.iter().zip(&fakes).map(|(h, f)| Connected { host: h.clone(), transport: Ok(f.clone() as Arc<dyn Transport>) }).collect();
        let runner = Runner::new(&inv, RunOptions::default(), Progress::Silent);
        let recap = runner.run(connected, &[Box::new(RotateHost { state: state(&inv) }) as Box<dyn Step>]).await;
        good.verify();
        bad.verify();
        assert!(untouched.log().is_empty(), "{:?}", untouched.log());
        assert_eq!(recap.exit_code(), crate::exit::HOST_FAILED);
        let error = recap.hosts[1].error.clone().unwrap();
        assert!(error.contains("rotation stopped at this host: etcd is not healthy"), "{error}");
        assert!(error.contains("the previous files were restored and the services are healthy again"), "{error}");
        assert!(error.contains("resume with: v6deploy -i x.yaml certs rotate --resume"), "{error}");
        assert!(bad.log().iter().all(|c| !c.contains("etcd.conf.yml")), "an unselected file was touched");
        let backup = bad.log().into_iter().find(|c| c.contains("cp -p") && !c.contains("restore")).unwrap();
        assert!(backup.contains("server.crt.v6deploy-20250101T000000Z"), "{backup}");
    }

    #[test]
    fn backup_and_restore_scripts_round_trip_on_a_real_shell() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("server.crt").display().to_string();
        let b = dir.path().join("new.crt").display().to_string();
        std::fs::write(&a, "old\n").unwrap();
        let sh = |script: &str| assert!(std::process::Command::new("sh").arg("-c").arg(script).status().unwrap().success(), "{script}");
        sh(&backup_script(&[&a], "20250101T000000Z"));
        std::fs::write(&a, "new\n").unwrap();
        std::fs::write(&b, "created\n").unwrap();
        sh(&restore_script(&[&a], &[&b], "20250101T000000Z"));
        assert_eq!(std::fs::read_to_string(&a).unwrap(), "old\n");
        assert!(!std::path::Path::new(&b).exists());
        assert_eq!(std::fs::read_to_string(backup_path(&a, "20250101T000000Z")).unwrap(), "old\n", "the backup stays");
    }
}
