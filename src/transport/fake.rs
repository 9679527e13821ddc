//! A scripted fake transport for unit tests of step logic: commands are matched against
//! expectations in order, answered with canned output, and `verify` fails the test if an
//! expected command never came. An unexpected command is an error.
//!
//! Tests say what, not how: the fake reads the file probe and write scripts of `files` back
//! into the files they name (`Intent::Probe`, `Intent::Write`), answers probes from the files
//! the host is given (`has_file`), recognises a query's script (`answer`), and logs every
//! command as such an intent (`intents`).

use std::collections::BTreeMap;
use std::sync::Mutex;

use super::files::{FileSpec, Probed};
use super::{BoxFuture, Output, Transport, TransportError};
use crate::facts::{Ask, Query};

/// What a command the fake received was for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// A probe of these files (`files::probe_script_with`).
    Probe(Vec<String>),
    /// A write of these files, then the script run after it in the same round trip (empty
    /// when none).
    Write { paths: Vec<String>, then: String },
    /// A query answered with `answer`.
    Query(Query),
    /// Anything else.
    Command(String),
}

/// What an expectation matches.
enum Matcher {
    /// A command containing this substring.
    Contains(String),
    /// The script of this query.
    Query(Query, String),
    /// Any file write.
    Write,
    /// Any command not recognised as a probe, a write or an expected query.
    Command,
}

struct Expectation {
    matcher: Matcher,
    output: Output,
    /// How many times it may still match (usize::MAX: any number, at least once).
    remaining: usize,
    seen: usize,
}

/// A fake host.
pub struct FakeTransport {
    label: String,
    expectations: Mutex<Vec<Expectation>>,
    /// The files probes find (`has_file`), when any was given.
    files: Option<BTreeMap<String, Probed>>,
    log: Mutex<Vec<String>>,
    intents: Mutex<Vec<Intent>>,
}

impl FakeTransport {
    /// A fake host named `label`.
    pub fn new(label: &str) -> FakeTransport {
        FakeTransport { label: label.into(), expectations: Mutex::new(Vec::new()), files: None, log: Mutex::new(Vec::new()), intents: Mutex::new(Vec::new()) }
    }

    /// Expects one command containing `pattern`, answering `stdout` with status 0.
    pub fn expect(self, pattern: &str, stdout: &str) -> Self {
        self.expect_output(pattern, Output { status: 0, stdout: stdout.into(), stderr: Vec::new() }, 1)
    }

    /// Expects a command containing `pattern` any number of times (at least once).
    pub fn always(self, pattern: &str, stdout: &str) -> Self {
        self.expect_output(pattern, Output { status: 0, stdout: stdout.into(), stderr: Vec::new() }, usize::MAX)
    }

    /// Expects a command `times` times with the given output.
    pub fn expect_output(self, pattern: &str, output: Output, times: usize) -> Self {
        self.push(Matcher::Contains(pattern.into()), output, times)
    }

    /// The host has `spec`'s file as `spec` describes it: probes find it (and any file not
    /// given this way missing), as often as they come.
    pub fn has_file(self, spec: &FileSpec) -> Self {
        self.has_probed(&spec.path, Probed::of(spec))
    }

    /// The host has a file at `path` that probes as `found`.
    pub fn has_probed(mut self, path: &str, found: Probed) -> Self {
        self.files.get_or_insert_with(BTreeMap::new).insert(path.to_string(), found);
        self
    }

    /// Probes find every file missing (unless given with `has_file`).
    pub fn no_files(mut self) -> Self {
        self.files.get_or_insert_with(BTreeMap::new);
        self
    }

    /// Expects one query `ask` asks, answering `stdout` with status 0.
    pub fn answer<T>(self, ask: &Ask<T>, stdout: &str) -> Self {
        self.answer_output(ask, Output { status: 0, stdout: stdout.into(), stderr: Vec::new() }, 1)
    }

    /// Expects the query `ask` asks `times` times with the given output.
    pub fn answer_output<T>(self, ask: &Ask<T>, output: Output, times: usize) -> Self {
        let query = ask.query().clone();
        let script = query.script();
        self.push(Matcher::Query(query, script), output, times)
    }

    /// Accepts every file write (at least one).
    pub fn accepts_writes(self) -> Self {
        self.push(Matcher::Write, Output::default(), usize::MAX)
    }

    /// Accepts every other command (at least one) with status 0 and no output: the test
    /// checks the gate's record of them.
    pub fn accepts_commands(self) -> Self {
        self.push(Matcher::Command, Output::default(), usize::MAX)
    }

    fn push(self, matcher: Matcher, output: Output, times: usize) -> Self {
        self.lock_expectations().push(Expectation { matcher, output, remaining: times, seen: 0 });
        self
    }

    /// Every command received, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// What every command received was for, in order.
    pub fn intents(&self) -> Vec<Intent> {
        self.intents.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The paths of every write, in order.
    pub fn written(&self) -> Vec<Vec<String>> {
        self.intents().into_iter().filter_map(|i| if let Intent::Write { paths, .. } = i { Some(paths) } else { None }).collect()
    }

    /// Every query answered, in order.
    pub fn queries(&self) -> Vec<Query> {
        self.intents().into_iter().filter_map(|i| if let Intent::Query(q) = i { Some(q) } else { None }).collect()
    }

    /// Panics if an expected command never came.
    pub fn verify(&self) {
        for e in self.lock_expectations().iter() {
            let what = match &e.matcher {
                Matcher::Contains(pattern) => format!("a command containing {pattern:?}"),
                Matcher::Query(query, _) => format!("the query {query:?}"),
                Matcher::Write => "a file write".to_string(),
                Matcher::Command => "a command".to_string(),
            };
            assert!(e.seen > 0, "{}: expected {what}, it never came; got {:#?}", self.label, self.log());
        }
    }

    fn lock_expectations(&self) -> std::sync::MutexGuard<'_, Vec<Expectation>> {
        // A poisoned lock means another test thread panicked; the data is still usable.
        self.expectations.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Transport for FakeTransport {
    fn label(&self) -> &str {
        &self.label
    }

    fn exec<'a>(&'a self, command: &'a str, _stdin: &'a [u8]) -> BoxFuture<'a, Result<Output, TransportError>> {
        Box::pin(async move { self.answer_command(command) })
    }
}

