//! Host preparation: IPv6 forwarding and bridge sysctls persisted and applied, kernel modules
//! loaded, swap off, and the node names in /etc/hosts.

use std::sync::Arc;

use anyhow::{Context, bail};

use super::InstallState;
use crate::ops::hosts_file;
use crate::runner::{HostContext, Step, StepFuture};
use crate::transport::files::{self, FileSpec};
use crate::transport::quote::command;

/// The files this step owns.
pub const SYSCTL: &str = "/etc/sysctl.d/90-v6deploy.conf";
pub const MODULES: &str = "/etc/modules-load.d/v6deploy.conf";

/// Applies every `key = value` of the sysctl file one by one (through /proc/sys, so no
/// `sysctl` binary is needed) and prints the keys that could not be set (e.g. a kernel-wide key inside a container); a missing key (module not loaded)
/// is reported too.
const APPLY_SYSCTL: &str = "grep -E '^[a-z]' /etc/sysctl.d/90-v6deploy.conf | while IFS='= ' read -r k v; do p=/proc/sys/$(echo \"$k\" | tr . /); { echo \"$v\" > \"$p\"; } 2>/dev/null || echo \"$k\"; done; true";

/// A script printing, for each of `modules` not loaded, `load M` when this kernel has it
/// (`modprobe -n` finds it) or `absent M` when it cannot be loaded here (no module tree, e.g.
/// in a container, or no such module).
fn missing_modules(modules: &[&str]) -> String {
    format!("for m in {}; do [ -d \"/sys/module/$m\" ] && continue; if modprobe -n -q \"$m\" 2>/dev/null; then echo \"load $m\"; else echo \"absent $m\"; fi; done", command(modules))
}

/// The "Prepare hosts" step.
pub struct PrepareHost {
    pub state: Arc<InstallState>,
}

impl Step for PrepareHost {
    fn title(&self) -> String {
        "Prepare hosts (sysctl, modules, swap, /etc/hosts)".into()
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let address = cx.host.address;
            let mut specs = self.state.files(address, |p| p == SYSCTL || p == MODULES);
            let existing = files::read_file(cx.transport, "/etc/hosts").await?.unwrap_or_default();
            let entries: Vec<_> = cx.inventory.hosts.iter().map(|h| (h.address, h.name.clone())).collect();
            let hosts = hosts_file::merge(&String::from_utf8_lossy(&existing), &entries);
            specs.push(FileSpec::root("/etc/hosts", 0o644, hosts.into_bytes()));
            let changed = cx.files(&specs).await?;
            self.state.mark_changed(address, changed.iter().map(|(p, _)| p.clone()));
            let mut notes = vec![format!("{} of {} files changed", changed.len(), specs.len())];

            let sysctl_changed = changed.iter().any(|(p, _)| p == SYSCTL);
            let forwarding = files::read_file(cx.transport, "/proc/sys/net/ipv6/conf/all/forwarding").await?;
            let forwarding_on = forwarding.as_deref().map(|f| String::from_utf8_lossy(f).trim() == "1").unwrap_or(false);
            if sysctl_changed || !forwarding_on {
                let applied = cx.command("apply /etc/sysctl.d/90-v6deploy.conf", APPLY_SYSCTL, "IPv6 forwarding and bridge settings").await?;
                if let Some(applied) = applied {
                    let unset = applied.stdout_text();
                    let unset: Vec<&str> = unset.lines().collect();
                    if !unset.is_empty() {
                        notes.push(format!("sysctl not settable here: {}", unset.join(", ")));
                    }
                    let now = files::read_file(cx.transport, "/proc/sys/net/ipv6/conf/all/forwarding").await?.unwrap_or_default();
                    if String::from_utf8_lossy(&now).trim() != "1" {
                        bail!("net.ipv6.conf.all.forwarding is still 0 after applying {SYSCTL}: pods cannot be routed");
                    }
                }
            }

            let wanted = specs.iter().find(|s| s.path == MODULES).map(|s| String::from_utf8_lossy(&s.contents).into_owned()).unwrap_or_default();
            let wanted: Vec<&str> = wanted.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
            if !wanted.is_empty() {
                let report = cx.transport.run(&missing_modules(&wanted)).await.context("list kernel modules")?.stdout_text();
                let pick = |kind: &str| report.lines().filter_map(|l| l.strip_prefix(kind)).map(|m| m.trim().to_string()).collect::<Vec<_>>();
                let (loadable, absent) = (pick("load "), pick("absent "));
                if !loadable.is_empty() {
                    let load = format!("modprobe -a {}", command(&loadable));
                    cx.command(&load, &load, "modules not loaded").await?;
                }
                if !absent.is_empty() {
                    notes.push(format!("modules not available to this kernel here (needed once kube-proxy and flannel run): {}", absent.join(", ")));
                }
            }

            let swaps = self.state.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&address).map(|(f, _)| f.swaps.clone()).unwrap_or_default();
            if !swaps.is_empty() {
                cx.command("swapoff -a and comment swap out of /etc/fstab", "swapoff -a && sed -i -E '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/#/' /etc/fstab", "the kubelet refuses to run with swap").await?;
            }
            Ok(notes.join("; "))
        })
    }
}
