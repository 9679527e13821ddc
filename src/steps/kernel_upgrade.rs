//! Kernel upgrade, one host at a time by default: install the new kernel (from the bundle's
//! `rpms/` or a repository), make it GRUB's default and check that it is, reboot, wait for the
//! host to come back, and check that `uname -r` is the new kernel. A host at or above the
//! minimum is skipped with the reason; a host whose default did not change, or that comes back
//! on another kernel, fails with its boot entries, and the rolling batch stops there.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};

use super::FactsStore;
use super::reboot::{Rebooted, reboot_and_wait};
use crate::facts::{Boot, Query};
use crate::ops::kernel::{Install, Offer, Plan, UPLOAD_DIR, describe_boot, install_bundle_command, install_repository_command, newest_at_least, plan, set_default_command};
use crate::runner::{Batch, HostContext, Mode, Step, StepFuture};
use crate::transport::files::FileSpec;

/// The "Upgrade kernel" step.
pub struct KernelUpgrade {
    /// Facts gathered before (replaced with fresh ones after the reboot).
    pub facts: FactsStore,
    pub offer: Offer,
    /// The bundle's `rpms/` on this machine.
    pub rpms_dir: PathBuf,
    /// Hosts upgraded at once.
    pub parallel: usize,
    /// How long a host may take to reboot.
    pub reboot_timeout: Duration,
}

/// GRUB's entries and default, read now (after an install or a set-default).
async fn read_boot(cx: &HostContext<'_>) -> anyhow::Result<Boot> {
    cx.read_fresh(&Query::boot()).await.context("read the boot entries")
}

impl Step for KernelUpgrade {
    fn title(&self) -> String {
        "Upgrade kernel".into()
    }

    fn batch(&self) -> Batch {
        Batch::Rolling(self.parallel)
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let (facts, skew) = self.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&cx.host.address).cloned().context("no facts gathered")?;
            let minimum = cx.inventory.kernel.minimum;
            let (install, target) = match plan(&facts, minimum, &self.offer) {
                Plan::Skip(reason) => return Ok(format!("nothing to do: {reason}")),
                Plan::Refuse(reason) => bail!(reason),
                Plan::Upgrade { install, target } => (install, target),
            };
            let from = facts.kernel_release.clone();
            let reason = format!("kernel {from} < kernel.minimum {minimum}");
            let dry_run = cx.gate.mode() == Mode::DryRun;
            let mut done = Vec::new();
            let target = match install {
                None => target,
                Some(Install::Bundle(bundle)) => {
                    cx.say(&format!("installing {} from the bundle", bundle.file));
                    // Hashed (or taken from the checksum cache), read only while sent.
                    let names: Vec<&String> = std::iter::once(&bundle.file).chain(&bundle.companions).collect();
                    let locals: Vec<std::path::PathBuf> = names.iter().map(|file| self.rpms_dir.join(file)).collect();
                    let (hashed, _) = crate::hash_cache::hash_files(&locals, crate::hash_cache::cache_file().as_deref())?;
                    let specs: Vec<FileSpec> = names.iter().zip(&hashed).map(|(file, h)| FileSpec::local(format!("{UPLOAD_DIR}/{file}"), 0o644, h)).collect();
                    cx.files(&specs).await?;
                    let remote: Vec<String> = specs.iter().map(|s| s.path.clone()).collect();
                    cx.command(&format!("yum install {}", bundle.file), &install_bundle_command(&remote), &reason).await?;
                    done.push(format!("installed {}", bundle.file));
                    target
                }
                Some(Install::Repository { package, repository }) => {
                    cx.say(&format!("installing {package} with yum"));
                    let what = format!("yum install {package}{}", repository.as_deref().map(|r| format!(" from {r}")).unwrap_or_default());
                    cx.command(&what, &install_repository_command(&package, repository.as_deref()), &reason).await?;
                    if dry_run {
                        return Ok(format!("would {what}, make it the boot default and reboot"));
                    }
                    let installed = cx.read_fresh(&Query::installed_kernels(&package)).await?;
                    let newest = newest_at_least(&installed, minimum).with_context(|| {
                        let list: Vec<&str> = installed.iter().map(|k| k.release.as_str()).collect();
                        format!("yum installed {package}, but none of its kernels is at or above {minimum} (installed: {})", list.join(", "))
                    })?;
                    done.push(format!("installed {package} {}", newest.release));
                    Some(newest.release.clone())
                }
            };
            let target = target.context("no kernel to boot (internal: a plan without a target)")?;
            let Boot { entries, default } = if dry_run { Boot { entries: facts.boot_entries.clone(), default: facts.boot_default.clone() } } else { read_boot(cx).await? };
            if default.as_deref() != Some(target.as_str()) {
                let set = set_default_command(&target, facts.grubby);
                cx.command(&format!("make {target} the boot default"), &set, &format!("boot default is {}", default.as_deref().unwrap_or("unknown"))).await?;
                if !dry_run {
                    let Boot { entries, default: now } = read_boot(cx).await?;
                    if now.as_deref() != Some(target.as_str()) {
                        bail!(
                            "the boot default is still {} after `{set}`, so the host would boot the old kernel again; not rebooting it ({})",
                            now.as_deref().unwrap_or("unknown"),
                            describe_boot(&entries, now.as_deref())
                        );
                    }
                }
                done.push(format!("made {target} the default"));
            } else if !entries.is_empty() {
                done.push(format!("{target} already the default"));
            }
            cx.say(&format!("rebooting into {target}"));
            let Some(Rebooted { down_after, up_after }) = reboot_and_wait(cx, &format!("boot kernel {target}"), self.reboot_timeout).await? else {
                return Ok(format!("would upgrade {from} -> {target}: {}, reboot", done.join(", ")));
            };
            let running = cx.read_fresh(&Query::kernel_release()).await.context("read the kernel after the reboot")?;
            if running != target {
                let Boot { entries, default: now } = read_boot(cx).await?;
                bail!("came back on kernel {running}, not {target} ({}); the rollout stops here", describe_boot(&entries, now.as_deref()));
            }
            let fresh = cx.read_fresh(&Query::facts()).await.context("read facts after the reboot")?;
            self.facts.lock().unwrap_or_else(|p| p.into_inner()).insert(cx.host.address, (fresh, skew));
            Ok(format!("kernel {from} -> {running}: {}, rebooted (down after {:.0} s, back after {:.0} s)", done.join(", "), down_after.as_secs_f64(), up_after.as_secs_f64()))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::facts::Facts;
    use crate::inventory::Inventory;
    use crate::ops::kernel::bundle_kernel;
    use crate::runner::{Connected, HostStatus, Progress, RunOptions, Runner};
    use crate::transport::Transport;
    use crate::transport::fake::{FakeTransport, Intent};

