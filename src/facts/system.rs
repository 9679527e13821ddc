//! Swap, disk and systemd.

/// Active swap areas from /proc/swaps (header skipped).
pub fn parse_swaps(output: &str) -> Vec<String> {
    output.lines().skip(1).filter_map(|l| l.split_whitespace().next()).map(String::from).collect()
}

/// Available KiB from `df -Pk /var`.
pub fn parse_disk_free(output: &str) -> Option<u64> {
    output.lines().nth(1)?.split_whitespace().nth(3)?.parse().ok()
}

/// systemd's version from `systemctl --version`'s first line ("systemd 252 (252.30-1~deb12u2)");
/// None when systemd is not PID 1.
pub fn parse_systemd(output: &str) -> Option<u32> {
    output.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_disk_systemd() {
        assert_eq!(parse_swaps("Filename\tType\tSize\tUsed\tPriority\n/dev/dm-1 partition 2097148 0 -2\n"), ["/dev/dm-1"]);
        assert!(parse_swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
        assert_eq!(parse_disk_free("Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 263174212 11000000 83000000 12% /\n"), Some(83_000_000));
        assert_eq!(parse_systemd("systemd 219\n"), Some(219));
        assert_eq!(parse_systemd("systemd 252 (252.30-1~deb12u2)\n"), Some(252));
        assert_eq!(parse_systemd(""), None);
    }
}
