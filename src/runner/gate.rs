//! The one gate every remote change goes through. In apply mode it makes the change and
//! records it; in dry-run mode it only records "would ...", so the plan is exact.

use std::sync::Mutex;

use anyhow::Context;

use super::{Mode, Snapshot};
use crate::transport::files::{self, FileSpec, FileState};
use crate::transport::{Output, Transport};

/// What kind of change.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeKind {
    Write,
    Command,
}

/// One change made (or planned) on one host.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    pub host: String,
    pub step: String,
    pub kind: ChangeKind,
    /// The file path or the command's description.
    pub target: String,
    /// Why (e.g. "content differs", "kubelet.service changed").
    pub reason: String,
    /// False in dry-run.
    pub applied: bool,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = match (&self.kind, self.applied) {
            (ChangeKind::Write, true) => "wrote",
            (ChangeKind::Write, false) => "would write",
            (ChangeKind::Command, true) => "ran",
            (ChangeKind::Command, false) => "would run",
        };
        write!(f, "{}: {verb} {} ({})", self.host, self.target, self.reason)
    }
}

/// A command run right after a write, in the same round trip (see `Gate::files_then`).
#[derive(Debug, Clone)]
pub struct FollowUp {
    /// What it does, for the plan.
    pub what: String,
    /// A script that works under `set -e` (a failure ends the round trip with an error).
    pub script: String,
    pub reason: String,
    /// Whether it changes the host (recorded as a change; a check is not).
    pub change: bool,
}

/// Records every change; acts on them only in apply mode.
pub struct Gate {
    mode: Mode,
    changes: Mutex<Vec<Change>>,
    step: Mutex<String>,
}

impl Gate {
    pub fn new(mode: Mode) -> Gate {
        Gate { mode, changes: Mutex::new(Vec::new()), step: Mutex::new(String::new()) }
    }

