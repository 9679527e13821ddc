//! POSIX shell quoting: every remote command argument goes through here. Pure (strings in,
//! strings out), at the bottom of the crate: rendering, the component catalog, the PKI and the
//! transport all use it, and it uses none of them.

use std::borrow::Cow;

/// Quotes one argument for `sh`: left as is when it only has characters of the conservative
/// safe set `[A-Za-z0-9_@%+=:,./-]` (none of them a glob, an expansion or an operator),
/// otherwise put in single quotes with embedded single quotes written as `'\''`. An IPv6
/// literal in brackets is quoted: `[...]` is a glob.
pub fn quote(arg: &str) -> Cow<'_, str> {
    let safe = !arg.is_empty() && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if safe {
        Cow::Borrowed(arg)
    } else {
        Cow::Owned(format!("'{}'", arg.replace('\'', r"'\''")))
    }
}

/// Joins quoted arguments into one command line.
pub fn command<S: AsRef<str>>(args: &[S]) -> String {
    args.iter().map(|a| quote(a.as_ref()).into_owned()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(quote("/etc/kubernetes/kubelet.conf"), "/etc/kubernetes/kubelet.conf");
        assert_eq!(quote("2001:db8::1"), "2001:db8::1");
        assert_eq!(quote("[2001:db8::1]:2379"), "'[2001:db8::1]:2379'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(command(&["echo", "a;b", "c"]), "echo 'a;b' c");
    }

    /// Regression: `[` and `]` were left bare, so a path such as `/etc/[ab]` globbed.
    #[test]
    fn glob_and_shell_metacharacters_are_quoted() {
        for c in "[]*?~!#$&|;<>(){}\\\"'` \t\n^".chars() {
            let arg = format!("a{c}b");
            assert!(quote(&arg).starts_with('\''), "{arg:?} left bare");
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "").unwrap();
        let pattern = format!("{}/[ab]", dir.path().display());
        let out = std::process::Command::new("sh").arg("-c").arg(format!("printf '%s' {}", quote(&pattern))).output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), pattern, "the pattern reached printf unglobbed");
    }

    #[test]
    fn quoted_arguments_survive_a_real_shell() {
        let nasty = ["a b", "it's", "$(echo x)", "`x`", "\"q\"", "back\\slash", "new\nline", "*", "~", "[ab]", "[2001:db8::1]:2379"];
        let line = format!("printf '%s\\0' {}", command(&nasty));
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
        let got: Vec<String> = out.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8(s.to_vec()).unwrap()).collect();
        assert_eq!(got, nasty);
    }
}