    fn inventory() -> Inventory {
        crate::inventory::field_report()
    }

    fn centos7(uname: &str) -> Facts {
        let text = format!("@@os-release\nID=\"centos\"\nVERSION_ID=\"7\"\n@@redhat-release\nCentOS Linux release 7.8.2003 (Core)\n@@uname\n{uname}\n@@addr\n@@forwarding\n@@route\n@@resolv\n@@swaps\n@@clock\n0\n@@disk\n@@tcp6\n@@tcp\n@@systemd\n@@managed\n@@kernels\nkernel {uname}\n@@grubby\n/usr/sbin/grubby\n@@boot-default\n/boot/vmlinuz-{uname}\n@@end\n");
        Facts::parse(&text).unwrap()
    }

    #[tokio::test]
    async fn dry_run_plans_upload_install_default_and_reboot_one_host_at_a_time() {
        let inv = inventory();
        let rpms = tempfile::tempdir().unwrap();
        let file = "kernel-4.19.113-300.el7.x86_64.rpm";
        std::fs::write(rpms.path().join(file), "test data").unwrap();
        let store = FactsStore::default();
        for (host, uname) in inv.hosts.iter().zip(["3.10.0-1160.el7.x86_64", "3.10.0-1160.el7.x86_64", "4.19.113-300.el7.x86_64"]) {
            store.lock().unwrap().insert(host.address, (centos7(uname), 0.0));
        }
        let fakes: Vec<Arc<FakeTransport>> = vec![
            Arc::new(FakeTransport::new("a").no_files().answer(&Query::boot_id(), "b1\n")),
            Arc::new(FakeTransport::new("b").no_files().answer(&Query::boot_id(), "b2\n")),
            Arc::new(FakeTransport::new("c")),
        ];
        let connected = inv.hosts.iter().zip(&fakes).map(|(h, f)| Connected { host: h.clone(), transport: Ok(f.clone() as Arc<dyn Transport>) }).collect();
        let step = KernelUpgrade {
            facts: store,
            offer: Offer::Bundle(bundle_kernel(&[file.to_string()])),
            rpms_dir: rpms.path().to_path_buf(),
            parallel: 1,
            reboot_timeout: Duration::from_secs(5),
        };
        assert_eq!(step.batch(), Batch::Rolling(1));
        let runner = Runner::new(&inv, RunOptions { mode: Mode::DryRun, forks: 0, max_fail_percent: None }, Progress::Silent);
        let recap = runner.run(connected, &[Box::new(step)]).await;
        fakes.iter().for_each(|f| f.verify());
        assert!(fakes[2].intents().is_empty(), "a host at the minimum got commands: {:?}", fakes[2].intents());
        // In dry-run a host is only read: the upload's probe and the boot id before the reboot.
        let upload = format!("{UPLOAD_DIR}/{file}");
        assert_eq!(fakes[0].intents(), [Intent::Probe(vec![upload]), Intent::Query(Query::boot_id().query().clone())]);
        let plan: Vec<String> = recap.changes.iter().filter(|c| c.host == "2002:db8:0:1::101").map(ToString::to_string).collect();
        assert_eq!(
            plan,
            [
                "2002:db8:0:1::101: would write /var/tmp/v6deploy/rpms/kernel-4.19.113-300.el7.x86_64.rpm (new file)",
                "2002:db8:0:1::101: would run yum install kernel-4.19.113-300.el7.x86_64.rpm (kernel 3.10.0-1160.el7.x86_64 < kernel.minimum 4.19.0)",
                "2002:db8:0:1::101: would run make 4.19.113-300.el7.x86_64 the boot default (boot default is 3.10.0-1160.el7.x86_64)",
                "2002:db8:0:1::101: would run reboot (boot kernel 4.19.113-300.el7.x86_64)",
            ]
        );
        assert_eq!(recap.hosts[2].status, HostStatus::Ok);
        assert!(recap.hosts[2].notes[0].contains("nothing to do: running kernel 4.19.113-300.el7.x86_64 is at or above kernel.minimum 4.19.0"), "{:?}", recap.hosts[2].notes);
    }
}
