//! Long source builds of the lab (Kubernetes, the network addons): a shell script run once,
//! its `== ` lines shown as progress with the elapsed time, a heartbeat while it is silent,
//! every line logged, and the last lines of the log in the error when it fails. The scripts
//! rename their results into place, so a failed or interrupted build leaves no half result.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::LabError;
use super::command::{Echo, Runner};

/// Lines of the build's output kept for an error message.
const TAIL: usize = 25;

/// How often a silent build says it is still going.
const HEARTBEAT: Duration = Duration::from_secs(60);

/// The variables a build keeps from v6deploy's environment; every other is dropped. Make and
/// the Go tools read many (`OUT_DIR`, which cargo sets for the tests, moved Kubernetes' whole
/// `_output/` and failed its build; `GOFLAGS`, `GOPATH`, `CC`, ...): the scripts set what they
/// need themselves.
const KEPT_ENV: [&str; 8] = ["PATH", "TMPDIR", "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"];

/// One build script.
pub struct BuildScript<'a> {
    /// What progress lines are prefixed with (`kubernetes`, `network addons`).
    pub name: &'a str,
    /// The script's text, run with `sh -c`.
    pub script: &'a str,
    /// Its file in the repository, for the command line shown (`src/lab/kubernetes/build.sh`).
    pub file: &'a str,
    pub args: Vec<OsString>,
}

impl BuildScript<'_> {
    /// Runs the script, its output to `log_path`; `started` is when the user was told.
    pub fn run(&self, runner: &Runner, log_path: &Path, started: Instant) -> Result<(), LabError> {
        let mut command = Command::new("sh");
        // stderr joins stdout, so the log keeps the order of what happened.
        command.arg("-c").arg(format!("exec 2>&1\n{}", self.script)).arg(self.file).args(&self.args);
        command.stdin(Stdio::null()).stdout(Stdio::piped()).env_clear().env("LC_ALL", "C");
        for name in KEPT_ENV {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let shown: Vec<String> = self.args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
        let line = format!("sh {} {}", self.file, shown.join(" "));
        if runner.echo == Echo::Commands {
            eprintln!("lab: $ {line}");
        }
        let mut log = File::create(log_path).map_err(LabError::io("create", log_path))?;
        let mut child = command.spawn().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
        let mut tail = VecDeque::with_capacity(TAIL);
        let done = AtomicBool::new(false);
        let read = std::thread::scope(|scope| {
            // A compile step is silent for minutes: say that it is still going.
            scope.spawn(|| {
                let mut next = HEARTBEAT;
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(250));
                    if started.elapsed() >= next {
                        runner.note(format!("{} [{}]: still building (output in {})", self.name, minutes(started.elapsed()), log_path.display()));
                        next += HEARTBEAT;
                    }
                }
            });
            let read = self.copy_output(runner, child.stdout.take(), &mut log, log_path, &mut tail, started);
            done.store(true, Ordering::Relaxed);
            read
        });
        if let Err(error) = read {
            let _ = child.kill();
            let _ = child.wait();
            return Err(error);
        }
        let status = child.wait().map_err(|source| LabError::Spawn { command: line.clone(), source })?;
        if status.success() {
            return Ok(());
        }
        let last: Vec<String> = tail.into_iter().collect();
        Err(LabError::Command { command: line, status: status.to_string(), stderr: format!("{}\n(the whole output is in {})", last.join("\n"), log_path.display()) })
    }

    /// Logs every line of the output, notes its `== ` lines and keeps the last ones.
    fn copy_output(&self, runner: &Runner, stdout: Option<ChildStdout>, log: &mut File, log_path: &Path, tail: &mut VecDeque<String>, started: Instant) -> Result<(), LabError> {
        let Some(stdout) = stdout else { return Ok(()) };
        let mut reader = BufReader::new(stdout);
        let mut bytes = Vec::new();
        while reader.read_until(b'\n', &mut bytes).map_err(LabError::io("read the output of", self.file))? > 0 {
            let text = String::from_utf8_lossy(&bytes).trim_end().to_string();
            bytes.clear();
            log.write_all(format!("{text}\n").as_bytes()).map_err(LabError::io("write", log_path))?;
            if let Some(step) = text.strip_prefix("== ") {
                runner.note(format!("{} [{}]: {step}", self.name, minutes(started.elapsed())));
            }
            if tail.len() == TAIL {
                tail.pop_front();
            }
            tail.push_back(text);
        }
        Ok(())
    }
}

/// `14 min 3 s`, or `42 s` under a minute.
pub fn minutes(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    if seconds < 60 { format!("{seconds} s") } else { format!("{} min {} s", seconds / 60, seconds % 60) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_times_read_as_minutes() {
        assert_eq!(minutes(Duration::from_secs(42)), "42 s");
        assert_eq!(minutes(Duration::from_secs(843)), "14 min 3 s");
    }

    /// Regression: cargo sets `OUT_DIR` (and `CARGO_*`) for the tests; the Kubernetes build
    /// inherited it through `lab up` and make put `_output/` there, failing the build on a
    /// machine without the cache.
    #[test]
    fn a_build_sees_only_the_kept_environment() {
        assert!(std::env::var_os("CARGO_PKG_NAME").is_some(), "cargo sets CARGO_PKG_NAME for tests");
        let runner = Runner { echo: Echo::Quiet };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("build.log");
        let script = BuildScript { name: "test", script: "echo \"out=${OUT_DIR-unset} pkg=${CARGO_PKG_NAME-unset} lc=$LC_ALL\"; command -v sh >/dev/null", file: "t.sh", args: vec![] };
        script.run(&runner, &log, Instant::now()).unwrap();
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "out=unset pkg=unset lc=C\n");
    }

    #[test]
    fn a_failing_script_names_its_log_and_its_last_lines() {
        let runner = Runner { echo: Echo::Quiet };
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("build.log");
        let script = BuildScript { name: "test", script: "echo '== step one'\necho \"arg $1\"\necho oops >&2\nexit 4", file: "t.sh", args: vec!["x".into()] };
        let error = script.run(&runner, &log, Instant::now()).unwrap_err().to_string();
        assert!(error.contains("oops") && error.contains("build.log") && error.contains("exit status: 4"), "{error}");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "== step one\narg x\noops\n");
        let ok = BuildScript { name: "test", script: "echo fine", file: "t.sh", args: vec![] };
        ok.run(&runner, &log, Instant::now()).unwrap();
    }
}
