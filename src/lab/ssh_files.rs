//! The lab's SSH files in the project: the key root logs in with, and the known_hosts file
//! with every machine's host key.

use std::fs;
use std::net::Ipv6Addr;
use std::path::Path;

use super::LabError;
use super::base_image::write;
use super::command::Runner;

/// Creates the lab key pair unless it exists; returns the public key.
pub fn ensure_key(runner: &Runner, key: &Path, comment: &str) -> Result<String, LabError> {
    let public = key.with_extension("pub");
    if !key.exists() || !public.exists() {
        if let Some(dir) = key.parent() {
            fs::create_dir_all(dir).map_err(LabError::io("create", dir))?;
        }
        for file in [key, &public] {
            if file.exists() {
                fs::remove_file(file).map_err(LabError::io("remove", file))?;
            }
        }
        let file = key.display().to_string();
        runner.run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", &file])?;
    }
    fs::read_to_string(&public).map_err(LabError::io("read", &public))
}

/// A known_hosts line as OpenSSH writes it for port 22: the bare address (brackets only
/// appear with another port), the key type and the key, without the key's comment.
pub fn known_hosts_line(address: Ipv6Addr, port: u16, public_key: &str) -> String {
    let mut words = public_key.split_whitespace();
    let key_type = words.next().unwrap_or_default();
    let key = words.next().unwrap_or_default();
    let host = if port == 22 { address.to_string() } else { format!("[{address}]:{port}") };
    format!("{host} {key_type} {key}")
}

/// Writes known_hosts with one line per machine.
pub fn write_known_hosts(path: &Path, machines: &[(Ipv6Addr, String)]) -> Result<(), LabError> {
    let text: String = machines.iter().map(|(address, key)| known_hosts_line(*address, 22, key) + "\n").collect();
    write(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_hosts_lines_match_openssh() {
        let address: Ipv6Addr = "2001:db8:0:1::101".parse().unwrap();
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPOrU root@lab-101\n";
        assert_eq!(known_hosts_line(address, 22, key), "2001:db8:0:1::101 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPOrU");
        assert_eq!(known_hosts_line(address, 2222, key), "[2001:db8:0:1::101]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPOrU");
    }

    /// `ssh-keygen -F` finds the host in the file written, by the address form ssh uses.
    #[test]
    fn ssh_keygen_finds_the_written_lines() {
        let dir = tempfile::tempdir().unwrap();
        let runner = Runner { echo: super::super::command::Echo::Quiet };
        let public = ensure_key(&runner, &dir.path().join("key"), "test").unwrap();
        let path = dir.path().join("known_hosts");
        let address: Ipv6Addr = "2001:db8:0:1::101".parse().unwrap();
        write_known_hosts(&path, &[(address, public.clone())]).unwrap();
        let found = runner.run("ssh-keygen", ["-F", "2001:db8:0:1::101", "-f", path.to_str().unwrap()]).unwrap();
        assert!(found.contains(public.split_whitespace().nth(1).unwrap()), "{found}");
        assert_eq!(ensure_key(&runner, &dir.path().join("key"), "test").unwrap(), public, "an existing key is kept");
    }
}
