//! The node names in `/etc/hosts`: a block between markers, rewritten in place; the rest of
//! the file is left exactly as it was.

use std::net::Ipv6Addr;

use crate::net::NodeName;

const BEGIN: &str = "# BEGIN v6deploy node names (managed, do not edit)";
const END: &str = "# END v6deploy node names";

/// `existing` with the managed block set to `entries` (appended when absent).
pub fn merge(existing: &str, entries: &[(Ipv6Addr, NodeName)]) -> String {
    let mut block = String::from(BEGIN);
    block.push('\n');
    for (address, name) in entries {
        block.push_str(&format!("{address} {name}\n"));
    }
    block.push_str(END);
    block.push('\n');
    let mut out = String::new();
    let mut lines = existing.lines();
    let mut placed = false;
    while let Some(line) = lines.next() {
        if line == BEGIN && !placed {
            for inner in lines.by_ref() {
                if inner == END {
                    break;
                }
            }
            out.push_str(&block);
            placed = true;
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    if !placed {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str(&block);
    }
    out
}

/// `existing` without the managed block (`None`: it has none); the rest stays as it was.
pub fn remove(existing: &str) -> Option<String> {
    if !existing.lines().any(|l| l == BEGIN) {
        return None;
    }
    let mut out = String::new();
    let mut lines = existing.lines().peekable();
    while let Some(line) = lines.next() {
        if line == BEGIN {
            for inner in lines.by_ref() {
                if inner == END {
                    break;
                }
            }
        } else if !(line.is_empty() && lines.peek() == Some(&BEGIN)) {
            // The empty line `merge` put before an appended block goes with it.
            out.push_str(line);
            out.push('\n');
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<(Ipv6Addr, NodeName)> {
        ["2002:db8:0:1::101", "2002:db8:0:1::102"].iter().map(|a| (a.parse().unwrap(), NodeName::encode(a.parse().unwrap()))).collect()
    }

    #[test]
    fn removing_the_block_gives_back_the_file_it_was_merged_into() {
        let existing = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
        assert_eq!(remove(&merge(existing, &entries())).as_deref(), Some(existing));
        assert_eq!(remove(existing), None);
        let around = format!("# first\n{}# last\n", merge("", &entries()));
        assert_eq!(remove(&around).as_deref(), Some("# first\n# last\n"));
    }

    #[test]
    fn appends_the_block_and_keeps_the_rest() {
        let existing = "127.0.0.1 localhost\n::1 localhost ip6-localhost\n";
        let merged = merge(existing, &entries());
        assert_eq!(
            merged,
            "127.0.0.1 localhost\n::1 localhost ip6-localhost\n\n# BEGIN v6deploy node names (managed, do not edit)\n\
             2002:db8:0:1::101 2002.0db8.0000.0001.0000.0000.0000.0101\n2002:db8:0:1::102 2002.0db8.0000.0001.0000.0000.0000.0102\n\
             # END v6deploy node names\n"
        );
    }

    #[test]
    fn replaces_an_existing_block_in_place_and_is_idempotent() {
        let existing = format!("a\n{BEGIN}\n2001:db8::9 old\n{END}\nz\n");
        let merged = merge(&existing, &entries());
        assert!(merged.starts_with("a\n# BEGIN"), "{merged}");
        assert!(merged.ends_with("# END v6deploy node names\nz\n"), "{merged}");
        assert!(!merged.contains("old"));
        assert_eq!(merge(&merged, &entries()), merged);
    }
}
