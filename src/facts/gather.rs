//! The one script that reads every fact, and its section splitter.

use std::collections::BTreeMap;

/// Prints `@@name` then the section's output, for every fact. Read-only; POSIX sh; commands
/// that may be missing are guarded so one absent tool does not hide the other facts. Small
/// files are read with the shell's own `read` (`r`) and the managed units with one `grep` and
/// one `systemctl`: every process started costs a small host more than the round trip does.
/// The socket tables are the exception: they grow with the connections (a control plane has
/// thousands), and dash's `read` takes one `read(2)` per byte, which cost a control plane
/// 0.4 s of system time on every run; `awk` reads them in blocks and keeps the LISTEN lines
/// (state `0A`), all that is used of them.
/// The managed units are those the host's unit files say v6deploy wrote (no list to keep in
/// step with the component catalog).
pub const SCRIPT: &str = r#"
r() { while IFS= read -r l || [ -n "$l" ]; do printf '%s\n' "$l"; done < "$1"; } 2>/dev/null
echo @@os-release; r /etc/os-release
echo @@redhat-release; r /etc/redhat-release
echo @@uname; uname -r
echo @@addr; ip -6 -o addr show 2>/dev/null
echo @@forwarding; r /proc/sys/net/ipv6/conf/all/forwarding
echo @@route; ip -6 route show default 2>/dev/null
echo @@resolv; r /etc/resolv.conf
echo @@swaps; r /proc/swaps
echo @@clock; date +%s.%N
echo @@disk; df -Pk /var 2>/dev/null
echo @@tcp6; awk '$4 == "0A"' /proc/net/tcp6 2>/dev/null
echo @@tcp; awk '$4 == "0A"' /proc/net/tcp 2>/dev/null
echo @@systemd; if [ -d /run/systemd/system ]; then systemctl --version 2>/dev/null | head -n 1; fi
echo @@managed; m=''; for f in $(cd /etc/systemd/system 2>/dev/null && grep -l 'Managed by v6deploy' -- *.service 2>/dev/null); do m="$m ${f%.service}"; done
if [ -n "$m" ]; then set -- $m; for st in $(systemctl is-active "$@" 2>/dev/null); do [ "$st" = active ] && echo "$1"; shift; done; fi
echo @@boot-id; r /proc/sys/kernel/random/boot_id
echo @@kernels; if command -v rpm >/dev/null 2>&1; then rpm -q kernel kernel-lt kernel-ml --qf '%{NAME} %{VERSION}-%{RELEASE}.%{ARCH}\n' 2>/dev/null; fi
echo @@grubby; command -v grubby 2>/dev/null
echo @@boot-entries; if command -v grubby >/dev/null 2>&1; then grubby --info=ALL 2>/dev/null; fi
echo @@boot-default; if command -v grubby >/dev/null 2>&1; then grubby --default-kernel 2>/dev/null; fi
echo @@grubenv; if command -v grub2-editenv >/dev/null 2>&1; then grub2-editenv list 2>/dev/null; fi
echo @@tools; for t in curl; do command -v "$t" >/dev/null 2>&1 && echo "$t"; done
echo @@containerd-config; if [ -f /etc/containerd/config.toml ]; then grep -E 'Managed by v6deploy|^[[:space:]]*disabled_plugins' /etc/containerd/config.toml 2>/dev/null; fi
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
