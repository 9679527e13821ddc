//! Kernels and the boot loader: installed kernel packages (`rpm -q`), GRUB's entries
//! (`grubby --info=ALL`), its default (`grubby --default-kernel`, else grubenv's
//! `saved_entry`) and the boot id that tells one boot from the next.

use serde::Serialize;

use crate::kernel::{KERNEL_PACKAGES, KernelVersion};

/// An installed kernel package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstalledKernel {
    /// `kernel`, `kernel-lt` or `kernel-ml`.
    pub package: String,
    /// As `uname -r` prints it once booted: `4.19.113-300.el7.x86_64`.
    pub release: String,
    pub version: Option<KernelVersion>,
}

/// One GRUB menu entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootEntry {
    pub index: u32,
    pub title: String,
    /// The kernel image, e.g. `/boot/vmlinuz-4.19.113-300.el7.x86_64`.
    pub kernel: String,
}

impl BootEntry {
    /// The kernel release this entry boots (from the image name).
    pub fn release(&self) -> Option<&str> {
        release_of_image(&self.kernel)
    }
}

impl std::fmt::Display for BootEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.index, self.title, self.kernel)
    }
}

/// `4.19.113-300.el7.x86_64` from `/boot/vmlinuz-4.19.113-300.el7.x86_64` (or `/vmlinuz-...`).
pub fn release_of_image(image: &str) -> Option<&str> {
    image.rsplit('/').next()?.strip_prefix("vmlinuz-").filter(|r| !r.is_empty())
}

/// Parses `rpm -q kernel kernel-lt kernel-ml --qf '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\n'`;
/// "package kernel-lt is not installed" lines are skipped.
pub fn parse_installed_kernels(output: &str) -> Vec<InstalledKernel> {
    output
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (package, release) = (fields.next()?, fields.next()?);
            if fields.next().is_some() || !KERNEL_PACKAGES.contains(&package) {
                return None;
            }
            Some(InstalledKernel { package: package.to_string(), release: release.to_string(), version: release.parse().ok() })
        })
        .collect()
}

/// Parses `grubby --info=ALL` (EL7 writes `kernel=/boot/...`, EL8 quotes the values).
pub fn parse_boot_entries(output: &str) -> Vec<BootEntry> {
    let mut entries: Vec<BootEntry> = Vec::new();
    for line in output.lines() {
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim().trim_matches('"').to_string();
        match key.trim() {
            "index" => {
                if let Ok(index) = value.parse() {
                    entries.push(BootEntry { index, title: String::new(), kernel: String::new() });
                }
            }
            "kernel" => {
                if let Some(entry) = entries.last_mut() {
                    entry.kernel = value;
                }
            }
            "title" => {
                if let Some(entry) = entries.last_mut() {
                    entry.title = value;
                }
            }
            _ => {}
        }
    }
    entries.retain(|e| !e.kernel.is_empty());
    entries
}

/// The release GRUB boots next: `grubby --default-kernel`'s image, else grubenv's
/// `saved_entry` (a title or an index) looked up in `entries`.
pub fn parse_boot_default(default_kernel: &str, grubenv: &str, entries: &[BootEntry]) -> Option<String> {
    if let Some(release) = default_kernel.lines().find_map(release_of_image) {
        return Some(release.to_string());
    }
    let saved = grubenv.lines().find_map(|l| l.strip_prefix("saved_entry="))?.trim();
    let entry = match saved.parse::<u32>() {
        Ok(index) => entries.iter().find(|e| e.index == index),
        Err(_) => entries.iter().find(|e| e.title == saved),
    };
    entry.and_then(BootEntry::release).map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRUBBY_EL7: &str = "index=0\nkernel=/boot/vmlinuz-4.19.113-300.el7.x86_64\nargs=\"ro crashkernel=auto rhgb quiet\"\nroot=/dev/mapper/centos-root\ninitrd=/boot/initramfs-4.19.113-300.el7.x86_64.img\ntitle=CentOS Linux (4.19.113-300.el7.x86_64) 7 (Core)\nindex=1\nkernel=/boot/vmlinuz-3.10.0-1160.el7.x86_64\nargs=\"ro\"\ntitle=CentOS Linux (3.10.0-1160.el7.x86_64) 7 (Core)\nindex=2\nnon linux entry\n";

    #[test]
    fn installed_kernels_from_rpm() {
        let out = "kernel 3.10.0-1160.el7.x86_64\nkernel 4.19.113-300.el7.x86_64\npackage kernel-lt is not installed\nkernel-ml 6.9.7-1.el7.elrepo.x86_64\n";
        let kernels = parse_installed_kernels(out);
        assert_eq!(kernels.len(), 3);
        assert_eq!(kernels[1], InstalledKernel { package: "kernel".into(), release: "4.19.113-300.el7.x86_64".into(), version: Some("4.19.113".parse().unwrap()) });
        assert_eq!(kernels[2].package, "kernel-ml");
        assert!(parse_installed_kernels("").is_empty());
    }

    #[test]
    fn boot_entries_from_grubby_el7_and_el8() {
        let entries = parse_boot_entries(GRUBBY_EL7);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[1].release(), Some("3.10.0-1160.el7.x86_64"));
        assert_eq!(entries[0].to_string(), "0: CentOS Linux (4.19.113-300.el7.x86_64) 7 (Core) (/boot/vmlinuz-4.19.113-300.el7.x86_64)");
        let el8 = "index=0\nkernel=\"/boot/vmlinuz-4.18.0-513.el8.x86_64\"\ntitle=\"Rocky Linux (4.18.0-513.el8.x86_64) 8.9\"\n";
        assert_eq!(parse_boot_entries(el8)[0].release(), Some("4.18.0-513.el8.x86_64"));
    }

    #[test]
    fn boot_default_from_grubby_or_grubenv() {
        let entries = parse_boot_entries(GRUBBY_EL7);
        assert_eq!(parse_boot_default("/boot/vmlinuz-3.10.0-1160.el7.x86_64\n", "", &entries).as_deref(), Some("3.10.0-1160.el7.x86_64"));
        let by_title = "saved_entry=CentOS Linux (4.19.113-300.el7.x86_64) 7 (Core)\n";
        assert_eq!(parse_boot_default("", by_title, &entries).as_deref(), Some("4.19.113-300.el7.x86_64"));
        assert_eq!(parse_boot_default("", "saved_entry=1\n", &entries).as_deref(), Some("3.10.0-1160.el7.x86_64"));
        assert_eq!(parse_boot_default("", "saved_entry=gone\n", &entries), None);
        assert_eq!(release_of_image("/vmlinuz-5.4.0"), Some("5.4.0"));
    }
}
