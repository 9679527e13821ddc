//! The `centos7-sim` flavor: a Debian machine that presents itself as CentOS 7.8 running the
//! stock 3.10.0-1160.el7 kernel. What is real and what is simulated, and why, is in
//! `centos7-sim/README.md`; each shim is a small shell script in that directory, embedded here
//! and written into the machine's overlay before it boots:
//!
//! - `/etc/os-release`, `/etc/redhat-release`: CentOS 7.8 (the distribution check is real).
//! - `uname-sim` as `/usr/local/bin/uname` (ahead of `/usr/bin` on sshd's PATH): the kernel
//!   release is the one `kernel-boot-sim` chose at boot from the GRUB default, since a
//!   container runs its host's kernel. The reboot itself is real.
//! - `yum-sim`, `grubby-sim`, `grub2-set-default-sim`, `grub2-editenv-sim`: act on the real
//!   RPM database (Debian's `rpm`) and on `/boot/grub2/{grub.cfg,grubenv}` (BIOS layout).
//! - `network-sim` behind a `network.service`: applies the ifcfg files with `ip`, for real, in
//!   the machine's namespace; the initial ifcfg file carries the address the lab sets from
//!   outside, so the two agree until someone writes a different one.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::MachineInfo;
use crate::lab::LabError;
use crate::lab::base_image::write;
use crate::lab::command::Runner;

/// The kernel the machines "run" until upgraded.
pub const STOCK_RELEASE: &str = "3.10.0-1160.el7.x86_64";

/// Tools: (path in the machine, mode, contents). Rewritten at every start.
const TOOLS: &[(&str, u32, &str)] = &[
    ("usr/local/bin/uname", 0o755, include_str!("centos7-sim/uname-sim")),
    ("usr/local/bin/yum", 0o755, include_str!("centos7-sim/yum-sim")),
    ("usr/local/sbin/grubby", 0o755, include_str!("centos7-sim/grubby-sim")),
    ("usr/local/sbin/grub2-set-default", 0o755, include_str!("centos7-sim/grub2-set-default-sim")),
    ("usr/local/sbin/grub2-editenv", 0o755, include_str!("centos7-sim/grub2-editenv-sim")),
    ("usr/local/libexec/centos7-sim/kernel-boot-sim", 0o755, include_str!("centos7-sim/kernel-boot-sim")),
    ("usr/local/libexec/centos7-sim/network-sim", 0o755, include_str!("centos7-sim/network-sim")),
    ("etc/systemd/system/centos7-sim-boot.service", 0o644, include_str!("centos7-sim/centos7-sim-boot.service")),
    ("etc/systemd/system/network.service", 0o644, include_str!("centos7-sim/network.service")),
    ("etc/redhat-release", 0o644, include_str!("centos7-sim/redhat-release")),
    ("etc/rpm/macros", 0o644, "# centos7-sim: the RPM database where CentOS keeps it (Debian's rpm defaults to ~/.rpmdb).\n%_dbpath /var/lib/rpm\n"),
];

/// Units enabled at boot.
const UNITS: &[&str] = &["centos7-sim-boot.service", "network.service"];

/// GRUB's menu as grub2-mkconfig writes it on CentOS 7 (only what the shims read), with the
/// stock kernel.
fn grub_cfg() -> String {
    format!(
        "### centos7-sim: /boot/grub2/grub.cfg (BIOS layout); yum-sim adds kernels at the top\n\
         menuentry 'CentOS Linux ({STOCK_RELEASE}) 7 (Core)' --class centos --class gnu-linux --class gnu --class os --unrestricted {{\n\
         \tlinux16 /vmlinuz-{STOCK_RELEASE} root=/dev/mapper/centos-root ro crashkernel=auto rhgb quiet\n\
         \tinitrd16 /initramfs-{STOCK_RELEASE}.img\n}}\n"
    )
}

/// A stock CentOS 7 ifcfg file for the lab's eth0, as the installer leaves it: with UUID,
/// HWADDR and the `IPV6_ADDR_GEN_MODE=stable-privacy` that v6deploy must drop.
pub fn stock_ifcfg(machine: &MachineInfo<'_>, uuid: &str, hwaddr: &str) -> String {
    format!(
        "TYPE=Ethernet\nPROXY_METHOD=none\nBROWSER_ONLY=no\nBOOTPROTO=none\nDEFROUTE=yes\nIPV4_FAILURE_FATAL=no\n\
         IPV6INIT=yes\nIPV6_AUTOCONF=no\nIPV6_DEFROUTE=yes\nIPV6_FAILURE_FATAL=no\nIPV6_ADDR_GEN_MODE=stable-privacy\n\
         NAME=eth0\nUUID={uuid}\nDEVICE=eth0\nONBOOT=yes\nHWADDR={hwaddr}\nIPV6ADDR={}/64\nIPV6_DEFAULTGW={}\nIPV6_PRIVACY=no\n",
        machine.address, machine.gateway
    )
}