    /// The mode this gate acts in.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn set_step(&self, title: &str) {
        *self.step.lock().unwrap_or_else(|p| p.into_inner()) = title.to_string();
    }

    fn record(&self, host: &str, kind: ChangeKind, target: &str, reason: &str) {
        let step = self.step.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let change = Change { host: host.into(), step, kind, target: target.into(), reason: reason.into(), applied: self.mode == Mode::Apply };
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).push(change);
    }

    /// Puts `specs` on the host: one round trip to compare the files the snapshot has not
    /// read, one to write what differs. Returns the files that changed (or would change).
    pub async fn files(&self, host: &str, transport: &dyn Transport, specs: &[FileSpec], snapshot: &Snapshot) -> anyhow::Result<Vec<(String, FileState)>> {
        self.files_then(host, transport, specs, snapshot, |_| Vec::new()).await
    }

    /// `files`, plus a command that depends on what changed (`then` gets the changed paths),
    /// run right after the write in the same round trip.
    pub async fn files_then(
        &self,
        host: &str,
        transport: &dyn Transport,
        specs: &[FileSpec],
        snapshot: &Snapshot,
        then: impl FnOnce(&[String]) -> Vec<FollowUp>,
    ) -> anyhow::Result<Vec<(String, FileState)>> {
        self.probe_unknown(host, transport, specs, snapshot).await?;
        let changed: Vec<(&FileSpec, FileState)> = specs
            .iter()
            .map(|s| (s, FileState::compare(s, snapshot.probed(&s.path).flatten().as_ref())))
            .filter(|(_, st)| st.changed())
            .collect();
        let paths: Vec<String> = changed.iter().map(|(s, _)| s.path.clone()).collect();
        let follow_ups = then(&paths);
        if self.mode == Mode::Apply {
            let to_write: Vec<&FileSpec> = changed.iter().map(|(s, _)| *s).collect();
            let script: Vec<&str> = follow_ups.iter().map(|f| f.script.as_str()).collect();
            let written = files::write_then(transport, &to_write, &script.join("\n")).await;
            if follow_ups.is_empty() {
                // The error names the files already.
                written?;
            } else {
                // The first few, so that a long batch (reset's) keeps the message short.
                let mut what: String = follow_ups.iter().take(3).map(|f| format!(", then {}", f.what)).collect();
                if follow_ups.len() > 3 {
                    what.push_str(&format!(" and {} more", follow_ups.len() - 3));
                }
                written.with_context(|| format!("write {} files{what}", to_write.len()))?;
            }
            to_write.iter().for_each(|spec| snapshot.written(spec));
        }
        for (spec, state) in &changed {
            self.record(host, ChangeKind::Write, &spec.path, &state.reason());
        }
        for f in follow_ups.iter().filter(|f| f.change) {
            self.record(host, ChangeKind::Command, &f.what, &f.reason);
        }
        Ok(changed.into_iter().map(|(s, st)| (s.path.clone(), st)).collect())
    }

    /// Probes, in one round trip, the files of `specs` the snapshot has not read.
    async fn probe_unknown(&self, host: &str, transport: &dyn Transport, specs: &[FileSpec], snapshot: &Snapshot) -> anyhow::Result<()> {
        let unknown: Vec<&FileSpec> = specs.iter().filter(|s| snapshot.probed(&s.path).is_none()).collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let quick: Vec<Option<files::Quick>> = unknown.iter().map(|s| s.quick()).collect();
        let targets: Vec<(&str, Option<&files::Quick>)> = unknown.iter().zip(&quick).map(|(s, q)| (s.path.as_str(), q.as_ref())).collect();
        let output = transport.run(&files::probe_script_with(&targets)).await?;
        let unknown: Vec<&str> = unknown.iter().map(|s| s.path.as_str()).collect();
        let found = files::parse_probed(&output.stdout_text(), &unknown)
            .map_err(|detail| crate::transport::TransportError::Protocol { host: host.to_string(), what: "file probe", detail })?;
        for (path, found) in unknown.iter().zip(found) {
            snapshot.set_probed(path, found);
        }
        Ok(())
    }

    /// Runs a changing command (`what` describes it for the plan), failing on non-zero exit.
    /// Returns its output, or `None` in dry-run.
    pub async fn command(&self, host: &str, transport: &dyn Transport, what: &str, command: &str, reason: &str) -> anyhow::Result<Option<Output>> {
        let output = if self.mode == Mode::Apply {
            Some(transport.run(command).await.with_context(|| what.to_string())?)
        } else {
            None
        };
        self.record(host, ChangeKind::Command, what, reason);
        Ok(output)
    }

    /// Runs changing commands — (what, command, reason) — one after the other in one round
    /// trip, stopping at the first that fails (the error names it); each is a change of the
    /// plan. In dry-run nothing runs.
    pub async fn commands(&self, host: &str, transport: &dyn Transport, commands: &[(String, String, String)]) -> anyhow::Result<()> {
        if commands.is_empty() {
            return Ok(());
        }
        if self.mode == Mode::Apply {
            let whats: Vec<&str> = commands.iter().map(|(what, _, _)| what.as_str()).collect();
            transport.run(&commands_script(commands)).await.with_context(|| whats.join("; "))?;
        }
        for (what, _, reason) in commands {
            self.record(host, ChangeKind::Command, what, reason);
        }
        Ok(())
    }

    /// Runs a check that changes nothing the plan shows (`systemd-analyze verify`, which
    /// records on the host what passed; like a `FollowUp` that is not a change): not recorded,
    /// and in dry-run not run (`None`). A non-zero exit is not an error here.
    pub async fn check(&self, transport: &dyn Transport, script: &str) -> anyhow::Result<Option<Output>> {
        match self.mode {
            Mode::Apply => Ok(Some(transport.exec(script, &[]).await?)),
            Mode::DryRun => Ok(None),
        }
    }

    /// Every change so far.
    pub fn changes(&self) -> Vec<Change> {
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Changes recorded for one host.
    pub fn changes_for(&self, host: &str) -> usize {
        self.changes.lock().unwrap_or_else(|p| p.into_inner()).iter().filter(|c| c.host == host).count()
    }
}

/// The script of `Gate::commands`: each command in turn; the first that fails stops it,
/// named on stderr (`failed: WHAT`).
fn commands_script(commands: &[(String, String, String)]) -> String {
    let steps: Vec<String> = commands.iter().map(|(what, command, _)| format!("{{ {command}\n}} || {{ echo {} >&2; exit 1; }}", crate::shell::quote(&format!("failed: {what}")))).collect();
    steps.join("\n")
}

#[cfg(test)]
mod commands_tests {
    use super::*;

    /// The commands run in order and the first failure stops them, named.
    #[test]
    fn commands_run_in_order_until_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let item = |what: &str, command: &str| (what.to_string(), format!("{command} && echo {what} >> '{}'", log.display()), "because".to_string());
        let all = [item("first", "true"), item("second", "false"), item("third", "true")];
        let out = std::process::Command::new("sh").arg("-c").arg(commands_script(&all)).output().unwrap();
        assert!(!out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "failed: second\n");
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "first\n");
        let ok = [item("first", "true"), item("third", "true")];
        assert!(std::process::Command::new("sh").arg("-c").arg(commands_script(&ok)).status().unwrap().success());
        assert_eq!(std::fs::read_to_string(&log).unwrap(), "first\nfirst\nthird\n");
    }
}
