//! The host's mount table, read from `/proc/self/mountinfo`.

use std::fs;
use std::path::{Path, PathBuf};

/// Mount points listed in mountinfo text (field 5, with `\040`-style escapes decoded).
pub fn parse_mountinfo(text: &str) -> Vec<PathBuf> {
    text.lines().filter_map(|line| line.split(' ').nth(4)).map(|field| PathBuf::from(unescape(field))).collect()
}

fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        match octal {
            Some(d) => {
                out.push((d[0] - b'0') << 6 | (d[1] - b'0') << 3 | (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every mount point of this mount namespace.
pub fn mount_points() -> Vec<PathBuf> {
    fs::read_to_string("/proc/self/mountinfo").map(|t| parse_mountinfo(&t)).unwrap_or_default()
}

/// Whether `path` is a mount point.
pub fn is_mounted(path: &Path) -> bool {
    mount_points().iter().any(|m| m == path)
}

/// Mount points at or below `dir`, deepest first (the order to unmount them in).
pub fn below(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = mount_points().into_iter().filter(|m| m.starts_with(dir)).collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mount_points_with_escapes() {
        let text = "\
22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
301 22 0:77 / /var/lib/v6deploy/lab/lab/machines/101/rootfs rw,relatime - overlay overlay rw,lowerdir=/x
302 22 0:4 net:[4026532] /run/netns/v6lab-lab-101 rw - nsfs nsfs rw
303 22 0:78 / /tmp/with\\040space rw - tmpfs tmpfs rw
";
        let points = parse_mountinfo(text);
        assert_eq!(points[1], Path::new("/var/lib/v6deploy/lab/lab/machines/101/rootfs"));
        assert_eq!(points[2], Path::new("/run/netns/v6lab-lab-101"));
        assert_eq!(points[3], Path::new("/tmp/with space"));
    }
}
