//! Names that reach a host's command line: the SSH user and the kernel package and repository
//! for yum. Each has a conservative grammar, so a value can neither be an option (a leading
//! `-`) nor carry a newline, a quote or an expansion.

use super::Validator;
use crate::inventory::ProblemKind;
use crate::inventory::raw::Text;

/// A POSIX portable user name: `[A-Za-z0-9._-]`, not starting with `-`, 1 to 32 characters
/// (the limit of `useradd`).
pub fn is_user_name(name: &str) -> bool {
    (1..=32).contains(&name.len()) && !name.starts_with('-') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// An RPM package name (or a yum repository id with `:`): `[A-Za-z0-9._+-]`, not starting
/// with `-`, at most 255 characters.
pub fn is_package_name(name: &str, extra: &[u8]) -> bool {
    (1..=255).contains(&name.len()) && !name.starts_with('-') && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b) || extra.contains(&b))
}

impl Validator<'_> {
    /// `ssh.user`, refused unless it is a POSIX user name.
    pub(super) fn user_name(&mut self, text: &Text) -> String {
        if !is_user_name(&text.value) {
            let kind = ProblemKind::BadValue { value: text.value.clone(), expected: "a POSIX user name: letters, digits, '.', '_' and '-', not starting with '-', at most 32 characters, e.g. root" };
            self.report(text, "ssh.user", kind);
        }
        text.value.clone()
    }

    /// `kernel.package` and `kernel.repository`, refused unless they are package (repository)
    /// names: they become yum's arguments.
    pub(super) fn package_name(&mut self, text: &Text, field: &str) -> Option<String> {
        let value = text.value.trim();
        let (extra, expected): (&[u8], _) = if field == "kernel.repository" {
            (b":", "a yum repository id: letters, digits, '.', '_', '+', '-' and ':', not starting with '-', e.g. elrepo-kernel")
        } else {
            (b"", "an RPM package name: letters, digits, '.', '_', '+' and '-', not starting with '-', e.g. kernel-lt")
        };
        if value.is_empty() {
            return None;
        }
        if !is_package_name(value, extra) {
            self.report(text, field, ProblemKind::BadValue { value: text.value.clone(), expected });
        }
        Some(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_names() {
        for good in ["root", "centos", "ops.admin", "svc_v6-deploy", "a"] {
            assert!(is_user_name(good), "{good:?}");
        }
        for bad in ["", "-oProxyCommand=x", "root\nx", "ro ot", "root;id", "$(id)", "a'b", "ü", &"a".repeat(33)] {
            assert!(!is_user_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn package_names() {
        for good in ["kernel-lt", "kernel-ml", "kernel", "libstdc++", "kernel-4.19.113-300.el7"] {
            assert!(is_package_name(good, b""), "{good:?}");
        }
        for bad in ["", "--nogpgcheck", "-y", "kernel lt", "kernel\n", "k;reboot", "$(x)", "k*", "a:b"] {
            assert!(!is_package_name(bad, b""), "{bad:?}");
        }
        assert!(is_package_name("epel:x", b":"));
    }
}
