//! Systemd unit decisions: which services to restart, and reading `systemd-analyze verify`.

/// Whether `systemd-analyze verify` output only complains that the staged binary is absent
/// (the unit is otherwise valid). `binary` is the ExecStart path, e.g. /usr/local/bin/etcd.
pub fn verify_ok_except_missing(output: &str, binary: &str) -> bool {
    output.lines().map(str::trim).filter(|l| !l.is_empty()).all(|line| {
        (line.contains(binary) && (line.contains("is not executable") || line.contains("No such file or directory")))
            // systemd prints a summary line after a failed ExecStart check.
            || line.ends_with("Unit configuration has fatal error, unit will not be started.")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_missing_binary() {
        let missing = "/etc/systemd/system/kube-apiserver.service:9: Command /usr/local/bin/kube-apiserver is not executable: No such file or directory\n\
                       kube-apiserver.service: Unit configuration has fatal error, unit will not be started.\n";
        assert!(verify_ok_except_missing(missing, "/usr/local/bin/kube-apiserver"));
        assert!(verify_ok_except_missing("", "/usr/local/bin/kube-apiserver"));
        let bad = "/etc/systemd/system/kube-apiserver.service:3: Unknown key name 'Wantz' in section 'Unit', ignoring.\n";
        assert!(!verify_ok_except_missing(bad, "/usr/local/bin/kube-apiserver"));
        assert!(!verify_ok_except_missing(&format!("{missing}{bad}"), "/usr/local/bin/kube-apiserver"));
    }
}
