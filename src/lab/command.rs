//! Running external programs: each command is logged (`lab: $ ip ...`), its exit status
//! checked, and its stderr put into the error.

use std::ffi::OsStr;
use std::process::{Command, Stdio};

use super::LabError;
use crate::shell::quote;

/// Whether commands are echoed to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Print each command and each note (the default).
    Commands,
    /// Print notes only.
    Quiet,
}

/// Runs commands for the lab.
#[derive(Debug, Clone, Copy)]
pub struct Runner {
    pub echo: Echo,
}

impl Runner {
    /// A progress line, always shown.
    pub fn note(&self, message: impl AsRef<str>) {
        eprintln!("lab: {}", message.as_ref());
    }

    /// Runs `program args...`, returning its stdout; a non-zero exit is an error carrying stderr.
    pub fn run<I, S>(&self, program: &str, args: I) -> Result<String, LabError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null());
        let line = render(&command);
        if self.echo == Echo::Commands {
            eprintln!("lab: $ {line}");
        }
        let output = command.output().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
            let stderr = if stderr.is_empty() { "no error output".to_string() } else { stderr };
            return Err(LabError::Command { command: line, status: output.status.to_string(), stderr });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

/// The command as a shell line, quoting arguments that need it.
pub fn render(command: &Command) -> String {
    let mut words = vec![command.get_program().to_string_lossy().into_owned()];
    words.extend(command.get_args().map(|a| quote(&a.to_string_lossy()).into_owned()));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_copyable_shell_line() {
        let mut command = Command::new("ip");
        command.args(["-n", "v6lab-lab-101", "addr", "add", "2001:db8:0:1::101/64", "dev", "eth0", "nodad", "it's", ""]);
        assert_eq!(render(&command), r"ip -n v6lab-lab-101 addr add 2001:db8:0:1::101/64 dev eth0 nodad 'it'\''s' ''");
    }

    #[test]
    fn a_failing_command_carries_its_stderr() {
        let runner = Runner { echo: Echo::Quiet };
        let error = runner.run("sh", ["-c", "echo bad thing >&2; exit 3"]).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("sh -c 'echo bad thing >&2; exit 3'"), "{text}");
        assert!(text.contains("bad thing") && text.contains("exit status: 3"), "{text}");
        assert_eq!(runner.run("sh", ["-c", "echo ok"]).unwrap(), "ok\n");
    }
}
