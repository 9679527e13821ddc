//! The one script that reads every fact, and its section splitter.

use std::collections::BTreeMap;

/// Prints `@@name` then the section's output, for every fact. Read-only; POSIX sh; commands
/// that may be missing are guarded so one absent tool does not hide the other facts.
pub const SCRIPT: &str = r#"
echo @@os-release; cat /etc/os-release 2>/dev/null
echo @@redhat-release; cat /etc/redhat-release 2>/dev/null
echo @@uname; uname -r
echo @@addr; ip -6 -o addr show 2>/dev/null
echo @@forwarding; cat /proc/sys/net/ipv6/conf/all/forwarding 2>/dev/null
echo @@route; ip -6 route show default 2>/dev/null
echo @@resolv; cat /etc/resolv.conf 2>/dev/null
echo @@swaps; cat /proc/swaps 2>/dev/null
echo @@clock; date +%s.%N
echo @@disk; df -Pk /var 2>/dev/null
echo @@tcp6; cat /proc/net/tcp6 2>/dev/null
echo @@tcp; cat /proc/net/tcp 2>/dev/null
echo @@systemd; if [ -d /run/systemd/system ]; then systemctl --version 2>/dev/null | head -n 1; fi
echo @@managed; for u in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy; do f=/etc/systemd/system/$u.service; if [ -f $f ] && grep -q 'Managed by v6deploy' $f && systemctl is-active --quiet $u 2>/dev/null; then echo $u; fi; done
echo @@boot-id; cat /proc/sys/kernel/random/boot_id 2>/dev/null
echo @@kernels; if command -v rpm >/dev/null 2>&1; then rpm -q kernel kernel-lt kernel-ml --qf '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\n' 2>/dev/null; fi
echo @@grubby; command -v grubby 2>/dev/null
echo @@boot-entries; if command -v grubby >/dev/null 2>&1; then grubby --info=ALL 2>/dev/null; fi
echo @@boot-default; if command -v grubby >/dev/null 2>&1; then grubby --default-kernel 2>/dev/null; fi
echo @@grubenv; if command -v grub2-editenv >/dev/null 2>&1; then grub2-editenv list 2>/dev/null; fi
echo @@end
"#;

/// Splits `@@name` sections.
pub fn parse_sections(output: &str) -> BTreeMap<String, String> {
    let mut sections = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            if let Some((n, body)) = current.take() {
                sections.insert(n, body);
            }
            current = Some((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = current.as_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    if let Some((n, body)) = current {
        sections.insert(n, body);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sections_including_empty_ones() {
        let s = parse_sections("@@a\none\ntwo\n@@b\n@@c\nthree\n");
        assert_eq!(s["a"], "one\ntwo\n");
        assert_eq!(s["b"], "");
        assert_eq!(s["c"], "three\n");
    }

    #[test]
    fn the_script_runs_here_and_parses() {
        let out = std::process::Command::new("sh").arg("-c").arg(SCRIPT).output().unwrap();
        let facts = crate::facts::Facts::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
        assert!(facts.kernel.is_some(), "{facts:?}");
        assert!(facts.clock > 1.7e9);
    }
}
