//! Kernel upgrade, the pure part: from a host's facts, the inventory's minimum and what can be
//! installed, decide what the host needs (nothing, with the reason; or install, make default,
//! reboot), and build the commands.

use crate::facts::{BootEntry, Facts, InstalledKernel};
use crate::kernel::{KernelPackage, KernelVersion};
use crate::shell::{command, quote};

/// Where uploaded packages go on the host.
pub const UPLOAD_DIR: &str = "/var/tmp/v6deploy/rpms";

/// Reboots a moment after the command returned, from a transient systemd timer, so that the
/// SSH session that asked is closed cleanly and nothing waits on a dying connection. Only
/// flags CentOS 7's systemd 219 knows (`--on-active`, `--timer-property`; no `--quiet`).
pub const REBOOT_COMMAND: &str = "systemd-run --on-active=2 --timer-property=AccuracySec=100ms systemctl reboot";

/// The bundle's offer: its newest kernel package and the other packages beside it (e.g. a
/// newer `linux-firmware` the kernel needs), by file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleKernel {
    pub file: String,
    pub package: KernelPackage,
    /// Other `.rpm` files of `rpms/` (not kernel packages), installed in the same transaction.
    pub companions: Vec<String>,
}

/// Picks the newest bootable kernel package among the file names of `rpms/`; other kernel
/// packages (older ones, kernel-devel, kernel-headers) are left out, every other `.rpm` is a
/// companion.
pub fn bundle_kernel(files: &[String]) -> Option<BundleKernel> {
    let (file, package) = files.iter().filter_map(|f| KernelPackage::from_file_name(f).map(|p| (f.clone(), p))).max_by_key(|(_, p)| p.version)?;
    let companions = files.iter().filter(|f| f.ends_with(".rpm") && !f.starts_with("kernel")).cloned().collect();
    Some(BundleKernel { file, package, companions })
}

/// What can be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// From the bundle's `rpms/` (`None`: it has no kernel package).
    Bundle(Option<BundleKernel>),
    /// A package from the host's repositories.
    Repository { package: String, repository: Option<String> },
}

/// How the new kernel gets on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Install {
    Bundle(BundleKernel),
    Repository { package: String, repository: Option<String> },
}

/// What a host needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Nothing: the reason.
    Skip(String),
    /// It cannot be done here: why, and what to do instead.
    Refuse(String),
    Upgrade {
        /// `None` when a kernel at or above the minimum is installed already.
        install: Option<Install>,
        /// The release to boot; `None` until a repository install shows which it is.
        target: Option<String>,
    },
}

/// Decides what `facts`' host needs to run at least `minimum`.
pub fn plan(facts: &Facts, minimum: KernelVersion, offer: &Offer) -> Plan {
    let Some(running) = facts.kernel else {
        return Plan::Refuse(format!("cannot read the running kernel's version from `uname -r` ({:?})", facts.kernel_release));
    };
    if running >= minimum {
        return Plan::Skip(format!("running kernel {} is at or above kernel.minimum {minimum}", facts.kernel_release));
    }
    if !facts.os.is_rhel_family() {
        return Plan::Refuse(format!(
            "{} ({}) runs kernel {} < {minimum}; `kernel upgrade` installs kernels with yum and GRUB 2 on the RHEL family only: upgrade this host with its distribution's tools",
            facts.os.pretty, facts.os.id, facts.kernel_release
        ));
    }
    if let Some(installed) = newest_at_least(&facts.kernels, minimum) {
        return Plan::Upgrade { install: None, target: Some(installed.release.clone()) };
    }
    match offer {
        Offer::Bundle(None) => Plan::Refuse(format!(
            "kernel {} < {minimum} and the bundle's rpms/ has no kernel package (kernel-*.rpm, kernel-lt-*.rpm or kernel-ml-*.rpm): add one, e.g. kernel-4.19.113-300.el7.x86_64.rpm, or set kernel.package for a repository",
            facts.kernel_release
        )),
        Offer::Bundle(Some(bundle)) if bundle.package.version < minimum => Plan::Refuse(format!(
            "the bundle's newest kernel package {} is below kernel.minimum {minimum}: add a newer one to rpms/",
            bundle.file
        )),
        Offer::Bundle(Some(bundle)) => Plan::Upgrade { install: Some(Install::Bundle(bundle.clone())), target: Some(bundle.package.release.clone()) },
        Offer::Repository { package, repository } => {
            Plan::Upgrade { install: Some(Install::Repository { package: package.clone(), repository: repository.clone() }), target: None }
        }
    }
}

/// The newest installed kernel at or above `minimum` (of `package`, when given).
pub fn newest_at_least(kernels: &[InstalledKernel], minimum: KernelVersion) -> Option<&InstalledKernel> {
    kernels.iter().filter(|k| k.version.is_some_and(|v| v >= minimum)).max_by_key(|k| k.version)
}

