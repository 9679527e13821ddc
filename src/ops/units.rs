//! Reading `systemd-analyze verify` on the host: which of its lines are problems.
//!
//! A staged component's unit is complete but its binary is not on the host yet, so the lines
//! saying its ExecStart binary is missing are expected; every other line is a problem, even a
//! warning systemd only logs (`Unknown key ..., ignoring`), since it means the unit is not what
//! the template meant.

use crate::shell::quote;

/// A shell pipeline stage (awk) that drops the acceptable lines of `systemd-analyze verify`
/// output read on stdin and prints the problems: empty lines, the missing-binary lines of
/// `staged_binaries` (ExecStart paths, e.g. /usr/local/bin/kubelet) and the summary line
/// systemd adds after a failed ExecStart check are dropped.
pub fn problems_filter(staged_binaries: &[String]) -> String {
    let program = r#"BEGIN { n = split(staged, b, " ") }
NF == 0 { next }
/Unit configuration has fatal error, unit will not be started\.$/ { next }
{ ok = 0; for (i = 1; i <= n; i++) if (index($0, b[i]) && (index($0, "is not executable") || index($0, "No such file or directory"))) ok = 1; if (!ok) print }"#;
    format!("awk -v staged={} {}", quote(&staged_binaries.join(" ")), quote(program))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(output: &str, staged: &[&str]) -> String {
        let staged: Vec<String> = staged.iter().map(|s| s.to_string()).collect();
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(problems_filter(&staged))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), output.as_bytes()).unwrap();
        String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap()
    }

    #[test]
    fn only_the_missing_binary_of_a_staged_unit_is_accepted() {
        let missing = "/etc/systemd/system/kube-apiserver.service:9: Command /usr/local/bin/kube-apiserver is not executable: No such file or directory\n\
                       kube-apiserver.service: Unit configuration has fatal error, unit will not be started.\n\n";
        assert_eq!(problems(missing, &["/usr/local/bin/kube-apiserver", "/usr/local/bin/kubelet"]), "");
        assert_eq!(problems("", &[]), "");
        assert_eq!(problems(missing, &["/usr/local/bin/kubelet"]).lines().count(), 1);
        let bad = "/etc/systemd/system/kube-apiserver.service:3: Unknown key name 'Wantz' in section 'Unit', ignoring.\n";
        assert_eq!(problems(&format!("{missing}{bad}"), &["/usr/local/bin/kube-apiserver"]), bad);
        let etcd = "etcd.service: Command /usr/local/bin/etcd is not executable: No such file or directory\n";
        assert_eq!(problems(etcd, &["/usr/local/bin/kube-apiserver"]), etcd);
    }
}
