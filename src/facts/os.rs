//! `/etc/os-release` (and `/etc/redhat-release`).

use serde::Serialize;

/// The distribution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsRelease {
    /// `ID`, e.g. `centos`, `rocky`, `debian`.
    pub id: String,
    /// `VERSION_ID`, e.g. `7`, `8.9`, `12`.
    pub version_id: String,
    /// `PRETTY_NAME`, or redhat-release's line (which has the minor version: "CentOS Linux release 7.8.2003 (Core)").
    pub pretty: String,
}

impl OsRelease {
    /// CentOS 7 (stock kernel 3.10: flannel's IPv6 vxlan needs an upgrade).
    pub fn is_centos7(&self) -> bool {
        self.id == "centos" && self.version_id.split('.').next() == Some("7")
    }

    /// The RHEL family (yum/rpm, ifcfg network-scripts).
    pub fn is_rhel_family(&self) -> bool {
        matches!(self.id.as_str(), "centos" | "rhel" | "rocky" | "almalinux" | "ol" | "fedora")
    }
}

/// Parses os-release; redhat-release, when present, gives the precise pretty name.
pub fn parse_os_release(os_release: &str, redhat_release: &str) -> OsRelease {
    let value = |key: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').trim_matches('\'').to_string())
            .unwrap_or_default()
    };
    let redhat = redhat_release.trim();
    OsRelease {
        id: value("ID"),
        version_id: value("VERSION_ID"),
        pretty: if redhat.is_empty() { value("PRETTY_NAME") } else { redhat.to_string() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CENTOS7: &str = "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\nPRETTY_NAME=\"CentOS Linux 7 (Core)\"\nANSI_COLOR=\"0;31\"\n";
    const ROCKY8: &str = "NAME=\"Rocky Linux\"\nVERSION=\"8.9 (Green Obsidian)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.9\"\nPRETTY_NAME=\"Rocky Linux 8.9 (Green Obsidian)\"\n";
    const DEBIAN12: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

    #[test]
    fn centos7_with_redhat_release() {
        let os = parse_os_release(CENTOS7, "CentOS Linux release 7.8.2003 (Core)\n");
        assert_eq!(os, OsRelease { id: "centos".into(), version_id: "7".into(), pretty: "CentOS Linux release 7.8.2003 (Core)".into() });
        assert!(os.is_centos7() && os.is_rhel_family());
    }

    #[test]
    fn rocky8_and_debian() {
        let rocky = parse_os_release(ROCKY8, "Rocky Linux release 8.9 (Green Obsidian)\n");
        assert_eq!((rocky.id.as_str(), rocky.version_id.as_str()), ("rocky", "8.9"));
        assert!(!rocky.is_centos7() && rocky.is_rhel_family());
        let debian = parse_os_release(DEBIAN12, "");
        assert_eq!(debian.pretty, "Debian GNU/Linux 12 (bookworm)");
        assert!(!debian.is_rhel_family());
    }

    #[test]
    fn id_prefix_does_not_match_id_like() {
        // ID_LIKE must not be read as ID.
        let os = parse_os_release("ID_LIKE=\"rhel\"\nID=rocky\n", "");
        assert_eq!(os.id, "rocky");
    }
}
