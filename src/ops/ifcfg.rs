//! The ifcfg file v6deploy writes: the inventory's rendering (keys as in the field report),
//! plus the host's own `UUID` and `HWADDR` lines from the file it replaces. Everything else of
//! the old file goes, `IPV6_ADDR_GEN_MODE=stable-privacy` first of all: with it the static
//! address does not take effect.

use std::collections::BTreeMap;

/// Keys that belong to the host, not to the inventory: kept from the existing file.
pub const HOST_KEYS: [&str; 2] = ["UUID", "HWADDR"];

/// The line introducing the kept lines.
const KEPT: &str = "# Kept from this host's previous file:";

/// The key of an assignment line (`KEY=value`), `None` for comments and blank lines.
fn key(line: &str) -> Option<&str> {
    let line = line.trim_start();
    if line.starts_with('#') {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    (!key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(key)
}

/// The value of every assignment, unquoted; the last one of a key wins, as in the shell.
pub fn values(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|line| {
            let key = key(line)?;
            let value = line.split_once('=').map_or("", |(_, v)| v).trim();
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Some((key.to_string(), value.to_string()))
        })
        .collect()
}

/// The file to write: `desired` with the host's `UUID`/`HWADDR` lines of `existing`
/// appended (unless `desired` sets them itself). Merging its own result again gives the same
/// text, so a second run changes nothing.
pub fn merge(existing: &str, desired: &str) -> String {
    let desired_keys: Vec<&str> = desired.lines().filter_map(key).collect();
    let kept: Vec<&str> = existing
        .lines()
        .filter(|line| key(line).is_some_and(|k| HOST_KEYS.contains(&k) && !desired_keys.contains(&k)))
        .collect();
    let mut text = desired.to_string();
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    if !kept.is_empty() {
        text.push_str(KEPT);
        text.push('\n');
        for line in kept {
            text.push_str(line.trim());
            text.push('\n');
        }
    }
    text
}

/// What changes from `before` to `after`, key by key, e.g. `IPV6ADDR 2001:db8::1/64 -> 2001:db8::2/64`,
/// `-IPV6_ADDR_GEN_MODE`, `+IPV6_PRIVACY=no`.
pub fn changes(before: &str, after: &str) -> Vec<String> {
    let (before, after) = (values(before), values(after));
    let mut changes = Vec::new();
    for (key, old) in &before {
        match after.get(key) {
            None => changes.push(format!("-{key}")),
            Some(new) if new != old => changes.push(format!("{key} {old} -> {new}")),
            Some(_) => {}
        }
    }
    for (key, new) in after.iter().filter(|(k, _)| !before.contains_key(*k)) {
        changes.push(format!("+{key}={new}"));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CentOS 7 installer's file for the field report's first host.
    const INSTALLER: &str = "TYPE=Ethernet\nPROXY_METHOD=none\nBROWSER_ONLY=no\nBOOTPROTO=dhcp\nDEFROUTE=yes\nIPV6INIT=yes\nIPV6_AUTOCONF=yes\nIPV6_DEFROUTE=yes\nIPV6_FAILURE_FATAL=no\nIPV6_ADDR_GEN_MODE=stable-privacy\nNAME=ens160\nUUID=\"6f5f3e2c-1c4e-4d57-9f5b-2d8a8e0f1a11\"\nDEVICE=ens160\nONBOOT=yes\nHWADDR=00:50:56:8A:12:34\n";

    /// The field report's working file, as the template renders it.
    const DESIRED: &str = "# Managed by v6deploy\nTYPE=Ethernet\nBOOTPROTO=static\nIPV6_DEFROUTE=yes\nNAME=ens160\nDEVICE=ens160\nONBOOT=yes\nIPV6_PRIVACY=no\nIPV6INIT=yes\nIPV6_AUTOCONF=no\nIPV6ADDR=2002:db8:0:1::101/64\nIPV6_DEFAULTGW=2002:db8:0:1::1\n";

    #[test]
    fn keeps_uuid_and_hwaddr_and_drops_stable_privacy() {
        let merged = merge(INSTALLER, DESIRED);
        assert!(merged.starts_with(DESIRED), "{merged}");
        assert!(merged.contains("\nUUID=\"6f5f3e2c-1c4e-4d57-9f5b-2d8a8e0f1a11\"\n"), "{merged}");
        assert!(merged.contains("\nHWADDR=00:50:56:8A:12:34\n"), "{merged}");
        assert!(!merged.contains("IPV6_ADDR_GEN_MODE"), "{merged}");
        assert!(!merged.contains("PROXY_METHOD") && !merged.contains("BOOTPROTO=dhcp"), "{merged}");
        let v = values(&merged);
        assert_eq!(v["UUID"], "6f5f3e2c-1c4e-4d57-9f5b-2d8a8e0f1a11");
        assert_eq!(v["IPV6ADDR"], "2002:db8:0:1::101/64");
    }

    #[test]
    fn merging_twice_changes_nothing() {
        let once = merge(INSTALLER, DESIRED);
        assert_eq!(merge(&once, DESIRED), once);
        assert!(changes(&once, &merge(&once, DESIRED)).is_empty());
    }

    #[test]
    fn a_host_without_uuid_or_file_gets_the_rendering() {
        assert_eq!(merge("", DESIRED), DESIRED);
        assert_eq!(merge("# nothing\nDEVICE=ens160\n", DESIRED), DESIRED);
    }

    #[test]
    fn desired_uuid_wins_and_commented_lines_are_not_kept() {
        let desired = format!("{DESIRED}UUID=from-inventory\n");
        let merged = merge(&format!("{INSTALLER}#HWADDR=old\n"), &desired);
        assert_eq!(merged.matches("UUID=").count(), 1, "{merged}");
        assert!(merged.contains("UUID=from-inventory") && !merged.contains("#HWADDR=old"), "{merged}");
    }

    #[test]
    fn changes_name_each_key() {
        let merged = merge(INSTALLER, DESIRED);
        let c = changes(INSTALLER, &merged);
        assert!(c.contains(&"-IPV6_ADDR_GEN_MODE".to_string()), "{c:?}");
        assert!(c.contains(&"BOOTPROTO dhcp -> static".to_string()), "{c:?}");
        assert!(c.contains(&"+IPV6ADDR=2002:db8:0:1::101/64".to_string()), "{c:?}");
        assert!(!c.iter().any(|x| x.contains("UUID") || x.contains("HWADDR")), "{c:?}");
    }
}