impl FakeTransport {
    fn answer_command(&self, command: &str) -> Result<Output, TransportError> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(command.to_string());
        let (intent, output) = self.match_command(command);
        self.intents.lock().unwrap_or_else(|p| p.into_inner()).push(intent);
        output.ok_or_else(|| TransportError::Unexpected { host: self.label.clone(), command: command.to_string() })
    }

    fn match_command(&self, command: &str) -> (Intent, Option<Output>) {
        let probed = probed_paths(command);
        let written = written_paths(command);
        let mut expectations = self.lock_expectations();
        let matches = |e: &Expectation| match &e.matcher {
            Matcher::Contains(pattern) => command.contains(pattern),
            Matcher::Query(_, script) => command == script,
            Matcher::Write => written.is_some(),
            Matcher::Command => false,
        };
        // The catch-all for commands comes last, whatever its place.
        let at = expectations
            .iter()
            .position(|e| e.remaining > 0 && matches(e))
            .or_else(|| expectations.iter().position(|e| e.remaining > 0 && matches!(e.matcher, Matcher::Command) && probed.is_none() && written.is_none()));
        let found = at.map(|i| &mut expectations[i]);
        let intent = match (&found, probed, written) {
            (Some(Expectation { matcher: Matcher::Query(query, _), .. }), _, _) => Intent::Query(query.clone()),
            (_, Some(paths), _) => Intent::Probe(paths),
            (_, _, Some((paths, then))) => Intent::Write { paths, then },
            _ => Intent::Command(command.to_string()),
        };
        if let Some(e) = found {
            e.remaining = e.remaining.saturating_sub(usize::from(e.remaining != usize::MAX));
            e.seen += 1;
            return (intent, Some(e.output.clone()));
        }
        // A probe with no expectation of its own is answered from the host's files.
        let answer = match (&intent, &self.files) {
            (Intent::Probe(paths), Some(files)) => {
                let lines: String = paths
                    .iter()
                    .map(|p| files.get(p).map_or("-\n".to_string(), |f| format!("{:o} {} {}\n", f.mode, f.owner, f.sha256)))
                    .collect();
                Some(Output { status: 0, stdout: lines.into_bytes(), stderr: Vec::new() })
            }
            _ => None,
        };
        (intent, answer)
    }
}

/// The paths a file probe script names (`None`: not a probe).
fn probed_paths(script: &str) -> Option<Vec<String>> {
    let words = script.strip_prefix("{ set --; for p in")?;
    let (words, _) = words.split_once("; do if [ -f \"$p\" ]; then")?;
    Some(shell_words(words))
}

/// The paths a write script writes and what it runs after them (`None`: not a write).
fn written_paths(script: &str) -> Option<(Vec<String>, String)> {
    if let Some(then) = script.strip_prefix("set -eu\n").filter(|rest| !rest.starts_with("umask 077\n")) {
        return Some((Vec::new(), then.trim_end().to_string()));
    }
    if !script.contains("\nIFS= read -r sent ") {
        return None;
    }
    // Each file is read by `head -c N > DIR/.v6deploy.TOKEN/NAME` (quoted); it goes to DIR/NAME.
    let paths = script
        .lines()
        .filter_map(|l| l.strip_prefix("head -c ")?.split_once(" > ").map(|(_, temp)| temp))
        .filter_map(|temp| {
            let temp = shell_words(temp).pop()?;
            let (dir, name) = temp.rsplit_once('/')?;
            let (parent, _) = dir.rsplit_once("/.v6deploy.")?;
            Some(format!("{parent}/{name}"))
        })
        .collect();
    // What follows the renames and the sync of their directories.
    let mut rest = script.lines().skip_while(|l| !l.starts_with("mv -f -- ")).skip_while(|l| l.starts_with("mv -f -- ")).peekable();
    if rest.peek().is_some_and(|l| l.starts_with("sync -- ")) {
        rest.next();
    }
    let then: Vec<&str> = rest.collect();
    Some((paths, then.join("\n")))
}

/// Splits words quoted by `shell::quote` (bare, or in single quotes with `'\''` inside).
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                w.extend(chars.by_ref().take_while(|c| *c != '\''));
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::files::{probe_script, write_script};

    #[test]
    fn probe_and_write_scripts_read_back_as_their_files() {
        let paths = ["/etc/a.conf", "/etc/with space", "/etc/it's"];
        assert_eq!(probed_paths(&probe_script(&paths)).unwrap(), paths);
        let specs: Vec<FileSpec> = paths.iter().map(|p| FileSpec::root(*p, 0o644, &b"x"[..])).collect();
        let refs: Vec<&FileSpec> = specs.iter().collect();
        let script = format!("{}systemctl daemon-reload\n", write_script(&refs).script);
        assert_eq!(written_paths(&script).unwrap(), (paths.iter().map(|p| p.to_string()).collect(), "systemctl daemon-reload".to_string()));
        assert_eq!(written_paths("set -eu\nrm -f /x\n").unwrap(), (vec![], "rm -f /x".to_string()));
        assert_eq!(probed_paths("systemctl restart etcd"), None);
        assert_eq!(written_paths("systemctl restart etcd"), None);
    }
}
