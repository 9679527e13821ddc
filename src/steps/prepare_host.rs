//! Host preparation: the IPv6 forwarding and bridge sysctls (persisted by `InstallFiles`)
//! applied, kernel modules loaded, swap off.

use std::sync::Arc;

use anyhow::{Context, bail};

use super::InstallState;
use crate::inventory::Inventory;
use crate::facts::{MissingModules, Query};
use crate::inventory::HostSpec;
use crate::runner::{HostContext, Read, Step, StepFuture};
use crate::shell::command;

// The files this step applies (the host component's; `InstallFiles` writes them).
use crate::components::{MODULES, SYSCTL};

/// Applies every `key = value` of the sysctl file one by one (through /proc/sys, so no
/// `sysctl` binary is needed; a key with `/` is already a path, as sysctl.d allows) and prints the keys that could not be set (e.g. a kernel-wide
/// key inside a container; a missing key, module not loaded, is reported too), then
/// `forwarding=` and the value IPv6 forwarding has now.
const APPLY_SYSCTL: &str = "grep -E '^[a-z]' /etc/sysctl.d/90-v6deploy.conf | while IFS='= ' read -r k v; do case \"$k\" in */*) p=/proc/sys/$k;; *) p=/proc/sys/$(echo \"$k\" | tr . /);; esac; { echo \"$v\" > \"$p\"; } 2>/dev/null || echo \"$k\"; done; echo \"forwarding=$(cat /proc/sys/net/ipv6/conf/all/forwarding)\"";

/// Where the kernel says whether IPv6 forwarding is on.
const FORWARDING: &str = "/proc/sys/net/ipv6/conf/all/forwarding";

/// What fails without a module of the modules-load.d file (`templates/modules-load.conf.j2`).
fn feature_of(module: &str) -> Option<&'static str> {
    Some(match module {
        "br_netfilter" => "ip6tables on bridged pod traffic",
        "overlay" => "containerd's overlayfs snapshotter",
        "vxlan" => "flannel's vxlan",
        "ip6_tables" => "ip6tables",
        "ip6table_filter" => "the ip6tables filter table",
        "ip6table_nat" => "kube-proxy's ip6tables nat",
        "ip6table_mangle" => "the ip6tables mangle table",
        "nf_conntrack" => "connection tracking",
        _ => return None,
    })
}

/// The note on modules the kernel lacks (not built in, not loadable, their feature not
/// working): each feature that will fail, with its module.
fn lacking_note(absent: &[String]) -> String {
    let lacking: Vec<String> = absent.iter().map(|m| feature_of(m).map_or_else(|| m.clone(), |feature| format!("{feature} ({m})"))).collect();
    let which = if absent.len() == 1 { "this module" } else { "these modules" };
    format!("the kernel lacks {}: load or build in {which} before kube-proxy and flannel run", lacking.join(", "))
}

/// The "Prepare hosts" step.
pub struct PrepareHost {
    pub state: Arc<InstallState>,
}

impl PrepareHost {
    /// The modules the host's modules-load.d file names.
    fn wanted_modules(&self, host: &HostSpec) -> Vec<String> {
        let file = self.state.files(host.address, |p| p == MODULES);
        let text = file.first().map(|s| String::from_utf8_lossy(s.contents.in_memory().unwrap_or_default()).into_owned()).unwrap_or_default();
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
    }
}

impl Step for PrepareHost {
    fn title(&self) -> String {
        "Prepare hosts (sysctl, modules, swap)".into()
    }

    fn reads(&self, _: &Inventory, host: &HostSpec) -> Vec<Read> {
        let mut reads = vec![Read::Contents(FORWARDING.into())];
        let wanted = self.wanted_modules(host);
        if !wanted.is_empty() {
            reads.push(Read::query(&Query::missing_modules(&wanted.iter().map(String::as_str).collect::<Vec<_>>())));
        }
        reads
    }

    fn run<'a>(&'a self, cx: &'a HostContext<'a>) -> StepFuture<'a> {
        Box::pin(async move {
            let address = cx.host.address;
            let mut notes = Vec::new();
            let sysctl_changed = !self.state.changed(address, |p| p == SYSCTL).is_empty();
            let forwarding = cx.read_file(FORWARDING).await?;
            let forwarding_on = forwarding.as_deref().map(|f| String::from_utf8_lossy(f).trim() == "1").unwrap_or(false);
            if sysctl_changed || !forwarding_on {
                let applied = cx.command("apply /etc/sysctl.d/90-v6deploy.conf", APPLY_SYSCTL, "IPv6 forwarding and bridge settings").await?;
                if let Some(applied) = applied {
                    let text = applied.stdout_text();
                    let unset: Vec<&str> = text.lines().filter(|l| !l.starts_with("forwarding=")).collect();
                    if !unset.is_empty() {
                        notes.push(format!("sysctl not settable here: {}", unset.join(", ")));
                    }
                    if !text.lines().any(|l| l.trim() == "forwarding=1") {
                        bail!("net.ipv6.conf.all.forwarding is still 0 after applying {SYSCTL}: pods cannot be routed");
                    }
                }
            }

            let wanted = self.wanted_modules(cx.host);
            let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
            if !wanted.is_empty() {
                let MissingModules { loadable, absent } = cx.query(&Query::missing_modules(&wanted)).await.context("list kernel modules")?;
                if !loadable.is_empty() {
                    let load = format!("modprobe -a {}", command(&loadable));
                    cx.command(&load, &load, "modules not loaded").await?;
                }
                if !absent.is_empty() {
                    notes.push(lacking_note(&absent));
                }
            }

            let swaps = self.state.facts.lock().unwrap_or_else(|p| p.into_inner()).get(&address).map(|(f, _)| f.swaps.clone()).unwrap_or_default();
            if !swaps.is_empty() {
                cx.command("swapoff -a and comment swap out of /etc/fstab", "swapoff -a && sed -i -E '/^[^#].*[[:space:]]swap[[:space:]]/ s/^/#/' /etc/fstab", "the kubelet refuses to run with swap").await?;
            }
            if notes.is_empty() {
                notes.push("settings in effect".into());
            }
            Ok(notes.join("; "))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_on_lacking_modules_says_what_fails() {
        let note = lacking_note(&["vxlan".into(), "ip6table_nat".into(), "ip_vs".into()]);
        assert_eq!(note, "the kernel lacks flannel's vxlan (vxlan), kube-proxy's ip6tables nat (ip6table_nat), ip_vs: load or build in these modules before kube-proxy and flannel run");
        assert!(lacking_note(&["overlay".into()]).ends_with("(overlay): load or build in this module before kube-proxy and flannel run"));
    }
}
