//! A scripted fake transport for unit tests of step logic: commands are matched against
//! expectations in order, answered with canned output, and `verify` fails the test if an
//! expected command never came. An unexpected command is an error.

use std::sync::Mutex;

use super::{BoxFuture, Output, Transport, TransportError};

struct Expectation {
    /// Substring the command must contain.
    pattern: String,
    output: Output,
    /// How many times it may still match (usize::MAX: any number, at least once).
    remaining: usize,
    seen: usize,
}

/// A fake host.
pub struct FakeTransport {
    label: String,
    expectations: Mutex<Vec<Expectation>>,
    log: Mutex<Vec<String>>,
}

impl FakeTransport {
    /// A fake host named `label`.
    pub fn new(label: &str) -> FakeTransport {
        FakeTransport { label: label.into(), expectations: Mutex::new(Vec::new()), log: Mutex::new(Vec::new()) }
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
        self.lock_expectations().push(Expectation { pattern: pattern.into(), output, remaining: times, seen: 0 });
        self
    }

    /// Every command received, in order.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Panics if an expected command never came.
    pub fn verify(&self) {
        for e in self.lock_expectations().iter() {
            assert!(e.seen > 0, "{}: expected a command containing {:?}, it never came; got {:#?}", self.label, e.pattern, self.log());
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
        Box::pin(async move { self.answer(command) })
    }
}

impl FakeTransport {
    fn answer(&self, command: &str) -> Result<Output, TransportError> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).push(command.to_string());
        let mut expectations = self.lock_expectations();
        match expectations.iter_mut().find(|e| e.remaining > 0 && command.contains(&e.pattern)) {
            Some(e) => {
                e.remaining = e.remaining.saturating_sub(usize::from(e.remaining != usize::MAX));
                e.seen += 1;
                Ok(e.output.clone())
            }
            None => Err(TransportError::Unexpected { host: self.label.clone(), command: command.to_string() }),
        }
    }
}