pub fn setup(runner: &Runner, machine: &MachineInfo<'_>) -> Result<(), LabError> {
    let root = machine.rootfs;
    for (path, mode, contents) in TOOLS {
        write_mode(&root.join(path), contents, *mode)?;
    }
    // Debian's /etc/os-release is a link into /usr/lib; the machine gets its own file.
    let os_release = root.join("etc/os-release");
    if fs::symlink_metadata(&os_release).is_ok_and(|m| m.file_type().is_symlink()) {
        fs::remove_file(&os_release).map_err(LabError::io("remove", &os_release))?;
    }
    write(&os_release, include_str!("centos7-sim/os-release"))?;
    write(&root.join("etc/centos-release"), include_str!("centos7-sim/redhat-release"))?;
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    fs::create_dir_all(&wants).map_err(LabError::io("create", &wants))?;
    for unit in UNITS {
        let link = wants.join(unit);
        if fs::symlink_metadata(&link).is_err() {
            symlink(format!("/etc/systemd/system/{unit}"), &link).map_err(LabError::io("enable unit", &link))?;
        }
    }
    // State: written once, kept across restarts of the machine.
    write_absent(&root.join("var/lib/centos7-sim/stock-release"), &format!("{STOCK_RELEASE}\n"))?;
    write_absent(&root.join(format!("boot/vmlinuz-{STOCK_RELEASE}")), "centos7-sim: stands for the stock CentOS 7 kernel (not a kernel)\n")?;
    write_absent(&root.join("boot/grub2/grub.cfg"), &grub_cfg())?;
    write_absent(&root.join("boot/grub2/grubenv"), &format!("# GRUB Environment Block\nsaved_entry=CentOS Linux ({STOCK_RELEASE}) 7 (Core)\n"))?;
    let ifcfg = root.join("etc/sysconfig/network-scripts/ifcfg-eth0");
    if !ifcfg.exists() {
        let uuid = fs::read_to_string("/proc/sys/kernel/random/uuid").map_err(LabError::io("read", "/proc/sys/kernel/random/uuid"))?;
        let hwaddr = mac_address(runner, machine.netns)?;
        write(&ifcfg, &stock_ifcfg(machine, uuid.trim(), &hwaddr))?;
    }
    Ok(())
}

/// eth0's MAC address in the machine's namespace, upper case as the CentOS installer writes it.
fn mac_address(runner: &Runner, netns: &str) -> Result<String, LabError> {
    let output = runner.run("ip", ["-n", netns, "-o", "link", "show", "dev", "eth0"])?;
    let mac = output.split_whitespace().skip_while(|w| *w != "link/ether").nth(1).unwrap_or("00:00:00:00:00:00");
    Ok(mac.to_uppercase())
}

fn write_mode(path: &Path, contents: &str, mode: u32) -> Result<(), LabError> {
    write(path, contents)?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(LabError::io("set the mode of", path))
}

fn write_absent(path: &Path, contents: &str) -> Result<(), LabError> {
    if path.exists() { Ok(()) } else { write(path, contents) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shim_says_what_it_simulates() {
        for (path, _, contents) in TOOLS.iter().filter(|(p, _, _)| p.contains("bin/") || p.contains("libexec/")) {
            assert!(contents.starts_with("#!/bin/sh\n"), "{path}");
            assert!(contents.lines().nth(1).is_some_and(|l| l.contains("-sim (centos7-sim lab flavor)")), "{path} does not say it is a simulation");
        }
    }

    #[test]
    fn the_stock_ifcfg_has_what_v6deploy_must_keep_and_drop() {
        let machine = MachineInfo { rootfs: Path::new("/"), netns: "x", address: "2001:db8:0:1::101".parse().unwrap(), gateway: "2001:db8:0:1::1".parse().unwrap() };
        let text = stock_ifcfg(&machine, "u-u-i-d", "AA:BB:CC:DD:EE:FF");
        for line in ["UUID=u-u-i-d", "HWADDR=AA:BB:CC:DD:EE:FF", "IPV6_ADDR_GEN_MODE=stable-privacy", "IPV6ADDR=2001:db8:0:1::101/64", "IPV6_DEFAULTGW=2001:db8:0:1::1"] {
            assert!(text.lines().any(|l| l == line), "{line} missing:\n{text}");
        }
        assert!(grub_cfg().contains("menuentry 'CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)'"));
    }
}
