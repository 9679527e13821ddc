//! POSIX shell quoting: every remote command argument goes through here.

use std::borrow::Cow;

/// Quotes one argument for `sh`: left as is when it only has safe characters, otherwise put
/// in single quotes with embedded single quotes written as `'\''`.
pub fn quote(arg: &str) -> Cow<'_, str> {
    let safe = !arg.is_empty()
        && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"@%+=:,./-_[]".contains(&b));
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
        assert_eq!(quote("[2001:db8::1]:2379"), "[2001:db8::1]:2379");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(command(&["echo", "a;b", "c"]), "echo 'a;b' c");
    }

    #[test]
    fn quoted_arguments_survive_a_real_shell() {
        let nasty = ["a b", "it's", "$(echo x)", "`x`", "\"q\"", "back\\slash", "new\nline", "*", "~"];
        let line = format!("printf '%s\\0' {}", command(&nasty));
        let out = std::process::Command::new("sh").arg("-c").arg(&line).output().unwrap();
        let got: Vec<String> = out.stdout.split(|&b| b == 0).filter(|s| !s.is_empty()).map(|s| String::from_utf8(s.to_vec()).unwrap()).collect();
        assert_eq!(got, nasty);
    }
}