/// `yum install` of uploaded packages; no repository is consulted (offline sites hang on
/// unreachable mirrors otherwise): dependencies must be installed or in the bundle.
pub fn install_bundle_command(remote_files: &[String]) -> String {
    format!("yum --disablerepo='*' install -y {}", command(remote_files))
}

/// `yum install` of a package from the host's repositories. The package comes after `--`,
/// so even a name starting with `-` (refused at inventory load) is never an option.
pub fn install_repository_command(package: &str, repository: Option<&str>) -> String {
    match repository {
        Some(repository) => format!("yum --enablerepo={} install -y -- {}", quote(repository), quote(package)),
        None => format!("yum install -y -- {}", quote(package)),
    }
}

/// Makes `release` GRUB's default: with grubby (it knows the BIOS and the UEFI layouts), or
/// else with grub2-set-default and the entry's title from whichever grub.cfg the host boots
/// (`/boot/efi/EFI/<vendor>/grub.cfg` on UEFI, `/boot/grub2/grub.cfg` on BIOS).
pub fn set_default_command(release: &str, grubby: bool) -> String {
    if grubby {
        return format!("grubby --set-default={}", quote(&format!("/boot/vmlinuz-{release}")));
    }
    format!(
        "for c in /boot/efi/EFI/*/grub.cfg /boot/grub2/grub.cfg; do [ -f \"$c\" ] && break; done; \
         t=$(awk -F\"'\" -v r={r} '/^menuentry /{{t=$2}} index($0, \"/vmlinuz-\" r \" \"){{print t; exit}}' \"$c\"); \
         [ -n \"$t\" ] || {{ printf 'no entry for %s in %s\\n' {r} \"$c\" >&2; exit 1; }}; grub2-set-default \"$t\"",
        r = quote(release)
    )
}

/// The boot entries and the default, for a failure message.
pub fn describe_boot(entries: &[BootEntry], default: Option<&str>) -> String {
    let list = if entries.is_empty() { "none readable".to_string() } else { entries.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ") };
    format!("boot entries: {list}; boot default: {}", default.unwrap_or("unknown"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(os_release: &str, uname: &str, kernels: &str) -> Facts {
        let text = format!("@@os-release\n{os_release}@@redhat-release\n@@uname\n{uname}\n@@addr\n@@forwarding\n@@route\n@@resolv\n@@swaps\n@@clock\n0\n@@disk\n@@tcp6\n@@tcp\n@@systemd\n@@managed\n@@kernels\n{kernels}@@end\n");
        Facts::parse(&text).unwrap()
    }

    const CENTOS7: &str = "ID=\"centos\"\nVERSION_ID=\"7\"\n";
    const MIN: KernelVersion = KernelVersion { major: 4, minor: 19, patch: 0 };

    fn bundle() -> Offer {
        Offer::Bundle(bundle_kernel(&["kernel-4.19.113-300.el7.x86_64.rpm".into(), "kernel-devel-4.19.113-300.el7.x86_64.rpm".into(), "linux-firmware-20200421-80.el7.noarch.rpm".into()]))
    }

    #[test]
    fn picks_the_newest_kernel_and_its_companions() {
        let files: Vec<String> = ["kernel-4.19.113-300.el7.x86_64.rpm", "kernel-lt-5.4.278-1.el7.elrepo.x86_64.rpm", "kernel-headers-5.4.rpm", "linux-firmware-1.noarch.rpm", "README"].map(String::from).to_vec();
        let b = bundle_kernel(&files).unwrap();
        assert_eq!(b.file, "kernel-lt-5.4.278-1.el7.elrepo.x86_64.rpm");
        assert_eq!(b.companions, ["linux-firmware-1.noarch.rpm"]);
        assert_eq!(bundle_kernel(&["README".into()]), None);
    }

    #[test]
    fn skips_hosts_at_or_above_the_minimum() {
        let f = facts(CENTOS7, "4.19.113-300.el7.x86_64", "");
        assert_eq!(plan(&f, MIN, &bundle()), Plan::Skip("running kernel 4.19.113-300.el7.x86_64 is at or above kernel.minimum 4.19.0".into()));
        let debian = facts("ID=debian\nVERSION_ID=\"12\"\n", "6.1.0-27-amd64", "");
        assert!(matches!(plan(&debian, MIN, &bundle()), Plan::Skip(_)));
    }

    #[test]
    fn upgrades_centos7_from_the_bundle() {
        let f = facts(CENTOS7, "3.10.0-1160.el7.x86_64", "kernel 3.10.0-1160.el7.x86_64\n");
        let Plan::Upgrade { install: Some(Install::Bundle(b)), target } = plan(&f, MIN, &bundle()) else { panic!() };
        assert_eq!(target.as_deref(), Some("4.19.113-300.el7.x86_64"));
        assert_eq!(b.companions, ["linux-firmware-20200421-80.el7.noarch.rpm"]);
    }

    #[test]
    fn an_installed_newer_kernel_only_needs_default_and_reboot() {
        let f = facts(CENTOS7, "3.10.0-1160.el7.x86_64", "kernel 3.10.0-1160.el7.x86_64\nkernel 4.19.113-300.el7.x86_64\n");
        assert_eq!(plan(&f, MIN, &Offer::Bundle(None)), Plan::Upgrade { install: None, target: Some("4.19.113-300.el7.x86_64".into()) });
    }

    #[test]
    fn refusals_say_what_to_do() {
        let old_debian = facts("ID=debian\nVERSION_ID=\"10\"\n", "4.9.0-13-amd64", "");
        let Plan::Refuse(why) = plan(&old_debian, MIN, &bundle()) else { panic!() };
        assert!(why.contains("RHEL family only"), "{why}");
        let f = facts(CENTOS7, "3.10.0-1160.el7.x86_64", "");
        let Plan::Refuse(why) = plan(&f, MIN, &Offer::Bundle(None)) else { panic!() };
        assert!(why.contains("no kernel package"), "{why}");
        let old = Offer::Bundle(bundle_kernel(&["kernel-4.4.1-1.el7.x86_64.rpm".into()]));
        let Plan::Refuse(why) = plan(&f, MIN, &old) else { panic!() };
        assert!(why.contains("below kernel.minimum"), "{why}");
        let repo = Offer::Repository { package: "kernel-lt".into(), repository: Some("elrepo-kernel".into()) };
        assert!(matches!(plan(&f, MIN, &repo), Plan::Upgrade { target: None, .. }));
    }

    #[test]
    fn commands() {
        assert_eq!(install_bundle_command(&["/var/tmp/v6deploy/rpms/kernel-4.19.113-300.el7.x86_64.rpm".into()]), "yum --disablerepo='*' install -y /var/tmp/v6deploy/rpms/kernel-4.19.113-300.el7.x86_64.rpm");
        assert_eq!(install_repository_command("kernel-lt", Some("elrepo-kernel")), "yum --enablerepo=elrepo-kernel install -y -- kernel-lt");
        assert_eq!(install_repository_command("--nogpgcheck", None), "yum install -y -- --nogpgcheck");
        assert_eq!(set_default_command("4.19.113-300.el7.x86_64", true), "grubby --set-default=/boot/vmlinuz-4.19.113-300.el7.x86_64");
    }

    #[test]
    fn grub2_set_default_finds_the_title_in_a_bios_grub_cfg() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = "menuentry 'CentOS Linux (4.19.113-300.el7.x86_64) 7 (Core)' --class centos {\n\tlinux16 /vmlinuz-4.19.113-300.el7.x86_64 root=/dev/x ro\n}\nmenuentry 'CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)' {\n\tlinux16 /vmlinuz-3.10.0-1160.el7.x86_64 ro\n}\n";
        std::fs::write(dir.path().join("grub.cfg"), cfg).unwrap();
        // The host's paths are rewritten into the temp dir; grub2-set-default is an echo.
        let script = set_default_command("3.10.0-1160.el7.x86_64", false)
            .replace("/boot/efi/EFI/*/grub.cfg /boot/grub2/grub.cfg", &dir.path().join("grub.cfg").display().to_string())
            .replace("grub2-set-default", "echo");
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)\n", "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Regression: the release (from an rpm's file name) reached a double-quoted `echo`, so
    /// `$(...)` in the name ran. Run in a sandbox with no grub.cfg: the message names it inert.
    #[test]
    fn a_hostile_release_in_the_no_entry_message_does_not_run() {
        let dir = tempfile::tempdir().unwrap();
        let release = "4.19.0-1$(touch pwned)`touch pwned2`.x86_64";
        let script = set_default_command(release, false).replace("/boot/efi/EFI/*/grub.cfg /boot/grub2/grub.cfg", &dir.path().join("grub.cfg").display().to_string());
        let syntax = std::process::Command::new("sh").arg("-n").arg("-c").arg(&script).output().unwrap();
        assert!(syntax.status.success());
        std::fs::write(dir.path().join("grub.cfg"), "menuentry 'x' {\n}\n").unwrap();
        let out = std::process::Command::new("sh").arg("-c").arg(&script).current_dir(dir.path()).output().unwrap();
        assert!(!out.status.success());
        assert!(!dir.path().join("pwned").exists() && !dir.path().join("pwned2").exists(), "the release ran as a command");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with(&format!("no entry for {release} in ")), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
